//! The lookup join: each left row meets the table's current row for its key
//! (stream-table enrichment).
//!
//! The table is a changelog: a later row replaces the earlier row with the
//! same key. Its rows are appended to a columnar store; an index maps each
//! key to its latest row. Replaced rows stay in the store until they
//! outnumber the live ones, then the store is compacted.
//!
//! # Invariants
//! `latest[slot]` is the store row of the key with group id `slot` in
//! `index`, or `ABSENT` for a key seen only with a NULL component (never
//! matched). Every store column has `stored` rows.

mod checkpoint;
pub use checkpoint::TableState;

use super::group_table::GroupTable;
use super::join_rows::{joined, keep_matched, key_columns, unmatch_null_keys};
use super::packed_index::ABSENT;
use crate::data::{Batch, Column, Schema};
use crate::exec::expr::Expr;
use crate::sql::plan::JoinPlan;

/// Store rows that may be replaced rows before the store is compacted, on
/// top of as many as are live.
const COMPACT_SLACK: usize = 4096;

/// A shard's copy (or share) of a table, and the probe of left rows into it.
pub struct LookupJoin {
    left_keys: Vec<Expr>,
    right_keys: Vec<Expr>,
    outer: bool,
    /// Per table column, whether anything after the join reads it.
    read: Vec<bool>,
    index: GroupTable,
    latest: Vec<u32>,
    store: Vec<Column>,
    stored: usize,
    /// Scratch: per row, its key's group id, then its store row.
    matches: Vec<u32>,
}

impl LookupJoin {
    /// An empty table of `right` rows for `join`; `read` says which of its
    /// columns anything after the join reads.
    pub fn new(join: &JoinPlan, right: &Schema, read: Vec<bool>) -> LookupJoin {
        let key_types: Vec<_> = join.right_keys.iter().map(Expr::data_type).collect();
        LookupJoin {
            left_keys: join.left_keys.clone(),
            right_keys: join.right_keys.clone(),
            outer: join.outer,
            read,
            index: GroupTable::new(&key_types, 1024),
            latest: Vec::new(),
            store: right
                .fields
                .iter()
                .map(|f| Column::with_capacity(f.data_type, 1024))
                .collect(),
            stored: 0,
            matches: Vec::new(),
        }
    }

    /// Keys the table holds.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Applies a batch of table rows, in order: each becomes its key's
    /// current row.
    pub fn update(&mut self, batch: &Batch) {
        let keys = key_columns(&self.right_keys, batch);
        let refs: Vec<&Column> = keys.iter().map(|c| c.as_ref()).collect();
        self.index
            .find_or_insert(&refs, batch.len, &mut self.matches);
        unmatch_null_keys(&keys, &mut self.matches);
        self.latest.resize(self.index.len(), ABSENT);
        let base = self.stored as u32;
        for (row, &slot) in self.matches.iter().enumerate() {
            if slot != ABSENT {
                self.latest[slot as usize] = base + row as u32;
            }
        }
        let all: Vec<u32> = (0..batch.len as u32).collect();
        for (store, column) in self.store.iter_mut().zip(&batch.columns) {
            store.extend_from_rows(column, &all);
        }
        self.stored += batch.len;
        if self.stored > 2 * self.index.len() + COMPACT_SLACK {
            self.compact();
        }
    }

    /// Keeps only each key's current row in the store.
    fn compact(&mut self) {
        let live: Vec<u32> = self
            .latest
            .iter()
            .copied()
            .filter(|&r| r != ABSENT)
            .collect();
        self.store = self.store.iter().map(|c| c.gather(&live)).collect();
        for (next, r) in self.latest.iter_mut().filter(|r| **r != ABSENT).enumerate() {
            *r = next as u32;
        }
        self.stored = live.len();
    }

    /// Joins a batch of left rows: the joined rows, and how many left rows
    /// an inner join removed for want of a match.
    pub fn probe(&mut self, mut batch: Batch) -> (Batch, usize) {
        let mut matches = std::mem::take(&mut self.matches);
        {
            let keys = key_columns(&self.left_keys, &batch);
            let refs: Vec<&Column> = keys.iter().map(|c| c.as_ref()).collect();
            self.index.find(&refs, batch.len, &mut matches);
            unmatch_null_keys(&keys, &mut matches);
        }
        for m in matches.iter_mut().filter(|m| **m != ABSENT) {
            *m = self.latest[*m as usize];
        }
        let removed = if self.outer {
            0
        } else {
            keep_matched(&mut batch, &mut matches)
        };
        let out = joined(batch, &self.store, &matches, &self.read);
        self.matches = matches;
        (out, removed)
    }
}
