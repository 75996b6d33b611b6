//! The ingest router: reads a source, routes rows to the shards that own their
//! keys, and publishes whole batches on each shard's ring.
//!
//! A shard's batch is sent when it reaches the batch size, or when its oldest
//! row has waited for the linger time; a linger flush is followed by a
//! [`Message::Flush`] so the shard writes its results out promptly. A full ring
//! is backpressure: the router spins, then yields its core, and retries; it
//! never drops a batch.
//!
//! # Partial aggregation
//! With [`Routing::partial`], a router folds the rows of a grouped `EMIT
//! FINAL` query into groups of its own instead of sending them, and from time
//! to time hands the groups to every shard in one [`Message::Partial`] (see
//! [`crate::exec::partial_agg`]); at end of input (or a stop) it hands over
//! what it holds before end of input. If the keys turn out not to repeat, it
//! goes back to sending rows.
//!
//! # Stopping
//! The router checks its `stop` condition once per loop, and never waits in a
//! source poll for longer than [`STOP_CHECK`], so a stop request (a signal in
//! the CLI) is seen within that bound even when the source has no data (stdin
//! kept open, a slow generator). A stop ends routing as end of input does:
//! pending rows are sent, then end of input, so shards drain and flush.
//!
//! # Batch reuse
//! Each lane also holds the consumer end of a return ring on which its shard
//! hands back, emptied, the batches it has only read (aggregates and
//! windows). When batches go to the shards whole (one shard, or nothing to
//! partition by) the router gives them back to the source
//! ([`Source::reuse`]) to fill again; otherwise they become the lane's next
//! pending batch. The router's own spent batches (rows copied to lanes, or
//! folded) go back to the source at once. A steady stream then allocates no
//! batch buffers, and no core frees memory another allocated
//! (`tests/batch_reuse.rs`).
//!
//! # A short queue
//! A router on a CPU of its own (see [`route_all`]) that sends batches whole,
//! and whose source's last batch was smaller than asked for, stops reading
//! while [`QUEUED_BATCHES`] batches wait in every shard's ring, instead of
//! when the ring is full. Such a source keeps up with rows that arrive over
//! time (a paced generator, a socket); it then hands over the rows that came
//! meanwhile as one bigger batch, where the shard pays its per-batch cost
//! once. Otherwise a shard that falls behind on batches of a row or two
//! builds a queue of a whole ring of them, and every row waits its length.
//! A source that fills every batch gains nothing from waiting, and keeps the
//! whole ring to run ahead of a shard the host has paused.
//!
//! # Progress
//! Each lane publishes the records it has sent to its shard in a
//! [`RoutedCounter`] (one relaxed store per batch sent), for the backlog shown
//! by progress reports.
//!
//! # Threading
//! A router thread owns its source and the producer end of one ring to every
//! shard. One router reads a source on the calling thread ([`route`]); a file
//! read in parallel has one router per byte range ([`route_all`]), each on its
//! own thread pinned to a shard's core, so `R` routers and `S` shards are
//! joined by `R x S` SPSC rings: a mesh with one writer and one reader per ring.

use super::affinity::OffCores;
use super::doorbell::Doorbell;
use super::message::Message;
use super::metrics::RoutedCounter;
use super::ring::{Consumer, Producer, PushError};
use crate::data::column::ColumnData;
use crate::data::{Batch, Column, Schema};
use crate::error::Error;
use crate::exec::hash::{hash_rows, shard_of};
use crate::exec::partial_agg::{Folded, PartialAggregate};
use crate::io::source::{EventTime, Poll, Source};
use crate::sql::plan::{Partitioning, QueryPlan, Watermarking};
use crate::sync::Arc;
use crossbeam::utils::{Backoff, CachePadded};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::mem::ManuallyDrop;
use std::time::{Duration, Instant};

/// Longest the router waits in one source poll before it checks `stop` again.
pub const STOP_CHECK: Duration = Duration::from_millis(50);

