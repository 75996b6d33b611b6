//! A shard: one pinned glommio executor that owns its slice of the query state.
//!
//! The shard pops messages from its input rings (one per router, and one
//! per other shard for each exchange between the query's stages), runs its
//! stages over each batch ([`StageRunner`]), and hands results to its own
//! sink. Nothing it
//! touches on the data path is shared with another core: the pipeline, the
//! sink and the tally are its own; the counters it publishes are written by
//! it alone.
//!
//! # Partial groups
//! A [`Message::Partial`] carries groups a router aggregated itself; the shard
//! merges the ones it owns into its own and counts the input rows they stand
//! for as processed (see [`crate::exec::partial_agg`]).
//!
//! # Spent batches
//! A data batch the pipeline only read goes back, emptied, to the router it
//! came from, on that router's return ring, to be filled again (see the
//! router's docs); if the ring is full the batch is freed.
//!
//! # Latency
//! The shard records each data batch's ingest-to-sink latency (microseconds,
//! one count per record; see [`super::metrics`]), split where it takes the
//! batch, in histograms it owns, and hands them back in [`ShardOutput`] when
//! it finishes. Recording costs two clock reads and three array increments
//! per batch.
//!
//! # Start-up
//! A shard reports on `ready` once it has opened its sinks and built its
//! pipeline, just before it takes its first message, and drops its sender
//! then (or when it fails before that). The engine lets the routers read
//! only once every shard has reported or failed ([`StartGate`]), and only if
//! every shard reported: the executor's start-up (tens of milliseconds,
//! io_uring set-up and sink files) is then not latency for the first
//! records, and when a shard cannot start, no input is read (its rings may
//! still look open when its sender is gone, so the count decides).
//!
//! # Several routers
//! With one router per reader (a file read in parallel), the shard has one
//! ring from each: [`Inputs`] takes a batch from each in turn. Each router
//! sends its own watermark; the shard's event time is the smallest of them
//! (a router that has ended no longer holds it back), so a window closes only
//! when every router has passed it. The shard finishes when every router has
//! sent end of input (or gone away).
//!
//! # Several inputs
//! A query that joins two inputs has rings from the routers of each: every
//! ring belongs to a port (0 for the primary input, 1 for the joined one),
//! each port has its own watermark (the smallest of its routers'; `i64::MAX`
//! once they have all ended), and the pipeline follows them (see
//! [`crate::exec::pipeline::Pipeline`]). A table read completely before any
//! row is joined against it gates port 0: its rings are not read until
//! every ring of port 1 has ended, so the join sees the whole table
//! whatever the timing.
//!
//! # Several stages
//! A query of several stages (subqueries) runs every stage on every shard;
//! between two stages rows are re-keyed through the exchange (see
//! [`super::exchange`]), whose rings are more inputs of the shard, on the
//! later stage's port. Later stages are read first, and a stage whose
//! exchange is full takes no input until it drains (see [`Inputs`]), so the
//! shards never wait on each other in a cycle.
//!
//! # A failed run
//! When a feed ends with [`Message::Failed`] (a router whose source failed,
//! or that stopped because another failed; a shard that stopped), the shard
//! still drains every ring, as at end of input, but then emits nothing
//! more: its stages drop what they hold instead of finishing (a stage
//! before the last as soon as all its ports have ended) (no `EMIT
//! FINAL` rows, no windows closed by the end of input) and pass the failure
//! on through their exchanges ([`StageRunner::abandon`]). Rows it wrote
//! before (closed windows, `EMIT CHANGES` updates) stay; the sink is
//! flushed and closed, and the shard's counts go into the summary.
//!
//! # Idle policy
//! When its rings are empty the shard flushes its sink, then polls for
//! [`IdlePolicy::spin`] (backing off), then parks its thread on the
//! [`Doorbell`] until the router rings it. A parked shard uses no CPU.
//!
//! A router on a CPU of its own says, through the doorbell's flow hint, while
//! its source keeps returning rows. A gap then means the router was held up
//! (the host took its CPU for a few milliseconds), not that the input is
//! idle, and the rows it catches up with should not also wait for the shard
//! to wake: the shard keeps polling for up to [`IdlePolicy::stall_spin`]
//! instead. A router that shares a core with its shard never says so: its
//! shard's spinning would take the router's CPU.

