//! Golden tests of SQL errors: for each mistake, the error kind, its line and
//! column, the message, and the rendering with the query line and a caret
//! under the offending text (STYLE.md "Errors" and "Tests").

use corestream::io::generator::trades_schema;
use corestream::sql::{parse, plan_query};
use corestream::{Engine, Error, SqlError, SqlErrorKind};
use std::process::Command;

/// Which step rejected the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Parse,
    Plan,
}

/// The error for `sql`, and the step that raised it; fails if the query is valid.
fn error_of(sql: &str) -> (SqlError, Step) {
    let parsed = match parse(sql) {
        Ok(p) => p,
        Err(e) => return (e, Step::Parse),
    };
    match plan_query(&parsed, None, &trades_schema()) {
        Ok(_) => panic!("`{sql}` planned without error"),
        Err(e) => (e, Step::Plan),
    }
}

/// The phrase a rendered error of `kind` starts with.
fn phrase(kind: SqlErrorKind) -> &'static str {
    match kind {
        SqlErrorKind::Syntax => "syntax error",
        SqlErrorKind::UnknownColumn => "unknown column",
        SqlErrorKind::UnknownFunction => "unknown function",
        SqlErrorKind::UnknownStream => "unknown stream",
        SqlErrorKind::TypeMismatch => "type mismatch",
        SqlErrorKind::Unsupported => "unsupported SQL",
    }
}

/// What an error must be.
struct Golden<'a> {
    step: Step,
    kind: SqlErrorKind,
    line: usize,
    column: usize,
    /// The text the caret points at: the query line from `column` on starts with it.
    at: &'a str,
    /// Parts the message must contain.
    message: &'a [&'a str],
}

/// Checks the error of `sql` against `want`, including its rendering: the
/// header line, then a gutter, the offending query line, and a caret line
/// whose caret sits under `want.column`.
fn check(sql: &str, want: Golden<'_>) -> SqlError {
    let (e, step) = error_of(sql);
    let shown = e.to_string();
    let ctx = format!("query:\n{sql}\nerror:\n{shown}\n{e:?}");
    assert_eq!(step, want.step, "step; {ctx}");
    assert_eq!(e.kind, want.kind, "kind; {ctx}");
    assert_eq!(
        (e.line, e.column),
        (want.line, want.column),
        "line, column; {ctx}"
    );
    assert_eq!(e.sql, sql, "the error carries the query text; {ctx}");
    for part in want.message {
        assert!(e.message.contains(part), "message lacks {part:?}; {ctx}");
    }

    // What the caret points at (columns count characters, 1-based).
    let text = sql
        .lines()
        .nth(want.line - 1)
        .expect("the error line exists");
    let under: String = text.chars().skip(want.column - 1).collect();
    assert!(
        under.starts_with(want.at),
        "column {} points at {under:?}, not {:?}; {ctx}",
        want.column,
        want.at
    );

    // The rendering, line by line.
    let gutter = want.line.to_string();
    let pad = " ".repeat(gutter.len());
    let lead: String = text
        .chars()
        .take(want.column - 1)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let expected_tail = [
        format!("{pad} |"),
        format!("{gutter} | {text}"),
        format!("{pad} | {lead}^"),
    ];
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 4, "a header and three lines of context; {ctx}");
    assert_eq!(
        lines[0],
        format!(
            "{} at line {}, column {}: {}",
            phrase(want.kind),
            want.line,
            want.column,
            e.message
        ),
        "{ctx}"
    );
    assert_eq!(lines[1..], expected_tail, "{ctx}");
    e
}

#[test]
fn syntax_error_double_comma() {
    check(
        "SELECT trader_id,, symbol FROM trades",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 1,
            column: 18,
            at: ", symbol",
            message: &["Expected: an expression", "found: ,"],
        },
    );
}

#[test]
fn syntax_error_unterminated_string() {
    check(
        "SELECT trader_id FROM trades WHERE symbol = 'AAPL",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 1,
            column: 45,
            at: "'AAPL",
            message: &["Unterminated string literal"],
        },
    );
}

