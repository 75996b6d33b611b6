//! Scalar functions and the conditional forms (CASE, IN, BETWEEN, LIKE).
//!
//! Functions are strict unless stated: a NULL argument gives a NULL result.
//! The exceptions are `COALESCE`, `NULLIF` and `CONCAT` (which skips NULLs, as
//! in PostgreSQL). `IN`, `BETWEEN` and `CASE` follow SQL's three-valued logic:
//! `x IN (1, NULL)` is TRUE when `x = 1` and NULL otherwise, `x NOT IN (1, NULL)`
//! is never TRUE, and a CASE branch is taken only when its condition is TRUE.
//!
//! Evaluation is row at a time over [`Value`]s, except for the hot predicates:
//! LIKE, BETWEEN and IN run as loops over the column where they can
//! ([`predicates`]).
//!
//! Where PostgreSQL raises a run-time error (a negative SUBSTRING length, the
//! square root of a negative number, an overflow), the result is NULL instead:
//! a running stream has no caller to hand the error to.

use super::expr::{binary_value, cast_value, BinaryOp, Expr};
use super::flink_strings;
use crate::data::column::ColumnData;
use crate::data::{Batch, Column, DataType, Value};
use chrono::{Datelike, NaiveDate, Timelike};
use std::cmp::Ordering;

mod predicates;
pub(super) use predicates::{between_column, between_columns, in_list_column, like_column};

/// A scalar function, its constant arguments folded in at bind time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarFunc {
    Upper,
    Lower,
    /// `LENGTH` / `CHAR_LENGTH`: characters, not bytes.
    CharLength,
    /// `(s, start [, length])`, 1-based.
    Substring,
    /// `CONCAT(...)`: NULL arguments are skipped.
    Concat,
    /// `a || b`: NULL when either side is NULL.
    ConcatOp,
    /// `(s [, characters])`; the characters default to a space.
    Trim(TrimSide),
    Abs,
    /// Half away from zero to `digits` places (negative: to tens, hundreds...).
    Round {
        digits: i32,
    },
    Floor,
    Ceil,
    Sqrt,
    Power,
    /// A field of a TIMESTAMP (or BIGINT epoch milliseconds), UTC.
    Extract(DatePart),
    /// The TIMESTAMP truncated down to a unit, UTC.
    DateTrunc(TruncUnit),
    /// The start of the tumbling window of this many milliseconds holding a
    /// TIMESTAMP (or BIGINT epoch milliseconds): the time rounded down to a
    /// multiple of the size. Not in the SQL surface: the planner adds it to
    /// the partitioning key of an event-time tumbling window (see
    /// [`crate::sql::plan::Partitioning`]).
    TumbleStart(i64),
    /// The first non-NULL argument.
    Coalesce,
    /// NULL when the two arguments are equal, else the first.
    NullIf,
    /// `(s, delimiter, index)`, Flink's (see [`flink_strings::split_index`]).
    SplitIndex,
    /// `(s, from, to)`, every occurrence (see [`flink_strings::replace`]).
    Replace,
}

/// Which end(s) TRIM removes characters from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimSide {
    Both,
    Leading,
    Trailing,
}

/// A field EXTRACT can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    Year,
    Quarter,
    Month,
    /// ISO 8601 week of the year (1-53).
    Week,
    Day,
    Hour,
    Minute,
    /// Seconds with the milliseconds as a fraction: DECIMAL(5,3), as PostgreSQL.
    Second,
    /// Seconds times 1000 plus the milliseconds, as PostgreSQL.
    Millisecond,
    /// Day of the week, Sunday = 0.
    Dow,
    /// Day of the week, Monday = 1 ... Sunday = 7.
    IsoDow,
    /// Day of the year, 1-366.
    Doy,
    /// Seconds since 1970-01-01 UTC, with the milliseconds as a fraction.
    Epoch,
}

impl DatePart {
    pub fn output_type(self) -> DataType {
        match self {
            DatePart::Second => DataType::Decimal {
                precision: 5,
                scale: 3,
            },
            DatePart::Epoch => DataType::Decimal {
                precision: 38,
                scale: 3,
            },
            _ => DataType::Int64,
        }
    }
}

/// A unit DATE_TRUNC truncates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TruncUnit {
    Second,
    Minute,
    Hour,
    Day,
    /// The Monday starting the ISO week.
    Week,
    Month,
    Quarter,
    Year,
}

impl TruncUnit {
    /// The unit named `name` (case-insensitive), as in PostgreSQL.
    pub fn parse(name: &str) -> Option<TruncUnit> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "second" | "seconds" => TruncUnit::Second,
            "minute" | "minutes" => TruncUnit::Minute,
            "hour" | "hours" => TruncUnit::Hour,
            "day" | "days" => TruncUnit::Day,
            "week" | "weeks" => TruncUnit::Week,
            "month" | "months" => TruncUnit::Month,
            "quarter" | "quarters" => TruncUnit::Quarter,
            "year" | "years" => TruncUnit::Year,
            _ => return None,
        })
    }
}

