//! Windowed aggregation: tumbling, hopping and session windows over event time.
//!
//! Each (key, window) pair owns a slot; accumulators are indexed by slot. A
//! window closes when the watermark reaches its end plus the allowed lateness:
//! under `EMIT FINAL` it then emits its one row, and in every mode its slot is
//! freed for reuse, so state is bounded by the windows open at once.
//!
//! Per row, the usual cases take no hashing and no search. A tumbling or
//! hopping row reuses the slots of its key's previous row when it falls in
//! the same span of time (`RecentWindows`). A session row at or after its
//! key's latest session joins it or opens the next one (`KeySessions`). A
//! session that grows keeps its place in the closing queue until it comes
//! due, and windows that open and close between two watermarks never enter
//! the queue's heap (see `WindowAggregate::closing`).
//!
//! # Invariants
//! - A row older than `watermark - allowed_lateness` is late: it is counted and
//!   never folded into a window. Hence no row reaches a closed window, and a
//!   window's FINAL row is emitted exactly once.
//! - A row whose windows cannot be represented (a start or an end outside the
//!   BIGINT range of milliseconds, for event times near its ends) is counted
//!   as late too: no window that could hold it can ever close. Every row that
//!   is folded lies in [`representable_times`], so the window arithmetic
//!   (`start`, `end`, a session's `t + gap`) never overflows.
//! - The watermark never moves backwards (`advance` ignores older values).

mod checkpoint;
mod sessions;
pub use checkpoint::WindowState;
use sessions::KeySessions;

use super::accumulator::Accumulator;
use super::group_table::GroupTable;
use super::hash_agg::{accumulators, arg_sets, having_and_project, key_table, update_by_argument};
use super::recent_windows::{windows_per_row, RecentWindows};
use crate::data::column::ColumnData;
use crate::data::{Batch, Column};
use crate::sql::plan::{AggregatePlan, WindowKind, WindowSpec};
use crate::sql::EmitMode;
use hashbrown::HashTable;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One shard's windowed GROUP BY.
pub struct WindowAggregate {
    plan: AggregatePlan,
    spec: WindowSpec,
    emit: EmitMode,
    allowed_lateness: i64,
    keys: GroupTable,
    /// (key id, window start) -> slot.
    slots: HashTable<u32>,
    slot_key: Vec<u32>,
    slot_start: Vec<i64>,
    slot_end: Vec<i64>,
    slot_live: Vec<bool>,
    free: Vec<u32>,
    /// Open windows by the end they were queued under, to close them as the
    /// watermark passes. Each open slot has one current entry, here or in
    /// `opened`. An entry is current while its generation is the slot's
    /// (freeing a slot makes its entry stale); its end is the slot's end when
    /// it was queued, so at most its end now (a session's end grows as rows
    /// join it; [`close_until`](Self::close_until) requeues it when it comes
    /// due).
    closing: BinaryHeap<Reverse<Queued>>,
    /// Entries of the slots opened since the last
    /// [`close_until`](Self::close_until), which moves them to `closing`
    /// unless they close at once.
    opened: Vec<Queued>,
    /// Per slot, bumped each time it is freed.
    slot_generation: Vec<u64>,
    /// Tumbling and hopping windows: the windows of each key's last row.
    recent: RecentWindows,
    /// Session windows: the open sessions of each key id.
    sessions: Vec<KeySessions>,
    /// Session windows: counts calls of [`close_until`](Self::close_until)
    /// that close sessions (see [`KeySessions::swept`]).
    sweep: u64,
    accumulators: Vec<Accumulator>,
    /// The aggregates by argument, for `EMIT FINAL` ([`arg_sets`]).
    arg_sets: Vec<SmallVec<[usize; 4]>>,
    /// Per aggregate, the buffer its computed DOUBLE argument reuses.
    arg_buffers: Vec<Vec<f64>>,
    /// Slots the accumulators are sized for (at most `slot_key.len()`).
    accumulator_slots: usize,
    watermark: i64,
    /// The event times whose windows are representable
    /// ([`representable_times`]); rows outside are counted as late.
    times_from: i64,
    times_to: i64,
    /// Keep late rows for a side output (else they are only counted).
    keep_late: bool,
    /// Late rows kept since the last [`take_late`](Self::take_late).
    late_rows: Option<Batch>,
    // Per-batch scratch, kept to avoid allocating per batch.
    /// Rows of the batch that are not late (only when some are).
    kept: Vec<u32>,
    /// Slots whose windows the watermark closes, in (end, slot) order.
    closed: Vec<u32>,
    /// The same as (end, slot) pairs, before they are put in order.
    due: Vec<(i64, u32)>,
    /// Scratch of [`in_order`].
    sort_keys: Vec<u64>,
    key_ids: Vec<u32>,
    /// Input row of each `row_slots` entry, when rows have several windows
    /// (else row `i` is entry `i`).
    rows: Vec<u32>,
    row_slots: Vec<u32>,
    /// Sessions merged away in this batch: (from, into).
    merged: Vec<(u32, u32)>,
    /// Open sessions a row bridges (merge path only).
    overlapping: Vec<u32>,
    selection: Vec<u32>,
}