/// Batches waiting in each shard's ring at which a router with a CPU of its
/// own stops reading its source (see the module docs, A short queue).
pub const QUEUED_BATCHES: usize = 4;

/// When the router sends a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Rows per batch sent to a shard.
    pub batch_size: usize,
    /// Longest a row waits in the router before its batch is sent.
    pub linger: Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            batch_size: 4096,
            linger: Duration::from_millis(5),
        }
    }
}

/// What every router of an input does with its rows.
#[derive(Debug, Clone, Copy)]
pub struct Routing<'a> {
    /// The stage that reads the input: each of its inputs' partitioning and
    /// event time, and what can be folded.
    pub plan: &'a QueryPlan,
    /// Which of the stage's inputs the routers read (0: the primary one).
    pub input: usize,
    pub batching: Batching,
    /// Fold rows into partial groups (see [`crate::exec::partial_agg`]) when
    /// the plan allows it, instead of sending them to the shards.
    pub partial: bool,
}

/// The router's end of one shard's ring, and of the ring the shard hands
/// spent batches back on.
pub struct Lane {
    /// Dropped by hand in `Drop`, before the doorbell rings.
    producer: ManuallyDrop<Producer<Message>>,
    /// Batches the shard has finished with, emptied, for refilling: the
    /// next pending batch, or the source's next batch when batches go whole.
    returned: Consumer<Batch>,
    doorbell: Arc<Doorbell>,
    pending: Batch,
    /// When the oldest pending row arrived.
    oldest: Option<Instant>,
    /// Records sent to the shard so far, and where they are published.
    routed: u64,
    routed_counter: std::sync::Arc<CachePadded<RoutedCounter>>,
    /// What this lane last told the doorbell's flow hint.
    flowing: bool,
}

impl Lane {
    pub fn new(
        producer: Producer<Message>,
        returned: Consumer<Batch>,
        doorbell: Arc<Doorbell>,
        schema: &Schema,
        batch_size: usize,
    ) -> Lane {
        Lane {
            producer: ManuallyDrop::new(producer),
            returned,
            doorbell,
            pending: Batch::with_capacity(schema, batch_size),
            oldest: None,
            routed: 0,
            routed_counter: RoutedCounter::new(),
            flowing: false,
        }
    }

    /// Tells the shard whether the input is flowing (see
    /// [`Doorbell::set_flowing`]), when that changed.
    fn flow(&mut self, on: bool) {
        if self.flowing != on {
            self.flowing = on;
            self.doorbell.set_flowing(on);
        }
    }

    /// The counter of records this lane has sent to its shard (for progress).
    pub fn routed_counter(&self) -> std::sync::Arc<CachePadded<RoutedCounter>> {
        self.routed_counter.clone()
    }

    /// Whether [`QUEUED_BATCHES`] messages wait in the shard's ring.
    fn shard_queued(&self) -> bool {
        self.producer.holds_at_least(QUEUED_BATCHES)
    }

    /// Whether the shard has stopped (its consumer end is gone): it failed.
    fn shard_stopped(&self) -> bool {
        self.producer.is_abandoned()
    }

    /// Pushes `message`, waiting while the ring is full. Fails only when the
    /// shard has stopped (its consumer end is gone).
    fn send(&mut self, mut message: Message) -> Result<(), Stopped> {
        let records = match &message {
            Message::Data(b) => b.len as u64,
            Message::Partial { folded, .. } => folded.records,
            _ => 0,
        };
        let backoff = Backoff::new();
        loop {
            match self.producer.push(message) {
                Ok(()) => {
                    self.doorbell.ring();
                    if records > 0 {
                        self.routed += records;
                        self.routed_counter.publish(self.routed);
                    }
                    return Ok(());
                }
                Err(PushError::Full(m)) => {
                    if self.producer.is_abandoned() {
                        return Err(Stopped);
                    }
                    message = m;
                    // Make sure a parked shard sees the full ring.
                    self.doorbell.ring();
                    if backoff.is_completed() {
                        std::thread::yield_now();
                    } else {
                        backoff.snooze();
                    }
                }
            }
        }
    }

