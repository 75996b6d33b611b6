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
/// taken in arrival order, which the query's `ORDER BY` names.
#[derive(Debug, Clone)]
pub struct RowWindowPlan {
    /// `PARTITION BY` expressions over the input (empty: one partition).
    pub partition: Vec<Expr>,
    pub calls: Vec<OverCall>,
    pub project: Vec<Expr>,
}

/// What the plan does after `WHERE`.
#[derive(Debug, Clone)]
pub enum PlanBody {
    /// A stateless projection over the input schema.
    Project(Vec<Expr>),
    Aggregate(AggregatePlan),
    RowWindow(RowWindowPlan),
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
}

/// A bound, typed query plan.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    /// The stream the query reads, as named in FROM.
    pub source_name: String,
    pub input_schema: Schema,
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
            PlanBody::Project(_) => false,
            PlanBody::RowWindow(_) => true,
            PlanBody::Aggregate(a) => a.aggs.iter().any(|c| {
                matches!(c.func, AggFunc::FirstValue | AggFunc::LastValue) && c.order.is_none()
            }),
        }
    }
}
