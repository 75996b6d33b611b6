//! Per-shard counters, ingest-to-sink latency, live progress, and the
//! end-of-run summary (human table and JSON).
//!
//! # Threading
//! Each shard's counters are written only by that shard, with plain relaxed
//! stores (no read-modify-write, no contention), and sit on their own cache
//! line. The router's per-shard [`RoutedCounter`] is written only by the
//! router, on a cache line of its own. Any thread may read both for progress
//! ([`Progress`]); the final read happens after the shard thread is joined, so
//! it sees the final values.
//!
//! Each shard owns its latency [`Histogram`]s outright while it runs (no
//! sharing, no atomics) and hands them back when it finishes; the summary
//! holds one set per shard and merges them on demand.
//!
//! # Latency
//! Ingest-to-sink latency is in **microseconds**: from a batch's
//! [`ingest_time`](crate::data::Batch::ingest_time) (when the oldest row of
//! that batch arrived: read by the router from its source, or for the
//! rate-limited generator, when it was due) to the moment the shard has run
//! the batch through its pipeline and handed the results to its sink (or found
//! there were none, e.g. an `EMIT FINAL` aggregate only updating its state).
//! Every record of a batch is recorded with its batch's latency, so the
//! percentiles are per record and an upper bound for all but the batch's
//! oldest row. "Handed to the sink" is not "written": a sink buffers up to
//! 64 KiB or until the router's linger flush. Rows emitted by a watermark or at
//! end of input (closed windows, FINAL results) are not recorded.
//!
//! Each latency is also split where the shard takes the batch off its ring
//! ([`Latencies`]): **wait** before it (the source, the router, the ring, and
//! any time either thread was off its core) and **service** after it (the
//! shard's query and sink hand-off), so a tail can be traced to its side.

use crossbeam::utils::CachePadded;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Live counters of one shard. Written only by the owning shard.
#[derive(Debug, Default)]
pub struct ShardCounters {
    records_in: AtomicU64,
    processed: AtomicU64,
    filtered: AtomicU64,
    late: AtomicU64,
    rows_out: AtomicU64,
    parks: AtomicU64,
    /// Ingest-to-sink latency so far (us): p50, p99, p99.9, max; published
    /// about once a second (see [`ShardCounters::publish_latency`]).
    latency: [AtomicU64; 4],
}

/// The shard-local tally, published to [`ShardCounters`] once per batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShardStats {
    pub records_in: u64,
    pub processed: u64,
    pub filtered: u64,
    pub late: u64,
    pub rows_out: u64,
    /// Times the shard parked its thread, idle (see
    /// [`crate::runtime::shard`], Idle policy): each costs a wake-up later.
    pub parks: u64,
    /// Rows its interval joins (and regular joins with a state time-to-live)
    /// freed behind the watermark before the end of input.
    pub join_rows_freed: u64,
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
        self.parks.store(s.parks, Ordering::Relaxed);
    }

    /// Publishes the percentiles of the owner's latency histogram. Only the
    /// owning shard calls this, about once a second (it walks the
    /// histogram: microseconds).
    pub fn publish_latency(&self, h: &LatencyHistogram) {
        let p = LatencyPercentiles::of(h);
        for (slot, v) in self.latency.iter().zip([p.p50, p.p99, p.p999, p.max]) {
            slot.store(v, Ordering::Relaxed);
        }
    }

    /// The latency percentiles last published (zero before the first).
    pub fn latency(&self) -> LatencyPercentiles {
        let [p50, p99, p999, max] = self.latency.each_ref().map(|a| a.load(Ordering::Relaxed));
        LatencyPercentiles {
            count: 0,
            p50,
            p99,
            p999,
            max,
        }
    }

    pub fn read(&self) -> ShardStats {
        ShardStats {
            records_in: self.records_in.load(Ordering::Relaxed),
            processed: self.processed.load(Ordering::Relaxed),
            filtered: self.filtered.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
            rows_out: self.rows_out.load(Ordering::Relaxed),
            parks: self.parks.load(Ordering::Relaxed),
            // Known at the end only, from the shard's own tally.
            join_rows_freed: 0,
        }
    }
}