    fn send_pending(&mut self, schema: &Schema, batch_size: usize) -> Result<(), Stopped> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let fresh = self
            .returned
            .pop()
            .unwrap_or_else(|| Batch::with_capacity(schema, batch_size));
        let mut batch = std::mem::replace(&mut self.pending, fresh);
        batch.ingest_time = self.oldest.take().unwrap_or(batch.ingest_time);
        self.send(Message::Data(batch))
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        // SAFETY: `producer` is not used again: this is the lane's drop, and
        // nothing below touches it.
        unsafe { ManuallyDrop::drop(&mut self.producer) };
        self.flow(false);
        // Now the ring is abandoned; a shard parked on it must wake to see that.
        self.doorbell.ring();
    }
}

/// Follows the largest event time seen and says when the watermark moves.
///
/// The watermark is the largest event time seen minus the out-of-orderness
/// bound, computed once per source batch, and never moves backwards. For
/// processing-time windows it is the wall clock. A source that computes its
/// watermark itself ([`Source::track_watermark`], a Kafka input's per
/// partition) gives it instead, after every poll.
struct WatermarkTracker {
    settings: Option<Watermarking>,
    max_seen: i64,
    sent: i64,
    /// The source computes the watermark.
    from_source: bool,
    /// Its latest, when it does.
    source_watermark: Option<i64>,
}

impl WatermarkTracker {
    /// Asks `source` whether it computes the watermark itself.
    fn new(
        settings: Option<Watermarking>,
        idle_timeout: Option<i64>,
        source: &mut dyn Source,
    ) -> Self {
        let from_source = match settings {
            Some(Watermarking {
                time_column: Some(column),
                max_out_of_orderness,
                ..
            }) => source.track_watermark(EventTime {
                column,
                max_out_of_orderness,
                idle_timeout: idle_timeout.map(|ms| Duration::from_millis(ms.max(0) as u64)),
            }),
            _ => false,
        };
        WatermarkTracker {
            settings,
            max_seen: i64::MIN,
            sent: i64::MIN,
            from_source,
            source_watermark: None,
        }
    }

    /// Takes the watermark of a source that computes its own.
    fn ask(&mut self, source: &mut dyn Source) {
        if self.from_source {
            self.source_watermark = source.watermark();
        }
    }

    fn observe(&mut self, batch: &Batch) {
        let Some(Watermarking {
            time_column: Some(c),
            ..
        }) = self.settings
        else {
            return;
        };
        if self.from_source {
            return;
        }
        let col = &batch.columns[c];
        if let ColumnData::Int64(v) | ColumnData::Timestamp(v) = &col.data {
            for (i, &t) in v.iter().enumerate() {
                if t > self.max_seen && col.is_valid(i) {
                    self.max_seen = t;
                }
            }
        }
    }

    /// The new watermark, if it moved since the last one sent.
    fn next(&mut self) -> Option<i64> {
        let s = self.settings?;
        let wm = match s.time_column {
            Some(_) if self.from_source => self.source_watermark?,
            Some(_) if self.max_seen == i64::MIN => return None,
            Some(_) => self.max_seen.saturating_sub(s.max_out_of_orderness),
            None => crate::runtime::shard::now_ms(),
        };
        (wm > self.sent).then(|| {
            self.sent = wm;
            wm
        })
    }
}

/// The consumer end of a lane went away: its shard stopped.
#[derive(Debug)]
struct Stopped;

/// The error of a router whose shard `lane` stopped early.
fn stopped(lane: usize) -> Error {
    Error::Shard {
        shard: lane,
        reason: "stopped before the end of input".into(),
    }
}

/// Sends each row of a batch to the lane of the shard that owns it.
struct Scatter {
    next_lane: usize,
    hashes: Vec<u64>,
    /// Per lane, the rows of the batch it gets.
    targets: Vec<Vec<u32>>,
}

