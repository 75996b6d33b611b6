//! Typing expressions under SQL's rules: literals, operators and their
//! result types, and the small checks the binder makes of bound expressions.

use super::bind::{error_at, unsupported};
use crate::data::{DataType, Value};
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::expr::{BinaryOp, Expr};
use sqlparser::ast;

/// The value of a literal or a negated numeric literal.
pub(super) fn constant(e: &Expr) -> Option<Value> {
    match e {
        Expr::Literal { value, .. } => Some(value.clone()),
        Expr::Negate(inner) => match constant(inner)? {
            Value::Int64(v) => Some(Value::Int64(v.checked_neg()?)),
            Value::Float64(v) => Some(Value::Float64(-v)),
            Value::Decimal { value, scale } => Some(Value::Decimal {
                value: -value,
                scale,
            }),
            _ => None,
        },
        _ => None,
    }
}

/// The frame of a row window: `Some(n)` for `n PRECEDING`, `None` for
/// `UNBOUNDED PRECEDING` (also the default). Frames end at the current row.
pub(super) fn over_frame(spec: &ast::WindowSpec, e: &ast::Expr) -> Result<Option<usize>, SqlError> {
    let Some(frame) = &spec.window_frame else {
        return Ok(None);
    };
    if frame.units != ast::WindowFrameUnits::Rows {
        return Err(unsupported(
            e,
            format!("{} frames are not supported; use ROWS", frame.units),
        ));
    }
    match &frame.end_bound {
        None | Some(ast::WindowFrameBound::CurrentRow) => {}
        Some(other) => {
            return Err(unsupported(
                e,
                format!("a streaming row window ends at CURRENT ROW, not {other}"),
            ))
        }
    }
    match &frame.start_bound {
        ast::WindowFrameBound::CurrentRow => Ok(Some(0)),
        ast::WindowFrameBound::Preceding(None) => Ok(None),
        ast::WindowFrameBound::Preceding(Some(n)) => match n.as_ref() {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(text, _) => text
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| unsupported(n.as_ref(), "PRECEDING needs a row count")),
                _ => Err(unsupported(n.as_ref(), "PRECEDING needs a row count")),
            },
            other => Err(unsupported(other, "PRECEDING needs a row count")),
        },
        ast::WindowFrameBound::Following(_) => Err(unsupported(
            e,
            "a streaming row window cannot look at FOLLOWING rows; use LEAD",
        )),
    }
}

pub(super) fn expect_type(
    bound: &Expr,
    want: DataType,
    node: &ast::Expr,
    ctx: &str,
) -> Result<(), SqlError> {
    if bound.data_type() == want {
        Ok(())
    } else {
        Err(error_at(
            node,
            SqlErrorKind::TypeMismatch,
            format!("{ctx} needs {want}, found {}", bound.data_type()),
        ))
    }
}

pub(super) fn literal(v: &ast::Value, node: &ast::Expr) -> Result<Expr, SqlError> {
    let (value, data_type) = match v {
        ast::Value::Number(text, _) => {
            if let Ok(i) = text.parse::<i64>() {
                (Value::Int64(i), DataType::Int64)
            } else if let Some((_, frac)) =
                text.split_once('.').filter(|_| !text.contains(['e', 'E']))
            {
                let scale = frac.len().min(18) as u8;
                let value = crate::io::parse::parse_decimal(text, scale)
                    .ok_or_else(|| unsupported(node, format!("number {text} is out of range")))?;
                (
                    Value::Decimal { value, scale },
                    DataType::Decimal {
                        precision: 38,
                        scale,
                    },
                )
            } else {
                let f: f64 = text
                    .parse()
                    .map_err(|_| unsupported(node, format!("number {text} is out of range")))?;
                (Value::Float64(f), DataType::Float64)
            }
        }
        ast::Value::SingleQuotedString(s) => (Value::Utf8(s.clone()), DataType::Utf8),
        ast::Value::Boolean(b) => (Value::Bool(*b), DataType::Bool),
        ast::Value::Null => (Value::Null, DataType::Int64),
        other => {
            return Err(unsupported(
                node,
                format!("literal {other} is not supported"),
            ))
        }
    };
    Ok(Expr::Literal { value, data_type })
}

pub(super) fn binary_op(op: &ast::BinaryOperator) -> Option<BinaryOp> {
    use ast::BinaryOperator as B;
    Some(match op {
        B::Plus => BinaryOp::Add,
        B::Minus => BinaryOp::Sub,
        B::Multiply => BinaryOp::Mul,
        B::Divide => BinaryOp::Div,
        B::Modulo => BinaryOp::Mod,
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::Lt => BinaryOp::Lt,
        B::LtEq => BinaryOp::LtEq,
        B::Gt => BinaryOp::Gt,
        B::GtEq => BinaryOp::GtEq,
        B::And => BinaryOp::And,
        B::Or => BinaryOp::Or,
        _ => return None,
    })
}

pub(super) fn is_null_literal(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Literal {
            value: Value::Null,
            ..
        }
    )
}

/// Types `l op r` under SQL's rules.
pub(super) fn binary(op: BinaryOp, l: Expr, r: Expr, node: &ast::Expr) -> Result<Expr, SqlError> {
    let (lt, rt) = (l.data_type(), r.data_type());
    let mismatch = || {
        error_at(
            node,
            SqlErrorKind::TypeMismatch,
            format!("cannot apply {} to {lt} and {rt}", op.symbol()),
        )
    };
    let data_type = if op.is_arithmetic() {
        if is_null_literal(&l) || is_null_literal(&r) {
            if is_null_literal(&l) {
                rt
            } else {
                lt
            }
        } else {
            arithmetic_type(op, lt, rt).ok_or_else(mismatch)?
        }
    } else if op.is_comparison() {
        let comparable = lt == rt
            || (lt.is_numeric() && rt.is_numeric())
            || is_null_literal(&l)
            || is_null_literal(&r);
        if !comparable {
            return Err(mismatch());
        }
        DataType::Bool
    } else {
        let boolish = |e: &Expr| e.data_type() == DataType::Bool || is_null_literal(e);
        if !boolish(&l) || !boolish(&r) {
            return Err(mismatch());
        }
        DataType::Bool
    };
    Ok(Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
        data_type,
    })
}

pub(super) fn arithmetic_type(op: BinaryOp, l: DataType, r: DataType) -> Option<DataType> {
    use DataType::*;
    Some(match (l, r) {
        (Int64, Int64) => Int64,
        (Float64, t) | (t, Float64) if t.is_numeric() => Float64,
        (Decimal { scale: a, .. }, Decimal { scale: b, .. }) => decimal_result(op, a, b),
        (Decimal { scale, .. }, Int64) | (Int64, Decimal { scale, .. }) => {
            let (a, b) = if l == Int64 { (0, scale) } else { (scale, 0) };
            decimal_result(op, a, b)
        }
        _ => return None,
    })
}

pub(super) fn decimal_result(op: BinaryOp, a: u8, b: u8) -> DataType {
    let scale = match op {
        BinaryOp::Mul => (a + b).min(18),
        BinaryOp::Div => a.max(b).max(6),
        _ => a.max(b),
    };
    DataType::Decimal {
        precision: 38,
        scale,
    }
}
