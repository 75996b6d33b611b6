//! The group table: maps key values to dense group ids.
//!
//! Indexes over the same groups. Every group is in the general index, keyed
//! by the row hash of [`hash_rows`] and compared column by column. Keys that
//! pack into two machine words are also in a packed index, compared as two
//! integers with a multiply hash: a key of one string of at most 15 bytes
//! (station names, user ids), or of at most two columns each a BIGINT, a
//! TIMESTAMP or a string of at most 7 bytes (ticker symbols, trader ids),
//! with no NULLs. A one-string key of 16 to 31 bytes packs into four words,
//! in an index of its own. A batch without NULL keys is looked up in the
//! packed indexes row by row: no byte hashing and no string compares, which
//! is most of the cost of a GROUP BY over short strings; only its rows whose
//! keys do not pack (a longer string) take the general index.

use super::hash::{hash_row, hash_rows};
use super::packed_index::{PackedIndex, ABSENT};
use crate::data::column::ColumnData;
use crate::data::{Column, DataType};
use hashbrown::HashTable;

mod packing;
use packing::{pack_row, KeyPacking, Packed};

/// Batches looked up in the general index alone after a batch whose keys
/// mostly did not pack, before packing is tried again.
const GENERAL_BATCHES: u32 = 15;

/// Key values to dense group ids `0..len()`, in first-seen order.
///
/// # Invariants
/// Each key store column has exactly `len()` rows; row `g` holds group `g`'s
/// key. `hashes[g]` is that key's row hash. The general table holds each id
/// once; the packed indexes hold exactly the ids whose keys pack, each in
/// the index of its size.
pub struct GroupTable {
    table: HashTable<u32>,
    keys: Vec<Column>,
    hashes: Vec<u64>,
    /// `None` when the key columns' types never pack.
    packed: Option<PackedIndex>,
    /// One-string keys of 16 to 31 bytes; present with `packed` (empty
    /// unless the key is one string), so that a key `pack_row` packs always
    /// has its index.
    long: Option<PackedIndex<4>>,
    // Per-batch scratch.
    row_hashes: Vec<u64>,
    /// Rows of the current batch not found in the first pass.
    misses: Vec<u32>,
    /// Rows of the current batch whose keys are new to the table.
    new_keys: Vec<u32>,
    /// Batches still to look up in the general index without trying the
    /// packed one, after a batch whose keys mostly did not pack.
    general_batches: u32,
}

