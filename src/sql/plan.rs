//! The compiled query plan: what every shard runs, and how the router partitions.

use super::EmitMode;
use crate::data::{DataType, Schema, Value};
use crate::exec::accumulator::SpreadKind;
use crate::exec::expr::Expr;

/// An aggregate function of the SQL surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    /// `STDDEV`, `STDDEV_POP`, `VARIANCE`, `VAR_POP` (`STDDEV` and `VARIANCE` are the sample forms).
    Spread(SpreadKind),
    FirstValue,
    LastValue,
}

/// One aggregate call: `func(arg)`, typed.
#[derive(Debug, Clone)]
pub struct AggCall {
    pub func: AggFunc,
    /// The argument, over the input schema; `None` for `COUNT(*)`.
    pub arg: Option<Expr>,
    /// What orders `FIRST_VALUE` / `LAST_VALUE`: the event-time column when
    /// there is one (so results do not depend on arrival order), else `None`.
    pub order: Option<Expr>,
    pub output_type: DataType,
}

/// How a windowed aggregation assigns rows to windows. Times in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows `[k*size, (k+1)*size)`.
    Tumbling { size: i64 },
    /// Windows of `size` starting every `advance`; a row is in `size/advance` of them.
    Hopping { size: i64, advance: i64 },
    /// Per key, rows closer than `gap` to each other share a window.
    Session { gap: i64 },
}

/// The window of a windowed aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    pub kind: WindowKind,
    /// The event-time column (over the input); `None` windows by processing time.
    pub time_column: Option<usize>,
}

/// Event-time settings: how the watermark follows the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarking {
    /// The event-time column (over the input); `None` is processing time.
    pub time_column: Option<usize>,
    /// The watermark trails the largest event time seen by this much.
    pub max_out_of_orderness: i64,
    /// A row older than watermark - allowed lateness is late; a window is
    /// closed once the watermark passes its end + allowed lateness.
    pub allowed_lateness: i64,
}

/// A grouped aggregation.
///
/// Its intermediate schema is the group keys, then `window_start` and
/// `window_end` when windowed, then the aggregates; `having` and `project` are
/// bound against that schema.
#[derive(Debug, Clone)]
pub struct AggregatePlan {
    /// Group key expressions over the input schema.
    pub keys: Vec<Expr>,
    pub aggs: Vec<AggCall>,
    pub having: Option<Expr>,
    pub project: Vec<Expr>,
    pub window: Option<WindowSpec>,
}

/// A window function of a row window (`... OVER (...)`).
#[derive(Debug, Clone, PartialEq)]
pub enum OverFunc {
    /// An aggregate over the frame: COUNT, SUM, AVG, MIN, MAX, FIRST_VALUE, LAST_VALUE.
    Aggregate(AggFunc),
    /// The row's 1-based position in its partition.
    RowNumber,
    /// The argument `offset` rows back in the partition, else `default`.
    Lag { offset: usize, default: Value },
    /// The argument `offset` rows ahead; the row is emitted once that row
    /// arrives (or, at end of input, with `default`).
    Lead { offset: usize, default: Value },
}

/// One `func(arg) OVER (...)` call.
#[derive(Debug, Clone)]
pub struct OverCall {
    pub func: OverFunc,
    /// The argument over the input schema; `None` for `COUNT(*)` and `ROW_NUMBER()`.
    pub arg: Option<Expr>,
    /// Rows before the current one in the frame (`n PRECEDING`); `None` is
    /// `UNBOUNDED PRECEDING`. Every frame ends at the current row.
    pub preceding: Option<usize>,
    pub output_type: DataType,
}

/// A row window: every input row is emitted once, with its window functions.
///
/// Its intermediate schema is the input columns followed by one column per
/// call; `project` is bound against that schema. Rows of a partition are
/// taken in arrival order, which the query's `ORDER BY` names, unless
/// `sorted` says otherwise.
#[derive(Debug, Clone)]
pub struct RowWindowPlan {
    /// `PARTITION BY` expressions over the input (empty: one partition).
    pub partition: Vec<Expr>,
    /// The input column `ORDER BY` names, if it names one.
    pub order: Option<usize>,
    /// `Some` when the rows come from a subquery: the exchange between
    /// stages does not keep arrival order, so the rows are held and taken
    /// sorted by `order` (ties by the whole row), as this says when.
    pub sorted: Option<Release>,
    pub calls: Vec<OverCall>,
    pub project: Vec<Expr>,
}

/// When a row window that sorts its input takes the rows it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Once the watermark has passed their `ORDER BY` value (the input's
    /// event time): no row before them can still come.
    AtWatermark,
    /// At end of input (`ORDER BY` is not the input's event time).
    AtEnd,
}

