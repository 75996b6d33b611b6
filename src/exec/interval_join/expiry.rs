//! When an interval join side's rows can be freed: the (time, key slot) of
//! every row held, taken out once the time is below a limit.
//!
//! Rows mostly arrive in time order. Those go to a queue (O(1) in and out);
//! a row earlier than the queue's last goes to a heap (O(log n) for it
//! alone), so in-order input never pays for a heap.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// The held rows' (time, key slot), by time.
#[derive(Default)]
pub struct Expiry {
    /// Entries pushed in time order (each at or after the one before).
    in_order: VecDeque<(i64, u32)>,
    /// Entries that came earlier than the queue's last.
    out_of_order: BinaryHeap<Reverse<(i64, u32)>>,
}

impl Expiry {
    /// Holds an entry for a row of time `t` in key slot `slot`.
    pub fn push(&mut self, t: i64, slot: u32) {
        match self.in_order.back() {
            Some(&(last, _)) if t < last => self.out_of_order.push(Reverse((t, slot))),
            _ => self.in_order.push_back((t, slot)),
        }
    }

    /// Takes out every entry with time below `limit`, appending its key slot
    /// to `slots` (in no particular order).
    pub fn take_before(&mut self, limit: i64, slots: &mut Vec<u32>) {
        while let Some(&(t, slot)) = self.in_order.front() {
            if t >= limit {
                break;
            }
            self.in_order.pop_front();
            slots.push(slot);
        }
        while let Some(&Reverse((t, slot))) = self.out_of_order.peek() {
            if t >= limit {
                break;
            }
            self.out_of_order.pop();
            slots.push(slot);
        }
    }

    /// Renumbers every entry's key slot by `slot_to` (the key index was
    /// rebuilt), keeping their order.
    pub fn renumber(&mut self, slot_to: &[u32]) {
        self.in_order
            .iter_mut()
            .for_each(|e| e.1 = slot_to[e.1 as usize]);
        let heap = std::mem::take(&mut self.out_of_order).into_vec();
        self.out_of_order = (heap.into_iter())
            .map(|Reverse((t, slot))| Reverse((t, slot_to[slot as usize])))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_leave_once_below_the_limit_in_or_out_of_order() {
        let mut e = Expiry::default();
        for (t, slot) in [(10, 1), (20, 2), (15, 3), (30, 4), (5, 5), (30, 6)] {
            e.push(t, slot);
        }
        let mut out = Vec::new();
        e.take_before(16, &mut out);
        out.sort_unstable();
        assert_eq!(out, [1, 3, 5]);
        out.clear();
        e.take_before(30, &mut out);
        assert_eq!(out, [2]);
        out.clear();
        e.take_before(i64::MAX, &mut out);
        out.sort_unstable();
        assert_eq!(out, [4, 6]);
        let mut e = Expiry::default();
        e.push(3, 1);
        e.push(1, 2);
        e.renumber(&[9, 7, 8]);
        let mut out = Vec::new();
        e.take_before(4, &mut out);
        assert_eq!(out, [7, 8]);
    }
}
