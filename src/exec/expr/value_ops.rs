//! Row-at-a-time operators over [`Value`]s, the semantics the vectorised
//! paths of [`Expr`](super::Expr) must match: binary operators with SQL
//! NULL logic ([`binary_value`]), exact DECIMAL arithmetic, and CAST
//! ([`cast_value`]).

use super::BinaryOp;
use crate::data::{Column, DataType, Value};
use std::cmp::Ordering;

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
