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
//! Rows a source has already read from a pipe when the stop is seen (whole
//! lines in its buffer, the records it sampled to infer its types; see
//! [`Source::has_read_ahead`]) are routed first: the router polls without
//! waiting while the source has such rows, for at most another
//! [`STOP_CHECK`], so a record read before the stop is processed.
//!
//! # Failing
//! A router whose source fails (an I/O error, a malformed record under
//! `--on-error fail`) or whose shard stopped, or that stops because another
//! router of the run failed (its `failed` condition), ends every lane with
//! [`Message::Failed`] instead of end of input: the shards then drain their
//! rings but emit nothing that only the end of the input would release (see
//! [`super::shard`], A failed run).
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
pub use super::lane::Lane;
use super::message::Message;
use super::metrics::RoutedCounter;
use super::watermarks::WatermarkTracker;
use crate::checkpoint::coordinator::{Report, RouterCheckpoints, RouterHandle};
use crate::checkpoint::manifest::{ReaderState, SourcePosition};
use crate::data::Schema;
use crate::error::Error;
use crate::exec::partial_agg::{Folded, PartialAggregate};
use crate::io::source::{Poll, Source};
use crate::sql::plan::QueryPlan;
use crossbeam::utils::{Backoff, CachePadded};
use scatter::{sends_whole, Scatter};
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
    /// With checkpoints: the routers' ends, and which run input this is.
    pub checkpoints: Option<(&'a RouterCheckpoints, usize)>,
    /// Which reader (byte range) of the input this router reads.
    pub reader: usize,
    /// Per reader of the input, where it publishes its malformed records
    /// (for live metrics).
    pub malformed: &'a [std::sync::Arc<CachePadded<RoutedCounter>>],
}

