//! Joins that read a derived table against SQLite: a window aggregate
//! joined back to its own input (Nexmark q7's shape), a window join of two
//! windowed subqueries on key and window, and a WITH name read on both
//! sides of a join (Nexmark q5's shape), and a self-join; each on 1 and 2
//! shards at several batch sizes, every configuration giving exactly the
//! same rows. Then the same through the CLI from a file read twice, and
//! the refusals.

mod process;
mod support;

use corestream::data::{DataType, Value};
use process::{corestream, corestream_with_stdin, temp_file};
use support::*;

const T0: i64 = 1_767_225_600_000;

/// Largest event-time disorder (ms), and the watermark bound.
const BOUND: u64 = 600;

/// `s(id, k, g, v, ts)`: 5 000 rows, `k` over 9 keys (some NULL), `g`
/// 0..3, `v` with many ties, `ts` 30 ms apart and up to [`BOUND`] early.
fn table() -> Table {
    let mut rng = Rng::new(11);
    let mut t = Table::new(&[
        ("id", DataType::Int64),
        ("k", DataType::Utf8),
        ("g", DataType::Int64),
        ("v", DataType::Int64),
        ("ts", DataType::Int64),
    ]);
    for id in 0..5_000i64 {
        let k = match rng.range(0, 30) {
            0 => Value::Null,
            r => Value::Utf8(format!("k{}", r % 9)),
        };
        t.rows.push(vec![
            Value::Int64(id),
            k,
            Value::Int64(rng.range(0, 3)),
            Value::Int64(rng.range(0, 60)),
            Value::Int64(T0 + BOUND as i64 + id * 30 - rng.range(0, BOUND as i64 - 1)),
        ]);
    }
    t
}

fn sqlite(t: &Table) -> rusqlite::Connection {
    sqlite_table(t, "s")
}

const CONFIGS: &[(&str, usize, usize)] = &[("0", 4096, 4096), ("0-1", 4096, 999), ("0-1", 7, 13)];

/// Runs `corestream_sql` in every configuration: each must give exactly
/// SQLite's rows for `sqlite_sql`, and the run's accounting must hold.
fn check(name: &str, corestream_sql: &str, sqlite_sql: &str) {
    let t = table();
    let want = sqlite_rows(&sqlite(&t), sqlite_sql);
    assert!(!want.is_empty(), "{name}: SQLite returned no rows");
    for &(cores, batch_size, chunk) in CONFIGS {
        let config = RunConfig {
            cores,
            batch_size,
            chunks: vec![chunk],
            event_time: Some(EventTime {
                column: "ts",
                max_out_of_orderness: BOUND,
                allowed_lateness: 0,
            }),
        };
        let out = run(corestream_sql, &t, &config);
        assert!(
            out.summary.identity_holds(),
            "{name} {config:?}:\n{}",
            out.summary.render()
        );
        assert_eq!(out.summary.total().late, 0, "{name} {config:?}");
        if let Err(e) = compare_rows(&result_rows(&out), &want, 0.0) {
            panic!("{name} {config:?} differs from SQLite: {e}");
        }
    }
}

#[test]
fn a_window_aggregate_joined_back_to_its_input() {
    check(
        "rows holding their window's top value (q7)",
        "SELECT s.id, s.k, s.v FROM s \
         JOIN (SELECT MAX(v) AS top, TUMBLE_END(ts, INTERVAL '1' SECOND) AS we \
               FROM s GROUP BY TUMBLE(ts, INTERVAL '1' SECOND)) m \
         ON s.v = m.top \
         WHERE s.ts BETWEEN m.we - INTERVAL '1' SECOND AND m.we",
        "SELECT s.id, s.k, s.v FROM s \
         JOIN (SELECT MAX(v) AS top, (ts / 1000) * 1000 + 1000 AS we FROM s GROUP BY ts / 1000) m \
         ON s.v = m.top WHERE s.ts BETWEEN m.we - 1000 AND m.we",
    );
}