/// Records the router has sent to one shard, for progress (backlog); also
/// the malformed records a router has read (for the metrics endpoint).
///
/// Written only by the router, once per batch pushed on that shard's ring
/// (once per poll for malformed records), on a cache line of its own (so it
/// does not share one with the shard's counters). Range: 0 ..= records read.
#[derive(Debug, Default)]
pub struct RoutedCounter(AtomicU64);

impl RoutedCounter {
    pub fn new() -> std::sync::Arc<CachePadded<RoutedCounter>> {
        std::sync::Arc::new(CachePadded::new(RoutedCounter::default()))
    }

    /// Publishes the router's running total. Only the router calls this.
    pub fn publish(&self, routed: u64) {
        debug_assert!(routed >= self.0.load(Ordering::Relaxed), "never decreases");
        self.0.store(routed, Ordering::Relaxed);
    }

    pub fn read(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Ingest-to-sink latencies in microseconds (see the module docs).
pub type LatencyHistogram = Histogram<u64>;

/// The largest latency recorded as itself: one hour, in microseconds. Longer
/// ones are recorded as one hour.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;

/// An empty latency histogram: 1 us to one hour, 3 significant digits
/// (about 190 KiB; no allocation when recording).
pub fn new_latency_histogram() -> LatencyHistogram {
    // The bounds are constants that satisfy the crate's checks (low >= 1,
    // high >= 2 * low, sigfig <= 5): failure here is a bug, not bad input.
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("constant histogram bounds are valid")
}

/// One shard's latencies in microseconds, one count per record, each split
/// where the shard takes its batch off the ring (see the module docs).
///
/// # Invariant
/// The three histograms hold the same records: a batch is recorded in all
/// three or in none.
#[derive(Debug, Clone)]
pub struct Latencies {
    /// Ingest to sink hand-off.
    pub total: LatencyHistogram,
    /// Ingest until the shard takes the batch: source, router and ring.
    pub wait: LatencyHistogram,
    /// The shard taking the batch until its results are handed to the sink.
    pub service: LatencyHistogram,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            total: new_latency_histogram(),
            wait: new_latency_histogram(),
            service: new_latency_histogram(),
        }
    }
}

impl Latencies {
    /// Records `records` rows of a batch that arrived at `ingest`, was taken
    /// by the shard at `taken` and handed to its sink at `done`. A latency
    /// beyond [`LATENCY_MAX_US`] is recorded as that, and still counted.
    pub fn record(&mut self, ingest: Instant, taken: Instant, done: Instant, records: u64) {
        let micros = |from: Instant, to: Instant| {
            u64::try_from(to.saturating_duration_since(from).as_micros()).unwrap_or(u64::MAX)
        };
        self.total
            .saturating_record_n(micros(ingest, done), records);
        self.wait
            .saturating_record_n(micros(ingest, taken), records);
        self.service
            .saturating_record_n(micros(taken, done), records);
    }

    /// Adds `other`'s counts to these.
    fn add(&mut self, other: &Latencies) {
        // Every histogram here has the bounds of `new_latency_histogram`, so
        // adding cannot overflow its range.
        let _ = self.total.add(&other.total);
        let _ = self.wait.add(&other.wait);
        let _ = self.service.add(&other.service);
    }
}