impl Scatter {
    fn new(lanes: usize) -> Scatter {
        Scatter {
            next_lane: 0,
            hashes: Vec::new(),
            targets: vec![Vec::new(); lanes],
        }
    }

    /// Routes `batch`: whole to one lane, or row by row to the lanes of the
    /// keys' shards, sending each lane's pending rows once it has a batch.
    /// Returns `batch` spent when its rows were copied out.
    fn route(
        &mut self,
        batch: Batch,
        partitioning: &Partitioning,
        lanes: &mut [Lane],
        batching: Batching,
        schema: &Schema,
    ) -> Result<Option<Batch>, Error> {
        if let Partitioning::Broadcast = partitioning {
            let last = lanes.len() - 1;
            let mut batch = Some(batch);
            for (i, lane) in lanes.iter_mut().enumerate() {
                lane.send_pending(schema, batching.batch_size)
                    .map_err(|_| stopped(i))?;
                // The last lane gets the batch itself, counted.
                let message = match i == last {
                    true => Message::Data(batch.take().expect("sent once, to the last lane")),
                    false => Message::Copy(batch.as_ref().expect("kept for the last lane").clone()),
                };
                lane.send(message).map_err(|_| stopped(i))?;
            }
            return Ok(None);
        }
        if sends_whole(partitioning, lanes.len()) {
            let i = match partitioning {
                Partitioning::RoundRobin => {
                    self.next_lane = (self.next_lane + 1) % lanes.len();
                    self.next_lane
                }
                _ => 0,
            };
            let lane = &mut lanes[i];
            lane.send_pending(schema, batching.batch_size)
                .map_err(|_| stopped(i))?;
            lane.send(Message::Data(batch)).map_err(|_| stopped(i))?;
            return Ok(None);
        }
        if let Partitioning::ByKey(keys) = partitioning {
            let cols: SmallVec<[Cow<'_, Column>; 4]> =
                keys.iter().map(|k| k.eval(&batch)).collect();
            let refs: SmallVec<[&Column; 4]> = cols.iter().map(|c| c.as_ref()).collect();
            hash_rows(&refs, batch.len, &mut self.hashes);
            for t in self.targets.iter_mut() {
                t.clear();
            }
            for (row, h) in self.hashes.iter().enumerate() {
                self.targets[shard_of(*h, lanes.len())].push(row as u32);
            }
        }
        for (i, rows) in self.targets.iter().enumerate() {
            let lane = &mut lanes[i];
            let mut rows = rows.as_slice();
            while !rows.is_empty() {
                if lane.oldest.is_none() {
                    lane.oldest = Some(batch.ingest_time);
                }
                let room = batching.batch_size - lane.pending.len;
                let (now, later) = rows.split_at(room.min(rows.len()));
                lane.pending.extend_from_rows(&batch, now);
                rows = later;
                if lane.pending.len >= batching.batch_size {
                    lane.send_pending(schema, batching.batch_size)
                        .map_err(|_| stopped(i))?;
                }
            }
        }
        Ok(Some(batch))
    }
}

/// Whether batches go to the shards whole, as the source returned them:
/// nothing to partition by, or one shard. Otherwise rows are copied into
/// each lane's pending batch.
fn sends_whole(partitioning: &Partitioning, lanes: usize) -> bool {
    !matches!(partitioning, Partitioning::ByKey(_)) || lanes == 1
}

/// Hands the router's partial groups to every shard (each merges the ones it
/// owns). The rows they stand for are counted on one shard's message, a
/// different shard each time, so progress stays spread.
fn hand_over(
    partial: &mut PartialAggregate,
    lanes: &mut [Lane],
    hand_overs: &mut usize,
) -> Result<(), Error> {
    let Some((groups, folded)) = partial.take(lanes.len()) else {
        return Ok(());
    };
    let counted = *hand_overs % lanes.len();
    *hand_overs += 1;
    let groups = std::sync::Arc::new(groups);
    for (i, lane) in lanes.iter_mut().enumerate() {
        let folded = if i == counted {
            folded
        } else {
            Folded::default()
        };
        let message = Message::Partial {
            groups: groups.clone(),
            folded,
        };
        lane.send(message).map_err(|_| stopped(i))?;
    }
    Ok(())
}

/// What the router saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct RouterStats {
    pub records_read: u64,
    pub malformed: u64,
    /// Routing ended because `stop` became true, before the input ended.
    pub stopped: bool,
}

