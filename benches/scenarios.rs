//! Engine-only scenarios over the generator's trades, on 1 shard and on all
//! cores, each against a bare single-threaded loop doing the same work.
//!
//! | id | query |
//! |---|---|
//! | S0 | projection + filter: `price * quantity AS notional ... WHERE price > 100` |
//! | S1 | row window: `AVG(price) OVER (PARTITION BY symbol ORDER BY event_time ROWS 99 PRECEDING)` |
//! | S2 | `GROUP BY trader_id, symbol` with 4 aggregates, `EMIT FINAL` (as `group_by.rs`) |
//! | S3a | `GROUP BY symbol, TUMBLE(event_time, 1 s)`, `EMIT FINAL` |
//! | S3b | the same, `EMIT CHANGES` (one row per input row) |
//! | hop | `HOP(event_time, 1 s, 5 s)`, `EMIT FINAL` (each row in 5 windows) |
//! | session | `SESSION(event_time, 100 ms)` over 50 symbols, `EMIT FINAL` |
//!
//! What a figure shows: pre-built in-memory batches, split by the plan's key
//! hash as the router would (and, for windowed plans, a watermark after every
//! source batch), are handed to each shard's ring once the pinned shards have
//! started; the time runs from the first hand-over to joining them, results
//! discarded (counted, not formatted). It does not show decoding, routing,
//! output formatting, I/O, or the executors' start-up (about 1 ms).
//!
//! Each scenario checks its answer before timing: the row count and a column
//! sum against the bare loop's, and the multiset of rows (an order-independent
//! checksum of their CSV text) on all cores against 1 shard.
//!
//! The baselines are what a hand-written loop over the same columns costs:
//! they bound what column-at-a-time execution could reach, not a rival engine.
//! On all cores the bare loop also runs once per core at the same time, each
//! over its share of the batches: its efficiency is what the machine itself
//! allows (shared caches, memory bandwidth, a VM's host), the ceiling for the
//! engine's in the same run.
//!
//! So does the engine ("engine on shares"): one shard per core, each given the same
//! share of whole batches as a bare loop copy, not the rows its keys own. Its
//! answers are per share (a window's rows are split between shards), so it is
//! timed only; what it shows is how the engine's own code scales on this
//! machine with no partitioning, which tells a cost of sharding by key (the
//! `eff` column) from a limit of the machine.
//!
//! `cargo bench --bench scenarios [-- S0 S2 ...]`; `CORESTREAM_BENCH_RECORDS`
//! (default 16M), `CORESTREAM_BENCH_TRIALS` (default 5), `CORESTREAM_BENCH_CORES`
//! (default: all online cores).

mod support;

use corestream::data::Batch;
use corestream::io::generator::GeneratorOptions;
use corestream::io::sink::OutputSpec;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::Instant;
use support::{
    baseline_str, checksum, column_sum, f64s, i64s, median, partition, run_engine, strs,
};

/// What the bare loop computed: its time, and the answer the engine must match.
struct Reference {
    seconds: f64,
    /// Output rows the engine must produce.
    rows: u64,
    /// Output column whose sum is checked, and its expected sum.
    column: usize,
    sum: f64,
}

struct Scenario {
    id: &'static str,
    sql: &'static str,
    windowed: bool,
    symbols: u32,
    baseline: fn(&[Batch]) -> Reference,
    baseline_name: &'static str,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            id: "S0",
            sql: "SELECT trader_id, symbol, price, quantity, price * quantity AS notional FROM trades WHERE price > 100",
            windowed: false,
            symbols: 10,
            baseline: base_s0,
            baseline_name: "scan: sum price*qty where price > 100",
        },
        Scenario {
            id: "S1",
            sql: "SELECT symbol, price, AVG(price) OVER (PARTITION BY symbol ORDER BY event_time ROWS BETWEEN 99 PRECEDING AND CURRENT ROW) AS avg100 FROM trades",
            windowed: false,
            symbols: 10,
            baseline: base_s1,
            baseline_name: "per-symbol ring buffer of 100",
        },
        Scenario {
            id: "S2",
            sql: "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value FROM trades GROUP BY trader_id, symbol EMIT FINAL",
            windowed: false,
            symbols: 10,
            baseline: base_s2,
            baseline_name: "hashbrown, string keys",
        },
        Scenario {
            id: "S3a",
            sql: "SELECT symbol, window_start, window_end, COUNT(*), AVG(price), SUM(quantity) FROM trades GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' SECOND) EMIT FINAL",
            windowed: true,
            symbols: 10,
            baseline: base_tumble_final,
            baseline_name: "hashbrown (symbol, window)",
        },
        Scenario {
            id: "S3b",
            sql: "SELECT symbol, window_start, window_end, COUNT(*), AVG(price), SUM(quantity) FROM trades GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' SECOND) EMIT CHANGES",
            windowed: true,
            symbols: 10,
            baseline: base_tumble_changes,
            baseline_name: "hashbrown (symbol, window), row out",
        },
        Scenario {
            id: "hop",
            sql: "SELECT symbol, window_start, window_end, COUNT(*), AVG(price), SUM(quantity) FROM trades GROUP BY symbol, HOP(event_time, INTERVAL '1' SECOND, INTERVAL '5' SECOND) EMIT FINAL",
            windowed: true,
            symbols: 10,
            baseline: base_hop_final,
            baseline_name: "hashbrown (symbol, window) x5",
        },
        Scenario {
            id: "session",
            sql: "SELECT symbol, window_start, window_end, COUNT(*), AVG(price), SUM(quantity) FROM trades GROUP BY symbol, SESSION(event_time, INTERVAL '100' MILLISECOND) EMIT FINAL",
            windowed: true,
            // One trade per ms over 50 symbols: a symbol's gaps average 50 ms, so
            // about 1 in 7 exceeds 100 ms and sessions close all the time.
            symbols: 50,
            baseline: base_session,
            baseline_name: "per-symbol open session",
        },
    ]
}

