//! The `corestream` binary, run as a user runs it: flags, exit codes, stdout,
//! stderr, part files, stdin and pipes.
//!
//! No test sleeps or waits for a time to pass. The two tests that keep a pipe
//! open read until the expected lines arrive; a watchdog thread kills the child
//! after 60 s so that a hang fails the test instead of stalling the suite.

mod process;

use process::{
    accounting, corestream, corestream_with_stdin, spawn, temp_file, Accounting, Ran, TempPath,
};

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;

/// A small generated input: 20 000 trades over 200 keys.
const SMALL: &str = "gen:trades?records=20000&traders=20&symbols=10&seed=7";

const HEADER: &str = "trader_id,symbol,trade_count,avg_price,total_quantity,total_value";
const TRADES_HEADER: &str = "event_time,trader_id,symbol,price,quantity";

const GROUP_BY: &str = "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, \
SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value FROM trades GROUP BY trader_id, symbol";

/// The per-shard lines of the summary: (shard, core, records_in, rows_out).
fn shard_lines(ran: &Ran) -> Vec<(usize, usize, u64, u64)> {
    ran.stderr
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let shard = w.first()?.parse().ok()?;
            Some((
                shard,
                w[1].parse().expect("core"),
                w[2].parse().expect("records_in"),
                w[7].parse().expect("rows_out"),
            ))
        })
        .collect()
}

fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

// ---------------------------------------------------------------------------
// (a) the default run

#[test]
fn run_with_no_flags_prints_the_default_query_result() {
    let ran = corestream(&["run"]);
    ran.assert_success();
    let rows = ran.rows(HEADER);
    assert_eq!(
        rows.len(),
        200,
        "one row per (trader_id, symbol)\n{}",
        ran.context()
    );
    let mut keys = BTreeSet::new();
    let mut trades = 0u64;
    for row in &rows {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f.len(), 6, "row {row:?}");
        assert!(
            keys.insert((f[0].to_owned(), f[1].to_owned())),
            "key of {row:?} repeats"
        );
        trades += f[2].parse::<u64>().expect("trade_count is an integer");
    }
    assert_eq!(
        trades, 1_000_000,
        "the trade counts add up to the default input"
    );
    let acc = accounting(&ran);
    assert_eq!(
        acc,
        Accounting {
            input: 1_000_000,
            processed: 1_000_000,
            filtered: 0,
            late: 0,
            malformed: 0,
            holds: true
        },
        "{}",
        ran.context()
    );
    assert!(ran.stderr.contains("(holds)"), "{}", ran.context());
    // The default core set is every online core, one summary line per shard.
    let online = corestream::runtime::cores::CoreSet::online_cpus().expect("online cpus");
    let cores: Vec<usize> = shard_lines(&ran).iter().map(|s| s.1).collect();
    assert_eq!(cores, online, "{}", ran.context());
}

// ---------------------------------------------------------------------------
// (b) core masks and lists

#[test]
fn core_mask_and_core_list_choose_the_shards() {
    let run = |flags: &[&str]| {
        let mut args = vec!["run", "--input", SMALL];
        args.extend_from_slice(flags);
        let ran = corestream(&args);
        ran.assert_success();
        ran
    };
    let one = run(&["--cores", "0"]);
    let list = run(&["--cores", "0-1"]);
    let mask = run(&["--core-mask", "0x3"]);

    let placement = |ran: &Ran| -> Vec<(usize, usize)> {
        shard_lines(ran).iter().map(|s| (s.0, s.1)).collect()
    };
    assert_eq!(placement(&one), [(0, 0)], "{}", one.context());
    assert_eq!(placement(&list), [(0, 0), (1, 1)], "{}", list.context());
    assert_eq!(placement(&mask), [(0, 0), (1, 1)], "{}", mask.context());
    for ran in [&list, &mask] {
        for (shard, _, records_in, rows_out) in shard_lines(ran) {
            assert!(
                records_in > 0 && rows_out > 0,
                "shard {shard} got no keys\n{}",
                ran.context()
            );
        }
    }
    for ran in [&one, &list, &mask] {
        let acc = accounting(ran);
        assert!(
            acc.holds && acc.input == 20_000 && acc.processed == 20_000,
            "{acc:?}"
        );
    }
    // Same input, any core count: the same rows, to the last digit.
    let expected = sorted(one.rows(HEADER));
    assert_eq!(expected.len(), 200);
    assert_eq!(
        sorted(list.rows(HEADER)),
        expected,
        "--cores 0-1 vs --cores 0"
    );
    assert_eq!(
        sorted(mask.rows(HEADER)),
        expected,
        "--core-mask 0x3 vs --cores 0"
    );
}

