//! WHERE and HAVING: keep the rows whose predicate is TRUE (not FALSE, not NULL).

use super::expr::Expr;
use crate::data::column::ColumnData;
use crate::data::Batch;

/// Writes into `selection` the rows of `batch` where `predicate` is TRUE, in
/// increasing order; returns how many rows it does not select.
pub fn select(predicate: &Expr, batch: &Batch, selection: &mut Vec<u32>) -> usize {
    let mask = predicate.eval(batch);
    match (&mask.data, &mask.validity) {
        (ColumnData::Bool(v), None) => write_rows(v.iter().copied(), selection),
        (ColumnData::Bool(v), Some(valid)) => {
            write_rows(v.iter().zip(valid).map(|(&t, &valid)| t & valid), selection)
        }
        _ => unreachable!("predicates are BOOLEAN: the planner checks"),
    }
    batch.len - selection.len()
}

/// Writes into `selection` the index of each `true` of `keep`. Branch-free:
/// every row's index is written at the next free place, which advances only
/// past a kept row, so a mask with scattered `false`s costs no mispredictions.
fn write_rows(keep: impl ExactSizeIterator<Item = bool>, selection: &mut Vec<u32>) {
    selection.clear();
    selection.resize(keep.len(), 0);
    let mut kept = 0;
    for (i, keep) in keep.enumerate() {
        selection[kept] = i as u32;
        kept += usize::from(keep);
    }
    selection.truncate(kept);
}

/// Keeps only the rows of `batch` where `predicate` is TRUE (in place, no new
/// batch); returns it and how many rows were removed.
pub fn filter(predicate: &Expr, mut batch: Batch, selection: &mut Vec<u32>) -> (Batch, usize) {
    let removed = select(predicate, &batch, selection);
    if removed > 0 {
        batch.retain_rows(selection);
    }
    (batch, removed)
}
