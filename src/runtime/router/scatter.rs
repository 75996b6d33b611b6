//! Scattering a source's batch over the shards' lanes: whole to one lane,
//! a copy to every lane (broadcast), or row by row to the lane of the shard
//! that owns each row's key, in each lane's pending batch.

use super::{stopped, Batching, Lane};
use crate::data::{Batch, Column, Schema};
use crate::error::Error;
use crate::exec::hash::{hash_rows, shard_of};
use crate::runtime::message::Message;
use crate::sql::plan::Partitioning;
use smallvec::SmallVec;
use std::borrow::Cow;

/// Sends each row of a batch to the lane of the shard that owns it.
pub(super) struct Scatter {
    next_lane: usize,
    hashes: Vec<u64>,
    /// Per lane, the rows of the batch it gets.
    targets: Vec<Vec<u32>>,
}

impl Scatter {
    pub(super) fn new(lanes: usize) -> Scatter {
        Scatter {
            next_lane: 0,
            hashes: Vec::new(),
            targets: vec![Vec::new(); lanes],
        }
    }

    /// Routes `batch`: whole to one lane, or row by row to the lanes of the
    /// keys' shards, sending each lane's pending rows once it has a batch.
    /// Returns `batch` spent when its rows were copied out.
    pub(super) fn route(
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
pub(super) fn sends_whole(partitioning: &Partitioning, lanes: usize) -> bool {
    !matches!(partitioning, Partitioning::ByKey(_)) || lanes == 1
}
