//! The exchange: rows re-keyed between two stages of a query, shard to shard.
//!
//! Between a stage and the stage that reads its rows every shard has an SPSC
//! ring to every other shard (`S x (S - 1)` rings, the same [`ring`] type the routers use);
//! the rows a shard keeps go to its own next stage directly, with no ring.
//! Rows are gathered into one pending batch per target and sent when it is
//! full, or when a watermark, flush or end of input follows them: control
//! travels in-band, after the rows sent before it, to every shard.
//!
//! # No deadlock
//! A push never waits. A message that finds its ring full waits in its
//! lane's outbox, in order, and [`ExchangeOut::is_blocked`] tells the shard
//! to stop taking input for stage `k` until the outbox drains. Meanwhile
//! the shard goes on with its later stages' inputs, which never push back
//! into this exchange; the last stage writes only to its sink, so it always
//! drains, and by induction every stage does. The outbox holds at most what
//! one input message of stage `k` produced.
//!
//! `tests/loom_exchange.rs` model-checks this with loom on two shards, ring
//! capacity 1 and batch size 1 (so every outbox fills), over the real
//! [`mesh`], rings, doorbells and `Inputs`: every row arrives exactly once,
//! at the shard that owns its key, in its sender's order and before the
//! control sent after it, and both shards finish, a blocked shard still
//! draining its inbound ring and an idle one parked until a push rings it.
//! The check is bounded (two preemptions unless `LOOM_MAX_PREEMPTIONS` says
//! more) and leaves out the pipelines, failed shards, idle timeouts, and
//! more than two shards or stages.
//!
//! # Threading
//! An [`ExchangeOut`] is owned by one shard (the producer end of its rings);
//! the consumer ends belong to the other shards' inputs. A push rings the
//! target shard's doorbell, so a parked shard wakes.

use super::doorbell::Doorbell;
use super::message::Message;
use super::ring::{ring, Consumer, Producer, PushError};
use crate::data::{Batch, Column, Schema};
use crate::exec::hash::{hash_rows, shard_of};
use crate::sql::plan::Partitioning;
use crate::sync::Arc;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::collections::VecDeque;

/// Messages each exchange ring holds.
pub const EXCHANGE_CAPACITY: usize = 16;

/// One shard's sending end of an exchange.
pub struct ExchangeOut {
    me: usize,
    partitioning: Partitioning,
    schema: Schema,
    batch_size: usize,
    /// Per target shard; `None` at `me` (kept rows go to `local`).
    lanes: Vec<Option<OutLane>>,
    /// Rows kept, gathered like a lane's.
    kept: Batch,
    /// Messages for this shard's own next stage, in order.
    local: VecDeque<Message>,
    hashes: Vec<u64>,
    targets: Vec<Vec<u32>>,
}

struct OutLane {
    producer: Producer<Message>,
    doorbell: Arc<Doorbell>,
    pending: Batch,
    /// Messages that found the ring full, oldest first.
    outbox: VecDeque<Message>,
}

/// Builds one exchange among `doorbells.len()` shards: per shard, its
/// sending end, and the rings it receives on (one from every other shard).
pub fn mesh(
    partitioning: &Partitioning,
    schema: &Schema,
    batch_size: usize,
    doorbells: &[Arc<Doorbell>],
    capacity: usize,
) -> Vec<(ExchangeOut, Vec<Consumer<Message>>)> {
    let shards = doorbells.len();
    // rings[from][to]
    let mut producers: Vec<Vec<Option<Producer<Message>>>> = Vec::new();
    let mut consumers: Vec<Vec<Consumer<Message>>> = (0..shards).map(|_| Vec::new()).collect();
    for from in 0..shards {
        let mut row = Vec::new();
        for (to, inbound) in consumers.iter_mut().enumerate() {
            if to == from {
                row.push(None);
                continue;
            }
            let (p, c) = ring(capacity);
            row.push(Some(p));
            inbound.push(c);
        }
        producers.push(row);
    }
    producers
        .into_iter()
        .zip(consumers)
        .enumerate()
        .map(|(me, (row, inbound))| {
            let lanes = row
                .into_iter()
                .enumerate()
                .map(|(to, p)| {
                    p.map(|producer| OutLane {
                        producer,
                        doorbell: doorbells[to].clone(),
                        pending: Batch::with_capacity(schema, 0),
                        outbox: VecDeque::new(),
                    })
                })
                .collect();
            let out = ExchangeOut {
                me,
                partitioning: partitioning.clone(),
                schema: schema.clone(),
                batch_size,
                lanes,
                kept: Batch::with_capacity(schema, 0),
                local: VecDeque::new(),
                hashes: Vec::new(),
                targets: vec![Vec::new(); shards],
            };
            (out, inbound)
        })
        .collect()
}

