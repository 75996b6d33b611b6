//! Binding the functions taken from Flink (the Nexmark queries use them):
//! `DATE_FORMAT`, `SPLIT_INDEX`, `REGEXP_EXTRACT`, `REPLACE`, `HOUR` and
//! `MINUTE`, with Flink's semantics (see `exec::pattern_fn` and
//! `exec::flink_strings`).
//!
//! The patterns of `DATE_FORMAT` and `REGEXP_EXTRACT` must be string
//! literals; they are compiled here, once, and an error in one points at the
//! offending character inside the literal. A constant `REGEXP_EXTRACT` group
//! past the regex's groups is refused too (Flink gives NULL on every row).

use super::bind::error_at;
use super::scalar::{arity, call, const_int, is_int, is_time, is_utf8, want, Arg};
use crate::data::{DataType, Value};
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::date_format::DateFormat;
use crate::exec::expr::Expr;
use crate::exec::pattern_fn::{PatternFunc, Regex};
use crate::exec::scalar::{DatePart, ScalarFunc};
use sqlparser::ast;

/// Whether [`bind`] binds the function named `name` (upper case).
pub(super) fn knows(name: &str) -> bool {
    matches!(
        name,
        "DATE_FORMAT" | "SPLIT_INDEX" | "REGEXP_EXTRACT" | "REPLACE" | "HOUR" | "MINUTE"
    )
}

const TIME: &str = "a TIMESTAMP (or BIGINT epoch milliseconds)";

/// Binds `name(args)`; `name` is one [`knows`].
pub(super) fn bind(name: &str, f: &ast::Function, mut args: Vec<Arg>) -> Result<Expr, SqlError> {
    let n = args.len();
    Ok(match name {
        "HOUR" | "MINUTE" => {
            arity(name, f, n, 1, 1)?;
            want(name, &args[0], is_time, TIME)?;
            let part = if name == "HOUR" {
                DatePart::Hour
            } else {
                DatePart::Minute
            };
            call(ScalarFunc::Extract(part), args, DataType::Int64)
        }
        "REPLACE" => {
            arity(name, f, n, 3, 3)?;
            for a in &args {
                want(name, a, is_utf8, "VARCHAR")?;
            }
            call(ScalarFunc::Replace, args, DataType::Utf8)
        }
        "SPLIT_INDEX" => {
            arity(name, f, n, 3, 3)?;
            want(name, &args[0], is_utf8, "VARCHAR")?;
            want(name, &args[1], is_utf8, "a VARCHAR delimiter")?;
            want(name, &args[2], is_int, "a BIGINT index")?;
            call(ScalarFunc::SplitIndex, args, DataType::Utf8)
        }
        "DATE_FORMAT" => {
            arity(name, f, n, 2, 2)?;
            want(name, &args[0], is_time, TIME)?;
            let Some(pattern) = literal_text(name, &args[1])? else {
                return Ok(null_text());
            };
            let format = DateFormat::compile(&pattern).map_err(|e| {
                at_char(args[1].node, e.offset, SqlErrorKind::Unsupported, e.message)
            })?;
            args.truncate(1);
            pattern_call(PatternFunc::DateFormat(format), args)
        }
        "REGEXP_EXTRACT" => {
            arity(name, f, n, 2, 3)?;
            want(name, &args[0], is_utf8, "VARCHAR")?;
            let Some(source) = literal_text(name, &args[1])? else {
                return Ok(null_text());
            };
            let regex = compile_regex(&source, args[1].node)?;
            let group = match args.get(2) {
                None => Expr::Literal {
                    value: Value::Int64(0),
                    data_type: DataType::Int64,
                },
                Some(g) => {
                    want(name, g, is_int, "a BIGINT group number")?;
                    check_group(g, &regex)?;
                    g.expr.clone()
                }
            };
            Expr::Pattern {
                func: Box::new(PatternFunc::RegexpExtract(regex)),
                args: vec![args.swap_remove(0).expr, group],
            }
        }
        _ => unreachable!("`knows` lists every name matched here"),
    })
}

fn pattern_call(func: PatternFunc, args: Vec<Arg>) -> Expr {
    Expr::Pattern {
        func: Box::new(func),
        args: args.into_iter().map(|a| a.expr).collect(),
    }
}

/// A VARCHAR NULL: the call's value when its pattern is NULL.
fn null_text() -> Expr {
    Expr::Literal {
        value: Value::Null,
        data_type: DataType::Utf8,
    }
}

/// The text of a pattern argument: `Some` for a string literal, `None` for
/// a NULL literal; anything else is refused.
fn literal_text(name: &str, arg: &Arg) -> Result<Option<String>, SqlError> {
    match &arg.expr {
        Expr::Literal {
            value: Value::Utf8(s),
            ..
        } => Ok(Some(s.clone())),
        Expr::Literal {
            value: Value::Null, ..
        } => Ok(None),
        _ => Err(error_at(
            arg.node,
            SqlErrorKind::Unsupported,
            format!("{name} needs its pattern as a string literal"),
        )),
    }
}

/// Compiles a regex, or refuses it at the character its error names.
fn compile_regex(source: &str, node: &ast::Expr) -> Result<Regex, SqlError> {
    let located = match regex_syntax::Parser::new().parse(source) {
        Ok(_) => None,
        Err(regex_syntax::Error::Parse(e)) => Some((e.span().start.offset, e.kind().to_string())),
        Err(regex_syntax::Error::Translate(e)) => {
            Some((e.span().start.offset, e.kind().to_string()))
        }
        Err(other) => Some((0, other.to_string())),
    };
    if let Some((byte, why)) = located {
        let offset = source[..byte.min(source.len())].chars().count();
        let message = format!("invalid regex: {why}");
        return Err(at_char(node, offset, SqlErrorKind::Syntax, message));
    }
    regex::Regex::new(source).map(Regex::new).map_err(|e| {
        let why = e.to_string().replace('\n', " ");
        error_at(node, SqlErrorKind::Syntax, format!("invalid regex: {why}"))
    })
}

/// Refuses a constant group number the regex does not have.
fn check_group(group: &Arg, regex: &Regex) -> Result<(), SqlError> {
    match const_int(&group.expr) {
        Some(g) if g < 0 || g > regex.groups() as i64 => Err(error_at(
            group.node,
            SqlErrorKind::TypeMismatch,
            format!(
                "REGEXP_EXTRACT group {g} does not exist: the regex has groups 0 to {}",
                regex.groups()
            ),
        )),
        _ => Ok(()),
    }
}

/// An error at character `offset` of the string literal `node` (at the
/// literal itself when it is not a plain quoted string, whose every quote
/// the query doubles).
fn at_char(node: &ast::Expr, offset: usize, kind: SqlErrorKind, message: String) -> SqlError {
    let ast::Expr::Value(ast::ValueWithSpan {
        value: ast::Value::SingleQuotedString(text),
        span,
    }) = node
    else {
        return error_at(node, kind, message);
    };
    let before: String = text.chars().take(offset).collect();
    let (newlines, last) = match before.rfind('\n') {
        Some(at) => (before.matches('\n').count(), &before[at + 1..]),
        None => (0, before.as_str()),
    };
    let width = last.chars().count() + last.matches('\'').count();
    // Past the opening quote on the literal's first line.
    let column = if newlines == 0 {
        span.start.column as usize + 1 + width
    } else {
        1 + width
    };
    SqlError::new(kind, message, span.start.line as usize + newlines, column)
}
