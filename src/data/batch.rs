//! Batches: the unit that flows through rings and operators.

use super::{Column, Schema};
use std::time::Instant;

/// A set of rows stored column by column; all columns have `len` rows.
///
/// A batch carries no schema: the plan that reads it knows its shape, so moving a
/// batch between cores touches no shared reference count.
#[derive(Debug, Clone)]
pub struct Batch {
    pub columns: Vec<Column>,
    pub len: usize,
    /// When the oldest row of this batch arrived (the router read it from
    /// its source; for the rate-limited generator, when it was due): the
    /// start of ingest-to-sink latency.
    pub ingest_time: Instant,
}

impl Batch {
    /// Loads the first and last element of every buffer of every column,
    /// all before any of the values is needed.
    ///
    /// A batch filled on another core reaches this core's cache one line at
    /// a time, at the first load of each. An operator loads them in turn,
    /// hundreds of instructions apart, so each waits for the one before; for
    /// a batch of a few rows that wait is most of its cost. Loaded together,
    /// independently, the lines arrive in parallel.
    pub fn touch(&self) {
        let folded = self.columns.iter().fold(0, |x, c| x ^ c.touch());
        std::hint::black_box(folded);
    }

    pub fn new(columns: Vec<Column>, len: usize) -> Batch {
        debug_assert!(columns.iter().all(|c| c.len() == len));
        Batch {
            columns,
            len,
            ingest_time: Instant::now(),
        }
    }

    /// An empty batch with one column per field of `schema`, sized for `rows`.
    pub fn with_capacity(schema: &Schema, rows: usize) -> Batch {
        Batch {
            columns: schema
                .fields
                .iter()
                .map(|f| Column::with_capacity(f.data_type, rows))
                .collect(),
            len: 0,
            ingest_time: Instant::now(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends row `i` of `other`, which has the same shape.
    #[inline]
    pub fn push_row_from(&mut self, other: &Batch, i: usize) {
        for (dst, src) in self.columns.iter_mut().zip(&other.columns) {
            dst.push_from(src, i);
        }
        self.len += 1;
    }

    /// Appends the rows of `other` (same shape) named by `rows`, in that order.
    pub fn extend_from_rows(&mut self, other: &Batch, rows: &[u32]) {
        for (dst, src) in self.columns.iter_mut().zip(&other.columns) {
            dst.extend_from_rows(src, rows);
        }
        self.len += rows.len();
    }

    /// Removes every row, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        for c in &mut self.columns {
            c.clear();
        }
        self.len = 0;
    }

    /// A new batch of the rows named by `indices`.
    pub fn gather(&self, indices: &[u32]) -> Batch {
        Batch {
            columns: self.columns.iter().map(|c| c.gather(indices)).collect(),
            len: indices.len(),
            ingest_time: self.ingest_time,
        }
    }

    /// Keeps only the rows named by `selection` (strictly increasing, each
    /// below `len`), in place, keeping the allocations.
    pub fn retain_rows(&mut self, selection: &[u32]) {
        for c in &mut self.columns {
            c.retain_rows(selection);
        }
        self.len = selection.len();
    }

    /// Appends each row as one CSV line.
    pub fn write_csv(&self, out: &mut Vec<u8>) {
        for row in 0..self.len {
            for (j, c) in self.columns.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                c.write_csv(row, out);
            }
            out.push(b'\n');
        }
    }
}
