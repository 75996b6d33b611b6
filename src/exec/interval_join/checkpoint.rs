//! An interval join's state in a checkpoint: each side's held rows, and
//! back.
//!
//! Per side, one entry per held row: its key, time, whether it has met a
//! row of the other side, and its stored columns (those read after the
//! join; the others stay empty). Restored rows are held again without
//! being joined: every pair among them was emitted before the checkpoint.

use super::{IntervalJoin, Side};
use crate::data::Column;
use crate::exec::hash::rows_of_shard;
use serde::{Deserialize, Serialize};

/// One side's held rows (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
pub struct SideState {
    pub keys: Vec<Column>,
    pub times: Vec<i64>,
    pub matched: Vec<bool>,
    /// Per column of the side, its rows (empty for a column nothing reads).
    pub columns: Vec<Column>,
    pub watermark: i64,
}

impl SideState {
    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// Both sides' held rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct IntervalJoinState {
    pub left: SideState,
    pub right: SideState,
}

impl Side {
    fn state(&self) -> SideState {
        let (mut slots, mut rows, mut times, mut matched) = (vec![], vec![], vec![], vec![]);
        for (slot, list) in self.entries.iter().enumerate() {
            for &(t, row, m) in list {
                slots.push(slot as u32);
                rows.push(row);
                times.push(t);
                matched.push(m);
            }
        }
        SideState {
            keys: self.index.keys().iter().map(|c| c.gather(&slots)).collect(),
            times,
            matched,
            columns: (self.store.iter().zip(&self.read))
                .map(|(c, &read)| match read {
                    true => c.gather(&rows),
                    false => Column::new(c.data_type()),
                })
                .collect(),
            watermark: self.watermark,
        }
    }

    /// Holds the rows of `state` that `owner` gives shard `shard`.
    fn restore(&mut self, state: &SideState, owner: &[u32], shard: usize) {
        self.watermark = match self.watermark {
            i64::MIN => state.watermark,
            w => w.min(state.watermark),
        };
        let from = rows_of_shard(owner, shard);
        if from.is_empty() {
            return;
        }
        let mut slots = Vec::new();
        self.index
            .find_or_insert_rows(&state.keys, &from, &mut slots);
        self.entries.resize_with(self.index.len(), Default::default);
        for ((store, saved), &read) in self.store.iter_mut().zip(&state.columns).zip(&self.read) {
            if read {
                store.extend_from_rows(saved, &from);
            }
        }
        for (i, (&r, &slot)) in from.iter().zip(&slots).enumerate() {
            let r = r as usize;
            let row = (self.stored + i) as u32;
            self.insert(slot, state.times[r], row, state.matched[r]);
        }
        self.stored += from.len();
    }
}

impl IntervalJoin {
    /// Both sides' held rows, for a checkpoint.
    pub fn state(&self) -> IntervalJoinState {
        IntervalJoinState {
            left: self.left.state(),
            right: self.right.state(),
        }
    }

    /// Holds the rows of `state` that shard `shard` owns: `owner` per side,
    /// per row (see [`IntervalJoinState`]).
    pub fn restore(&mut self, state: &IntervalJoinState, owner: [&[u32]; 2], shard: usize) {
        self.left.restore(&state.left, owner[0], shard);
        self.right.restore(&state.right, owner[1], shard);
    }
}
