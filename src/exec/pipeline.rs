//! The per-shard pipeline: WHERE, then a projection or an aggregation.

use super::filter::filter;
use super::hash_agg::HashAggregate;
use super::project::project;
use crate::data::Batch;
use crate::sql::plan::{PlanBody, QueryPlan};

/// What one batch did: rows kept and rows removed by WHERE.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    pub processed: u64,
    pub filtered: u64,
}

enum Body {
    Project(Vec<crate::exec::expr::Expr>),
    Aggregate(Box<HashAggregate>),
}

/// A shard's compiled copy of the plan, with its operator state.
///
/// # Threading
/// Owned by one shard; never shared.
pub struct Pipeline {
    filter: Option<crate::exec::expr::Expr>,
    body: Body,
    selection: Vec<u32>,
}

impl Pipeline {
    pub fn new(plan: &QueryPlan) -> Pipeline {
        let body = match &plan.body {
            PlanBody::Project(exprs) => Body::Project(exprs.clone()),
            PlanBody::Aggregate(agg) => {
                Body::Aggregate(Box::new(HashAggregate::new(agg.clone(), plan.emit)))
            }
        };
        Pipeline {
            filter: plan.filter.clone(),
            body,
            selection: Vec::new(),
        }
    }

    /// Runs one input batch; returns the rows to emit now, if any.
    pub fn process(&mut self, batch: Batch) -> (Option<Batch>, BatchCounts) {
        let total = batch.len as u64;
        let (batch, filtered) = match &self.filter {
            Some(p) => filter(p, batch, &mut self.selection),
            None => (batch, 0),
        };
        let counts = BatchCounts {
            processed: total - filtered as u64,
            filtered: filtered as u64,
        };
        if batch.is_empty() {
            return (None, counts);
        }
        let out = match &mut self.body {
            Body::Project(exprs) => Some(project(exprs, &batch)),
            Body::Aggregate(agg) => agg.process(&batch),
        };
        (out.filter(|b| !b.is_empty()), counts)
    }

    /// End of input: the rows still held (FINAL results).
    pub fn finish(&mut self) -> Option<Batch> {
        match &mut self.body {
            Body::Project(_) => None,
            Body::Aggregate(agg) => agg.finish().filter(|b| !b.is_empty()),
        }
    }
}
