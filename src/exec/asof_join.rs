//! The ASOF join: each left row meets the right row with its key and the
//! greatest time at or before its own (trades and the quote in force; a
//! versioned table as of an event time).
//!
//! A left row waits until both inputs' watermarks have passed its time:
//! then every right row at or before it has arrived (a later one would be
//! late, and is dropped and counted), so its match is a function of the
//! input alone. Waiting rows are released in time order (ties in arrival
//! order), so with no allowed lateness the joined rows leave in event-time
//! order whatever the batching or the interleaving of the two inputs.
//!
//! # State
//! Per right key, its rows' times in ascending order (ties in arrival
//! order), each pointing into a columnar store. Once the release point has
//! passed a time, only the newest row at or before it can still match, so
//! older ones are dropped as keys are touched; the store is compacted when
//! dropped rows outnumber live ones. Left rows waiting are kept in a batch
//! of their own.
//!
//! # Invariants
//! - `history[slot]` is sorted by time; each entry's store row is below
//!   `stored`; `live` is the number of entries over all slots.
//! - Every waiting left row's time is above `released` (the release point).

mod checkpoint;
pub use checkpoint::AsofState;

use super::group_table::GroupTable;
use super::join_rows::{joined, keep_matched, key_columns, unmatch_null_keys};
use super::packed_index::ABSENT;
use crate::data::column::ColumnData;
use crate::data::{Batch, Column, Schema};
use crate::exec::expr::Expr;
use crate::sql::plan::JoinPlan;
use std::collections::VecDeque;

/// Dropped store rows tolerated on top of the live ones before compacting.
const COMPACT_SLACK: usize = 4096;

/// The ASOF join's state on one shard.
pub struct AsofJoin {
    left_keys: Vec<Expr>,
    right_keys: Vec<Expr>,
    outer: bool,
    /// Per right column, whether anything after the join reads it.
    read: Vec<bool>,
    left_time: usize,
    right_time: usize,
    left_lateness: i64,
    right_lateness: i64,
    index: GroupTable,
    history: Vec<VecDeque<(i64, u32)>>,
    store: Vec<Column>,
    stored: usize,
    live: usize,
    /// Left rows waiting for the watermarks, and their times.
    waiting: Batch,
    waiting_times: Vec<i64>,
    left_watermark: i64,
    right_watermark: i64,
    /// Left rows at or before this time have been released.
    released: i64,
    slots: Vec<u32>,
}

/// The times of a time column, `None` where NULL.
fn time_at(column: &Column, row: usize) -> Option<i64> {
    match &column.data {
        ColumnData::Int64(v) | ColumnData::Timestamp(v) if column.is_valid(row) => Some(v[row]),
        _ => None,
    }
}

impl AsofJoin {
    /// An empty join of `left` rows with `right` rows; the lateness each
    /// input allows behind its watermark; `read` says which right columns
    /// anything after the join reads.
    pub fn new(
        join: &JoinPlan,
        left: &Schema,
        right: &Schema,
        lateness: (i64, i64),
        read: Vec<bool>,
    ) -> AsofJoin {
        let (left_lateness, right_lateness) = lateness;
        let key_types: Vec<_> = join.right_keys.iter().map(Expr::data_type).collect();
        AsofJoin {
            left_keys: join.left_keys.clone(),
            right_keys: join.right_keys.clone(),
            outer: join.outer,
            read,
            left_time: join.left_time.expect("an ASOF plan has a left time"),
            right_time: join.right_time.expect("an ASOF plan has a right time"),
            left_lateness,
            right_lateness,
            index: GroupTable::new(&key_types, 1024),
            history: Vec::new(),
            store: right
                .fields
                .iter()
                .map(|f| Column::with_capacity(f.data_type, 1024))
                .collect(),
            stored: 0,
            live: 0,
            waiting: Batch::with_capacity(left, 0),
            waiting_times: Vec::new(),
            left_watermark: i64::MIN,
            right_watermark: i64::MIN,
            released: i64::MIN,
            slots: Vec::new(),
        }
    }

    /// Left rows waiting for the watermarks.
    pub fn waiting(&self) -> usize {
        self.waiting.len
    }

    /// Right rows held.
    pub fn held(&self) -> usize {
        self.live
    }

    /// The oldest time a left row may still be matched at: nothing waiting
    /// or still to come is older.
    fn horizon(&self) -> i64 {
        self.released
            .min(self.left_watermark.saturating_sub(self.left_lateness))
    }