/// Routes every record of `source` to `lanes` (lane `i` feeds shard `i`), or
/// folds it into partial groups handed to every lane, then sends end of input
/// to every lane. `stats` counts what was read, also when
/// routing fails. With `own_cpu` (a router on a CPU its shards do not
/// spin on), the lanes tell their shards while the source keeps returning
/// rows (see [`super::shard`], Idle policy), and whole batches keep the
/// shards' queues short (see the module docs).
///
/// Returns an error if the source fails, or if a shard stopped early (the
/// caller then reports that shard's own error).
pub fn route(
    source: &mut dyn Source,
    routing: Routing<'_>,
    lanes: &mut [Lane],
    stop: &(dyn Fn() -> bool + Sync),
    stats: &mut RouterStats,
    own_cpu: bool,
) -> Result<(), Error> {
    let Routing { plan, batching, .. } = routing;
    let input = &plan.inputs[routing.input];
    let partitioning = &input.partitioning;
    let watermarks = input.watermarking;
    let mut partial = (routing.partial && routing.input == 0)
        .then(|| PartialAggregate::for_plan(plan))
        .flatten();
    let schema = source.schema().clone();
    let mut watermark = WatermarkTracker::new(watermarks, input.idle_timeout, source);
    let mut scatter = Scatter::new(lanes.len());
    let mut hand_overs = 0usize;
    let whole = sends_whole(partitioning, lanes.len());
    let result = (|| {
        // Read once a loop, after the poll: for the linger check, and for the
        // next poll's deadline (microseconds stale then, which only makes it
        // a little early).
        let mut now = Instant::now();
        let held = Backoff::new();
        // The source's last batch was smaller than asked for: it is keeping
        // up with its input, so waiting lets a bigger batch gather.
        let mut short = false;
        loop {
            if stop() {
                stats.stopped = true;
                break;
            }
            if whole {
                // Batches the shards are done with go back to the source to
                // be filled again (otherwise they refill the lanes' pending
                // batches).
                for lane in lanes.iter_mut() {
                    while let Some(spent) = lane.returned.pop() {
                        source.reuse(spent);
                    }
                }
            }
            // A shard that failed ends the run now, not at the next batch
            // for it (which may never come while the input is quiet).
            if let Some(i) = lanes.iter().position(Lane::shard_stopped) {
                return Err(stopped(i));
            }
            if own_cpu && whole && short && lanes.iter().all(Lane::shard_queued) {
                // The rows stay in the source until a shard's queue is short.
                held.snooze();
                now = Instant::now();
                continue;
            }
            held.reset();
            // The earliest linger deadline, and never later than STOP_CHECK
            // from now, so that a source with no data returns to check `stop`.
            let check = now + STOP_CHECK;
            let deadline = lanes
                .iter()
                .filter_map(|l| l.oldest)
                .min()
                .map_or(check, |t| check.min(t + batching.linger));
            let polled = source.poll(batching.batch_size, Some(deadline))?;
            if own_cpu {
                let flowing = matches!(polled, Poll::Batch(_));
                lanes.iter_mut().for_each(|lane| lane.flow(flowing));
            }
            match polled {
                Poll::End => break,
                Poll::Idle => {}
                Poll::Batch(batch) => {
                    short = batch.len < batching.batch_size;
                    stats.records_read += batch.len as u64;
                    watermark.observe(&batch);
                    let spent = match partial.as_mut() {
                        Some(p) if p.is_active() => Some(p.fold(batch)),
                        _ => scatter.route(batch, partitioning, lanes, batching, &schema)?,
                    };
                    if let Some(spent) = spent {
                        source.reuse(spent);
                    }
                }
            }
            if let Some(p) = partial.as_mut().filter(|p| p.due()) {
                hand_over(p, lanes, &mut hand_overs)?;
            }
            watermark.ask(source);
            if let Some(wm) = watermark.next() {
                // Data before the watermark goes out first, then the watermark
                // to every shard, so idle shards close their windows too.
                for (i, lane) in lanes.iter_mut().enumerate() {
                    lane.send_pending(&schema, batching.batch_size)
                        .map_err(|_| stopped(i))?;
                    lane.send(Message::Watermark(wm)).map_err(|_| stopped(i))?;
                }
            }
            now = Instant::now();
            for (i, lane) in lanes.iter_mut().enumerate() {
                if lane.oldest.is_some_and(|t| now >= t + batching.linger) {
                    lane.send_pending(&schema, batching.batch_size)
                        .map_err(|_| stopped(i))?;
                    lane.send(Message::Flush).map_err(|_| stopped(i))?;
                }
            }
        }
        if let Some(p) = partial.as_mut() {
            hand_over(p, lanes, &mut hand_overs)?;
        }
        for (i, lane) in lanes.iter_mut().enumerate() {
            lane.send_pending(&schema, batching.batch_size)
                .map_err(|_| stopped(i))?;
        }
        Ok(())
    })();
    stats.malformed = source.malformed();
    // End of input goes to every shard that is still running, even after an
    // error, so that the others finish their output cleanly.
    for lane in lanes.iter_mut() {
        let _ = lane.send(Message::EndOfInput);
    }
    result
}

