//! Hostile-user probes (issue 28): extreme values, absurd limits, inexact
//! values, outputs pointed at what the user owns, and errors that must point
//! at the right place. Each test covers a class of bugs, not only the example
//! that found it: no panic and no wrapped value, limits refused up front,
//! exact values, nothing destroyed, and the right exit code and message.

mod common;
mod process;

use common::core_set;
use corestream::data::Value;
use corestream::io::sink::OutputSpec;
use corestream::{Engine, RunOutput};
use process::{accounting, corestream, temp_file, TempPath};
use std::time::Duration;

/// Runs `sql` over the CSV text `csv` on one shard, collecting the results.
fn run_csv(tag: &str, csv: &str, sql: &str, event_time: Option<&str>) -> RunOutput {
    let file = temp_file(tag, csv);
    let mut builder = Engine::builder()
        .sql(sql)
        .input(file.str())
        .cores(core_set("0"))
        .output(OutputSpec::Collect);
    if let Some(c) = event_time {
        builder = builder.event_time(c).max_out_of_orderness(Duration::ZERO);
    }
    builder
        .build()
        .unwrap_or_else(|e| panic!("building `{sql}` failed: {e}"))
        .run()
        .unwrap_or_else(|e| panic!("running `{sql}` failed: {e}"))
}

/// Runs `sql` over the CSV text `csv`, its columns typed by `schema`
/// (`'a DECIMAL(10,2), b BIGINT'`), on one shard.
fn run_typed(tag: &str, csv: &str, schema: &str, sql: &str) -> RunOutput {
    let file = temp_file(tag, csv);
    Engine::builder()
        .sql(sql)
        .input(file.str())
        .schema(corestream::io::text::parse_schema(schema).unwrap())
        .cores(core_set("0"))
        .output(OutputSpec::Collect)
        .build()
        .unwrap_or_else(|e| panic!("building `{sql}` failed: {e}"))
        .run()
        .unwrap_or_else(|e| panic!("running `{sql}` failed: {e}"))
}

