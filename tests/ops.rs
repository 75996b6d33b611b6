//! Operating the engine: signals, latency, the JSON summary, `--quiet`,
//! `explain`, and sinks that fail.
//!
//! Like `tests/cli.rs`, no test sleeps or waits for a time to pass: a test
//! that signals a run first reads its stdout until output appears, and a
//! watchdog thread kills the child after 60 s so that a hang fails the test
//! instead of stalling the suite.

mod common;

mod process;

use process::{corestream, spawn, Ran, TempPath, Watchdog, BIN};

use corestream::data::{Batch, DataType, Field, Schema, Value};
use corestream::io::sink::OutputSpec;
use corestream::io::source::{Poll, Source};
use corestream::runtime::cores::CoreSet;
use corestream::runtime::metrics::LatencyPercentiles;
use corestream::{Engine, Error};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// An endless generated stream, paced so a run lasts until it is stopped.
const ENDLESS: &str = "gen:trades?rate=20000&traders=20&symbols=10&seed=7";

/// One output row per input record: a stopped run's rows must match its count.
const PROJECT: &str = "SELECT trader_id, price FROM trades";

const TRADES_HEADER: &str = "event_time,trader_id,symbol,price,quantity";

/// Sends `signal` to the running `child`.
fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; the
    // child has not been waited for, so its pid still names it.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({}, {signal}) failed", child.id());
}

/// Reads lines from `stdout` until `n` lines (the header included) are in.
fn read_lines(stdout: &mut BufReader<impl Read>, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    while lines.len() < n {
        let mut line = String::new();
        let got = stdout.read_line(&mut line).expect("stdout reads");
        assert!(got > 0, "stdout ended after {lines:?}, expected {n} lines");
        lines.push(line);
    }
    lines
}

/// Checks a run stopped by a signal: its exit code, the summary on stderr,
/// and that stdout holds complete lines, one per record processed.
fn assert_stopped(ran: &Ran, code: i32, name: &str, columns: usize) {
    assert_eq!(ran.code, Some(code), "{}", ran.context());
    assert!(
        ran.stderr.contains("(holds)"),
        "the summary's accounting holds\n{}",
        ran.context()
    );
    assert!(
        ran.stderr.contains("stopped before the end of input"),
        "{}",
        ran.context()
    );
    assert!(
        ran.stderr.contains(&format!("stopped by {name}")),
        "{}",
        ran.context()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.context());
    assert!(ran.stdout.ends_with('\n'), "stdout ends with a whole line");
    let rows: Vec<&str> = ran.stdout.lines().skip(1).collect();
    for row in &rows {
        assert_eq!(row.split(',').count(), columns, "a whole row: {row:?}");
    }
    assert_eq!(
        rows.len() as u64,
        ran.total_rows_out(),
        "every row the summary counts reached stdout\n{}",
        ran.context()
    );
}

/// Starts an endless run, waits for output, signals it, and returns the result.
fn stop_endless_run_with(sig: libc::c_int, times: usize) -> Ran {
    let (mut child, watchdog) = spawn(
        &[
            "run", "--input", ENDLESS, "--sql", PROJECT, "--linger", "2ms",
        ],
        Stdio::null(),
    );
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let first = read_lines(&mut stdout, 2);
    assert_eq!(first[0], "trader_id,price\n");
    for _ in 0..times {
        signal(&child, sig);
    }
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("stdout reads");
    let out = child.wait_with_output().expect("the binary runs");
    assert!(!watchdog.disarm(), "the run did not stop and was killed");
    let mut ran = Ran::from(out);
    ran.stdout = first.concat() + &rest;
    ran
}

#[test]
fn sigterm_stops_reading_drains_and_exits_143() {
    let ran = stop_endless_run_with(libc::SIGTERM, 1);
    assert_stopped(&ran, 143, "SIGTERM", 2);
}

#[test]
fn sigint_stops_reading_drains_and_exits_130() {
    let ran = stop_endless_run_with(libc::SIGINT, 1);
    assert_stopped(&ran, 130, "SIGINT", 2);
}

#[test]
fn a_second_signal_exits_with_the_same_code() {
    // The second signal either finds the run still draining (exit at once,
    // no summary) or already finished; either way the code is 143 and every
    // line written is whole.
    let ran = stop_endless_run_with(libc::SIGTERM, 2);
    assert_eq!(ran.code, Some(143), "{}", ran.context());
    assert!(!ran.stderr.contains("panicked"), "{}", ran.context());
    assert!(ran.stdout.ends_with('\n'), "stdout ends with a whole line");
    for row in ran.stdout.lines().skip(1) {
        assert_eq!(row.split(',').count(), 2, "a whole row: {row:?}");
    }
}

