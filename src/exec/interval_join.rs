//! The interval join: each left row meets every right row with its key and
//! a time within a bound of its own, `l.t - before <= r.t <= l.t + after`
//! (a regular join with a state time-to-live is the bound `[-ttl, +ttl]`).
//!
//! Both sides keep their rows; a row is joined with the other side's rows
//! as it arrives, so each matching pair is emitted once, by the row of the
//! pair that arrives second. A row older than its input's watermark (less
//! its lateness) is late, dropped and counted. A row is freed once no row
//! still to come can match it: a left row when the right cutoff passes
//! `l.t + after`, a right row when the left cutoff passes `r.t + before`.
//! Which pairs are emitted is then a function of the input: a pair of
//! on-time rows is never missed, whatever the arrival order. Under `LEFT`,
//! a left row that met no right row is emitted with NULLs when it is freed.
//!
//! # State
//! Per side: a columnar store of its rows, per key the store rows and their
//! times, and a queue of every held row's (time, key) earliest first, so a
//! watermark visits only the keys it frees rows of. Freed rows leave the key
//! lists at once and the store when they outnumber the live ones; keys left
//! with no rows leave the key index when they outnumber the others, so
//! neither grows with the keys an unbounded input has ever seen.

mod checkpoint;
mod expiry;
pub use checkpoint::{IntervalJoinState, SideState};

use super::group_table::GroupTable;
use super::join_rows::{gather_or_null, key_columns, unmatch_null_keys, zeros};
use super::packed_index::ABSENT;
use crate::data::column::ColumnData;
use crate::data::{Batch, Column, Schema};
use crate::exec::expr::Expr;
use crate::sql::plan::JoinPlan;
use expiry::Expiry;
use std::collections::VecDeque;

/// Freed store rows tolerated on top of the live ones before compacting.
const COMPACT_SLACK: usize = 4096;

/// Keys without rows tolerated in the key index on top of those with rows
/// before it is rebuilt.
const REKEY_SLACK: usize = 4096;

/// One side's rows.
struct Side {
    keys: Vec<Expr>,
    time: usize,
    lateness: i64,
    watermark: i64,
    index: GroupTable,
    /// Per key slot: (time, store row, matched), in arrival order.
    entries: Vec<VecDeque<(i64, u32, bool)>>,
    /// (time, key slot) of every row held, by time.
    expiry: Expiry,
    /// Key slots whose lists hold rows.
    occupied: usize,
    store: Vec<Column>,
    /// Per column, whether anything after the join reads it: only those
    /// are stored (the others stay empty and join as zeros).
    read: Vec<bool>,
    stored: usize,
    live: usize,
    /// Rows freed behind the watermark so far.
    freed: u64,
}

impl Side {
    fn new(keys: Vec<Expr>, time: usize, lateness: i64, schema: &Schema, read: Vec<bool>) -> Side {
        let types: Vec<_> = keys.iter().map(Expr::data_type).collect();
        Side {
            keys,
            time,
            lateness,
            watermark: i64::MIN,
            index: GroupTable::new(&types, 1024),
            entries: Vec::new(),
            expiry: Expiry::default(),
            occupied: 0,
            store: schema
                .fields
                .iter()
                .map(|f| Column::with_capacity(f.data_type, 1024))
                .collect(),
            read,
            stored: 0,
            freed: 0,
            live: 0,
        }
    }

    fn cutoff(&self) -> i64 {
        self.watermark.saturating_sub(self.lateness)
    }

