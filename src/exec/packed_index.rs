//! An open-addressing index from packed keys of a few words to group ids.
//!
//! The group table's fast path (see [`group_table`](super::group_table)):
//! keys are two (or, for longer strings, four) `u64`s compared as integers,
//! so a probe is one multiply hash, one load of a slot holding the key and
//! its id, and integer compares, with no tag bytes or second load. Linear
//! probing over a power-of-two slot array kept at most half full, so a probe
//! usually ends at its first slot. Two lookups: [`PackedIndex::id_of`] reads
//! the home slot and the next without a branch between them (at half load a
//! third of keys sit past home); [`PackedIndex::id_of_sparse`], for an index
//! at most a sixteenth full, reads the home slot and branches.
//!
//! # Invariants
//! The slot array is `n + 1` slots, `n` a power of two (16 or more) and at
//! least twice `len`: the last slot is a copy of slot 0, so that a home slot
//! and the next are always two neighbours in memory, with no wrap-around.
//! `mask` is `n - 1` and `shift` is `64 - log2(n)`; a slot is empty exactly
//! when its id is `EMPTY`; each key is in at most one of slots `0..n`, and
//! every key lies in the probe run that starts at its hash's home slot.

use std::hint::select_unpredictable;

/// A key packed into two words (see the group table).
pub type PackedKey = [u64; 2];

/// A one-string key of up to 31 bytes packed into four words.
pub type LongKey = [u64; 4];

/// The id of an empty slot.
const EMPTY: u32 = u32::MAX;

/// The id a lookup gives for a key that is not present.
pub const ABSENT: u32 = EMPTY;

#[derive(Clone, Copy)]
struct Slot<const W: usize> {
    key: [u64; W],
    id: u32,
}

impl<const W: usize> Slot<W> {
    const VACANT: Slot<W> = Slot {
        key: [0; W],
        id: EMPTY,
    };
}

/// Packed keys of `W` words to ids `0..u32::MAX - 1`, with no deletion.
pub struct PackedIndex<const W: usize = 2> {
    /// `n` slots, then a copy of slot 0.
    slots: Vec<Slot<W>>,
    /// `n - 1`.
    mask: usize,
    /// `64 - log2(n)`: a hash shifted right by it is a slot.
    shift: u32,
    len: usize,
}

