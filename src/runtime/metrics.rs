//! Per-shard counters and the end-of-run summary.
//!
//! # Threading
//! Each shard's counters are written only by that shard, with plain relaxed
//! stores (no read-modify-write, no contention), and sit on their own cache
//! line. Any thread may read them for progress; the final read happens after
//! the shard thread is joined, so it sees the final values.

use crossbeam::utils::CachePadded;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters of one shard. Written only by the owning shard.
#[derive(Debug, Default)]
pub struct ShardCounters {
    records_in: AtomicU64,
    processed: AtomicU64,
    filtered: AtomicU64,
    late: AtomicU64,
    rows_out: AtomicU64,
}

/// The shard-local tally, published to [`ShardCounters`] once per batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShardStats {
    pub records_in: u64,
    pub processed: u64,
    pub filtered: u64,
    pub late: u64,
    pub rows_out: u64,
}

impl ShardCounters {
    pub fn new() -> std::sync::Arc<CachePadded<ShardCounters>> {
        std::sync::Arc::new(CachePadded::new(ShardCounters::default()))
    }

    /// Publishes the owner's tally. Only the owning shard calls this.
    pub fn publish(&self, s: &ShardStats) {
        self.records_in.store(s.records_in, Ordering::Relaxed);
        self.processed.store(s.processed, Ordering::Relaxed);
        self.filtered.store(s.filtered, Ordering::Relaxed);
        self.late.store(s.late, Ordering::Relaxed);
        self.rows_out.store(s.rows_out, Ordering::Relaxed);
    }

    pub fn read(&self) -> ShardStats {
        ShardStats {
            records_in: self.records_in.load(Ordering::Relaxed),
            processed: self.processed.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            rows_out: self.rows_out.load(Ordering::Relaxed),
        }
    }
}

/// Totals of one finished run.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Per shard, with the core it ran on.
    pub shards: Vec<(usize, ShardStats)>,
    /// Records the source produced, before routing.
    pub records_read: u64,
    /// Records that did not decode (skipped and counted by the source).
    pub malformed: u64,
    pub elapsed: Duration,
}

impl RunSummary {
    pub fn total(&self) -> ShardStats {
        let mut t = ShardStats::default();
        for (_, s) in &self.shards {
            t.records_in += s.records_in;
            t.processed += s.processed;
            t.filtered += s.filtered;
            t.late += s.late;
            t.rows_out += s.rows_out;
        }
        t
    }

    /// Whether every record read is accounted for:
    /// read + malformed = processed + filtered + late + malformed, and every shard
    /// received exactly what it accounts for.
    pub fn identity_holds(&self) -> bool {
        let t = self.total();
        self.shards
            .iter()
            .all(|(_, s)| s.records_in == s.processed + s.filtered + s.late)
            && self.records_read == t.records_in
    }

    /// The human summary printed to stderr at the end of a run.
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>6} {:>5} {:>12} {:>12} {:>10} {:>8} {:>10} {:>12} {:>14}",
            "shard",
            "core",
            "records_in",
            "processed",
            "filtered",
            "late",
            "malformed",
            "rows_out",
            "records/s"
        );
        for (i, (core, s)) in self.shards.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:>6} {:>5} {:>12} {:>12} {:>10} {:>8} {:>10} {:>12} {:>14.0}",
                i,
                core,
                s.records_in,
                s.processed,
                s.filtered,
                s.late,
                0,
                s.rows_out,
                s.records_in as f64 / secs
            );
        }
        let t = self.total();
        let input = t.records_in + self.malformed;
        let _ = writeln!(
            out,
            "{:>6} {:>5} {:>12} {:>12} {:>10} {:>8} {:>10} {:>12} {:>14.0}",
            "total",
            "",
            input,
            t.processed,
            t.filtered,
            t.late,
            self.malformed,
            t.rows_out,
            input as f64 / secs
        );
        let _ = writeln!(
            out,
            "in {input} = processed {} + filtered {} + late {} + malformed {} ({}); elapsed {:.3} s",
            t.processed,
            t.filtered,
            t.late,
            self.malformed,
            if self.identity_holds() { "holds" } else { "VIOLATED" },
            secs
        );
        out
    }
}
