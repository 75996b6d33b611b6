//! Scalar values: one cell of a column, used off the vectorised paths.

use super::DataType;
use std::cmp::Ordering;
use std::fmt;

/// One SQL value. `Null` is typeless; a value's type otherwise follows its variant.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    Null,
    Int64(i64),
    Float64(f64),
    Bool(bool),
    Utf8(String),
    Timestamp(i64),
    Decimal { value: i128, scale: u8 },
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a float, for numeric values; `None` otherwise.
    /// Integers and timestamps as `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int64(v) | Value::Timestamp(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int64(v) | Value::Timestamp(v) => Some(v as f64),
            Value::Float64(v) => Some(v),
            Value::Decimal { value, scale } => Some(value as f64 / 10f64.powi(scale as i32)),
            _ => None,
        }
    }

    /// SQL comparison of two non-null values of comparable types; `None` if either is
    /// null or the types do not compare.
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        use Value::*;
        match (self, other) {
            (Null, _) | (_, Null) => None,
            (Int64(a), Int64(b)) | (Timestamp(a), Timestamp(b)) => Some(a.cmp(b)),
            (Utf8(a), Utf8(b)) => Some(a.cmp(b)),
            (Bool(a), Bool(b)) => Some(a.cmp(b)),
            (
                Decimal {
                    value: a,
                    scale: sa,
                },
                Decimal {
                    value: b,
                    scale: sb,
                },
            ) => Some(cmp_decimals(*a, *sa, *b, *sb)),
            (Int64(a), Decimal { value, scale }) => {
                Some(cmp_decimals(i128::from(*a), 0, *value, *scale))
            }
            (Decimal { value, scale }, Int64(b)) => {
                Some(cmp_decimals(*value, *scale, i128::from(*b), 0))
            }
            (a, b) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        }
    }

    /// The type of a non-null value.
    pub fn data_type(&self) -> Option<DataType> {
        Some(match self {
            Value::Null => return None,
            Value::Int64(_) => DataType::Int64,
            Value::Float64(_) => DataType::Float64,
            Value::Bool(_) => DataType::Bool,
            Value::Utf8(_) => DataType::Utf8,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::Decimal { scale, .. } => DataType::Decimal {
                precision: 38,
                scale: *scale,
            },
        })
    }
}

/// `value / 10^digits`, rounded half away from zero (as SQL rounds DECIMAL);
/// 0 when `10^digits` is past `i128` (it is then more than twice `value`).
pub fn div_pow10_round(value: i128, digits: u8) -> i128 {
    let Some(d) = 10i128.checked_pow(u32::from(digits)) else {
        return 0;
    };
    let (q, r) = (value / d, value % d);
    // |r| < d <= 10^38, so 2|r| fits a u128 (not always an i128).
    if r.unsigned_abs() * 2 >= d.unsigned_abs() {
        q + value.signum()
    } else {
        q
    }
}

/// Compares `a / 10^sa` with `b / 10^sb` exactly. The one with fewer places
/// is scaled up; if that overflows `i128`, its magnitude is past the other's
/// and its sign decides.
fn cmp_decimals(a: i128, sa: u8, b: i128, sb: u8) -> Ordering {
    let up = |v: i128, by: u8| {
        10i128
            .checked_pow(u32::from(by))
            .and_then(|p| v.checked_mul(p))
    };
    if sa <= sb {
        match up(a, sb - sa) {
            Some(a) => a.cmp(&b),
            None => a.cmp(&0),
        }
    } else {
        cmp_decimals(b, sb, a, sa).reverse()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => Ok(()),
            Value::Int64(v) => write!(f, "{v}"),
            Value::Float64(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Utf8(v) => f.write_str(v),
            Value::Timestamp(ms) => f.write_str(&crate::data::column::format_timestamp(*ms)),
            Value::Decimal { value, scale } => f.write_str(&format_decimal(*value, *scale)),
        }
    }
}

/// Renders a scaled integer as a decimal number with exactly `scale` places.
pub(crate) fn format_decimal(value: i128, scale: u8) -> String {
    if scale == 0 {
        return value.to_string();
    }
    let pow = 10i128.pow(scale as u32);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    let pow = pow as u128;
    format!(
        "{sign}{}.{:0width$}",
        abs / pow,
        abs % pow,
        width = scale as usize
    )
}

#[cfg(test)]
mod rounding_tests {
    use super::div_pow10_round;
    use crate::data::{DataType, Value};
    use crate::exec::expr::cast_value;

    #[test]
    fn lowering_a_scale_rounds_half_away_from_zero() {
        assert_eq!(div_pow10_round(2675, 1), 268);
        assert_eq!(div_pow10_round(-2675, 1), -268);
        assert_eq!(div_pow10_round(2674, 1), 267);
        assert_eq!(div_pow10_round(-2674, 1), -267);
        assert_eq!(div_pow10_round(25, 1), 3);
        assert_eq!(div_pow10_round(4, 1), 0);
        let d = |value, scale| Value::Decimal { value, scale };
        let dec2 = DataType::Decimal {
            precision: 10,
            scale: 2,
        };
        assert_eq!(cast_value(d(2675, 3), dec2), d(268, 2));
        // A cast to BIGINT truncates toward zero instead.
        assert_eq!(cast_value(d(25, 1), DataType::Int64), Value::Int64(2));
        assert_eq!(cast_value(d(-25, 1), DataType::Int64), Value::Int64(-2));
        assert_eq!(
            cast_value(Value::Float64(-95.6), DataType::Int64),
            Value::Int64(-95)
        );
    }
}