fn slot_hash(key: u32, start: i64) -> u64 {
    let h = (key as u64) ^ (start as u64).rotate_left(32);
    h.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (h >> 29)
}

impl WindowAggregate {
    /// A windowed aggregation; with `keep_late` it keeps late rows for
    /// [`take_late`](Self::take_late).
    pub fn new(
        plan: AggregatePlan,
        emit: EmitMode,
        allowed_lateness: i64,
        keep_late: bool,
    ) -> WindowAggregate {
        let spec = plan.window.expect("a windowed plan");
        let (times_from, times_to) = representable_times(spec.kind);
        WindowAggregate {
            times_from,
            times_to,
            keep_late,
            late_rows: None,
            keys: key_table(&plan),
            accumulators: accumulators(&plan),
            arg_sets: arg_sets(&plan),
            arg_buffers: vec![Vec::new(); plan.aggs.len()],
            accumulator_slots: 0,
            plan,
            spec,
            emit,
            allowed_lateness,
            slots: HashTable::with_capacity(1024),
            slot_key: Vec::new(),
            slot_start: Vec::new(),
            slot_end: Vec::new(),
            slot_live: Vec::new(),
            free: Vec::new(),
            closing: BinaryHeap::new(),
            slot_generation: Vec::new(),
            recent: RecentWindows::new(windows_per_row(spec.kind)),
            sessions: Vec::new(),
            sweep: 0,
            watermark: i64::MIN,
            kept: Vec::new(),
            closed: Vec::new(),
            due: Vec::new(),
            sort_keys: Vec::new(),
            opened: Vec::new(),
            key_ids: Vec::new(),
            rows: Vec::new(),
            row_slots: Vec::new(),
            merged: Vec::new(),
            overlapping: Vec::new(),
            selection: Vec::new(),
        }
    }

    /// The late rows seen since the last call, unchanged (input columns).
    pub fn take_late(&mut self) -> Option<Batch> {
        self.late_rows.take()
    }

