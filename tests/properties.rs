//! Property tests: for random keyed rows whose arrival order is out of order
//! by at most the declared bound, the EMIT FINAL result of tumbling, hopping,
//! session and unwindowed GROUP BY queries is the same for any shard count
//! (1 or 2), any router batch size (1..=64 or 4096), any source chunking and
//! any arrival order within the bound; it equals a plain reference computed
//! here; no row is late; and the run's accounting identity holds.
//!
//! Sums are over BIGINT and DECIMAL columns, so they are exact whatever the
//! order; AVG over DOUBLE is compared with a relative tolerance of 1e-9.

mod support;

use corestream::data::{DataType, Value};
use proptest::prelude::*;
use std::collections::BTreeMap;
use support::*;

/// Cases per property. Each case runs the engine three times.
const CASES: u32 = 64;

/// Event times usually start here (2026-01-01T00:00:00Z).
const T0: i64 = 1_767_225_600_000;

/// Relative tolerance for AVG over DOUBLE, whose summation order may differ.
const REL: f64 = 1e-9;

/// One generated record, before it is given an arrival position.
#[derive(Debug, Clone)]
struct Rec {
    key: u8,
    v: i64,
    /// DECIMAL(12,2) as cents.
    cents: i64,
    d: f64,
    ts: i64,
    /// Arrival delays for two arrival orders, each in `0..=bound`.
    delay: [i64; 2],
}

/// Records in event-time order, and the out-of-order bound their arrival
/// orders keep.
#[derive(Debug, Clone)]
struct Input {
    recs: Vec<Rec>,
    bound: i64,
    /// Arrival order 0 may be out of order by more than the bound.
    beyond_bound: bool,
}

impl Input {
    /// The records in arrival order `which` (0 or 1): sorted by event time
    /// plus delay. A record arriving after another with a delay in
    /// `0..=bound` is at most `bound` older than it, so the disorder never
    /// exceeds the bound. `None`: in event-time order.
    fn arrival(&self, which: Option<usize>) -> Vec<&Rec> {
        let recs = self.arrival_order(which);
        // The premise of the invariance properties: disorder within the bound.
        if which != Some(0) || !self.beyond_bound {
            let mut max_seen = i64::MIN;
            for r in &recs {
                assert!(max_seen == i64::MIN || r.ts >= max_seen - self.bound);
                max_seen = max_seen.max(r.ts);
            }
        }
        recs
    }

    /// Arrival order 0, whose disorder may exceed the bound.
    fn arrival_unchecked(&self, which: usize) -> Vec<&Rec> {
        self.arrival_order(Some(which))
    }

    fn arrival_order(&self, which: Option<usize>) -> Vec<&Rec> {
        let mut order: Vec<(i64, usize)> = self
            .recs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.ts + which.map_or(0, |w| r.delay[w]), i))
            .collect();
        order.sort();
        order.iter().map(|&(_, i)| &self.recs[i]).collect()
    }

    fn table(&self, which: Option<usize>) -> Table {
        let mut t = Table::new(&[
            ("k", DataType::Utf8),
            ("v", DataType::Int64),
            (
                "p",
                DataType::Decimal {
                    precision: 12,
                    scale: 2,
                },
            ),
            ("d", DataType::Float64),
            ("ts", DataType::Int64),
        ]);
        t.rows = self
            .arrival(which)
            .into_iter()
            .map(|r| {
                vec![
                    Value::Utf8(key_name(r.key)),
                    Value::Int64(r.v),
                    Value::Decimal {
                        value: r.cents as i128,
                        scale: 2,
                    },
                    Value::Float64(r.d),
                    Value::Int64(r.ts),
                ]
            })
            .collect();
        t
    }
}

fn key_name(k: u8) -> String {
    format!("k{k}")
}

fn input() -> impl Strategy<Value = Input> {
    let rec = (
        0u8..4,
        -1_000i64..=1_000,
        -100_000i64..=100_000,
        -100.0f64..100.0,
        // Mostly small steps between consecutive event times, sometimes a gap
        // longer than any session gap or window.
        prop_oneof![9 => 0i64..=60, 1 => 200i64..=3_000],
        0u32..=10_000,
        0u32..=10_000,
    );
    (
        1u8..=4,
        0i64..=2_000,
        // Event times in 2026, or starting before the epoch (negative, so
        // windows straddle 0 and window starts round down, not toward zero).
        prop_oneof![3 => Just(T0), 1 => -20_000i64..=0],
        prop::collection::vec(rec, 1..=2_000),
    )
        .prop_map(|(keys, bound, start, raw)| {
            let mut ts = start;
            let recs = raw
                .into_iter()
                .map(|(key, v, cents, d, step, a, b)| {
                    ts += step;
                    let scale = |x: u32| bound * x as i64 / 10_000;
                    Rec {
                        key: key % keys,
                        v,
                        cents,
                        d,
                        ts,
                        delay: [scale(a), scale(b)],
                    }
                })
                .collect();
            Input {
                recs,
                bound,
                beyond_bound: false,
            }
        })
}

