//! Session windows: each key's open sessions ([`KeySessions`]), the session a
//! row joins, and the merging of the sessions a row bridges.

use super::WindowAggregate;

impl WindowAggregate {
    /// Session windows: appends the session slot of each row to `row_slots`,
    /// merging sessions that a row bridges.
    pub(super) fn assign_sessions(
        &mut self,
        key_ids: &[u32],
        times: &[i64],
        gap: i64,
        row_slots: &mut Vec<u32>,
    ) {
        if self.sessions.len() < self.keys.len() {
            self.sessions
                .resize_with(self.keys.len(), KeySessions::default);
        }
        let mut merged = std::mem::take(&mut self.merged);
        merged.clear();
        row_slots.extend(
            key_ids
                .iter()
                .zip(times)
                .map(|(&key, &t)| self.session_slot(key, t, gap, &mut merged)),
        );
        // Rows assigned to a session that a later row merged away go to the
        // session that absorbed it.
        if !merged.is_empty() {
            for s in row_slots.iter_mut() {
                while let Some(&(_, to)) = merged.iter().find(|(from, _)| from == s) {
                    *s = to;
                }
            }
            for &(from, _) in &merged {
                self.release(from);
            }
        }
        self.merged = merged;
    }

    /// The session of `key` that a row at `t` joins, merging the sessions it
    /// bridges. Merged-away slots are recorded in `merged` (from, into).
    ///
    /// A row at or after the start of the key's latest session (the usual
    /// case: rows in event-time order) can overlap no other session, so it
    /// joins that one or opens a new one without looking at the rest. A
    /// session that only grows keeps its place in `closing` (see
    /// [`closing`](Self::closing)): no per-row reordering.
    #[inline]
    fn session_slot(&mut self, key: u32, t: i64, gap: i64, merged: &mut Vec<(u32, u32)>) -> u32 {
        // `t <= i64::MAX - gap`: see `representable_times`.
        let (lo, hi) = (t, t + gap);
        let latest = self.sessions[key as usize].latest;
        let l = latest as usize;
        if latest == NO_SLOT || lo >= self.slot_start[l] {
            if latest != NO_SLOT && lo < self.slot_end[l] {
                self.slot_end[l] = self.slot_end[l].max(hi);
                return latest;
            }
            let s = self.allocate(key, lo, hi);
            let sessions = &mut self.sessions[key as usize];
            sessions.open.push(s);
            sessions.latest = s;
            return s;
        }
        self.join_earlier_session(key, lo, hi, merged)
    }

    /// [`session_slot`](Self::session_slot) for a row `[lo, hi)` that starts
    /// before the key's latest session: the first open session it overlaps
    /// takes it, merging any others it overlaps; else it opens a session.
    #[cold]
    fn join_earlier_session(
        &mut self,
        key: u32,
        lo: i64,
        hi: i64,
        merged: &mut Vec<(u32, u32)>,
    ) -> u32 {
        let (starts, ends) = (&self.slot_start, &self.slot_end);
        let overlaps = |s: u32| starts[s as usize] < hi && lo < ends[s as usize];
        let open = &self.sessions[key as usize].open;
        let slot = match open.iter().position(|&s| overlaps(s)) {
            None => {
                let s = self.allocate(key, lo, hi);
                self.sessions[key as usize].open.push(s);
                s
            }
            Some(first) if open[first + 1..].iter().any(|&s| overlaps(s)) => {
                self.merge_sessions(key, lo, hi, merged)
            }
            Some(first) => {
                let keep = open[first];
                let k = keep as usize;
                self.slot_start[k] = self.slot_start[k].min(lo);
                self.slot_end[k] = self.slot_end[k].max(hi);
                keep
            }
        };
        self.find_latest(key);
        slot
    }

    /// Sets `key`'s latest session anew from its open sessions.
    pub(super) fn find_latest(&mut self, key: u32) {
        let ends = &self.slot_end;
        let sessions = &mut self.sessions[key as usize];
        sessions.latest = sessions
            .open
            .iter()
            .copied()
            .max_by_key(|&s| ends[s as usize])
            .unwrap_or(NO_SLOT);
    }

    /// A row `[lo, hi)` of `key` that overlaps several open sessions: the first
    /// absorbs the others and the row. Returns the first.
    #[cold]
    fn merge_sessions(&mut self, key: u32, lo: i64, hi: i64, merged: &mut Vec<(u32, u32)>) -> u32 {
        let mut overlapping = std::mem::take(&mut self.overlapping);
        overlapping.clear();
        overlapping.extend(
            self.sessions[key as usize]
                .open
                .iter()
                .copied()
                .filter(|&s| self.slot_start[s as usize] < hi && lo < self.slot_end[s as usize]),
        );
        let (&keep, rest) = overlapping.split_first().expect("sessions to merge");
        let k = keep as usize;
        let mut start = self.slot_start[k].min(lo);
        let mut end = self.slot_end[k].max(hi);
        for &other in rest {
            let o = other as usize;
            self.cover_slots(k.max(o) + 1);
            self.accumulators.iter_mut().for_each(|a| a.merge(k, o));
            start = start.min(self.slot_start[o]);
            end = end.max(self.slot_end[o]);
            self.sessions[key as usize].open.retain(|&s| s != other);
            merged.push((other, keep));
        }
        self.slot_start[k] = start;
        self.slot_end[k] = end;
        self.overlapping = overlapping;
        keep
    }
}

/// The open sessions of one key.
///
/// # Invariants
/// The open sessions of a key are pairwise disjoint (a row that bridges two
/// merges them), so every other one ends at or before the latest one starts.
pub(super) struct KeySessions {
    /// Slots in the order the sessions opened (the first a row overlaps
    /// absorbs the others).
    pub(super) open: Vec<u32>,
    /// The open session that ends last, or `NO_SLOT` when none is open.
    pub(super) latest: u32,
    /// The [`WindowAggregate::sweep`] that last dropped closed sessions from
    /// `open`.
    pub(super) swept: u64,
}

impl Default for KeySessions {
    fn default() -> Self {
        KeySessions {
            open: Vec::new(),
            latest: NO_SLOT,
            swept: 0,
        }
    }
}

/// No slot (an empty [`KeySessions::latest`]).
const NO_SLOT: u32 = u32::MAX;