    /// Windows currently open (state held).
    pub fn open_windows(&self) -> usize {
        self.slot_key.len() - self.free.len()
    }

    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Whether rows are placed in windows by processing time (the `now` of
    /// [`process`](Self::process)) rather than by a time column.
    pub fn processing_time(&self) -> bool {
        self.spec.time_column.is_none()
    }

    /// Event times of `batch`: its time column, or `now` for processing time.
    fn times<'a>(&self, batch: &'a Batch, now: i64) -> Cow<'a, [i64]> {
        match self.spec.time_column.map(|c| &batch.columns[c].data) {
            Some(ColumnData::Int64(v) | ColumnData::Timestamp(v)) => Cow::Borrowed(v),
            _ => Cow::Owned(vec![now; batch.len]),
        }
    }

    /// Folds `batch` into its windows. Returns the rows to emit now (CHANGES)
    /// and the number of late rows, which are dropped.
    pub fn process(&mut self, batch: &Batch, now: i64) -> (Option<Batch>, u64) {
        let times = self.times(batch, now);
        let time_valid = |i: usize| {
            self.spec
                .time_column
                .is_none_or(|c| batch.columns[c].is_valid(i))
        };
        let cutoff = self
            .watermark
            .saturating_sub(self.allowed_lateness)
            .max(self.times_from);
        let times_to = self.times_to;
        let is_late = |i: usize| !time_valid(i) || times[i] < cutoff || times[i] > times_to;
        let may_have_nulls = self
            .spec
            .time_column
            .is_some_and(|c| batch.columns[c].validity.is_some());
        let late = if may_have_nulls || any_outside(&times, cutoff, times_to) {
            (0..batch.len).filter(|&i| is_late(i)).count() as u64
        } else {
            0
        };
        let mut kept = std::mem::take(&mut self.kept);
        kept.clear();
        if late > 0 {
            kept.extend((0..batch.len as u32).filter(|&i| !is_late(i as usize)));
        }
        if late > 0 && self.keep_late {
            let late_rows: Vec<u32> = (0..batch.len as u32)
                .filter(|&i| is_late(i as usize))
                .collect();
            match &mut self.late_rows {
                Some(held) => {
                    for &i in &late_rows {
                        held.push_row_from(batch, i as usize);
                    }
                }
                None => self.late_rows = Some(batch.gather(&late_rows)),
            }
        }
        if late == batch.len as u64 {
            self.kept = kept;
            return (None, late);
        }
        let input: Cow<'_, Batch> = if late == 0 {
            Cow::Borrowed(batch)
        } else {
            Cow::Owned(batch.gather(&kept))
        };
        let times: Cow<'_, [i64]> = if late == 0 {
            times
        } else {
            Cow::Owned(kept.iter().map(|&i| times[i as usize]).collect())
        };
        self.kept = kept;
        let input = input.as_ref();

        let key_cols: Vec<Cow<'_, Column>> = self.plan.keys.iter().map(|k| k.eval(input)).collect();
        let key_refs: Vec<&Column> = key_cols.iter().map(|c| c.as_ref()).collect();
        let mut key_ids = std::mem::take(&mut self.key_ids);
        self.keys.find_or_insert(&key_refs, input.len, &mut key_ids);

        let mut row_slots = std::mem::take(&mut self.row_slots);
        row_slots.clear();
        self.rows.clear();
        let changes = self.emit == EmitMode::Changes;
        // Rows in event-time order fold into each window in the same order
        // pass by pass (see `assign_fixed`), with no per-window copy of the
        // arguments; CHANGES needs a row's windows together, for its output.
        let by_window = self.recent.per_row > 1 && !changes && times.is_sorted();
        match self.spec.kind {
            WindowKind::Tumbling { size } => {
                self.assign_fixed(&key_ids, &times, size, size, by_window, &mut row_slots)
            }
            WindowKind::Hopping { size, advance } => {
                self.assign_fixed(&key_ids, &times, size, advance, by_window, &mut row_slots)
            }
            WindowKind::Session { gap } => {
                self.assign_sessions(&key_ids, &times, gap, &mut row_slots)
            }
        }
        self.row_slots = row_slots;
        self.key_ids = key_ids;

        self.cover_slots(self.slot_key.len());
        // Else `rows` names each entry's input row.
        let one_to_one = by_window || (self.row_slots.len() == input.len && self.rows.is_empty());
        if !changes && !by_window && one_to_one {
            update_by_argument(
                &self.plan,
                &self.arg_sets,
                &mut self.accumulators,
                &mut self.arg_buffers,
                input,
                &self.row_slots,
                self.accumulator_slots,
            );
            return (None, late);
        }
        let mut snapshots = Vec::new();
        for (acc, call) in self.accumulators.iter_mut().zip(&self.plan.aggs) {
            let arg = call.arg.as_ref().map(|e| e.eval(input));
            let arg: Option<Cow<'_, Column>> = match arg {
                Some(a) if !one_to_one => Some(Cow::Owned(a.gather(&self.rows))),
                other => other,
            };
            let order: Option<Cow<'_, Column>> = match call.order.as_ref().map(|e| e.eval(input)) {
                Some(o) if !one_to_one => Some(Cow::Owned(o.gather(&self.rows))),
                other => other,
            };
            if changes {
                let mut snapshot = Column::with_capacity(call.output_type, self.row_slots.len());
                acc.update(
                    &self.row_slots,
                    arg.as_deref(),
                    order.as_deref(),
                    Some(&mut snapshot),
                );
                snapshots.push(snapshot);
            } else if by_window {
                // Each row's newest window first: see `assign_fixed`.
                for pass in self.row_slots.chunks(input.len).rev() {
                    acc.update(pass, arg.as_deref(), order.as_deref(), None);
                }
            } else {
                acc.update(&self.row_slots, arg.as_deref(), order.as_deref(), None);
            }
        }
        if !changes {
            return (None, late);
        }
        let mut columns: Vec<Column> = if one_to_one {
            key_refs.iter().map(|&c| c.clone()).collect()
        } else {
            key_refs.iter().map(|c| c.gather(&self.rows)).collect()
        };
        columns.push(self.bounds(&self.row_slots, true));
        columns.push(self.bounds(&self.row_slots, false));
        columns.extend(snapshots);
        let grouped = Batch {
            columns,
            len: self.row_slots.len(),
            ingest_time: batch.ingest_time,
        };
        (Some(self.finish_rows(grouped)), late)
    }

    /// Window starts (or ends) of `slots`, as a TIMESTAMP column.
    fn bounds(&self, slots: &[u32], start: bool) -> Column {
        let src = if start {
            &self.slot_start
        } else {
            &self.slot_end
        };
        Column::from_data(ColumnData::Timestamp(
            slots.iter().map(|&s| src[s as usize]).collect(),
        ))
    }

    /// Tumbling and hopping windows: appends the slots of each row's windows
    /// (oldest first) to `row_slots`, and, when a row has several, its row
    /// number to `rows` for each. A key's rows within `advance` of each other
    /// share their windows, so only a key's first row in a new span is looked
    /// up (the division and the hash probes); the rest reuse its slots.
    ///
    /// With `by_window`, `row_slots` holds one pass per window of a row
    /// instead, oldest window first: pass `j` has every row's `j`-th window,
    /// in row order, and `rows` stays empty. For rows in event-time order,
    /// folding the passes newest first folds each window's rows in row order,
    /// exactly as row by row: a window is an older one of later rows.
    fn assign_fixed(
        &mut self,
        key_ids: &[u32],
        times: &[i64],
        size: i64,
        advance: i64,
        by_window: bool,
        row_slots: &mut Vec<u32>,
    ) {
        self.recent.reserve(self.keys.len());
        let per_row = self.recent.per_row;
        if per_row == 1 {
            // Runs of rows whose windows are remembered, each read through
            // one borrow of the spans (kept in registers, the loop calls
            // nothing); a row that is not remembered ends the run and is
            // looked up, which may change the spans.
            let n = key_ids.len();
            let start = row_slots.len();
            row_slots.resize(start + n, 0);
            let out = &mut row_slots[start..];
            let mut row = 0;
            while row < n {
                row += self
                    .recent
                    .get_run(&key_ids[row..], &times[row..], &mut out[row..]);
                if row < n {
                    out[row] = self.lookup_windows(key_ids[row], times[row], size, advance)[0];
                    row += 1;
                }
            }
            return;
        }
        if by_window {
            let n = key_ids.len();
            row_slots.resize(n * per_row, 0);
            for (row, (&key, &t)) in key_ids.iter().zip(times).enumerate() {
                let slots = match self.recent.get(key, t) {
                    Some(slots) => slots,
                    None => self.lookup_windows(key, t, size, advance),
                };
                for (j, &slot) in slots.iter().enumerate() {
                    row_slots[j * n + row] = slot;
                }
            }
            return;
        }
        for (row, (&key, &t)) in key_ids.iter().zip(times).enumerate() {
            let slots = match self.recent.get(key, t) {
                Some(slots) => slots,
                None => self.lookup_windows(key, t, size, advance),
            };
            row_slots.extend_from_slice(slots);
            self.rows.extend(std::iter::repeat_n(row as u32, per_row));
        }
    }

    /// The slots (created if new) of the windows of `key` holding time `t`,
    /// oldest first, remembered in `recent` for the key's next rows. `t` is
    /// in [`representable_times`] (`process` counts other rows as late), so
    /// no start or end overflows.
    #[cold]
    fn lookup_windows(&mut self, key: u32, t: i64, size: i64, advance: i64) -> &[u32] {
        debug_assert!((self.times_from..=self.times_to).contains(&t));
        let last = t.div_euclid(advance) * advance;
        // `size >= advance`: subtracting their difference stays in range.
        let mut start = last - (size - advance);
        let mut i = 0;
        while start <= last {
            let slot = self.slot(key, start, start + size);
            self.recent.set_slot(key, i, slot);
            start += advance;
            i += 1;
        }
        debug_assert_eq!(i, self.recent.per_row);
        self.recent
            .set_span(key, last, last.saturating_add(advance));
        self.recent.slots(key)
    }

    /// The slot of window `[start, end)` of `key`, created if new.
    fn slot(&mut self, key: u32, start: i64, end: i64) -> u32 {
        let h = slot_hash(key, start);
        let (slot_key, slot_start) = (&self.slot_key, &self.slot_start);
        if let Some(&s) = self.slots.find(h, |&s| {
            slot_key[s as usize] == key && slot_start[s as usize] == start
        }) {
            return s;
        }
        let s = self.allocate(key, start, end);
        let (slot_key, slot_start) = (&self.slot_key, &self.slot_start);
        self.slots.insert_unique(h, s, |&s| {
            slot_hash(slot_key[s as usize], slot_start[s as usize])
        });
        s
    }

    /// Sizes the accumulators for every slot, if they hold fewer than `slots`.
    #[inline]
    fn cover_slots(&mut self, slots: usize) {
        if slots > self.accumulator_slots {
            self.accumulator_slots = self.slot_key.len();
            for acc in &mut self.accumulators {
                acc.resize(self.accumulator_slots);
            }
        }
    }

    fn allocate(&mut self, key: u32, start: i64, end: i64) -> u32 {
        let s = match self.free.pop() {
            Some(s) => {
                let i = s as usize;
                self.slot_key[i] = key;
                self.slot_start[i] = start;
                self.slot_end[i] = end;
                self.slot_live[i] = true;
                self.cover_slots(i + 1);
                for acc in &mut self.accumulators {
                    acc.reset(i);
                }
                s
            }
            None => {
                self.slot_key.push(key);
                self.slot_start.push(start);
                self.slot_end.push(end);
                self.slot_generation.push(0);
                self.slot_live.push(true);
                (self.slot_key.len() - 1) as u32
            }
        };
        self.queue(s);
        s
    }

    /// Queues slot `s`, just opened, to close when the watermark reaches its
    /// end.
    fn queue(&mut self, s: u32) {
        let generation = self.slot_generation[s as usize];
        self.opened.push(Queued {
            end: self.slot_end[s as usize],
            slot: s,
            generation,
        });
    }

    /// Frees a slot for reuse (its window is closed or merged away).
    fn release(&mut self, s: u32) {
        let i = s as usize;
        if !self.slot_live[i] {
            return;
        }
        self.slot_live[i] = false;
        self.slot_generation[i] = self.slot_generation[i].wrapping_add(1);
        if !matches!(self.spec.kind, WindowKind::Session { .. }) {
            self.recent.forget(self.slot_key[i], s);
            let h = slot_hash(self.slot_key[i], self.slot_start[i]);
            if let Ok(e) = self.slots.find_entry(h, |&x| x == s) {
                e.remove();
            }
        }
        self.free.push(s);
    }

    /// Moves the watermark to `watermark` (if later) and closes every window
    /// whose end + allowed lateness it has reached. Returns their FINAL rows.
    pub fn advance(&mut self, watermark: i64) -> Option<Batch> {
        if watermark <= self.watermark {
            return None;
        }
        self.watermark = watermark;
        self.close_until(watermark.saturating_sub(self.allowed_lateness))
    }

    /// End of input: closes every open window.
    pub fn finish(&mut self) -> Option<Batch> {
        self.close_until(i64::MAX)
    }

    /// Closes every window whose end is at most `end_limit`, in (end, slot)
    /// order. Returns their FINAL rows.
    fn close_until(&mut self, end_limit: i64) -> Option<Batch> {
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        // Windows opened since the last call: most close now (sessions that
        // ended, windows that a batch spans), without going through the heap.
        let mut opened = std::mem::take(&mut self.opened);
        for q in opened.drain(..) {
            let s = q.slot as usize;
            if q.generation != self.slot_generation[s] {
                continue; // The slot was freed (a session merged away).
            }
            match self.slot_end[s] {
                end if end <= end_limit => due.push((end, q.slot)),
                end => self.closing.push(Reverse(Queued { end, ..q })),
            }
        }
        self.opened = opened;
        while let Some(&Reverse(q)) = self.closing.peek() {
            if q.end > end_limit {
                break;
            }
            self.closing.pop();
            let s = q.slot as usize;
            if q.generation != self.slot_generation[s] {
                continue; // The slot was freed (a session merged away).
            }
            match self.slot_end[s] {
                // A session that grew since it was queued: queued anew.
                end if end > end_limit => self.closing.push(Reverse(Queued { end, ..q })),
                end => due.push((end, q.slot)),
            }
        }
        let mut closed = std::mem::take(&mut self.closed);
        closed.clear();
        in_order(&due, &mut self.sort_keys, &mut closed);
        self.due = due;
        if closed.is_empty() {
            self.closed = closed;
            return None;
        }
        let out = if self.emit == EmitMode::Final {
            let key_ids: Vec<u32> = closed.iter().map(|&s| self.slot_key[s as usize]).collect();
            let mut columns: Vec<Column> = self
                .keys
                .keys()
                .iter()
                .map(|k| k.gather(&key_ids))
                .collect();
            columns.push(self.bounds(&closed, true));
            columns.push(self.bounds(&closed, false));
            for (acc, call) in self.accumulators.iter().zip(&self.plan.aggs) {
                let mut c = Column::with_capacity(call.output_type, closed.len());
                for &s in &closed {
                    acc.push_result(s as usize, &mut c);
                }
                columns.push(c);
            }
            let grouped = Batch::new(columns, closed.len());
            Some(self.finish_rows(grouped))
        } else {
            None
        };
        for &s in &closed {
            self.release(s);
        }
        if let WindowKind::Session { .. } = self.spec.kind {
            // Each key's list of open sessions drops its closed ones in one
            // pass, at its first closed session.
            self.sweep = self.sweep.wrapping_add(1);
            for &s in &closed {
                let key = self.slot_key[s as usize];
                let sessions = &mut self.sessions[key as usize];
                if sessions.swept == self.sweep {
                    continue;
                }
                sessions.swept = self.sweep;
                let live = &self.slot_live;
                sessions.open.retain(|&x| live[x as usize]);
                if !live[sessions.latest as usize] {
                    self.find_latest(key);
                }
            }
        }
        self.closed = closed;
        out.filter(|b| !b.is_empty())
    }

    fn finish_rows(&mut self, grouped: Batch) -> Batch {
        having_and_project(&self.plan, grouped, &mut self.selection)
    }
}