#[test]
fn sigint_stops_a_run_blocked_on_an_open_stdin() {
    let (mut child, watchdog) = spawn(
        &["run", "--input", "-", "--sql", PROJECT, "--linger", "1ms"],
        Stdio::piped(),
    );
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut input = format!("{TRADES_HEADER}\n");
    for i in 0..10 {
        input.push_str(&format!("{i},T00{},AAPL,1.5,{i}\n", i % 3));
    }
    stdin
        .write_all(input.as_bytes())
        .expect("the child reads stdin");
    stdin.flush().expect("flush");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    // All ten rows out while stdin stays open: the router now waits on a read.
    let lines = read_lines(&mut stdout, 11);
    signal(&child, libc::SIGINT);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("stdout reads");
    let out = child.wait_with_output().expect("the binary runs");
    assert!(!watchdog.disarm(), "the run did not stop and was killed");
    drop(stdin);
    let mut ran = Ran::from(out);
    ran.stdout = lines.concat() + &rest;
    assert_stopped(&ran, 130, "SIGINT", 2);
    assert_eq!(ran.stdout.lines().count(), 11, "{}", ran.context());
}

#[test]
fn latency_is_recorded_per_shard_and_merged() {
    let out = Engine::builder()
        .sql("SELECT trader_id, symbol, COUNT(*) AS n FROM trades GROUP BY trader_id, symbol")
        .input(common::INPUT)
        .cores(CoreSet::all_online().expect("online cores"))
        .output(OutputSpec::Collect)
        .build()
        .expect("the query plans")
        .run()
        .expect("the run succeeds");
    let s = &out.summary;
    assert!(s.identity_holds(), "{}", s.render());
    assert!(!s.stopped);
    assert_eq!(s.latency.len(), s.shards.len(), "one histogram per shard");
    for (i, (l, (_, stats))) in s.latency.iter().zip(&s.shards).enumerate() {
        for h in [&l.total, &l.wait, &l.service] {
            assert_eq!(h.len(), stats.records_in, "shard {i}: one count per record");
        }
        let p = s.shard_latency(i);
        assert_ordered(&p);
    }
    let total = s.total_latency();
    assert_eq!(total.count, common::RECORDS);
    assert_eq!(s.merged_latency().len(), common::RECORDS);
    assert!(total.max > 0, "some batch took at least a microsecond");
    assert_ordered(&total);
    let rendered = s.render();
    assert!(rendered.contains("p99.9_us"), "{rendered}");
}

#[test]
fn run_observed_reports_progress_and_run_until_stops_an_endless_input() {
    // The observer asks the run to stop once it has seen records processed:
    // no timing assumption, and the input would never end by itself. The
    // results are counted as they come, not kept: however late the observer
    // runs on a busy machine, memory stays what the rings hold.
    let stop = AtomicBool::new(false);
    let mut reports = 0u32;
    let mut observe = |p: &corestream::runtime::metrics::Progress| {
        reports += 1;
        assert!(p.records_in() <= p.routed(), "{p:?}");
        if p.records_in() > 0 {
            stop.store(true, Ordering::Relaxed);
        }
    };
    let delivered = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&delivered);
    let out = Engine::builder()
        .sql(PROJECT)
        .input(ENDLESS)
        .cores(CoreSet::all_online().expect("online cores"))
        .output(OutputSpec::callback(move |_, batch| {
            counted.fetch_add(batch.len as u64, Ordering::Relaxed);
            Ok(())
        }))
        .build()
        .expect("the query plans")
        .run_observed(
            &|| stop.load(Ordering::Relaxed),
            Duration::from_millis(20),
            &mut observe,
        )
        .expect("the run succeeds");
    assert!(reports > 0, "the observer was called");
    let s = &out.summary;
    assert!(s.stopped, "the summary says the run was stopped");
    assert!(s.identity_holds(), "{}", s.render());
    assert!(s.render().contains("stopped before the end of input"));
    let rows = delivered.load(Ordering::Relaxed);
    assert_eq!(rows, s.total().rows_out, "every row counted was delivered");
    assert_eq!(s.total_latency().count, s.records_read);
}

/// One-row batches of a BIGINT `x`: `batches` of them (`None`: without end),
/// each stamped as having arrived `age` before the router read it (a source
/// that held its records that long), counting the polls in `polls`.
struct OneRowBatches {
    schema: Schema,
    batches: Option<u64>,
    age: Duration,
    polls: Arc<AtomicU64>,
}