/// `value` expressed as `to`, the type a CASE or COALESCE was unified to.
fn coerce(value: Value, to: DataType) -> Value {
    if value.is_null() || value.data_type() == Some(to) {
        value
    } else {
        cast_value(value, to)
    }
}

/// Evaluates `func(args)` at `row`.
pub(super) fn eval_call(
    func: ScalarFunc,
    args: &[Expr],
    out: DataType,
    batch: &Batch,
    row: usize,
) -> Value {
    match func {
        ScalarFunc::Coalesce => args
            .iter()
            .map(|a| a.eval_row(batch, row))
            .find(|v| !v.is_null())
            .map_or(Value::Null, |v| coerce(v, out)),
        ScalarFunc::NullIf => {
            let a = args[0].eval_row(batch, row);
            let b = args[1].eval_row(batch, row);
            if a.sql_cmp(&b) == Some(Ordering::Equal) {
                Value::Null
            } else {
                coerce(a, out)
            }
        }
        ScalarFunc::Concat => {
            let mut s = String::new();
            for a in args {
                let v = a.eval_row(batch, row);
                if !v.is_null() {
                    use std::fmt::Write;
                    let _ = write!(s, "{v}");
                }
            }
            Value::Utf8(s)
        }
        _ => {
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                let v = a.eval_row(batch, row);
                if v.is_null() {
                    return Value::Null;
                }
                values.push(v);
            }
            strict(func, &values, out)
        }
    }
}

/// A strict function over non-NULL arguments, already type-checked by the binder.
pub fn strict(func: ScalarFunc, args: &[Value], out: DataType) -> Value {
    use ScalarFunc::*;
    match (func, args) {
        (Upper, [Value::Utf8(s)]) => Value::Utf8(s.to_uppercase()),
        (Lower, [Value::Utf8(s)]) => Value::Utf8(s.to_lowercase()),
        (CharLength, [Value::Utf8(s)]) => Value::Int64(s.chars().count() as i64),
        (Substring, [Value::Utf8(s), Value::Int64(start)]) => substring(s, *start, None),
        (Substring, [Value::Utf8(s), Value::Int64(start), Value::Int64(len)]) => {
            substring(s, *start, Some(*len))
        }
        (ConcatOp, [a, b]) => Value::Utf8(format!("{a}{b}")),
        (Trim(side), [Value::Utf8(s)]) => Value::Utf8(trim(s, " ", side).to_owned()),
        (Trim(side), [Value::Utf8(s), Value::Utf8(chars)]) => {
            Value::Utf8(trim(s, chars, side).to_owned())
        }
        (SplitIndex, [Value::Utf8(s), Value::Utf8(d), Value::Int64(i)]) => {
            flink_strings::split_index(s, d, *i)
        }
        (Replace, [Value::Utf8(s), Value::Utf8(from), Value::Utf8(to)]) => {
            flink_strings::replace(s, from, to)
        }
        (Abs, [v]) => abs(v),
        (Round { digits }, [v]) => round(v, digits, out),
        (Floor, [v]) => floor_ceil(v, false),
        (Ceil, [v]) => floor_ceil(v, true),
        (Sqrt, [v]) => match v.as_f64() {
            Some(x) if x >= 0.0 => Value::Float64(x.sqrt()),
            _ => Value::Null,
        },
        (Power, [a, b]) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => {
                let p = a.powf(b);
                if p.is_finite() {
                    Value::Float64(p)
                } else {
                    Value::Null
                }
            }
            _ => Value::Null,
        },
        (Extract(part), [Value::Timestamp(ms) | Value::Int64(ms)]) => extract(part, *ms),
        (DateTrunc(unit), [Value::Timestamp(ms) | Value::Int64(ms)]) => {
            date_trunc(unit, *ms).map_or(Value::Null, Value::Timestamp)
        }
        (TumbleStart(size), [Value::Timestamp(ms) | Value::Int64(ms)]) => {
            tumble_start(*ms, size).map_or(Value::Null, Value::Timestamp)
        }
        _ => Value::Null,
    }
}

/// The multiple of `size` (> 0) at or below `ms`; `None` below the smallest
/// one an `i64` holds.
#[inline]
pub fn tumble_start(ms: i64, size: i64) -> Option<i64> {
    ms.checked_sub(ms.rem_euclid(size))
}