/// Appends the slots of `due` (end, slot) to `closed` in (end, slot) order.
/// Sorts one word per window when the ends span less than 2^32 (the usual
/// case): faster than sorting pairs. `keys` is scratch.
fn in_order(due: &[(i64, u32)], keys: &mut Vec<u64>, closed: &mut Vec<u32>) {
    if due.is_sorted() {
        closed.extend(due.iter().map(|&(_, s)| s));
        return;
    }
    let min = due.iter().map(|&(end, _)| end).min().unwrap_or(0);
    let max = due.iter().map(|&(end, _)| end).max().unwrap_or(0);
    match u32::try_from(max.abs_diff(min)) {
        Ok(_) => {
            keys.clear();
            keys.extend(
                due.iter()
                    .map(|&(end, s)| (end.abs_diff(min) << 32) | s as u64),
            );
            keys.sort_unstable();
            closed.extend(keys.iter().map(|&k| k as u32));
        }
        Err(_) => {
            let mut sorted = due.to_vec();
            sorted.sort_unstable();
            closed.extend(sorted.iter().map(|&(_, s)| s));
        }
    }
}

/// Whether any of `times` is before `from` or after `to`: one pass without
/// branches or 64-bit compares (which SSE2 lacks), so it vectorises. `t <
/// from` is the sign of `t - from`, and `t > to` the sign of `to - t`, each
/// flipped when its subtraction overflows.
fn any_outside(times: &[i64], from: i64, to: i64) -> bool {
    let mut signs = 0i64;
    for &t in times {
        let d = t.wrapping_sub(from);
        signs |= d ^ ((t ^ from) & (t ^ d));
        let e = to.wrapping_sub(t);
        signs |= e ^ ((to ^ t) & (to ^ e));
    }
    signs < 0
}

