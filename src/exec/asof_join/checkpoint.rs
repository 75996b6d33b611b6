//! An ASOF join's state in a checkpoint, and back: the right rows each key
//! holds (its history), the left rows waiting for the watermarks, the
//! watermarks, and how far rows have been released.

use super::AsofJoin;
use crate::data::{Batch, Column};
use crate::exec::hash::rows_of_shard;
use crate::exec::join_rows::key_columns;
use serde::{Deserialize, Serialize};

/// See the module docs.
#[derive(Debug, Serialize, Deserialize)]
pub struct AsofState {
    /// Per held right row: its key, time and columns.
    pub right_keys: Vec<Column>,
    pub right_times: Vec<i64>,
    pub right_rows: Vec<Column>,
    /// The waiting left rows (their columns) and their times.
    pub waiting: Vec<Column>,
    pub waiting_times: Vec<i64>,
    pub left_watermark: i64,
    pub right_watermark: i64,
    pub released: i64,
}

impl AsofJoin {
    /// The state, for a checkpoint.
    pub fn state(&self) -> AsofState {
        let (mut slots, mut rows, mut times) = (Vec::new(), Vec::new(), Vec::new());
        for (slot, h) in self.history.iter().enumerate() {
            for &(t, row) in h {
                slots.push(slot as u32);
                rows.push(row);
                times.push(t);
            }
        }
        AsofState {
            right_keys: self.index.keys().iter().map(|c| c.gather(&slots)).collect(),
            right_times: times,
            right_rows: self.store.iter().map(|c| c.gather(&rows)).collect(),
            waiting: self.waiting.columns.clone(),
            waiting_times: self.waiting_times.clone(),
            left_watermark: self.left_watermark,
            right_watermark: self.right_watermark,
            released: self.released,
        }
    }

    /// The left join key columns of `batch` (which shard owns each row).
    pub fn left_key_columns(&self, batch: &Batch) -> Vec<Column> {
        key_columns(&self.left_keys, batch)
            .into_iter()
            .map(|c| c.into_owned())
            .collect()
    }

    /// Restores the right rows whose owner in `right_owner` is `shard`, and
    /// the waiting left rows whose owner in `left_owner` is. Watermarks and
    /// the release point become the smaller of the two.
    pub fn restore(
        &mut self,
        state: &AsofState,
        right_owner: &[u32],
        left_owner: &[u32],
        shard: usize,
    ) {
        let first = self.left_watermark == i64::MIN && self.right_watermark == i64::MIN;
        let merge = |mine: i64, saved: i64| if first { saved } else { mine.min(saved) };
        self.left_watermark = merge(self.left_watermark, state.left_watermark);
        self.right_watermark = merge(self.right_watermark, state.right_watermark);
        self.released = merge(self.released, state.released);
        let from = rows_of_shard(right_owner, shard);
        if !from.is_empty() {
            let mut slots = Vec::new();
            self.index
                .find_or_insert_rows(&state.right_keys, &from, &mut slots);
            self.history.resize_with(self.index.len(), Default::default);
            for (store, saved) in self.store.iter_mut().zip(&state.right_rows) {
                store.extend_from_rows(saved, &from);
            }
            for (i, (&r, &slot)) in from.iter().zip(&slots).enumerate() {
                let t = state.right_times[r as usize];
                let h = &mut self.history[slot as usize];
                let at = h.partition_point(|&(time, _)| time <= t);
                h.insert(at, (t, (self.stored + i) as u32));
                self.live += 1;
            }
            self.stored += from.len();
        }
        let waiting = Batch::new(state.waiting.clone(), state.waiting_times.len());
        let mine = rows_of_shard(left_owner, shard);
        if mine.is_empty() {
            return;
        }
        if self.waiting.columns.len() != waiting.columns.len() {
            let empty = waiting.columns.iter().map(|c| Column::new(c.data_type()));
            self.waiting = Batch::new(empty.collect(), 0);
        }
        self.waiting.extend_from_rows(&waiting, &mine);
        self.waiting_times
            .extend(mine.iter().map(|&r| state.waiting_times[r as usize]));
    }
}
