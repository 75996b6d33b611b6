//! What travels on a ring: data and control, in one ordered stream.

use crate::data::Batch;
use crate::exec::partial_agg::{Folded, PartialGroups};
use std::sync::Arc;

/// One message from a router to a shard.
///
/// Control travels in-band with data, so a shard sees a watermark, flush or
/// end of input exactly after the batches sent before it; no lock orders them.
#[derive(Debug)]
pub enum Message {
    /// Rows the shard owns.
    Data(Batch),
    /// A copy of rows broadcast to every shard (a table joined on every
    /// shard), processed as [`Message::Data`] but not counted: one shard
    /// gets the counted `Data`, so every input row is counted once.
    Copy(Batch),
    /// Groups a router folded itself (partial aggregation): the shard merges
    /// those it owns. Every shard gets the same groups; `folded` counts the
    /// input rows they stand for on one shard's message only, so every input
    /// row is counted once.
    Partial {
        groups: Arc<PartialGroups>,
        folded: Folded,
    },
    /// Event time has reached this point (epoch ms): close the windows it
    /// passes. Broadcast to every shard, so idle shards close windows too.
    Watermark(i64),
    /// Write out buffered results now (the router's linger expired).
    Flush,
    /// The router has no more input: finish, flush and stop.
    EndOfInput,
    /// Checkpoint `n`'s barrier: every message before it belongs to the
    /// checkpoint, none after it (see [`crate::checkpoint`]). A shard hands
    /// it on only once it has come on every ring still running.
    Barrier(u64),
    /// The sender stops without having finished its input: the run failed
    /// (a source error, a malformed record under `--on-error fail`, a shard
    /// that stopped). Like [`Message::EndOfInput`] it is the sender's last
    /// message, but what the shard holds is the result of part of the input
    /// only: it emits nothing the end of input would release (no `EMIT
    /// FINAL` rows, no windows closed by the end), its watermark stays where
    /// this sender left it, and it passes the failure on to the shards its
    /// later stages feed. A ring abandoned without an end message reads as
    /// this.
    Failed,
}
