//! Checkpoints and recovery through the CLI: runs killed with SIGKILL (or
//! aborted at each step of a commit) and run again give exactly the output
//! of a run that was never interrupted.

mod kills;
mod process;

use kills::{newest, rows, run_with_kills, spawn, stderr_of, wait_running};
use process::{corestream, Ran, TempPath};
use std::path::Path;

/// Keyed events with event times that run up with jitter: `k,v,ts`.
fn events(tag: &str, rows: u64) -> TempPath {
    events_seeded(tag, rows, 0)
}

/// [`events`], another random draw for each `seed`.
fn events_seeded(tag: &str, rows: u64, seed: u64) -> TempPath {
    let mut text = String::from("k,v,ts\n");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
    for i in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let ts = 1_700_000_000_000 + i as i64 * 10 - (x % 2000) as i64;
        text.push_str(&format!("k{},{},{ts}\n", x % 211, (x >> 20) % 100));
    }
    process::temp_file(tag, text)
}

const WINDOWS: &str = "SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS s, \
     MAX(v) AS m FROM t GROUP BY k, HOP(ts, INTERVAL '10' SECOND, INTERVAL '30' SECOND) \
     EMIT FINAL";
const CHANGES: &str = "SELECT k, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY k EMIT CHANGES";
const FINAL: &str = "SELECT k, COUNT(*) AS n, SUM(v) AS s, AVG(v) AS a, \
     COUNT(DISTINCT v) AS d FROM t GROUP BY k EMIT FINAL";

/// The arguments of a run of `sql` over `input` (inputs `NAME=SPEC`
/// separated by spaces, or one unnamed spec) into `out`, checkpointing
/// into `ck`, on `cores`.
fn args(sql: &str, input: &str, out: &Path, ck: &Path, cores: &str) -> Vec<String> {
    let mut a: Vec<String> = ["run", "--sql", sql].map(String::from).to_vec();
    for spec in input.split(' ') {
        a.extend(["--input".into(), spec.into()]);
    }
    let (out, ck) = (out.display().to_string(), ck.display().to_string());
    let readers = if sql == FINAL { "2" } else { "1" };
    a.extend(
        [
            "--max-out-of-orderness",
            "3s",
            "--output",
            &out,
            "--cores",
            cores,
            "--checkpoint-dir",
            &ck,
            "--checkpoint-interval",
            "5ms",
            "--batch-size",
            "64",
            "--readers",
            readers,
            "-q",
        ]
        .map(String::from),
    );
    // The trades generator's event time is its own column.
    if !input.starts_with("gen:") {
        a.extend(["--event-time".into(), "ts".into()]);
    }
    a
}