#[test]
fn syntax_error_misspelt_from() {
    // `FRM` parses as an alias of `price`, so the error is at what follows.
    check(
        "SELECT price FRM trades",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 1,
            column: 18,
            at: "trades",
            message: &["unexpected `trades` after the end of the query"],
        },
    );
}

#[test]
fn second_statement_is_trailing_garbage() {
    check(
        "SELECT price FROM trades; SELECT quantity FROM trades",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 1,
            column: 27,
            at: "SELECT quantity",
            message: &["unexpected `SELECT` after the end of the query"],
        },
    );
}

#[test]
fn unknown_column() {
    check(
        "SELECT nope FROM trades",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownColumn,
            line: 1,
            column: 8,
            at: "nope",
            message: &[
                "no column `nope`",
                "event_time, trader_id, symbol, price, quantity",
            ],
        },
    );
}

#[test]
fn unknown_column_in_where() {
    check(
        "SELECT price FROM trades WHERE volume > 10",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownColumn,
            line: 1,
            column: 32,
            at: "volume",
            message: &["no column `volume`"],
        },
    );
}

#[test]
fn unknown_column_after_a_tab_keeps_the_tab_in_the_caret_line() {
    check(
        "SELECT\tnope FROM trades",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownColumn,
            line: 1,
            column: 8,
            at: "nope",
            message: &["no column `nope`"],
        },
    );
}

#[test]
fn unknown_function() {
    check(
        "SELECT FOO(price) FROM trades",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownFunction,
            line: 1,
            column: 8,
            at: "FOO(price)",
            message: &["no function named `FOO`"],
        },
    );
}

#[test]
fn unknown_function_inside_a_group_by_query() {
    check(
        "SELECT trader_id, MEDIAN(price) FROM trades GROUP BY trader_id",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownFunction,
            line: 1,
            column: 19,
            at: "MEDIAN(price)",
            message: &["no function named `MEDIAN`"],
        },
    );
}

#[test]
fn unknown_stream_qualifier() {
    check(
        "SELECT quotes.price FROM trades",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownStream,
            line: 1,
            column: 8,
            at: "quotes.price",
            message: &["`quotes` is not the stream in FROM (`trades`)"],
        },
    );
}

#[test]
fn unknown_stream_when_the_input_is_named() {
    let sql = "SELECT price FROM quotes";
    let parsed = parse(sql).expect("parses");
    let e = plan_query(&parsed, Some("trades"), &trades_schema()).expect_err("wrong stream");
    assert_eq!(e.kind, SqlErrorKind::UnknownStream);
    assert_eq!((e.line, e.column), (1, 19), "{e}");
    assert!(
        e.message
            .contains("no stream named `quotes`; the input is `trades`"),
        "{e}"
    );
    assert!(
        e.to_string()
            .ends_with("1 | SELECT price FROM quotes\n  |                   ^"),
        "{e}"
    );
    // Any case of the right name is the input.
    let parsed = parse("SELECT price FROM TRADES").expect("parses");
    plan_query(&parsed, Some("trades"), &trades_schema()).expect("TRADES is trades");
}

#[test]
fn type_mismatch_varchar_plus_integer() {
    check(
        "SELECT trader_id + 1 FROM trades",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::TypeMismatch,
            line: 1,
            column: 8,
            at: "trader_id + 1",
            message: &["VARCHAR", "BIGINT"],
        },
    );
}

#[test]
fn type_mismatch_non_boolean_where() {
    check(
        "SELECT price FROM trades WHERE price",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::TypeMismatch,
            line: 1,
            column: 32,
            at: "price",
            message: &["WHERE needs a BOOLEAN condition, found DOUBLE"],
        },
    );
}

#[test]
fn type_mismatch_non_boolean_having() {
    check(
        "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id HAVING COUNT(*)",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::TypeMismatch,
            line: 1,
            column: 66,
            at: "COUNT(*)",
            message: &["HAVING needs a BOOLEAN condition, found BIGINT"],
        },
    );
}