/// The error of a router whose shard `lane` stopped early.
fn stopped(lane: usize) -> Error {
    Error::Shard {
        shard: lane,
        reason: "stopped before the end of input".into(),
    }
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
/// caller then reports that shard's own error). `failed` says whether another
/// router of the run has failed (then `stop` is true too): the lanes then end
/// with [`Message::Failed`], as after an error of this router's own.
pub fn route(
    source: &mut dyn Source,
    routing: Routing<'_>,
    lanes: &mut [Lane],
    stop: &(dyn Fn() -> bool + Sync),
    failed: &(dyn Fn() -> bool + Sync),
    stats: &mut RouterStats,
    own_cpu: bool,
) -> Result<(), Error> {
    let Routing { plan, batching, .. } = routing;
    let checkpoint = routing.checkpoints.map(|(c, input)| {
        (
            &c.handles[input][routing.reader],
            c.max_seen[input][routing.reader],
        )
    });
    // A table the join reads completely first sends no barrier: the shards
    // read nothing else until it has ended, so a barrier would wait for ever
    // on the stream's unread rings. Its end stands for it (see
    // `crate::checkpoint`): checkpoints complete once it has been read.
    let table_first = routing.input == 1 && plan.join.as_ref().is_some_and(|j| j.right_first);
    let mut barrier_sent = 0u64;
    let malformed = routing.malformed.get(routing.reader);
    // The position of the last barrier sent, until its checkpoint commits.
    let mut uncommitted: Option<(u64, SourcePosition)> = None;
    let input = &plan.inputs[routing.input];
    let partitioning = &input.partitioning;
    let watermarks = input.watermarking;
    let mut partial = (routing.partial && routing.input == 0)
        .then(|| PartialAggregate::for_plan(plan))
        .flatten();
    // With the record text, if the source keeps it (see `late::keeps_text`).
    let schema = crate::io::late::batch_schema(source);
    let mut watermark = WatermarkTracker::new(watermarks, input.idle_timeout, source);
    let lateness = watermarks.map_or(0, |w| w.allowed_lateness);
    if let Some((_, max_seen)) = checkpoint {
        // Resumed: the watermark goes on from where the checkpoint left it.
        watermark.max_seen = max_seen;
    }
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
        // When a stop was first seen: from then on the router routes only
        // the rows the source has read already (Source::has_read_ahead), for
        // at most STOP_CHECK more, polling without waiting.
        let mut stopping: Option<Instant> = None;
        loop {
            if stop() {
                stats.stopped = true;
                let since = *stopping.get_or_insert(now);
                if now >= since + STOP_CHECK || !source.has_read_ahead() {
                    break;
                }
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
            let deadline = match stopping {
                Some(_) => now,
                None => lanes
                    .iter()
                    .filter_map(|l| l.oldest)
                    .min()
                    .map_or(check, |t| check.min(t + batching.linger)),
            };
            let polled = source.poll(batching.batch_size, Some(deadline))?;
            if own_cpu {
                let flowing = matches!(polled, Poll::Batch(_));
                lanes.iter_mut().for_each(|lane| lane.flow(flowing));
            }
            match polled {
                Poll::End => break,
                Poll::Idle if stopping.is_some() => break,
                Poll::Idle => {}
                Poll::Batch(mut batch) => {
                    short = batch.len < batching.batch_size;
                    stats.records_read += batch.len as u64;
                    let cuts = watermark.cuts(&batch, lateness);
                    if !cuts.is_empty() {
                        // Rare: rows the rows before them in this batch make
                        // late. Each part goes out with the watermark it
                        // produced (see `super::watermarks`).
                        let mut from = 0;
                        for to in cuts {
                            let part = batch.gather(&(from as u32..to as u32).collect::<Vec<_>>());
                            watermark.observe(&part);
                            scatter.route(part, partitioning, lanes, batching, &schema)?;
                            if let Some(wm) = watermark.next() {
                                send_watermark(lanes, wm, &schema, batching.batch_size)?;
                            }
                            from = to;
                        }
                        let rest =
                            batch.gather(&(from as u32..batch.len as u32).collect::<Vec<_>>());
                        source.reuse(std::mem::replace(&mut batch, rest));
                    }
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
            if let Some((handle, _)) = checkpoint.filter(|_| !table_first) {
                let epoch = handle.requested();
                if epoch > barrier_sent {
                    if let Some(position) = source.position() {
                        let state = ReaderState {
                            position,
                            max_event_time: watermark.max_seen,
                        };
                        // Folded groups belong before the barrier too.
                        if let Some(p) = partial.as_mut() {
                            hand_over(p, lanes, &mut hand_overs)?;
                        }
                        let size = batching.batch_size;
                        uncommitted = Some((epoch, state.position.clone()));
                        send_barrier(epoch, state, handle, lanes, &schema, size)?;
                        barrier_sent = epoch;
                    }
                }
                if let Some((_, position)) =
                    uncommitted.take_if(|(epoch, _)| handle.committed() >= *epoch)
                {
                    source.checkpoint_committed(&position);
                }
            }
            if let Some(counter) = malformed {
                counter.publish(source.malformed());
            }
            watermark.ask(source);
            if let Some(wm) = watermark.next() {
                send_watermark(lanes, wm, &schema, batching.batch_size)?;
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
    if let (Some((handle, _)), Some(position), true) =
        (checkpoint, source.position(), result.is_ok())
    {
        handle.report(Report::RouterDone {
            input: handle.input,
            reader: handle.reader,
            state: ReaderState {
                position,
                max_event_time: watermark.max_seen,
            },
        });
    }
    // End of input goes to every shard that is still running, even after an
    // error, so that the others drain and close their output; after an error
    // (here or in another router) it says that the input was not finished.
    let failed = result.is_err() || failed();
    for lane in lanes.iter_mut() {
        // The rows read before an error are counted as read: they go out
        // (the loop above sent them unless it failed).
        if result.is_err() {
            let _ = lane.send_pending(&schema, batching.batch_size);
        }
        let _ = lane.send(match failed {
            true => Message::Failed,
            false => Message::EndOfInput,
        });
    }
    result
}

/// Sends watermark `wm` to every shard, after the rows before it, so idle
/// shards close their windows too.
fn send_watermark(
    lanes: &mut [Lane],
    wm: i64,
    schema: &Schema,
    batch_size: usize,
) -> Result<(), Error> {
    for (i, lane) in lanes.iter_mut().enumerate() {
        lane.send_pending(schema, batch_size)
            .map_err(|_| stopped(i))?;
        lane.send(Message::Watermark(wm)).map_err(|_| stopped(i))?;
    }
    Ok(())
}

/// Checkpoint `epoch`'s barrier (see [`crate::checkpoint`]): the router's
/// pending rows go out, then the barrier to every shard, and the
/// coordinator learns where the source stands.
fn send_barrier(
    epoch: u64,
    state: ReaderState,
    handle: &RouterHandle,
    lanes: &mut [Lane],
    schema: &Schema,
    batch_size: usize,
) -> Result<(), Error> {
    for (i, lane) in lanes.iter_mut().enumerate() {
        lane.send_pending(schema, batch_size)
            .map_err(|_| stopped(i))?;
        lane.send(Message::Barrier(epoch)).map_err(|_| stopped(i))?;
    }
    handle.report(Report::Router {
        epoch,
        input: handle.input,
        reader: handle.reader,
        state,
    });
    Ok(())
}

/// One router per source: `sources[r]` is routed to `lanes[r]` (one lane per
/// shard), each on a thread of its own (`corestream-router-<r>`) pinned to
/// `cores[r % cores.len()]`; a single source is routed on the calling thread,
/// kept off the shards' `cores` while it routes when it may run elsewhere
/// (see [`super::affinity`]).
///
/// When one router fails, the others stop reading, so the run ends promptly
/// (and end their lanes as failed, see [`route`]); the first error is
/// returned. The stats are the routers' totals. `failed` says whether a
/// router of another input has failed (`stop` is then true too).
pub fn route_all(
    sources: &mut [Box<dyn Source>],
    routing: Routing<'_>,
    lanes: Vec<Vec<Lane>>,
    stop: &(dyn Fn() -> bool + Sync),
    failed: &(dyn Fn() -> bool + Sync),
    cores: &[usize],
) -> (Result<(), Error>, RouterStats) {
    let route_one = |source: &mut Box<dyn Source>,
                     reader: usize,
                     mut lanes: Vec<Lane>,
                     stop: &(dyn Fn() -> bool + Sync),
                     failed: &(dyn Fn() -> bool + Sync),
                     own_cpu: bool| {
        let mut stats = RouterStats::default();
        let result = route(
            source.as_mut(),
            Routing { reader, ..routing },
            &mut lanes,
            stop,
            failed,
            &mut stats,
            own_cpu,
        );
        (result, stats)
    };
    if let ([source], [_]) = (&mut *sources, lanes.as_slice()) {
        let placed = OffCores::enter(cores);
        let lanes = lanes.into_iter().next().unwrap_or_default();
        return route_one(source, 0, lanes, stop, failed, placed.is_off());
    }
    // Set by the first router that fails; the flag carries no data, so
    // Relaxed suffices.
    let failed_here = std::sync::atomic::AtomicBool::new(false);
    let any_failed = || failed() || failed_here.load(std::sync::atomic::Ordering::Relaxed);
    let stop_or_failed = || stop() || any_failed();
    let outcomes: Vec<(Result<(), Error>, RouterStats)> = std::thread::scope(|scope| {
        let handles: Vec<_> = sources
            .iter_mut()
            .zip(lanes)
            .enumerate()
            .map(|(r, (source, lanes))| {
                let (failed, any_failed) = (&failed_here, &any_failed);
                let (stop, route_one) = (&stop_or_failed, &route_one);
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
                        let (result, stats) = route_one(source, r, lanes, stop, any_failed, false);
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

mod scatter;
#[cfg(test)]
mod tests;