/// The percentiles reported for a latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LatencyPercentiles {
    /// Records measured.
    pub count: u64,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl LatencyPercentiles {
    /// The percentiles of `h`; all zero when it is empty.
    pub fn of(h: &LatencyHistogram) -> LatencyPercentiles {
        if h.is_empty() {
            return LatencyPercentiles::default();
        }
        LatencyPercentiles {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// A live view of one shard, read off the data path while the run goes on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardProgress {
    /// Records the routers have sent to the shard.
    pub routed: u64,
    /// Records the shard has taken from its ring and run through its pipeline.
    pub records_in: u64,
    pub rows_out: u64,
}

impl ShardProgress {
    /// Records routed to the shard that it has not processed yet (in its ring).
    /// The two counters are read separately, so this is approximate.
    pub fn backlog(&self) -> u64 {
        self.routed.saturating_sub(self.records_in)
    }
}

/// A live view of a run, handed to a progress observer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Since the run started.
    pub elapsed: Duration,
    /// Per shard, in shard order.
    pub shards: Vec<ShardProgress>,
}

impl Progress {
    /// Reads every shard's counters (relaxed loads; no effect on the shards).
    pub fn read(
        elapsed: Duration,
        routed: &[Vec<std::sync::Arc<CachePadded<RoutedCounter>>>],
        counters: &[std::sync::Arc<CachePadded<ShardCounters>>],
    ) -> Progress {
        let shards = routed
            .iter()
            .zip(counters)
            .map(|(r, c)| {
                // The shard's count first: it trails the routers', so reading
                // it first keeps the backlog from going negative in practice.
                let s = c.read();
                ShardProgress {
                    routed: r.iter().map(|r| r.read()).sum(),
                    records_in: s.records_in,
                    rows_out: s.rows_out,
                }
            })
            .collect();
        Progress { elapsed, shards }
    }

    /// Records routed to all shards.
    pub fn routed(&self) -> u64 {
        self.shards.iter().map(|s| s.routed).sum()
    }

    /// Records processed by all shards.
    pub fn records_in(&self) -> u64 {
        self.shards.iter().map(|s| s.records_in).sum()
    }

    /// Result rows from all shards.
    pub fn rows_out(&self) -> u64 {
        self.shards.iter().map(|s| s.rows_out).sum()
    }

    /// One line for a terminal: rates since `earlier` and each shard's backlog.
    pub fn render_since(&self, earlier: &Progress) -> String {
        let dt = self
            .elapsed
            .saturating_sub(earlier.elapsed)
            .as_secs_f64()
            .max(1e-9);
        let rate = |now: u64, then: u64| now.saturating_sub(then) as f64 / dt;
        let mut line = format!(
            "{:.1} s: in {:.0} rec/s, processed {:.0} rec/s, out {:.0} rows/s; backlog",
            self.elapsed.as_secs_f64(),
            rate(self.routed(), earlier.routed()),
            rate(self.records_in(), earlier.records_in()),
            rate(self.rows_out(), earlier.rows_out()),
        );
        for (i, s) in self.shards.iter().enumerate() {
            let _ = write!(line, " {i}:{}", s.backlog());
        }
        line
    }
}

/// Totals of one finished run.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Per shard, with the core it ran on.
    pub shards: Vec<(usize, ShardStats)>,
    /// Per shard (same order as `shards`), ingest-to-sink latency in
    /// microseconds, one count per record, and its split (see the module
    /// docs). Empty for a shard that failed.
    pub latency: Vec<Latencies>,
    /// Records the source produced, before routing.
    pub records_read: u64,
    /// Records that did not decode (skipped and counted by the source).
    pub malformed: u64,
    pub elapsed: Duration,
    /// The run was stopped (its `stop` condition became true) before the
    /// input ended; what was read was processed and written.
    pub stopped: bool,
    /// Routers that read the input: more than one for a file read in
    /// parallel, one byte range each.
    pub readers: usize,
    /// The routers folded rows into partial groups (see
    /// [`crate::exec::partial_agg`]); a shard's records are then the rows
    /// the groups it was handed stand for.
    pub partial_aggregation: bool,
    /// With `--checkpoint-dir`: what the checkpoints took.
    pub checkpoints: Option<crate::checkpoint::CheckpointStats>,
    /// The run failed with this error (after its shards started): rows
    /// written before it stay, but no final results were written (see
    /// [`crate::engine`], Failing).
    pub failed: Option<String>,
}