#[test]
fn type_mismatch_comparing_varchar_with_a_number() {
    check(
        "SELECT price FROM trades WHERE symbol > 1",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::TypeMismatch,
            line: 1,
            column: 32,
            at: "symbol > 1",
            message: &["VARCHAR", "BIGINT"],
        },
    );
}

#[test]
fn type_mismatch_sum_of_varchar() {
    check(
        "SELECT trader_id, SUM(symbol) FROM trades GROUP BY trader_id",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::TypeMismatch,
            line: 1,
            column: 23,
            at: "symbol",
            message: &["SUM needs a numeric argument, found VARCHAR"],
        },
    );
}

#[test]
fn unsupported_join() {
    check(
        "SELECT * FROM trades JOIN quotes ON trades.symbol = quotes.symbol",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::Unsupported,
            line: 1,
            column: 27,
            at: "quotes ON",
            message: &["a join reads a second input", "--input NAME=SPEC"],
        },
    );
}

#[test]
fn unsupported_comma_join() {
    check(
        "SELECT * FROM trades, quotes",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::Unsupported,
            line: 1,
            column: 23,
            at: "quotes",
            message: &["FROM takes one input, or a JOIN of two"],
        },
    );
}

#[test]
fn unsupported_order_by() {
    // The caret is under the first sort key (sqlparser's span of the clause).
    check(
        "SELECT * FROM trades ORDER BY price",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::Unsupported,
            line: 1,
            column: 31,
            at: "price",
            message: &["ORDER BY is not supported on an unbounded stream"],
        },
    );
}

#[test]
fn unsupported_limit() {
    check(
        "SELECT price FROM trades LIMIT 5",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::Unsupported,
            line: 1,
            column: 32,
            at: "5",
            message: &["LIMIT is not supported"],
        },
    );
}

#[test]
fn unsupported_window_frame() {
    check(
        "SELECT SUM(price) OVER (PARTITION BY symbol RANGE UNBOUNDED PRECEDING) FROM trades",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::Unsupported,
            line: 1,
            column: 8,
            at: "SUM(price) OVER",
            message: &["RANGE frames are not supported; use ROWS"],
        },
    );
}

#[test]
fn unknown_ranking_window_function() {
    check(
        "SELECT trader_id, RANK() OVER (PARTITION BY trader_id ORDER BY event_time) FROM trades",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownFunction,
            line: 1,
            column: 19,
            at: "RANK()",
            message: &["no window function `RANK`"],
        },
    );
}

#[test]
fn unsupported_nested_aggregate() {
    check(
        "SELECT SUM(COUNT(*)) FROM trades",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::Unsupported,
            line: 1,
            column: 12,
            at: "COUNT(*)",
            message: &["aggregates cannot nest"],
        },
    );
}

#[test]
fn bad_emit_mode() {
    check(
        "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id EMIT SOMETIMES",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 1,
            column: 64,
            at: "SOMETIMES",
            message: &["expected CHANGES or FINAL after EMIT"],
        },
    );
}

#[test]
fn emit_without_a_mode() {
    check(
        "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id EMIT",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 1,
            column: 59,
            at: "EMIT",
            message: &["expected CHANGES or FINAL after EMIT"],
        },
    );
}

#[test]
fn trailing_garbage_after_emit_final() {
    check(
        "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id EMIT FINAL garbage",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 1,
            column: 70,
            at: "garbage",
            message: &[
                "unexpected `garbage` after the EMIT clause",
                "EMIT must end the query",
            ],
        },
    );
}

#[test]
fn two_emit_modes() {
    check(
        "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id EMIT CHANGES FINAL",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 1,
            column: 72,
            at: "FINAL",
            message: &["unexpected `FINAL` after the EMIT clause"],
        },
    );
}

