//! Binding a window: `GROUP BY TUMBLE/HOP/SESSION(time, ...)` and the
//! predecessor's `WINDOW TUMBLING(...)` clause, as a [`WindowSpec`].

use super::bind::unsupported;
use super::duration::parse_interval_ms;
use super::from::FromClause;
use super::plan::{WindowKind, WindowSpec};
use crate::data::DataType;
use crate::error::{SqlError, SqlErrorKind};
use sqlparser::ast::{self, Spanned};

/// `TUMBLE`, `HOP` or `SESSION` in GROUP BY (the standard group-window syntax).
pub(super) fn group_window_kind(name: &str) -> Option<&'static str> {
    match name.to_ascii_uppercase().as_str() {
        "TUMBLE" => Some("TUMBLE"),
        "HOP" => Some("HOP"),
        "SESSION" => Some("SESSION"),
        _ => None,
    }
}

/// A window argument: a duration (`5m`, `INTERVAL '1' MINUTE`) or the time column.
pub(super) enum WindowArg {
    Duration(i64),
    Column(usize),
}

pub(super) fn window_arg(
    text: &str,
    from: &FromClause<'_>,
    line: usize,
    column: usize,
) -> Result<WindowArg, SqlError> {
    if let Some(ms) = parse_interval_ms(text) {
        if ms <= 0 {
            return Err(SqlError::new(
                SqlErrorKind::Syntax,
                format!("window durations must be positive, found `{text}`"),
                line,
                column,
            ));
        }
        return Ok(WindowArg::Duration(ms));
    }
    match from.resolve(text) {
        Some(c) => Ok(WindowArg::Column(c)),
        None => Err(SqlError::new(
            SqlErrorKind::Syntax,
            format!("`{text}` is neither a duration (500ms, 30s, 5m, 1h, INTERVAL '1' MINUTE) nor a column"),
            line,
            column,
        )),
    }
}

/// Builds a window from its time column (optional) and durations.
pub(super) fn window_spec(
    kind: &str,
    args: &[WindowArg],
    line: usize,
    column: usize,
) -> Result<WindowSpec, SqlError> {
    let (time_column, durations): (Option<usize>, Vec<i64>) = match args {
        [WindowArg::Column(c), rest @ ..] => (
            Some(*c),
            rest.iter()
                .map(duration_of)
                .collect::<Option<_>>()
                .unwrap_or_default(),
        ),
        rest => (
            None,
            rest.iter()
                .map(duration_of)
                .collect::<Option<_>>()
                .unwrap_or_default(),
        ),
    };
    let bad = |expected: &str| {
        SqlError::new(
            SqlErrorKind::Syntax,
            format!("{kind} takes {expected}"),
            line,
            column,
        )
    };
    let expected_len = args.len() - time_column.is_some() as usize;
    if durations.len() != expected_len {
        return Err(bad("durations after the optional time column"));
    }
    let kind = match (kind, durations.as_slice()) {
        ("TUMBLING" | "TUMBLE", [size]) => WindowKind::Tumbling { size: *size },
        ("SLIDING" | "HOPPING", [size, advance]) => WindowKind::Hopping {
            size: *size,
            advance: *advance,
        },
        // The standard HOP(time, slide, size) names the slide first.
        ("HOP", [advance, size]) => WindowKind::Hopping {
            size: *size,
            advance: *advance,
        },
        ("SESSION", [gap]) => WindowKind::Session { gap: *gap },
        ("TUMBLING" | "TUMBLE", _) => return Err(bad("one duration: the window size")),
        ("SLIDING" | "HOPPING", _) => return Err(bad("two durations: size, then advance")),
        ("HOP", _) => return Err(bad("two durations: slide, then size")),
        _ => return Err(bad("one duration: the gap")),
    };
    if let WindowKind::Hopping { size, advance } = kind {
        if advance > size || size % advance != 0 {
            return Err(bad("a size that is a whole multiple of the advance"));
        }
    }
    Ok(WindowSpec { kind, time_column })
}

pub(super) fn duration_of(a: &WindowArg) -> Option<i64> {
    match a {
        WindowArg::Duration(d) => Some(*d),
        WindowArg::Column(_) => None,
    }
}

/// Refuses a window time column `c` that is not a time: the error points
/// at `line`, `column`, where the query names it.
fn check_time_column(
    c: usize,
    from: &FromClause<'_>,
    line: usize,
    column: usize,
) -> Result<(), SqlError> {
    let field = &from.schema.fields[c];
    match field.data_type {
        DataType::Int64 | DataType::Timestamp => Ok(()),
        t => Err(SqlError::new(
            SqlErrorKind::TypeMismatch,
            format!(
                "the window's time column `{}` is {t}; it must be TIMESTAMP or BIGINT epoch \
                 milliseconds",
                field.name
            ),
            line,
            column,
        )),
    }
}

pub(super) fn window_from_clause(
    clause: &super::WindowClause,
    from: &FromClause<'_>,
) -> Result<WindowSpec, SqlError> {
    let args = clause
        .args
        .iter()
        .map(|a| window_arg(a, from, clause.line, clause.column))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(WindowArg::Column(c)) = args.first() {
        check_time_column(*c, from, clause.line, clause.column)?;
    }
    window_spec(&clause.kind, &args, clause.line, clause.column)
}

pub(super) fn window_function(
    f: &ast::Function,
    e: &ast::Expr,
    from: &FromClause<'_>,
) -> Result<WindowSpec, SqlError> {
    let name = f.name.to_string().to_ascii_uppercase();
    let start = e.span().start;
    let (line, column) = (start.line as usize, start.column as usize);
    let ast::FunctionArguments::List(list) = &f.args else {
        return Err(unsupported(
            e,
            format!("{name} takes (time column, durations)"),
        ));
    };
    // Each argument's own position, for errors about it (the function's
    // where the parser gives none).
    let at = |a: &ast::FunctionArg| {
        let s = a.span().start;
        match s.line {
            0 => (line, column),
            l => (l as usize, s.column as usize),
        }
    };
    let args = list
        .args
        .iter()
        .map(|a| {
            let (l, c) = at(a);
            window_arg(&a.to_string(), from, l, c)
        })
        .collect::<Result<Vec<_>, _>>()?;
    match (args.first(), list.args.first()) {
        (Some(WindowArg::Column(c)), Some(first)) => {
            let (l, col) = at(first);
            check_time_column(*c, from, l, col)?;
        }
        _ => {
            return Err(unsupported(
                e,
                format!("{name} takes the time column first"),
            ))
        }
    }
    window_spec(&name, &args, line, column)
}