/// The JSON form of one summary row (a shard, or the total).
#[derive(Serialize)]
struct JsonRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    core: Option<usize>,
    records_in: u64,
    processed: u64,
    filtered: u64,
    late: u64,
    malformed: u64,
    rows_out: u64,
    parks: u64,
    records_per_s: f64,
    latency_us: LatencyPercentiles,
    wait_us: LatencyPercentiles,
    service_us: LatencyPercentiles,
}

/// The JSON form of a summary.
#[derive(Serialize)]
struct JsonSummary {
    elapsed_s: f64,
    records_per_s: f64,
    records_read: u64,
    readers: usize,
    partial_aggregation: bool,
    stopped: bool,
    failed: Option<String>,
    identity_holds: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoints: Option<crate::checkpoint::CheckpointStats>,
    shards: Vec<JsonRow>,
    total: JsonRow,
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
            t.parks += s.parks;
            t.join_rows_freed += s.join_rows_freed;
        }
        t
    }

    /// Every shard's latencies merged into one set.
    pub fn merged_latencies(&self) -> Latencies {
        let mut all = Latencies::default();
        for l in &self.latency {
            all.add(l);
        }
        all
    }

    /// Every shard's ingest-to-sink latency merged into one histogram.
    pub fn merged_latency(&self) -> LatencyHistogram {
        self.merged_latencies().total
    }

    /// The ingest-to-sink latency percentiles of shard `shard` (zero if it
    /// recorded none).
    pub fn shard_latency(&self, shard: usize) -> LatencyPercentiles {
        self.latency
            .get(shard)
            .map(|l| LatencyPercentiles::of(&l.total))
            .unwrap_or_default()
    }

    /// The ingest-to-sink latency percentiles of all shards together.
    pub fn total_latency(&self) -> LatencyPercentiles {
        LatencyPercentiles::of(&self.merged_latency())
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

    /// The human summary printed to stderr at the end of a run. Latencies are
    /// ingest-to-sink, in microseconds.
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>6} {:>5} {:>12} {:>12} {:>10} {:>8} {:>10} {:>12} {:>14} {:>9} {:>9} {:>9} {:>9}",
            "shard",
            "core",
            "records_in",
            "processed",
            "filtered",
            "late",
            "malformed",
            "rows_out",
            "records/s",
            "p50_us",
            "p99_us",
            "p99.9_us",
            "max_us"
        );
        for (i, (core, s)) in self.shards.iter().enumerate() {
            let l = self.shard_latency(i);
            let _ = writeln!(
                out,
                "{:>6} {:>5} {:>12} {:>12} {:>10} {:>8} {:>10} {:>12} {:>14.0} {:>9} {:>9} {:>9} {:>9}",
                i,
                core,
                s.records_in,
                s.processed,
                s.filtered,
                s.late,
                0,
                s.rows_out,
                s.records_in as f64 / secs,
                l.p50,
                l.p99,
                l.p999,
                l.max
            );
        }
        let t = self.total();
        let all = self.merged_latencies();
        let l = LatencyPercentiles::of(&all.total);
        let input = t.records_in + self.malformed;
        let _ = writeln!(
            out,
            "{:>6} {:>5} {:>12} {:>12} {:>10} {:>8} {:>10} {:>12} {:>14.0} {:>9} {:>9} {:>9} {:>9}",
            "total",
            "",
            input,
            t.processed,
            t.filtered,
            t.late,
            self.malformed,
            t.rows_out,
            input as f64 / secs,
            l.p50,
            l.p99,
            l.p999,
            l.max
        );
        let _ = writeln!(
            out,
            "in {input} = processed {} + filtered {} + late {} + malformed {} ({}); elapsed {:.3} s{}{}{}",
            t.processed,
            t.filtered,
            t.late,
            self.malformed,
            if self.identity_holds() { "holds" } else { "VIOLATED" },
            secs,
            if self.readers > 1 {
                format!("; read by {} readers in parallel", self.readers)
            } else {
                String::new()
            },
            if self.partial_aggregation { "; aggregated partly in the readers" } else { "" },
            if self.stopped { "; stopped before the end of input" } else { "" }
        );
        let (wait, service) = (
            LatencyPercentiles::of(&all.wait),
            LatencyPercentiles::of(&all.service),
        );
        let _ = writeln!(
            out,
            "latency split (us, p50/p99/p99.9/max): waiting for the shard {}/{}/{}/{}, in the shard {}/{}/{}/{}; shards parked {} times",
            wait.p50, wait.p99, wait.p999, wait.max, service.p50, service.p99, service.p999, service.max, t.parks
        );
        if let Some(e) = &self.failed {
            let _ = writeln!(
                out,
                "FAILED: {e}\nrows written before the failure stay; no final results \
                 (EMIT FINAL rows, windows closed by the end of input) were written"
            );
        }
        if t.join_rows_freed > 0 {
            let _ = writeln!(
                out,
                "join state: {} rows freed behind the watermark before the end of input",
                t.join_rows_freed
            );
        }
        if let Some(c) = &self.checkpoints {
            let _ = writeln!(out, "{}", c.render());
        }
        out
    }

    /// The summary as one JSON object: `elapsed_s`, `records_per_s`,
    /// `records_read`, `readers`, `partial_aggregation`, `stopped`, `failed`
    /// (the error of a failed run, else `null`), `identity_holds`, `shards` (one row per
    /// shard) and `total`. Each row has `records_in`, `processed`, `filtered`,
    /// `late`, `malformed`, `rows_out`, `parks`, `records_per_s`, and `latency_us`
    /// with its split `wait_us` and `service_us` (each `count`, `p50`, `p99`,
    /// `p999`, `max`; see [`Latencies`]). In `total`, `records_in`
    /// includes the malformed records, so
    /// `records_in = processed + filtered + late + malformed` when the
    /// identity holds.
    pub fn to_json(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let row = |shard: Option<usize>,
                   core: Option<usize>,
                   s: &ShardStats,
                   records_in: u64,
                   malformed: u64,
                   latency: Option<&Latencies>| JsonRow {
            shard,
            core,
            records_in,
            processed: s.processed,
            filtered: s.filtered,
            late: s.late,
            malformed,
            rows_out: s.rows_out,
            parks: s.parks,
            records_per_s: records_in as f64 / secs,
            latency_us: latency.map_or_else(Default::default, |l| LatencyPercentiles::of(&l.total)),
            wait_us: latency.map_or_else(Default::default, |l| LatencyPercentiles::of(&l.wait)),
            service_us: latency
                .map_or_else(Default::default, |l| LatencyPercentiles::of(&l.service)),
        };
        let t = self.total();
        let input = t.records_in + self.malformed;
        let summary = JsonSummary {
            elapsed_s: self.elapsed.as_secs_f64(),
            records_per_s: input as f64 / secs,
            records_read: self.records_read,
            readers: self.readers,
            partial_aggregation: self.partial_aggregation,
            stopped: self.stopped,
            failed: self.failed.clone(),
            identity_holds: self.identity_holds(),
            checkpoints: self.checkpoints.clone(),
            shards: self
                .shards
                .iter()
                .enumerate()
                .map(|(i, (core, s))| {
                    row(
                        Some(i),
                        Some(*core),
                        s,
                        s.records_in,
                        0,
                        self.latency.get(i),
                    )
                })
                .collect(),
            total: row(
                None,
                None,
                &t,
                input,
                self.malformed,
                Some(&self.merged_latencies()),
            ),
        };
        // Plain numbers, strings and booleans only: serialising cannot fail.
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    }
}
