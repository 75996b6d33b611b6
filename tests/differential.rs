//! Differential tests against SQLite: the same rows go through corestream
//! (EMIT FINAL for aggregates, on 1 or 2 shards, event-time disorder within
//! the declared bound) and into an in-memory SQLite database; the equivalent
//! query must give the same rows.
//!
//! Integers, strings and window bounds compare exactly; floats (and decimals
//! against SQLite's REAL) within a relative tolerance of 1e-9, because the
//! summation order differs across shards and between the engines.
//!
//! The queries are a table of (corestream SQL, SQLite SQL) pairs over one
//! loaded data set, [`PAIRS`]: add a pair to test more SQL.
//!
//! Data set, table `s` in both engines:
//! - `id` BIGINT, unique; `k` VARCHAR, 5 keys of uneven frequency, ~3 % NULL;
//!   `g` BIGINT 0..=5, ~5 % NULL; `v` BIGINT -1000..=1000, ~5 % NULL;
//!   `w` BIGINT -5..=5 (zeros, for division); `d` DOUBLE -100..100, ~5 % NULL;
//!   `p` DECIMAL(12,2), ~5 % NULL (SQLite holds it as integer cents `p_cents`);
//!   `ts` BIGINT epoch ms, never NULL; `z` DOUBLE, one of 0.0, -0.0, 0.5,
//!   -0.5, ~10 % NULL (a float key where 0.0 and -0.0 are one key).
//! - Arrival order is out of event-time order by at most [`BOUND`] ms.
//!
//! SQLite spellings of the streaming windows:
//! - tumbling: `GROUP BY k, (ts / size) * size`;
//! - hopping: a join with the offsets `0..size/advance` (a VALUES list or a
//!   recursive CTE), window start `(ts / advance) * advance - n * advance`;
//! - session: `LAG(ts)` per key flags a row that starts a session (gap >=
//!   the session gap), a running `SUM` of the flags numbers the sessions;
//!   a session spans `[MIN(ts), MAX(ts) + gap)`.

mod support;

use corestream::data::{DataType, Value};
use support::*;

/// Rows in the data set.
const ROWS: usize = 4_000;

/// Largest event-time disorder in arrival order (ms); also the declared
/// max out-of-orderness, so no row is late.
const BOUND: i64 = 1_500;

/// Relative tolerance for floats.
const REL: f64 = 1e-9;

const T0: i64 = 1_767_225_600_000;

/// One query, written for each engine.
struct Pair {
    name: &'static str,
    corestream: &'static str,
    sqlite: &'static str,
}