use super::doorbell::Doorbell;
use super::exchange::ExchangeOut;
use super::message::Message;
use super::metrics::{Latencies, ShardCounters, ShardStats};
use super::ring::{Consumer, Producer};
use super::shard_inputs::Inputs;
use super::stage_runner::{Out, StageRunner};
use crate::checkpoint::coordinator::Report;
use crate::checkpoint::restore::ShardRestore;
use crate::data::Batch;
use crate::error::Error;
use crate::exec::pipeline::BatchCounts;
use crate::io::late::{self, late_file, LatePolicy};
use crate::io::sink::{OutputSpec, ShardSink};
use crate::sql::plan::{JoinKind, QueryPlan};
use crate::sync::Arc;
use crossbeam::utils::{Backoff, CachePadded};
use std::time::{Duration, Instant};

/// How long an idle shard polls before it parks (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdlePolicy {
    /// With the input idle.
    pub spin: Duration,
    /// With the input flowing but the router's next rows late; the longer of
    /// this and `spin` applies.
    pub stall_spin: Duration,
}

impl Default for IdlePolicy {
    fn default() -> Self {
        IdlePolicy {
            spin: Duration::from_micros(100),
            stall_spin: Duration::from_millis(10),
        }
    }
}

/// Everything a shard owns, moved onto its core at spawn.
pub struct ShardSpec {
    pub index: usize,
    pub core: usize,
    pub plan: QueryPlan,
    pub output: OutputSpec,
    pub late: LatePolicy,
    /// The text the first input's sources keep for late records, if any
    /// (see [`late::keeps_text`]): it names the late file.
    pub late_text: Option<late::RecordText>,
    pub idle: IdlePolicy,
    /// One ring per router, then one per other shard per exchange, all
    /// rung through `doorbell`.
    pub consumers: Vec<Consumer<Message>>,
    /// Per ring (as `consumers`), its port (see [`Inputs`]).
    pub ports: Vec<usize>,
    /// Left ports of joins that read their table first: each is read only
    /// once the port after it has ended.
    pub table_first: Vec<usize>,
    /// Per ring (as `consumers`), the ring spent batches go back on: a
    /// router's; `None` for an exchange ring.
    pub returns: Vec<Option<Producer<Batch>>>,
    /// This shard's sending end of each exchange between the plan's stages.
    pub exchanges: Vec<ExchangeOut>,
    pub doorbell: Arc<Doorbell>,
    pub counters: std::sync::Arc<CachePadded<ShardCounters>>,
    /// The shard's result ring, with [`OutputSpec::Rings`] only.
    pub results: Option<Producer<Batch>>,
    /// Told once when the shard is ready for its first message, then dropped
    /// (see the module docs); from [`StartGate::ready_sender`].
    pub ready: std::sync::mpsc::Sender<()>,
    /// With checkpoints: where to report, and the state to start from.
    pub checkpoint: Option<ShardCheckpoint>,
}

/// A shard's part in checkpoints (see [`crate::checkpoint`]).
pub struct ShardCheckpoint {
    pub reports: std::sync::mpsc::Sender<Report>,
    /// The checkpoint resumed from, if any.
    pub restore: Option<std::sync::Arc<ShardRestore>>,
}

/// Where the starter of some shards waits until each is ready for its first
/// message or has failed (see the module docs, Start-up).
pub struct StartGate {
    sender: std::sync::mpsc::Sender<()>,
    receiver: std::sync::mpsc::Receiver<()>,
}

impl Default for StartGate {
    fn default() -> Self {
        let (sender, receiver) = std::sync::mpsc::channel();
        StartGate { sender, receiver }
    }
}