/// [`ScalarFunc::TumbleStart`] over a column: `None` if the column is not
/// BIGINT or TIMESTAMP without NULLs, or a start does not fit (the row path
/// then gives NULL there).
pub fn tumble_start_column(times: &Column, size: i64) -> Option<Column> {
    let (ColumnData::Int64(v) | ColumnData::Timestamp(v)) = &times.data else {
        return None;
    };
    if times.validity.is_some() {
        return None;
    }
    let starts = v
        .iter()
        .map(|&ms| tumble_start(ms, size))
        .collect::<Option<Vec<i64>>>()?;
    Some(Column::from_data(ColumnData::Timestamp(starts)))
}

/// SQL `SUBSTRING(s FROM start [FOR len])`: the characters at 1-based positions
/// `start .. start + len`, clipped to the string. Positions before 1 count
/// towards `len` (`SUBSTRING('abc', 0, 2)` is `'a'`); a negative `len` is NULL.
pub fn substring(s: &str, start: i64, len: Option<i64>) -> Value {
    let end = match len {
        Some(l) if l < 0 => return Value::Null,
        Some(l) => start.saturating_add(l),
        None => i64::MAX,
    };
    let from = start.max(1);
    if end <= from {
        return Value::Utf8(String::new());
    }
    let skip = usize::try_from(from - 1).unwrap_or(usize::MAX);
    let take = usize::try_from(end - from).unwrap_or(usize::MAX);
    Value::Utf8(s.chars().skip(skip).take(take).collect())
}

fn trim<'s>(s: &'s str, chars: &str, side: TrimSide) -> &'s str {
    let strip = |c: char| chars.contains(c);
    match side {
        TrimSide::Both => s.trim_matches(strip),
        TrimSide::Leading => s.trim_start_matches(strip),
        TrimSide::Trailing => s.trim_end_matches(strip),
    }
}

fn abs(v: &Value) -> Value {
    match *v {
        Value::Int64(x) => x.checked_abs().map_or(Value::Null, Value::Int64),
        Value::Float64(x) => Value::Float64(x.abs()),
        Value::Decimal { value, scale } => Value::Decimal {
            value: value.abs(),
            scale,
        },
        _ => Value::Null,
    }
}

/// `v / p` rounded half away from zero (`p > 0`).
fn div_round(v: i128, p: i128) -> i128 {
    let (q, r) = (v / p, v % p);
    if r.abs() * 2 >= p {
        q + v.signum()
    } else {
        q
    }
}

/// ROUND(v, digits), half away from zero; exact on BIGINT and DECIMAL.
fn round(v: &Value, digits: i32, out: DataType) -> Value {
    match *v {
        Value::Int64(x) if digits >= 0 => Value::Int64(x),
        Value::Int64(x) => {
            let Some(p) = 10i128.checked_pow(digits.unsigned_abs()) else {
                return Value::Int64(0);
            };
            i64::try_from(div_round(x as i128, p) * p).map_or(Value::Null, Value::Int64)
        }
        Value::Float64(x) => {
            let r = if digits >= 0 {
                let p = 10f64.powi(digits);
                (x * p).round() / p
            } else {
                let p = 10f64.powi(-digits);
                (x / p).round() * p
            };
            // Very large `digits` overflow the scaling: the value is already exact.
            Value::Float64(if r.is_finite() { r } else { x })
        }
        Value::Decimal { value, scale } => {
            let DataType::Decimal { scale: out, .. } = out else {
                return Value::Null;
            };
            if digits >= scale as i32 {
                return coerce(
                    v.clone(),
                    DataType::Decimal {
                        precision: 38,
                        scale: out,
                    },
                );
            }
            let drop = (scale as i32 - digits) as u32;
            let Some(p) = 10i128.checked_pow(drop) else {
                return Value::Decimal {
                    value: 0,
                    scale: out,
                };
            };
            let q = div_round(value, p);
            // `q` has max(digits, 0) places; with negative digits, scale back up.
            let value = if digits < 0 {
                q.checked_mul(10i128.pow(digits.unsigned_abs()))
            } else {
                Some(q)
            };
            match value {
                Some(value) => coerce(
                    Value::Decimal {
                        value,
                        scale: digits.max(0) as u8,
                    },
                    DataType::Decimal {
                        precision: 38,
                        scale: out,
                    },
                ),
                None => Value::Null,
            }
        }
        _ => Value::Null,
    }
}

