//! Hostile-user probes of what a run leaves behind (issue 28, hardening):
//! a failed run must not pass off results of input it did not finish, an
//! output directory must not mix an earlier run's part files with this
//! run's, results kept in memory must stay bounded, and errors must point
//! at what is wrong.

mod common;
mod process;

use common::core_set;
use corestream::io::sink::OutputSpec;
use corestream::Engine;
use process::{corestream, temp_file, Ran, TempPath};
use std::path::Path;

/// Good rows, `ts` 10 ms apart from 0 (100 per second, 20 of each of five
/// keys `k0`..`k4`), with a malformed line (two fields, not three) after
/// `bad_after` of them, and good rows after it.
fn csv_failing_after(bad_after: usize, rows: usize) -> String {
    let mut csv = String::from("ts,k,v\n");
    for i in 0..rows {
        if i == bad_after {
            csv.push_str("oops,k0\n");
        }
        csv.push_str(&format!("{},k{},1\n", i * 10, i % 5));
    }
    csv
}

/// Runs `sql` over `input` into a fresh directory with `--on-error fail`
/// and `--metrics-json`, plus `extra` flags; returns what it printed, the
/// part files' contents, and the metrics JSON.
fn run_failing(
    tag: &str,
    input: &TempPath,
    sql: &str,
    extra: &[&str],
) -> (Ran, Vec<String>, serde_json::Value) {
    let dir = TempPath::new(&format!("{tag}-out"));
    let metrics = TempPath::new(&format!("{tag}-metrics.json"));
    let mut args = vec![
        "run",
        "--cores",
        "0-1",
        "--input",
        input.str(),
        "--on-error",
        "fail",
        "--batch-size",
        "64",
        "--output",
        dir.str(),
        "--metrics-json",
        metrics.str(),
        "--sql",
        sql,
    ];
    args.extend_from_slice(extra);
    let ran = corestream(&args);
    let parts = names(&dir.0)
        .iter()
        .map(|n| std::fs::read_to_string(dir.0.join(n)).unwrap())
        .collect();
    let json = std::fs::read_to_string(&metrics.0)
        .unwrap_or_else(|e| panic!("no metrics JSON ({e})\n{}", ran.context()));
    let json = serde_json::from_str(&json).expect("the metrics are JSON");
    (ran, parts, json)
}

/// The checks every failed run must pass: exit 1 naming the bad line, the
/// summary and the metrics JSON saying it failed after it processed rows.
fn assert_failed_with_summary(ran: &Ran, json: &serde_json::Value, input: &TempPath) {
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    let error = format!("malformed record in {} at line", input.str());
    assert!(
        ran.stderr.contains(&format!("error: {error}")),
        "{}",
        ran.context()
    );
    assert!(
        ran.stderr.contains(&format!("FAILED: {error}")),
        "the summary: {}",
        ran.context()
    );
    assert!(
        ran.stderr.contains("in the shard"),
        "the summary table: {}",
        ran.context()
    );
    let failed = json["failed"].as_str().unwrap_or_default();
    assert!(failed.starts_with(&error), "{json}");
    // The failure came mid-run: the shards had rows to finish.
    assert!(json["total"]["processed"].as_u64() > Some(0), "{json}");
}

#[test]
fn a_failed_run_writes_no_final_rows_but_its_summary_and_metrics() {
    let input = temp_file("fail-final.csv", csv_failing_after(20_000, 30_000));
    let sql = "SELECT k, COUNT(*) AS n FROM trades GROUP BY k EMIT FINAL";
    // One reader, and two (the reader that did not fail stops and says so).
    for readers in ["1", "2"] {
        let tag = format!("fail-final-{readers}");
        let (ran, parts, json) = run_failing(&tag, &input, sql, &["--readers", readers]);
        assert_failed_with_summary(&ran, &json, &input);
        assert_eq!(
            parts,
            ["k,n\n", "k,n\n"],
            "readers {readers}: {}",
            ran.context()
        );
    }
    // A query of two stages: the failure crosses the exchange, no stage
    // emits, and the run ends (no shard waits for an end that never comes).
    let sql = "SELECT k, SUM(n) AS total FROM (SELECT k, v, COUNT(*) AS n FROM trades \
               GROUP BY k, v) x GROUP BY k EMIT FINAL";
    let (ran, parts, json) = run_failing("fail-stages", &input, sql, &[]);
    assert_failed_with_summary(&ran, &json, &input);
    assert_eq!(parts, ["k,total\n", "k,total\n"], "{}", ran.context());
}

