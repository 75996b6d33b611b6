//! The compiled query plan: what every shard runs, and how the router partitions.

use super::EmitMode;
use crate::data::{DataType, Schema};
use crate::exec::expr::Expr;

/// An aggregate function of the SQL surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

/// One aggregate call: `func(arg)`, typed.
#[derive(Debug, Clone)]
pub struct AggCall {
    pub func: AggFunc,
    /// The argument, over the input schema; `None` for `COUNT(*)`.
    pub arg: Option<Expr>,
    pub output_type: DataType,
}

/// A grouped aggregation.
///
/// Its intermediate schema is the group keys followed by the aggregates;
/// `having` and `project` are bound against that schema.
#[derive(Debug, Clone)]
pub struct AggregatePlan {
    /// Group key expressions over the input schema.
    pub keys: Vec<Expr>,
    pub aggs: Vec<AggCall>,
    pub having: Option<Expr>,
    pub project: Vec<Expr>,
}

/// What the plan does after `WHERE`.
#[derive(Debug, Clone)]
pub enum PlanBody {
    /// A stateless projection over the input schema.
    Project(Vec<Expr>),
    Aggregate(AggregatePlan),
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
}