/// FLOOR or CEIL; a DECIMAL comes back with scale 0, exactly.
fn floor_ceil(v: &Value, ceil: bool) -> Value {
    match *v {
        Value::Int64(x) => Value::Int64(x),
        Value::Float64(x) => Value::Float64(if ceil { x.ceil() } else { x.floor() }),
        Value::Decimal { value, scale } => {
            let p = 10i128.pow(scale as u32);
            let value = if ceil {
                -(-value).div_euclid(p)
            } else {
                value.div_euclid(p)
            };
            Value::Decimal { value, scale: 0 }
        }
        _ => Value::Null,
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// EXTRACT(part FROM ms), UTC.
pub fn extract(part: DatePart, ms: i64) -> Value {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms).map(|t| t.naive_utc()) else {
        return Value::Null;
    };
    let millis_of_minute = (t.second() * 1000 + t.nanosecond() / 1_000_000 % 1000) as i64;
    Value::Int64(match part {
        DatePart::Year => t.year() as i64,
        DatePart::Quarter => (t.month0() / 3 + 1) as i64,
        DatePart::Month => t.month() as i64,
        DatePart::Week => t.iso_week().week() as i64,
        DatePart::Day => t.day() as i64,
        DatePart::Hour => t.hour() as i64,
        DatePart::Minute => t.minute() as i64,
        DatePart::Second => {
            return Value::Decimal {
                value: millis_of_minute as i128,
                scale: 3,
            }
        }
        DatePart::Millisecond => millis_of_minute,
        DatePart::Dow => t.weekday().num_days_from_sunday() as i64,
        DatePart::IsoDow => t.weekday().number_from_monday() as i64,
        DatePart::Doy => t.ordinal() as i64,
        DatePart::Epoch => {
            return Value::Decimal {
                value: ms as i128,
                scale: 3,
            }
        }
    })
}

/// DATE_TRUNC(unit, ms), UTC; `None` outside chrono's range or where the
/// start of the unit is below the smallest BIGINT.
pub fn date_trunc(unit: TruncUnit, ms: i64) -> Option<i64> {
    let down = |step: i64| tumble_start(ms, step);
    let start_of = |y: i32, m: u32| {
        NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_millis())
    };
    match unit {
        TruncUnit::Second => down(1000),
        TruncUnit::Minute => down(60_000),
        TruncUnit::Hour => down(3_600_000),
        TruncUnit::Day => down(MS_PER_DAY),
        TruncUnit::Week => {
            // 1970-01-01 was a Thursday: three days after a Monday.
            let day = ms.div_euclid(MS_PER_DAY);
            (day - (day + 3).rem_euclid(7)).checked_mul(MS_PER_DAY)
        }
        TruncUnit::Month | TruncUnit::Quarter | TruncUnit::Year => {
            let t = chrono::DateTime::from_timestamp_millis(ms)?;
            let month = match unit {
                TruncUnit::Month => t.month(),
                TruncUnit::Quarter => t.month0() / 3 * 3 + 1,
                _ => 1,
            };
            start_of(t.year(), month)
        }
    }
}

/// CASE at `row`: the result of the first branch whose condition is TRUE (or,
/// with an operand, whose value equals it), else the ELSE result, else NULL.
pub(super) fn eval_case(
    operand: Option<&Expr>,
    branches: &[(Expr, Expr)],
    otherwise: Option<&Expr>,
    out: DataType,
    batch: &Batch,
    row: usize,
) -> Value {
    let operand = operand.map(|o| o.eval_row(batch, row));
    for (when, then) in branches {
        let w = when.eval_row(batch, row);
        let taken = match &operand {
            Some(o) => o.sql_cmp(&w) == Some(Ordering::Equal),
            None => w == Value::Bool(true),
        };
        if taken {
            return coerce(then.eval_row(batch, row), out);
        }
    }
    otherwise.map_or(Value::Null, |e| coerce(e.eval_row(batch, row), out))
}

/// `x [NOT] IN (list)` at `row`, with SQL's NULL rules.
pub(super) fn eval_in_list(
    expr: &Expr,
    list: &[Expr],
    negated: bool,
    batch: &Batch,
    row: usize,
) -> Value {
    let x = expr.eval_row(batch, row);
    if x.is_null() {
        return Value::Null;
    }
    let mut saw_null = false;
    for item in list {
        match x.sql_cmp(&item.eval_row(batch, row)) {
            Some(Ordering::Equal) => return Value::Bool(!negated),
            Some(_) => {}
            None => saw_null = true,
        }
    }
    if saw_null {
        Value::Null
    } else {
        Value::Bool(negated)
    }
}

/// `x [NOT] BETWEEN low AND high` at `row`: `low <= x AND x <= high`.
pub(super) fn eval_between(
    expr: &Expr,
    low: &Expr,
    high: &Expr,
    negated: bool,
    batch: &Batch,
    row: usize,
) -> Value {
    let x = expr.eval_row(batch, row);
    let lo = binary_value(
        BinaryOp::GtEq,
        &x,
        &low.eval_row(batch, row),
        DataType::Bool,
    );
    let hi = binary_value(
        BinaryOp::LtEq,
        &x,
        &high.eval_row(batch, row),
        DataType::Bool,
    );
    match binary_value(BinaryOp::And, &lo, &hi, DataType::Bool) {
        Value::Bool(b) => Value::Bool(b != negated),
        other => other,
    }
}

#[cfg(test)]
mod tests;
