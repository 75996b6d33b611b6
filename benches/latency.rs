//! Ingest-to-sink latency at offered loads: the engine on one shard against
//! the floor the machine itself sets, measured in the same run.
//!
//! Both sides have the same shape: a thread kept off core 0 paces records at
//! `rate` per second (record `i` is due `i / rate` s after the start) and sends each
//! run of records that has come due, at most [`BATCH`], through an SPSC ring
//! to a thread pinned to core 0; every record gets the latency of the oldest
//! in its batch, from when it was due to when the pinned thread is done with
//! it. A router that falls behind its schedule therefore counts as latency.
//!
//! - **engine**: S2 (`GROUP BY trader_id, symbol`, four aggregates, `EMIT
//!   FINAL`) over `gen:trades?rate=R`, one shard on core 0, batches of
//!   [`BATCH`] rows with a 10 us linger, results discarded: the engine's own
//!   `RunSummary` latency (router, ring, shard, query, sink hand-off).
//! - **floor**: the same pacing and batching, but a bare `corestream` ring
//!   of `(oldest due time, rows)` pairs, and a consumer that spins on it and
//!   does nothing else (it never parks; an idle shard parks after 100 us, or
//!   while its router is late mid-stream after up to 10 ms, `IdlePolicy`):
//!   what any router-plus-shard design pays on this machine (clock, ring
//!   hand-off, the host scheduling both threads).
//!
//! The two alternate, rate by rate, [`ROUNDS`] times; the median of each
//! percentile is reported with `engine / floor` for p99. A ratio near 1 says
//! the machine bounds the engine's tail; a high floor says the host does
//! (a VM's scheduler taking the CPU from either thread).
//!
//! The engine's latency is also shown split where the shard takes a batch
//! (`RunSummary`'s `Latencies`): `wait` (generator, router, ring: the floor's
//! whole path) and `service` (the shard's query). Each side's `steal%` is the
//! share of the run's wall time in which the host ran something else on this
//! VM's CPUs (`steal` in `/proc/stat`, averaged over the CPUs, 10 ms ticks, so
//! coarse): past 1%, a p99 shorter than one such theft is out of reach for
//! both sides.
//!
//! `cargo bench --bench latency`; `CORESTREAM_BENCH_RATES` (default
//! "100000 1000000 5000000"), `CORESTREAM_BENCH_SECONDS` per run (default 2).
//! Without `--bench` (as under `cargo test --benches`) each side runs once,
//! briefly, and only its record count is checked.

use std::thread;
use std::time::{Duration, Instant};

use corestream::io::sink::OutputSpec;
use corestream::runtime::affinity::OffCores;
use corestream::runtime::cores::CoreSet;
use corestream::runtime::metrics::{
    new_latency_histogram, Latencies, LatencyHistogram, LatencyPercentiles,
};
use corestream::runtime::ring::ring;
use corestream::runtime::router::Batching;
use corestream::Engine;

/// Most rows a batch carries, on both sides.
const BATCH: usize = 16;
/// Alternating rounds of engine and floor per rate.
const ROUNDS: usize = 5;
/// The floor's ring, in batches.
const RING_CAPACITY: usize = 1024;

const S2: &str = "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, \
                  SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value \
                  FROM trades GROUP BY trader_id, symbol EMIT FINAL";

/// The engine's latencies for `records` records offered at `rate` per second.
fn engine(rate: u64, records: u64) -> Latencies {
    let online = CoreSet::online_cpus().expect("the online CPUs are readable");
    let out = Engine::builder()
        .sql(S2)
        .input(format!("gen:trades?records={records}&rate={rate}"))
        .cores(CoreSet::from_list("0", &online).expect("core 0 is online"))
        .batching(Batching {
            batch_size: BATCH,
            linger: Duration::from_micros(10),
        })
        .output(OutputSpec::Discard)
        .build()
        .expect("S2 plans")
        .run()
        .expect("S2 runs");
    assert!(out.summary.identity_holds(), "engine lost records");
    let latency = out.summary.merged_latencies();
    assert_eq!(
        latency.total.len(),
        records,
        "engine: one latency per record"
    );
    latency
}

/// Per CPU, the ticks the host has run something else instead of this VM
/// (`steal` in `/proc/stat`); empty where that is unreadable.
fn steal_ticks() -> Vec<u64> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .filter_map(|l| l.split_whitespace().nth(8)?.parse().ok())
        .collect()
}

/// Runs `side`, and returns what it returns with the share of its wall time,
/// in percent and averaged over the CPUs, that the host stole.
fn with_steal<T>(side: impl FnOnce() -> T) -> (T, f64) {
    // USER_HZ: /proc/stat counts in hundredths of a second on Linux.
    const TICKS_PER_S: f64 = 100.0;
    let (before, started) = (steal_ticks(), Instant::now());
    let out = side();
    let (after, secs) = (steal_ticks(), started.elapsed().as_secs_f64());
    let stolen: u64 = after.iter().zip(&before).map(|(a, b)| a - b).sum();
    let pct = 100.0 * stolen as f64 / (TICKS_PER_S * secs * after.len().max(1) as f64);
    (out, pct)
}