/// One router per source: `sources[r]` is routed to `lanes[r]` (one lane per
/// shard), each on a thread of its own (`corestream-router-<r>`) pinned to
/// `cores[r % cores.len()]`; a single source is routed on the calling thread,
/// kept off the shards' `cores` while it routes when it may run elsewhere
/// (see [`super::affinity`]).
///
/// When one router fails, the others stop reading, so the run ends promptly;
/// the first error is returned. The stats are the routers' totals.
pub fn route_all(
    sources: &mut [Box<dyn Source>],
    routing: Routing<'_>,
    lanes: Vec<Vec<Lane>>,
    stop: &(dyn Fn() -> bool + Sync),
    cores: &[usize],
) -> (Result<(), Error>, RouterStats) {
    let route_one = |source: &mut Box<dyn Source>,
                     mut lanes: Vec<Lane>,
                     stop: &(dyn Fn() -> bool + Sync),
                     own_cpu: bool| {
        let mut stats = RouterStats::default();
        let result = route(
            source.as_mut(),
            routing,
            &mut lanes,
            stop,
            &mut stats,
            own_cpu,
        );
        (result, stats)
    };
    if let ([source], [_]) = (&mut *sources, lanes.as_slice()) {
        let placed = OffCores::enter(cores);
        let lanes = lanes.into_iter().next().unwrap_or_default();
        return route_one(source, lanes, stop, placed.is_off());
    }
    // Set by the first router that fails; the flag carries no data, so
    // Relaxed suffices.
    let failed = std::sync::atomic::AtomicBool::new(false);
    let stop_or_failed = || stop() || failed.load(std::sync::atomic::Ordering::Relaxed);
    let outcomes: Vec<(Result<(), Error>, RouterStats)> = std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .iter_mut()
            .zip(lanes)
            .enumerate()
            .map(|(r, (source, lanes))| {
                let (failed, stop, route_one) = (&failed, &stop_or_failed, &route_one);
                let core = cores.get(r % cores.len().max(1)).copied();
                std::thread::Builder::new()
                    .name(format!("corestream-router-{r}"))
                    .spawn_scoped(scope, move || {
                        if let Some(id) = core {
                            // Best effort: unpinned, the router still works.
                            core_affinity::set_for_current(core_affinity::CoreId { id });
                        }
                        // Pinned to a shard's core: a spinning shard would
                        // take this router's CPU, so no flow hint.
                        let (result, stats) = route_one(source, lanes, stop, false);
                        if result.is_err() {
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        (result, stats)
                    })
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(r, h)| match h {
                Ok(h) => h.join().unwrap_or_else(|payload| {
                    let reason = crate::engine::panic_message(payload.as_ref());
                    let reason = format!("panicked: {reason}");
                    (
                        Err(Error::Router { router: r, reason }),
                        RouterStats::default(),
                    )
                }),
                Err(e) => (
                    Err(Error::Io {
                        what: format!("cannot start router thread {r}"),
                        source: e,
                    }),
                    RouterStats::default(),
                ),
            })
            .collect()
    });
    totals(outcomes)
}

