//! Projection: computes the select list over a batch.

use super::expr::Expr;
use crate::data::column::ColumnData;
use crate::data::{Batch, Column};

/// The select list evaluated over `batch`, keeping only the rows named by
/// `selection` when given (strictly increasing row indices, as
/// [`select`](super::filter::select) writes them).
///
/// The output reuses the input's allocations: a column reference takes the
/// input column (copied only when the list names it again later), and the
/// rows a selection drops are removed in place. Input columns the list does
/// not name are never touched, so a WHERE before a projection copies only the
/// columns the projection keeps, once.
pub fn project(exprs: &[Expr], mut batch: Batch, mut selection: Option<&[u32]>) -> Batch {
    // Computed expressions run over every input row, selected or not. When most
    // rows are dropped, drop them first instead, so expensive expressions do
    // not run on rows nobody keeps.
    if let Some(s) = selection {
        let computes = exprs.iter().any(|e| !matches!(e, Expr::Column { .. }));
        if computes && s.len() * 2 < batch.len {
            batch.retain_rows(s);
            selection = None;
        }
    }
    // Computed expressions read the whole input, so run them before any column moves.
    let mut computed: Vec<Option<Column>> = exprs
        .iter()
        .map(|e| match e {
            Expr::Column { .. } => None,
            e => Some(e.eval(&batch).into_owned()),
        })
        .collect();
    let mut columns = Vec::with_capacity(exprs.len());
    for (j, e) in exprs.iter().enumerate() {
        let mut column = match e {
            Expr::Column { index, .. } => {
                let named_again = exprs[j + 1..]
                    .iter()
                    .any(|later| matches!(later, Expr::Column { index: i, .. } if i == index));
                if named_again {
                    batch.columns[*index].clone()
                } else {
                    // A placeholder that does not allocate; this column is not read again.
                    let empty = Column::from_data(ColumnData::Bool(Vec::new()));
                    std::mem::replace(&mut batch.columns[*index], empty)
                }
            }
            _ => computed[j].take().expect("evaluated above"),
        };
        if let Some(s) = selection {
            column.retain_rows(s);
        }
        columns.push(column);
    }
    Batch {
        columns,
        len: selection.map_or(batch.len, <[u32]>::len),
        ingest_time: batch.ingest_time,
    }
}