/// The floor: the same pacing and batching through a bare ring to a
/// consumer on core 0 that only records latencies.
fn floor(rate: u64, records: u64) -> LatencyHistogram {
    let (mut tx, mut rx) = ring::<(Instant, u32)>(RING_CAPACITY);
    let consumer = thread::spawn(move || {
        core_affinity::set_for_current(core_affinity::CoreId { id: 0 });
        let mut latency = new_latency_histogram();
        loop {
            match rx.pop() {
                Some((due, rows)) => {
                    let micros = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
                    latency.saturating_record_n(micros, u64::from(rows));
                }
                None if rx.is_abandoned() && rx.is_empty() => break,
                None => std::hint::spin_loop(),
            }
        }
        latency
    });
    // Off the consumer's core, as the engine keeps its router off its shard's.
    let _placed = OffCores::enter(&[0]);
    let started = Instant::now();
    let due = |i: u64| started + Duration::from_nanos(i * 1_000_000_000 / rate);
    let mut next = 0;
    while next < records {
        let oldest = due(next);
        while Instant::now() < oldest {
            std::hint::spin_loop();
        }
        let now = Instant::now();
        let mut rows = 1;
        while rows < BATCH as u32
            && next + u64::from(rows) < records
            && due(next + u64::from(rows)) <= now
        {
            rows += 1;
        }
        let mut item = (oldest, rows);
        while let Err(full) = tx.push(item) {
            item = full.into_inner();
            std::hint::spin_loop();
        }
        next += u64::from(rows);
    }
    drop(tx);
    let latency = consumer
        .join()
        .expect("the floor's consumer does not panic");
    assert_eq!(latency.len(), records, "floor: one latency per record");
    latency
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    let timed = std::env::args().any(|arg| arg == "--bench");
    let rates: Vec<u64> = env_or("CORESTREAM_BENCH_RATES", "100000 1000000 5000000")
        .split_whitespace()
        .map(|r| {
            r.parse()
                .expect("CORESTREAM_BENCH_RATES: records per second")
        })
        .collect();
    let seconds: f64 = env_or("CORESTREAM_BENCH_SECONDS", "2")
        .parse()
        .expect("CORESTREAM_BENCH_SECONDS: a number");
    if !timed {
        println!("latency bench in check mode: one short run of each side, nothing reported");
        // Each side asserts it measured every record.
        engine(100_000, 10_000);
        floor(100_000, 10_000);
        let online = CoreSet::online_cpus().expect("the online CPUs are readable");
        assert_eq!(
            steal_ticks().len(),
            online.len(),
            "/proc/stat has a steal count for every online CPU"
        );
        return;
    }
    println!(
        "ingest-to-sink latency (us), S2 on 1 shard (core 0) vs the bare-ring floor, batches of \
         {BATCH}, {seconds} s per run, median of {ROUNDS} alternating rounds"
    );
    println!(
        "{:>10} {:<9} {:>6} {:>6} {:>7} {:>7} {:>7}   {:>16}",
        "offered", "side", "p50", "p99", "p99.9", "max", "steal%", "p99 engine/floor"
    );
    for rate in rates {
        let records = (rate as f64 * seconds) as u64;
        // Per row: the percentiles of each round, and the steal of its run
        // (the engine's split rows come from the engine's runs).
        let mut rows: [(&str, Vec<LatencyPercentiles>, Vec<f64>); 4] = [
            ("engine", Vec::new(), Vec::new()),
            ("  wait", Vec::new(), Vec::new()),
            ("  service", Vec::new(), Vec::new()),
            ("floor", Vec::new(), Vec::new()),
        ];
        for _ in 0..ROUNDS {
            let (engine, engine_steal) = with_steal(|| engine(rate, records));
            let (floor, floor_steal) = with_steal(|| floor(rate, records));
            let runs = [
                (&engine.total, Some(engine_steal)),
                (&engine.wait, None),
                (&engine.service, None),
                (&floor, Some(floor_steal)),
            ];
            for (row, (h, steal)) in rows.iter_mut().zip(runs) {
                row.1.push(LatencyPercentiles::of(h));
                row.2.extend(steal);
            }
        }
        let p99 = |runs: &[LatencyPercentiles]| median(runs.iter().map(|p| p.p99).collect());
        let ratio = p99(&rows[0].1) as f64 / p99(&rows[3].1).max(1) as f64;
        for (i, (side, runs, steals)) in rows.iter().enumerate() {
            let of = |f: fn(&LatencyPercentiles) -> u64| median(runs.iter().map(f).collect());
            let steal = if steals.is_empty() {
                String::new()
            } else {
                let mut s = steals.clone();
                s.sort_by(f64::total_cmp);
                format!("{:.1}", s[s.len() / 2])
            };
            let ratio = if i == 3 {
                format!("{ratio:.2}")
            } else {
                String::new()
            };
            println!(
                "{:>10} {:<9} {:>6} {:>6} {:>7} {:>7} {:>7}   {:>16}",
                rate,
                side,
                of(|p| p.p50),
                of(|p| p.p99),
                of(|p| p.p999),
                of(|p| p.max),
                steal,
                ratio
            );
        }
    }
}
