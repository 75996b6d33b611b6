//! Binding scalar functions and the expression forms with their own syntax
//! (CASE, IN, BETWEEN, LIKE, SUBSTRING, TRIM, EXTRACT, FLOOR, CEIL, `||`):
//! names to [`ScalarFunc`]s, argument counts and types checked, result types
//! worked out.
//!
//! Arguments are bound through the caller's binder (`bind`), so over a
//! grouping a key expression or an aggregate inside a function resolves as it
//! does anywhere else in the select list.
//!
//! Result types of CASE and COALESCE unify numerically (BIGINT -> DECIMAL ->
//! DOUBLE); a NULL literal takes the type of the other branches.

use super::bind::{error_at, unsupported};
use super::flink_functions;
use crate::data::{DataType, Value};
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::expr::{BinaryOp, Expr};
use crate::exec::scalar::{DatePart, ScalarFunc, TrimSide, TruncUnit};
use sqlparser::ast;

mod special_forms;
pub(super) use special_forms::{is_special, special};

/// The caller's binder for argument expressions.
pub(super) type Bind<'b> = dyn FnMut(&ast::Expr) -> Result<Expr, SqlError> + 'b;

/// A bound argument and the text it came from, for errors.
pub(super) struct Arg<'a> {
    pub(super) node: &'a ast::Expr,
    pub(super) expr: Expr,
}

impl Arg<'_> {
    pub(super) fn data_type(&self) -> DataType {
        self.expr.data_type()
    }

    pub(super) fn is_null(&self) -> bool {
        is_null_literal(&self.expr)
    }
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

pub(super) fn is_time(t: DataType) -> bool {
    matches!(t, DataType::Timestamp | DataType::Int64)
}

pub(super) fn is_utf8(t: DataType) -> bool {
    t == DataType::Utf8
}

pub(super) fn is_int(t: DataType) -> bool {
    t == DataType::Int64
}

fn is_numeric(t: DataType) -> bool {
    t.is_numeric()
}

/// Fails unless `arg` has a type `ok` accepts (a NULL literal fits anything).
pub(super) fn want(
    func: &str,
    arg: &Arg,
    ok: fn(DataType) -> bool,
    expected: &str,
) -> Result<(), SqlError> {
    if arg.is_null() || ok(arg.data_type()) {
        Ok(())
    } else {
        Err(error_at(
            arg.node,
            SqlErrorKind::TypeMismatch,
            format!("{func} needs {expected}, found {}", arg.data_type()),
        ))
    }
}

/// Whether SQL compares values of these two expressions.
fn comparable(a: &Expr, b: &Expr) -> bool {
    let (at, bt) = (a.data_type(), b.data_type());
    at == bt || (at.is_numeric() && bt.is_numeric()) || is_null_literal(a) || is_null_literal(b)
}

fn want_comparable(what: &str, left: &Expr, right: &Arg) -> Result<(), SqlError> {
    if comparable(left, &right.expr) {
        Ok(())
    } else {
        Err(error_at(
            right.node,
            SqlErrorKind::TypeMismatch,
            format!(
                "{what} cannot compare {} with {}",
                left.data_type(),
                right.data_type()
            ),
        ))
    }
}

/// The type two non-NULL branch types unify to, if any.
fn common_type(a: DataType, b: DataType) -> Option<DataType> {
    use DataType::*;
    Some(match (a, b) {
        _ if a == b => a,
        (Float64, t) | (t, Float64) if t.is_numeric() => Float64,
        (Decimal { scale: x, .. }, Decimal { scale: y, .. }) => Decimal {
            precision: 38,
            scale: x.max(y),
        },
        (Decimal { scale, .. }, Int64) | (Int64, Decimal { scale, .. }) => Decimal {
            precision: 38,
            scale,
        },
        _ => return None,
    })
}

/// The type `results` unify to; NULL literals take the others' type.
fn unify(what: &str, results: &[&Arg]) -> Result<DataType, SqlError> {
    let mut out: Option<DataType> = None;
    for r in results.iter().filter(|r| !r.is_null()) {
        out = Some(match out {
            None => r.data_type(),
            Some(t) => common_type(t, r.data_type()).ok_or_else(|| {
                error_at(
                    r.node,
                    SqlErrorKind::TypeMismatch,
                    format!(
                        "{what} results must share a type: found {t} and {}",
                        r.data_type()
                    ),
                )
            })?,
        });
    }
    Ok(out.unwrap_or(DataType::Int64))
}