impl<const W: usize> PackedIndex<W> {
    /// An index with room for `capacity` keys before it grows.
    pub fn with_capacity(capacity: usize) -> PackedIndex<W> {
        let n = (capacity.max(8) * 2).next_power_of_two();
        PackedIndex {
            slots: vec![Slot::VACANT; n + 1],
            mask: n - 1,
            shift: 64 - n.trailing_zeros(),
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
    pub fn get(&self, key: &[u64; W]) -> Option<u32> {
        Some(self.id_of(key)).filter(|&id| id != EMPTY)
    }

    /// The id of `key`, or [`ABSENT`] (`u32::MAX`).
    #[inline(always)]
    pub fn id_of(&self, key: &[u64; W]) -> u32 {
        let home = home(key, self.shift);
        // The home slot and the next one are read and compared without a
        // branch between them: a key whose home another key holds is
        // common (a third of lookups at half load), and a branch on it
        // mispredicts about as often. A vacant slot's id is `EMPTY`, so a
        // match on a vacant slot's zero key selects `EMPTY` too.
        // The next slot after the last is the copy of slot 0 at the end, so
        // no wrap; the check of `home + 1`, made first, covers `home` too.
        let b = &self.slots[home + 1];
        let a = &self.slots[home];
        let id = select_unpredictable(
            same(&a.key, key),
            a.id,
            select_unpredictable(same(&b.key, key), b.id, EMPTY),
        );
        if id != EMPTY {
            return id;
        }
        if a.id == EMPTY || b.id == EMPTY {
            return EMPTY;
        }
        self.id_from((home + 2) & self.mask, key)
    }

    /// Whether the index is at most a sixteenth full, so that nearly every
    /// key sits in its home slot and [`id_of_sparse`](Self::id_of_sparse)
    /// is the faster lookup.
    pub fn is_sparse(&self) -> bool {
        self.len * 16 <= self.mask + 1
    }

    /// [`id_of_sparse`](Self::id_of_sparse) if `SPARSE`, else
    /// [`id_of`](Self::id_of): a loop over many keys picks one before it
    /// starts.
    #[inline(always)]
    pub fn lookup<const SPARSE: bool>(&self, key: &[u64; W]) -> u32 {
        if SPARSE {
            self.id_of_sparse(key)
        } else {
            self.id_of(key)
        }
    }

    /// As [`id_of`](Self::id_of), for a sparse index
    /// ([`is_sparse`](Self::is_sparse)). Only the home slot is compared
    /// inline: a key is rarely anywhere else, so the branch on it is
    /// predicted, and the rest of the probe is out of line. (A zero key
    /// matches a vacant home slot and gets its `EMPTY` id: absent, as it
    /// should be, since no probe run starts there.)
    #[inline(always)]
    pub fn id_of_sparse(&self, key: &[u64; W]) -> u32 {
        let home = home(key, self.shift);
        let slot = &self.slots[home];
        if same(&slot.key, key) {
            return slot.id;
        }
        self.id_after(home, *key)
    }

    /// The rest of a probe whose home slot `home` did not hold `key`.
    #[cold]
    #[inline(never)]
    fn id_after(&self, home: usize, key: [u64; W]) -> u32 {
        if self.slots[home].id == EMPTY {
            return EMPTY;
        }
        self.id_from((home + 1) & self.mask, &key)
    }

    /// The id of `key` in the probe run that goes on at slot `i`.
    fn id_from(&self, mut i: usize, key: &[u64; W]) -> u32 {
        loop {
            let slot = &self.slots[i];
            if slot.id == EMPTY || same(&slot.key, key) {
                return slot.id;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Adds `key` with `id`; `key` must not be present, and `id` not `EMPTY`.
    pub fn insert(&mut self, key: [u64; W], id: u32) {
        debug_assert!(id != EMPTY && self.get(&key).is_none());
        if (self.len + 1) * 2 > self.mask + 1 {
            self.grow();
        }
        self.place(Slot { key, id });
        self.len += 1;
    }

    fn place(&mut self, slot: Slot<W>) {
        let mut i = home(&slot.key, self.shift);
        while self.slots[i].id != EMPTY {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = slot;
        if i == 0 {
            self.slots[self.mask + 1] = slot;
        }
    }

    fn grow(&mut self) {
        let n = (self.mask + 1) * 2;
        // Slot numbers are `u32`s (see `home`); 2^32 slots are 96 GiB or more.
        assert!(n as u64 <= 1 << 32, "more than 2^31 groups in one index");
        let mut old = std::mem::replace(&mut self.slots, vec![Slot::VACANT; n + 1]);
        old.pop(); // the copy of slot 0
        self.mask = n - 1;
        self.shift = 64 - n.trailing_zeros();
        for slot in old.into_iter().filter(|s| s.id != EMPTY) {
            self.place(slot);
        }
    }
}

/// Whether two keys are equal, word by word in general registers. (`==`
/// on the arrays may compare them as one vector from memory, so the key,
/// just built in registers, is stored and loaded back: the wider load
/// cannot be forwarded from the two narrower stores, and stalls.)
#[inline(always)]
fn same<const W: usize>(a: &[u64; W], b: &[u64; W]) -> bool {
    a.iter().zip(b).fold(0, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// The home slot of `key`: the top bits of a multiply hash. Each word
/// after the first is spread by its own multiply (a zero word, as a
/// one-column key's second, adds nothing). The top bits of a product depend
/// on every bit of its input, so keys that differ anywhere, even only in
/// their high bits as strided integers do, spread over the slots.
#[inline(always)]
fn home<const W: usize>(key: &[u64; W], shift: u32) -> usize {
    const M: u64 = 0x9e37_79b9_7f4a_7c15;
    const SPREAD: [u64; 3] = [
        0xc2b2_ae3d_27d4_eb4f,
        0x1656_67b1_9e37_79f9,
        0x27d4_eb2f_1656_67c5,
    ];
    const {
        assert!(
            W >= 1 && W <= 4,
            "a word to spread each word after the first"
        )
    };
    let mut x = key[0];
    for (word, m) in key[1..].iter().zip(SPREAD) {
        x ^= word.wrapping_mul(m);
    }
    // At most 2^32 slots (see `grow`), so the slot fits a `u32`, and the
    // compiler knows that a slot number plus a small count cannot overflow.
    (x.wrapping_mul(M) >> shift) as u32 as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slots a lookup of `key` reads.
    fn probes<const W: usize>(index: &PackedIndex<W>, key: &[u64; W]) -> usize {
        let mut i = home(key, index.shift);
        let mut n = 1;
        while index.slots[i].id != EMPTY && index.slots[i].key != *key {
            i = (i + 1) & index.mask;
            n += 1;
        }
        n
    }

    /// Packs a string as the group table does (bytes little-endian, length
    /// in the top byte).
    fn word(s: &str) -> u64 {
        let mut w = (s.len() as u64) << 56;
        for (i, b) in s.bytes().enumerate() {
            w |= (b as u64) << (8 * i);
        }
        w
    }

    #[test]
    fn regular_keys_spread_over_the_slots() {
        let letters = |n: usize| {
            let abc: Vec<char> = ('A'..='Z').collect();
            (0..n).map(move |i| {
                let mut s = String::from("SYMB");
                s.push(abc[i % 26]);
                s.push(abc[i / 26 % 26]);
                s.push(abc[i / 676 % 26]);
                s
            })
        };
        let sets: Vec<(&str, Vec<PackedKey>)> = vec![
            ("ints", (0..4096u64).map(|i| [i, 0]).collect()),
            ("strided ints", (0..4096u64).map(|i| [i << 20, 0]).collect()),
            (
                "times",
                (0..4096u64)
                    .map(|i| [1_700_000_000_000 + i * 1000, 0])
                    .collect(),
            ),
            (
                "7-byte strings",
                letters(4096).map(|s| [word(&s), 0]).collect(),
            ),
            (
                "string, int",
                letters(64)
                    .flat_map(|s| (0..64u64).map(move |i| [word(&s), i]))
                    .collect(),
            ),
            ("int, int", (0..4096u64).map(|i| [i / 64, i % 64]).collect()),
        ];
        for (name, keys) in sets {
            let mut index = PackedIndex::with_capacity(keys.len());
            for (id, k) in keys.iter().enumerate() {
                index.insert(*k, id as u32);
            }
            let total: usize = keys.iter().map(|k| probes(&index, k)).sum();
            let mean = total as f64 / keys.len() as f64;
            // Linear probing at half load averages 1.5 slots per hit.
            assert!(mean < 2.0, "{name}: {mean:.2} slots per lookup");
        }
    }

    #[test]
    fn sparse_and_dense_lookups_agree_at_any_load() {
        // Lookups of keys present and absent, the zero key among them, as
        // the index fills to half: from sparse to full enough that keys sit
        // past their home slots.
        let key = |i: u64| [i.wrapping_mul(0x9e37_79b9), i % 3];
        let mut index = PackedIndex::<2>::with_capacity(64);
        let mut displaced = 0;
        for n in 0..64u64 {
            for i in 0..128u64 {
                let dense = index.id_of(&key(i));
                assert_eq!(index.id_of_sparse(&key(i)), dense, "key {i} of {n}");
                assert_eq!(dense == ABSENT, i >= n, "key {i} of {n}");
            }
            assert_eq!(index.id_of_sparse(&[0, 0]), index.id_of(&[0, 0]));
            index.insert(key(n), n as u32);
            displaced = (0..=n).filter(|&i| probes(&index, &key(i)) > 1).count();
        }
        assert!(!index.is_sparse());
        assert!(displaced > 0, "some keys sit past their home slots");
    }

    #[test]
    fn a_probe_run_wraps_from_the_last_slot_to_the_first() {
        let mut index = PackedIndex::<2>::with_capacity(8);
        let homed_at = |slot: usize| {
            (0u64..)
                .map(|i| [i, 7])
                .filter(move |k| home(k, index.shift) == slot)
        };
        // Two keys whose home is the last slot, so the second sits in slot 0,
        // and a key whose home is slot 0, pushed on to slot 1.
        let last: Vec<PackedKey> = homed_at(index.mask).take(3).collect();
        let first = homed_at(0).next().expect("some key");
        index.insert(last[0], 10);
        index.insert(last[1], 11);
        index.insert(first, 12);
        assert_eq!(index.slots[0].id, 11, "the second key wrapped around");
        for (key, id) in [(last[0], 10), (last[1], 11), (first, 12), (last[2], ABSENT)] {
            assert_eq!(index.id_of(&key), id);
            assert_eq!(index.id_of_sparse(&key), id);
        }
    }

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
        // Four-word keys that differ in one word only.
        let mut index = PackedIndex::<4>::with_capacity(1);
        let key = |i: u64| {
            let mut k = [7; 4];
            k[i as usize % 4] = i;
            k
        };
        for i in 0..5_000u64 {
            assert_eq!(index.get(&key(i)), None);
            index.insert(key(i), i as u32);
        }
        for i in 0..5_000u64 {
            assert_eq!(index.get(&key(i)), Some(i as u32));
        }
    }
}
