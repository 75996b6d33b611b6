//! Spent batches kept for refilling, so a steady stream allocates no batches.
//!
//! A batch crosses cores: a router fills it, a shard reads it. Allocating a
//! fresh one for every send and freeing it on the shard costs a `malloc` on
//! one core and a cross-thread `free` on the other for each of its buffers;
//! with small batches that is most of a batch's cost, and glibc's allocator
//! then makes the two cores wait on its arena lock. Instead the shard hands a
//! batch it has finished with back to the router (a return ring per lane), and
//! the router refills it. A pool is where a batch waits between uses.

use super::{Batch, DataType, Schema};
use std::time::Instant;

/// Batches a pool keeps at most; more are freed. As many as fill a ring to
/// a shard and its return ring (`RING_CAPACITY` each): a shard that was off
/// its core hands back a ring's worth at once, and a pool that freed most of
/// them would allocate them again for the next burst, every burst.
const KEEP: usize = 128;

/// Empty batches of one schema, ready to be filled again.
///
/// # Invariants
/// Every batch in `spare` is empty (`len` 0, every column cleared) and has
/// exactly the columns of `types`, in order.
#[derive(Debug)]
pub struct BatchPool {
    types: Vec<DataType>,
    spare: Vec<Batch>,
}

impl BatchPool {
    pub fn new(schema: &Schema) -> BatchPool {
        BatchPool {
            types: schema.fields.iter().map(|f| f.data_type).collect(),
            spare: Vec::new(),
        }
    }

    /// An empty batch of the pool's schema: a spare one, or a new one sized
    /// for `rows`. Its `ingest_time` is now, as for [`Batch::with_capacity`].
    pub fn take(&mut self, schema: &Schema, rows: usize) -> Batch {
        self.take_at(schema, rows, Instant::now())
    }

    /// [`take`](Self::take), with `ingest_time` set to `at`: for a caller
    /// that has just read the clock.
    pub fn take_at(&mut self, schema: &Schema, rows: usize, at: Instant) -> Batch {
        let mut batch = self
            .spare
            .pop()
            .unwrap_or_else(|| Batch::with_capacity(schema, rows));
        batch.ingest_time = at;
        batch
    }

    /// Keeps `batch` for a later [`take`](Self::take), emptied, unless the
    /// pool is full or the batch has other columns than the pool's schema.
    pub fn give(&mut self, mut batch: Batch) {
        let fits = batch.columns.len() == self.types.len()
            && batch
                .columns
                .iter()
                .zip(&self.types)
                .all(|(c, t)| c.data_type() == *t);
        if fits && self.spare.len() < KEEP {
            batch.clear();
            self.spare.push(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Field, Value};

    fn schema(types: &[DataType]) -> Schema {
        Schema::new(
            types
                .iter()
                .enumerate()
                .map(|(i, t)| Field::new(format!("c{i}"), *t))
                .collect(),
        )
    }

    #[test]
    fn a_given_batch_comes_back_empty_with_its_buffers() {
        let s = schema(&[DataType::Int64, DataType::Utf8]);
        let mut pool = BatchPool::new(&s);
        let mut batch = pool.take(&s, 4);
        for i in 0..100 {
            batch.columns[0].push_value(&Value::Int64(i));
            batch.columns[1].push_null();
            batch.len += 1;
        }
        let capacity = match &batch.columns[0].data {
            crate::data::column::ColumnData::Int64(v) => v.capacity(),
            _ => unreachable!(),
        };
        pool.give(batch);
        let again = pool.take(&s, 4);
        assert_eq!(again.len, 0);
        assert!(again
            .columns
            .iter()
            .all(|c| c.is_empty() && c.validity.is_none()));
        match &again.columns[0].data {
            crate::data::column::ColumnData::Int64(v) => assert_eq!(v.capacity(), capacity),
            _ => unreachable!(),
        }
    }

    #[test]
    fn take_at_stamps_fresh_and_spare_batches_with_the_given_time() {
        let s = schema(&[DataType::Int64]);
        let mut pool = BatchPool::new(&s);
        let at = Instant::now() - std::time::Duration::from_secs(1);
        let fresh = pool.take_at(&s, 4, at);
        assert_eq!(fresh.ingest_time, at);
        pool.give(fresh);
        let later = at + std::time::Duration::from_millis(1);
        assert_eq!(pool.take_at(&s, 4, later).ingest_time, later);
    }

    #[test]
    fn a_batch_of_another_shape_is_not_kept() {
        let s = schema(&[DataType::Int64]);
        let mut pool = BatchPool::new(&s);
        let other = schema(&[DataType::Float64]);
        pool.give(Batch::with_capacity(&other, 8));
        pool.give(Batch::with_capacity(&schema(&[DataType::Int64; 2]), 8));
        assert!(pool.spare.is_empty());
        let taken = pool.take(&s, 8);
        assert_eq!(taken.columns[0].data_type(), DataType::Int64);
    }

    #[test]
    fn the_pool_keeps_a_bounded_number() {
        let s = schema(&[DataType::Bool]);
        let mut pool = BatchPool::new(&s);
        for _ in 0..KEEP * 3 {
            pool.give(Batch::with_capacity(&s, 1));
        }
        assert_eq!(pool.spare.len(), KEEP);
    }
}
