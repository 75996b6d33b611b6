//! The SQL front end: parse (sqlparser plus streaming clauses) -> bind -> plan.

mod bind;
mod ddl;
pub mod duration;
mod explain;
mod from;
mod join_plan;
mod join_syntax;
mod parse;
pub mod plan;
mod scalar;
mod stages;
mod top_n;

pub use bind::{plan_inputs, plan_query, plan_query_with, PlanOptions};
pub use ddl::{InputKind, StreamDecl};
pub use from::CatalogInput;
pub use join_syntax::JoinHints;
pub use parse::{parse, EmitMode, ParsedQuery, WindowClause};