/// Top-N per group: the rows `ROW_NUMBER() OVER (PARTITION BY partition
/// ORDER BY order) <= limit` keeps, once their group is complete.
#[derive(Debug, Clone)]
pub struct TopNPlan {
    /// Group expressions over the input (empty: one group).
    pub partition: Vec<Expr>,
    /// Ranking expressions over the input, and whether each is descending.
    pub order: Vec<(Expr, bool)>,
    pub limit: usize,
    /// The input column whose value completes a group once the watermark
    /// passes it (a closed window's end); `None`: groups complete at end of
    /// input.
    pub close_time: Option<usize>,
    /// The output, over the input columns followed by the row number.
    pub project: Vec<Expr>,
}

/// What the plan does after `WHERE`.
#[derive(Debug, Clone)]
pub enum PlanBody {
    /// A stateless projection over the input schema.
    Project(Vec<Expr>),
    Aggregate(AggregatePlan),
    RowWindow(RowWindowPlan),
    TopN(TopNPlan),
}

/// How the router assigns input rows to shards.
#[derive(Debug, Clone)]
pub enum Partitioning {
    /// Rows with equal key values go to the same shard (hash of the values).
    ByKey(Vec<Expr>),
    /// All rows go to shard 0 (a global aggregate has a single group).
    Single,
    /// No state depends on the key: whole batches are spread round-robin.
    RoundRobin,
    /// Every shard gets every row (a small table joined on every shard).
    Broadcast,
}

/// How a join's two inputs meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Each left row meets the table's current row for its key (enrichment).
    Lookup,
    /// Each left row meets the right row with its key and the greatest time
    /// at or before its own (ASOF, and the event-time temporal join). A left
    /// row waits until the right input's watermark has passed its time.
    AsOf,
    /// Each left row meets every right row with its key and a time within
    /// [`JoinPlan::bound`] of its own (an interval join; a regular join of
    /// two streams with a state time-to-live).
    Interval,
}

/// Where a join's right input goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinDistribution {
    /// Every shard holds all of it, so the left input keeps the partitioning
    /// its later operators need (no exchange).
    Broadcast,
    /// Both inputs are partitioned by the join key, so matching rows meet on
    /// one shard and each shard holds its share of the right input.
    Partitioned,
}

/// A join of the primary input (left) with a second input (right). The
/// joined row is the left columns, then the right columns; the rest of the
/// plan reads that row.
#[derive(Debug, Clone)]
pub struct JoinPlan {
    pub kind: JoinKind,
    /// `LEFT`: a left row without a match is kept, with NULL right columns.
    pub outer: bool,
    pub distribution: JoinDistribution,
    /// Equality keys over the left input's columns ...
    pub left_keys: Vec<Expr>,
    /// ... and over the right input's columns, pairwise.
    pub right_keys: Vec<Expr>,
    /// For [`JoinKind::AsOf`] and [`JoinKind::Interval`]: the time
    /// columns, each over its own input.
    pub left_time: Option<usize>,
    pub right_time: Option<usize>,
    /// For [`JoinKind::Interval`]: milliseconds `(before, after)`, a right
    /// row matching when `l.t - before <= r.t <= l.t + after`.
    pub bound: Option<(i64, i64)>,
    /// Whether the right input is a table read completely before any left
    /// row is joined (a bounded input declared with CREATE TABLE).
    pub right_first: bool,
}

/// One input of a query, as the routers treat it.
#[derive(Debug, Clone)]
pub struct InputPlan {
    /// The name FROM or JOIN uses.
    pub name: String,
    pub schema: Schema,
    /// How its rows go to the shards.
    pub partitioning: Partitioning,
    /// Its event time and watermark, when the plan needs its watermark.
    pub watermarking: Option<Watermarking>,
    /// For a table, its primary key columns.
    pub primary_key: Option<Vec<usize>>,
    /// Milliseconds without a row after which this input stops holding back
    /// an operator with several inputs (`None`: never).
    pub idle_timeout: Option<i64>,
}

/// The port of stage `stage`'s input `side` (0, or 1 for a join's right
/// input or UNION ALL's second): every stage has two.
pub fn port_of(stage: usize, side: usize) -> usize {
    2 * stage + side
}

/// A stage of a plan, and where its rows go.
pub struct StageLink<'a> {
    pub plan: &'a QueryPlan,
    /// The port its rows feed; `None` for the last stage, whose rows are
    /// the results.
    pub feeds: Option<usize>,
}

/// A run input as a stage reads it.
pub struct RunInput<'a> {
    pub stage: &'a QueryPlan,
    /// Which of the stage's inputs (`stage.inputs[side]`).
    pub side: usize,
    /// Its port in the shards.
    pub port: usize,
}

