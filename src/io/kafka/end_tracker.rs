//! `stop=end`: which partitions of a Kafka input have reached the end
//! offsets they had when the run started (see [`super::consumer`]).

use std::collections::{BTreeMap, BTreeSet};

/// Per partition, how far `stop=end` reading has got.
#[derive(Default)]
pub struct EndTracker {
    pub ends: BTreeMap<i32, i64>,
    /// Per partition, where a resumed run starts (0 if not recorded).
    pub from: BTreeMap<i32, i64>,
    pub done: BTreeSet<i32>,
}

impl EndTracker {
    /// Whether a record at `offset` of `partition` is before the end (to be
    /// handed over); marks the partition done when it reaches the end.
    pub fn take(&mut self, partition: i32, offset: i64) -> bool {
        let end = self.ends.get(&partition).copied().unwrap_or(i64::MAX);
        if offset + 1 >= end {
            self.done.insert(partition);
        }
        offset < end
    }

    /// Whether every partition in `assigned` is done (an empty assignment
    /// is not: the group has not assigned anything yet).
    pub fn all_done(&mut self, assigned: &[i32]) -> bool {
        for &p in assigned {
            // A partition with nothing left before its end is done at once.
            let from = self.from.get(&p).copied().unwrap_or(0);
            if self.ends.get(&p).is_some_and(|&e| e <= from) {
                self.done.insert(p);
            }
        }
        !assigned.is_empty() && assigned.iter().all(|p| self.done.contains(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_ends_at_its_end_offset_and_nothing_past_it_is_taken() {
        let mut t = EndTracker {
            ends: BTreeMap::from([(0, 3), (1, 0), (2, 5)]),
            from: BTreeMap::from([(2, 5)]),
            done: BTreeSet::new(),
        };
        assert!(!t.all_done(&[]));
        assert!(t.take(0, 0) && t.take(0, 1));
        assert!(!t.all_done(&[0, 1]));
        assert!(t.take(0, 2));
        assert!(!t.take(0, 3));
        assert!(t.all_done(&[0, 1]), "partition 1 is empty");
        assert!(t.all_done(&[2]), "partition 2 resumed at its end");
    }
}
