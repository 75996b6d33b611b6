//! The SQL front end: parse (sqlparser plus streaming clauses) -> bind -> plan.

mod bind;
pub mod duration;
mod explain;
mod parse;
pub mod plan;
mod scalar;

pub use bind::{plan_query, plan_query_with, PlanOptions};
pub use parse::{parse, EmitMode, ParsedQuery, WindowClause};