impl OutLane {
    /// Queues `message` behind the outbox, then pushes what the ring takes.
    fn send(&mut self, message: Message) {
        self.outbox.push_back(message);
        self.drain();
    }

    /// Pushes outboxed messages while the ring has room.
    fn drain(&mut self) {
        let mut pushed = false;
        while let Some(message) = self.outbox.pop_front() {
            match self.producer.push(message) {
                Ok(()) => pushed = true,
                Err(PushError::Full(m)) => {
                    self.outbox.push_front(m);
                    break;
                }
            }
        }
        if pushed {
            self.doorbell.ring();
        }
    }
}

impl ExchangeOut {
    /// Routes the rows of `batch` to the shards that own their keys in the
    /// next stage; full batches are sent at once.
    pub fn send(&mut self, batch: Batch) {
        let shards = self.lanes.len();
        for t in &mut self.targets {
            t.clear();
        }
        match &self.partitioning {
            Partitioning::ByKey(keys) if shards > 1 => {
                let cols: SmallVec<[Cow<'_, Column>; 4]> =
                    keys.iter().map(|k| k.eval(&batch)).collect();
                let refs: SmallVec<[&Column; 4]> = cols.iter().map(|c| c.as_ref()).collect();
                hash_rows(&refs, batch.len, &mut self.hashes);
                for (row, h) in self.hashes.iter().enumerate() {
                    self.targets[shard_of(*h, shards)].push(row as u32);
                }
            }
            Partitioning::Single => self.targets[0].extend(0..batch.len as u32),
            // Nothing to keep together (or one shard): rows stay here.
            _ => self.targets[self.me].extend(0..batch.len as u32),
        }
        for to in 0..shards {
            if self.targets[to].is_empty() {
                continue;
            }
            let rows = std::mem::take(&mut self.targets[to]);
            self.gather(to, &batch, &rows);
            self.targets[to] = rows;
        }
    }

    fn gather(&mut self, to: usize, batch: &Batch, mut rows: &[u32]) {
        while !rows.is_empty() {
            let pending = match &mut self.lanes[to] {
                Some(lane) => &mut lane.pending,
                None => &mut self.kept,
            };
            if pending.columns.is_empty() {
                *pending = Batch::with_capacity(&self.schema, self.batch_size.min(1024));
            }
            if pending.is_empty() {
                pending.ingest_time = batch.ingest_time;
            }
            let room = self.batch_size - pending.len;
            let (now, later) = rows.split_at(room.min(rows.len()));
            pending.extend_from_rows(batch, now);
            rows = later;
            if pending.len >= self.batch_size {
                self.send_pending(to);
            }
        }
    }

    fn send_pending(&mut self, to: usize) {
        let schema = &self.schema;
        let take = |pending: &mut Batch| {
            (!pending.is_empty())
                .then(|| std::mem::replace(pending, Batch::with_capacity(schema, 0)))
        };
        match &mut self.lanes[to] {
            Some(lane) => {
                if let Some(batch) = take(&mut lane.pending) {
                    lane.send(Message::Data(batch));
                }
            }
            None => {
                if let Some(batch) = take(&mut self.kept) {
                    self.local.push_back(Message::Data(batch));
                }
            }
        }
    }

    /// Sends every pending row, then `control` (a watermark, flush or end
    /// of input) to every shard, this one included.
    pub fn broadcast(&mut self, control: impl Fn() -> Message) {
        for to in 0..self.lanes.len() {
            self.send_pending(to);
            match &mut self.lanes[to] {
                Some(lane) => lane.send(control()),
                None => self.local.push_back(control()),
            }
        }
    }

    /// Sends every pending row now, without control (the shard is idle).
    pub fn send_all_pending(&mut self) {
        for to in 0..self.lanes.len() {
            self.send_pending(to);
        }
    }

    /// Pushes what waits in the outboxes while the rings have room.
    pub fn drain(&mut self) {
        for lane in self.lanes.iter_mut().flatten() {
            if !lane.outbox.is_empty() {
                lane.drain();
            }
        }
    }

    /// Whether messages wait for room in a ring: the shard must not take
    /// input for this exchange's stage until they are out.
    pub fn is_blocked(&self) -> bool {
        self.lanes.iter().flatten().any(|l| !l.outbox.is_empty())
    }

    /// The next message for this shard's own next stage.
    pub fn take_local(&mut self) -> Option<Message> {
        self.local.pop_front()
    }

    /// Whether a lane's shard has gone (it failed): its ring is abandoned.
    pub fn target_stopped(&self) -> Option<usize> {
        self.lanes
            .iter()
            .position(|l| l.as_ref().is_some_and(|l| l.producer.is_abandoned()))
    }
}
