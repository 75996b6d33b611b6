//! WHERE and HAVING: keep the rows whose predicate is TRUE (not FALSE, not NULL).

use super::expr::Expr;
use crate::data::column::ColumnData;
use crate::data::Batch;

/// Writes into `selection` the rows of `batch` where `predicate` is TRUE, in
/// increasing order; returns how many rows it does not select.
pub fn select(predicate: &Expr, batch: &Batch, selection: &mut Vec<u32>) -> usize {
    let mask = predicate.eval(batch);
    selection.clear();
    match (&mask.data, &mask.validity) {
        (ColumnData::Bool(v), None) => {
            selection.extend(
                v.iter()
                    .enumerate()
                    .filter(|(_, &keep)| keep)
                    .map(|(i, _)| i as u32),
            );
        }
        (ColumnData::Bool(v), Some(valid)) => {
            for (i, (&keep, &valid)) in v.iter().zip(valid).enumerate() {
                if keep && valid {
                    selection.push(i as u32);
                }
            }
        }
        _ => unreachable!("predicates are BOOLEAN: the planner checks"),
    }
    batch.len - selection.len()
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
