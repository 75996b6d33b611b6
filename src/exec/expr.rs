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
use std::cmp::Ordering;

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
                let fast = scalar::between_column(&expr.eval(batch), low, high, *negated);
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

/// Applies `op` to two values; NULL when either side is NULL (SQL three-valued
/// logic for AND/OR).
pub fn binary_value(op: BinaryOp, l: &Value, r: &Value, out: DataType) -> Value {
    use BinaryOp::*;
    match op {
        And => match (l, r) {
            (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
            (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
            _ => Value::Null,
        },
        Or => match (l, r) {
            (Value::Bool(true), _) | (_, Value::Bool(true)) => Value::Bool(true),
            (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
            _ => Value::Null,
        },
        _ if l.is_null() || r.is_null() => Value::Null,
        Eq | NotEq | Lt | LtEq | Gt | GtEq => match l.sql_cmp(r) {
            None => Value::Null,
            Some(o) => Value::Bool(match op {
                Eq => o == Ordering::Equal,
                NotEq => o != Ordering::Equal,
                Lt => o == Ordering::Less,
                LtEq => o != Ordering::Greater,
                Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }),
        },
        Add | Sub | Mul | Div | Mod => arithmetic(op, l, r, out),
    }
}

fn arithmetic(op: BinaryOp, l: &Value, r: &Value, out: DataType) -> Value {
    use BinaryOp::*;
    match out {
        DataType::Int64 => {
            let (Value::Int64(a), Value::Int64(b)) = (l, r) else {
                return Value::Null;
            };
            let v = match op {
                Add => a.checked_add(*b),
                Sub => a.checked_sub(*b),
                Mul => a.checked_mul(*b),
                Div => a.checked_div(*b),
                _ => a.checked_rem(*b),
            };
            v.map_or(Value::Null, Value::Int64)
        }
        DataType::Decimal { scale, .. } => {
            let (Some(a), Some(b)) = (decimal_parts(l), decimal_parts(r)) else {
                return Value::Null;
            };
            decimal_arithmetic(op, a, b, scale)
        }
        _ => {
            let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else {
                return Value::Null;
            };
            match op {
                Add => Value::Float64(a + b),
                Sub => Value::Float64(a - b),
                Mul => Value::Float64(a * b),
                Div if b == 0.0 => Value::Null,
                Div => Value::Float64(a / b),
                _ if b == 0.0 => Value::Null,
                _ => Value::Float64(a % b),
            }
        }
    }
}

fn decimal_parts(v: &Value) -> Option<(i128, u8)> {
    match *v {
        Value::Int64(x) => Some((x as i128, 0)),
        Value::Decimal { value, scale } => Some((value, scale)),
        _ => None,
    }
}

/// Exact decimal arithmetic, the result expressed with `out_scale` places,
/// rounded half away from zero (division too); NULL when an intermediate
/// value overflows `i128`. (The result's precision is checked where it is
/// stored: see `Column::push_value`.)
fn decimal_arithmetic(
    op: BinaryOp,
    (a, sa): (i128, u8),
    (b, sb): (i128, u8),
    out_scale: u8,
) -> Value {
    let v = match op {
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mod => {
            let s = sa.max(sb);
            match (adjust_scale(a, sa, s), adjust_scale(b, sb, s)) {
                (Some(a), Some(b)) => match op {
                    BinaryOp::Add => a.checked_add(b),
                    BinaryOp::Sub => a.checked_sub(b),
                    _ => a.checked_rem(b),
                }
                .and_then(|v| adjust_scale(v, s, out_scale)),
                _ => None,
            }
        }
        BinaryOp::Mul => a
            .checked_mul(b)
            .and_then(|v| adjust_scale(v, sa + sb, out_scale)),
        _ if b == 0 => None,
        _ => {
            // a/10^sa / (b/10^sb) = a * 10^(out+sb-sa) / b
            let shift = out_scale as i32 + sb as i32 - sa as i32;
            let pow = |n: i32| 10i128.checked_pow(n.unsigned_abs());
            if shift >= 0 {
                pow(shift)
                    .and_then(|p| a.checked_mul(p))
                    .map(|n| div_round_half_away(n, b))
            } else {
                // A divisor past `i128` is more than twice any dividend: 0.
                Some(
                    pow(shift)
                        .and_then(|p| b.checked_mul(p))
                        .map_or(0, |d| div_round_half_away(a, d)),
                )
            }
        }
    };
    v.map_or(Value::Null, |value| Value::Decimal {
        value,
        scale: out_scale,
    })
}

/// `n / d` (`d != 0`) rounded half away from zero, as SQL rounds a DECIMAL
/// result to its scale.
fn div_round_half_away(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    // |r| < |d| <= 2^127, so 2|r| fits a u128.
    if r.unsigned_abs() * 2 >= d.unsigned_abs() {
        // Away from zero: the sign of the exact quotient.
        if (n < 0) == (d < 0) {
            q + 1
        } else {
            q - 1
        }
    } else {
        q
    }
}

/// `v` with `from` places re-expressed with `to` places (rounded half away
/// from zero when places are dropped); `None` when it overflows `i128`.
fn adjust_scale(v: i128, from: u8, to: u8) -> Option<i128> {
    if to >= from {
        10i128
            .checked_pow(u32::from(to - from))
            .and_then(|p| v.checked_mul(p))
    } else {
        Some(crate::data::value::div_pow10_round(v, from - to))
    }
}

/// SQL CAST of one value; NULL when the value does not convert.
pub fn cast_value(v: Value, to: DataType) -> Value {
    if v.is_null() {
        return v;
    }
    match to {
        DataType::Utf8 => Value::Utf8(v.to_string()),
        DataType::Float64 => v.as_f64().map_or(Value::Null, Value::Float64),
        DataType::Int64 => match v {
            Value::Int64(x) | Value::Timestamp(x) => Value::Int64(x),
            // Toward zero, as SQLite, Flink and Spark cast to an integer; a
            // value outside the BIGINT range (or NaN) is NULL, not saturated.
            Value::Float64(f) => {
                let t = f.trunc();
                // -2^63 is exact in a double; 2^63 is the first value past.
                if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
                    Value::Int64(t as i64)
                } else {
                    Value::Null
                }
            }
            Value::Decimal { value, scale } => {
                let whole = 10i128
                    .checked_pow(u32::from(scale))
                    .map_or(0, |p| value / p);
                i64::try_from(whole).map_or(Value::Null, Value::Int64)
            }
            Value::Utf8(s) => s.trim().parse().map_or(Value::Null, Value::Int64),
            Value::Bool(b) => Value::Int64(b as i64),
            _ => Value::Null,
        },
        DataType::Bool => match v {
            Value::Bool(b) => Value::Bool(b),
            Value::Int64(x) => Value::Bool(x != 0),
            Value::Utf8(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "1" => Value::Bool(true),
                "false" | "f" | "0" => Value::Bool(false),
                _ => Value::Null,
            },
            _ => Value::Null,
        },
        DataType::Timestamp => match v {
            Value::Timestamp(x) | Value::Int64(x) => Value::Timestamp(x),
            Value::Utf8(s) => {
                crate::io::parse::parse_timestamp(&s).map_or(Value::Null, Value::Timestamp)
            }
            _ => Value::Null,
        },
        DataType::Decimal { scale, .. } => {
            let mut c = Column::new(to);
            let v = match v {
                Value::Utf8(s) => crate::io::parse::parse_decimal(&s, scale)
                    .map_or(Value::Null, |value| Value::Decimal { value, scale }),
                other => other,
            };
            if c.push_value(&v) {
                c.value(0)
            } else {
                Value::Null
            }
        }
    }
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
