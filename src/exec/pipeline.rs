//! The per-shard pipeline: WHERE, then a projection or an aggregation.

use super::filter::{filter, select};
use super::hash_agg::HashAggregate;
use super::partial_agg::PartialGroups;
use super::project::project;
use super::row_window::RowWindow;
use super::window_agg::WindowAggregate;
use crate::data::Batch;
use crate::sql::plan::{PlanBody, QueryPlan};

/// What one batch did: rows kept and rows removed by WHERE.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchCounts {
    pub processed: u64,
    pub filtered: u64,
    /// Rows behind the watermark by more than the allowed lateness, dropped.
    pub late: u64,
}

enum Body {
    Project(Vec<crate::exec::expr::Expr>),
    Aggregate(Box<HashAggregate>),
    Window(Box<WindowAggregate>),
    Rows(Box<RowWindow>),
}

/// A shard's compiled copy of the plan, with its operator state.
///
/// # Threading
/// Owned by one shard; never shared.
pub struct Pipeline {
    filter: Option<crate::exec::expr::Expr>,
    body: Body,
    selection: Vec<u32>,
    /// The last input batch, when the body only read it.
    spent: Option<Batch>,
}

impl Pipeline {
    /// The pipeline of shard `shard`. Shard 0 also owns the single group of
    /// a global aggregate (the router sends it every row). With `keep_late`,
    /// late rows are kept for [`take_late`](Self::take_late).
    pub fn new(plan: &QueryPlan, shard: usize, keep_late: bool) -> Pipeline {
        let body = match &plan.body {
            PlanBody::Project(exprs) => Body::Project(exprs.clone()),
            PlanBody::Aggregate(agg) if agg.window.is_some() => {
                Body::Window(Box::new(WindowAggregate::new(
                    agg.clone(),
                    plan.emit,
                    plan.watermarking.allowed_lateness,
                    keep_late,
                )))
            }
            PlanBody::Aggregate(agg) => Body::Aggregate(Box::new(HashAggregate::new(
                agg.clone(),
                plan.emit,
                shard == 0,
            ))),
            PlanBody::RowWindow(rows) => {
                let input_types: Vec<_> = plan
                    .input_schema
                    .fields
                    .iter()
                    .map(|f| f.data_type)
                    .collect();
                Body::Rows(Box::new(RowWindow::new(rows.clone(), &input_types)))
            }
        };
        Pipeline {
            filter: plan.filter.clone(),
            body,
            selection: Vec::new(),
            spent: None,
        }
    }

    /// Runs one input batch; returns the rows to emit now, if any. `now` is
    /// the processing time in epoch milliseconds (for processing-time windows).
    pub fn process(&mut self, batch: Batch, now: i64) -> (Option<Batch>, BatchCounts) {
        self.spent = None;
        let total = batch.len as u64;
        // A projection takes the selection and copies only the columns it
        // keeps; the other bodies read a filtered batch.
        let (batch, filtered) = match (&self.filter, &self.body) {
            (Some(p), Body::Project(_)) => {
                let removed = select(p, &batch, &mut self.selection);
                (batch, removed)
            }
            (Some(p), _) => filter(p, batch, &mut self.selection),
            (None, _) => (batch, 0),
        };
        let mut counts = BatchCounts {
            processed: total - filtered as u64,
            filtered: filtered as u64,
            late: 0,
        };
        if total == filtered as u64 {
            self.spent = Some(batch);
            return (None, counts);
        }
        let out = match &mut self.body {
            Body::Project(exprs) => {
                let selection = (filtered > 0).then_some(&self.selection[..]);
                Some(project(exprs, batch, selection))
            }
            Body::Aggregate(agg) => {
                let out = agg.process(&batch);
                self.spent = Some(batch);
                out
            }
            Body::Rows(rows) => rows.process(batch),
            Body::Window(w) => {
                let (out, late) = w.process(&batch, now);
                counts.late = late;
                counts.processed -= late;
                self.spent = Some(batch);
                out
            }
        };
        (out.filter(|b| !b.is_empty()), counts)
    }

    /// Whether [`process`](Self::process) reads its `now` (processing-time
    /// windows); when not, a caller need not read the clock for it.
    pub fn reads_now(&self) -> bool {
        matches!(&self.body, Body::Window(w) if w.processing_time())
    }

    /// The last input batch, if the pipeline only read it (an aggregate or
    /// a window; a projection or a row window moves its columns on), for the
    /// caller to refill (see [`BatchPool`](crate::data::BatchPool)). Taken
    /// or not, it is dropped at the next [`process`](Self::process).
    pub fn take_spent(&mut self) -> Option<Batch> {
        self.spent.take()
    }

    /// Merges the partial groups a router folded (see
    /// [`partial_agg`](super::partial_agg)) that this shard owns. Routers fold
    /// only plans that [`splits`](super::partial_agg::splits) accepts, whose
    /// body is a grouped aggregate.
    pub fn merge_partial(&mut self, partial: &PartialGroups, shard: usize) {
        if let Body::Aggregate(agg) = &mut self.body {
            agg.merge_partial(partial, shard);
        }
    }

    /// The late rows since the last call (only when built with `keep_late`).
    pub fn take_late(&mut self) -> Option<Batch> {
        match &mut self.body {
            Body::Window(w) => w.take_late(),
            _ => None,
        }
    }

    /// The watermark moved: the rows of windows that closed.
    pub fn advance(&mut self, watermark: i64) -> Option<Batch> {
        match &mut self.body {
            Body::Window(w) => w.advance(watermark).filter(|b| !b.is_empty()),
            _ => None,
        }
    }

    /// Windows holding state now (0 for unwindowed plans).
    pub fn open_windows(&self) -> usize {
        match &self.body {
            Body::Window(w) => w.open_windows(),
            _ => 0,
        }
    }

    /// End of input: the rows still held (FINAL results, open windows).
    pub fn finish(&mut self) -> Option<Batch> {
        match &mut self.body {
            Body::Project(_) => None,
            Body::Aggregate(agg) => agg.finish().filter(|b| !b.is_empty()),
            Body::Window(w) => w.finish(),
            Body::Rows(rows) => rows.finish(),
        }
    }
}
