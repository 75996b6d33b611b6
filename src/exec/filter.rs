//! WHERE and HAVING: keep the rows whose predicate is TRUE (not FALSE, not NULL).

use super::expr::Expr;
use crate::data::column::ColumnData;
use crate::data::Batch;

/// Returns `batch` with only the rows where `predicate` is TRUE, and how many
/// rows were removed.
pub fn filter(predicate: &Expr, batch: Batch, selection: &mut Vec<u32>) -> (Batch, usize) {
    let mask = predicate.eval(&batch);
    selection.clear();
    match &mask.data {
        ColumnData::Bool(v) => {
            for (i, &keep) in v.iter().enumerate() {
                if keep && mask.is_valid(i) {
                    selection.push(i as u32);
                }
            }
        }
        _ => unreachable!("predicates are BOOLEAN: the planner checks"),
    }
    drop(mask);
    let removed = batch.len - selection.len();
    if removed == 0 {
        (batch, 0)
    } else {
        (batch.gather(selection), removed)
    }
}