const PAIRS: &[Pair] = &[
    // ---- filter + projection ------------------------------------------------
    Pair {
        name: "projection with integer, float and decimal arithmetic",
        corestream: "SELECT id, k, v * 3 - w AS a, v + w * 2 AS b, v / w AS q, v % w AS r, \
                     d * 2.5 + v AS f, d / w AS fq, -v AS neg, CAST(d AS BIGINT) AS di, \
                     v + 0.25 AS vd, p * 2 AS p2, p + v AS pv \
                     FROM s WHERE v > 100 OR d < -50.0",
        sqlite: "SELECT id, k, v * 3 - w, v + w * 2, v / w, v % w, \
                 d * 2.5 + v, d / w, -v, CAST(d AS INTEGER), \
                 v + 0.25, p_cents * 2 / 100.0, p_cents / 100.0 + v \
                 FROM s WHERE v > 100 OR d < -50.0",
    },
    Pair {
        name: "WHERE with AND/OR/NOT over NULLs",
        corestream: "SELECT id, v, d, g FROM s \
                     WHERE (v > 0 AND NOT (d > 0.0)) OR (g IS NULL AND v IS NOT NULL) OR NOT (v <> w)",
        sqlite: "SELECT id, v, d, g FROM s \
                 WHERE (v > 0 AND NOT (d > 0.0)) OR (g IS NULL AND v IS NOT NULL) OR NOT (v <> w)",
    },
    Pair {
        name: "WHERE NOT over a NULL string key, IS NULL on either side",
        corestream: "SELECT id, k, v FROM s WHERE NOT (k = 'k1' OR k = 'k2') AND (v IS NULL OR d IS NULL OR p IS NULL)",
        sqlite: "SELECT id, k, v FROM s WHERE NOT (k = 'k1' OR k = 'k2') AND (v IS NULL OR d IS NULL OR p_cents IS NULL)",
    },
    Pair {
        name: "comparisons with a NULL literal are never true",
        corestream: "SELECT id FROM s WHERE v = NULL OR d > NULL OR NOT (v <> NULL) OR (w = 0 AND g = 1)",
        sqlite: "SELECT id FROM s WHERE v = NULL OR d > NULL OR NOT (v <> NULL) OR (w = 0 AND g = 1)",
    },
    // ---- GROUP BY -----------------------------------------------------------
    Pair {
        name: "GROUP BY a nullable key, every aggregate",
        corestream: "SELECT g, COUNT(*) AS n, COUNT(v) AS nv, COUNT(d) AS nd, SUM(v) AS sv, AVG(v) AS av, \
                     AVG(d) AS ad, MIN(v) AS lo, MAX(v) AS hi, MIN(d) AS dlo, MAX(d) AS dhi, SUM(d) AS sd, \
                     SUM(p) AS sp, MIN(p) AS plo, MAX(p) AS phi, MIN(k) AS klo, MAX(k) AS khi \
                     FROM s GROUP BY g EMIT FINAL",
        sqlite: "SELECT g, COUNT(*), COUNT(v), COUNT(d), SUM(v), AVG(v), \
                 AVG(d), MIN(v), MAX(v), MIN(d), MAX(d), SUM(d), \
                 SUM(p_cents) / 100.0, MIN(p_cents) / 100.0, MAX(p_cents) / 100.0, MIN(k), MAX(k) \
                 FROM s GROUP BY g",
    },
    Pair {
        name: "GROUP BY two keys with HAVING",
        corestream: "SELECT k, g, COUNT(*) AS n, SUM(v) AS sv, AVG(d) AS ad FROM s \
                     GROUP BY k, g HAVING COUNT(*) > 100 AND SUM(v) > 0 EMIT FINAL",
        sqlite: "SELECT k, g, COUNT(*), SUM(v), AVG(d) FROM s \
                 GROUP BY k, g HAVING COUNT(*) > 100 AND SUM(v) > 0",
    },
    Pair {
        name: "HAVING on aggregates not in the select list, with OR and NOT",
        corestream: "SELECT k, COUNT(*) AS n FROM s GROUP BY k \
                     HAVING NOT (MAX(d) < 99.5) OR MIN(v) < -995 OR COUNT(v) < 50 EMIT FINAL",
        sqlite: "SELECT k, COUNT(*) FROM s GROUP BY k \
                 HAVING NOT (MAX(d) < 99.5) OR MIN(v) < -995 OR COUNT(v) < 50",
    },
    Pair {
        name: "GROUP BY an expression",
        corestream: "SELECT v % 10 AS b, COUNT(*) AS n, SUM(w) AS sw, MIN(d) AS lo FROM s GROUP BY v % 10 EMIT FINAL",
        sqlite: "SELECT v % 10, COUNT(*), SUM(w), MIN(d) FROM s GROUP BY v % 10",
    },
    Pair {
        name: "GROUP BY a DOUBLE key holding 0.0 and -0.0",
        corestream: "SELECT z, COUNT(*) AS n, SUM(v) AS sv FROM s GROUP BY z EMIT FINAL",
        sqlite: "SELECT z, COUNT(*), SUM(v) FROM s GROUP BY z",
    },
    Pair {
        name: "comparisons between BIGINT, DOUBLE and DECIMAL",
        corestream: "SELECT id, v, d FROM s WHERE (v < d * 10 AND w >= z) OR v * 1.5 > 1400 OR p < v",
        sqlite: "SELECT id, v, d FROM s WHERE (v < d * 10 AND w >= z) OR v * 1.5 > 1400 OR p_cents < v * 100",
    },
    Pair {
        name: "WHERE then GROUP BY",
        corestream: "SELECT k, w, COUNT(*) AS n, AVG(d) AS ad, MAX(v) AS hi FROM s \
                     WHERE v IS NOT NULL AND (d > 0.0 OR w = 0) GROUP BY k, w EMIT FINAL",
        sqlite: "SELECT k, w, COUNT(*), AVG(d), MAX(v) FROM s \
                 WHERE v IS NOT NULL AND (d > 0.0 OR w = 0) GROUP BY k, w",
    },
    Pair {
        name: "global aggregate",
        corestream: "SELECT COUNT(*) AS n, COUNT(v) AS nv, SUM(v) AS sv, AVG(d) AS ad, MIN(d) AS lo, MAX(v) AS hi, \
                     SUM(p) AS sp FROM s EMIT FINAL",
        sqlite: "SELECT COUNT(*), COUNT(v), SUM(v), AVG(d), MIN(d), MAX(v), SUM(p_cents) / 100.0 FROM s",
    },
    Pair {
        name: "aggregates over groups whose values are all NULL",
        corestream: "SELECT g, COUNT(*) AS n, COUNT(v) AS nv, SUM(v) AS sv, AVG(v) AS av, MIN(d) AS lo, MAX(p) AS hi \
                     FROM s WHERE v IS NULL OR d IS NULL GROUP BY g EMIT FINAL",
        sqlite: "SELECT g, COUNT(*), COUNT(v), SUM(v), AVG(v), MIN(d), MAX(p_cents) / 100.0 \
                 FROM s WHERE v IS NULL OR d IS NULL GROUP BY g",
    },
    // ---- aggregate FILTER (SQLite has it too) ---------------------------------
    Pair {
        name: "FILTER on every aggregate, GROUP BY a nullable key",
        corestream: "SELECT g, COUNT(*) AS n, COUNT(*) FILTER (WHERE v > 0) AS pos, \
                     COUNT(v) FILTER (WHERE d < 0.0) AS nv, COUNT(DISTINCT k) FILTER (WHERE v >= 100 AND v < 900) AS dk, \
                     SUM(v) FILTER (WHERE k = 'k1') AS sv, AVG(d) FILTER (WHERE w <> 0) AS ad, \
                     MIN(v) FILTER (WHERE d > 50.0) AS lo, MAX(d) FILTER (WHERE v IS NULL) AS hi, \
                     SUM(p) FILTER (WHERE g = 3) AS sp, MAX(k) FILTER (WHERE NOT (w > 2)) AS mk \
                     FROM s GROUP BY g EMIT FINAL",
        sqlite: "SELECT g, COUNT(*), COUNT(*) FILTER (WHERE v > 0), \
                 COUNT(v) FILTER (WHERE d < 0.0), COUNT(DISTINCT k) FILTER (WHERE v >= 100 AND v < 900), \
                 SUM(v) FILTER (WHERE k = 'k1'), AVG(d) FILTER (WHERE w <> 0), \
                 MIN(v) FILTER (WHERE d > 50.0), MAX(d) FILTER (WHERE v IS NULL), \
                 SUM(p_cents) FILTER (WHERE g = 3) / 100.0, MAX(k) FILTER (WHERE NOT (w > 2)) \
                 FROM s GROUP BY g",
    },
    Pair {
        name: "FILTER in HAVING, and filters no row of a group passes",
        corestream: "SELECT k, COUNT(*) FILTER (WHERE w = 0) AS zeros, COUNT(*) FILTER (WHERE v > 5000) AS none, \
                     SUM(v) FILTER (WHERE v > 5000) AS sv, MIN(d) FILTER (WHERE g = 9) AS lo FROM s \
                     GROUP BY k HAVING COUNT(*) FILTER (WHERE w = 0) > 10 EMIT FINAL",
        sqlite: "SELECT k, COUNT(*) FILTER (WHERE w = 0), COUNT(*) FILTER (WHERE v > 5000), \
                 SUM(v) FILTER (WHERE v > 5000), MIN(d) FILTER (WHERE g = 9) FROM s \
                 GROUP BY k HAVING COUNT(*) FILTER (WHERE w = 0) > 10",
    },
    Pair {
        name: "global aggregate with FILTER",
        corestream: "SELECT COUNT(*) FILTER (WHERE d > 0.0) AS n, SUM(v) FILTER (WHERE d > 0.0) AS sv, \
                     COUNT(DISTINCT g) FILTER (WHERE v < 0) AS dg, AVG(p) FILTER (WHERE k IS NULL) AS ap FROM s EMIT FINAL",
        sqlite: "SELECT COUNT(*) FILTER (WHERE d > 0.0), SUM(v) FILTER (WHERE d > 0.0), \
                 COUNT(DISTINCT g) FILTER (WHERE v < 0), AVG(p_cents) FILTER (WHERE k IS NULL) / 100.0 FROM s",
    },
    // ---- tumbling windows ---------------------------------------------------
    Pair {
        name: "tumbling window, standard syntax",
        corestream: "SELECT k, window_start, window_end, COUNT(*) AS n, COUNT(v) AS nv, SUM(v) AS sv, \
                     AVG(d) AS ad, MIN(ts) AS first_ts, MAX(ts) AS last_ts, SUM(p) AS sp \
                     FROM s GROUP BY k, TUMBLE(ts, INTERVAL '5' SECOND) EMIT FINAL",
        sqlite: "SELECT k, (ts / 5000) * 5000 AS ws, (ts / 5000) * 5000 + 5000, COUNT(*), COUNT(v), SUM(v), \
                 AVG(d), MIN(ts), MAX(ts), SUM(p_cents) / 100.0 \
                 FROM s GROUP BY k, ws",
    },
    Pair {
        name: "tumbling window clause with WHERE and HAVING",
        corestream: "SELECT g, window_start, COUNT(*) AS n, MAX(d) AS hi FROM s WHERE v > 0 OR v IS NULL \
                     GROUP BY g WINDOW TUMBLING(2s) HAVING COUNT(*) > 3 EMIT FINAL",
        sqlite: "SELECT g, (ts / 2000) * 2000 AS ws, COUNT(*), MAX(d) FROM s WHERE v > 0 OR v IS NULL \
                 GROUP BY g, ws HAVING COUNT(*) > 3",
    },
    Pair {
        name: "tumbling window without a key",
        corestream: "SELECT window_start, window_end, COUNT(*) AS n, SUM(v) AS sv, MAX(d) AS hi FROM s \
                     GROUP BY TUMBLE(ts, INTERVAL '3' SECOND) EMIT FINAL",
        sqlite: "SELECT (ts / 3000) * 3000 AS ws, (ts / 3000) * 3000 + 3000, COUNT(*), SUM(v), MAX(d) FROM s \
                 GROUP BY ws",
    },
    Pair {
        name: "tumbling window keyed by an expression",
        corestream: "SELECT v % 3 AS b, window_start, COUNT(*) AS n, MIN(d) AS lo FROM s \
                     GROUP BY v % 3, TUMBLE(ts, INTERVAL '4' SECOND) EMIT FINAL",
        sqlite: "SELECT v % 3, (ts / 4000) * 4000 AS ws, COUNT(*), MIN(d) FROM s GROUP BY v % 3, ws",
    },
    Pair {
        name: "tumbling window with FILTER (Nexmark q15's shape)",
        corestream: "SELECT k, window_start, COUNT(*) AS n, COUNT(*) FILTER (WHERE v < 0) AS neg, \
                     COUNT(DISTINCT g) FILTER (WHERE v >= 0 AND v < 500) AS dg, SUM(v) FILTER (WHERE d > 0.0) AS sv, \
                     MAX(d) FILTER (WHERE g = 1) AS hi FROM s GROUP BY k, TUMBLE(ts, INTERVAL '5' SECOND) EMIT FINAL",
        sqlite: "SELECT k, (ts / 5000) * 5000 AS ws, COUNT(*), COUNT(*) FILTER (WHERE v < 0), \
                 COUNT(DISTINCT g) FILTER (WHERE v >= 0 AND v < 500), SUM(v) FILTER (WHERE d > 0.0), \
                 MAX(d) FILTER (WHERE g = 1) FROM s GROUP BY k, ws",
    },
    // ---- hopping windows ----------------------------------------------------
    Pair {
        name: "hopping window, HOP(time, slide, size)",
        corestream: "SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS sv, MIN(d) AS lo FROM s \
                     GROUP BY k, HOP(ts, INTERVAL '2' SECOND, INTERVAL '6' SECOND) EMIT FINAL",
        sqlite: "WITH o(n) AS (VALUES (0), (1), (2)), \
                 h AS (SELECT s.*, (ts / 2000) * 2000 - o.n * 2000 AS ws FROM s, o) \
                 SELECT k, ws, ws + 6000, COUNT(*), SUM(v), MIN(d) FROM h GROUP BY k, ws",
    },
    Pair {
        name: "sliding window clause (size, advance) with WHERE",
        corestream: "SELECT g, window_start, window_end, COUNT(*) AS n, AVG(v) AS av, MAX(p) AS hi FROM s \
                     WHERE d IS NOT NULL GROUP BY g WINDOW SLIDING(10s, 2500ms) EMIT FINAL",
        sqlite: "WITH RECURSIVE o(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM o WHERE n + 1 < 4), \
                 h AS (SELECT s.*, (ts / 2500) * 2500 - o.n * 2500 AS ws FROM s, o WHERE d IS NOT NULL) \
                 SELECT g, ws, ws + 10000, COUNT(*), AVG(v), MAX(p_cents) / 100.0 FROM h GROUP BY g, ws",
    },
    Pair {
        name: "hopping window with FILTER",
        corestream: "SELECT g, window_start, COUNT(*) FILTER (WHERE k = 'k0') AS n0, AVG(v) FILTER (WHERE w > 0) AS av, \
                     MIN(p) FILTER (WHERE v > 0) AS lo FROM s \
                     GROUP BY g, HOP(ts, INTERVAL '2' SECOND, INTERVAL '6' SECOND) EMIT FINAL",
        sqlite: "WITH o(n) AS (VALUES (0), (1), (2)), \
                 h AS (SELECT s.*, (ts / 2000) * 2000 - o.n * 2000 AS ws FROM s, o) \
                 SELECT g, ws, COUNT(*) FILTER (WHERE k = 'k0'), AVG(v) FILTER (WHERE w > 0), \
                 MIN(p_cents) FILTER (WHERE v > 0) / 100.0 FROM h GROUP BY g, ws",
    },
    // ---- session windows ----------------------------------------------------
    Pair {
        name: "session window, standard syntax",
        corestream: "SELECT k, window_start, window_end, COUNT(*) AS n, SUM(v) AS sv, AVG(d) AS ad FROM s \
                     GROUP BY k, SESSION(ts, INTERVAL '1' SECOND) EMIT FINAL",
        sqlite: "WITH f AS (SELECT *, CASE WHEN ts - LAG(ts) OVER (PARTITION BY k ORDER BY ts, id) < 1000 \
                 THEN 0 ELSE 1 END AS brk FROM s), \
                 n AS (SELECT *, SUM(brk) OVER (PARTITION BY k ORDER BY ts, id) AS sid FROM f) \
                 SELECT k, MIN(ts), MAX(ts) + 1000, COUNT(*), SUM(v), AVG(d) FROM n GROUP BY k, sid",
    },
    Pair {
        name: "session window without a key",
        corestream: "SELECT window_start, window_end, COUNT(*) AS n, SUM(v) AS sv FROM s \
                     GROUP BY SESSION(ts, INTERVAL '500' MILLISECOND) EMIT FINAL",
        sqlite: "WITH f AS (SELECT *, CASE WHEN ts - LAG(ts) OVER (ORDER BY ts, id) < 500 \
                 THEN 0 ELSE 1 END AS brk FROM s), \
                 n AS (SELECT *, SUM(brk) OVER (ORDER BY ts, id) AS sid FROM f) \
                 SELECT MIN(ts), MAX(ts) + 500, COUNT(*), SUM(v) FROM n GROUP BY sid",
    },
    Pair {
        name: "session window clause with WHERE and HAVING",
        corestream: "SELECT g, window_start, window_end, COUNT(*) AS n, MIN(v) AS lo FROM s \
                     WHERE g IS NOT NULL AND g < 3 GROUP BY g WINDOW SESSION(ts, 300ms) HAVING COUNT(*) > 1 EMIT FINAL",
        sqlite: "WITH t AS (SELECT * FROM s WHERE g IS NOT NULL AND g < 3), \
                 f AS (SELECT *, CASE WHEN ts - LAG(ts) OVER (PARTITION BY g ORDER BY ts, id) < 300 \
                 THEN 0 ELSE 1 END AS brk FROM t), \
                 n AS (SELECT *, SUM(brk) OVER (PARTITION BY g ORDER BY ts, id) AS sid FROM f) \
                 SELECT g, MIN(ts), MAX(ts) + 300, COUNT(*), MIN(v) FROM n GROUP BY g, sid HAVING COUNT(*) > 1",
    },
    Pair {
        name: "session window with FILTER",
        corestream: "SELECT k, window_start, window_end, COUNT(*) FILTER (WHERE v > 0) AS pos, \
                     SUM(w) FILTER (WHERE d < 0.0) AS sw, COUNT(DISTINCT g) FILTER (WHERE w <> 0) AS dg FROM s \
                     GROUP BY k, SESSION(ts, INTERVAL '1' SECOND) EMIT FINAL",
        sqlite: "WITH f AS (SELECT *, CASE WHEN ts - LAG(ts) OVER (PARTITION BY k ORDER BY ts, id) < 1000 \
                 THEN 0 ELSE 1 END AS brk FROM s), \
                 n AS (SELECT *, SUM(brk) OVER (PARTITION BY k ORDER BY ts, id) AS sid FROM f) \
                 SELECT k, MIN(ts), MAX(ts) + 1000, COUNT(*) FILTER (WHERE v > 0), \
                 SUM(w) FILTER (WHERE d < 0.0), COUNT(DISTINCT g) FILTER (WHERE w <> 0) FROM n GROUP BY k, sid",
    },
    // ---- row windows (arrival order: SQLite rowid, as rows are inserted as they arrive) --
    Pair {
        name: "row window: sliding aggregates, LAG, LEAD, ROW_NUMBER per key",
        corestream: "SELECT id, v, \
                     SUM(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS s5, \
                     COUNT(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS c5, \
                     COUNT(*) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS n5, \
                     MIN(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS lo5, \
                     MAX(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS hi5, \
                     AVG(d) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 4 PRECEDING AND CURRENT ROW) AS a5, \
                     LAG(v) OVER (PARTITION BY k ORDER BY ts) AS prev, \
                     LEAD(v, 2) OVER (PARTITION BY k ORDER BY ts) AS next2, \
                     ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM s",
        sqlite: "SELECT id, v, \
                 SUM(v) OVER (PARTITION BY k ORDER BY rowid ROWS BETWEEN 4 PRECEDING AND CURRENT ROW), \
                 COUNT(v) OVER (PARTITION BY k ORDER BY rowid ROWS BETWEEN 4 PRECEDING AND CURRENT ROW), \
                 COUNT(*) OVER (PARTITION BY k ORDER BY rowid ROWS BETWEEN 4 PRECEDING AND CURRENT ROW), \
                 MIN(v) OVER (PARTITION BY k ORDER BY rowid ROWS BETWEEN 4 PRECEDING AND CURRENT ROW), \
                 MAX(v) OVER (PARTITION BY k ORDER BY rowid ROWS BETWEEN 4 PRECEDING AND CURRENT ROW), \
                 AVG(d) OVER (PARTITION BY k ORDER BY rowid ROWS BETWEEN 4 PRECEDING AND CURRENT ROW), \
                 LAG(v) OVER (PARTITION BY k ORDER BY rowid), \
                 LEAD(v, 2) OVER (PARTITION BY k ORDER BY rowid), \
                 ROW_NUMBER() OVER (PARTITION BY k ORDER BY rowid) FROM s",
    },
    Pair {
        name: "row window: unbounded and first/last value without a key, after WHERE",
        corestream: "SELECT id, SUM(w) OVER (ORDER BY ts ROWS UNBOUNDED PRECEDING) AS run, \
                     MAX(w) OVER (ORDER BY ts) AS hi, \
                     FIRST_VALUE(v) OVER (ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS f3, \
                     LAST_VALUE(v) OVER (ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS l3 \
                     FROM s WHERE g < 3",
        sqlite: "SELECT id, SUM(w) OVER (ORDER BY rowid ROWS UNBOUNDED PRECEDING), \
                 MAX(w) OVER (ORDER BY rowid ROWS UNBOUNDED PRECEDING), \
                 FIRST_VALUE(v) OVER (ORDER BY rowid ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), \
                 LAST_VALUE(v) OVER (ORDER BY rowid ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) \
                 FROM s WHERE g < 3",
    },
    Pair {
        name: "COUNT(DISTINCT) per key and per tumbling window",
        corestream: "SELECT k, window_start, COUNT(DISTINCT g) AS dg, COUNT(DISTINCT v) AS dv FROM s \
                     GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND) EMIT FINAL",
        sqlite: "SELECT k, (ts / 10000) * 10000, COUNT(DISTINCT g), COUNT(DISTINCT v) FROM s \
                 GROUP BY k, (ts / 10000) * 10000",
    },
];

