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
    pub fn find_or_insert(&mut self, columns: &[&Column], hashes: &[u64], groups: &mut Vec<u32>) {
        groups.clear();
        groups.reserve(hashes.len());
        let GroupTable {
            table,
            keys,
            hashes: stored,
        } = self;
        for (row, &h) in hashes.iter().enumerate() {
            let entry = table.entry(
                h,
                |&g| keys_equal(keys, g as usize, columns, row),
                |&g| stored[g as usize],
            );
            let id = match entry {
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
            groups.push(id);
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
            (ColumnData::Utf8(a), ColumnData::Utf8(b)) => a.get_bytes(g) == b.get_bytes(row),
            (ColumnData::Int64(a), ColumnData::Int64(b))
            | (ColumnData::Timestamp(a), ColumnData::Timestamp(b)) => a[g] == b[row],
            (ColumnData::Float64(a), ColumnData::Float64(b)) => a[g] == b[row],
            (ColumnData::Bool(a), ColumnData::Bool(b)) => a[g] == b[row],
            (ColumnData::Decimal { values: a, .. }, ColumnData::Decimal { values: b, .. }) => {
                a[g] == b[row]
            }
            _ => false,
        }
    })
}
