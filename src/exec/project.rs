//! Projection: computes the select list over a batch.

use super::expr::Expr;
use crate::data::Batch;

/// The select list evaluated over `batch`; column references are copied.
pub fn project(exprs: &[Expr], batch: &Batch) -> Batch {
    let columns = exprs.iter().map(|e| e.eval(batch).into_owned()).collect();
    Batch {
        columns,
        len: batch.len,
        ingest_time: batch.ingest_time,
    }
}