#[test]
fn emit_final_with_trailing_semicolons_is_valid() {
    let sql = "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id EMIT FINAL;;";
    let parsed = parse(sql).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.emit, Some(corestream::sql::EmitMode::Final));
    plan_query(&parsed, None, &trades_schema()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn non_grouped_column_in_an_aggregate_select() {
    check(
        "SELECT symbol, COUNT(*) FROM trades GROUP BY trader_id",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownColumn,
            line: 1,
            column: 8,
            at: "symbol",
            message: &["column `symbol` must appear in GROUP BY or be used in an aggregate"],
        },
    );
}

#[test]
fn non_grouped_column_in_having() {
    check(
        "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id HAVING price > 1",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownColumn,
            line: 1,
            column: 66,
            at: "price",
            message: &["column `price` must appear in GROUP BY or be used in an aggregate"],
        },
    );
}

#[test]
fn multi_line_query_error_on_line_two() {
    let e = check(
        "SELECT trader_id,\n       nope\nFROM trades",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::UnknownColumn,
            line: 2,
            column: 8,
            at: "nope",
            message: &["no column `nope`"],
        },
    );
    // Only the offending line is shown.
    assert!(!e.to_string().contains("FROM trades"), "{e}");
}

#[test]
fn multi_line_syntax_error_on_line_two() {
    check(
        "SELECT trader_id,\n       , symbol\nFROM trades",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 2,
            column: 8,
            at: ", symbol",
            message: &["Expected: an expression", "found: ,"],
        },
    );
}

#[test]
fn multi_line_error_on_line_three() {
    check(
        "SELECT trader_id, COUNT(*)\nFROM trades\nGROUP BY trader_id HAVING SUM(symbol) > 1",
        Golden {
            step: Step::Plan,
            kind: SqlErrorKind::TypeMismatch,
            line: 3,
            column: 31,
            at: "symbol",
            message: &["SUM needs a numeric argument, found VARCHAR"],
        },
    );
}

#[test]
fn multi_line_bad_emit_on_its_own_line() {
    check(
        "SELECT trader_id, COUNT(*)\nFROM trades\nGROUP BY trader_id\n  EMIT WHENEVER",
        Golden {
            step: Step::Parse,
            kind: SqlErrorKind::Syntax,
            line: 4,
            column: 8,
            at: "WHENEVER",
            message: &["expected CHANGES or FINAL after EMIT"],
        },
    );
}

#[test]
fn engine_build_reports_sql_errors_as_usage_errors() {
    let result = Engine::builder()
        .sql("SELECT nope FROM trades")
        .input("gen:trades?records=10")
        .build();
    match result {
        Err(Error::Sql(e)) => {
            assert_eq!(e.kind, SqlErrorKind::UnknownColumn);
            assert_eq!((e.line, e.column), (1, 8));
            let err = Error::Sql(e);
            assert_eq!(err.exit_code(), 2);
            assert!(
                err.to_string().contains("1 | SELECT nope FROM trades"),
                "{err}"
            );
        }
        Err(other) => panic!("expected a SQL error, got {other}"),
        Ok(_) => panic!("a query over an unknown column was accepted"),
    }
}

#[test]
fn cli_bad_sql_exits_2_with_a_caret() {
    let out = Command::new(env!("CARGO_BIN_EXE_corestream"))
        .args([
            "run",
            "--input",
            "gen:trades?records=10",
            "--sql",
            "SELECT trader_id, FOO(price) FROM trades",
        ])
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stdout.is_empty(),
        "no output for a rejected query: {stdout}"
    );
    assert!(
        stderr.contains("error: unknown function at line 1, column 19: no function named `FOO`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n1 | SELECT trader_id, FOO(price) FROM trades\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("\n  | {}^", " ".repeat(18))),
        "{stderr}"
    );
}

#[test]
fn cli_bad_multi_line_sql_shows_the_offending_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_corestream"))
        .args([
            "run",
            "--input",
            "gen:trades?records=10",
            "--sql",
            "SELECT trader_id, COUNT(*)\nFROM trades\nGROUP BY trader_id EMIT SOMETIMES",
        ])
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("syntax error at line 3, column 25"),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n3 | GROUP BY trader_id EMIT SOMETIMES\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("\n  | {}^", " ".repeat(24))),
        "{stderr}"
    );
}