    /// Takes a batch of right rows; returns how many were late (behind the
    /// right watermark by more than its lateness, or without a time).
    pub fn right(&mut self, batch: &Batch) -> u64 {
        let cutoff = self.right_watermark.saturating_sub(self.right_lateness);
        let times = &batch.columns[self.right_time];
        let mut kept = Vec::with_capacity(batch.len);
        for row in 0..batch.len {
            if time_at(times, row).is_some_and(|t| t >= cutoff) {
                kept.push(row as u32);
            }
        }
        let late = (batch.len - kept.len()) as u64;
        let mut slots = std::mem::take(&mut self.slots);
        {
            let keys = key_columns(&self.right_keys, batch);
            let refs: Vec<&Column> = keys.iter().map(|c| c.as_ref()).collect();
            self.index.find_or_insert(&refs, batch.len, &mut slots);
            unmatch_null_keys(&keys, &mut slots);
        }
        self.history.resize_with(self.index.len(), VecDeque::new);
        for (store, column) in self.store.iter_mut().zip(&batch.columns) {
            store.extend_from_rows(column, &kept);
        }
        let horizon = self.horizon();
        for (i, &row) in kept.iter().enumerate() {
            let slot = slots[row as usize];
            let Some(t) = time_at(times, row as usize) else {
                continue;
            };
            if slot == ABSENT {
                continue;
            }
            let h = &mut self.history[slot as usize];
            let mut at = h.len();
            while at > 0 && h[at - 1].0 > t {
                at -= 1;
            }
            h.insert(at, (t, (self.stored + i) as u32));
            self.live += 1;
            while h.len() >= 2 && h[1].0 <= horizon {
                h.pop_front();
                self.live -= 1;
            }
        }
        self.stored += kept.len();
        self.slots = slots;
        if self.stored > 2 * self.live + COMPACT_SLACK {
            self.compact();
        }
        late
    }

    /// Takes a batch of left rows: they wait for the watermarks. Returns how
    /// many were late (behind the left watermark by more than its lateness,
    /// or without a time).
    pub fn left(&mut self, batch: &Batch) -> u64 {
        let cutoff = self.left_watermark.saturating_sub(self.left_lateness);
        let times = &batch.columns[self.left_time];
        let mut kept = Vec::with_capacity(batch.len);
        for row in 0..batch.len {
            if let Some(t) = time_at(times, row).filter(|&t| t >= cutoff) {
                kept.push(row as u32);
                self.waiting_times.push(t);
            }
        }
        if self.waiting.columns.len() != batch.columns.len() {
            self.waiting = Batch::new(
                batch
                    .columns
                    .iter()
                    .map(|c| Column::new(c.data_type()))
                    .collect(),
                0,
            );
        }
        self.waiting.extend_from_rows(batch, &kept);
        (batch.len - kept.len()) as u64
    }

    /// Each input's watermark (neither moves back; an ended input's is
    /// `i64::MAX`): what is late on each side from now on.
    pub fn set_watermarks(&mut self, left: i64, right: i64) {
        self.left_watermark = self.left_watermark.max(left);
        self.right_watermark = self.right_watermark.max(right);
    }

    /// End of input: every waiting row, joined.
    pub fn finish(&mut self) -> Option<(Batch, usize)> {
        self.release(i64::MAX)
    }

    /// The waiting left rows at or before `until`, joined, and how many an
    /// inner join removed for want of a match. `until` is where both
    /// watermarks are (or, with an input idle, where the other is).
    pub fn release(&mut self, until: i64) -> Option<(Batch, usize)> {
        if until <= self.released && !self.waiting_times.iter().any(|&t| t <= until) {
            return None;
        }
        self.released = self.released.max(until);
        let mut due: Vec<u32> = (0..self.waiting_times.len() as u32)
            .filter(|&r| self.waiting_times[r as usize] <= until)
            .collect();
        if due.is_empty() {
            return None;
        }
        // Time order, ties in arrival order (the sort is stable).
        due.sort_by_key(|&r| self.waiting_times[r as usize]);
        let batch = self.waiting.gather(&due);
        let times: Vec<i64> = due
            .iter()
            .map(|&r| self.waiting_times[r as usize])
            .collect();
        let mut stay: Vec<bool> = vec![true; self.waiting_times.len()];
        for &r in &due {
            stay[r as usize] = false;
        }
        let keep: Vec<u32> = (0..stay.len() as u32)
            .filter(|&r| stay[r as usize])
            .collect();
        self.waiting.retain_rows(&keep);
        self.waiting_times = keep
            .iter()
            .map(|&r| self.waiting_times[r as usize])
            .collect();
        Some(self.probe(batch, &times))
    }

    /// Joins released left rows (their times in `times`).
    fn probe(&mut self, mut batch: Batch, times: &[i64]) -> (Batch, usize) {
        let mut matches = std::mem::take(&mut self.slots);
        {
            let keys = key_columns(&self.left_keys, &batch);
            let refs: Vec<&Column> = keys.iter().map(|c| c.as_ref()).collect();
            self.index.find(&refs, batch.len, &mut matches);
            unmatch_null_keys(&keys, &mut matches);
        }
        for (m, &t) in matches.iter_mut().zip(times) {
            if *m == ABSENT {
                continue;
            }
            let h = &self.history[*m as usize];
            // The newest entry at or before t.
            let at = h.partition_point(|&(time, _)| time <= t);
            *m = if at == 0 { ABSENT } else { h[at - 1].1 };
        }
        let removed = if self.outer {
            0
        } else {
            keep_matched(&mut batch, &mut matches)
        };
        let out = joined(batch, &self.store, &matches, &self.read);
        self.slots = matches;
        (out, removed)
    }

    /// Keeps only the store rows some key still holds.
    fn compact(&mut self) {
        let mut live = Vec::with_capacity(self.live);
        for h in &mut self.history {
            for entry in h.iter_mut() {
                live.push(entry.1);
                entry.1 = (live.len() - 1) as u32;
            }
        }
        self.store = self.store.iter().map(|c| c.gather(&live)).collect();
        self.stored = live.len();
    }
}
