//! A shard: one pinned glommio executor that owns its slice of the query state.
//!
//! The shard pops messages from its input rings (one per router), runs its
//! pipeline over each batch, and hands results to its own sink. Nothing it
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
//! ring from each: `Inputs` takes a batch from each in turn. Each router
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
//! [`Pipeline`]). A table read completely before any row is joined against
//! it gates port 0: its rings are not read until every ring of port 1 has
//! ended, so the join sees the whole table whatever the timing.
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
use super::message::Message;
use super::metrics::{Latencies, ShardCounters, ShardStats};
use super::ring::{Consumer, Producer};
use crate::data::Batch;
use crate::error::Error;
use crate::exec::pipeline::Pipeline;
use crate::io::late::{late_file, LatePolicy};
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
    pub idle: IdlePolicy,
    /// One ring per router, all rung through `doorbell`.
    pub consumers: Vec<Consumer<Message>>,
    /// Per ring (as `consumers`), the port of the input its router reads.
    pub ports: Vec<usize>,
    /// Read port 0 only once port 1 has ended (a table read first).
    pub table_first: bool,
    /// Per router (as `consumers`), the ring spent batches go back on.
    pub returns: Vec<Producer<Batch>>,
    pub doorbell: Arc<Doorbell>,
    pub counters: std::sync::Arc<CachePadded<ShardCounters>>,
    /// The shard's result ring, with [`OutputSpec::Rings`] only.
    pub results: Option<Producer<Batch>>,
    /// Told once when the shard is ready for its first message, then dropped
    /// (see the module docs); from [`StartGate::ready_sender`].
    pub ready: std::sync::mpsc::Sender<()>,
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
            reason: startup_hint(&e.to_string()),
        })
}

