//! A router's end of one shard's ring (see [`super::router`]): the batch
//! it is filling for that shard, sending with backpressure, and the return
//! ring of spent batches.

use super::doorbell::Doorbell;
use super::message::Message;
use super::metrics::RoutedCounter;
use super::ring::{Consumer, Producer, PushError};
use super::router::QUEUED_BATCHES;
use crate::data::{Batch, Schema};
use crate::sync::Arc;
use crossbeam::utils::{Backoff, CachePadded};
use std::mem::ManuallyDrop;
use std::time::Instant;

/// The router's end of one shard's ring, and of the ring the shard hands
/// spent batches back on.
pub struct Lane {
    /// Dropped by hand in `Drop`, before the doorbell rings.
    pub(super) producer: ManuallyDrop<Producer<Message>>,
    /// Batches the shard has finished with, emptied, for refilling: the
    /// next pending batch, or the source's next batch when batches go whole.
    pub(super) returned: Consumer<Batch>,
    doorbell: Arc<Doorbell>,
    pub(super) pending: Batch,
    /// When the oldest pending row arrived.
    pub(super) oldest: Option<Instant>,
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
    pub(super) fn flow(&mut self, on: bool) {
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
    pub(super) fn shard_queued(&self) -> bool {
        self.producer.holds_at_least(QUEUED_BATCHES)
    }

    /// Whether the shard has stopped (its consumer end is gone): it failed.
    pub(super) fn shard_stopped(&self) -> bool {
        self.producer.is_abandoned()
    }

    /// Pushes `message`, waiting while the ring is full. Fails only when the
    /// shard has stopped (its consumer end is gone).
    pub(super) fn send(&mut self, mut message: Message) -> Result<(), Stopped> {
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

    pub(super) fn send_pending(
        &mut self,
        schema: &Schema,
        batch_size: usize,
    ) -> Result<(), Stopped> {
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

/// The consumer end of a lane went away: its shard stopped.
#[derive(Debug)]
pub(super) struct Stopped;