pub(super) fn arity(
    func: &str,
    node: &ast::Function,
    found: usize,
    min: usize,
    max: usize,
) -> Result<(), SqlError> {
    if (min..=max).contains(&found) {
        return Ok(());
    }
    let expected = match (min, max) {
        (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
        (a, usize::MAX) => format!("at least {a} argument{}", if a == 1 { "" } else { "s" }),
        (a, b) => format!("{a} to {b} arguments"),
    };
    Err(error_at(
        &node.name,
        SqlErrorKind::TypeMismatch,
        format!("{func} takes {expected}, found {found}"),
    ))
}

/// A constant integer: a literal, or a negated one.
pub(super) fn const_int(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal {
            value: Value::Int64(x),
            ..
        } => Some(*x),
        Expr::Negate(inner) => const_int(inner).and_then(i64::checked_neg),
        _ => None,
    }
}

pub(super) fn call(func: ScalarFunc, args: Vec<Arg>, data_type: DataType) -> Expr {
    Expr::Call {
        func,
        args: args.into_iter().map(|a| a.expr).collect(),
        data_type,
    }
}

fn bind_arg<'a>(node: &'a ast::Expr, bind: &mut Bind) -> Result<Arg<'a>, SqlError> {
    Ok(Arg {
        node,
        expr: bind(node)?,
    })
}

