//! The per-shard pipeline: a join (when the query has one), WHERE, then a
//! projection or an aggregation.
//!
//! # Ports
//! Each input of the query feeds a port: the primary input port 0, a joined
//! input port 1. Each port has its own watermark. The operators after the
//! join follow the primary input's watermark behind a lookup join (the
//! table does not hold them back), and the smaller of the two behind an
//! ASOF join (its rows leave only once both have passed them).

use super::asof_join::AsofJoin;
use super::filter::{filter, select};
use super::hash_agg::HashAggregate;
use super::interval_join::IntervalJoin;
use super::lookup_join::LookupJoin;
use super::partial_agg::PartialGroups;
use super::project::project;
use super::row_window::RowWindow;
use super::top_n::TopN;
use super::window_agg::WindowAggregate;
use crate::data::Batch;
use crate::sql::plan::{JoinKind, PlanBody, QueryPlan};

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
    TopN(Box<TopN>),
    Aggregate(Box<HashAggregate>),
    Window(Box<WindowAggregate>),
    Rows(Box<RowWindow>),
}

enum Join {
    Lookup(Box<LookupJoin>),
    AsOf(Box<AsofJoin>),
    Interval(Box<IntervalJoin>),
}

/// A shard's compiled copy of the plan, with its operator state.
///
/// # Threading
/// Owned by one shard; never shared.
pub struct Pipeline {
    join: Option<Join>,
    /// `UNION ALL`: the other branch, fed by port 1.
    union: Option<Box<Pipeline>>,
    /// The primary input's columns (a joined row has more).
    primary_width: usize,
    /// Each port's watermark (`i64::MIN`: none yet).
    watermarks: [i64; 2],
    /// Ports whose input is idle (quiet for its idle timeout): they do not
    /// hold the join back.
    idle: [bool; 2],
    /// The watermark last handed to the body.
    body_watermark: i64,
    /// How far behind that watermark a row may still be taken.
    lateness: i64,
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
            PlanBody::TopN(top) => Body::TopN(Box::new(TopN::new(
                top.clone(),
                plan.input_schema
                    .fields
                    .iter()
                    .map(|f| f.data_type)
                    .collect(),
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
        let join = plan.join.as_ref().map(|join| {
            let (left, right) = (&plan.inputs[0], &plan.inputs[1]);
            let lateness =
                |i: &crate::sql::plan::InputPlan| i.watermarking.map_or(0, |w| w.allowed_lateness);
            // The columns anything after the join reads.
            let all_read = plan.columns_read();
            let read = all_read[left.schema.fields.len()..].to_vec();
            match join.kind {
                JoinKind::Lookup => {
                    Join::Lookup(Box::new(LookupJoin::new(join, &right.schema, read)))
                }
                JoinKind::AsOf => Join::AsOf(Box::new(AsofJoin::new(
                    join,
                    &left.schema,
                    &right.schema,
                    (lateness(left), lateness(right)),
                    read,
                ))),
                JoinKind::Interval => Join::Interval(Box::new(IntervalJoin::new(
                    join,
                    &left.schema,
                    &right.schema,
                    (lateness(left), lateness(right)),
                    &all_read,
                ))),
            }
        });
        Pipeline {
            join,
            union: plan
                .union
                .as_ref()
                .map(|branch| Box::new(Pipeline::new(branch, shard, false))),
            primary_width: plan.primary_schema().fields.len(),
            watermarks: [i64::MIN; 2],
            idle: [false; 2],
            body_watermark: i64::MIN,
            lateness: plan.watermarking.allowed_lateness,
            filter: plan.filter.clone(),
            body,
            selection: Vec::new(),
            spent: None,
        }
    }

    /// Runs one batch of input port `port` (see the module docs); returns
    /// the rows to emit now, if any. A row an ASOF join holds is counted
    /// when it leaves (see [`on_watermark`](Self::on_watermark)), and a left
    /// row without a match in an inner join is counted as filtered.
    pub fn process_port(
        &mut self,
        port: usize,
        batch: Batch,
        now: i64,
    ) -> (Option<Batch>, BatchCounts) {
        if let (Some(branch), 1) = (&mut self.union, port) {
            let out = branch.process_port(0, batch, now);
            self.spent = branch.take_spent();
            return out;
        }
        let rows = batch.len as u64;
        match (&mut self.join, port) {
            (None, _) => self.process(batch, now),
            (Some(Join::Lookup(join)), 0) => {
                let (joined, removed) = join.probe(batch);
                let (out, mut counts) = self.process(joined, now);
                counts.filtered += removed as u64;
                // The joined row is wider than the input's: hand the
                // router back a batch of its own shape.
                if let Some(spent) = &mut self.spent {
                    spent.columns.truncate(self.primary_width);
                }
                (out, counts)
            }
            (Some(Join::Lookup(join)), _) => {
                join.update(&batch);
                self.spent = Some(batch);
                let counts = BatchCounts {
                    processed: rows,
                    ..BatchCounts::default()
                };
                (None, counts)
            }
            (Some(Join::Interval(join)), port) => {
                // Rows are counted where they enter the join: a row may
                // make any number of joined rows, which are the body's.
                let (joined, late) = join.process(port, &batch);
                self.spent = Some(batch);
                let spent = self.spent.take();
                let out = joined.and_then(|rows| self.process(rows, now).0);
                self.spent = spent;
                let counts = BatchCounts {
                    processed: rows - late,
                    filtered: 0,
                    late,
                };
                (out, counts)
            }
            (Some(Join::AsOf(join)), port) => {
                let late = if port == 0 {
                    join.left(&batch)
                } else {
                    join.right(&batch)
                };
                self.spent = Some(batch);
                let processed = if port == 0 { 0 } else { rows - late };
                (
                    None,
                    BatchCounts {
                        processed,
                        filtered: 0,
                        late,
                    },
                )
            }
        }
    }

    /// Port `port`'s watermark moved to `watermark` (`i64::MAX` once the
    /// port's input has ended): the rows that releases (an ASOF join's
    /// waiting rows, closed windows) and what they count.
    pub fn on_watermark(
        &mut self,
        port: usize,
        watermark: i64,
        now: i64,
    ) -> (Vec<Batch>, BatchCounts) {
        if let (Some(branch), 1) = (&mut self.union, port) {
            return branch.on_watermark(0, watermark, now);
        }
        self.watermarks[port] = self.watermarks[port].max(watermark);
        self.follow_watermarks(now)
    }

    /// The watermark of the rows this pipeline emits: none it emits later
    /// is older (what it follows, less the lateness it allows).
    pub fn output_watermark(&self) -> i64 {
        let own = self.body_watermark.saturating_sub(self.lateness);
        match &self.union {
            Some(branch) => own.min(branch.output_watermark()),
            None => own,
        }
    }

    /// Rows an interval join (or a regular join with a state time-to-live)
    /// has freed behind the watermark so far; 0 without one.
    pub fn join_rows_freed(&self) -> u64 {
        match &self.join {
            Some(Join::Interval(join)) => join.freed(),
            _ => 0,
        }
    }

    /// Port `port`'s input went quiet for its idle timeout (`idle`), or
    /// sent again: an idle input does not hold the join back (as Flink's
    /// `withIdleness`); the watermark the operators follow never moves back.
    pub fn on_idle(&mut self, port: usize, idle: bool, now: i64) -> (Vec<Batch>, BatchCounts) {
        self.idle[port] = idle;
        self.follow_watermarks(now)
    }

    /// Hands the operators the watermark they follow, if it moved.
    fn follow_watermarks(&mut self, now: i64) -> (Vec<Batch>, BatchCounts) {
        let mut out = Vec::new();
        let mut counts = BatchCounts::default();
        let body_watermark = match &mut self.join {
            None => self.watermarks[0],
            Some(Join::Lookup(_)) => self.watermarks[0],
            Some(Join::AsOf(join)) => {
                join.set_watermarks(self.watermarks[0], self.watermarks[1]);
                let active = (0..2)
                    .filter(|&p| !self.idle[p])
                    .map(|p| self.watermarks[p]);
                let until = active.min().unwrap_or(i64::MIN).max(self.body_watermark);
                if let Some((rows, removed)) = join.release(until) {
                    let (rows, c) = self.process(rows, now);
                    counts = c;
                    counts.filtered += removed as u64;
                    out.extend(rows);
                }
                self.spent = None;
                until
            }
            Some(Join::Interval(join)) => {
                let after = join.after();
                if let Some(rows) = join.set_watermarks(self.watermarks[0], self.watermarks[1]) {
                    out.extend(self.process(rows, now).0);
                }
                self.spent = None;
                // A pair can still come with a left time as old as a right
                // row's less the bound's upper end.
                self.watermarks[0].min(self.watermarks[1].saturating_sub(after))
            }
        };
        if body_watermark > self.body_watermark && body_watermark > i64::MIN {
            self.body_watermark = body_watermark;
            out.extend(self.advance(body_watermark));
        }
        (out, counts)
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
            Body::TopN(top) => {
                let late = top.process(&batch);
                counts.late = late;
                counts.processed -= late;
                self.spent = Some(batch);
                None
            }
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
            || self.union.as_ref().is_some_and(|b| b.reads_now())
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
            Body::TopN(top) => top.advance(watermark).filter(|b| !b.is_empty()),
            Body::Rows(rows) => rows.advance(watermark).filter(|b| !b.is_empty()),
            _ => None,
        }
    }

    /// For a checkpoint: each port's watermark and the body's.
    pub fn clocks(&self) -> ([i64; 2], i64) {
        (self.watermarks, self.body_watermark)
    }

    /// Restores what [`clocks`](Self::clocks) gave.
    pub fn set_clocks(&mut self, watermarks: [i64; 2], body_watermark: i64) {
        self.watermarks = watermarks;
        self.body_watermark = body_watermark;
    }

    /// The GROUP BY without a window, when that is the body (its state is a
    /// checkpoint's).
    pub fn aggregate_mut(&mut self) -> Option<&mut HashAggregate> {
        match &mut self.body {
            Body::Aggregate(agg) => Some(agg),
            _ => None,
        }
    }

    /// The row window (OVER), when that is the body.
    pub fn row_window_mut(&mut self) -> Option<&mut RowWindow> {
        match &mut self.body {
            Body::Rows(r) => Some(r),
            _ => None,
        }
    }

    /// The Top-N, when that is the body.
    pub fn top_n_mut(&mut self) -> Option<&mut TopN> {
        match &mut self.body {
            Body::TopN(t) => Some(t),
            _ => None,
        }
    }

    /// The windowed GROUP BY, when that is the body.
    pub fn window_mut(&mut self) -> Option<&mut WindowAggregate> {
        match &mut self.body {
            Body::Window(w) => Some(w),
            _ => None,
        }
    }

    /// Whether the body is a projection (it holds no state).
    pub fn projects(&self) -> bool {
        matches!(self.body, Body::Project(_))
    }

    /// UNION ALL's other branch (a pipeline of its own, fed by port 1).
    pub fn union_mut(&mut self) -> Option<&mut Pipeline> {
        self.union.as_deref_mut()
    }

    /// The join's kind, when there is one.
    pub fn join_kind(&self) -> Option<JoinKind> {
        self.join.as_ref().map(|j| match j {
            Join::Lookup(_) => JoinKind::Lookup,
            Join::AsOf(_) => JoinKind::AsOf,
            Join::Interval(_) => JoinKind::Interval,
        })
    }

    /// The lookup join, when that is the join.
    pub fn lookup_join_mut(&mut self) -> Option<&mut LookupJoin> {
        match &mut self.join {
            Some(Join::Lookup(j)) => Some(j),
            _ => None,
        }
    }

    /// The ASOF join, when that is the join.
    pub fn asof_join_mut(&mut self) -> Option<&mut AsofJoin> {
        match &mut self.join {
            Some(Join::AsOf(j)) => Some(j),
            _ => None,
        }
    }

    /// The interval join, when that is the join.
    pub fn interval_join_mut(&mut self) -> Option<&mut IntervalJoin> {
        match &mut self.join {
            Some(Join::Interval(j)) => Some(j),
            _ => None,
        }
    }

    /// Windows holding state now (0 for unwindowed plans).
    pub fn open_windows(&self) -> usize {
        match &self.body {
            Body::Window(w) => w.open_windows(),
            Body::TopN(top) => top.open_groups(),
            _ => 0,
        }
    }

    /// End of input: the rows still held (an ASOF join's waiting rows,
    /// FINAL results, open windows), and what the join's rows count.
    pub fn finish(&mut self, now: i64) -> (Vec<Batch>, BatchCounts) {
        let (mut out, mut counts) = match &mut self.union {
            Some(branch) => branch.finish(now),
            None => Default::default(),
        };
        if let Some(Join::AsOf(join)) = &mut self.join {
            if let Some((rows, removed)) = join.finish() {
                let (rows, c) = self.process(rows, now);
                counts = c;
                counts.filtered += removed as u64;
                out.extend(rows);
            }
            self.spent = None;
        }
        if let Some(Join::Interval(join)) = &mut self.join {
            if let Some(rows) = join.finish() {
                out.extend(self.process(rows, now).0);
            }
            self.spent = None;
        }
        let rest = match &mut self.body {
            Body::Project(_) => None,
            Body::TopN(top) => top.finish(),
            Body::Aggregate(agg) => agg.finish().filter(|b| !b.is_empty()),
            Body::Window(w) => w.finish(),
            Body::Rows(rows) => {
                out.extend(rows.finish());
                None
            }
        };
        out.extend(rest);
        (out, counts)
    }
}