/// A run's shape: shards, router batch size, source chunking, and how the
/// bound is split between out-of-orderness and allowed lateness.
#[derive(Debug, Clone)]
struct Shape {
    cores: &'static str,
    batch_size: usize,
    chunks: Vec<usize>,
    /// Part of the bound given as allowed lateness instead (0 = none).
    lateness_share: u8,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop_oneof![Just("0"), Just("0-1")],
        prop_oneof![4 => 1usize..=64, 1 => Just(4096usize)],
        prop::collection::vec(1usize..=300, 1..=4),
        prop_oneof![3 => Just(0u8), 1 => 1u8..=100],
    )
        .prop_map(|(cores, batch_size, chunks, lateness_share)| Shape {
            cores,
            batch_size,
            chunks,
            lateness_share,
        })
}

impl Shape {
    /// The baseline: one shard, big batches, one source batch, all of the
    /// bound as out-of-orderness.
    fn baseline() -> Shape {
        Shape {
            cores: "0",
            batch_size: 4096,
            chunks: vec![4096],
            lateness_share: 0,
        }
    }

    fn config(&self, bound: i64) -> RunConfig {
        let lateness = bound * self.lateness_share as i64 / 100;
        RunConfig {
            cores: self.cores,
            batch_size: self.batch_size,
            chunks: self.chunks.clone(),
            event_time: Some(EventTime {
                column: "ts",
                max_out_of_orderness: (bound - lateness) as u64,
                allowed_lateness: lateness as u64,
            }),
        }
    }

    fn shards(&self) -> usize {
        if self.cores == "0" {
            1
        } else {
            2
        }
    }
}

/// The windows of a query, for the reference.
#[derive(Debug, Clone, Copy)]
enum Windows {
    None,
    Tumbling(i64),
    /// size, advance
    Hopping(i64, i64),
    Session(i64),
}

/// The aggregates every query computes, in this order, after the key (and
/// window bounds): COUNT(*), SUM(v), SUM(p), MIN(v), MAX(v), AVG(d).
#[derive(Debug, Clone, Default)]
struct Agg {
    n: i64,
    sv: i64,
    sp: i64,
    min: Option<i64>,
    max: Option<i64>,
    sd: f64,
}

impl Agg {
    fn add(&mut self, r: &Rec) {
        self.n += 1;
        self.sv += r.v;
        self.sp += r.cents;
        self.min = Some(self.min.map_or(r.v, |m| m.min(r.v)));
        self.max = Some(self.max.map_or(r.v, |m| m.max(r.v)));
        self.sd += r.d;
    }

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Int(self.n),
            Cell::Int(self.sv),
            Cell::Dec(self.sp as i128, 2),
            Cell::Int(self.min.expect("a group has a row")),
            Cell::Int(self.max.expect("a group has a row")),
            Cell::Float(self.sd / self.n as f64),
        ]
    }
}