impl GroupTable {
    pub fn new(key_types: &[DataType], capacity: usize) -> GroupTable {
        let packs = key_types.len() <= 2
            && key_types
                .iter()
                .all(|t| matches!(t, DataType::Int64 | DataType::Timestamp | DataType::Utf8));
        GroupTable {
            table: HashTable::with_capacity(capacity),
            keys: key_types
                .iter()
                .map(|t| Column::with_capacity(*t, capacity))
                .collect(),
            hashes: Vec::with_capacity(capacity),
            packed: packs.then(|| PackedIndex::with_capacity(capacity)),
            long: packs.then(|| PackedIndex::with_capacity(0)),
            row_hashes: Vec::new(),
            misses: Vec::new(),
            new_keys: Vec::new(),
            general_batches: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The stored key columns: row `g` is group `g`'s key.
    pub fn keys(&self) -> &[Column] {
        &self.keys
    }

    /// The stored key columns, taking the table apart.
    pub fn into_keys(self) -> Vec<Column> {
        self.keys
    }

    /// Finds or creates the group of each of the `rows` rows of `columns`;
    /// writes its id into `groups`. Ids are given in first-seen order.
    pub fn find_or_insert(&mut self, columns: &[&Column], rows: usize, groups: &mut Vec<u32>) {
        groups.clear();
        let mut misses = std::mem::take(&mut self.misses);
        misses.clear();
        let packing = KeyPacking::of(columns).filter(|_| self.general_batches == 0);
        self.general_batches = self.general_batches.saturating_sub(1);
        match (&self.packed, packing) {
            (Some(index), Some(packing)) => {
                packing.probe(index, self.long.as_ref(), rows, groups, &mut misses);
                let unpacked = self.find_missed(columns, groups, &misses);
                if unpacked > rows / 2 {
                    // Mostly keys too long to pack: the next batches go
                    // straight to the general index, then packing is tried
                    // again.
                    self.general_batches = GENERAL_BATCHES;
                }
            }
            _ => {
                groups.resize(rows, u32::MAX);
                self.find_general(columns, rows, groups, &mut misses);
            }
        }
        self.misses = misses;
    }

    /// [`find_or_insert`](Self::find_or_insert) of the keys at `rows` of
    /// `keys` (restoring a checkpoint's state).
    pub fn find_or_insert_rows(&mut self, keys: &[Column], rows: &[u32], groups: &mut Vec<u32>) {
        let picked: Vec<Column> = keys.iter().map(|c| c.gather(rows)).collect();
        let refs: Vec<&Column> = picked.iter().collect();
        self.find_or_insert(&refs, rows.len(), groups);
    }

    /// Looks up the group of each of the `rows` rows of `columns` without
    /// creating any: writes its id, or [`ABSENT`] for a key the table does
    /// not hold, into `groups` (a join's probe).
    pub fn find(&mut self, columns: &[&Column], rows: usize, groups: &mut Vec<u32>) {
        groups.clear();
        if let (Some(index), Some(packing)) = (&self.packed, KeyPacking::of(columns)) {
            // Keys that pack are in the packed index or nowhere; the rest
            // are looked up in the general index.
            let mut misses = std::mem::take(&mut self.misses);
            misses.clear();
            packing.probe(index, self.long.as_ref(), rows, groups, &mut misses);
            for &row in &misses {
                let r = row as usize;
                if pack_row(columns, r).is_none() {
                    let h = hash_row(columns, r);
                    let keys = &self.keys;
                    let found = self
                        .table
                        .find(h, |&g| keys_equal(keys, g as usize, columns, r));
                    if let Some(&g) = found {
                        groups[r] = g;
                    }
                }
            }
            self.misses = misses;
            return;
        }
        groups.resize(rows, ABSENT);
        let mut hashes = std::mem::take(&mut self.row_hashes);
        hash_rows(columns, rows, &mut hashes);
        match KeyView::all(&self.keys, columns) {
            Some(views) => {
                for (row, &h) in hashes.iter().enumerate() {
                    let found = self
                        .table
                        .find(h, |&g| views.iter().all(|v| v.eq(g as usize, row)));
                    if let Some(&g) = found {
                        groups[row] = g;
                    }
                }
            }
            None => {
                for (row, &h) in hashes.iter().enumerate() {
                    let keys = &self.keys;
                    let found = self
                        .table
                        .find(h, |&g| keys_equal(keys, g as usize, columns, row));
                    if let Some(&g) = found {
                        groups[row] = g;
                    }
                }
            }
        }
        self.row_hashes = hashes;
    }

    /// The rows in `misses` were not found in the packed index (a new key,
    /// or one that does not pack), in row order: finds or creates their
    /// groups, so ids stay in first-seen order. Returns how many of them do
    /// not pack.
    fn find_missed(&mut self, columns: &[&Column], groups: &mut [u32], misses: &[u32]) -> usize {
        if misses.is_empty() {
            return 0;
        }
        let mut unpacked = 0;
        let mut new_keys = std::mem::take(&mut self.new_keys);
        new_keys.clear();
        // Keys that do not pack, looked up in the general index through
        // typed views (no per-row type dispatch or validity checks); what is
        // left is keys new to the table.
        let views = KeyView::all(&self.keys, columns);
        for &row in misses {
            let r = row as usize;
            if pack_row(columns, r).is_some() {
                // Not in the packed index: a new key.
                new_keys.push(row);
                continue;
            }
            unpacked += 1;
            let h = hash_row(columns, r);
            let found = views.as_ref().and_then(|views| {
                self.table
                    .find(h, |&g| views.iter().all(|v| v.eq(g as usize, r)))
            });
            match found {
                Some(&g) => groups[r] = g,
                None => new_keys.push(row),
            }
        }
        drop(views);
        // New keys in row order; one may repeat within the batch.
        for &row in &new_keys {
            let row = row as usize;
            let found = match pack_row(columns, row) {
                Some(k) => match self.get_packed(&k) {
                    Some(g) => Ok(g),
                    None => Err((hash_row(columns, row), Some(k))),
                },
                None => {
                    let h = hash_row(columns, row);
                    let keys = &self.keys;
                    match self
                        .table
                        .find(h, |&g| keys_equal(keys, g as usize, columns, row))
                    {
                        Some(&g) => Ok(g),
                        None => Err((h, None)),
                    }
                }
            };
            groups[row] = match found {
                Ok(g) => g,
                Err((h, k)) => self.insert(columns, row, h, k),
            };
        }
        self.new_keys = new_keys;
        unpacked
    }

    /// Looks rows up in the general index (hash every row, compare columns).
    fn find_general(
        &mut self,
        columns: &[&Column],
        rows: usize,
        groups: &mut [u32],
        misses: &mut Vec<u32>,
    ) {
        let mut hashes = std::mem::take(&mut self.row_hashes);
        hash_rows(columns, rows, &mut hashes);
        match KeyView::all(&self.keys, columns) {
            Some(views) => {
                for (row, &h) in hashes.iter().enumerate() {
                    match self
                        .table
                        .find(h, |&g| views.iter().all(|v| v.eq(g as usize, row)))
                    {
                        Some(&g) => groups[row] = g,
                        None => misses.push(row as u32),
                    }
                }
            }
            None => misses.extend(0..rows as u32),
        }
        for &row in misses.iter() {
            let row = row as usize;
            let h = hashes[row];
            let keys = &self.keys;
            let found = self
                .table
                .find(h, |&g| keys_equal(keys, g as usize, columns, row));
            groups[row] = match found {
                Some(&g) => g,
                None => {
                    let packed = if self.packed.is_some() {
                        pack_row(columns, row)
                    } else {
                        None
                    };
                    self.insert(columns, row, h, packed)
                }
            };
        }
        self.row_hashes = hashes;
    }

    /// The id of a packed key, from the index of its size.
    fn get_packed(&self, key: &Packed) -> Option<u32> {
        match key {
            Packed::Short(k) => self.packed.as_ref()?.get(k),
            Packed::Long(k) => self.long.as_ref()?.get(k),
        }
    }

    /// Creates the group of row `row` (its row hash `h`, its packed key if it packs).
    fn insert(&mut self, columns: &[&Column], row: usize, h: u64, packed: Option<Packed>) -> u32 {
        let id = self.hashes.len() as u32;
        for (k, c) in self.keys.iter_mut().zip(columns) {
            k.push_from(c, row);
        }
        self.hashes.push(h);
        let stored = &self.hashes;
        self.table.insert_unique(h, id, |&g| stored[g as usize]);
        match (packed, self.packed.as_mut(), self.long.as_mut()) {
            (Some(Packed::Short(k)), Some(index), _) => index.insert(k, id),
            (Some(Packed::Long(k)), _, Some(index)) => index.insert(k, id),
            _ => {}
        }
        id
    }
}

/// A stored key column beside the matching input column, both without NULLs:
/// equality without per-probe type dispatch or validity checks.
enum KeyView<'a> {
    Utf8(&'a crate::data::Utf8Column, &'a crate::data::Utf8Column),
    Int(&'a [i64], &'a [i64]),
    Float(&'a [f64], &'a [f64]),
    Bool(&'a [bool], &'a [bool]),
    Decimal(&'a [i128], &'a [i128]),
}

impl<'a> KeyView<'a> {
    /// Views of every key column, or `None` if any column may hold NULLs.
    fn all(keys: &'a [Column], columns: &[&'a Column]) -> Option<Vec<KeyView<'a>>> {
        keys.iter()
            .zip(columns)
            .map(|(k, c)| {
                if k.validity.is_some() || c.validity.is_some() {
                    return None;
                }
                Some(match (&k.data, &c.data) {
                    (ColumnData::Utf8(a), ColumnData::Utf8(b)) => KeyView::Utf8(a, b),
                    (ColumnData::Int64(a), ColumnData::Int64(b))
                    | (ColumnData::Timestamp(a), ColumnData::Timestamp(b)) => KeyView::Int(a, b),
                    (ColumnData::Float64(a), ColumnData::Float64(b)) => KeyView::Float(a, b),
                    (ColumnData::Bool(a), ColumnData::Bool(b)) => KeyView::Bool(a, b),
                    (
                        ColumnData::Decimal { values: a, .. },
                        ColumnData::Decimal { values: b, .. },
                    ) => KeyView::Decimal(a, b),
                    _ => return None,
                })
            })
            .collect()
    }

    #[inline(always)]
    fn eq(&self, g: usize, row: usize) -> bool {
        match self {
            KeyView::Utf8(a, b) => bytes_eq(a.get_bytes(g), b.get_bytes(row)),
            KeyView::Int(a, b) => a[g] == b[row],
            KeyView::Float(a, b) => float_key_eq(a[g], b[row]),
            KeyView::Bool(a, b) => a[g] == b[row],
            KeyView::Decimal(a, b) => a[g] == b[row],
        }
    }
}

