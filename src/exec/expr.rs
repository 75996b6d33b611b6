//! Bound scalar expressions and their vectorised evaluation.
//!
//! The common shapes (column references, literals, arithmetic and comparisons
//! over non-null numeric columns) run as tight loops over whole columns. Every
//! other shape falls back to row-at-a-time evaluation over [`Value`]s, which is
//! slower but follows the same SQL semantics (NULL in, NULL out).

use super::case_mask;
use super::like::LikePattern;
use super::pattern_fn::{self, PatternFunc};
use super::scalar::{self, ScalarFunc};
use crate::data::column::ColumnData;
use crate::data::{Batch, Column, DataType, Value};
use std::borrow::Cow;

mod value_ops;
pub use value_ops::{binary_value, cast_value};

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

impl BinaryOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }

    /// The operator as written in SQL.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
        )
    }
}

/// A typed expression over the columns of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Column {
        index: usize,
        data_type: DataType,
    },
    Literal {
        value: Value,
        data_type: DataType,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        data_type: DataType,
    },
    Not(Box<Expr>),
    Negate(Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Cast {
        expr: Box<Expr>,
        to: DataType,
    },
    /// A scalar function (see [`scalar`]).
    Call {
        func: ScalarFunc,
        args: Vec<Expr>,
        data_type: DataType,
    },
    /// `CASE [operand] WHEN .. THEN .. [ELSE ..] END`; branch results are
    /// unified to `data_type`.
    Case {
        operand: Option<Box<Expr>>,
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
        data_type: DataType,
    },
    /// `expr [NOT] IN (list)`.
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `expr [NOT] BETWEEN low AND high`.
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    /// `expr [NOT] LIKE / ILIKE pattern`, the pattern compiled at bind time.
    Like {
        expr: Box<Expr>,
        pattern: LikePattern,
        negated: bool,
    },
    /// A VARCHAR function whose pattern was compiled at bind time (see
    /// [`pattern_fn`]).
    Pattern {
        func: Box<PatternFunc>,
        args: Vec<Expr>,
    },
}

impl Expr {
    pub fn data_type(&self) -> DataType {
        match self {
            Expr::Column { data_type, .. }
            | Expr::Literal { data_type, .. }
            | Expr::Binary { data_type, .. }
            | Expr::Call { data_type, .. }
            | Expr::Case { data_type, .. } => *data_type,
            Expr::Not(_)
            | Expr::IsNull { .. }
            | Expr::InList { .. }
            | Expr::Between { .. }
            | Expr::Like { .. } => DataType::Bool,
            Expr::Negate(e) => e.data_type(),
            Expr::Cast { to, .. } => *to,
            Expr::Pattern { .. } => DataType::Utf8,
        }
    }