/// The event times whose windows under `kind` all have a start and an end
/// that an `i64` holds, as an inclusive range `(from, to)` (empty, `from >
/// to`, for a window longer than the range itself).
///
/// A tumbling or hopping row at `t` is in the windows starting at `last -
/// size + advance ..= last` (step `advance`), `last` the multiple of
/// `advance` at or below `t`; the oldest start must be at least `i64::MIN`
/// and the newest end, `last + size`, at most `i64::MAX`. A session row at
/// `t` spans `[t, t + gap)`.
pub fn representable_times(kind: WindowKind) -> (i64, i64) {
    let (min, max) = (i128::from(i64::MIN), i128::from(i64::MAX));
    let clamp = |v: i128| v.clamp(min, max) as i64;
    match kind {
        WindowKind::Tumbling { size } => fixed_times(size.into(), size.into(), min, max, clamp),
        WindowKind::Hopping { size, advance } => {
            fixed_times(size.into(), advance.into(), min, max, clamp)
        }
        WindowKind::Session { gap } => (i64::MIN, clamp(max - i128::from(gap.max(0)))),
    }
}

fn fixed_times(
    size: i128,
    advance: i128,
    min: i128,
    max: i128,
    clamp: impl Fn(i128) -> i64,
) -> (i64, i64) {
    let advance = advance.max(1);
    // The smallest `last` whose oldest window starts at or after `min`, and
    // the largest whose newest window ends at or before `max`.
    // ceil(x / a) is -floor(-x / a).
    let lowest_last = -(advance - size - min).div_euclid(advance) * advance;
    let highest_last = (max - size).div_euclid(advance) * advance;
    (clamp(lowest_last), clamp(highest_last + advance - 1))
}

/// An entry of [`WindowAggregate::closing`]: ordered by end, then slot, so
/// windows that close together come out in slot order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    end: i64,
    slot: u32,
    generation: u64,
}

#[cfg(test)]
mod tests;
