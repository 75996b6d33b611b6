//! An open-addressing index from packed two-word keys to group ids.
//!
//! The group table's fast path (see [`group_table`](super::group_table)):
//! keys are two `u64`s compared as integers, so a probe is one multiply hash,
//! one load of a slot holding the key and its id, and two integer compares,
//! with no tag bytes or second load. Linear probing over a power-of-two slot
//! array kept at most half full, so a probe usually ends at its first slot.
//!
//! # Invariants
//! `slots.len()` is a power of two (or 0) and at least twice `len`; a slot is
//! empty exactly when its id is `EMPTY`; each key is in at most one slot, and
//! every key lies in the probe run that starts at its hash's home slot.

/// A key packed into two words (see the group table).
pub type PackedKey = [u64; 2];

/// The id of an empty slot.
const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Slot {
    key: PackedKey,
    id: u32,
}

const VACANT: Slot = Slot {
    key: [0; 2],
    id: EMPTY,
};

/// Packed keys to ids `0..u32::MAX - 1`, with no deletion.
pub struct PackedIndex {
    slots: Vec<Slot>,
    /// `slots.len() - 1`.
    mask: usize,
    len: usize,
}

impl PackedIndex {
    /// An index with room for `capacity` keys before it grows.
    pub fn with_capacity(capacity: usize) -> PackedIndex {
        let n = (capacity.max(8) * 2).next_power_of_two();
        PackedIndex {
            slots: vec![VACANT; n],
            mask: n - 1,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The id of `key`, if present.
    #[inline(always)]
    pub fn get(&self, key: &PackedKey) -> Option<u32> {
        let mut i = home(key, self.mask);
        loop {
            let slot = &self.slots[i];
            if slot.id == EMPTY {
                return None;
            }
            if slot.key == *key {
                return Some(slot.id);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Adds `key` with `id`; `key` must not be present, and `id` not `EMPTY`.
    pub fn insert(&mut self, key: PackedKey, id: u32) {
        debug_assert!(id != EMPTY && self.get(&key).is_none());
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        self.place(Slot { key, id });
        self.len += 1;
    }

    fn place(&mut self, slot: Slot) {
        let mut i = home(&slot.key, self.mask);
        while self.slots[i].id != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = slot;
    }

    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![VACANT; n]);
        self.mask = n - 1;
        for slot in old.into_iter().filter(|s| s.id != EMPTY) {
            self.place(slot);
        }
    }
}

/// The home slot of `key`: the high bits of a multiply hash, mixed so that
/// every input bit reaches them.
#[inline(always)]
fn home(key: &PackedKey, mask: usize) -> usize {
    const M: u64 = 0x9e37_79b9_7f4a_7c15;
    let h = (key[0] ^ 0x243f_6a88_85a3_08d3).wrapping_mul(M);
    let h = (h.rotate_left(29) ^ key[1]).wrapping_mul(M);
    ((h ^ (h >> 29)) >> 32) as usize & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_inserted_across_growth() {
        let mut index = PackedIndex::with_capacity(1);
        let key = |i: u64| [i.wrapping_mul(0x1234_5678_9abc_def1), i >> 3];
        for i in 0..5_000u64 {
            assert_eq!(index.get(&key(i)), None);
            index.insert(key(i), i as u32);
        }
        assert_eq!(index.len(), 5_000);
        for i in 0..5_000u64 {
            assert_eq!(index.get(&key(i)), Some(i as u32));
        }
        assert_eq!(index.get(&[1, 1 << 60]), None);
    }
}