    /// The input column this expression is a plain reference to, if it is one.
    pub fn column_index(&self) -> Option<usize> {
        match self {
            Expr::Column { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// As [`eval`](Self::eval), but DOUBLE arithmetic (`+ - *` over DOUBLE
    /// and BIGINT columns without NULLs) writes into `spare`'s allocation
    /// instead of a new one. Give the buffer back with [`Expr::recycle`]
    /// when done, so the next batch reuses it. The values are exactly
    /// `eval`'s.
    #[inline]
    pub fn eval_reusing<'a>(&self, batch: &'a Batch, spare: &mut Vec<f64>) -> Cow<'a, Column> {
        if let Expr::Binary {
            op: op @ (BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul),
            left,
            right,
            data_type: DataType::Float64,
        } = self
        {
            let (l, r) = (left.eval(batch), right.eval(batch));
            if let Some(c) = float_arith_into(*op, &l, &r, spare) {
                return Cow::Owned(c);
            }
        }
        self.eval(batch)
    }

    /// Takes back the buffer of a column [`eval_reusing`](Self::eval_reusing)
    /// computed (any owned DOUBLE column will do) into `spare`.
    #[inline]
    pub fn recycle(column: Cow<'_, Column>, spare: &mut Vec<f64>) {
        if let Cow::Owned(Column {
            data: ColumnData::Float64(v),
            ..
        }) = column
        {
            if v.capacity() > spare.capacity() {
                *spare = v;
            }
        }
    }

    /// Evaluates over every row of `batch`. A column reference borrows.
    #[inline]
    pub fn eval<'a>(&self, batch: &'a Batch) -> Cow<'a, Column> {
        // Inlined so that a column reference, the common case, costs a few
        // instructions, not the computing arms' call and frame.
        match self {
            Expr::Column { index, .. } => Cow::Borrowed(&batch.columns[*index]),
            _ => self.eval_computed(batch),
        }
    }

    /// [`eval`](Self::eval) for everything but a column reference.
    fn eval_computed<'a>(&self, batch: &'a Batch) -> Cow<'a, Column> {
        match self {
            Expr::Column { index, .. } => Cow::Borrowed(&batch.columns[*index]),
            Expr::Literal { value, data_type } => Cow::Owned(
                literal_column(value, *data_type, batch.len)
                    .unwrap_or_else(|| self.eval_rows(batch)),
            ),
            Expr::Binary {
                op, left, right, ..
            } => {
                let l = left.eval(batch);
                let r = right.eval(batch);
                match binary_fast(*op, &l, &r, self.data_type()) {
                    Some(c) => Cow::Owned(c),
                    None => Cow::Owned(self.eval_rows(batch)),
                }
            }
            Expr::Like {
                expr,
                pattern,
                negated,
            } => {
                let fast = scalar::like_column(&expr.eval(batch), pattern, *negated);
                Cow::Owned(fast.unwrap_or_else(|| self.eval_rows(batch)))
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = expr.eval(batch);
                let fast = scalar::between_column(&x, low, high, *negated).or_else(|| {
                    scalar::between_columns(&x, &low.eval(batch), &high.eval(batch), *negated)
                });
                Cow::Owned(fast.unwrap_or_else(|| self.eval_rows(batch)))
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let fast = scalar::in_list_column(&expr.eval(batch), list, *negated);
                Cow::Owned(fast.unwrap_or_else(|| self.eval_rows(batch)))
            }
            Expr::Call {
                func: ScalarFunc::TumbleStart(size),
                args,
                ..
            } => {
                let fast = scalar::tumble_start_column(&args[0].eval(batch), *size);
                Cow::Owned(fast.unwrap_or_else(|| self.eval_rows(batch)))
            }
            Expr::Pattern { func, args } => Cow::Owned(pattern_fn::eval_column(func, args, batch)),
            // `CASE WHEN c THEN x END`, the shape an aggregate's FILTER binds to.
            Expr::Case {
                operand: None,
                branches,
                otherwise: None,
                data_type,
            } if branches.len() == 1 && branches[0].1.data_type() == *data_type => {
                let (when, then) = &branches[0];
                let then = then.eval(batch).into_owned();
                let fast = case_mask::when_true(&when.eval(batch), then);
                Cow::Owned(fast.unwrap_or_else(|| self.eval_rows(batch)))
            }
            _ => Cow::Owned(self.eval_rows(batch)),
        }
    }

    fn eval_rows(&self, batch: &Batch) -> Column {
        let mut out = Column::with_capacity(self.data_type(), batch.len);
        for row in 0..batch.len {
            let v = self.eval_row(batch, row);
            if !out.push_value(&v) {
                out.push_null();
            }
        }
        out
    }

    /// Evaluates at one row.
    pub fn eval_row(&self, batch: &Batch, row: usize) -> Value {
        match self {
            Expr::Column { index, .. } => batch.columns[*index].value(row),
            Expr::Literal { value, .. } => value.clone(),
            Expr::Binary {
                op,
                left,
                right,
                data_type,
            } => {
                let l = left.eval_row(batch, row);
                match (op, &l) {
                    (BinaryOp::And, Value::Bool(false)) => return Value::Bool(false),
                    (BinaryOp::Or, Value::Bool(true)) => return Value::Bool(true),
                    _ => {}
                }
                let r = right.eval_row(batch, row);
                binary_value(*op, &l, &r, *data_type)
            }
            Expr::Not(e) => match e.eval_row(batch, row) {
                Value::Bool(b) => Value::Bool(!b),
                _ => Value::Null,
            },
            Expr::Negate(e) => match e.eval_row(batch, row) {
                // -i64::MIN does not fit: NULL, as any overflow.
                Value::Int64(v) => v.checked_neg().map_or(Value::Null, Value::Int64),
                Value::Float64(v) => Value::Float64(-v),
                Value::Decimal { value, scale } => Value::Decimal {
                    value: -value,
                    scale,
                },
                _ => Value::Null,
            },
            Expr::IsNull { expr, negated } => {
                Value::Bool(expr.eval_row(batch, row).is_null() != *negated)
            }
            Expr::Cast { expr, to } => cast_value(expr.eval_row(batch, row), *to),
            Expr::Call {
                func,
                args,
                data_type,
            } => scalar::eval_call(*func, args, *data_type, batch, row),
            Expr::Case {
                operand,
                branches,
                otherwise,
                data_type,
            } => scalar::eval_case(
                operand.as_deref(),
                branches,
                otherwise.as_deref(),
                *data_type,
                batch,
                row,
            ),
            Expr::InList {
                expr,
                list,
                negated,
            } => scalar::eval_in_list(expr, list, *negated, batch, row),
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => scalar::eval_between(expr, low, high, *negated, batch, row),
            Expr::Like {
                expr,
                pattern,
                negated,
            } => match expr.eval_row(batch, row) {
                Value::Utf8(s) => Value::Bool(pattern.matches(&s) != *negated),
                _ => Value::Null,
            },
            Expr::Pattern { func, args } => pattern_fn::eval_row(func, args, batch, row),
        }
    }
}