/// The expected EMIT FINAL rows, from the records in event-time order.
fn reference(recs: &[Rec], windows: Windows, keep: impl Fn(&Rec) -> bool) -> Vec<Row> {
    // (key, window start, window end) -> aggregate; the bounds are 0 unwindowed.
    let mut groups: BTreeMap<(u8, i64, i64), Agg> = BTreeMap::new();
    let kept: Vec<&Rec> = recs.iter().filter(|r| keep(r)).collect();
    match windows {
        Windows::None => {
            for r in &kept {
                groups.entry((r.key, 0, 0)).or_default().add(r);
            }
        }
        Windows::Tumbling(size) => {
            for r in &kept {
                let s = r.ts.div_euclid(size) * size;
                groups.entry((r.key, s, s + size)).or_default().add(r);
            }
        }
        Windows::Hopping(size, advance) => {
            for r in &kept {
                let last = r.ts.div_euclid(advance) * advance;
                let mut s = last - size + advance;
                while s <= last {
                    groups.entry((r.key, s, s + size)).or_default().add(r);
                    s += advance;
                }
            }
        }
        Windows::Session(gap) => {
            // Per key, in event-time order: a row starts a new session when it
            // is at least `gap` after the previous one; a session ends `gap`
            // after its last row.
            let mut by_key: BTreeMap<u8, Vec<&Rec>> = BTreeMap::new();
            for r in &kept {
                by_key.entry(r.key).or_default().push(r);
            }
            for (key, mut rs) in by_key {
                rs.sort_by_key(|r| r.ts);
                let mut i = 0;
                while i < rs.len() {
                    let mut j = i + 1;
                    while j < rs.len() && rs[j].ts - rs[j - 1].ts < gap {
                        j += 1;
                    }
                    let mut agg = Agg::default();
                    rs[i..j].iter().for_each(|r| agg.add(r));
                    groups.insert((key, rs[i].ts, rs[j - 1].ts + gap), agg);
                    i = j;
                }
            }
        }
    }
    let mut rows: Vec<Row> = groups
        .into_iter()
        .map(|((key, start, end), agg)| {
            let mut row = vec![Cell::Str(key_name(key))];
            if !matches!(windows, Windows::None) {
                row.push(Cell::Int(start));
                row.push(Cell::Int(end));
            }
            row.extend(agg.cells());
            row
        })
        .collect();
    sort_rows(&mut rows);
    rows
}

/// Runs `sql` over `input` in the baseline shape (event-time order) and in
/// `shapes[i]` with arrival order `i`, and checks every property.
fn check(
    sql: &str,
    windows: Windows,
    keep: impl Fn(&Rec) -> bool,
    input: &Input,
    shapes: &[Shape],
) -> Result<(), TestCaseError> {
    let records = input.recs.len() as u64;
    let filtered = input.recs.iter().filter(|r| !keep(r)).count() as u64;
    let expected = reference(&input.recs, windows, &keep);
    let baseline = Shape::baseline();
    let runs = std::iter::once((None, &baseline))
        .chain(shapes.iter().enumerate().map(|(i, s)| (Some(i), s)));
    for (order, shape) in runs {
        let what = format!(
            "arrival order {order:?}, bound {} ms, {shape:?}",
            input.bound
        );
        let out = run(sql, &input.table(order), &shape.config(input.bound));
        check_accounting(&out, records, shape.shards())
            .map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
        let t = out.summary.total();
        prop_assert_eq!(t.late, 0, "{}: a row within the bound was late", what);
        prop_assert_eq!(t.filtered, filtered, "{}: filtered", what);
        prop_assert_eq!(t.processed, records - filtered, "{}: processed", what);
        compare_rows(&result_rows(&out), &expected, REL).map_err(|e| {
            TestCaseError::fail(format!("{what}: result differs from the reference: {e}"))
        })?;
    }
    Ok(())
}

fn all(_: &Rec) -> bool {
    true
}

const AGGS: &str =
    "COUNT(*) AS n, SUM(v) AS sv, SUM(p) AS sp, MIN(v) AS lo, MAX(v) AS hi, AVG(d) AS avg_d";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn tumbling_final_is_the_same_for_any_shards_batching_and_order(
        input in input(), a in shape(), b in shape()
    ) {
        let sql = format!(
            "SELECT k, window_start, window_end, {AGGS} FROM s \
             GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND) EMIT FINAL"
        );
        check(&sql, Windows::Tumbling(1_000), all, &input, &[a, b])?;
    }

    #[test]
    fn tumbling_clause_syntax_final_is_the_same_for_any_shards_batching_and_order(
        input in input(), a in shape(), b in shape()
    ) {
        let sql = format!(
            "SELECT k, window_start, window_end, {AGGS} FROM s GROUP BY k WINDOW TUMBLING(700ms) EMIT FINAL"
        );
        check(&sql, Windows::Tumbling(700), all, &input, &[a, b])?;
    }

    #[test]
    fn hopping_final_is_the_same_for_any_shards_batching_and_order(
        input in input(), a in shape(), b in shape()
    ) {
        // HOP(time, slide, size): windows of 3 s every 1 s; WHERE drops some rows.
        let sql = format!(
            "SELECT k, HOP_START(ts, INTERVAL '1' SECOND, INTERVAL '3' SECOND) AS ws, \
             HOP_END(ts, INTERVAL '1' SECOND, INTERVAL '3' SECOND) AS we, {AGGS} FROM s \
             WHERE v % 3 <> 0 \
             GROUP BY k, HOP(ts, INTERVAL '1' SECOND, INTERVAL '3' SECOND) EMIT FINAL"
        );
        check(&sql, Windows::Hopping(3_000, 1_000), |r| r.v % 3 != 0, &input, &[a, b])?;
    }

    #[test]
    fn session_final_is_the_same_for_any_shards_batching_and_order(
        input in input(), a in shape(), b in shape()
    ) {
        let sql = format!(
            "SELECT k, SESSION_START(ts, INTERVAL '400' MILLISECOND) AS ws, \
             SESSION_END(ts, INTERVAL '400' MILLISECOND) AS we, {AGGS} FROM s \
             GROUP BY k, SESSION(ts, INTERVAL '400' MILLISECOND) EMIT FINAL"
        );
        check(&sql, Windows::Session(400), all, &input, &[a, b])?;
    }

    #[test]
    fn unwindowed_group_by_final_is_the_same_for_any_shards_batching_and_order(
        input in input(), a in shape(), b in shape()
    ) {
        let sql = format!("SELECT k, {AGGS} FROM s GROUP BY k EMIT FINAL");
        check(&sql, Windows::None, all, &input, &[a, b])?;
    }
}