/// The data set: [`ROWS`] rows in arrival order.
fn data(seed: u64) -> Table {
    let mut rng = Rng::new(seed);
    let mut t = Table::new(&[
        ("id", DataType::Int64),
        ("k", DataType::Utf8),
        ("g", DataType::Int64),
        ("v", DataType::Int64),
        ("w", DataType::Int64),
        ("d", DataType::Float64),
        (
            "p",
            DataType::Decimal {
                precision: 12,
                scale: 2,
            },
        ),
        ("ts", DataType::Int64),
        ("z", DataType::Float64),
    ]);
    fn null_or(rng: &mut Rng, p: f64, v: impl FnOnce(&mut Rng) -> Value) -> Value {
        if rng.chance(p) {
            Value::Null
        } else {
            v(rng)
        }
    }
    let mut ts = T0;
    let mut rows: Vec<(i64, i64, Vec<Value>)> = Vec::with_capacity(ROWS);
    for id in 0..ROWS as i64 {
        // Mostly a few ms apart; now and then a pause longer than any session gap.
        ts += if rng.chance(0.03) {
            rng.range(1_000, 4_000)
        } else {
            rng.range(0, 30)
        };
        // Keys of uneven frequency, so some keys have long gaps between rows.
        let key = match rng.range(0, 99) {
            0..=39 => "k0",
            40..=69 => "k1",
            70..=89 => "k2",
            90..=97 => "k3",
            _ => "k4",
        };
        let row = vec![
            Value::Int64(id),
            null_or(&mut rng, 0.03, |_| Value::Utf8(key.to_owned())),
            null_or(&mut rng, 0.05, |r| Value::Int64(r.range(0, 5))),
            null_or(&mut rng, 0.05, |r| Value::Int64(r.range(-1_000, 1_000))),
            Value::Int64(rng.range(-5, 5)),
            null_or(&mut rng, 0.05, |r| Value::Float64(r.unit() * 200.0 - 100.0)),
            null_or(&mut rng, 0.05, |r| Value::Decimal {
                value: r.range(-1_000_000, 1_000_000) as i128,
                scale: 2,
            }),
            Value::Int64(ts),
            null_or(&mut rng, 0.1, |r| {
                Value::Float64([0.0, -0.0, 0.5, -0.5][r.range(0, 3) as usize])
            }),
        ];
        // Arrival: event time plus a delay within the bound.
        rows.push((ts + rng.range(0, BOUND), id, row));
    }
    rows.sort_by_key(|(arrival, id, _)| (*arrival, *id));
    t.rows = rows.into_iter().map(|(_, _, r)| r).collect();
    // The premise: disorder within the bound.
    let mut max_seen = i64::MIN;
    for r in &t.rows {
        let Value::Int64(ts) = r[7] else {
            unreachable!()
        };
        assert!(max_seen == i64::MIN || ts >= max_seen - BOUND);
        max_seen = max_seen.max(ts);
    }
    t
}