/// The result rows, in the order the one shard emitted them, as text (NULL
/// as `NULL`, a TIMESTAMP as its epoch milliseconds).
fn rows(out: &RunOutput) -> Vec<Vec<String>> {
    out.collected
        .iter()
        .flatten()
        .flat_map(|b| {
            (0..b.len)
                .map(|i| {
                    b.columns
                        .iter()
                        .map(|c| match c.value(i) {
                            Value::Null => "NULL".to_owned(),
                            Value::Timestamp(ms) => ms.to_string(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect::<Vec<Vec<String>>>()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// 1. No panic, no wrapped value, on extreme values.
// ---------------------------------------------------------------------------

/// Event times at both ends of the BIGINT range, in order.
const EXTREME_TIMES: [i64; 10] = [
    i64::MIN,
    i64::MIN + 1,
    -9_223_372_036_854_775_000,
    -1,
    0,
    1_000,
    9_223_372_036_854_770_000,
    9_223_372_036_854_774_999,
    9_223_372_036_854_775_000,
    i64::MAX,
];

fn extreme_csv() -> String {
    let mut csv = String::from("t,k,v\n");
    for t in EXTREME_TIMES {
        csv.push_str(&format!("{t},a,1\n"));
    }
    csv
}

/// A row whose window cannot be represented in BIGINT milliseconds is
/// counted as late (never folded, never a panic); every emitted window has
/// `start < end` (no wrapped bound) and holds its rows.
#[test]
fn windows_at_the_ends_of_the_bigint_range_count_unrepresentable_rows_as_late() {
    let csv = extreme_csv();
    let cases = [
        // (window, rows whose windows do not fit)
        ("TUMBLING(t, 1s)", 4),
        // Each row is in 3 windows, the oldest starting 2 s before its own.
        ("SLIDING(t, 3s, 1s)", 6),
        // A session spans [t, t + gap).
        ("SESSION(t, 10s)", 4),
    ];
    for (window, late) in cases {
        let sql = format!(
            "SELECT k, window_start, window_end, COUNT(*) AS n FROM s GROUP BY k WINDOW {window}"
        );
        let out = run_csv("windows", &csv, &sql, Some("t"));
        let total = out.summary.total();
        assert!(out.summary.identity_holds(), "{window}: {total:?}");
        assert_eq!(total.late, late, "{window}: late rows");
        assert_eq!(total.processed + total.late, EXTREME_TIMES.len() as u64);
        let mut folded = 0;
        for row in rows(&out) {
            let (start, end): (i64, i64) = (row[1].parse().unwrap(), row[2].parse().unwrap());
            assert!(start < end, "{window}: a wrapped window {row:?}");
            folded += row[3].parse::<u64>().unwrap();
        }
        if window.starts_with("TUMBLING") || window.starts_with("SESSION") {
            assert_eq!(folded, total.processed, "{window}: one window per row");
        }
    }
}

/// The example through the CLI: a BIGINT event time of
/// 9223372036854775000 in a tumbling window exits 0, counted late.
#[test]
fn the_cli_counts_a_row_whose_tumbling_window_overflows_as_late() {
    let input = temp_file("tumble.csv", "t,k\n1000,a\n9223372036854775000,a\n");
    let ran = corestream(&[
        "run",
        "--input",
        input.str(),
        "--event-time",
        "t",
        "--cores",
        "0",
        "--sql",
        "SELECT k, COUNT(*) AS n FROM s GROUP BY k WINDOW TUMBLING(1s)",
    ]);
    ran.assert_success();
    assert_eq!(
        accounting(&ran).counts(),
        (2, 1, 0, 1, 0, true),
        "{}",
        ran.context()
    );
    assert_eq!(ran.rows("k,n"), ["a,1"]);
}

/// Overflow in an expression near the ends of the range is NULL: unary minus
/// of the smallest BIGINT, DATE_TRUNC and TUMBLE_START below it, arithmetic.
#[test]
fn expressions_at_the_ends_of_the_bigint_range_are_null_not_wrapped() {
    let csv = format!("a\n{}\n{}\n", i64::MIN, i64::MAX);
    let out = run_csv(
        "exprs",
        &csv,
        "SELECT -a, a + 1, a - 1, a * 2, ABS(a), DATE_TRUNC('second', a), \
         DATE_TRUNC('week', a), DATE_TRUNC('day', a), DATE_TRUNC('year', a) FROM s",
        None,
    );
    let n = "NULL";
    assert_eq!(
        rows(&out),
        [
            [n, "-9223372036854775807", n, n, n, n, n, n, n],
            [
                "-9223372036854775807",
                n,
                "9223372036854775806",
                n,
                "9223372036854775807",
                "9223372036854775000",
                "9223372036310400000",
                "9223372036828800000",
                n
            ]
        ]
    );
}

// ---------------------------------------------------------------------------
// 2. Limits no real use needs: refused up front, exit 2, naming the limit.
// ---------------------------------------------------------------------------

/// A batch size past the limit (or 0) is a usage error naming the limit,
/// before anything is allocated; the limit itself runs.
#[test]
fn a_batch_size_past_the_limit_is_refused_naming_it() {
    for size in ["1048577", "100000000000", "0"] {
        let ran = corestream(&[
            "run",
            "--input",
            "gen:trades?records=10",
            "--batch-size",
            size,
        ]);
        assert_eq!(ran.code, Some(2), "{}", ran.context());
        assert!(ran.stderr.contains("--batch-size"), "{}", ran.context());
        assert!(ran.stderr.contains("1048576"), "{}", ran.context());
    }
    let ran = corestream(&[
        "run",
        "--input",
        "gen:trades?records=10",
        "--batch-size",
        "1048576",
        "--quiet",
    ]);
    ran.assert_success();
}

/// A hopping window that puts a row into more windows than the limit is
/// refused before it allocates its state, in either syntax; one at the
/// limit runs.
#[test]
fn a_hopping_window_with_too_many_windows_per_row_is_refused_naming_the_limit() {
    for window in [
        "WINDOW SLIDING(event_time, 1000h, 1ms)",
        "WINDOW SLIDING(event_time, 10001s, 1s)",
    ] {
        let sql = format!("SELECT symbol, COUNT(*) FROM trades GROUP BY symbol {window}");
        let ran = corestream(&["run", "--input", "gen:trades?records=10", "--sql", &sql]);
        assert_eq!(ran.code, Some(2), "{window}: {}", ran.context());
        assert!(
            ran.stderr.contains("10000") && ran.stderr.contains("windows"),
            "{window}: {}",
            ran.context()
        );
    }
    let sql = "SELECT symbol, COUNT(*) FROM trades GROUP BY symbol, \
               HOP(event_time, INTERVAL '1' SECOND, INTERVAL '10001' SECOND)";
    let ran = corestream(&["run", "--input", "gen:trades?records=10", "--sql", sql]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    let sql = "SELECT symbol, COUNT(*) FROM trades GROUP BY symbol \
               WINDOW SLIDING(event_time, 10000s, 1s)";
    let ran = corestream(&[
        "run",
        "--input",
        "gen:trades?records=10",
        "--sql",
        sql,
        "--quiet",
    ]);
    ran.assert_success();
}

// ---------------------------------------------------------------------------
// 3. Values exact.
// ---------------------------------------------------------------------------

/// DECIMAL division rounds half away from zero at its result scale, for
/// either sign; a division by zero is NULL.
#[test]
fn decimal_division_rounds_half_away_from_zero() {
    let csv = "a,b\n0.02,64\n-0.02,64\n0.02,-64\n1.00,3\n2.00,3\n0.00,7\n1.00,0\n";
    let out = run_typed(
        "dec-div",
        csv,
        "a DECIMAL(10,2), b BIGINT",
        "SELECT a / b FROM s",
    );
    let got: Vec<String> = rows(&out).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        got,
        [
            "0.000313",
            "-0.000313",
            "-0.000313",
            "0.333333",
            "0.666667",
            "0.000000",
            "NULL"
        ]
    );
}

/// A value that does not fit its DECIMAL(p,s) is malformed on input and NULL
/// in an expression (a CAST, an arithmetic result past 38 digits), never
/// saturated or wrapped. CAST of an out-of-range DOUBLE or DECIMAL to BIGINT
/// is NULL, not saturated.
#[test]
fn values_that_do_not_fit_their_type_are_null_or_malformed_never_saturated() {
    let out = run_typed(
        "dec-precision",
        "p\n123.45\n12345.67\n-999.99\n1000\n",
        "p DECIMAL(5,2)",
        "SELECT p FROM s",
    );
    assert_eq!(out.summary.malformed, 2, "{}", out.summary.render());
    assert_eq!(rows(&out), [["123.45"], ["-999.99"]]);

    let out = run_typed(
        "casts",
        "x,d\n10.5,1e300\n-3,-1e19\n",
        "x DOUBLE, d DOUBLE",
        "SELECT CAST(CAST(x AS DECIMAL(10,1)) AS DECIMAL(38,37)), CAST(x AS DECIMAL(2,1)), \
         CAST(d AS BIGINT), CAST(d AS DECIMAL(38,0)), CAST(x AS BIGINT), \
         CAST(d AS DECIMAL(38,0)) * CAST(d AS DECIMAL(38,0)) FROM s",
    );
    let n = "NULL";
    assert_eq!(
        rows(&out),
        [
            [n, n, n, n, "10", n],
            [
                "-3.0000000000000000000000000000000000000",
                "-3.0",
                n,
                "-10000000000000000000",
                "-3",
                // 10^38: 39 digits, past DECIMAL(38, 0) (an i128 holds it).
                n
            ]
        ]
    );
}

/// STDDEV and VARIANCE over a NaN are NaN (not 0); MIN and MAX order NaN
/// above every number, as PostgreSQL does: MAX is NaN when any value is,
/// MIN is NaN only when every value is. Row windows agree.
#[test]
fn nan_in_spread_min_and_max_is_defined() {
    let csv = "k,x\na,1\na,NaN\na,3\nb,NaN\nb,NaN\nc,2\nc,-inf\n";
    let out = run_typed(
        "nan",
        csv,
        "k VARCHAR, x DOUBLE",
        "SELECT k, MIN(x), MAX(x), STDDEV(x), VARIANCE(x) FROM s GROUP BY k EMIT FINAL",
    );
    let mut got = rows(&out);
    got.sort();
    assert_eq!(
        got,
        [
            ["a", "1", "NaN", "NaN", "NaN"],
            ["b", "NaN", "NaN", "NaN", "NaN"],
            ["c", "-inf", "2", "NaN", "NaN"]
        ]
    );
    let out = run_typed(
        "nan-over",
        csv,
        "k VARCHAR, x DOUBLE",
        "SELECT k, MIN(x) OVER (PARTITION BY k ROWS UNBOUNDED PRECEDING), \
         MAX(x) OVER (PARTITION BY k ROWS UNBOUNDED PRECEDING) FROM s",
    );
    assert_eq!(
        rows(&out),
        [
            ["a", "1", "1"],
            ["a", "1", "NaN"],
            ["a", "1", "NaN"],
            ["b", "NaN", "NaN"],
            ["b", "NaN", "NaN"],
            ["c", "2", "2"],
            ["c", "-inf", "2"]
        ]
    );
}

/// A sliding SUM of DOUBLEs recovers once an infinity or NaN has left its
/// frame.
#[test]
fn a_sliding_double_sum_recovers_after_infinities() {
    let csv = "i,x\n0,1\n1,1\n2,1\n3,inf\n4,1\n5,1\n6,-inf\n7,NaN\n8,2\n9,3\n";
    let out = run_typed(
        "sliding-sum",
        csv,
        "i BIGINT, x DOUBLE",
        "SELECT i, SUM(x) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM s",
    );
    let sums: Vec<String> = rows(&out).into_iter().map(|r| r[1].clone()).collect();
    assert_eq!(
        sums,
        ["1", "2", "2", "inf", "inf", "2", "-inf", "NaN", "NaN", "5"]
    );
}

// ---------------------------------------------------------------------------
// 4. Nothing the user owns is destroyed.
// ---------------------------------------------------------------------------

const INPUT_CSV: &str = "k,v\na,1\nb,2\nbad\n";

fn run_args<'a>(input: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--input",
        input,
        "--cores",
        "0",
        "--sql",
        "SELECT k, v FROM s",
    ];
    args.extend_from_slice(extra);
    args
}

/// A side file that is the input, a part file or another side file is
/// refused with exit 2 naming both, and nothing is written or truncated:
/// by any spelling of the name, a hard link or a symlink.
#[test]
fn a_side_file_that_is_the_input_or_an_output_is_refused_and_nothing_is_touched() {
    let dir = TempPath::new("side-files");
    std::fs::create_dir_all(&dir.0).unwrap();
    let input = dir.0.join("in.csv");
    std::fs::write(&input, INPUT_CSV).unwrap();
    let out = dir.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let part = out.join("part-0.csv");
    std::fs::write(&part, "earlier results\n").unwrap();
    let link = dir.0.join("link.csv");
    std::fs::hard_link(&input, &link).unwrap();
    let symlink = dir.0.join("sym.csv");
    std::os::unix::fs::symlink(&input, &symlink).unwrap();
    let (input_s, out_s, part_s) = (
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        part.to_str().unwrap(),
    );
    let dotted = format!("{}/./in.csv", dir.str());
    let dead_letter = |p: &str| format!("--on-error=dead-letter={p}");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![dead_letter(input_s)], "the input"),
        (vec![dead_letter(&dotted)], "the input"),
        (vec![dead_letter(link.to_str().unwrap())], "the input"),
        (vec![dead_letter(symlink.to_str().unwrap())], "the input"),
        (
            vec![dead_letter(part_s), format!("--output={out_s}")],
            "the part file of shard 0",
        ),
        (
            vec![
                format!("--metrics-json={part_s}"),
                format!("--output={out_s}"),
            ],
            "the part file of shard 0",
        ),
        (vec![format!("--metrics-json={input_s}")], "the input"),
        (
            vec![
                dead_letter(&format!("{}/m.json", dir.str())),
                format!("--metrics-json={}/m.json", dir.str()),
            ],
            "the dead-letter file",
        ),
        (
            vec![
                "--late=side-output".into(),
                format!("--late-dir={out_s}"),
                format!("--metrics-json={out_s}/late-0.csv"),
            ],
            "the late-record file of shard 0",
        ),
    ];
    for (extra, other) in cases {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let ran = corestream(&run_args(input_s, &extra));
        assert_eq!(ran.code, Some(2), "{extra:?}: {}", ran.context());
        assert!(
            ran.stderr.contains("the same file") && ran.stderr.contains(other),
            "{extra:?}: {}",
            ran.context()
        );
        assert_eq!(
            std::fs::read_to_string(&input).unwrap(),
            INPUT_CSV,
            "{extra:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&part).unwrap(),
            "earlier results\n",
            "{extra:?}"
        );
    }
    // The input as a part file of the output directory.
    let ran = corestream(&run_args(part_s, &["--output", out_s]));
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert_eq!(std::fs::read_to_string(&part).unwrap(), "earlier results\n");
    // Separate files still run.
    let ran = corestream(&run_args(
        input_s,
        &[
            "--output",
            out_s,
            "--on-error",
            "dead-letter",
            "--metrics-json",
            &format!("{}/m.json", dir.str()),
            "--quiet",
        ],
    ));
    ran.assert_success();
    assert_eq!(std::fs::read_to_string(&input).unwrap(), INPUT_CSV);
}

// ---------------------------------------------------------------------------
// 5. Errors that point at the right place.
// ---------------------------------------------------------------------------

/// A TCP address with a port past 65535 (or none) is a usage error (exit 2)
/// that names the port.
#[test]
fn a_bad_tcp_address_is_a_usage_error() {
    for (spec, says) in [
        ("tcp://127.0.0.1:99999", "99999"),
        ("tcp://localhost:-1", "\"-1\""),
        ("tcp://127.0.0.1", "HOST:PORT"),
        ("tcp://:9000", "host"),
    ] {
        let ran = corestream(&["run", "--input", spec, "--schema", "a BIGINT"]);
        assert_eq!(ran.code, Some(2), "{spec}: {}", ran.context());
        assert!(ran.stderr.contains(says), "{spec}: {}", ran.context());
    }
}

/// An existing file given as `--output` is named as a file (exit 2), not
/// "File exists".
#[test]
fn an_output_that_is_a_file_says_so() {
    let file = temp_file("output-file", "mine\n");
    let ran = corestream(&[
        "run",
        "--input",
        "gen:trades?records=10",
        "--output",
        file.str(),
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(ran.stderr.contains("is a file"), "{}", ran.context());
    assert!(!ran.stderr.contains("File exists"), "{}", ran.context());
    assert_eq!(std::fs::read_to_string(&file.0).unwrap(), "mine\n");
}

/// An output directory the run cannot write says the OS error and the file,
/// without glommio's debug text (`op:`, `path: Some(..)`, `fd:`).
#[test]
fn an_io_error_names_the_file_without_glommio_debug_text() {
    if running_as_root() {
        // Permissions do not bind root: the directory stays writable.
        return;
    }
    let dir = TempPath::new("readonly-out");
    std::fs::create_dir_all(&dir.0).unwrap();
    let mut perms = std::fs::metadata(&dir.0).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
    std::fs::set_permissions(&dir.0, perms).unwrap();
    let ran = corestream(&[
        "run",
        "--input",
        "gen:trades?records=10",
        "--cores",
        "0",
        "--output",
        dir.str(),
    ]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(ran.stderr.contains("part-0.csv"), "{}", ran.context());
    assert!(ran.stderr.contains("ermission denied"), "{}", ran.context());
    for debug in ["op:", "Some(", "fd:"] {
        assert!(!ran.stderr.contains(debug), "{debug}: {}", ran.context());
    }
}

/// Whether this process runs as root.
fn running_as_root() -> bool {
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Parentheses nest to 256 levels, as humans write them; deeper nesting is
/// a located error, not a stack overflow, on a test thread's 2 MiB stack.
#[test]
fn nesting_to_256_levels_plans_and_deeper_is_an_error() {
    let nested = |depth: usize| {
        format!(
            "SELECT {}price{} FROM trades",
            "(".repeat(depth),
            ")".repeat(depth)
        )
    };
    let plan = |sql: String| {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let parsed = corestream::sql::parse(&sql).map_err(|e| e.to_string())?;
                corestream::sql::plan_query(
                    &parsed,
                    None,
                    &corestream::io::generator::trades_schema(),
                )
                .map(|_| ())
                .map_err(|e| e.to_string())
            })
            .unwrap()
            .join()
            .expect("no panic")
    };
    plan(nested(256)).unwrap_or_else(|e| panic!("256 levels: {e}"));
    let nots = format!(
        "SELECT price FROM trades WHERE {}price > 1",
        "NOT ".repeat(200)
    );
    plan(nots).unwrap_or_else(|e| panic!("200 NOTs: {e}"));
    let e = plan(nested(2000)).expect_err("2000 levels are refused");
    assert!(e.contains("nest"), "{e}");
}
