//! Row hashing over key columns, column by column.
//!
//! The same hash decides a row's shard (in the router) and its bucket in the
//! shard's group table, so it must be identical on every core and every run:
//! the seeds are fixed.

use crate::data::column::ColumnData;
use crate::data::Column;
use std::hash::BuildHasher;

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

/// Writes one hash per row of `columns` (all of length `rows`) into `out`.
pub fn hash_rows(columns: &[&Column], rows: usize, out: &mut Vec<u64>) {
    out.clear();
    out.resize(rows, SEED);
    let bytes_hasher = foldhash::fast::FixedState::with_seed(SEED);
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
                    *h = combine(*h, bytes_hasher.hash_one(v.get_bytes(i)));
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

/// The shard that owns a row with hash `h`, among `shards`.
///
/// Uses bits the group table does not rely on alone, so that each shard's
/// table still sees well-spread hashes.
#[inline]
pub fn shard_of(h: u64, shards: usize) -> usize {
    let mixed = h.wrapping_mul(MULTIPLIER) >> 32;
    ((mixed * shards as u64) >> 32) as usize
}