/// Whether stored group `g` has the key at `row` of `columns` (NULL equals NULL,
/// as GROUP BY treats it).
#[inline]
fn keys_equal(keys: &[Column], g: usize, columns: &[&Column], row: usize) -> bool {
    keys.iter().zip(columns).all(|(k, c)| {
        let (kv, cv) = (k.is_valid(g), c.is_valid(row));
        if !kv || !cv {
            return kv == cv;
        }
        match (&k.data, &c.data) {
            (ColumnData::Utf8(a), ColumnData::Utf8(b)) => {
                bytes_eq(a.get_bytes(g), b.get_bytes(row))
            }
            (ColumnData::Int64(a), ColumnData::Int64(b))
            | (ColumnData::Timestamp(a), ColumnData::Timestamp(b)) => a[g] == b[row],
            (ColumnData::Float64(a), ColumnData::Float64(b)) => float_key_eq(a[g], b[row]),
            (ColumnData::Bool(a), ColumnData::Bool(b)) => a[g] == b[row],
            (ColumnData::Decimal { values: a, .. }, ColumnData::Decimal { values: b, .. }) => {
                a[g] == b[row]
            }
            _ => false,
        }
    })
}

/// Float equality for grouping: as `==` (so -0.0 is 0.0), except that every
/// NaN is the same key.
#[inline(always)]
fn float_key_eq(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// Byte-slice equality tuned for short keys (symbols, ids): up to 16 bytes it
/// compares two overlapping loads instead of calling `memcmp`.
#[inline(always)]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=8 => load4(a, 0) == load4(b, 0) && load4(a, n - 4) == load4(b, n - 4),
        9..=16 => load8(a, 0) == load8(b, 0) && load8(a, n - 8) == load8(b, n - 8),
        _ => a == b,
    }
}