#[test]
fn a_failed_run_keeps_the_windows_the_watermark_closed_and_no_others() {
    // Fails in the window [200 s, 201 s): 20,050 rows 10 ms apart.
    let input = temp_file("fail-windows.csv", csv_failing_after(20_050, 30_000));
    let sql = "SELECT k, window_start, COUNT(*) AS n FROM trades \
               GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND)";
    let (ran, parts, json) = run_failing(
        "fail-windows",
        &input,
        sql,
        &["--event-time", "ts", "--max-out-of-orderness", "0s"],
    );
    assert_failed_with_summary(&ran, &json, &input);
    let rows: Vec<&str> = parts.iter().flat_map(|p| p.lines().skip(1)).collect();
    assert!(
        !rows.is_empty(),
        "windows closed before the failure stay: {}",
        ran.context()
    );
    for row in &rows {
        // Every window written is whole (20 rows of each key a second) and
        // closed before the failure.
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells[2], "20", "a window cut short by the failure: {row}");
        assert!(cells[1] < "1970-01-01T00:03:20", "{row}");
    }
}

/// The sorted names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn stale_part_files_of_a_run_on_more_shards_are_refused_before_anything_is_written() {
    let dir = TempPath::new("stale-parts");
    std::fs::create_dir_all(&dir.0).unwrap();
    // An earlier run on four shards, and a file of the user's.
    for (name, text) in [
        ("part-0.csv", "old 0\n"),
        ("part-1.csv", "old 1\n"),
        ("part-2.csv", "old 2\n"),
        ("part-3.csv", "old 3\n"),
        ("notes.txt", "mine\n"),
    ] {
        std::fs::write(dir.0.join(name), text).unwrap();
    }
    let sql = "SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol EMIT FINAL";
    let dead = dir.0.join("dead-letter.txt");
    let ran = corestream(&[
        "run",
        "--cores",
        "0",
        "--input",
        "gen:trades?records=1000",
        "--output",
        dir.str(),
        "--on-error",
        "dead-letter",
        "--sql",
        sql,
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    for stale in ["part-1.csv", "part-2.csv", "part-3.csv"] {
        assert!(
            ran.stderr.contains(stale),
            "names {stale}: {}",
            ran.context()
        );
    }
    assert!(
        !ran.stderr.contains("part-0.csv,"),
        "part-0.csv is this run's own: {}",
        ran.context()
    );
    assert!(
        ran.stderr.contains("another --output directory"),
        "{}",
        ran.context()
    );
    // Nothing was written, truncated or removed.
    assert_eq!(
        names(&dir.0),
        [
            "notes.txt",
            "part-0.csv",
            "part-1.csv",
            "part-2.csv",
            "part-3.csv"
        ]
    );
    assert!(!dead.exists(), "the dead-letter file was not created");
    assert_eq!(
        std::fs::read_to_string(dir.0.join("part-0.csv")).unwrap(),
        "old 0\n"
    );

    // The other format's part files are stale too, even this shard's.
    let ran = corestream(&[
        "run",
        "--cores",
        "0",
        "--input",
        "gen:trades?records=1000",
        "--output",
        dir.str(),
        "--output-format",
        "json",
        "--sql",
        sql,
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(ran.stderr.contains("part-0.csv"), "{}", ran.context());
    assert!(!dir.0.join("part-0.jsonl").exists());

    // Without the stale files, the run overwrites its own part file.
    for stale in ["part-1.csv", "part-2.csv", "part-3.csv"] {
        std::fs::remove_file(dir.0.join(stale)).unwrap();
    }
    let ran = corestream(&[
        "run",
        "--quiet",
        "--cores",
        "0",
        "--input",
        "gen:trades?records=1000",
        "--output",
        dir.str(),
        "--sql",
        sql,
    ]);
    ran.assert_success();
    let part = std::fs::read_to_string(dir.0.join("part-0.csv")).unwrap();
    assert!(part.starts_with("symbol,n\n"), "{part}");
    assert_eq!(names(&dir.0), ["notes.txt", "part-0.csv"]);
}

#[test]
fn the_library_refuses_stale_part_files_too() {
    let dir = TempPath::new("stale-parts-lib");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join("part-5.jsonl"), "{}\n").unwrap();
    let e = Engine::builder()
        .sql("SELECT symbol FROM trades")
        .input("gen:trades?records=10")
        .cores(core_set("0"))
        .output(OutputSpec::DirectoryJson(dir.0.clone()))
        .build()
        .expect("the query plans")
        .run()
        .expect_err("a directory with a stale part file is refused");
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(e.to_string().contains("part-5.jsonl"), "{e}");
    assert_eq!(names(&dir.0), ["part-5.jsonl"]);
}

/// The rendered error of planning `sql` over the trades generator's
/// columns, with `options`.
fn plan_error(sql: &str, options: &corestream::sql::PlanOptions) -> corestream::SqlError {
    let parsed = corestream::sql::parse(sql).expect("the query parses");
    let schema = corestream::io::generator::trades_schema();
    corestream::sql::plan_query_with(&parsed, None, &schema, options)
        .expect_err("the query is refused")
}

/// The text under the caret of a rendered error: the query line from the
/// caret's column on.
fn under_caret(shown: &str) -> String {
    let lines: Vec<&str> = shown.lines().collect();
    let caret = lines.last().expect("a caret line");
    let at = caret.find('^').expect("a caret") - caret.find('|').expect("a gutter") - 2;
    let query = lines[lines.len() - 2];
    let text = &query[query.find('|').expect("a gutter") + 2..];
    text.chars().skip(at).collect()
}

#[test]
fn a_window_argument_that_is_no_time_is_pointed_at() {
    let none = corestream::sql::PlanOptions::default();
    // A column that is not a time, on the second line.
    let sql = "SELECT symbol, COUNT(*) AS n FROM trades\nGROUP BY symbol, TUMBLE(price, INTERVAL '1' MINUTE)";
    let e = plan_error(sql, &none);
    let shown = e.to_string();
    assert_eq!((e.line, e.column), (2, 25), "{shown}");
    assert!(under_caret(&shown).starts_with("price,"), "{shown}");
    assert!(e.message.contains("`price` is DOUBLE"), "{shown}");
    assert!(e.message.contains("TIMESTAMP or BIGINT"), "{shown}");
    // Neither a column nor a duration, as a later argument.
    let sql = "SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol, HOP(event_time, INTERVAL '1' MINUTE, tenm)";
    let e = plan_error(sql, &none);
    assert!(under_caret(&e.to_string()).starts_with("tenm)"), "{e}");
}

#[test]
fn a_bad_event_time_flag_names_the_flag_and_the_column() {
    let sql = "SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol";
    let ran = corestream(&[
        "run",
        "--input",
        "gen:trades?records=10",
        "--event-time",
        "x",
        "--sql",
        sql,
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    let want = "error: --event-time: no column \"x\"; columns are: event_time, trader_id, \
                symbol, price, quantity\n";
    assert_eq!(
        ran.stderr,
        want,
        "no SQL position, no caret: {}",
        ran.context()
    );
    // With named inputs, each takes the column where it has it; one that
    // none has is refused, not dropped.
    let ran = corestream(&[
        "explain",
        "--input",
        "a=gen:trades?records=10",
        "--event-time",
        "x",
        "--sql",
        "SELECT symbol FROM a",
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(
        ran.stderr.starts_with("error: --event-time: no column \"x\" in any input; columns are: a: event_time, trader_id,"),
        "{}",
        ran.context()
    );
    // A column that is not a time, given by the flag to a window without one.
    let options = corestream::sql::PlanOptions {
        event_time: Some("price".into()),
        ..Default::default()
    };
    let e = plan_error(
        "SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol WINDOW TUMBLING(1m)",
        &options,
    );
    assert_eq!(
        e.to_string(),
        "--event-time: column \"price\" is DOUBLE; a window's time column must be TIMESTAMP or \
         BIGINT epoch milliseconds"
    );
}

#[test]
fn collecting_the_results_of_an_input_that_never_ends_is_refused() {
    let build = |input: &str, output: OutputSpec| {
        Engine::builder()
            .sql("SELECT symbol, price FROM trades")
            .input(input)
            .cores(core_set("0"))
            .output(output)
            .build()
    };
    for endless in ["gen:trades?rate=1000", "gen:trades"] {
        let e = build(endless, OutputSpec::Collect)
            .err()
            .unwrap_or_else(|| panic!("Collect over {endless} was built"));
        let shown = e.to_string();
        assert_eq!(e.exit_code(), 2, "{shown}");
        for part in [
            endless,
            "records=N",
            "OutputSpec::Rings",
            "OutputSpec::callback",
        ] {
            assert!(shown.contains(part), "lacks {part:?}: {shown}");
        }
    }
    let e = Engine::builder()
        .sql("SELECT b.price FROM bid b")
        .named_input("bid", "gen:nexmark?stream=bid")
        .cores(core_set("0"))
        .output(OutputSpec::Collect)
        .build()
        .err()
        .expect("Collect over an endless named input is refused");
    assert!(
        e.to_string().contains("input bid (gen:nexmark?stream=bid)"),
        "{e}"
    );
    // The same input with results taken as they come, and a bounded one
    // collected, are fine.
    build("gen:trades?rate=1000", OutputSpec::Rings { capacity: 4 }).expect("rings are bounded");
    let out = build("gen:trades?records=100", OutputSpec::Collect)
        .expect("an input that ends")
        .run()
        .expect("the run succeeds");
    let rows: usize = out.collected.iter().flatten().map(|b| b.len).sum();
    assert_eq!(rows, 100);
}