#[test]
fn a_window_join_of_two_windowed_subqueries() {
    check(
        "per key and window: all rows against group 1's (q8's shape)",
        "SELECT a.k, a.ws, a.n, b.total FROM \
         (SELECT k, TUMBLE_START(ts, INTERVAL '2' SECOND) AS ws, \
                 TUMBLE_END(ts, INTERVAL '2' SECOND) AS we, COUNT(*) AS n \
          FROM s GROUP BY k, TUMBLE(ts, INTERVAL '2' SECOND)) a \
         JOIN (SELECT k, window_start AS ws, window_end AS we, SUM(v) AS total \
               FROM s WHERE g = 1 GROUP BY k, TUMBLE(ts, INTERVAL '2' SECOND)) b \
         ON a.k = b.k AND a.ws = b.ws AND a.we = b.we",
        "SELECT a.k, a.ws, a.n, b.total FROM \
         (SELECT k, (ts / 2000) * 2000 AS ws, COUNT(*) AS n FROM s GROUP BY k, ts / 2000) a \
         JOIN (SELECT k, (ts / 2000) * 2000 AS ws, SUM(v) AS total FROM s WHERE g = 1 \
               GROUP BY k, ts / 2000) b \
         ON a.k = b.k AND a.ws = b.ws",
    );
}

#[test]
fn a_with_name_read_on_both_sides_of_a_join() {
    check(
        "the busiest keys per window (q5's shape)",
        "WITH counts AS (SELECT k, window_start AS ws, window_end AS we, COUNT(*) AS n \
                         FROM s GROUP BY k, TUMBLE(ts, INTERVAL '2' SECOND)) \
         SELECT c.k, c.ws, c.n FROM counts c \
         JOIN (SELECT k, window_start AS ws, window_end AS we, COUNT(*) AS n \
               FROM s WHERE g = 0 GROUP BY k, TUMBLE(ts, INTERVAL '2' SECOND)) z \
         ON c.k = z.k AND c.we = z.we AND c.n >= 3 * z.n",
        "WITH counts AS (SELECT k, (ts / 2000) * 2000 AS ws, COUNT(*) AS n FROM s \
                         GROUP BY k, ts / 2000) \
         SELECT c.k, c.ws, c.n FROM counts c \
         JOIN (SELECT k, (ts / 2000) * 2000 AS ws, COUNT(*) AS n FROM s WHERE g = 0 \
               GROUP BY k, ts / 2000) z \
         ON c.k = z.k AND c.ws = z.ws AND c.n >= 3 * z.n",
    );
}

#[test]
fn the_top_keys_per_hopping_window() {
    // A join of counts per key and window with their maximum per window,
    // an aggregate over closed windows grouped by the window; `c.n >=
    // m.top` compares two BIGINTs and is a filter, not a time bound.
    let counts =
        "SELECT k, COUNT(*) AS n, HOP_START(ts, INTERVAL '1' SECOND, INTERVAL '3' SECOND) AS ws, \
                  HOP_END(ts, INTERVAL '1' SECOND, INTERVAL '3' SECOND) AS we \
                  FROM s GROUP BY k, HOP(ts, INTERVAL '1' SECOND, INTERVAL '3' SECOND)";
    let windows = "SELECT k, ws, COUNT(*) AS n FROM \
                   (SELECT k, (ts / 1000) * 1000 - 1000 * o AS ws FROM s, \
                    (SELECT 0 AS o UNION ALL SELECT 1 UNION ALL SELECT 2)) GROUP BY k, ws";
    check(
        "hot keys (q5)",
        &format!(
            "SELECT c.k, c.ws, c.n FROM ({counts}) c \
             JOIN (SELECT MAX(n) AS top, ws, we FROM ({counts}) x GROUP BY ws, we) m \
             ON c.ws = m.ws AND c.we = m.we AND c.n >= m.top"
        ),
        &format!(
            "WITH w AS ({windows}) SELECT c.k, c.ws, c.n FROM w c \
             JOIN (SELECT MAX(n) AS top, ws FROM w GROUP BY ws) m ON c.ws = m.ws AND c.n >= m.top"
        ),
    );
}

#[test]
fn a_self_join_reads_its_input_twice() {
    check(
        "each row against the same key's rows up to 100 ms later",
        "SELECT a.id, b.id AS later, b.v - a.v AS change FROM s a JOIN s b \
         ON a.k = b.k AND b.ts BETWEEN a.ts + 1 AND a.ts + 100",
        "SELECT a.id, b.id, b.v - a.v FROM s a JOIN s b \
         ON a.k = b.k AND b.ts BETWEEN a.ts + 1 AND a.ts + 100",
    );
}

