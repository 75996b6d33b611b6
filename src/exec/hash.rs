//! Row hashing over key columns, column by column.
//!
//! The same hash decides a row's shard (in the router) and its bucket in the
//! shard's group table, so it must be identical on every core and every run:
//! the seeds are fixed.
//!
//! # Stable across builds
//! Checkpoints record which shard owns each key, and a restore may run a
//! later build of corestream: the hash of a key must never change between
//! versions. Every step is therefore specified here or by a published
//! algorithm whose output is fixed (strings: XXH3-64 with a seed, from
//! `xxhash-rust`), and [`HASH_ID`] names this function in checkpoint files.
//! Changing any step means a new id (and checkpoints of the old one are
//! refused). `the_hash_of_known_keys_never_changes` pins the outputs.

use crate::data::column::ColumnData;
use crate::data::Column;

/// Names this hash function in checkpoints (see the module docs).
pub const HASH_ID: &str = "cs-mix64-xxh3-v1";

const SEED: u64 = 0x243f_6a88_85a3_08d3;
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn combine(h: u64, v: u64) -> u64 {
    (h.rotate_left(26) ^ v).wrapping_mul(MULTIPLIER)
}

/// Final avalanche, so that both the low bits (bucket) and the high bits
/// (hashbrown's tag) depend on every input bit.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// A string's bytes, hashed by XXH3-64 (a fixed, published algorithm).
#[inline]
fn hash_bytes(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(bytes, SEED)
}

/// Writes one hash per row of `columns` (all of length `rows`) into `out`.
pub fn hash_rows(columns: &[&Column], rows: usize, out: &mut Vec<u64>) {
    out.clear();
    out.resize(rows, SEED);
    for c in columns {
        match &c.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => {
                for (h, x) in out.iter_mut().zip(v) {
                    *h = combine(*h, *x as u64);
                }
            }
            ColumnData::Float64(v) => {
                for (h, x) in out.iter_mut().zip(v) {
                    // Equal keys hash alike: -0.0 is 0.0, and every NaN is
                    // one key (as in PostgreSQL's GROUP BY).
                    let x = if *x == 0.0 {
                        0.0f64
                    } else if x.is_nan() {
                        f64::NAN
                    } else {
                        *x
                    };
                    *h = combine(*h, x.to_bits());
                }
            }
            ColumnData::Bool(v) => {
                for (h, x) in out.iter_mut().zip(v) {
                    *h = combine(*h, *x as u64);
                }
            }
            ColumnData::Utf8(v) => {
                for (i, h) in out.iter_mut().enumerate() {
                    *h = combine(*h, hash_bytes(v.get_bytes(i)));
                }
            }
            ColumnData::Decimal { values, .. } => {
                for (h, x) in out.iter_mut().zip(values) {
                    *h = combine(combine(*h, *x as u64), (*x >> 64) as u64);
                }
            }
        }
        if let Some(validity) = &c.validity {
            for (h, valid) in out.iter_mut().zip(validity) {
                if !valid {
                    *h = combine(*h, 0x6e75_6c6c);
                }
            }
        }
    }
    for h in out.iter_mut() {
        *h = finish(*h);
    }
}

/// The hash [`hash_rows`] gives row `row` of `columns`, for one row.
pub fn hash_row(columns: &[&Column], row: usize) -> u64 {
    let mut h = SEED;
    for c in columns {
        h = match &c.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => combine(h, v[row] as u64),
            ColumnData::Float64(v) => {
                let x = v[row];
                let x = if x == 0.0 {
                    0.0f64
                } else if x.is_nan() {
                    f64::NAN
                } else {
                    x
                };
                combine(h, x.to_bits())
            }
            ColumnData::Bool(v) => combine(h, v[row] as u64),
            ColumnData::Utf8(v) => combine(h, hash_bytes(v.get_bytes(row))),
            ColumnData::Decimal { values, .. } => {
                let x = values[row];
                combine(combine(h, x as u64), (x >> 64) as u64)
            }
        };
        if !c.is_valid(row) {
            h = combine(h, 0x6e75_6c6c);
        }
    }
    finish(h)
}

/// The shard that owns a row with hash `h`, among `shards`.
///
/// Uses bits the group table does not rely on alone, so that each shard's
/// table still sees well-spread hashes.
#[inline]
pub fn shard_of(h: u64, shards: usize) -> usize {
    let mixed = h.wrapping_mul(MULTIPLIER) >> 32;
    ((mixed * shards as u64) >> 32) as usize
}

/// The rows whose owner in `owner` is `shard` (restoring a checkpoint:
/// each shard takes the state it owns).
pub fn rows_of_shard(owner: &[u32], shard: usize) -> Vec<u32> {
    (0..owner.len() as u32)
        .filter(|&r| owner[r as usize] as usize == shard)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataType, Value};

    /// The routing hash is part of the checkpoint format: these outputs
    /// must never change (see the module docs). If this fails, the hash
    /// changed: restore it, or give it a new [`HASH_ID`].
    #[test]
    fn the_hash_of_known_keys_never_changes() {
        let mut ints = Column::new(DataType::Int64);
        let mut strs = Column::new(DataType::Utf8);
        for (i, s) in [
            (0i64, ""),
            (1, "a"),
            (-7, "Hamburg"),
            (1 << 40, "São Paulo"),
        ] {
            assert!(ints.push_value(&Value::Int64(i)));
            assert!(strs.push_value(&Value::Utf8(s.into())));
        }
        strs.push_null();
        assert!(ints.push_value(&Value::Int64(3)));
        let mut out = Vec::new();
        hash_rows(&[&ints, &strs], 5, &mut out);
        let shards: Vec<usize> = out.iter().map(|h| shard_of(*h, 7)).collect();
        assert_eq!(out, GOLDEN, "the routing hash changed: see HASH_ID");
        assert_eq!(shards, GOLDEN_SHARDS);
    }

    const GOLDEN: [u64; 5] = [
        0xcf987b5a5bd90bba,
        0xd729357755a6caf8,
        0x1008ae650ed504dd,
        0x20c7940456276fe4,
        0xe43931af71ecae9e,
    ];
    const GOLDEN_SHARDS: [usize; 5] = [4, 4, 6, 6, 0];

    #[test]
    fn hash_row_agrees_with_hash_rows() {
        let mut columns: Vec<Column> = [
            DataType::Int64,
            DataType::Float64,
            DataType::Utf8,
            DataType::Bool,
            DataType::Decimal {
                precision: 10,
                scale: 2,
            },
        ]
        .iter()
        .map(|t| Column::new(*t))
        .collect();
        for i in 0..50i64 {
            let row = [
                Value::Int64(i * 7919 - 100),
                Value::Float64(if i % 5 == 0 { -0.0 } else { i as f64 / 3.0 }),
                Value::Utf8("k".repeat(i as usize % 20)),
                Value::Bool(i % 2 == 0),
                Value::Decimal {
                    value: i as i128 * 1_000_003,
                    scale: 2,
                },
            ];
            for (c, v) in columns.iter_mut().zip(&row) {
                if i % 11 == 3 {
                    c.push_null();
                } else {
                    assert!(c.push_value(v));
                }
            }
        }
        let refs: Vec<&Column> = columns.iter().collect();
        let mut all = Vec::new();
        hash_rows(&refs, 50, &mut all);
        for (row, h) in all.iter().enumerate() {
            assert_eq!(hash_row(&refs, row), *h, "row {row}");
        }
    }
}