/// Records whose disorder may exceed the declared bound: arrival delays up to
/// three times the bound.
fn unbounded_input() -> impl Strategy<Value = Input> {
    input().prop_map(|mut input| {
        for r in &mut input.recs {
            r.delay[0] *= 3;
        }
        input.beyond_bound = true;
        input
    })
}

/// Which rows are late: per record, those behind the watermark the rows
/// before them produced (largest event time less the bound) by more than
/// the allowed lateness, whatever the batches (see
/// docs/windows-and-event-time.md).
fn late_rows(arrival: &[&Rec], config: &RunConfig) -> Vec<bool> {
    let et = config.event_time.expect("event time");
    let (bound, lateness) = (et.max_out_of_orderness as i64, et.allowed_lateness as i64);
    let mut max_seen = i64::MIN;
    arrival
        .iter()
        .map(|r| {
            let late = max_seen != i64::MIN && r.ts < max_seen - bound - lateness;
            max_seen = max_seen.max(r.ts);
            late
        })
        .collect()
}

/// With disorder beyond the bound, the late rows are exactly the rows behind
/// the watermark minus the allowed lateness, they are counted, and the FINAL
/// result is the reference over the other rows.
fn check_late(
    sql: &str,
    windows: Windows,
    input: &Input,
    shape: &Shape,
) -> Result<(), TestCaseError> {
    let table = input.table(Some(0));
    let config = shape.config(input.bound);
    let arrival = input.arrival_unchecked(0);
    let late = late_rows(&arrival, &config);
    let on_time: Vec<Rec> = arrival
        .iter()
        .zip(&late)
        .filter(|(_, &l)| !l)
        .map(|(r, _)| (*r).clone())
        .collect();
    let expected_late = late.iter().filter(|&&l| l).count() as u64;
    let what = format!("bound {} ms, {shape:?}, {expected_late} late", input.bound);
    let out = run(sql, &table, &config);
    check_accounting(&out, input.recs.len() as u64, shape.shards())
        .map_err(|e| TestCaseError::fail(format!("{what}: {e}")))?;
    let t = out.summary.total();
    prop_assert_eq!(t.late, expected_late, "{}: late rows", what);
    prop_assert_eq!(t.processed, on_time.len() as u64, "{}: processed", what);
    compare_rows(&result_rows(&out), &reference(&on_time, windows, all), REL).map_err(|e| {
        TestCaseError::fail(format!(
            "{what}: result differs from the reference over on-time rows: {e}"
        ))
    })?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn tumbling_late_rows_are_exactly_those_behind_the_watermark(
        input in unbounded_input(), shape in shape()
    ) {
        let sql = format!(
            "SELECT k, window_start, window_end, {AGGS} FROM s GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND) EMIT FINAL"
        );
        check_late(&sql, Windows::Tumbling(1_000), &input, &shape)?;
    }

    #[test]
    fn session_late_rows_are_exactly_those_behind_the_watermark(
        input in unbounded_input(), shape in shape()
    ) {
        let sql = format!(
            "SELECT k, window_start, window_end, {AGGS} FROM s GROUP BY k, SESSION(ts, INTERVAL '400' MILLISECOND) EMIT FINAL"
        );
        check_late(&sql, Windows::Session(400), &input, &shape)?;
    }
}