    /// Appends the on-time rows of `batch`; returns, per row kept, its row
    /// in `batch`, its store row, its key slot (`ABSENT`: a NULL key, never
    /// matched) and its time, and the number of late rows.
    fn add(&mut self, batch: &Batch, slots: &mut Vec<u32>) -> (Vec<Kept>, u64) {
        let times = &batch.columns[self.time];
        let cutoff = self.cutoff();
        let kept: Vec<u32> = (0..batch.len as u32)
            .filter(|&r| time_at(times, r as usize).is_some_and(|t| t >= cutoff))
            .collect();
        {
            let keys = key_columns(&self.keys, batch);
            let refs: Vec<&Column> = keys.iter().map(|c| c.as_ref()).collect();
            self.index.find_or_insert(&refs, batch.len, slots);
            unmatch_null_keys(&keys, slots);
        }
        self.entries.resize_with(self.index.len(), VecDeque::new);
        for ((store, column), _) in (self.store.iter_mut().zip(&batch.columns))
            .zip(&self.read)
            .filter(|(_, &read)| read)
        {
            store.extend_from_rows(column, &kept);
        }
        let rows = kept
            .iter()
            .enumerate()
            .map(|(i, &r)| Kept {
                batch_row: r as usize,
                row: (self.stored + i) as u32,
                slot: slots[r as usize],
                time: time_at(times, r as usize).unwrap_or(i64::MIN),
            })
            .collect();
        self.stored += kept.len();
        (rows, (batch.len - kept.len()) as u64)
    }

    /// Records a row in its key's list.
    fn insert(&mut self, slot: u32, t: i64, row: u32, matched: bool) {
        if slot != ABSENT {
            let list = &mut self.entries[slot as usize];
            self.occupied += usize::from(list.is_empty());
            list.push_back((t, row, matched));
            self.expiry.push(t, slot);
            self.live += 1;
        }
    }

    /// Frees the rows with time below `limit`; returns the unmatched ones.
    /// Visits only the keys that hold such rows.
    fn free_before(&mut self, limit: i64) -> Vec<u32> {
        let mut touched = Vec::new();
        self.expiry.take_before(limit, &mut touched);
        touched.sort_unstable();
        let mut unmatched = Vec::new();
        let mut at = 0;
        while at < touched.len() {
            let slot = touched[at];
            // The queue held one entry per row: this key has `due` rows to free.
            let due = touched[at..].iter().take_while(|&&s| s == slot).count();
            at += due;
            let list = &mut self.entries[slot as usize];
            // Rows arrive nearly in time order: most due rows lead the list.
            let mut left = due;
            while left > 0 && list.front().is_some_and(|e| e.0 < limit) {
                let (_, row, matched) = list.pop_front().expect("checked by front");
                if !matched {
                    unmatched.push(row);
                }
                left -= 1;
            }
            if left > 0 {
                list.retain(|&(t, row, matched)| {
                    if t < limit && !matched {
                        unmatched.push(row);
                    }
                    t >= limit
                });
            }
            self.occupied -= usize::from(list.is_empty());
        }
        self.live -= touched.len();
        self.freed += touched.len() as u64;
        unmatched
    }

    /// Rebuilds the key index with only the keys that hold rows, once the
    /// others outnumber them.
    fn rekey_if_needed(&mut self) {
        if self.index.len() <= 2 * self.occupied + REKEY_SLACK {
            return;
        }
        let held: Vec<u32> = (0..self.entries.len() as u32)
            .filter(|&s| !self.entries[s as usize].is_empty())
            .collect();
        let keys: Vec<Column> = self.index.keys().iter().map(|c| c.gather(&held)).collect();
        let types: Vec<_> = self.keys.iter().map(Expr::data_type).collect();
        let mut index = GroupTable::new(&types, held.len().max(1024));
        let refs: Vec<&Column> = keys.iter().collect();
        let mut slots = Vec::new();
        index.find_or_insert(&refs, held.len(), &mut slots);
        debug_assert!(slots.iter().enumerate().all(|(i, &s)| s as usize == i));
        let mut slot_to = vec![ABSENT; self.entries.len()];
        for (to, &from) in held.iter().enumerate() {
            slot_to[from as usize] = to as u32;
        }
        self.expiry.renumber(&slot_to);
        self.entries = held
            .iter()
            .map(|&s| std::mem::take(&mut self.entries[s as usize]))
            .collect();
        self.index = index;
    }

