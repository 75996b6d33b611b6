//! Queries of several stages against SQLite: an aggregate over an
//! aggregate, an aggregate over closed windows, Top-N over windows and at
//! end of input, and WITH; each on 1 and 2 shards at several batch sizes,
//! every configuration giving exactly the same rows. Then the exchange
//! under stress: rings of one message, batches of one row and one hot key.

mod support;

use corestream::data::{DataType, Value};
use corestream::io::sink::OutputSpec;
use corestream::runtime::router::Batching;
use corestream::Engine;
use std::time::Duration;
use support::*;

const T0: i64 = 1_767_225_600_000;

/// Largest event-time disorder (ms), and the watermark bound.
const BOUND: u64 = 800;

/// `s(id, k, g, v, ts)`: 6 000 rows, `k` skewed over 12 keys (some NULL),
/// `g` 0..4, `ts` 40 ms apart and up to [`BOUND`] early.
fn table() -> Table {
    let mut rng = Rng::new(5);
    let mut t = Table::new(&[
        ("id", DataType::Int64),
        ("k", DataType::Utf8),
        ("g", DataType::Int64),
        ("v", DataType::Int64),
        ("ts", DataType::Int64),
    ]);
    for id in 0..6_000i64 {
        let k = match rng.range(0, 40) {
            0 => Value::Null,
            r if r < 20 => Value::Utf8("hot".into()),
            r => Value::Utf8(format!("k{}", r % 11)),
        };
        t.rows.push(vec![
            Value::Int64(id),
            k,
            Value::Int64(rng.range(0, 4)),
            Value::Int64(rng.range(-50, 500)),
            Value::Int64(T0 + BOUND as i64 + id * 40 - rng.range(0, BOUND as i64 - 1)),
        ]);
    }
    t
}

fn sqlite(t: &Table) -> rusqlite::Connection {
    sqlite_table(t, "s")
}

const CONFIGS: &[(&str, usize, usize)] = &[("0", 4096, 4096), ("0-1", 4096, 999), ("0-1", 5, 17)];

/// Runs `corestream_sql` in every configuration: each must give exactly
/// the first's rows, and those must be SQLite's for `sqlite_sql`.
fn check(name: &str, corestream_sql: &str, sqlite_sql: &str) {
    let t = table();
    let want = sqlite_rows(&sqlite(&t), sqlite_sql);
    assert!(!want.is_empty(), "{name}: SQLite returned no rows");
    let mut first = None;
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
        let got = result_rows(&out);
        if let Err(e) = compare_rows(&got, &want, 0.0) {
            panic!("{name} {config:?} differs from SQLite: {e}");
        }
        match &first {
            None => first = Some(got),
            Some(first) => assert!(compare_rows(&got, first, 0.0).is_ok(), "{name} {config:?}"),
        }
    }
}

#[test]
fn an_aggregate_over_an_aggregate_under_emit_final() {
    let inner = "SELECT g, k, COUNT(*) AS n, SUM(v) AS total FROM s GROUP BY g, k";
    check(
        "subquery",
        &format!(
            "SELECT g, COUNT(*) AS keys, SUM(n) AS n, MAX(total) AS top FROM ({inner}) x \
             GROUP BY g EMIT FINAL"
        ),
        &format!("SELECT g, COUNT(*), SUM(n), MAX(total) FROM ({inner}) x GROUP BY g"),
    );
    check(
        "with",
        &format!(
            "WITH x AS ({inner}) SELECT g, COUNT(*) AS keys, SUM(n) AS n, MAX(total) AS top \
             FROM x WHERE n > 3 GROUP BY g EMIT FINAL"
        ),
        &format!(
            "WITH x AS ({inner}) SELECT g, COUNT(*), SUM(n), MAX(total) FROM x WHERE n > 3 GROUP BY g"
        ),
    );
}

#[test]
fn an_aggregate_over_closed_windows_emits_each_window_once() {
    check(
        "windows of windows",
        "SELECT window_start, window_end, COUNT(*) AS keys, MAX(n) AS top, SUM(total) AS total FROM \
         (SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS total FROM s \
          GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND)) w \
         GROUP BY window_start, window_end",
        "SELECT ws, ws + 1000, COUNT(*), MAX(n), SUM(total) FROM \
         (SELECT k, (ts / 1000) * 1000 AS ws, COUNT(*) AS n, SUM(v) AS total FROM s \
          GROUP BY k, ts / 1000) GROUP BY ws",
    );
}

#[test]
fn top_n_per_window_and_at_end_of_input() {
    check(
        "top 2 keys per window",
        "SELECT k, window_start, n, rn FROM (\
           SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rn \
           FROM (SELECT k, window_start, window_end, COUNT(*) AS n FROM s \
                 GROUP BY k, TUMBLE(ts, INTERVAL '2' SECOND)) w) \
         WHERE rn <= 2",
        "SELECT k, ws, n, rn FROM (\
           SELECT k, ws, n, ROW_NUMBER() OVER (PARTITION BY ws ORDER BY n DESC, k IS NULL, k) AS rn \
           FROM (SELECT k, (ts / 2000) * 2000 AS ws, COUNT(*) AS n FROM s GROUP BY k, ts / 2000)) \
         WHERE rn <= 2",
    );
    check(
        "top 3 rows per group at end of input",
        "SELECT g, id, v, rn FROM (\
           SELECT id, g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC) AS rn FROM s) \
         WHERE rn <= 3 EMIT FINAL",
        "SELECT g, id, v, rn FROM (\
           SELECT id, g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC, id) AS rn FROM s) \
         WHERE rn <= 3",
    );
}

/// Rings of one message, batches of one row and a hot key on two pinned
/// shards: the exchange must neither deadlock nor lose a row.
#[test]
fn the_exchange_survives_tiny_rings_and_skewed_keys() {
    let t = table();
    let sql = "SELECT window_start, COUNT(*) AS keys, SUM(n) AS n FROM \
               (SELECT k, g, window_start, window_end, COUNT(*) AS n FROM s \
                GROUP BY k, g, TUMBLE(ts, INTERVAL '1' SECOND)) w \
               GROUP BY window_start, window_end";
    let run = |capacity: usize, batch_size: usize| {
        Engine::builder()
            .sql(sql)
            .cores(core_set("0-1"))
            .output(OutputSpec::Collect)
            .event_time("ts")
            .max_out_of_orderness(Duration::from_millis(BOUND))
            .batching(Batching {
                batch_size,
                linger: Duration::from_millis(1),
            })
            .exchange_capacity(capacity)
            .build_with_source(Box::new(VecSource::new(&t, &[3])))
            .unwrap()
            .run()
            .unwrap()
    };
    let roomy = run(64, 4096);
    let tiny = run(1, 1);
    assert!(tiny.summary.identity_holds(), "{}", tiny.summary.render());
    let (a, b) = (result_rows(&roomy), result_rows(&tiny));
    assert_eq!(
        a.len(),
        6_000 * 40 / 1_000 + 1,
        "one row per second of input"
    );
    compare_rows(&b, &a, 0.0).unwrap();
}