/// The routers' outcomes in one: the first error, and their summed stats.
pub(crate) fn totals(
    outcomes: impl IntoIterator<Item = (Result<(), Error>, RouterStats)>,
) -> (Result<(), Error>, RouterStats) {
    let mut total = RouterStats::default();
    let mut result = Ok(());
    for (outcome, stats) in outcomes {
        total.records_read += stats.records_read;
        total.malformed += stats.malformed;
        total.stopped |= stats.stopped;
        if let (Ok(()), Err(e)) = (&result, outcome) {
            result = Err(e);
        }
    }
    // A router stopped only because another failed: the run failed, not stopped.
    total.stopped &= result.is_ok();
    (result, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::generator::{trades_schema, GeneratorOptions, TradesGenerator};
    use crate::runtime::ring::ring;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Routes an endless generator (paced at `rate`, or as fast as it goes)
    /// in batches of 16 to one lane whose shard never pops, until `stop`
    /// has been asked `checks` times; returns the data messages sent.
    fn batches_sent_to_a_stuck_shard(own_cpu: bool, rate: Option<u64>, checks: usize) -> usize {
        let schema = trades_schema();
        let parsed = crate::sql::parse("SELECT * FROM trades").unwrap();
        let plan = crate::sql::plan_query(&parsed, None, &schema).unwrap();
        let routing = Routing {
            plan: &plan,
            input: 0,
            batching: Batching {
                batch_size: 16,
                linger: Duration::from_micros(10),
            },
            partial: false,
        };
        let (producer, mut consumer) = ring(64);
        let (_returns, returned) = ring(64);
        let lane = Lane::new(producer, returned, Doorbell::new(), &schema, 16);
        let mut source = TradesGenerator::new(GeneratorOptions {
            rate,
            ..GeneratorOptions::default()
        });
        let asked = AtomicUsize::new(0);
        let stop = || asked.fetch_add(1, Ordering::Relaxed) >= checks;
        let mut stats = RouterStats::default();
        route(
            &mut source,
            routing,
            &mut [lane],
            &stop,
            &mut stats,
            own_cpu,
        )
        .unwrap();
        let mut sent = 0;
        while let Some(message) = consumer.pop() {
            sent += usize::from(matches!(message, Message::Data(_)));
        }
        sent
    }

    // Each loop reads one batch unless it holds: asked twice as often as it
    // may read, a router that never held would send twice as many.
    const CHECKS: usize = 2 * QUEUED_BATCHES;

    #[test]
    fn a_router_on_its_own_cpu_stops_reading_while_its_shard_has_a_queue() {
        let sent = batches_sent_to_a_stuck_shard(true, Some(1_000_000), CHECKS);
        assert_eq!(sent, QUEUED_BATCHES);
    }

    #[test]
    fn a_source_that_fills_every_batch_reads_ahead_into_the_whole_ring() {
        assert_eq!(batches_sent_to_a_stuck_shard(true, None, CHECKS), CHECKS);
        // 63 batches fill a 64-slot ring but for the slot end of input needs.
        assert_eq!(batches_sent_to_a_stuck_shard(true, None, 63), 63);
    }

    #[test]
    fn a_router_sharing_its_shards_cores_does_not_hold_back() {
        let sent = batches_sent_to_a_stuck_shard(false, Some(1_000_000), CHECKS);
        assert_eq!(sent, CHECKS);
    }
}
