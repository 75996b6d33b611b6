//! Binding the expression forms with their own syntax (IN, BETWEEN, LIKE,
//! CASE, SUBSTRING, TRIM, EXTRACT, FLOOR, CEIL, `||`): [`special`] binds the
//! forms [`is_special`] names, with the argument checks and result types of
//! the named functions (see [`super::function`]).

use super::{
    bind_arg, call, date_part_named, floor_ceil, is_int, is_time, is_utf8, unify, want,
    want_comparable, Arg, Bind,
};
use crate::data::{DataType, Value};
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::expr::Expr;
use crate::exec::like::LikePattern;
use crate::exec::scalar::{DatePart, ScalarFunc, TrimSide};
use crate::sql::bind::{error_at, unsupported};
use sqlparser::ast;

fn date_part(field: &ast::DateTimeField) -> Option<DatePart> {
    use ast::DateTimeField as F;
    Some(match field {
        F::Year | F::Years => DatePart::Year,
        F::Quarter => DatePart::Quarter,
        F::Month | F::Months => DatePart::Month,
        F::Week(None) | F::Weeks | F::IsoWeek => DatePart::Week,
        F::Day | F::Days => DatePart::Day,
        F::Hour | F::Hours => DatePart::Hour,
        F::Minute | F::Minutes => DatePart::Minute,
        F::Second | F::Seconds => DatePart::Second,
        F::Millisecond | F::Milliseconds => DatePart::Millisecond,
        F::Dow | F::DayOfWeek => DatePart::Dow,
        F::Isodow => DatePart::IsoDow,
        F::Doy | F::DayOfYear => DatePart::Doy,
        F::Epoch => DatePart::Epoch,
        F::Custom(name) => return date_part_named(&name.value),
        _ => return None,
    })
}

