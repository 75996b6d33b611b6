//! What every join does with rows: evaluate its keys, keep matches away
//! from NULL keys, and build the joined row (left columns, then right).

use super::expr::Expr;
use super::packed_index::ABSENT;
use crate::data::{Batch, Column};
use std::borrow::Cow;

/// The key columns of `batch`.
pub fn key_columns<'a>(keys: &[Expr], batch: &'a Batch) -> Vec<Cow<'a, Column>> {
    keys.iter().map(|k| k.eval(batch)).collect()
}

/// Sets `matches[row]` to [`ABSENT`] where any key column is NULL: in SQL a
/// NULL key equals nothing, not even another NULL.
pub fn unmatch_null_keys(keys: &[Cow<'_, Column>], matches: &mut [u32]) {
    for key in keys {
        if key.validity.is_some() {
            for (row, m) in matches.iter_mut().enumerate() {
                if !key.is_valid(row) {
                    *m = ABSENT;
                }
            }
        }
    }
}

/// The rows of `column` named by `rows`, with NULL where a row is [`ABSENT`].
pub fn gather_or_null(column: &Column, rows: &[u32]) -> Column {
    if !rows.contains(&ABSENT) {
        return column.gather(rows);
    }
    let mut out = Column::with_capacity(column.data_type(), rows.len());
    for &r in rows {
        if r == ABSENT {
            out.push_null();
        } else {
            out.push_from(column, r as usize);
        }
    }
    out
}

/// The joined batch: `left`'s columns, then `right`'s rows named by `rows`
/// (NULL where [`ABSENT`]), row for row. A right column nothing reads
/// (`read[i]` false) is filled with zeros instead: it keeps its place and
/// its length, and costs no copy of the right side's values.
pub fn joined(mut left: Batch, right: &[Column], rows: &[u32], read: &[bool]) -> Batch {
    debug_assert_eq!(left.len, rows.len());
    let columns = right.iter().enumerate().map(|(i, c)| match read.get(i) {
        Some(false) => zeros(c.data_type(), rows.len()),
        _ => gather_or_null(c, rows),
    });
    left.columns.extend(columns);
    left
}

/// A column of `rows` zero values (empty strings, `false`).
pub fn zeros(data_type: crate::data::DataType, rows: usize) -> Column {
    use crate::data::column::ColumnData;
    let mut column = Column::with_capacity(data_type, 0);
    match &mut column.data {
        ColumnData::Int64(v) | ColumnData::Timestamp(v) => v.resize(rows, 0),
        ColumnData::Float64(v) => v.resize(rows, 0.0),
        ColumnData::Bool(v) => v.resize(rows, false),
        ColumnData::Decimal { values, .. } => values.resize(rows, 0),
        ColumnData::Utf8(v) => (0..rows).for_each(|_| v.push("")),
    }
    column
}

/// Keeps the rows of `batch` whose match is not [`ABSENT`] (an inner
/// join's), and their matches; returns how many were removed.
pub fn keep_matched(batch: &mut Batch, matches: &mut Vec<u32>) -> usize {
    let before = batch.len;
    if !matches.contains(&ABSENT) {
        return 0;
    }
    let selection: Vec<u32> = (0..before as u32)
        .filter(|&r| matches[r as usize] != ABSENT)
        .collect();
    batch.retain_rows(&selection);
    matches.retain(|&m| m != ABSENT);
    before - batch.len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::column::ColumnData;

    #[test]
    fn absent_rows_gather_as_null() {
        let c = Column::from_data(ColumnData::Int64(vec![10, 20, 30]));
        let g = gather_or_null(&c, &[2, ABSENT, 0]);
        assert_eq!(g.len(), 3);
        assert!(g.is_valid(0) && !g.is_valid(1) && g.is_valid(2));
        assert_eq!(g.value(2), c.value(0));
    }
}
