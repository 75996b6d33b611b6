//! The hot predicates as loops over a whole column: LIKE over a VARCHAR
//! column, BETWEEN / IN with literal bounds over a BIGINT, TIMESTAMP or
//! DOUBLE column, and BETWEEN over BIGINT / TIMESTAMP columns. Each gives
//! `None` where it does not apply, and the caller evaluates row at a time
//! ([`super`]'s rules).

use crate::data::column::ColumnData;
use crate::data::{Column, Value};
use crate::exec::expr::Expr;
use crate::exec::like::LikePattern;

/// LIKE over a whole VARCHAR column; `None` for any other column.
pub(in crate::exec) fn like_column(
    col: &Column,
    pattern: &LikePattern,
    negated: bool,
) -> Option<Column> {
    let ColumnData::Utf8(strings) = &col.data else {
        return None;
    };
    let mut buf = String::new();
    let hits = (0..strings.len())
        .map(|i| pattern.matches_with(strings.get(i), &mut buf) != negated)
        .collect();
    Some(Column {
        data: ColumnData::Bool(hits),
        validity: col.validity.clone(),
    })
}

/// Literal, non-NULL integer values (BIGINT or TIMESTAMP).
fn int_literals<'e>(exprs: impl IntoIterator<Item = &'e Expr>) -> Option<Vec<i64>> {
    exprs
        .into_iter()
        .map(|e| match e {
            Expr::Literal {
                value: Value::Int64(x) | Value::Timestamp(x),
                ..
            } => Some(*x),
            _ => None,
        })
        .collect()
}

/// Literal, non-NULL numeric values as floats.
fn float_literals<'e>(exprs: impl IntoIterator<Item = &'e Expr>) -> Option<Vec<f64>> {
    exprs
        .into_iter()
        .map(|e| match e {
            Expr::Literal { value, .. } if !matches!(value, Value::Timestamp(_)) => value.as_f64(),
            _ => None,
        })
        .collect()
}

/// A BOOLEAN column of `test` over each value of `col`, keeping its NULLs;
/// `None` unless `col` is BIGINT / TIMESTAMP (with integer literals) or DOUBLE.
fn numeric_test(
    col: &Column,
    literals: &[&Expr],
    int_test: impl Fn(i64, &[i64]) -> bool,
    float_test: impl Fn(f64, &[f64]) -> bool,
) -> Option<Column> {
    let bits = match &col.data {
        ColumnData::Int64(v) | ColumnData::Timestamp(v) => {
            let lits = int_literals(literals.iter().copied())?;
            v.iter().map(|&x| int_test(x, &lits)).collect()
        }
        ColumnData::Float64(v) => {
            let lits = float_literals(literals.iter().copied())?;
            v.iter().map(|&x| float_test(x, &lits)).collect()
        }
        _ => return None,
    };
    Some(Column {
        data: ColumnData::Bool(bits),
        validity: col.validity.clone(),
    })
}

/// BETWEEN with literal bounds over a numeric column.
pub(in crate::exec) fn between_column(
    col: &Column,
    low: &Expr,
    high: &Expr,
    negated: bool,
) -> Option<Column> {
    numeric_test(
        col,
        &[low, high],
        |x, b| (b[0] <= x && x <= b[1]) != negated,
        |x, b| (b[0] <= x && x <= b[1]) != negated,
    )
}

/// BETWEEN over BIGINT / TIMESTAMP columns of one type, bounds included
/// (the join filter `b.t BETWEEN a.t AND a.expires`); `None` when any has
/// a NULL or another type.
pub(in crate::exec) fn between_columns(
    col: &Column,
    low: &Column,
    high: &Column,
    negated: bool,
) -> Option<Column> {
    fn ints(c: &Column) -> Option<&[i64]> {
        match &c.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) if c.validity.is_none() => Some(v),
            _ => None,
        }
    }
    let same = |c: &Column| c.data_type() == col.data_type();
    if !same(low) || !same(high) {
        return None;
    }
    let (x, lo, hi) = (ints(col)?, ints(low)?, ints(high)?);
    let bits = (x.iter().zip(lo).zip(hi))
        .map(|((x, lo), hi)| (lo <= x && x <= hi) != negated)
        .collect();
    Some(Column::from_data(ColumnData::Bool(bits)))
}

/// IN with a list of non-NULL literals over a numeric column.
pub(in crate::exec) fn in_list_column(
    col: &Column,
    list: &[Expr],
    negated: bool,
) -> Option<Column> {
    let list: Vec<&Expr> = list.iter().collect();
    numeric_test(
        col,
        &list,
        |x, l| l.contains(&x) != negated,
        |x, l| l.contains(&x) != negated,
    )
}