    /// Keeps only the store rows some key still lists; `pending` rows (to
    /// be emitted) are kept too and renumbered in place. The columns keep
    /// their allocations (no fresh memory to fault in at each compaction).
    fn compact(&mut self, pending: &mut [u32]) {
        const KEPT: u32 = 0;
        let mut map = vec![ABSENT; self.stored];
        for list in &self.entries {
            list.iter().for_each(|e| map[e.1 as usize] = KEPT);
        }
        pending.iter().for_each(|&r| map[r as usize] = KEPT);
        let mut selection = Vec::with_capacity(self.live + pending.len());
        for (r, to) in map.iter_mut().enumerate() {
            if *to == KEPT {
                *to = selection.len() as u32;
                selection.push(r as u32);
            }
        }
        for list in &mut self.entries {
            list.iter_mut().for_each(|e| e.1 = map[e.1 as usize]);
        }
        pending.iter_mut().for_each(|r| *r = map[*r as usize]);
        for (c, _) in (self.store.iter_mut().zip(&self.read)).filter(|(_, &read)| read) {
            c.retain_rows(&selection);
        }
        self.stored = selection.len();
    }

    /// The stored rows `rows` of each column (`ABSENT`: NULL), zeros for a
    /// column nothing reads.
    fn gather<'a>(&'a self, rows: &'a [u32]) -> impl Iterator<Item = Column> + 'a {
        (self.store.iter().zip(&self.read)).map(move |(c, &read)| match read {
            true => gather_or_null(c, rows),
            false => zeros(c.data_type(), rows.len()),
        })
    }
}

/// A row kept by [`Side::add`].
struct Kept {
    batch_row: usize,
    row: u32,
    slot: u32,
    time: i64,
}

fn time_at(column: &Column, row: usize) -> Option<i64> {
    match &column.data {
        ColumnData::Int64(v) | ColumnData::Timestamp(v) if column.is_valid(row) => Some(v[row]),
        _ => None,
    }
}

/// The interval join's state on one shard.
pub struct IntervalJoin {
    left: Side,
    right: Side,
    /// The bound: `l.t - before <= r.t <= l.t + after`.
    before: i64,
    after: i64,
    outer: bool,
    slots: Vec<u32>,
    /// Left rows freed unmatched under `LEFT`, to emit with NULLs.
    unmatched: Vec<u32>,
}

impl IntervalJoin {
    /// `read`: per column of the joined row, whether anything after the
    /// join reads it.
    pub fn new(
        join: &JoinPlan,
        left: &Schema,
        right: &Schema,
        (left_lateness, right_lateness): (i64, i64),
        read: &[bool],
    ) -> IntervalJoin {
        let (left_read, right_read) = read.split_at(left.fields.len());
        let (before, after) = join.bound.expect("an interval plan has a bound");
        IntervalJoin {
            left: Side::new(
                join.left_keys.clone(),
                join.left_time.expect("an interval plan has a left time"),
                left_lateness,
                left,
                left_read.to_vec(),
            ),
            right: Side::new(
                join.right_keys.clone(),
                join.right_time.expect("an interval plan has a right time"),
                right_lateness,
                right,
                right_read.to_vec(),
            ),
            before,
            after,
            outer: join.outer,
            slots: Vec::new(),
            unmatched: Vec::new(),
        }
    }

    /// How far after a left row's time a right row may be and match it.
    pub fn after(&self) -> i64 {
        self.after
    }

    /// Rows held on each side.
    pub fn held(&self) -> (usize, usize) {
        (self.left.live, self.right.live)
    }

    /// Rows freed so far, both sides: no row still to come could match them.
    pub fn freed(&self) -> u64 {
        self.left.freed + self.right.freed
    }

