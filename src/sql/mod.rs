//! The SQL front end: parse (sqlparser plus streaming clauses) -> bind -> plan.

mod bind;
mod ddl;
pub mod duration;
mod explain;
mod parse;
pub mod plan;
mod scalar;

pub use bind::{plan_query, plan_query_with, PlanOptions};
pub use ddl::StreamDecl;
pub(crate) use explain::ms as format_duration_ms;
pub use parse::{parse, EmitMode, ParsedQuery, WindowClause};