/// The data set in an in-memory SQLite database, as table `s`.
fn sqlite(table: &Table) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().expect("SQLite opens");
    db.execute_batch(
        "CREATE TABLE s (id INTEGER NOT NULL, k TEXT, g INTEGER, v INTEGER, w INTEGER, \
         d REAL, p_cents INTEGER, ts INTEGER NOT NULL, z REAL)",
    )
    .unwrap();
    let tx = db.unchecked_transaction().unwrap();
    {
        let mut insert = tx
            .prepare("INSERT INTO s VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
            .unwrap();
        for row in &table.rows {
            let params: Vec<rusqlite::types::Value> = row
                .iter()
                .map(|v| match v {
                    Value::Null => rusqlite::types::Value::Null,
                    Value::Int64(i) | Value::Timestamp(i) => rusqlite::types::Value::Integer(*i),
                    Value::Float64(f) => rusqlite::types::Value::Real(*f),
                    Value::Utf8(s) => rusqlite::types::Value::Text(s.clone()),
                    Value::Decimal { value, scale: 2 } => {
                        rusqlite::types::Value::Integer(*value as i64)
                    }
                    other => panic!("no SQLite column for {other:?}"),
                })
                .collect();
            insert.execute(rusqlite::params_from_iter(params)).unwrap();
        }
    }
    tx.commit().unwrap();
    db
}