/// The rows of an uninterrupted run (its own checkpoint directory).
fn reference(sql: &str, input: &str, tag: &str) -> Vec<String> {
    let (out, ck) = (
        TempPath::new(&format!("{tag}-ref")),
        TempPath::new(&format!("{tag}-refck")),
    );
    let ran = corestream(
        &args(sql, input, &out.0, &ck.0, "0-1")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    ran.assert_success();
    rows(&out.0)
}

fn check_exact_after_kills(sql: &str, tag: &str, seed: u64) {
    let input = events(&format!("{tag}-in.csv"), 400_000);
    check_exact_over(sql, input.str(), tag, seed);
}

fn check_exact_over(sql: &str, input: &str, tag: &str, seed: u64) {
    let want = reference(sql, input, tag);
    assert!(want.len() >= 211, "the reference has rows");
    let (out, ck) = (
        TempPath::new(&format!("{tag}-out")),
        TempPath::new(&format!("{tag}-ck")),
    );
    let kills = run_with_kills(
        |cores| args(sql, input, &out.0, &ck.0, cores),
        &ck.0,
        6,
        seed,
    );
    assert!(kills >= 2, "only {kills} kills landed mid-run");
    let got = rows(&out.0);
    assert_eq!(got.len(), want.len(), "rows after {kills} kills");
    assert!(got == want, "the rows differ after {kills} kills");
}

#[test]
fn windows_emit_final_are_exact_across_kills_and_core_counts() {
    check_exact_after_kills(WINDOWS, "windows", 7);
}

/// Two streams in an interval join, windowed after: both inputs' positions
/// and both sides' held rows are in the checkpoint.
#[test]
fn an_interval_join_with_windows_is_exact_across_kills_and_core_counts() {
    let (a, b) = (
        events_seeded("join-a.csv", 150_000, 3),
        events_seeded("join-b.csv", 150_000, 5),
    );
    let sql = "CREATE STREAM a (k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts', \
               watermark = '3s'); \
               CREATE STREAM b (k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts', \
               watermark = '3s'); \
               SELECT a.k, window_start, COUNT(*) AS n, SUM(b.v) AS s FROM a JOIN b \
               ON a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts \
               GROUP BY a.k, TUMBLE(a.ts, INTERVAL '10' SECOND) EMIT FINAL";
    let inputs = format!("a={} b={}", a.str(), b.str());
    check_exact_over(sql, &inputs, "join", 19);
}

/// Two stages over the exchange: per-key windows of a second, then their
/// ten-second totals over all keys (re-keyed by window). Each stage is
/// snapshotted once aligned, the first before the second.
#[test]
fn stages_over_the_exchange_are_exact_across_kills() {
    let sql = "SELECT window_start, COUNT(*) AS windows, SUM(n) AS total, MAX(n) AS top \
               FROM (SELECT k, window_end AS t, COUNT(*) AS n FROM t \
               GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND)) \
               GROUP BY TUMBLE(t, INTERVAL '10' SECOND) EMIT FINAL";
    let input = events("stages-in.csv", 400_000);
    let want = reference(sql, input.str(), "stages");
    let (out, ck) = (TempPath::new("stages-out"), TempPath::new("stages-ck"));
    // The outer windows are routed by their start alone.
    let kills = run_with_kills(
        |cores| args(sql, input.str(), &out.0, &ck.0, cores),
        &ck.0,
        6,
        23,
    );
    assert!(kills >= 2, "only {kills} kills landed mid-run");
    assert!(rows(&out.0) == want, "the rows differ after {kills} kills");
}

/// Top-N per key at end of input: every group's best rows are held the
/// whole run, and split by key onto another number of shards.
#[test]
fn top_n_is_exact_across_kills_and_core_counts() {
    let sql = "SELECT k, v, ts, rn FROM (SELECT k, v, ts, ROW_NUMBER() OVER \
               (PARTITION BY k ORDER BY v DESC, ts) AS rn FROM t) WHERE rn <= 2 EMIT FINAL";
    check_exact_after_kills(sql, "top", 29);
}

/// A run stopped by SIGTERM drains and keeps its checkpoints: run again,
/// it goes on from the last one (the rows it wrote while draining are cut
/// back), and the output is exact.
#[test]
fn a_run_stopped_by_sigterm_goes_on_from_its_last_checkpoint() {
    let input = events("term-in.csv", 400_000);
    let want = reference(WINDOWS, input.str(), "term");
    let (out, ck) = (TempPath::new("term-out"), TempPath::new("term-ck"));
    let a = args(WINDOWS, input.str(), &out.0, &ck.0, "0-1");
    let mut child = spawn(&a, None);
    assert!(
        wait_running(&mut child, || newest(&ck.0) >= 2),
        "ended too soon"
    );
    process::signal(&child, libc::SIGTERM);
    let status = child.wait().expect("the child ends");
    assert_eq!(status.code(), Some(143), "{}", stderr_of(&mut child));
    run(&a).assert_success();
    assert!(rows(&out.0) == want, "the rows differ after a SIGTERM");
}

/// A lookup join against a table file (read first): partitioned with the
/// stream when the windows after it are keyed by the join key, copied to
/// every shard when a projection follows.
#[test]
fn lookup_joins_are_exact_across_kills_and_core_counts() {
    let stream = events("lookup-t.csv", 300_000);
    let table: String = std::iter::once("k,lot\n".to_owned())
        .chain((0..211).map(|k| format!("k{k},{}\n", k % 7 + 1)))
        .collect();
    let table = process::temp_file("lookup-lots.csv", table);
    let inputs = format!("t={} lots={}", stream.str(), table.str());
    let decl = "CREATE STREAM t (k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts', \
                watermark = '3s'); \
                CREATE TABLE lots (k VARCHAR, lot BIGINT, PRIMARY KEY (k)); ";
    let keyed = format!(
        "{decl} SELECT t.k, window_start, COUNT(*) AS n, SUM(t.v * l.lot) AS s FROM t \
         JOIN lots l ON t.k = l.k GROUP BY t.k, TUMBLE(t.ts, INTERVAL '10' SECOND) EMIT FINAL"
    );
    check_exact_over(&keyed, &inputs, "lookup-keyed", 37);
    let copied =
        format!("{decl} SELECT t.k, t.ts, t.v * l.lot AS w FROM t JOIN lots l ON t.k = l.k");
    check_exact_over(&copied, &inputs, "lookup-copied", 41);
}

/// An ASOF join of two streams: the right rows each key holds and the left
/// rows waiting for the watermarks are in the checkpoint.
#[test]
fn asof_joins_are_exact_across_kills_and_core_counts() {
    let (t, q) = (
        events_seeded("asof-t.csv", 150_000, 7),
        events_seeded("asof-q.csv", 150_000, 9),
    );
    let sql = "CREATE STREAM t (k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts', \
               watermark = '3s'); \
               CREATE STREAM q (k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts', \
               watermark = '3s'); \
               SELECT t.k, t.ts, t.v, q.v AS quote FROM t ASOF JOIN q \
               ON t.k = q.k AND t.ts >= q.ts";
    let inputs = format!("t={} q={}", t.str(), q.str());
    check_exact_over(sql, &inputs, "asof", 43);
}

/// UNION ALL of two files, windowed after it in a stage of its own.
#[test]
fn union_all_is_exact_across_kills_and_core_counts() {
    let (a, b) = (
        events_seeded("union-a.csv", 150_000, 11),
        events_seeded("union-b.csv", 150_000, 13),
    );
    let sql = "CREATE STREAM a (k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts', \
               watermark = '3s'); \
               CREATE STREAM b (k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts', \
               watermark = '3s'); \
               SELECT k, window_start, COUNT(*) AS n, SUM(v) AS s FROM \
               (SELECT k, v, ts FROM a UNION ALL SELECT k, v, ts FROM b) \
               GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND) EMIT FINAL";
    let inputs = format!("a={} b={}", a.str(), b.str());
    check_exact_over(sql, &inputs, "union", 47);
}

/// OVER windows: each partition's frame (a bounded SUM, MIN and MAX), LAG
/// values and rows waiting for their LEAD.
#[test]
fn row_windows_are_exact_across_kills_and_core_counts() {
    let sql = "SELECT k, ts, v, \
               SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS s, \
               MAX(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) AS m, \
               LAG(v, 2) OVER (PARTITION BY k ORDER BY ts) AS before, \
               LEAD(v, 1) OVER (PARTITION BY k ORDER BY ts) AS after FROM t";
    check_exact_after_kills(sql, "rows", 53);
}

#[test]
fn the_trades_generator_goes_on_from_its_checkpoint() {
    let spec = "gen:trades?records=400000&traders=20&symbols=10&seed=7&rate=400000";
    let sql = "SELECT trader_id, symbol, COUNT(*) AS n, AVG(price) AS p, \
               SUM(quantity) AS q FROM trades GROUP BY trader_id, symbol EMIT FINAL";
    let want = reference(sql, spec, "gen");
    let (out, ck) = (TempPath::new("gen-out"), TempPath::new("gen-ck"));
    let kills = run_with_kills(|cores| args(sql, spec, &out.0, &ck.0, cores), &ck.0, 4, 17);
    assert!(kills >= 2, "only {kills} kills landed mid-run");
    assert!(rows(&out.0) == want, "the rows differ after {kills} kills");
}

/// A row window over a subquery: the rows it holds to sort, until the
/// watermark passes them (up to the 3 s bound of rows), are in each
/// checkpoint, and split by key onto another number of shards.
#[test]
fn a_row_window_over_a_subquery_is_exact_across_kills_and_core_counts() {
    let sql = "SELECT k, ts, v, SUM(v) OVER (PARTITION BY k ORDER BY ts \
               ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s3 \
               FROM (SELECT k, v, ts FROM t WHERE v >= 10) f";
    check_exact_after_kills(sql, "sorted", 37);
}

#[test]
fn session_windows_are_exact_across_kills_and_core_counts() {
    let sql = "SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS s FROM t \
               GROUP BY k, SESSION(ts, INTERVAL '300' MILLISECOND) EMIT FINAL";
    check_exact_after_kills(sql, "sessions", 31);
}

#[test]
fn emit_changes_are_exact_across_kills_and_core_counts() {
    check_exact_after_kills(CHANGES, "changes", 11);
}

#[test]
fn grouped_emit_final_read_in_parallel_is_exact_across_kills() {
    check_exact_after_kills(FINAL, "final", 13);
}

/// A crash at each step of a commit (state files written, manifest half
/// written, manifest renamed) and while recovery cuts part files back.
#[test]
fn recovery_is_exact_after_a_crash_at_each_step_of_a_commit() {
    let input = events("steps-in.csv", 200_000);
    let want = reference(WINDOWS, input.str(), "steps");
    for step in ["state-written", "manifest-half", "manifest-renamed"] {
        let (out, ck) = (TempPath::new("steps-out"), TempPath::new("steps-ck"));
        let a = args(WINDOWS, input.str(), &out.0, &ck.0, "0-1");
        let mut child = spawn(&a, Some(&format!("{step}@3")));
        let status = child.wait().expect("the child ends");
        assert!(!status.success(), "{step}: the fault did not stop the run");
        // Recovery itself crashes once, while cutting part files back.
        let resumed = newest(&ck.0);
        let mut child = spawn(&a, Some(&format!("truncating@{resumed}")));
        child.wait().expect("the child ends");
        let mut child = spawn(&a, None);
        let status = child.wait().expect("the child ends");
        assert!(status.success(), "{step}: {}", stderr_of(&mut child));
        assert!(rows(&out.0) == want, "{step}: the rows differ");
    }
}

fn run(args: &[String]) -> Ran {
    corestream(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn a_damaged_checkpoint_is_skipped_for_the_one_before_with_a_message() {
    let input = events("damaged-in.csv", 200_000);
    let want = reference(WINDOWS, input.str(), "damaged");
    let (out, ck) = (TempPath::new("damaged-out"), TempPath::new("damaged-ck"));
    let a = args(WINDOWS, input.str(), &out.0, &ck.0, "0-1");
    let mut child = spawn(&a, Some("state-written@6"));
    assert!(!child.wait().expect("ends").success());
    // Checkpoints 4 and 5 are kept; damage 5's state file.
    let state = ck.0.join("state-0000000005-0.bin");
    let mut bytes = std::fs::read(&state).expect("checkpoint 5 was written");
    let at = bytes.len() - 1;
    bytes[at] ^= 0xff;
    std::fs::write(&state, bytes).expect("writable");
    let mut quiet = a.clone();
    quiet.retain(|x| x != "-q");
    let ran = run(&quiet);
    ran.assert_success();
    assert!(
        ran.stderr.contains("skipped checkpoint 5") && ran.stderr.contains("checksum"),
        "{}",
        ran.context()
    );
    assert!(rows(&out.0) == want, "the rows differ");
}

#[test]
fn a_checkpoint_of_another_query_is_refused_unless_asked_to_start_fresh() {
    let input = events("other-in.csv", 100_000);
    let (out, ck) = (TempPath::new("other-out"), TempPath::new("other-ck"));
    let a = args(WINDOWS, input.str(), &out.0, &ck.0, "0-1");
    let mut child = spawn(&a, Some("state-written@3"));
    assert!(!child.wait().expect("ends").success());
    let other = args(CHANGES, input.str(), &out.0, &ck.0, "0-1");
    let ran = run(&other);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(ran.stderr.contains("another query"), "{}", ran.context());
    let mut fresh = other.clone();
    fresh.push("--checkpoint-fresh".into());
    run(&fresh).assert_success();
    assert_eq!(rows(&out.0), reference(CHANGES, input.str(), "other"));
}

#[test]
fn a_finished_run_leaves_the_next_one_to_start_from_the_beginning() {
    let input = events("again-in.csv", 20_000);
    let (out, ck) = (TempPath::new("again-out"), TempPath::new("again-ck"));
    let a = args(FINAL, input.str(), &out.0, &ck.0, "0-1");
    run(&a).assert_success();
    let first = rows(&out.0);
    run(&a).assert_success();
    assert_eq!(rows(&out.0), first);
}

#[test]
fn what_checkpoints_do_not_cover_is_refused_up_front() {
    let input = events("refuse-in.csv", 10);
    let (out, ck) = (TempPath::new("refuse-out"), TempPath::new("refuse-ck"));
    let cases = [
        ("SELECT k FROM t", "-", "a file"),
        ("SELECT k FROM t", "tcp://127.0.0.1:9", "a file"),
    ];
    for (sql, spec, says) in cases {
        let mut a = args(sql, input.str(), &out.0, &ck.0, "0");
        a[4] = spec.into();
        let ran = run(&a);
        assert_eq!(ran.code, Some(2), "{sql} over {spec}: {}", ran.context());
        assert!(ran.stderr.contains(says), "{sql}: {}", ran.context());
    }
}