#[inline(always)]
fn load4(s: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([s[at], s[at + 1], s[at + 2], s[at + 3]])
}

#[inline(always)]
fn load8(s: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;

    /// Groups `rows` (each a key of two values) batch by batch; returns the ids.
    fn group(table: &mut GroupTable, types: &[DataType], batches: &[Vec<[Value; 2]>]) -> Vec<u32> {
        let mut all = Vec::new();
        for batch in batches {
            let mut columns: Vec<Column> = types.iter().map(|t| Column::new(*t)).collect();
            for row in batch {
                for (c, v) in columns.iter_mut().zip(row) {
                    if v.is_null() {
                        c.push_null();
                    } else {
                        assert!(c.push_value(v));
                    }
                }
            }
            let refs: Vec<&Column> = columns.iter().collect();
            let mut ids = Vec::new();
            table.find_or_insert(&refs, batch.len(), &mut ids);
            all.extend(ids);
        }
        all
    }

    #[test]
    fn find_sees_every_stored_key_and_creates_none() {
        let types = [DataType::Utf8];
        let mut table = GroupTable::new(&types, 16);
        let key = |s: &str| {
            let mut c = Column::new(DataType::Utf8);
            assert!(c.push_value(&Value::Utf8(s.to_owned())));
            c
        };
        let long = "a key much longer than thirty-one bytes, general index only";
        let stored = ["AAPL", "a sixteen-byte k", long];
        for s in stored {
            table.find_or_insert(&[&key(s)], 1, &mut Vec::new());
        }
        let mut ids = Vec::new();
        for (want, s) in stored.iter().enumerate() {
            table.find(&[&key(s)], 1, &mut ids);
            assert_eq!(ids, [want as u32], "{s}");
        }
        for s in [
            "MSFT",
            "another sixteen!",
            "a key much longer than thirty-one bytes, but not stored",
        ] {
            table.find(&[&key(s)], 1, &mut ids);
            assert_eq!(ids, [ABSENT], "{s}");
        }
        assert_eq!(table.len(), 3, "find creates no group");
    }

    #[test]
    fn packed_and_general_lookups_agree_on_every_key() {
        let types = [DataType::Utf8, DataType::Int64];
        let s = |x: &str| Value::Utf8(x.to_owned());
        // Batch 1 packs; batch 2 has a long string, so it goes the general
        // way and must find batch 1's groups; batch 3 packs again and must
        // find the groups batch 2 created; NULLs never pack.
        let batches = vec![
            vec![
                [s("AAPL"), Value::Int64(1)],
                [s("MSFT"), Value::Int64(-1)],
                [s("AAPL"), Value::Int64(1)],
            ],
            vec![
                [s("a-long-symbol"), Value::Int64(1)],
                [s("MSFT"), Value::Int64(-1)],
                [s("IBM"), Value::Int64(2)],
                [Value::Null, Value::Int64(2)],
            ],
            vec![
                [s("IBM"), Value::Int64(2)],
                [s("AAPL"), Value::Int64(1)],
                [s(""), Value::Int64(0)],
            ],
            vec![
                [Value::Null, Value::Int64(2)],
                [s("a-long-symbol"), Value::Int64(1)],
                [s("AAPL\0"), Value::Int64(1)],
            ],
        ];
        let mut table = GroupTable::new(&types, 4);
        let ids = group(&mut table, &types, &batches);
        assert_eq!(ids, [0, 1, 0, 2, 1, 3, 4, 3, 0, 5, 4, 2, 6]);
        assert_eq!(table.len(), 7);
    }

    #[test]
    fn one_string_keys_of_every_length_get_first_seen_ids() {
        // Keys of 0 to 40 bytes (15 is the longest that packs in two words,
        // 31 in four), some equal but for trailing NUL bytes, batches that
        // mix packing and non-packing rows, and keys seen again in later
        // batches.
        let letters = "abcdefghijklmnopqrstuvwxyz0123456789ABCDE";
        let mut keys: Vec<String> = (0..=40).map(|n| letters[..n].to_owned()).collect();
        keys.extend(
            [
                "a\0",
                "a\0\0",
                "abcdefgh\0",
                "abcdefgh\0\0\0\0\0\0\0",
                "\0",
                "abcdefghijklmnop\0",
                "abcdefghijklmnop\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
                "abcdefghijklmnopqrstuvwxyz01234\0",
            ]
            .map(String::from),
        );
        // Batches 20 to 29 draw keys of 28 to 40 bytes only, most too long
        // to pack: the batches after them go to the general index alone for
        // a while, which must put the 28- to 31-byte keys it creates in the
        // long index for later batches to find.
        let mut seed = 7u64;
        let batches: Vec<Vec<String>> = (0..40)
            .map(|b| {
                let pool = if (20..30).contains(&b) {
                    &keys[28..=40]
                } else {
                    &keys[..]
                };
                (0..(b * 7) % 50)
                    .map(|_| {
                        seed = seed
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        pool[(seed >> 33) as usize % pool.len()].clone()
                    })
                    .collect()
            })
            .collect();
        let mut table = GroupTable::new(&[DataType::Utf8], 4);
        let mut reference: std::collections::HashMap<String, u32> = Default::default();
        for batch in &batches {
            let mut column = Column::new(DataType::Utf8);
            for k in batch {
                assert!(column.push_value(&Value::Utf8(k.clone())));
            }
            let mut ids = Vec::new();
            table.find_or_insert(&[&column], batch.len(), &mut ids);
            for (k, id) in batch.iter().zip(ids) {
                let next = reference.len() as u32;
                assert_eq!(id, *reference.entry(k.clone()).or_insert(next), "{k:?}");
            }
        }
        assert_eq!(table.len(), reference.len());
        assert!(reference.len() > 40, "most keys were seen");
    }

    #[test]
    fn bytes_eq_matches_slice_equality() {
        let words: Vec<Vec<u8>> = (0..40)
            .flat_map(|n| {
                let base: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                let mut last = base.clone();
                if let Some(c) = last.last_mut() {
                    *c = b'#';
                }
                let mut mid = base.clone();
                if n > 2 {
                    mid[n as usize / 2] = b'#';
                }
                [base, last, mid]
            })
            .collect();
        for a in &words {
            for b in &words {
                assert_eq!(bytes_eq(a, b), a == b, "{a:?} vs {b:?}");
            }
        }
    }
}