/// Symbol interning for the bare loops: the same string hashing the engine does.
struct Interner {
    hasher: foldhash::fast::FixedState,
    table: HashTable<(Vec<u8>, u32)>,
}

impl Interner {
    fn new() -> Interner {
        Interner {
            hasher: foldhash::fast::FixedState::with_seed(1),
            table: HashTable::with_capacity(64),
        }
    }

    #[inline]
    fn id(&mut self, key: &[u8]) -> u32 {
        let next = self.table.len() as u32;
        let h = self.hasher.hash_one(key);
        let hasher = &self.hasher;
        self.table
            .entry(h, |e| e.0 == key, |e| hasher.hash_one(&e.0[..]))
            .or_insert_with(|| (key.to_vec(), next))
            .get()
            .1
    }
}

fn base_s0(batches: &[Batch]) -> Reference {
    let start = Instant::now();
    let (mut rows, mut sum) = (0u64, 0.0f64);
    for b in batches {
        let (p, q) = (f64s(&b.columns[3]), i64s(&b.columns[4]));
        for i in 0..b.len {
            if p[i] > 100.0 {
                rows += 1;
                sum += p[i] * q[i] as f64;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    Reference {
        seconds,
        rows: black_box(rows),
        column: 4,
        sum,
    }
}

fn base_s1(batches: &[Batch]) -> Reference {
    struct Ring {
        values: [f64; 100],
        next: usize,
        len: usize,
        sum: f64,
    }
    let start = Instant::now();
    let mut symbols = Interner::new();
    let mut rings: Vec<Ring> = Vec::new();
    let mut out: Vec<f64> = Vec::with_capacity(support::BATCH);
    let (mut rows, mut total) = (0u64, 0.0f64);
    for b in batches {
        let (s, p) = (strs(&b.columns[2]), f64s(&b.columns[3]));
        out.clear();
        for (i, &price) in p.iter().enumerate().take(b.len) {
            let id = symbols.id(s.get_bytes(i)) as usize;
            if id == rings.len() {
                rings.push(Ring {
                    values: [0.0; 100],
                    next: 0,
                    len: 0,
                    sum: 0.0,
                });
            }
            let r = &mut rings[id];
            if r.len == 100 {
                r.sum -= r.values[r.next];
            } else {
                r.len += 1;
            }
            r.values[r.next] = price;
            r.sum += price;
            r.next = (r.next + 1) % 100;
            out.push(r.sum / r.len as f64);
        }
        rows += b.len as u64;
        total += out.iter().sum::<f64>();
        black_box(&out);
    }
    Reference {
        seconds: start.elapsed().as_secs_f64(),
        rows,
        column: 2,
        sum: total,
    }
}

fn base_s2(batches: &[Batch]) -> Reference {
    let (seconds, groups) = baseline_str(batches);
    Reference {
        seconds,
        rows: groups as u64,
        column: 2,
        sum: batches.iter().map(|b| b.len as f64).sum(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Emit {
    Final,
    Changes,
}

/// Bare (symbol, window start) hash table: windows of `size` every `advance`
/// ms; after each batch, windows the watermark has passed are emitted and freed.
fn base_windows(batches: &[Batch], size: i64, advance: i64, emit: Emit) -> Reference {
    #[derive(Clone, Copy)]
    struct W {
        symbol: u32,
        start: i64,
        count: i64,
        sum_price: f64,
        sum_qty: i64,
    }
    let start_time = Instant::now();
    let hasher = foldhash::fast::FixedState::with_seed(2);
    let mut symbols = Interner::new();
    let mut table: HashTable<W> = HashTable::with_capacity(1024);
    let (mut rows, mut sum) = (0u64, 0.0f64);
    let mut watermark = i64::MIN;
    for b in batches {
        let (t, s) = (i64s(&b.columns[0]), strs(&b.columns[2]));
        let (p, q) = (f64s(&b.columns[3]), i64s(&b.columns[4]));
        for i in 0..b.len {
            let symbol = symbols.id(s.get_bytes(i));
            let last = t[i] - t[i].rem_euclid(advance);
            let mut w_start = last;
            while w_start > t[i] - size {
                let h = hasher.hash_one((symbol, w_start));
                let w = table
                    .entry(
                        h,
                        |e| e.symbol == symbol && e.start == w_start,
                        |e| hasher.hash_one((e.symbol, e.start)),
                    )
                    .or_insert(W {
                        symbol,
                        start: w_start,
                        count: 0,
                        sum_price: 0.0,
                        sum_qty: 0,
                    })
                    .into_mut();
                w.count += 1;
                w.sum_price += p[i];
                w.sum_qty += q[i];
                if emit == Emit::Changes {
                    rows += 1;
                    sum += w.count as f64;
                    black_box(w.sum_price / w.count as f64);
                }
                w_start -= advance;
            }
            watermark = watermark.max(t[i]);
        }
        table.retain(|w| {
            let open = w.start + size > watermark;
            if !open && emit == Emit::Final {
                rows += 1;
                sum += w.count as f64;
                black_box((w.sum_price / w.count as f64, w.sum_qty));
            }
            open
        });
    }
    if emit == Emit::Final {
        for w in table.iter() {
            rows += 1;
            sum += w.count as f64;
        }
    }
    Reference {
        seconds: start_time.elapsed().as_secs_f64(),
        rows,
        column: 3,
        sum,
    }
}

fn base_tumble_final(batches: &[Batch]) -> Reference {
    base_windows(batches, 1_000, 1_000, Emit::Final)
}

fn base_tumble_changes(batches: &[Batch]) -> Reference {
    base_windows(batches, 1_000, 1_000, Emit::Changes)
}

fn base_hop_final(batches: &[Batch]) -> Reference {
    base_windows(batches, 5_000, 1_000, Emit::Final)
}

/// Bare sessions: per symbol, the open session; a row 100 ms or more after the
/// session's last row closes it and opens a new one.
fn base_session(batches: &[Batch]) -> Reference {
    const GAP: i64 = 100;
    #[derive(Clone, Copy)]
    struct S {
        last: i64,
        count: i64,
        sum_price: f64,
        sum_qty: i64,
    }
    let start_time = Instant::now();
    let mut symbols = Interner::new();
    let mut open: Vec<Option<S>> = Vec::new();
    let (mut rows, mut sum) = (0u64, 0.0f64);
    for b in batches {
        let (t, s) = (i64s(&b.columns[0]), strs(&b.columns[2]));
        let (p, q) = (f64s(&b.columns[3]), i64s(&b.columns[4]));
        for i in 0..b.len {
            let id = symbols.id(s.get_bytes(i)) as usize;
            if id == open.len() {
                open.push(None);
            }
            let slot = &mut open[id];
            match slot {
                Some(session) if t[i] - session.last < GAP => {
                    session.last = t[i];
                    session.count += 1;
                    session.sum_price += p[i];
                    session.sum_qty += q[i];
                }
                _ => {
                    if let Some(closed) = slot.take() {
                        rows += 1;
                        sum += closed.count as f64;
                        black_box((closed.sum_price / closed.count as f64, closed.sum_qty));
                    }
                    *slot = Some(S {
                        last: t[i],
                        count: 1,
                        sum_price: p[i],
                        sum_qty: q[i],
                    });
                }
            }
        }
    }
    for session in open.iter().flatten() {
        rows += 1;
        sum += session.count as f64;
    }
    Reference {
        seconds: start_time.elapsed().as_secs_f64(),
        rows,
        column: 3,
        sum,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

/// Seconds for copies of `baseline`, one per part of the batches (every
/// `cores`-th batch), each pinned to its own core, to all finish: what the machine's cores
/// deliver together on the bare loop, the ceiling for the engine's scaling
/// in the same run (shared caches, memory bandwidth, and on a VM the
/// host's scheduling).
fn baseline_on_cores(baseline: fn(&[Batch]) -> Reference, parts: &[Vec<Batch>]) -> f64 {
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for (c, part) in parts.iter().enumerate() {
            let id = ids.get(c).copied();
            scope.spawn(move || {
                if let Some(id) = id {
                    core_affinity::set_for_current(id);
                }
                black_box(baseline(part));
            });
        }
    });
    start.elapsed().as_secs_f64()
}

fn main() {
    let records = support::records(16_000_000);
    let trials = support::trials();
    let cores: usize = std::env::var("CORESTREAM_BENCH_CORES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // `cargo bench` passes `--bench`; anything else names scenarios to run.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    println!(
        "# scenarios: engine-only, {records} records per scenario, batch {}, 1 and {cores} shards, median of {trials}",
        support::BATCH
    );
    println!("# input pre-built, pre-partitioned and loaded into the rings; results discarded (not formatted)");
    println!(
        "{:<8} {:>5} {:>12} {:>12} {:>6} {:>12} {:>12} {:>7}  baseline",
        "scenario", "cores", "rec/s", "rec/s/core", "eff", "out rows/s", "base rec/s", "x base"
    );
    for sc in scenarios() {
        if !only.is_empty() && !only.iter().any(|o| o.eq_ignore_ascii_case(sc.id)) {
            continue;
        }
        let batches = support::generate(GeneratorOptions {
            records: Some(records),
            symbols: sc.symbols,
            ..GeneratorOptions::default()
        });
        let plan = support::plan(sc.sql, sc.windowed.then_some("event_time"));
        let one = partition(&plan, &batches, 1);
        let many = partition(&plan, &batches, cores);

        // Check the answers before timing anything.
        let reference = (sc.baseline)(&batches);
        let r1 = run_engine(&plan, &one, OutputSpec::Collect);
        let rn = run_engine(&plan, &many, OutputSpec::Collect);
        assert_eq!(
            r1.records_in, records,
            "{}: every record reached a shard",
            sc.id
        );
        assert_eq!(
            r1.rows_out, reference.rows,
            "{}: 1 shard, rows out vs baseline",
            sc.id
        );
        let s1 = column_sum(&r1.collected, reference.column);
        assert!(
            close(s1, reference.sum),
            "{}: 1 shard, sum of column {} is {s1}, baseline {}",
            sc.id,
            reference.column,
            reference.sum
        );
        assert_eq!(
            checksum(&r1.collected),
            checksum(&rn.collected),
            "{}: {cores} shards give the same rows as 1",
            sc.id
        );
        drop((r1, rn));

        let parts: Vec<Vec<Batch>> = (0..cores)
            .map(|c| batches.iter().skip(c).step_by(cores).cloned().collect())
            .collect();
        // Shard `c` gets the bare loop copy `c`'s batches, whole.
        let shares: Vec<_> = parts
            .iter()
            .map(|p| partition(&plan, p, 1).remove(0))
            .collect();
        let (mut tb, mut tbn, mut t1, mut tn) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut t_shares = Vec::new();
        let mut rows_out = 0;
        for _ in 0..trials {
            tb.push((sc.baseline)(&batches).seconds);
            tbn.push(baseline_on_cores(sc.baseline, &parts));
            let r = run_engine(&plan, &one, OutputSpec::Discard);
            rows_out = r.rows_out;
            t1.push(r.seconds);
            tn.push(run_engine(&plan, &many, OutputSpec::Discard).seconds);
            let on_shares = run_engine(&plan, &shares, OutputSpec::Discard);
            assert_eq!(
                on_shares.records_in, records,
                "{}: every record reached a shard",
                sc.id
            );
            t_shares.push(on_shares.seconds);
        }
        let rate = |t: f64| records as f64 / t;
        let (b, bn, t1, tn) = (median(tb), median(tbn), median(t1), median(tn));
        let (r1, rn, rb, rbn) = (rate(t1), rate(tn), rate(b), rate(bn));
        let r_shares = rate(median(t_shares));
        println!(
            "{:<8} {:>5} {:>12.4e} {:>12.4e} {:>6.2} {:>12.4e} {:>12.4e} {:>7.2}  {}",
            sc.id,
            1,
            r1,
            r1,
            1.0,
            rows_out as f64 / t1,
            rb,
            r1 / rb,
            sc.baseline_name
        );
        println!(
            "{:<8} {:>5} {:>12.4e} {:>12.4e} {:>6.2} {:>12.4e} {:>12.4e} {:>7.2}  the same on {cores} cores at once: eff {:.2}; engine on shares: eff {:.2}",
            sc.id,
            cores,
            rn,
            rn / cores as f64,
            rn / (cores as f64 * r1),
            rows_out as f64 / tn,
            rbn,
            rn / rbn,
            rbn / (cores as f64 * rb),
            r_shares / (cores as f64 * r1),
        );
    }
}