#[test]
fn a_single_core_mask_bit_runs_one_shard() {
    let ran = corestream(&["run", "--input", SMALL, "--core-mask", "0x2"]);
    ran.assert_success();
    let shards: Vec<(usize, usize)> = shard_lines(&ran).iter().map(|s| (s.0, s.1)).collect();
    assert_eq!(shards, [(0, 1)], "shard 0 runs on cpu 1\n{}", ran.context());
}

/// Runs with a bad core flag; checks exit 2, no result output, and that
/// stderr names the problem.
fn assert_bad_cores(flag: &str, value: &str, expected: &[&str]) {
    let ran = corestream(&["run", "--input", SMALL, flag, value]);
    assert_eq!(ran.code, Some(2), "{flag} {value}\n{}", ran.context());
    assert!(
        ran.stdout.is_empty(),
        "{flag} {value}: no output\n{}",
        ran.context()
    );
    assert!(
        ran.stderr.starts_with("error: "),
        "{flag} {value}\n{}",
        ran.context()
    );
    for part in expected {
        assert!(
            ran.stderr.contains(part),
            "{flag} {value}: stderr lacks {part:?}\n{}",
            ran.context()
        );
    }
}

#[test]
fn empty_core_mask_is_rejected() {
    assert_bad_cores("--core-mask", "0x0", &["0x0", "selects no cores"]);
}

#[test]
fn non_hex_core_mask_is_rejected() {
    assert_bad_cores(
        "--core-mask",
        "0xzz",
        &["\"0xzz\"", "'z'", "not a hex digit"],
    );
}

#[test]
fn offline_core_in_a_list_is_rejected() {
    assert_bad_cores(
        "--cores",
        "5",
        &["core 5", "not an online CPU", "online: 0-1"],
    );
}

#[test]
fn offline_core_in_a_mask_is_rejected() {
    assert_bad_cores(
        "--core-mask",
        "0x100",
        &["core 8", "not an online CPU", "online: 0-1"],
    );
}

#[test]
fn reversed_core_range_is_rejected() {
    assert_bad_cores("--cores", "3-1", &["\"3-1\"", "reversed", "write 1-3"]);
}