#[test]
fn a_self_join_without_aliases_is_refused() {
    let file = temp_file("derived-joins-self.csv", "id,k,v,ts\n1,a,2,3\n");
    let out = corestream(&[
        "run",
        "--sql",
        "CREATE STREAM s (id BIGINT, k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts');
         SELECT s.id FROM s JOIN s ON s.k = s.k AND s.ts BETWEEN s.ts AND s.ts + 1",
        "--input",
        &format!("s={}", file.str()),
    ]);
    assert_eq!(out.code, Some(2), "{}", out.context());
    assert!(
        out.stderr.contains("needs an alias on each side"),
        "{}",
        out.stderr
    );
}

const CLI_QUERY: &str = "\
CREATE STREAM s (id BIGINT, k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts', watermark = '1s');
SELECT s.id, s.v FROM s
JOIN (SELECT MAX(v) AS top, TUMBLE_END(ts, INTERVAL '1' SECOND) AS we
      FROM s GROUP BY TUMBLE(ts, INTERVAL '1' SECOND)) m
ON s.v = m.top
WHERE s.ts BETWEEN m.we - INTERVAL '1' SECOND AND m.we";

#[test]
fn the_cli_reads_a_file_twice_for_a_join_back_on_any_core_count() {
    let mut csv = String::from("id,k,v,ts\n");
    for i in 0..3_000u64 {
        // Up to 700 ms out of order: within the 1 s watermark.
        let ts = 100_000 + i * 25 - (i * 7919) % 700;
        csv.push_str(&format!("{i},k{},{},{ts}\n", i % 7, (i * 31) % 97));
    }
    let file = temp_file("derived-joins-s.csv", csv);
    let path = file.str();
    let mut results = Vec::new();
    for cores in ["0", "0-1"] {
        let out = corestream(&[
            "run",
            "--sql",
            CLI_QUERY,
            "--input",
            &format!("s={path}"),
            "--cores",
            cores,
        ]);
        out.assert_success();
        let mut rows: Vec<String> = out.stdout.lines().skip(1).map(str::to_owned).collect();
        rows.sort();
        results.push(rows);
    }
    assert!(results[0].len() > 20, "{:?}", results[0]);
    assert_eq!(results[0], results[1]);
    let explain = corestream(&[
        "explain",
        "--sql",
        CLI_QUERY,
        "--input",
        &format!("s={path}"),
    ]);
    explain.assert_success();
    assert!(
        explain
            .stdout
            .contains("exchange 1: stage 1's rows to every shard's stage 2 (its joined input)"),
        "{}",
        explain.stdout
    );
}

#[test]
fn a_join_of_a_subquery_that_changes_until_the_end_is_refused() {
    let file = temp_file("derived-joins-refused.csv", "id,k,v,ts\n1,a,2,3\n");
    let out = corestream(&[
        "run",
        "--sql",
        "CREATE STREAM s (id BIGINT, k VARCHAR, v BIGINT, ts BIGINT) WITH (event_time = 'ts');
         SELECT s.id FROM s JOIN (SELECT k, MAX(v) AS top FROM s GROUP BY k) m ON s.k = m.k",
        "--input",
        &format!("s={}", file.str()),
    ]);
    assert_eq!(out.code, Some(2), "{}", out.context());
    assert!(
        out.stderr.contains("joining them would need retractions"),
        "{}",
        out.stderr
    );
}

#[test]
fn stdin_cannot_be_read_twice() {
    let out = corestream_with_stdin(&[
        "run",
        "--sql",
        "SELECT s.id FROM s JOIN (SELECT MAX(id) AS top, TUMBLE_END(ts, INTERVAL '1' SECOND) AS we \
         FROM s GROUP BY TUMBLE(ts, INTERVAL '1' SECOND)) m ON s.id = m.top \
         WHERE s.ts BETWEEN m.we - INTERVAL '1' SECOND AND m.we",
        "--schema",
        "id BIGINT, ts BIGINT",
        "--event-time",
        "ts",
        "--input",
        "-",
    ], "id,ts\n1,2\n");
    assert_eq!(out.code, Some(2), "{}", out.context());
    assert!(out.stderr.contains("can be read once"), "{}", out.stderr);
}