/// Binds one of the forms with their own syntax. The caller sends only the
/// variants listed here.
pub(in crate::sql) fn special(e: &ast::Expr, bind: &mut Bind) -> Result<Expr, SqlError> {
    match e {
        ast::Expr::InList {
            expr,
            list,
            negated,
        } => {
            let x = bind(expr)?;
            let mut items = Vec::with_capacity(list.len());
            for node in list {
                let item = bind_arg(node, bind)?;
                want_comparable("IN", &x, &item)?;
                items.push(item.expr);
            }
            Ok(Expr::InList {
                expr: Box::new(x),
                list: items,
                negated: *negated,
            })
        }
        ast::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let x = bind(expr)?;
            let low = bind_arg(low, bind)?;
            let high = bind_arg(high, bind)?;
            want_comparable("BETWEEN", &x, &low)?;
            want_comparable("BETWEEN", &x, &high)?;
            Ok(Expr::Between {
                expr: Box::new(x),
                low: Box::new(low.expr),
                high: Box::new(high.expr),
                negated: *negated,
            })
        }
        ast::Expr::Like {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        }
        | ast::Expr::ILike {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        } => {
            let op = if matches!(e, ast::Expr::Like { .. }) {
                "LIKE"
            } else {
                "ILIKE"
            };
            if *any {
                return Err(unsupported(e, format!("{op} ANY is not supported")));
            }
            let x = bind_arg(expr, bind)?;
            want(op, &x, is_utf8, "VARCHAR")?;
            let p = bind_arg(pattern, bind)?;
            let text = match &p.expr {
                Expr::Literal {
                    value: Value::Utf8(s),
                    ..
                } => s.clone(),
                Expr::Literal {
                    value: Value::Null, ..
                } => {
                    return Ok(Expr::Literal {
                        value: Value::Null,
                        data_type: DataType::Bool,
                    })
                }
                _ => {
                    return Err(unsupported(
                        pattern.as_ref(),
                        format!("{op} needs a string literal pattern"),
                    ))
                }
            };
            let escape = match escape_char {
                None => Some('\\'),
                Some(ast::Value::SingleQuotedString(s)) if s.chars().count() <= 1 => {
                    s.chars().next()
                }
                Some(other) => {
                    return Err(unsupported(
                        e,
                        format!("ESCAPE takes one character, found {other}"),
                    ))
                }
            };
            let compiled = LikePattern::compile(&text, escape, op == "ILIKE")
                .map_err(|err| error_at(pattern.as_ref(), SqlErrorKind::Syntax, err.to_string()))?;
            Ok(Expr::Like {
                expr: Box::new(x.expr),
                pattern: compiled,
                negated: *negated,
            })
        }
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            let operand = operand.as_deref().map(&mut *bind).transpose()?;
            let mut whens = Vec::with_capacity(conditions.len());
            let mut results = Vec::with_capacity(conditions.len() + 1);
            for w in conditions {
                let cond = bind_arg(&w.condition, bind)?;
                match &operand {
                    Some(o) => want_comparable("CASE", o, &cond)?,
                    None => want("CASE WHEN", &cond, |t| t == DataType::Bool, "BOOLEAN")?,
                }
                whens.push(cond.expr);
                results.push(bind_arg(&w.result, bind)?);
            }
            if let Some(r) = else_result {
                results.push(bind_arg(r, bind)?);
            }
            let data_type = unify("CASE", &results.iter().collect::<Vec<_>>())?;
            let otherwise = else_result
                .is_some()
                .then(|| Box::new(results.pop().expect("pushed above").expr));
            Ok(Expr::Case {
                operand: operand.map(Box::new),
                branches: whens
                    .into_iter()
                    .zip(results.into_iter().map(|r| r.expr))
                    .collect(),
                otherwise,
                data_type,
            })
        }
        ast::Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![bind_arg(expr, bind)?];
            want("SUBSTRING", &args[0], is_utf8, "VARCHAR")?;
            match substring_from {
                Some(from) => args.push(bind_arg(from, bind)?),
                None => args.push(Arg {
                    node: expr,
                    expr: Expr::Literal {
                        value: Value::Int64(1),
                        data_type: DataType::Int64,
                    },
                }),
            }
            if let Some(len) = substring_for {
                args.push(bind_arg(len, bind)?);
            }
            for a in &args[1..] {
                want("SUBSTRING", a, is_int, "BIGINT positions and lengths")?;
            }
            Ok(call(ScalarFunc::Substring, args, DataType::Utf8))
        }
        ast::Expr::Trim {
            expr,
            trim_where,
            trim_what,
            trim_characters,
        } => {
            let mut args = vec![bind_arg(expr, bind)?];
            let chars = match (trim_what, trim_characters.as_deref()) {
                (Some(what), _) => Some(what.as_ref()),
                (None, Some([one])) => Some(one),
                (None, Some(_)) => {
                    return Err(unsupported(e, "TRIM takes one string of characters"))
                }
                (None, None) => None,
            };
            if let Some(c) = chars {
                args.push(bind_arg(c, bind)?);
            }
            for a in &args {
                want("TRIM", a, is_utf8, "VARCHAR")?;
            }
            let side = match trim_where {
                None | Some(ast::TrimWhereField::Both) => TrimSide::Both,
                Some(ast::TrimWhereField::Leading) => TrimSide::Leading,
                Some(ast::TrimWhereField::Trailing) => TrimSide::Trailing,
            };
            Ok(call(ScalarFunc::Trim(side), args, DataType::Utf8))
        }
        ast::Expr::Extract { field, expr, .. } => {
            let part = date_part(field)
                .ok_or_else(|| unsupported(e, format!("EXTRACT({field}) is not supported")))?;
            let arg = bind_arg(expr, bind)?;
            want(
                "EXTRACT",
                &arg,
                is_time,
                "a TIMESTAMP (or BIGINT epoch milliseconds)",
            )?;
            Ok(call(
                ScalarFunc::Extract(part),
                vec![arg],
                part.output_type(),
            ))
        }
        ast::Expr::Floor { expr, field } | ast::Expr::Ceil { expr, field } => {
            let func = if matches!(e, ast::Expr::Ceil { .. }) {
                ScalarFunc::Ceil
            } else {
                ScalarFunc::Floor
            };
            if !matches!(
                field,
                ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime)
            ) {
                return Err(unsupported(
                    e,
                    "FLOOR and CEIL take one argument; use ROUND for digits",
                ));
            }
            floor_ceil(func, bind_arg(expr, bind)?)
        }
        ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::StringConcat,
            right,
        } => {
            let args = vec![bind_arg(left, bind)?, bind_arg(right, bind)?];
            Ok(call(ScalarFunc::ConcatOp, args, DataType::Utf8))
        }
        other => Err(unsupported(
            other,
            format!("expression `{other}` is not supported yet"),
        )),
    }
}

/// Whether [`special`] binds `e`.
pub(in crate::sql) fn is_special(e: &ast::Expr) -> bool {
    matches!(
        e,
        ast::Expr::InList { .. }
            | ast::Expr::Between { .. }
            | ast::Expr::Like { .. }
            | ast::Expr::ILike { .. }
            | ast::Expr::Case { .. }
            | ast::Expr::Substring { .. }
            | ast::Expr::Trim { .. }
            | ast::Expr::Extract { .. }
            | ast::Expr::Floor { .. }
            | ast::Expr::Ceil { .. }
            | ast::Expr::BinaryOp {
                op: ast::BinaryOperator::StringConcat,
                ..
            }
    )
}
