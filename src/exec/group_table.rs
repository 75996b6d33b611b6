//! The group table: maps key values to dense group ids.

use crate::data::column::ColumnData;
use crate::data::{Column, DataType};
use hashbrown::HashTable;

/// Key values to dense group ids `0..len()`, in first-seen order.
///
/// # Invariants
/// Each key store column has exactly `len()` rows; row `g` holds group `g`'s
/// key. `hashes[g]` is that key's hash. The table holds each id once.
pub struct GroupTable {
    table: HashTable<u32>,
    keys: Vec<Column>,
    hashes: Vec<u64>,
    /// Scratch: rows of the current batch not found in the first pass.
    misses: Vec<u32>,
}

impl GroupTable {
    pub fn new(key_types: &[DataType], capacity: usize) -> GroupTable {
        GroupTable {
            table: HashTable::with_capacity(capacity),
            keys: key_types
                .iter()
                .map(|t| Column::with_capacity(*t, capacity))
                .collect(),
            hashes: Vec::with_capacity(capacity),
            misses: Vec::new(),
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

    /// Finds or creates the group of every row; writes its id into `groups`.
    ///
    /// Two passes: existing groups are found with equality specialised to the
    /// key columns' types (the common case, no insert); the rows that missed
    /// are then inserted one by one, in row order, so ids stay first-seen.
    pub fn find_or_insert(&mut self, columns: &[&Column], hashes: &[u64], groups: &mut Vec<u32>) {
        groups.clear();
        groups.resize(hashes.len(), u32::MAX);
        let mut misses = std::mem::take(&mut self.misses);
        misses.clear();
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
            None => misses.extend(0..hashes.len() as u32),
        }
        let GroupTable {
            table,
            keys,
            hashes: stored,
            ..
        } = self;
        for &row in &misses {
            let row = row as usize;
            let h = hashes[row];
            let entry = table.entry(
                h,
                |&g| keys_equal(keys, g as usize, columns, row),
                |&g| stored[g as usize],
            );
            groups[row] = match entry {
                hashbrown::hash_table::Entry::Occupied(o) => *o.get(),
                hashbrown::hash_table::Entry::Vacant(v) => {
                    let id = stored.len() as u32;
                    for (k, c) in keys.iter_mut().zip(columns) {
                        k.push_from(c, row);
                    }
                    stored.push(h);
                    v.insert(id);
                    id
                }
            };
        }
        self.misses = misses;
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
    use super::bytes_eq;

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