/// Explains a glommio start-up failure with what to change.
pub fn startup_hint(cause: &str) -> String {
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
        idle,
        consumers,
        ports,
        table_first,
        returns,
        doorbell,
        counters,
        results,
        ready,
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
        None => ShardSink::open(&output, index, &plan.output_schema)
            .await
            .map_err(sink_error)?,
    };
    let mut late_sink = match &late {
        LatePolicy::Drop => None,
        LatePolicy::SideOutput(dir) => {
            let path = late_file(dir, index);
            let sink = ShardSink::create_file(&path, &plan.input_schema)
                .await
                .map_err(|source| Error::Sink {
                    output: path.display().to_string(),
                    shard: index,
                    source,
                })?;
            Some((sink, path))
        }
    };
    let mut pipeline = Pipeline::new(&plan, index, late_sink.is_some());
    let reads_now = pipeline.reads_now();
    let mut stats = ShardStats::default();
    let mut latency = Latencies::default();
    let mut idle_since: Option<Instant> = None;
    let backoff = Backoff::new();
    let idle_timeouts = match &plan.join {
        // Only an ASOF join waits on both inputs' watermarks.
        Some(join) if join.kind == JoinKind::AsOf => plan
            .inputs
            .iter()
            .map(|i| {
                i.idle_timeout
                    .map(|ms| Duration::from_millis(ms.max(0) as u64))
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut inputs = Inputs::new(consumers, returns, ports, table_first, idle_timeouts);
    // The engine is waiting for every shard's word or its sender's drop; if
    // it has gone, nobody is waiting.
    let _ = ready.send(());
    drop(ready);
    loop {
        if inputs.watches_idleness() {
            if let Some((port, idle)) = inputs.idle_change() {
                let now = if reads_now { now_ms() } else { 0 };
                let (outs, counts) = pipeline.on_idle(port, idle, now);
                stats.processed += counts.processed;
                stats.filtered += counts.filtered;
                stats.late += counts.late;
                for out in outs {
                    stats.rows_out += out.len as u64;
                    sink.write(out).await.map_err(sink_error)?;
                }
                counters.publish(&stats);
                continue;
            }
        }
        match inputs.pop() {
            Some((port, Message::Copy(batch))) => {
                // A broadcast copy: the same work, counted on another shard.
                idle_since = None;
                backoff.reset();
                let now = if reads_now { now_ms() } else { 0 };
                let (out, _) = pipeline.process_port(port, batch, now);
                if let Some(out) = out {
                    stats.rows_out += out.len as u64;
                    sink.write(out).await.map_err(sink_error)?;
                }
                if let Some(spent) = pipeline.take_spent() {
                    inputs.give_back(spent);
                }
            }
            Some((port, Message::Data(batch))) => {
                let taken = Instant::now();
                idle_since = None;
                backoff.reset();
                stats.records_in += batch.len as u64;
                let (ingest_time, records) = (batch.ingest_time, batch.len as u64);
                // Takes the batch's lines from the router's cache in one go.
                batch.touch();
                // A clock read costs as much as a small batch's processing.
                let now = if reads_now { now_ms() } else { 0 };
                let (out, counts) = pipeline.process_port(port, batch, now);
                stats.processed += counts.processed;
                stats.filtered += counts.filtered;
                stats.late += counts.late;
                if let (Some(rows), Some((sink, path))) = (pipeline.take_late(), &mut late_sink) {
                    sink.write(rows).await.map_err(|source| Error::Sink {
                        output: path.display().to_string(),
                        shard: index,
                        source,
                    })?;
                }
                if let Some(out) = out {
                    stats.rows_out += out.len as u64;
                    sink.write(out).await.map_err(sink_error)?;
                }
                latency.record(ingest_time, taken, Instant::now(), records);
                counters.publish(&stats);
                if let Some(spent) = pipeline.take_spent() {
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
                pipeline.merge_partial(&groups, index);
                // The rows reached the shard's state only now: their latency
                // counts from the oldest of them.
                latency.record(groups.ingest_time, taken, Instant::now(), folded.records);
                counters.publish(&stats);
            }
            Some((port, Message::Watermark(w))) => {
                let now = if reads_now { now_ms() } else { 0 };
                let (outs, counts) = pipeline.on_watermark(port, w, now);
                stats.processed += counts.processed;
                stats.filtered += counts.filtered;
                stats.late += counts.late;
                for out in outs {
                    stats.rows_out += out.len as u64;
                    sink.write(out).await.map_err(sink_error)?;
                }
                counters.publish(&stats);
            }
            Some((_, Message::Flush)) => sink.flush().await.map_err(sink_error)?,
            Some((_, Message::EndOfInput)) => break,
            None => match idle_since {
                None => {
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
    let (outs, counts) = pipeline.finish(if reads_now { now_ms() } else { 0 });
    stats.processed += counts.processed;
    stats.filtered += counts.filtered;
    stats.late += counts.late;
    for out in outs {
        stats.rows_out += out.len as u64;
        sink.write(out).await.map_err(sink_error)?;
    }
    counters.publish(&stats);
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

/// A shard's input rings, one per router, merged into one stream of
/// messages, each with the port of its input.
///
/// Data and flushes pass through as they come. A router's watermark or end
/// of input is turned into its port's: [`Message::Watermark`] carries the
/// smallest watermark of the port's routers still running (`i64::MAX` once
/// all have ended, while another port runs on), and only when it moves;
/// [`Message::EndOfInput`] comes once, when every router has ended. A ring
/// abandoned without end of input (its router failed) ends that router; the
/// run reports the router's error.
struct Inputs {
    rings: Vec<Input>,
    /// Per port, the watermark last handed out (`i64::MIN`: none yet).
    watermarks: Vec<i64>,
    /// Per port, how long its input may be quiet before it is idle; empty
    /// when no operator follows idleness (no clock is read then).
    idle_timeouts: Vec<Option<Duration>>,
    /// Per port (with `idle_timeouts`): when a message last came, and
    /// whether the port is idle now.
    last_active: Vec<Instant>,
    idle: Vec<bool>,
    /// A port that was idle and has sent again, not yet reported.
    woke: Option<usize>,
    /// Port 0 waits until every ring of port 1 has ended.
    table_first: bool,
    /// The ring to try first: rings take turns, so no router starves another.
    next: usize,
    /// The ring of the last message popped.
    from: usize,
    ended: bool,
}

struct Input {
    consumer: Consumer<Message>,
    /// Where this router's spent batches go back, emptied.
    returns: Producer<Batch>,
    /// The port of this router's input.
    port: usize,
    /// The router's latest watermark (`i64::MIN`: none yet).
    watermark: i64,
    /// The router has sent end of input (or gone away).
    ended: bool,
}

impl Inputs {
    fn new(
        consumers: Vec<Consumer<Message>>,
        returns: Vec<Producer<Batch>>,
        ports: Vec<usize>,
        table_first: bool,
        idle_timeouts: Vec<Option<Duration>>,
    ) -> Inputs {
        debug_assert_eq!(consumers.len(), returns.len());
        debug_assert_eq!(consumers.len(), ports.len());
        let port_count = ports.iter().max().map_or(1, |p| p + 1);
        let watched = idle_timeouts.iter().any(Option::is_some);
        let idle_timeouts = if watched { idle_timeouts } else { Vec::new() };
        Inputs {
            rings: consumers
                .into_iter()
                .zip(returns)
                .zip(ports)
                .map(|((consumer, returns), port)| Input {
                    consumer,
                    returns,
                    port,
                    watermark: i64::MIN,
                    ended: false,
                })
                .collect(),
            watermarks: vec![i64::MIN; port_count],
            last_active: vec![Instant::now(); idle_timeouts.len()],
            idle: vec![false; idle_timeouts.len()],
            idle_timeouts,
            woke: None,
            table_first: table_first && port_count > 1,
            next: 0,
            from: 0,
            ended: false,
        }
    }

    /// Hands a batch the shard has finished with back, emptied, to the
    /// router of the last message popped, to be filled again. If that ring
    /// is full (the router is not taking them back) the batch is freed.
    fn give_back(&mut self, mut batch: Batch) {
        batch.clear();
        // A full ring hands the batch back, and it is dropped here.
        let _ = self.rings[self.from].returns.push(batch);
    }

    /// The next message and its port, or `None` when every readable ring
    /// is empty.
    fn pop(&mut self) -> Option<(usize, Message)> {
        loop {
            if self.ended {
                return Some((0, Message::EndOfInput));
            }
            let (i, message) = self.pop_any()?;
            let port = self.rings[i].port;
            match message {
                Message::Watermark(w) => {
                    let ring = &mut self.rings[i];
                    ring.watermark = ring.watermark.max(w);
                }
                Message::EndOfInput => {
                    self.rings[i].ended = true;
                    if self.rings.iter().all(|r| r.ended) {
                        self.ended = true;
                        continue;
                    }
                }
                data_or_flush => return Some((port, data_or_flush)),
            }
            // A router's watermark or end moved: is the smallest watermark of
            // the port's routers still running news?
            let mut port_rings = self.rings.iter().filter(|r| r.port == port).peekable();
            let low = port_rings
                .clone()
                .filter(|r| !r.ended)
                .map(|r| r.watermark)
                .min()
                .or_else(|| port_rings.peek().map(|_| i64::MAX));
            if let Some(low) = low.filter(|&w| w > self.watermarks[port]) {
                self.watermarks[port] = low;
                return Some((port, Message::Watermark(low)));
            }
        }
    }

    /// Whether ring `ring` may be read now: not ended, and not a port that
    /// waits for the table.
    fn readable(&self, ring: &Input) -> bool {
        let waits_for_table = self.table_first && ring.port == 0 && self.watermarks[1] != i64::MAX;
        !ring.ended && !waits_for_table
    }

    /// A message from the first readable ring (in turn) that has one, with
    /// the ring's index; a ring abandoned without end of input reads as end.
    fn pop_any(&mut self) -> Option<(usize, Message)> {
        let n = self.rings.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if !self.readable(&self.rings[i]) {
                continue;
            }
            let ring = &mut self.rings[i];
            let message = match ring.consumer.pop() {
                Some(m) => m,
                // Abandoned: every push happened before, so one more pop
                // sees any message pushed since the empty one.
                None if ring.consumer.is_abandoned() => {
                    ring.consumer.pop().unwrap_or(Message::EndOfInput)
                }
                None => continue,
            };
            self.next = (i + 1) % n;
            self.from = i;
            let port = self.rings[i].port;
            if let Some(last) = self.last_active.get_mut(port) {
                *last = Instant::now();
                if std::mem::take(&mut self.idle[port]) {
                    self.woke = Some(port);
                }
            }
            return Some((i, message));
        }
        None
    }

    /// Whether some port's input may go idle: the caller then asks
    /// [`idle_change`](Self::idle_change) as it goes.
    fn watches_idleness(&self) -> bool {
        !self.idle_timeouts.is_empty()
    }

    /// A port that went idle (quiet for its idle timeout; `true`) or sent
    /// again (`false`) since the last call.
    fn idle_change(&mut self) -> Option<(usize, bool)> {
        if let Some(port) = self.woke.take() {
            return Some((port, false));
        }
        let now = Instant::now();
        let port = (0..self.idle_timeouts.len()).find(|&p| {
            self.idle_deadline_of(p)
                .is_some_and(|deadline| now >= deadline)
        })?;
        self.idle[port] = true;
        Some((port, true))
    }

    /// When port `p` goes idle if nothing comes: `None` for a port without
    /// a timeout, idle already, or ended.
    fn idle_deadline_of(&self, p: usize) -> Option<Instant> {
        let timeout = self.idle_timeouts[p]?;
        (!self.idle[p] && self.watermarks[p] != i64::MAX).then(|| self.last_active[p] + timeout)
    }

    /// The earliest time a port goes idle, for a parked shard to wake by.
    fn idle_deadline(&self) -> Option<Instant> {
        (0..self.idle_timeouts.len())
            .filter_map(|p| self.idle_deadline_of(p))
            .min()
    }

    /// Whether a message may be waiting: for the idle check before parking.
    fn has_work(&self) -> bool {
        self.ended
            || self
                .rings
                .iter()
                .any(|r| self.readable(r) && (!r.consumer.is_empty() || r.consumer.is_abandoned()))
    }
}

/// Processing time: wall-clock epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Schema;
    use crate::runtime::ring::ring;

    fn kind(m: Option<(usize, Message)>) -> String {
        match m.map(|(_, m)| m) {
            Some(Message::Data(b)) => format!("data {}", b.len),
            Some(Message::Copy(b)) => format!("copy {}", b.len),
            Some(Message::Partial { groups, .. }) => format!("partial {}", groups.owner.len()),
            Some(Message::Watermark(w)) => format!("watermark {w}"),
            Some(Message::Flush) => "flush".into(),
            Some(Message::EndOfInput) => "end".into(),
            None => "none".into(),
        }
    }

    #[test]
    fn the_watermark_is_the_smallest_of_the_running_routers() {
        let (mut a, ra) = ring(8);
        let (mut b, rb) = ring(8);
        let (returns, _returned): (Vec<_>, Vec<_>) = (0..2).map(|_| ring(8)).unzip();
        let mut inputs = Inputs::new(vec![ra, rb], returns, vec![0, 0], false, Vec::new());
        a.push(Message::Watermark(50)).unwrap();
        assert_eq!(kind(inputs.pop()), "none", "router b has no watermark yet");
        b.push(Message::Watermark(30)).unwrap();
        assert_eq!(kind(inputs.pop()), "watermark 30");
        b.push(Message::EndOfInput).unwrap();
        assert_eq!(
            kind(inputs.pop()),
            "watermark 50",
            "an ended router holds nothing back"
        );
        // The largest event time is a watermark like any other: the router
        // has not ended, and its data still comes through.
        a.push(Message::Watermark(i64::MAX)).unwrap();
        a.push(Message::Data(Batch::with_capacity(&Schema::default(), 0)))
            .unwrap();
        assert_eq!(kind(inputs.pop()), format!("watermark {}", i64::MAX));
        assert_eq!(kind(inputs.pop()), "data 0");
        assert_eq!(kind(inputs.pop()), "none");
        drop(a); // abandoned without end of input: that router ends
        assert_eq!(kind(inputs.pop()), "end");
    }
}