/// The engine runs each query in one of these shapes, in turn.
fn configs() -> Vec<RunConfig> {
    let et = Some(EventTime {
        column: "ts",
        max_out_of_orderness: BOUND as u64,
        allowed_lateness: 0,
    });
    vec![
        RunConfig {
            cores: "0-1",
            batch_size: 128,
            chunks: vec![500, 37, 1_000],
            event_time: et,
        },
        RunConfig {
            cores: "0",
            batch_size: 4096,
            chunks: vec![4096],
            event_time: et,
        },
        RunConfig {
            cores: "0-1",
            batch_size: 7,
            chunks: vec![64, 3],
            event_time: et,
        },
    ]
}

/// Runs `pair` in corestream with `config` and in SQLite; `Err` says how the
/// results differ.
fn differ(
    pair: &Pair,
    table: &Table,
    db: &rusqlite::Connection,
    config: &RunConfig,
) -> Result<usize, String> {
    let want = sqlite_rows(db, pair.sqlite);
    let out = run(pair.corestream, table, config);
    let shards = if config.cores == "0" { 1 } else { 2 };
    check_accounting(&out, table.rows.len() as u64, shards)?;
    let late = out.summary.total().late;
    if late != 0 {
        return Err(format!("{late} rows late with disorder within the bound"));
    }
    let got = result_rows(&out);
    if let Some(w) = want.first() {
        if got.first().is_some_and(|g| g.len() != w.len()) {
            return Err(format!(
                "{} result columns, SQLite has {}",
                got[0].len(),
                w.len()
            ));
        }
    }
    compare_rows(&got, &want, REL)?;
    Ok(want.len())
}

