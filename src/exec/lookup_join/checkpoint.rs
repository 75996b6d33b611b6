//! A lookup join's table in a checkpoint: each key's current row, and back.

use super::LookupJoin;
use crate::data::Column;
use crate::exec::hash::rows_of_shard;
use crate::exec::packed_index::ABSENT;
use serde::{Deserialize, Serialize};

/// The table's current rows (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
pub struct TableState {
    /// One column per key part, one row per key held.
    pub keys: Vec<Column>,
    /// The table's columns, each key's current row.
    pub rows: Vec<Column>,
}

impl TableState {
    pub fn len(&self) -> usize {
        self.keys.first().map_or(0, Column::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl LookupJoin {
    /// Each key's current row, for a checkpoint.
    pub fn state(&self) -> TableState {
        let slots: Vec<u32> = (0..self.latest.len() as u32)
            .filter(|&s| self.latest[s as usize] != ABSENT)
            .collect();
        let rows: Vec<u32> = slots.iter().map(|&s| self.latest[s as usize]).collect();
        TableState {
            keys: self.index.keys().iter().map(|c| c.gather(&slots)).collect(),
            rows: self.store.iter().map(|c| c.gather(&rows)).collect(),
        }
    }

    /// Makes the rows of `state` that `owner` gives shard `shard` their
    /// keys' current rows.
    pub fn restore(&mut self, state: &TableState, owner: &[u32], shard: usize) {
        let from = rows_of_shard(owner, shard);
        if from.is_empty() {
            return;
        }
        let mut slots = Vec::new();
        self.index
            .find_or_insert_rows(&state.keys, &from, &mut slots);
        self.latest.resize(self.index.len(), ABSENT);
        for (store, saved) in self.store.iter_mut().zip(&state.rows) {
            store.extend_from_rows(saved, &from);
        }
        for (i, &slot) in slots.iter().enumerate() {
            self.latest[slot as usize] = (self.stored + i) as u32;
        }
        self.stored += from.len();
    }
}
