//! The windows of each key's last row, for tumbling and hopping windows: a
//! row in the same span of time as its key's previous row goes to the same
//! windows, found with no division and no hash probe.

use crate::sql::plan::WindowKind;

/// Windows of each row under `kind`, for tumbling and hopping windows (a
/// hopping window shorter than its advance leaves gaps: rows there have none).
pub fn windows_per_row(kind: WindowKind) -> usize {
    match kind {
        WindowKind::Tumbling { .. } => 1,
        WindowKind::Hopping { size, advance } if size >= advance => {
            ((size - advance) / advance + 1) as usize
        }
        WindowKind::Hopping { .. } | WindowKind::Session { .. } => 0,
    }
}

/// Per key id, the slots of the windows its last row went to and the span of
/// event times whose rows go to those same windows: `[last, last + advance)`,
/// `last` the start of the row's newest window.
///
/// # Invariants
/// An entry names only live slots: [`forget`](Self::forget) drops a key's
/// entry when one of its slots is freed.
pub struct RecentWindows {
    /// Windows of each row (the slots each entry holds).
    pub per_row: usize,
    spans: Vec<Span>,
    /// `per_row` slots per key id, oldest window first.
    slots: Vec<u32>,
}

#[derive(Clone, Copy)]
struct Span {
    from: i64,
    to: i64,
    /// The oldest window's slot (beside the span: all a one-window row needs).
    first: u32,
}

/// The span of a key with no entry: holds no time.
const NO_SPAN: Span = Span {
    from: i64::MAX,
    to: i64::MIN,
    first: u32::MAX,
};

impl RecentWindows {
    pub fn new(per_row: usize) -> RecentWindows {
        RecentWindows {
            per_row,
            spans: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// Room for key ids `0..keys`.
    pub fn reserve(&mut self, keys: usize) {
        if self.spans.len() < keys {
            self.spans.resize(keys, NO_SPAN);
            self.slots.resize(keys * self.per_row, u32::MAX);
        }
    }

    /// The slots of `key`'s windows holding time `t`, if remembered.
    #[inline(always)]
    pub fn get(&self, key: u32, t: i64) -> Option<&[u32]> {
        let span = self.spans[key as usize];
        (span.from <= t && t < span.to).then(|| self.slots(key))
    }

    /// [`get`](Self::get), when each row has one window, for the rows
    /// (`keys[i]` at `times[i]`) until the first that is not remembered:
    /// writes their slots to `out` and returns how many. The spans are one
    /// slice for the run, so the loop reloads nothing per row.
    #[inline(always)]
    pub fn get_run(&self, keys: &[u32], times: &[i64], out: &mut [u32]) -> usize {
        debug_assert_eq!(self.per_row, 1);
        let spans = &self.spans[..];
        let mut done = 0;
        for ((&key, &t), slot) in keys.iter().zip(times).zip(out) {
            let span = spans[key as usize];
            if !(span.from <= t && t < span.to) {
                break;
            }
            *slot = span.first;
            done += 1;
        }
        done
    }

    #[inline(always)]
    pub fn slots(&self, key: u32) -> &[u32] {
        let at = key as usize * self.per_row;
        &self.slots[at..at + self.per_row]
    }

    pub fn set_slot(&mut self, key: u32, i: usize, slot: u32) {
        self.slots[key as usize * self.per_row + i] = slot;
    }

    /// Marks `key`'s slots as those of the rows at `[from, to)`.
    pub fn set_span(&mut self, key: u32, from: i64, to: i64) {
        let first = self.slots(key).first().copied().unwrap_or(u32::MAX);
        self.spans[key as usize] = Span { from, to, first };
    }

    /// Drops `key`'s entry if it names `slot`, which is being freed.
    pub fn forget(&mut self, key: u32, slot: u32) {
        if (key as usize) < self.spans.len() && self.slots(key).contains(&slot) {
            self.spans[key as usize] = NO_SPAN;
        }
    }
}
