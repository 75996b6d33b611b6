//! A join that reads a derived table on either side (a subquery or a WITH
//! name): `bid JOIN (SELECT MAX(price) ... GROUP BY TUMBLE(...)) m ON ...`
//! (Nexmark q7), or two windowed subqueries joined on key and window (a
//! window join, Nexmark q8).
//!
//! Each derived side is planned as the stages that compute it; their output
//! is an input of the join's stage, named by the side's alias, and reaches
//! it through an exchange partitioned as the join needs. The join itself is
//! planned as any join of two streams: it needs a time bound (for a window
//! join, the equality of the two sides' `window_end`), so its state is
//! freed behind the watermark.
//!
//! A side that aggregates without a window is refused: its rows change
//! until the end of the input, and joining them would need retractions.

use super::bind::{plan_select, unsupported};
use super::from::CatalogInput;
use super::parse::ParsedQuery;
use super::plan::QueryPlan;
use super::stages::{derive, derived_relation, Derived};
use crate::error::SqlError;
use sqlparser::ast;

/// Plans `query` when its FROM joins a derived table; `None` when it does not.
pub(super) fn plan_derived_join(
    query: &ParsedQuery,
    catalog: &[CatalogInput],
    ctes: &[(String, ast::Query)],
) -> Result<Option<QueryPlan>, SqlError> {
    let ast::SetExpr::Select(select) = query.query.body.as_ref() else {
        return Ok(None);
    };
    let [from] = select.from.as_slice() else {
        return Ok(None);
    };
    let [join] = from.joins.as_slice() else {
        return Ok(None);
    };
    let mut sides: Vec<Option<Derived>> = Vec::new();
    for factor in [&from.relation, &join.relation] {
        let side = match derived_relation(factor, ctes) {
            Some((name, inner)) => {
                let derived = derive(name, inner, factor.clone(), query, catalog, ctes)?;
                if derived.updating {
                    return Err(unsupported(
                        factor,
                        "this subquery aggregates without a window, so its rows change until \
                         the input ends; joining them would need retractions, which corestream \
                         does not support: window the subquery",
                    ));
                }
                Some(derived)
            }
            None => None,
        };
        sides.push(side);
    }
    if sides.iter().all(Option::is_none) {
        return Ok(None);
    }
    // The derived sides first, so that their names hide an input's.
    let mut scope: Vec<CatalogInput> = sides.iter().flatten().map(|d| d.input.clone()).collect();
    scope.extend(catalog.iter().cloned());
    let mut plan = plan_select(query, &scope)?;
    let stage = join_stage(&mut plan);
    for (side, derived) in sides.into_iter().enumerate() {
        let Some(derived) = derived else { continue };
        if derived.plan.needs_arrival_order() {
            return Err(unsupported(
                &derived.relation,
                "row windows (and FIRST_VALUE/LAST_VALUE without an event time) in a joined \
                 subquery are not supported: their results depend on the order rows arrive \
                 in, which the exchange between stages does not keep",
            ));
        }
        let upstream = Some(Box::new(derived.plan));
        match side {
            0 => stage.upstream = upstream,
            _ => stage.joined_upstream = upstream,
        }
    }
    Ok(Some(plan))
}

/// The stage of `plan` that runs the join: `plan` itself, or the stage it
/// reads when the planner re-keyed the join's rows for what follows.
fn join_stage(plan: &mut QueryPlan) -> &mut QueryPlan {
    if plan.join.is_some() {
        return plan;
    }
    match plan.upstream {
        Some(ref mut up) => join_stage(up),
        None => plan,
    }
}