impl StartGate {
    /// The [`ShardSpec::ready`] of one shard.
    pub fn ready_sender(&self) -> std::sync::mpsc::Sender<()> {
        self.sender.clone()
    }

    /// Returns once every shard given a sender has reported or dropped it
    /// (its thread ended, or never started): how many reported. A shard that
    /// failed to start may drop its sender before its rings.
    pub fn wait(self) -> usize {
        let StartGate { sender, receiver } = self;
        // The gate's own sender would keep the channel open for ever.
        drop(sender);
        receiver.iter().count()
    }
}

/// What a shard hands back when it finishes.
#[derive(Debug)]
pub struct ShardOutput {
    pub stats: ShardStats,
    /// Ingest-to-sink latency of every record it processed, in microseconds,
    /// and its split.
    pub latency: Latencies,
    /// Result batches, for a collect sink.
    pub collected: Vec<Batch>,
}

/// Locked memory glommio may register per shard for its io_uring buffers.
const IO_MEMORY: usize = 512 * 1024;

/// How often a busy shard publishes its latency percentiles for live
/// metrics (each walks its histogram, microseconds).
const LATENCY_PUBLISHED_EVERY: Duration = Duration::from_secs(1);

/// Starts shard `spec.index` on its own pinned executor thread.
pub fn spawn(
    spec: ShardSpec,
) -> Result<glommio::ExecutorJoinHandle<Result<ShardOutput, Error>>, Error> {
    let (index, core) = (spec.index, spec.core);
    glommio::LocalExecutorBuilder::new(glommio::Placement::Fixed(core))
        .name(&format!("shard-{index}"))
        .io_memory(IO_MEMORY)
        .spawn(move || run(spec))
        .map_err(|e| Error::Startup {
            shard: index,
            reason: startup_hint(core, &e.to_string()),
        })
}

/// Explains a glommio start-up failure of the shard pinned to `core` with
/// what to change: the CPU when the process may not run on it (the kernel
/// then refuses to place the thread), else io_uring and locked memory.
pub fn startup_hint(core: usize, cause: &str) -> String {
    if let Some(placement) = super::allowed::placement_cause(core) {
        return format!("{cause}; {placement}");
    }
    let memlock = read_memlock_kib().map_or("unknown".to_owned(), |k| format!("{k} KiB"));
    format!(
        "{cause}; glommio needs io_uring (Linux 5.8 or later, not disabled by \
         /proc/sys/kernel/io_uring_disabled or a seccomp profile) and locked memory \
         for its rings: raise the limit with `ulimit -l unlimited` (now {memlock})"
    )
}

fn read_memlock_kib() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur / 1024)
}