/// Binds `f` when it names a scalar function; `Ok(None)` when it does not (an
/// aggregate, or an unknown name the caller reports).
pub(super) fn function(
    f: &ast::Function,
    e: &ast::Expr,
    bind: &mut Bind,
) -> Result<Option<Expr>, SqlError> {
    let name = f.name.to_string().to_ascii_uppercase();
    let known = matches!(
        name.as_str(),
        "UPPER"
            | "LOWER"
            | "LENGTH"
            | "CHAR_LENGTH"
            | "CHARACTER_LENGTH"
            | "CONCAT"
            | "LTRIM"
            | "RTRIM"
            | "BTRIM"
            | "ABS"
            | "ROUND"
            | "CEILING"
            | "SQRT"
            | "POWER"
            | "POW"
            | "MOD"
            | "COALESCE"
            | "NULLIF"
            | "DATE_TRUNC"
            | "DATE_PART"
    ) || flink_functions::knows(&name);
    if !known {
        return Ok(None);
    }
    let list = match &f.args {
        ast::FunctionArguments::List(list)
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            list.args.as_slice()
        }
        ast::FunctionArguments::None => &[],
        _ => {
            return Err(unsupported(
                e,
                format!("this form of {name} is not supported"),
            ))
        }
    };
    if f.filter.is_some() || f.null_treatment.is_some() || !f.within_group.is_empty() {
        return Err(unsupported(e, format!("{name} takes no clauses")));
    }
    let mut args = Vec::with_capacity(list.len());
    for a in list {
        match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x)) => {
                args.push(bind_arg(x, bind)?)
            }
            _ => {
                return Err(unsupported(
                    e,
                    format!("{name} takes plain arguments (no `*`, no names)"),
                ))
            }
        }
    }
    let n = args.len();
    let bound = match name.as_str() {
        "UPPER" | "LOWER" => {
            arity(&name, f, n, 1, 1)?;
            want(&name, &args[0], is_utf8, "VARCHAR")?;
            let func = if name == "UPPER" {
                ScalarFunc::Upper
            } else {
                ScalarFunc::Lower
            };
            call(func, args, DataType::Utf8)
        }
        "LENGTH" | "CHAR_LENGTH" | "CHARACTER_LENGTH" => {
            arity(&name, f, n, 1, 1)?;
            want(&name, &args[0], is_utf8, "VARCHAR")?;
            call(ScalarFunc::CharLength, args, DataType::Int64)
        }
        "CONCAT" => {
            arity(&name, f, n, 1, usize::MAX)?;
            call(ScalarFunc::Concat, args, DataType::Utf8)
        }
        "LTRIM" | "RTRIM" | "BTRIM" => {
            arity(&name, f, n, 1, 2)?;
            for a in &args {
                want(&name, a, is_utf8, "VARCHAR")?;
            }
            let side = match name.as_str() {
                "LTRIM" => TrimSide::Leading,
                "RTRIM" => TrimSide::Trailing,
                _ => TrimSide::Both,
            };
            call(ScalarFunc::Trim(side), args, DataType::Utf8)
        }
        "ABS" => {
            arity(&name, f, n, 1, 1)?;
            want(&name, &args[0], is_numeric, "a number")?;
            let t = args[0].data_type();
            call(ScalarFunc::Abs, args, t)
        }
        "ROUND" => {
            arity(&name, f, n, 1, 2)?;
            want(&name, &args[0], is_numeric, "a number")?;
            let digits = match args.get(1) {
                None => 0,
                Some(d) => const_int(&d.expr)
                    .and_then(|d| i32::try_from(d).ok())
                    .ok_or_else(|| {
                        error_at(
                            d.node,
                            SqlErrorKind::TypeMismatch,
                            "ROUND needs a constant integer number of digits",
                        )
                    })?,
            };
            args.truncate(1);
            let t = match args[0].data_type() {
                DataType::Decimal { precision, scale } => DataType::Decimal {
                    precision,
                    scale: digits.clamp(0, scale as i32) as u8,
                },
                t => t,
            };
            call(ScalarFunc::Round { digits }, args, t)
        }
        "CEILING" => {
            arity(&name, f, n, 1, 1)?;
            floor_ceil(ScalarFunc::Ceil, args.pop().expect("one argument"))?
        }
        "SQRT" => {
            arity(&name, f, n, 1, 1)?;
            want(&name, &args[0], is_numeric, "a number")?;
            call(ScalarFunc::Sqrt, args, DataType::Float64)
        }
        "POWER" | "POW" => {
            arity(&name, f, n, 2, 2)?;
            for a in &args {
                want(&name, a, is_numeric, "numbers")?;
            }
            call(ScalarFunc::Power, args, DataType::Float64)
        }
        "MOD" => {
            arity(&name, f, n, 2, 2)?;
            for a in &args {
                want(&name, a, is_numeric, "numbers")?;
            }
            let (l, r) = (&args[0], &args[1]);
            let t = if l.is_null() {
                r.data_type()
            } else if r.is_null() {
                l.data_type()
            } else {
                common_type(l.data_type(), r.data_type()).unwrap_or(DataType::Float64)
            };
            let mut it = args.into_iter().map(|a| Box::new(a.expr));
            Expr::Binary {
                op: BinaryOp::Mod,
                left: it.next().expect("two arguments"),
                right: it.next().expect("two arguments"),
                data_type: t,
            }
        }
        "COALESCE" => {
            arity(&name, f, n, 1, usize::MAX)?;
            let t = unify(&name, &args.iter().collect::<Vec<_>>())?;
            call(ScalarFunc::Coalesce, args, t)
        }
        "NULLIF" => {
            arity(&name, f, n, 2, 2)?;
            want_comparable(&name, &args[0].expr, &args[1])?;
            let t = if args[0].is_null() {
                args[1].data_type()
            } else {
                args[0].data_type()
            };
            call(ScalarFunc::NullIf, args, t)
        }
        "DATE_TRUNC" | "DATE_PART" => {
            arity(&name, f, n, 2, 2)?;
            want(
                &name,
                &args[1],
                is_time,
                "a TIMESTAMP (or BIGINT epoch milliseconds)",
            )?;
            let unit = match &args[0].expr {
                Expr::Literal {
                    value: Value::Utf8(s),
                    ..
                } => s.clone(),
                _ => {
                    return Err(error_at(
                        args[0].node,
                        SqlErrorKind::TypeMismatch,
                        format!("{name} needs the unit as a string literal, e.g. 'day'"),
                    ))
                }
            };
            let unit_node = args[0].node;
            let time = args.swap_remove(1);
            if name == "DATE_TRUNC" {
                let unit = TruncUnit::parse(&unit).ok_or_else(|| {
                    unsupported(
                        unit_node,
                        format!(
                            "DATE_TRUNC unit '{unit}' is not supported; use second, minute, \
                             hour, day, week, month, quarter or year"
                        ),
                    )
                })?;
                call(ScalarFunc::DateTrunc(unit), vec![time], DataType::Timestamp)
            } else {
                let part = date_part_named(&unit)
                    .ok_or_else(|| unsupported(unit_node, format!("no date part '{unit}'")))?;
                call(ScalarFunc::Extract(part), vec![time], part.output_type())
            }
        }
        _ if flink_functions::knows(&name) => flink_functions::bind(&name, f, args)?,
        _ => unreachable!("`known` lists every name matched here"),
    };
    Ok(Some(bound))
}

fn date_part_named(name: &str) -> Option<DatePart> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "year" | "years" => DatePart::Year,
        "quarter" => DatePart::Quarter,
        "month" | "months" => DatePart::Month,
        "week" | "weeks" => DatePart::Week,
        "day" | "days" => DatePart::Day,
        "hour" | "hours" => DatePart::Hour,
        "minute" | "minutes" => DatePart::Minute,
        "second" | "seconds" => DatePart::Second,
        "millisecond" | "milliseconds" => DatePart::Millisecond,
        "dow" | "dayofweek" => DatePart::Dow,
        "isodow" => DatePart::IsoDow,
        "doy" | "dayofyear" => DatePart::Doy,
        "epoch" => DatePart::Epoch,
        _ => return None,
    })
}

fn floor_ceil(func: ScalarFunc, arg: Arg) -> Result<Expr, SqlError> {
    let what = if func == ScalarFunc::Ceil {
        "CEIL"
    } else {
        "FLOOR"
    };
    want(what, &arg, is_numeric, "a number")?;
    let t = match arg.data_type() {
        DataType::Decimal { precision, .. } => DataType::Decimal {
            precision,
            scale: 0,
        },
        t => t,
    };
    Ok(call(func, vec![arg], t))
}