/// A bound, typed query plan.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    /// The stream the query reads, as named in FROM.
    pub source_name: String,
    /// The row the filter and body read: the primary input's columns, then,
    /// with a join, the joined input's.
    pub input_schema: Schema,
    /// The inputs: the primary one first (FROM), then the joined one.
    pub inputs: Vec<InputPlan>,
    /// The join of `inputs[0]` with `inputs[1]`, if any.
    pub join: Option<JoinPlan>,
    /// `UNION ALL`: the plan of the other branch, run in this stage on the
    /// second input (`inputs[1]`, port 1); both branches' rows go on as
    /// one stream, this plan's `output_schema`.
    pub union: Option<Box<QueryPlan>>,
    /// The stage whose output this one reads (a derived table: FROM a
    /// subquery or a WITH name); `inputs[0]` then describes that output and
    /// how the exchange partitions it for this stage. `None`: this stage
    /// reads the run's inputs.
    pub upstream: Option<Box<QueryPlan>>,
    /// The stage whose output the join reads as its right input (a join
    /// of a derived table); `inputs[1]` then describes that output.
    pub joined_upstream: Option<Box<QueryPlan>>,
    pub partitioning: Partitioning,
    /// `WHERE`, over the input schema.
    pub filter: Option<Expr>,
    pub body: PlanBody,
    pub output_schema: Schema,
    pub emit: EmitMode,
    /// Event time and lateness, for windowed plans.
    pub watermarking: Watermarking,
}

impl QueryPlan {
    /// The stages in run order: each after the stages it reads, this one
    /// last.
    pub fn stages(&self) -> Vec<&QueryPlan> {
        self.stage_links().into_iter().map(|s| s.plan).collect()
    }

    /// The stages in run order (as [`stages`](Self::stages)), each with the
    /// port its rows feed.
    pub fn stage_links(&self) -> Vec<StageLink<'_>> {
        let mut stages = Vec::new();
        self.link_into(&mut stages);
        stages
    }

    /// Appends the stages this one reads, then this one; returns its index.
    fn link_into<'a>(&'a self, stages: &mut Vec<StageLink<'a>>) -> usize {
        let reads: Vec<(usize, usize)> = [&self.upstream, &self.joined_upstream]
            .into_iter()
            .enumerate()
            .filter_map(|(side, up)| Some((up.as_ref()?.link_into(stages), side)))
            .collect();
        let me = stages.len();
        stages.push(StageLink {
            plan: self,
            feeds: None,
        });
        for (stage, side) in reads {
            stages[stage].feeds = Some(port_of(me, side));
        }
        me
    }

    /// The run's inputs, as the stages read them, in run order.
    pub fn run_inputs(&self) -> Vec<RunInput<'_>> {
        let mut inputs = Vec::new();
        for (k, stage) in self.stages().into_iter().enumerate() {
            for side in 0..stage.inputs.len() {
                let derived = match side {
                    0 => stage.upstream.is_some(),
                    _ => stage.joined_upstream.is_some(),
                };
                if !derived {
                    inputs.push(RunInput {
                        stage,
                        side,
                        port: port_of(k, side),
                    });
                }
            }
        }
        inputs
    }

    /// The first stage in run order (it reads a run input).
    pub fn first_stage(&self) -> &QueryPlan {
        self.stages()[0]
    }

    /// The primary input's columns (all of `input_schema` without a join).
    pub fn primary_schema(&self) -> &Schema {
        &self.inputs[0].schema
    }

    /// Per column of `input_schema`, whether the filter or the body may read
    /// it (every column, where that is not worked out).
    pub fn columns_read(&self) -> Vec<bool> {
        let width = self.input_schema.fields.len();
        let mut read = vec![false; width];
        let mut mark = |e: &Expr| {
            e.for_each_column(&mut |i| {
                if let Some(r) = read.get_mut(i) {
                    *r = true;
                }
            })
        };
        self.filter.iter().for_each(&mut mark);
        match &self.body {
            PlanBody::Project(exprs) => exprs.iter().for_each(&mut mark),
            PlanBody::Aggregate(a) => {
                a.keys.iter().for_each(&mut mark);
                for call in &a.aggs {
                    call.arg.iter().chain(&call.order).for_each(&mut mark);
                }
                if let Some(c) = a.window.and_then(|w| w.time_column) {
                    read[c] = true;
                }
            }
            PlanBody::RowWindow(_) | PlanBody::TopN(_) => read.iter_mut().for_each(|r| *r = true),
        }
        if let Some(c) = self.watermarking.time_column {
            read[c] = true;
        }
        read
    }

    /// Whether the plan aggregates over windows (and so needs watermarks).
    pub fn windowed(&self) -> bool {
        matches!(&self.body, PlanBody::Aggregate(a) if a.window.is_some())
    }

    /// Whether results depend on the order rows arrive in, beyond what event
    /// time orders: row windows, and `FIRST_VALUE`/`LAST_VALUE` without an
    /// event-time column. Such a plan needs its input read in order, by one
    /// router.
    pub fn needs_arrival_order(&self) -> bool {
        match &self.body {
            PlanBody::Project(_) | PlanBody::TopN(_) => false,
            PlanBody::RowWindow(r) => r.sorted.is_none(),
            PlanBody::Aggregate(a) => a.aggs.iter().any(|c| {
                matches!(c.func, AggFunc::FirstValue | AggFunc::LastValue) && c.order.is_none()
            }),
        }
    }
}