/// `len` copies of a literal, for the fixed-width types without NULL; `None`
/// otherwise (the caller evaluates row by row). Row 0 converts the value as
/// row evaluation does, and the other rows copy it.
fn literal_column(value: &Value, data_type: DataType, len: usize) -> Option<Column> {
    if len == 0 || value.is_null() {
        return None;
    }
    let mut c = Column::with_capacity(data_type, len);
    if !c.push_value(value) || c.validity.is_some() {
        return None;
    }
    match &mut c.data {
        ColumnData::Int64(v) | ColumnData::Timestamp(v) => v.resize(len, v[0]),
        ColumnData::Float64(v) => v.resize(len, v[0]),
        ColumnData::Bool(v) => v.resize(len, v[0]),
        ColumnData::Decimal { values, .. } => values.resize(len, values[0]),
        ColumnData::Utf8(_) => return None,
    }
    Some(c)
}

/// Vectorised arithmetic and comparison over non-null numeric columns; `None`
/// when the shape is not covered, and the caller falls back to row evaluation.
fn binary_fast(op: BinaryOp, l: &Column, r: &Column, out: DataType) -> Option<Column> {
    if l.validity.is_some() || r.validity.is_some() {
        return None;
    }
    use ColumnData::*;
    let data = match (&l.data, &r.data) {
        (Float64(a), Float64(b)) => float_op(op, a.iter().copied(), b.iter().copied(), out)?,
        (Float64(a), Int64(b)) => {
            float_op(op, a.iter().copied(), b.iter().map(|&x| x as f64), out)?
        }
        (Int64(a), Float64(b)) => {
            float_op(op, a.iter().map(|&x| x as f64), b.iter().copied(), out)?
        }
        (Int64(a), Int64(b)) if op.is_comparison() => Bool(compare(op, a, b)),
        (Int64(a), Int64(b)) if matches!(op, BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul) => {
            let mut v = Vec::with_capacity(a.len());
            for (x, y) in a.iter().zip(b) {
                let r = match op {
                    BinaryOp::Add => x.checked_add(*y),
                    BinaryOp::Sub => x.checked_sub(*y),
                    _ => x.checked_mul(*y),
                };
                v.push(r?);
            }
            Int64(v)
        }
        _ => return None,
    };
    Some(Column::from_data(data))
}

