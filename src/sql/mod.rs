//! The SQL front end: parse (sqlparser plus streaming clauses) -> bind -> plan.

mod agg_filter;
mod bind;
mod binder;
mod ddl;
mod deep_stack;
mod derived_join;
pub mod duration;
mod explain;
mod flink_functions;
mod from;
mod group_window;
mod join_plan;
mod join_syntax;
mod parse;
pub mod plan;
mod scalar;
mod settings;
mod stages;
mod top_n;
mod typing;

pub use bind::PlanOptions;
pub use ddl::{InputKind, StreamDecl};
pub(crate) use explain::ms as format_duration_ms;
pub use from::CatalogInput;
pub use join_syntax::JoinHints;
pub use parse::{parse, EmitMode, ParsedQuery, WindowClause};
pub use settings::QuerySettings;

use crate::data::Schema;
use crate::error::SqlError;

/// Binds and plans a parsed query over an input `schema` (named `input_name`
/// in FROM, if given), with default [`PlanOptions`]. Binding recurses per
/// nesting level, so it runs on the front end's own stack
/// ([`deep_stack`]), as parsing does.
pub fn plan_query(
    parsed: &ParsedQuery,
    input_name: Option<&str>,
    schema: &Schema,
) -> Result<plan::QueryPlan, SqlError> {
    deep_stack::run(|| bind::plan_query(parsed, input_name, schema))
}

/// Binds and plans a parsed query over the inputs it may name (several
/// inputs, joins, stages), on the front end's own stack.
pub fn plan_inputs(
    parsed: &ParsedQuery,
    catalog: &[CatalogInput],
) -> Result<plan::QueryPlan, SqlError> {
    deep_stack::run(|| bind::plan_inputs(parsed, catalog))
}

/// [`plan_query`] with settings from outside the query text.
pub fn plan_query_with(
    parsed: &ParsedQuery,
    input_name: Option<&str>,
    schema: &Schema,
    options: &PlanOptions,
) -> Result<plan::QueryPlan, SqlError> {
    deep_stack::run(|| bind::plan_query_with(parsed, input_name, schema, options))
}
