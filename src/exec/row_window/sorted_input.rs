//! The input of a row window that reads a subquery.
//!
//! The exchange between stages does not keep arrival order, so the rows are
//! held and handed to the window sorted by its `ORDER BY` column, ties by the
//! whole row (column by column): the order, and so the window's results, are
//! a function of the rows alone, on any number of shards. Rows leave once
//! the watermark has passed their `ORDER BY` value
//! ([`Release::AtWatermark`]: none before them can still come) or at end of
//! input.

use crate::data::column::ColumnData;
use crate::data::{Batch, Column, DataType, Value};
use crate::sql::plan::Release;
use std::cmp::Ordering;

/// The rows a row window holds until their order is known.
///
/// # Threading
/// Owned by its shard's row window; never shared.
pub struct SortedInput {
    /// The input column `ORDER BY` names.
    column: usize,
    release: Release,
    /// The rows held, in arrival order.
    held: Batch,
}

impl SortedInput {
    pub fn new(column: usize, release: Release, input_types: &[DataType]) -> SortedInput {
        let columns = input_types.iter().map(|&t| Column::new(t)).collect();
        SortedInput {
            column,
            release,
            held: Batch::new(columns, 0),
        }
    }

    /// Holds every row of `batch` (the input's shape).
    pub fn hold(&mut self, batch: &Batch) {
        let all: Vec<u32> = (0..batch.len as u32).collect();
        self.held.extend_from_rows(batch, &all);
    }

    /// The rows held (for a checkpoint).
    pub fn held(&self) -> &Batch {
        &self.held
    }

    /// The held rows that `watermark` has passed (a NULL `ORDER BY` value
    /// before every other), sorted; `None` when there are none.
    pub fn release(&mut self, watermark: i64) -> Option<Batch> {
        if self.release == Release::AtEnd || self.held.is_empty() {
            return None;
        }
        let order = &self.held.columns[self.column];
        let (passed, kept): (Vec<u32>, Vec<u32>) = match &order.data {
            ColumnData::Int64(t) | ColumnData::Timestamp(t) => (0..self.held.len as u32)
                .partition(|&i| !order.is_valid(i as usize) || t[i as usize] < watermark),
            // Not a time (the plan releases only event times here): all.
            _ => ((0..self.held.len as u32).collect(), Vec::new()),
        };
        self.take(passed, &kept)
    }

    /// End of input: every row held, sorted.
    pub fn release_all(&mut self) -> Option<Batch> {
        self.take((0..self.held.len as u32).collect(), &[])
    }

    /// The rows `out` sorted into a batch, keeping the rows `kept`.
    fn take(&mut self, mut out: Vec<u32>, kept: &[u32]) -> Option<Batch> {
        if out.is_empty() {
            return None;
        }
        let columns = &self.held.columns;
        let key = std::iter::once(&columns[self.column]).chain(columns);
        out.sort_by(|&a, &b| {
            key.clone()
                .map(|c| total_order(&c.value(a as usize), &c.value(b as usize)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        let rows = self.held.gather(&out);
        self.held.retain_rows(kept);
        Some(rows)
    }
}

/// A total order of values of one type: NULL first, doubles by
/// `f64::total_cmp`, the rest by SQL order.
fn total_order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (Value::Float64(x), Value::Float64(y)) => x.total_cmp(y),
        _ => a.sql_cmp(b).unwrap_or(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(rows: &[(i64, i64)]) -> Batch {
        let t = Column::from_data(ColumnData::Timestamp(rows.iter().map(|r| r.0).collect()));
        let v = Column::from_data(ColumnData::Int64(rows.iter().map(|r| r.1).collect()));
        Batch::new(vec![t, v], rows.len())
    }

    fn pairs(b: &Batch) -> Vec<(Value, Value)> {
        (0..b.len)
            .map(|i| (b.columns[0].value(i), b.columns[1].value(i)))
            .collect()
    }

    #[test]
    fn rows_leave_sorted_once_the_watermark_passes_them_ties_by_the_whole_row() {
        let types = [DataType::Timestamp, DataType::Int64];
        let mut input = SortedInput::new(0, Release::AtWatermark, &types);
        input.hold(&batch(&[(30, 1), (10, 9), (20, 5), (10, 2)]));
        let out = input.release(21).unwrap();
        let t = |t, v| (Value::Timestamp(t), Value::Int64(v));
        assert_eq!(pairs(&out), vec![t(10, 2), t(10, 9), t(20, 5)]);
        assert!(input.release(30).is_none(), "30 is not passed by 30");
        input.hold(&batch(&[(25, 0)]));
        assert_eq!(
            pairs(&input.release_all().unwrap()),
            vec![t(25, 0), t(30, 1)]
        );
        assert!(input.release_all().is_none());
    }

    #[test]
    fn at_end_rows_wait_for_the_end_whatever_the_watermark() {
        let mut input =
            SortedInput::new(1, Release::AtEnd, &[DataType::Timestamp, DataType::Int64]);
        input.hold(&batch(&[(1, 3), (2, 1)]));
        assert!(input.release(i64::MAX - 1).is_none());
        let out = input.release_all().unwrap();
        assert_eq!(out.columns[1].value(0), Value::Int64(1));
    }
}