    /// Takes a batch of port `port`'s rows (0 left, 1 right): the pairs it
    /// completes, joined, and how many of its rows were late.
    pub fn process(&mut self, port: usize, batch: &Batch) -> (Option<Batch>, u64) {
        let mut slots = std::mem::take(&mut self.slots);
        let (this, other) = match port {
            0 => (&mut self.left, &mut self.right),
            _ => (&mut self.right, &mut self.left),
        };
        let (rows, late) = this.add(batch, &mut slots);
        // The other side's slot of each row's key.
        {
            let keys = key_columns(&this.keys, batch);
            let refs: Vec<&Column> = keys.iter().map(|c| c.as_ref()).collect();
            other.index.find(&refs, batch.len, &mut slots);
        }
        let other_slots = slots;
        // (left store row, right store row) of each pair.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for Kept {
            batch_row,
            row,
            slot,
            time: t,
        } in rows
        {
            let mut matched = false;
            if slot == ABSENT && port == 0 && self.outer {
                // A NULL key matches nothing: a LEFT join keeps the row now.
                pairs.push((row, ABSENT));
            }
            if slot != ABSENT {
                let other_slot = other_slots[batch_row];
                if other_slot != ABSENT {
                    // A left row at t meets right times in [t - before, t + after];
                    // a right row at t meets left times in [t - after, t + before].
                    let (lo, hi) = match port {
                        0 => (t.saturating_sub(self.before), t.saturating_add(self.after)),
                        _ => (t.saturating_sub(self.after), t.saturating_add(self.before)),
                    };
                    for entry in &mut other.entries[other_slot as usize] {
                        if (lo..=hi).contains(&entry.0) {
                            matched = true;
                            entry.2 = true;
                            pairs.push(match port {
                                0 => (row, entry.1),
                                _ => (entry.1, row),
                            });
                        }
                    }
                }
            }
            this.insert(slot, t, row, matched);
        }
        self.slots = other_slots;
        let out = (!pairs.is_empty()).then(|| self.joined(&pairs));
        (out, late)
    }

    /// The left and right stored rows of `pairs`, as joined rows.
    fn joined(&self, pairs: &[(u32, u32)]) -> Batch {
        let (l, r): (Vec<u32>, Vec<u32>) = pairs.iter().copied().unzip();
        let columns = self.left.gather(&l).chain(self.right.gather(&r)).collect();
        Batch::new(columns, pairs.len())
    }

    /// Each input's watermark (neither moves back): rows no later row can
    /// match are freed; under `LEFT`, left rows freed unmatched are
    /// returned with NULLs.
    pub fn set_watermarks(&mut self, left: i64, right: i64) -> Option<Batch> {
        self.left.watermark = self.left.watermark.max(left);
        self.right.watermark = self.right.watermark.max(right);
        // A left row at t can still meet right rows up to t + after.
        let left_limit = self.right.cutoff().saturating_sub(self.after);
        let right_limit = self.left.cutoff().saturating_sub(self.before);
        let unmatched = self.left.free_before(left_limit);
        if self.outer {
            self.unmatched.extend(unmatched);
        }
        self.right.free_before(right_limit);
        self.compact_if_needed();
        self.take_unmatched()
    }

    /// End of input: under `LEFT`, every left row that met nothing.
    pub fn finish(&mut self) -> Option<Batch> {
        let unmatched = self.left.free_before(i64::MAX);
        if self.outer {
            self.unmatched.extend(unmatched);
        }
        self.take_unmatched()
    }

    fn take_unmatched(&mut self) -> Option<Batch> {
        if self.unmatched.is_empty() {
            return None;
        }
        let rows = std::mem::take(&mut self.unmatched);
        let pairs: Vec<(u32, u32)> = rows.into_iter().map(|l| (l, ABSENT)).collect();
        Some(self.joined(&pairs))
    }

    fn compact_if_needed(&mut self) {
        self.left.rekey_if_needed();
        self.right.rekey_if_needed();
        if self.left.stored > 2 * self.left.live + COMPACT_SLACK {
            self.left.compact(&mut self.unmatched);
        }
        if self.right.stored > 2 * self.right.live + COMPACT_SLACK {
            self.right.compact(&mut []);
        }
    }
}