impl OneRowBatches {
    fn new(batches: Option<u64>, age: Duration) -> OneRowBatches {
        OneRowBatches {
            schema: Schema::new(vec![Field::new("x", DataType::Int64)]),
            batches,
            age,
            polls: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Source for OneRowBatches {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(&mut self, _max_rows: usize, _deadline: Option<Instant>) -> Result<Poll, Error> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        match &mut self.batches {
            Some(0) => return Ok(Poll::End),
            Some(left) => *left -= 1,
            None => {}
        }
        let mut batch = Batch::with_capacity(&self.schema, 1);
        batch.columns[0].push_value(&Value::Int64(1));
        batch.len = 1;
        batch.ingest_time = Instant::now()
            .checked_sub(self.age)
            .expect("the monotonic clock has run longer than the age");
        Ok(Poll::Batch(batch))
    }

    fn malformed(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        "one-row batches".to_owned()
    }
}

#[test]
fn latency_splits_into_the_wait_for_the_shard_and_the_shard_s_own_time() {
    // Records that waited 2 s before the router read them: that wait is
    // before the shard, and the shard's own time is the query's.
    let age = Duration::from_secs(2);
    let source = OneRowBatches::new(Some(50), age);
    let out = Engine::builder()
        .sql("SELECT x, x * 2 AS y FROM t")
        .cores(
            CoreSet::from_list("0", &CoreSet::online_cpus().expect("online CPUs")).expect("core 0"),
        )
        .output(OutputSpec::Discard)
        .build_with_source(Box::new(source))
        .expect("the query plans")
        .run()
        .expect("the run succeeds");
    let s = &out.summary;
    assert!(s.identity_holds(), "{}", s.render());
    let all = s.merged_latencies();
    let age_us = age.as_micros() as u64;
    let (total, wait, service) = (
        LatencyPercentiles::of(&all.total),
        LatencyPercentiles::of(&all.wait),
        LatencyPercentiles::of(&all.service),
    );
    for p in [&total, &wait, &service] {
        assert_eq!(p.count, 50, "{}", s.render());
    }
    // hdrhistogram keeps 3 significant digits: a value may read 0.1% low.
    let least = age_us - age_us / 1000;
    assert!(
        all.wait.min() >= least && all.total.min() >= least,
        "every record waited its 2 s before the shard: {}",
        s.render()
    );
    assert!(
        service.max < age_us / 2,
        "the shard's own time does not include the wait: {}",
        s.render()
    );
    let rendered = s.render();
    assert!(rendered.contains("waiting for the shard"), "{rendered}");
}

#[test]
fn a_shard_that_cannot_start_leaves_the_input_unread() {
    // A directory where shard 0's part file must go: the shard fails as it
    // opens its sink, before its first message.
    let out = TempPath::new("unstartable");
    std::fs::create_dir_all(out.0.join("part-0.csv")).expect("the temp dir is writable");
    let source = OneRowBatches::new(None, Duration::ZERO);
    let polls = source.polls.clone();
    let result = Engine::builder()
        .sql("SELECT x FROM t")
        .cores(
            CoreSet::from_list("0", &CoreSet::online_cpus().expect("online CPUs")).expect("core 0"),
        )
        .output(OutputSpec::Directory(out.0.clone()))
        .build_with_source(Box::new(source))
        .expect("the query plans")
        .run();
    let err = result.expect_err("shard 0 cannot open its part file");
    assert!(err.to_string().contains("part-0.csv"), "{err}");
    assert_eq!(
        polls.load(Ordering::Relaxed),
        0,
        "the router waits for its shards before it reads"
    );
}

fn assert_ordered(p: &LatencyPercentiles) {
    assert!(
        p.p50 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max,
        "percentiles in order: {p:?}"
    );
}

#[test]
fn metrics_json_accounts_for_every_record_and_quiet_prints_nothing() {
    // Two malformed records (a bad price, too few fields) and a WHERE that
    // filters some, so each term of the identity is non-zero but `late`.
    let mut csv = format!("{TRADES_HEADER}\n");
    for i in 0..200 {
        csv.push_str(&format!("{i},T{:03},S{},{}.5,{i}\n", i % 7, i % 3, i % 50));
    }
    csv.push_str("200,T001,S1,not-a-price,1\n201,T002\n");
    let input = TempPath::new("metrics-input.csv");
    std::fs::write(&input.0, &csv).expect("the temp file is writable");
    let json_path = TempPath::new("metrics.json");
    let ran = corestream(&[
        "run",
        "--quiet",
        "--input",
        input.str(),
        "--sql",
        "SELECT trader_id, COUNT(*) AS n FROM trades WHERE price > 10 GROUP BY trader_id",
        "--metrics-json",
        json_path.str(),
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.context());
    assert_eq!(ran.stderr, "", "--quiet prints nothing on stderr");
    let text = std::fs::read_to_string(&json_path.0).expect("the metrics file was written");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the metrics are JSON");
    let num = |v: &serde_json::Value, key: &str| -> u64 {
        v[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} is a count in {v}"))
    };
    let total = &json["total"];
    assert_eq!(num(total, "records_in"), 202);
    assert_eq!(num(total, "malformed"), 2);
    assert!(num(total, "filtered") > 0, "{text}");
    assert_eq!(
        num(total, "records_in"),
        num(total, "processed")
            + num(total, "filtered")
            + num(total, "late")
            + num(total, "malformed"),
        "{text}"
    );
    assert_eq!(json["identity_holds"], true);
    assert_eq!(json["stopped"], false);
    assert_eq!(num(&json, "records_read"), 200);
    assert!(
        json["elapsed_s"].as_f64().is_some_and(|s| s > 0.0),
        "{text}"
    );
    assert!(json["records_per_s"].as_f64().is_some(), "{text}");
    let shards = json["shards"].as_array().expect("shards is a list");
    assert!(!shards.is_empty());
    let mut sum = 0;
    let mut parks = 0;
    for s in shards {
        parks += num(s, "parks");
        assert_eq!(
            num(s, "records_in"),
            num(s, "processed") + num(s, "filtered") + num(s, "late") + num(s, "malformed"),
            "{s}"
        );
        sum += num(s, "records_in");
        for key in ["latency_us", "wait_us", "service_us"] {
            let l = &s[key];
            assert_eq!(num(l, "count"), num(s, "records_in"), "{key}");
            assert!(num(l, "p50") <= num(l, "p99") && num(l, "p99") <= num(l, "p999"));
            assert!(num(l, "p999") <= num(l, "max"));
        }
    }
    assert_eq!(sum, 200, "the shards received every decoded record");
    assert_eq!(num(total, "parks"), parks, "{text}");
    for key in ["latency_us", "wait_us", "service_us"] {
        assert_eq!(num(&total[key], "count"), 200, "{key}");
    }
}

#[test]
fn explain_prints_the_plan() {
    let ran = corestream(&[
        "explain",
        "--sql",
        "SELECT symbol, window_start, COUNT(*) AS n FROM trades WHERE price > 100 \
         GROUP BY symbol WINDOW TUMBLING(1m)",
        "--event-time",
        "event_time",
        "--max-out-of-orderness",
        "5s",
        "--allowed-lateness",
        "2s",
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.context());
    let lines: Vec<&str> = ran.stdout.lines().collect();
    for expected in [
        "source: trades",
        "partitioning: by key (symbol, TUMBLE_START(event_time, 60000 ms)), hashed to shards",
        "each shard runs:",
        "  1. filter: price > 100",
        "  2. window aggregate: TUMBLING size 1m on event_time; group by (symbol); aggregates COUNT(*)",
        "  3. project: symbol, window_start, COUNT(*) AS n",
        "emit: FINAL (one row per key and window, when the window closes)",
        "watermark: event time column event_time, max out-of-orderness 5s, allowed lateness 2s",
        "output schema: symbol VARCHAR, window_start TIMESTAMP, n BIGINT",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?}\n{}", ran.stdout);
    }
}

#[test]
fn explain_shows_round_robin_and_single_partitioning() {
    let ran = corestream(&["explain", "--sql", "SELECT price * 2 AS p2 FROM trades"]);
    assert_eq!(ran.code, Some(0), "{}", ran.context());
    assert!(
        ran.stdout.contains("partitioning: round-robin"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("  1. project: price * 2 AS p2"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("emit: CHANGES"), "{}", ran.stdout);
    assert!(ran.stdout.contains("watermark: none"), "{}", ran.stdout);

    let ran = corestream(&[
        "explain",
        "--sql",
        "SELECT COUNT(*) AS n FROM trades EMIT FINAL",
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.context());
    assert!(
        ran.stdout.contains("partitioning: single"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("hash aggregate: no group keys"),
        "{}",
        ran.stdout
    );
    assert!(ran
        .stdout
        .contains("emit: FINAL (one row per group, at end of input)"));
}

#[test]
fn explain_reports_bad_sql_like_run() {
    let ran = corestream(&["explain", "--sql", "SELECT nope FROM trades"]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(ran.stderr.contains("unknown column"), "{}", ran.context());
}

#[test]
fn output_directory_under_a_regular_file_fails_naming_it() {
    let file = TempPath::new("not-a-dir");
    std::fs::write(&file.0, "x").expect("the temp file is writable");
    let out = file.0.join("out");
    let out = out.to_str().expect("UTF-8");
    let ran = corestream(&["run", "--input", common::INPUT, "--output", out]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(
        ran.stderr.contains(out),
        "names the output\n{}",
        ran.context()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.context());
}

#[test]
fn an_unwritable_part_file_fails_naming_the_file_and_shard() {
    // A directory where shard 0's part file goes: creating it fails, even as
    // root (a read-only directory would not stop root).
    let dir = TempPath::new("part-is-dir");
    std::fs::create_dir_all(dir.0.join("part-0.csv")).expect("the temp dir is writable");
    let ran = corestream(&["run", "--input", common::INPUT, "--output", dir.str()]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(
        ran.stderr.contains("shard 0") && ran.stderr.contains("part-0.csv"),
        "names the shard and its output\n{}",
        ran.context()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.context());
}

#[test]
fn a_full_stdout_fails_clearly() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full opens");
    let child = Command::new(BIN)
        .args(["run", "--input", common::INPUT])
        .stdin(Stdio::null())
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let watchdog = Watchdog::new(&child);
    let out = child.wait_with_output().expect("the binary runs");
    assert!(!watchdog.disarm(), "the run hung and was killed");
    let ran = Ran::from(out);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(
        ran.stderr.contains("stdout") && ran.stderr.contains("No space left on device"),
        "{}",
        ran.context()
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.context());
}

/// Runs the binary with its stderr on a new pseudo-terminal; returns the exit
/// code, stdout, and everything written to the terminal.
fn corestream_on_a_terminal(args: &[&str]) -> (Option<i32>, String, String) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two fds into the valid locations passed; the
    // name, termios and winsize pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty succeeded, so both are open fds that nothing else owns.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("the binary starts");
    // The parent's copy of the slave end went into the Command and is
    // closed now, so reading the master ends (EIO) when the child exits.
    let reader = thread::spawn(move || {
        let mut terminal = std::fs::File::from(master);
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match terminal.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => bytes.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let watchdog = Watchdog::new(&child);
    let out = child.wait_with_output().expect("the binary runs");
    assert!(!watchdog.disarm(), "the run hung and was killed");
    let terminal = reader.join().expect("the terminal reader does not panic");
    (
        out.status.code(),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        terminal,
    )
}

#[test]
fn a_long_run_on_a_terminal_shows_progress_then_the_summary() {
    // 2.5 s of paced input: progress starts after 1 s, every 500 ms.
    let (code, stdout, terminal) = corestream_on_a_terminal(&[
        "run",
        "--input",
        "gen:trades?records=25000&rate=10000",
        "--sql",
        PROJECT,
    ]);
    assert_eq!(code, Some(0), "{terminal}");
    assert_eq!(stdout.lines().count(), 25_001, "{terminal}");
    let progress = terminal
        .split('\r')
        .find(|l| l.contains(" rec/s") && l.contains("backlog"))
        .unwrap_or_else(|| panic!("no progress line on the terminal: {terminal:?}"));
    assert!(progress.contains(" s: in "), "{progress:?}");
    assert!(progress.contains("backlog 0:"), "{progress:?}");
    // The progress line is cleared before the summary.
    assert!(terminal.contains("\r\x1b[K"), "{terminal:?}");
    assert!(terminal.contains("(holds)"), "{terminal:?}");
}

#[test]
fn quiet_prints_nothing_even_on_a_terminal() {
    let (code, _, terminal) = corestream_on_a_terminal(&[
        "run",
        "--quiet",
        "--input",
        "gen:trades?records=15000&rate=10000",
        "--sql",
        PROJECT,
    ]);
    assert_eq!(code, Some(0), "{terminal}");
    assert_eq!(terminal, "", "--quiet writes nothing on stderr");
}

#[test]
fn no_progress_line_when_stderr_is_not_a_terminal() {
    let ran = corestream(&[
        "run",
        "--input",
        "gen:trades?records=15000&rate=10000",
        "--sql",
        PROJECT,
    ]);
    assert_eq!(ran.code, Some(0), "{}", ran.context());
    assert!(!ran.stderr.contains("backlog"), "{}", ran.context());
    assert!(!ran.stderr.contains('\r'), "{}", ran.context());
}