async fn run(spec: ShardSpec) -> Result<ShardOutput, Error> {
    let ShardSpec {
        index,
        plan,
        output,
        late,
        late_text,
        idle,
        consumers,
        ports,
        table_first,
        returns,
        exchanges,
        doorbell,
        counters,
        results,
        ready,
        checkpoint,
        ..
    } = spec;
    doorbell.register_current_thread();
    let sink_error = |source: std::io::Error| Error::Sink {
        output: output.describe(index),
        shard: index,
        source,
    };
    let mut sink = match results {
        Some(producer) => ShardSink::Ring(producer),
        None => {
            let resume = checkpoint.as_ref().and_then(|c| c.restore.as_ref());
            let resume = resume.and_then(|r| r.part_len(index));
            ShardSink::open(&output, index, &plan.output_schema, resume).await
        }
        .map_err(sink_error)?,
    };
    let first = plan.first_stage();
    let mut late_sink = match &late {
        LatePolicy::Drop => None,
        LatePolicy::SideOutput(dir) => {
            let path = late_file(dir, index, late_text);
            // JSON lines have no header line.
            let header = (late_text != Some(late::RecordText::Json)).then_some(&first.input_schema);
            let sink = ShardSink::create_file(&path, header)
                .await
                .map_err(|source| Error::Sink {
                    output: path.display().to_string(),
                    shard: index,
                    source,
                })?;
            Some((sink, path))
        }
    };
    // Per port, how long its run input may be quiet before it stops
    // holding back the stage; only an ASOF join waits on both inputs'
    // watermarks.
    let mut idle_timeouts = vec![None; 2 * plan.stages().len()];
    for input in plan.run_inputs() {
        if input
            .stage
            .join
            .as_ref()
            .is_some_and(|j| j.kind == JoinKind::AsOf)
        {
            idle_timeouts[input.port] = input.stage.inputs[input.side]
                .idle_timeout
                .map(|ms| Duration::from_millis(ms.max(0) as u64));
        }
    }
    let mut inputs = Inputs::new(consumers, returns, ports, table_first, idle_timeouts);
    let mut stages = StageRunner::new(&plan, index, late_sink.is_some(), exchanges, &mut inputs);
    if let Some(restore) = checkpoint.as_ref().and_then(|c| c.restore.as_ref()) {
        restore
            .restore(stages.pipelines_mut(), index)
            .map_err(|reason| Error::Checkpoint(format!("shard {index}: {reason}")))?;
    }
    let reads_now = stages.reads_now();
    let mut stats = ShardStats::default();
    let mut latency = Latencies::default();
    // When the latency percentiles are next published (for live metrics).
    let mut latency_due = Instant::now();
    let mut idle_since: Option<Instant> = None;
    let backoff = Backoff::new();
    // The engine is waiting for every shard's word or its sender's drop; if
    // it has gone, nobody is waiting.
    let _ = ready.send(());
    drop(ready);
    let clock = || if reads_now { now_ms() } else { 0 };
    // Where the stages put their rows; borrowed for one call at a time.
    macro_rules! out {
        () => {
            &mut Out {
                sink: &mut sink,
                sink_error: &sink_error,
                inputs: &mut inputs,
                stats: &mut stats,
            }
        };
    }
    loop {
        let blocked = stages.drain(&mut inputs)?;
        if inputs.watches_idleness() {
            if let Some((port, idle)) = inputs.idle_change() {
                let counts = stages.idle(port, idle, clock(), out!()).await?;
                tally(&mut stats, counts);
                counters.publish(&stats);
                continue;
            }
        }
        match inputs.pop() {
            Some((port, Message::Copy(batch))) => {
                // A broadcast copy: the same work, counted on another shard.
                idle_since = None;
                backoff.reset();
                stages.data(port, batch, clock(), out!()).await?;
                if let Some(spent) = stages.take_spent(port) {
                    inputs.give_back(spent);
                }
            }
            Some((port, Message::Data(batch))) => {
                let taken = Instant::now();
                idle_since = None;
                backoff.reset();
                let (ingest_time, records) = (batch.ingest_time, batch.len as u64);
                if stages.is_run_port(port) {
                    stats.records_in += records;
                    // Takes the batch's lines from the router's cache in one go.
                    batch.touch();
                }
                let counts = stages.data(port, batch, clock(), out!()).await?;
                tally(&mut stats, counts);
                if let (Some(rows), Some((sink, path))) =
                    (stages.first().take_late(), &mut late_sink)
                {
                    // Each record as read when the batch carries its text,
                    // else CSV of its values.
                    let written = match late::has_text(&rows, &first.input_schema) {
                        true => sink.write_text(&rows).await,
                        false => sink.write(rows).await,
                    };
                    written.map_err(|source| Error::Sink {
                        output: path.display().to_string(),
                        shard: index,
                        source,
                    })?;
                }
                if stages.is_run_port(port) {
                    latency.record(ingest_time, taken, Instant::now(), records);
                }
                counters.publish(&stats);
                if taken >= latency_due {
                    counters.publish_latency(&latency.total);
                    latency_due = taken + LATENCY_PUBLISHED_EVERY;
                }
                if let Some(spent) = stages.take_spent(port) {
                    inputs.give_back(spent);
                }
            }
            Some((_, Message::Partial { groups, folded })) => {
                let taken = Instant::now();
                idle_since = None;
                backoff.reset();
                stats.records_in += folded.records;
                stats.processed += folded.records - folded.filtered;
                stats.filtered += folded.filtered;
                stages.first().merge_partial(&groups, index);
                // The rows reached the shard's state only now: their latency
                // counts from the oldest of them.
                latency.record(groups.ingest_time, taken, Instant::now(), folded.records);
                counters.publish(&stats);
            }
            Some((port, Message::Watermark(w))) => {
                let counts = stages.watermark(port, w, clock(), out!()).await?;
                tally(&mut stats, counts);
                counters.publish(&stats);
            }
            Some((port, Message::Flush)) => stages.flush(port, out!()).await?,
            Some((port, Message::Barrier(epoch))) => {
                // The stage is aligned: its state holds exactly the rows
                // before the barrier (see `crate::checkpoint`). It goes on
                // to the stage after; the last one's completes the shard's.
                if let Some(c) = &checkpoint {
                    let sections = stages
                        .barrier(port / 2, epoch, &mut inputs)
                        .map_err(|reason| Error::Checkpoint(format!("shard {index}: {reason}")))?;
                    if let Some(sections) = sections {
                        sink.flush().await.map_err(sink_error)?;
                        // The coordinator gone means the run is ending anyway.
                        let _ = c.reports.send(Report::Shard {
                            epoch,
                            shard: index,
                            sections,
                            part_len: sink.written(),
                        });
                    }
                }
            }
            Some((port, Message::Failed)) => {
                // Every feed of `port` has ended, one failed: its stage, if
                // all its ports have, passes the failure on.
                stages.input_failed(port, out!());
            }
            Some((_, Message::EndOfInput)) => {
                // Rows this shard's stages sent that still wait for room in
                // an exchange ring go out before it leaves: its rings closing
                // would read as end of input to the shards they feed.
                while stages.drain(&mut inputs)? {
                    backoff.snooze();
                }
                break;
            }
            None if blocked => {
                // An exchange ring is full: its shard will make room; the
                // outbox is retried at the top of the loop.
                stages.flush_exchanges(&mut inputs);
                backoff.snooze();
            }
            None => match idle_since {
                None => {
                    stages.flush_exchanges(&mut inputs);
                    sink.flush().await.map_err(sink_error)?;
                    idle_since = Some(Instant::now());
                }
                Some(t) if t.elapsed() < idle.spin => backoff.snooze(),
                Some(t) if doorbell.is_flowing() && t.elapsed() < idle.stall_spin => {
                    backoff.snooze()
                }
                Some(_) => {
                    let parked = match inputs.idle_deadline() {
                        // Wake when an input goes idle, to release what waits on it.
                        Some(deadline) => {
                            doorbell.park_unless_until(deadline, || inputs.has_work());
                            true
                        }
                        None => doorbell.park_unless(|| inputs.has_work()),
                    };
                    if parked {
                        stats.parks += 1;
                        counters.publish(&stats);
                    }
                    idle_since = None;
                    backoff.reset();
                }
            },
        }
    }
    // Freed before the end: what the state time-to-live and the bounds freed.
    stats.join_rows_freed = stages.join_rows_freed();
    if inputs.failed() {
        // The run failed: what the stages hold stands for part of the input.
        stages.abandon(out!());
    } else {
        let counts = stages.finish(clock(), out!()).await?;
        tally(&mut stats, counts);
    }
    counters.publish(&stats);
    counters.publish_latency(&latency.total);
    if let Some((sink, path)) = late_sink {
        sink.close().await.map_err(|source| Error::Sink {
            output: path.display().to_string(),
            shard: index,
            source,
        })?;
    }
    let collected = sink.close().await.map_err(sink_error)?;
    Ok(ShardOutput {
        stats,
        latency,
        collected,
    })
}

/// Adds a batch's counts to the shard's tally.
fn tally(stats: &mut ShardStats, counts: BatchCounts) {
    stats.processed += counts.processed;
    stats.filtered += counts.filtered;
    stats.late += counts.late;
}

/// Processing time: wall-clock epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
