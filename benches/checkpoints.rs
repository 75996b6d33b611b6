//! What checkpoints cost, end to end through the engine (generator, routers,
//! shards, a discarding sink), with the baseline run in the same process:
//!
//! - **throughput**: the default GROUP BY over generated trades (10,000
//!   groups), without checkpoints and with one every second, alternated
//!   trial by trial; the ratio is the cost of checkpointing.
//! - **1M groups**: the same query over a million groups (100,000 traders x
//!   10 symbols): throughput with and without checkpoints every second, the
//!   last checkpoint's time (asked to committed) and size.
//! - **recovery**: reading the 1M-group checkpoint back and restoring it
//!   into fresh shard pipelines (what a restarted run does before it reads
//!   on), and a resumed run end to end.
//!
//! `CORESTREAM_BENCH_RECORDS` sets the records of the throughput runs
//! (default 20M; the 1M-group runs use a fifth of it, at least 4M);
//! `CORESTREAM_BENCH_TRIALS` the trials (median shown). Uses every core.

mod support;

use corestream::checkpoint::restore::{self, ShardRestore};
use corestream::checkpoint::{support as covered, CheckpointConfig, CheckpointStats};
use corestream::engine::DEFAULT_SQL;
use corestream::exec::pipeline::Pipeline;
use corestream::io::sink::OutputSpec;
use corestream::Engine;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{median, records, trials};

fn spec(records: u64, traders: u64) -> String {
    format!("gen:trades?records={records}&traders={traders}&symbols=10&seed=7")
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("corestream-bench-ck-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config(dir: &Path, every: Duration) -> CheckpointConfig {
    CheckpointConfig {
        dir: dir.to_owned(),
        interval: every,
        fresh: true,
    }
}

/// One run: records per second, and the checkpoints' figures.
fn run(input: &str, checkpoints: Option<CheckpointConfig>) -> (f64, Option<CheckpointStats>) {
    let mut b = Engine::builder()
        .sql(DEFAULT_SQL)
        .input(input)
        .output(OutputSpec::Discard);
    if let Some(c) = checkpoints {
        b = b.checkpoints(c);
    }
    let out = b.build().expect("plans").run().expect("runs");
    let s = &out.summary;
    (
        s.records_read as f64 / s.elapsed.as_secs_f64(),
        s.checkpoints.clone(),
    )
}

/// Median records/s without and with a checkpoint every second, alternated.
fn compare(input: &str, tag: &str) -> (f64, f64, Option<CheckpointStats>) {
    let (mut off, mut on, mut stats) = (Vec::new(), Vec::new(), None);
    let d = dir(tag);
    for _ in 0..trials() {
        off.push(run(input, None).0);
        let (r, s) = run(input, Some(config(&d, Duration::from_secs(1))));
        on.push(r);
        stats = s;
    }
    let _ = std::fs::remove_dir_all(&d);
    (median(off), median(on), stats)
}

fn mrps(x: f64) -> String {
    format!("{:.1}M records/s", x / 1e6)
}

fn main() {
    let n = records(20_000_000);
    let shards = core_affinity::get_core_ids().map_or(1, |c| c.len());
    println!(
        "checkpoints: {n} trades, {shards} shards, median of {} trials",
        trials()
    );

    let (off, on, stats) = compare(&spec(n, 1000), "throughput");
    println!(
        "throughput, 10K groups: none {}, every 1 s {} (ratio {:.3}); {}",
        mrps(off),
        mrps(on),
        on / off,
        stats.map_or("no checkpoint taken".into(), |s| s.render())
    );

    let big = (n / 5).max(4_000_000);
    let input = spec(big, 100_000);
    let (off, on, stats) = compare(&input, "groups");
    println!(
        "throughput, 1M groups ({big} trades): none {}, every 1 s {} (ratio {:.3}); {}",
        mrps(off),
        mrps(on),
        on / off,
        stats.map_or("no checkpoint taken".into(), |s| s.render())
    );

    // A checkpoint of most of the 1M groups, kept: a run stopped before
    // the end keeps its checkpoints. It stops at 90% of a full run's time.
    let d = dir("recovery");
    let full = Duration::from_secs_f64(big as f64 / off);
    let engine = Engine::builder()
        .sql(DEFAULT_SQL)
        .input(&input)
        .output(OutputSpec::Discard)
        .checkpoints(config(&d, Duration::from_millis(200)))
        .build()
        .expect("plans");
    let plan = engine.plan().clone();
    let t0 = Instant::now();
    let stop = || t0.elapsed() > full.mul_f64(0.9);
    engine.run_until(&stop).expect("runs");
    let fingerprint = covered::fingerprint(&plan);
    let mut restore_ms = Vec::new();
    let mut groups = 0;
    for _ in 0..trials() {
        let t = Instant::now();
        let keep = CheckpointConfig {
            fresh: false,
            ..config(&d, Duration::from_secs(1))
        };
        let found = restore::latest(&keep, &fingerprint)
            .map(|mut f| f.restored.take().expect("a checkpoint was kept"))
            .expect("reads");
        let r = ShardRestore {
            files: found.files.clone(),
            parts: found.manifest.parts.clone(),
            shards,
            routing: covered::state_routing(&plan),
        };
        let mut pipelines: Vec<Pipeline> = (0..shards)
            .map(|s| Pipeline::new(&plan, s, false))
            .collect();
        for (s, p) in pipelines.iter_mut().enumerate() {
            r.restore(std::slice::from_mut(p), s).expect("restores");
        }
        restore_ms.push(t.elapsed().as_secs_f64() * 1e3);
        groups = pipelines
            .iter_mut()
            .map(|p| p.aggregate_mut().map_or(0, |a| a.groups()))
            .sum();
    }
    println!(
        "recovery: {groups} groups read and restored in {:.1} ms (median; one thread, \
         checkpoint of {} shards)",
        median(restore_ms),
        shards
    );
    let t = Instant::now();
    let resumed = Engine::builder()
        .sql(DEFAULT_SQL)
        .input(&input)
        .output(OutputSpec::Discard)
        .checkpoints(CheckpointConfig {
            fresh: false,
            ..config(&d, Duration::from_secs(60))
        })
        .build()
        .expect("plans")
        .run()
        .expect("runs");
    println!(
        "resumed run end to end: {:.1} ms ({} of {big} records read again)",
        t.elapsed().as_secs_f64() * 1e3,
        resumed.summary.records_read
    );
    let _ = std::fs::remove_dir_all(&d);
}