/// `l op r` for `+ - *` into `spare`'s allocation (taken, cleared), computed
/// as [`binary_fast`] does; `None` (and `spare` untouched) for NULLs or other
/// column types.
fn float_arith_into(op: BinaryOp, l: &Column, r: &Column, spare: &mut Vec<f64>) -> Option<Column> {
    if l.validity.is_some() || r.validity.is_some() {
        return None;
    }
    fn apply(
        op: BinaryOp,
        a: impl Iterator<Item = f64>,
        b: impl Iterator<Item = f64>,
        out: &mut Vec<f64>,
    ) {
        let pairs = a.zip(b);
        match op {
            BinaryOp::Add => out.extend(pairs.map(|(x, y)| x + y)),
            BinaryOp::Sub => out.extend(pairs.map(|(x, y)| x - y)),
            _ => out.extend(pairs.map(|(x, y)| x * y)),
        }
    }
    use ColumnData::*;
    let mut out = std::mem::take(spare);
    out.clear();
    match (&l.data, &r.data) {
        (Float64(a), Float64(b)) => apply(op, a.iter().copied(), b.iter().copied(), &mut out),
        (Float64(a), Int64(b)) => {
            apply(op, a.iter().copied(), b.iter().map(|&x| x as f64), &mut out)
        }
        (Int64(a), Float64(b)) => {
            apply(op, a.iter().map(|&x| x as f64), b.iter().copied(), &mut out)
        }
        _ => {
            *spare = out;
            return None;
        }
    }
    Some(Column::from_data(Float64(out)))
}

fn compare<T: PartialOrd>(op: BinaryOp, a: &[T], b: &[T]) -> Vec<bool> {
    let f = |x: &T, y: &T| match op {
        BinaryOp::Eq => x == y,
        BinaryOp::NotEq => x != y,
        BinaryOp::Lt => x < y,
        BinaryOp::LtEq => x <= y,
        BinaryOp::Gt => x > y,
        _ => x >= y,
    };
    a.iter().zip(b).map(|(x, y)| f(x, y)).collect()
}

fn float_op(
    op: BinaryOp,
    a: impl Iterator<Item = f64>,
    b: impl Iterator<Item = f64>,
    out: DataType,
) -> Option<ColumnData> {
    let pairs = a.zip(b);
    Some(match op {
        BinaryOp::Add if out == DataType::Float64 => {
            ColumnData::Float64(pairs.map(|(x, y)| x + y).collect())
        }
        BinaryOp::Sub if out == DataType::Float64 => {
            ColumnData::Float64(pairs.map(|(x, y)| x - y).collect())
        }
        BinaryOp::Mul if out == DataType::Float64 => {
            ColumnData::Float64(pairs.map(|(x, y)| x * y).collect())
        }
        BinaryOp::Eq => ColumnData::Bool(pairs.map(|(x, y)| x == y).collect()),
        BinaryOp::NotEq => ColumnData::Bool(pairs.map(|(x, y)| x != y).collect()),
        BinaryOp::Lt => ColumnData::Bool(pairs.map(|(x, y)| x < y).collect()),
        BinaryOp::LtEq => ColumnData::Bool(pairs.map(|(x, y)| x <= y).collect()),
        BinaryOp::Gt => ColumnData::Bool(pairs.map(|(x, y)| x > y).collect()),
        BinaryOp::GtEq => ColumnData::Bool(pairs.map(|(x, y)| x >= y).collect()),
        _ => return None,
    })
}