/// Every pair, one run each, in the shapes of [`configs`] in turn.
#[test]
fn corestream_agrees_with_sqlite() {
    let table = data(0x5eed_0001);
    let db = sqlite(&table);
    let configs = configs();
    let mut failures = Vec::new();
    for (i, pair) in PAIRS.iter().enumerate() {
        let config = &configs[i % configs.len()];
        match differ(pair, &table, &db, config) {
            Ok(rows) => {
                println!("{:>6} rows  {}", rows, pair.name);
                assert!(
                    rows > 0,
                    "`{}` returns no rows in SQLite: it tests nothing",
                    pair.name
                )
            }
            Err(e) => failures.push(format!(
                "{}\n  corestream: {}\n  sqlite:     {}\n  run: {config:?}\n  {e}",
                pair.name, pair.corestream, pair.sqlite
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries differ:\n\n{}",
        failures.len(),
        PAIRS.len(),
        failures.join("\n\n")
    );
}

/// The windowed pairs again over a second data set in every shape.
#[test]
fn windowed_queries_agree_with_sqlite_in_every_shape() {
    let table = data(0x5eed_0002);
    let db = sqlite(&table);
    let mut failures = Vec::new();
    for pair in PAIRS.iter().filter(|p| p.name.contains("window")) {
        for config in configs() {
            if let Err(e) = differ(pair, &table, &db, &config) {
                failures.push(format!("{}\n  run: {config:?}\n  {e}", pair.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} runs differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// SQL gives one row for an aggregate without GROUP BY, also over no rows:
/// `COUNT(*)` 0 and NULL for the others; so does EMIT FINAL at end of input.
#[test]
fn global_aggregate_over_no_rows_emits_one_row() {
    let table = data(0x5eed_0003);
    let db = sqlite(&table);
    let pair = Pair {
        name: "global aggregate over no rows",
        corestream:
            "SELECT COUNT(*) AS n, SUM(v) AS sv, MAX(d) AS hi FROM s WHERE v > 5000 EMIT FINAL",
        sqlite: "SELECT COUNT(*), SUM(v), MAX(d) FROM s WHERE v > 5000",
    };
    for config in configs() {
        if let Err(e) = differ(&pair, &table, &db, &config) {
            panic!("{}\n  run: {config:?}\n  {e}", pair.name);
        }
    }
}

/// The windowed pairs over the same data with `ts` typed TIMESTAMP instead
/// of BIGINT epoch ms (SQLite still holds epoch ms).
#[test]
fn windowed_queries_agree_with_sqlite_over_a_timestamp_event_time() {
    let mut table = data(0x5eed_0004);
    let ts = table.schema.index_of("ts").unwrap();
    table.schema.fields[ts].data_type = DataType::Timestamp;
    for row in &mut table.rows {
        if let Value::Int64(t) = row[ts] {
            row[ts] = Value::Timestamp(t);
        }
    }
    let db = sqlite(&table);
    let config = &configs()[0];
    let failures: Vec<String> = PAIRS
        .iter()
        .filter(|p| p.name.contains("window"))
        .filter_map(|pair| {
            differ(pair, &table, &db, config)
                .err()
                .map(|e| format!("{}\n  {e}", pair.name))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Beyond SQLite (which stores NaN as NULL): NaN is one GROUP BY key, as
/// NULL is, and as PostgreSQL groups it; 0.0 and -0.0 are one key.
#[test]
fn nan_is_one_group_key() {
    let mut table = Table::new(&[("z", DataType::Float64), ("v", DataType::Int64)]);
    for (z, v) in [
        (f64::NAN, 1),
        (1.0, 2),
        (f64::NAN, 3),
        (0.0, 4),
        (-0.0, 5),
        (f64::NAN, 6),
        (1.0, 7),
    ] {
        table.rows.push(vec![Value::Float64(z), Value::Int64(v)]);
    }
    for cores in ["0", "0-1"] {
        let config = RunConfig {
            cores,
            batch_size: 2,
            chunks: vec![3],
            event_time: None,
        };
        let out = run(
            "SELECT z, COUNT(*) AS n, SUM(v) AS sv FROM s GROUP BY z EMIT FINAL",
            &table,
            &config,
        );
        let want = vec![
            vec![Cell::Float(0.0), Cell::Int(2), Cell::Int(9)],
            vec![Cell::Float(1.0), Cell::Int(2), Cell::Int(9)],
            vec![Cell::Float(f64::NAN), Cell::Int(3), Cell::Int(10)],
        ];
        if let Err(e) = compare_rows(&result_rows(&out), &want, 0.0) {
            panic!("cores {cores}: {e}");
        }
    }
}