#[test]
fn core_mask_and_core_list_together_are_rejected() {
    let ran = corestream(&[
        "run",
        "--input",
        SMALL,
        "--cores",
        "0",
        "--core-mask",
        "0x1",
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(
        ran.stderr.contains("cannot be used with"),
        "{}",
        ran.context()
    );
}

// ---------------------------------------------------------------------------
// (c) a directory of part files

#[test]
fn output_directory_gets_one_part_file_per_shard() {
    let dir = TempPath::new("parts");
    let ran = corestream(&[
        "run",
        "--input",
        SMALL,
        "--cores",
        "0-1",
        "--output",
        dir.str(),
    ]);
    ran.assert_success();
    assert!(
        ran.stdout.is_empty(),
        "results go to the directory, not stdout\n{}",
        ran.context()
    );
    assert!(accounting(&ran).holds, "{}", ran.context());

    let mut names: Vec<String> = std::fs::read_dir(&dir.0)
        .expect("the output directory exists")
        .map(|e| {
            e.expect("a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["part-0.csv", "part-1.csv"]);

    let mut union = Vec::new();
    for (shard, name) in names.iter().enumerate() {
        let text = std::fs::read_to_string(dir.0.join(name)).expect("a part file is readable");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(HEADER), "{name} starts with the header");
        let rows: Vec<String> = lines.map(str::to_owned).collect();
        assert!(text.ends_with('\n'), "{name} ends with a whole line");
        let (_, _, _, rows_out) = shard_lines(&ran)[shard];
        assert_eq!(
            rows.len() as u64,
            rows_out,
            "{name} holds shard {shard}'s rows_out"
        );
        union.extend(rows);
    }

    let stdout_run = corestream(&["run", "--input", SMALL, "--cores", "0-1"]);
    stdout_run.assert_success();
    let expected = sorted(stdout_run.rows(HEADER));
    assert_eq!(expected.len(), 200);
    assert_eq!(
        sorted(union),
        expected,
        "the part files together hold the stdout rows"
    );
}

#[test]
fn output_directory_is_created_when_missing() {
    let base = TempPath::new("nested");
    let dir = base.0.join("a").join("b");
    let dir_str = dir.to_str().expect("UTF-8 path");
    let ran = corestream(&["run", "--input", SMALL, "--cores", "0", "--output", dir_str]);
    ran.assert_success();
    let text = std::fs::read_to_string(dir.join("part-0.csv")).expect("part-0.csv was written");
    assert_eq!(text.lines().next(), Some(HEADER));
    assert_eq!(text.lines().count(), 201);
    assert!(!dir.join("part-1.csv").exists(), "one shard, one part");
}

// ---------------------------------------------------------------------------
// (d) CSV file input, (e) stdin input

const TRADES_CSV: &str = "event_time,trader_id,symbol,price,quantity
1,T001,AAPL,10.5,100
2,T002,MSFT,20.25,10
3,T001,AAPL,11.5,300
4,T001,MSFT,1,1
";

/// The default query's result over [`TRADES_CSV`], sorted:
/// T001/AAPL: 2 trades, avg (10.5 + 11.5) / 2, 400 shares, 10.5*100 + 11.5*300.
const TRADES_CSV_RESULT: [&str; 3] = [
    "T001,AAPL,2,11,400,4500",
    "T001,MSFT,1,1,1,1",
    "T002,MSFT,1,20.25,10,202.5",
];

/// [`TRADES_CSV`] with a short line (line 3) and a bad price (line 5).
const MALFORMED_CSV: &str = "event_time,trader_id,symbol,price,quantity
1,T001,AAPL,10.5,100
2,T002,MSFT,20.25
2,T002,MSFT,20.25,10
3,T001,AAPL,eleven,300
3,T001,AAPL,11.5,300
4,T001,MSFT,1,1
";

#[test]
fn csv_file_input_gives_the_exact_aggregates() {
    let file = temp_file("trades.csv", TRADES_CSV);
    for cores in ["0", "0-1"] {
        let ran = corestream(&["run", "--input", file.str(), "--cores", cores]);
        ran.assert_success();
        assert_eq!(
            sorted(ran.rows(HEADER)),
            TRADES_CSV_RESULT,
            "--cores {cores}"
        );
        let acc = accounting(&ran);
        assert_eq!(
            (acc.input, acc.processed, acc.malformed, acc.holds),
            (4, 4, 0, true),
            "{acc:?}"
        );
    }
}

#[test]
fn csv_file_with_other_columns_has_inferred_types() {
    let file = temp_file(
        "other.csv",
        "city,temp,reading\nOslo,1.5,3\nRome,20,4\nOslo,2.5,5\n",
    );
    let ran = corestream(&[
        "run",
        "--input",
        file.str(),
        "--sql",
        "SELECT city, SUM(temp) AS t, SUM(reading) AS r, COUNT(*) AS n FROM readings GROUP BY city EMIT FINAL",
    ]);
    ran.assert_success();
    assert_eq!(
        sorted(ran.rows("city,t,r,n")),
        ["Oslo,4,8,2", "Rome,20,4,1"]
    );
}

#[test]
fn malformed_lines_are_skipped_and_counted() {
    let file = temp_file("malformed.csv", MALFORMED_CSV);
    let ran = corestream(&["run", "--input", file.str(), "--on-error", "skip"]);
    ran.assert_success();
    assert_eq!(sorted(ran.rows(HEADER)), TRADES_CSV_RESULT);
    assert_eq!(
        accounting(&ran),
        Accounting {
            input: 6,
            processed: 4,
            filtered: 0,
            late: 0,
            malformed: 2,
            holds: true
        },
        "{}",
        ran.context()
    );
    // Skip is the default.
    let default = corestream(&["run", "--input", file.str()]);
    default.assert_success();
    assert_eq!(accounting(&default).malformed, 2, "{}", default.context());
}

#[test]
fn malformed_line_fails_the_run_under_on_error_fail() {
    let file = temp_file("fail-short.csv", MALFORMED_CSV);
    let ran = corestream(&["run", "--input", file.str(), "--on-error", "fail"]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    let expected = format!(
        "error: malformed record in {} at line 3: expected 5 fields, found 4",
        file.str()
    );
    assert!(
        ran.stderr.contains(&expected),
        "stderr lacks {expected:?}\n{}",
        ran.context()
    );

    // The first bad line is a bad number on line 3 here.
    let bad_number = MALFORMED_CSV.replace("2,T002,MSFT,20.25\n", "");
    let file = temp_file("fail-number.csv", &bad_number);
    let ran = corestream(&["run", "--input", file.str(), "--on-error", "fail"]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    let expected = format!(
        "error: malformed record in {} at line 4: column price",
        file.str()
    );
    assert!(
        ran.stderr.contains(&expected),
        "stderr lacks {expected:?}\n{}",
        ran.context()
    );
    assert!(
        ran.stderr.contains("\"eleven\""),
        "the message quotes the bad text\n{}",
        ran.context()
    );
}

#[test]
fn missing_input_file_is_an_error() {
    let missing = TempPath::new("does-not-exist.csv");
    let ran = corestream(&["run", "--input", missing.str()]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(
        ran.stderr
            .contains(&format!("cannot open input {}", missing.str())),
        "{}",
        ran.context()
    );
}

#[test]
fn stdin_input_gives_the_same_result_as_the_file() {
    let ran = corestream_with_stdin(&["run", "--input", "-"], TRADES_CSV);
    ran.assert_success();
    assert_eq!(sorted(ran.rows(HEADER)), TRADES_CSV_RESULT);
    assert_eq!(accounting(&ran).input, 4);

    let ran = corestream_with_stdin(&["run", "--input", "-", "--cores", "0"], MALFORMED_CSV);
    ran.assert_success();
    assert_eq!(sorted(ran.rows(HEADER)), TRADES_CSV_RESULT);
    let acc = accounting(&ran);
    assert_eq!(
        (acc.input, acc.processed, acc.malformed, acc.holds),
        (6, 4, 2, true),
        "{acc:?}"
    );

    let ran = corestream_with_stdin(
        &["run", "--input", "-", "--on-error", "fail"],
        MALFORMED_CSV,
    );
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(
        ran.stderr.contains("malformed record in stdin at line 3"),
        "{}",
        ran.context()
    );
}

#[test]
fn empty_stdin_is_an_error_naming_the_missing_header() {
    let ran = corestream_with_stdin(&["run", "--input", "-"], "");
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(ran.stderr.contains("header"), "{}", ran.context());
}

// ---------------------------------------------------------------------------
// (f) a slow stream gets prompt results

#[test]
fn slow_stdin_stream_gets_results_before_input_ends() {
    let sql = format!("{GROUP_BY} EMIT CHANGES");
    let (mut child, watchdog) = spawn(
        &["run", "--input", "-", "--sql", &sql, "--linger", "5ms"],
        Stdio::piped(),
    );
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));

    let records = "1,T001,AAPL,10.5,100\n2,T002,MSFT,20.25,10\n3,T001,AAPL,11.5,300\n";
    stdin
        .write_all(format!("{TRADES_HEADER}\n{records}").as_bytes())
        .expect("the child reads stdin");
    stdin.flush().expect("flush");

    // stdin stays open: the rows must come out because of the linger, not
    // because the input ended.
    let mut lines = Vec::new();
    while lines.len() < 4 {
        let mut line = String::new();
        let n = stdout.read_line(&mut line).expect("stdout is readable");
        assert!(
            n > 0,
            "stdout ended after {lines:?} while stdin was still open \
             (the process died, or the watchdog killed it after 60 s)"
        );
        lines.push(line.trim_end().to_owned());
    }

    drop(stdin); // end of input
    let status = child.wait().expect("the child can be waited for");
    let killed = watchdog.disarm();
    assert!(!killed, "the watchdog had to kill the child");
    let mut rest = String::new();
    stdout
        .read_to_string(&mut rest)
        .expect("stdout is readable");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr)
        .expect("stderr is readable");
    assert!(status.success(), "exit {status}\n{stderr}");
    assert_eq!(rest, "", "no rows after the input ended");

    assert_eq!(lines[0], HEADER);
    let rows = &lines[1..];
    let expected = [
        "T001,AAPL,1,10.5,100,1050",
        "T001,AAPL,2,11,400,4500",
        "T002,MSFT,1,20.25,10,202.5",
    ];
    assert_eq!(sorted(rows.to_vec()), expected, "lines: {lines:?}");
    // Per-key order: T001/AAPL's first change comes before its second.
    let first = rows.iter().position(|r| r == expected[0]);
    let second = rows.iter().position(|r| r == expected[1]);
    assert!(first < second, "per-key order lost: {rows:?}");
    assert!(
        stderr.contains("in 3 = processed 3") && stderr.contains("(holds)"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// (g) topology

#[test]
fn topology_shows_the_default_placement() {
    let ran = corestream(&["topology"]);
    ran.assert_success();
    assert!(
        ran.stdout.contains("cpu  node  package  core"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("shard 0 -> cpu 0"), "{}", ran.stdout);
    assert!(ran.stdout.contains("shard 1 -> cpu 1"), "{}", ran.stdout);
}

#[test]
fn topology_shows_the_chosen_placement() {
    let ran = corestream(&["topology", "--cores", "0-1"]);
    ran.assert_success();
    assert!(
        ran.stdout.contains("placement: 2 shards on cpus 0-1"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("shard 0 -> cpu 0"), "{}", ran.stdout);
    assert!(ran.stdout.contains("shard 1 -> cpu 1"), "{}", ran.stdout);

    let ran = corestream(&["topology", "--core-mask", "0x2"]);
    ran.assert_success();
    assert!(ran.stdout.contains("shard 0 -> cpu 1"), "{}", ran.stdout);
    assert!(!ran.stdout.contains("shard 1 ->"), "{}", ran.stdout);

    let ran = corestream(&["topology", "--cores", "7"]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(ran.stderr.contains("core 7"), "{}", ran.context());
}

// ---------------------------------------------------------------------------
// (h) the query from a file

#[test]
fn sql_can_be_read_from_a_file() {
    let sql = "SELECT trader_id, COUNT(*) AS n\nFROM trades\nWHERE quantity > 500\nGROUP BY trader_id\nEMIT FINAL\n";
    let file = temp_file("query.sql", sql);
    let at = format!("@{}", file.str());
    let from_file = corestream(&["run", "--input", SMALL, "--sql", &at]);
    from_file.assert_success();
    let inline = corestream(&["run", "--input", SMALL, "--sql", sql]);
    inline.assert_success();
    let rows = sorted(from_file.rows("trader_id,n"));
    assert_eq!(rows.len(), 20, "one row per trader");
    assert_eq!(rows, sorted(inline.rows("trader_id,n")));
    let acc = accounting(&from_file);
    assert!(
        acc.filtered > 0 && acc.processed + acc.filtered == 20_000,
        "{acc:?}"
    );
}

#[test]
fn missing_sql_file_is_an_error_naming_it() {
    let missing = TempPath::new("missing.sql");
    let at = format!("@{}", missing.str());
    let ran = corestream(&["run", "--input", SMALL, "--sql", &at]);
    assert_ne!(ran.code, Some(0), "{}", ran.context());
    assert!(
        ran.stderr
            .contains(&format!("cannot read query file {}", missing.str())),
        "{}",
        ran.context()
    );
}

// ---------------------------------------------------------------------------
// (i) a reader that goes away (`corestream run | head -1`)

/// Spawns `args`, reads the first stdout line, closes stdout, and returns the
/// line, the exit code and stderr.
fn read_first_line_then_hang_up(args: &[&str]) -> (String, Option<i32>, String) {
    let (mut child, watchdog) = spawn(args, Stdio::null());
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("stdout is readable");
    drop(stdout); // the reader goes away, as `head -1` does
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr)
        .expect("stderr is readable");
    let status = child.wait().expect("the child can be waited for");
    assert!(
        !watchdog.disarm(),
        "the watchdog had to kill the child\n{stderr}"
    );
    (first, status.code(), stderr)
}

#[test]
fn closed_stdout_ends_the_run_quietly() {
    // 2 million rows of about 40 bytes cannot fit in a pipe: the run is sure
    // to write to a pipe with no reader.
    let (first, code, stderr) = read_first_line_then_hang_up(&[
        "run",
        "--input",
        "gen:trades?records=2000000",
        "--sql",
        "SELECT * FROM trades",
    ]);
    assert_eq!(first.trim_end(), TRADES_HEADER);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(
        !stderr.contains("error"),
        "no error for a reader that went away: {stderr}"
    );
}

#[test]
fn closed_stdout_after_the_header_of_the_default_run() {
    let (first, code, stderr) = read_first_line_then_hang_up(&["run"]);
    assert_eq!(first.trim_end(), HEADER);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("error"), "stderr: {stderr}");
}

// ---------------------------------------------------------------------------
// other flags

#[test]
fn bad_run_flags_are_usage_errors() {
    let cases: [(&[&str], &str); 3] = [
        (&["--batch-size", "0"], "--batch-size 0: must be from 1 to"),
        (&["--linger", "soon"], "--linger soon: expected a duration"),
        (
            &["--idle-spin=-5ms"],
            "--idle-spin -5ms: expected a duration",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["run", "--input", SMALL];
        args.extend_from_slice(flags);
        let ran = corestream(&args);
        assert_eq!(ran.code, Some(2), "{flags:?}\n{}", ran.context());
        assert!(
            ran.stderr.contains(message),
            "{flags:?}: stderr lacks {message:?}\n{}",
            ran.context()
        );
    }
}

#[test]
fn unknown_generator_option_is_a_usage_error() {
    let ran = corestream(&["run", "--input", "gen:trades?records=10&speed=3"]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(
        ran.stderr.contains("unknown generator option `speed`"),
        "{}",
        ran.context()
    );
}

#[test]
fn live_metrics_are_served_over_http_while_the_run_goes_on() {
    let (mut child, watchdog) = process::spawn(
        &[
            "run",
            "--input",
            "gen:trades?rate=20000",
            "--metrics-addr",
            "127.0.0.1:0",
            "--cores",
            "0-1",
            "-q",
        ],
        Stdio::null(),
    );
    let (url, stderr) = process::metrics_url(&mut child);
    // Polled until records have gone through (bounded by the watchdog).
    let text = loop {
        let text = process::scrape(&url);
        if process::metric_sum(&text, "corestream_records_in_total").0 > 0.0 {
            break text;
        }
        std::thread::yield_now();
    };
    for (name, series) in [
        ("corestream_records_in_total", 2),
        ("corestream_rows_out_total", 2),
        ("corestream_late_total", 2),
        ("corestream_backlog_records", 2),
        ("corestream_latency_us", 8),
        ("corestream_malformed_total", 1),
    ] {
        assert_eq!(
            process::metric_sum(&text, name).1,
            series,
            "{name}:\n{text}"
        );
    }
    assert!(text.contains(r#"quantile="0.99""#), "{text}");
    process::signal(&child, libc::SIGTERM);
    let (code, rest) = process::wait_with_stderr(child, watchdog, stderr);
    assert_eq!(code, Some(143), "{rest}");
}

#[test]
fn a_metrics_address_that_cannot_be_listened_on_is_refused_up_front() {
    let ran = corestream(&["run", "--metrics-addr", "256.0.0.1:9100", "-q"]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(
        ran.stderr.contains("--metrics-addr 256.0.0.1:9100"),
        "{}",
        ran.context()
    );
}
