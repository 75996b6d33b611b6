//! Queries of several stages: a SELECT that reads a derived table (FROM a
//! subquery, or a name from WITH) is planned as the stage that computes the
//! derived table, then the stage that reads its output.
//!
//! # What a later stage reads
//! - Closed windows (an inner windowed aggregate, `EMIT FINAL`): append-only
//!   rows whose event time is their `window_end`, so the outer query may
//!   aggregate them again; a GROUP BY on `window_end` completes each group
//!   once the watermark passes it (see [`CatalogInput::closes_by_time`]).
//! - Rows of a projection, filter, join or row window: append-only, with the
//!   inner query's event time when it selects that column unchanged.
//! - An aggregate without a window is updating: its rows are final only at
//!   end of input. The outer query may read them under `EMIT FINAL`; with
//!   `EMIT CHANGES` it would need retractions, which corestream does not
//!   have, so it is refused.
//!
//! `EMIT` stands once, at the end of the whole query, and applies to its
//! final result; an inner aggregate always emits its final rows.

use super::bind::{first_over, plan_select, unsupported};
use super::from::CatalogInput;
use super::parse::{EmitMode, ParsedQuery};
use super::plan::{PlanBody, QueryPlan, Release, WindowKind, WindowSpec};
use super::{InputKind, PlanOptions};
use crate::error::SqlError;
use crate::exec::expr::Expr;
use sqlparser::ast;

/// Plans `parsed` as its stages (a chain, or a tree when a join reads a
/// derived table); `ctes` are the WITH names visible.
pub(super) fn plan_stages(
    parsed: &ParsedQuery,
    catalog: &[CatalogInput],
    ctes: &[(String, ast::Query)],
) -> Result<QueryPlan, SqlError> {
    let mut ctes = ctes.to_vec();
    let mut query = (*parsed.query).clone();
    if let Some(with) = query.with.take() {
        if with.recursive {
            return Err(unsupported(&with, "WITH RECURSIVE is not supported"));
        }
        for cte in &with.cte_tables {
            ctes.push((cte.alias.name.value.clone(), (*cte.query).clone()));
        }
    }
    if let ast::SetExpr::SetOperation {
        op,
        set_quantifier,
        left,
        right,
    } = query.body.as_ref()
    {
        let branch = |side: &ast::SetExpr| ParsedQuery {
            query: Box::new(ast::Query {
                body: Box::new(side.clone()),
                ..query.clone()
            }),
            ..parsed.clone()
        };
        if *op != ast::SetOperator::Union || *set_quantifier != ast::SetQuantifier::All {
            return Err(unsupported(
                query.body.as_ref(),
                "only UNION ALL combines queries (UNION, INTERSECT and EXCEPT would need the whole input)",
            ));
        }
        let (first, second) = (branch(left), branch(right));
        return union_all(
            plan_stages(&first, catalog, &ctes)?,
            plan_stages(&second, catalog, &ctes)?,
            right,
        );
    }
    let outer = ParsedQuery {
        query: Box::new(query),
        ..parsed.clone()
    };
    if let Some(top_n) = super::top_n::plan_top_n(&outer, catalog, &ctes) {
        return top_n;
    }
    if let Some(plan) = super::derived_join::plan_derived_join(&outer, catalog, &ctes)? {
        return Ok(plan);
    }
    let Some(source) = read_derived(&outer, catalog, &ctes)? else {
        return plan_select(&outer, catalog);
    };
    // A row window emits each row once: its EMIT FINAL says to read the
    // subquery's final rows.
    let selects_over = match outer.query.body.as_ref() {
        ast::SetExpr::Select(select) => first_over(select).is_some(),
        _ => false,
    };
    let rows_of_final = outer.emit == Some(EmitMode::Final) && selects_over;
    let planned = match rows_of_final {
        true => ParsedQuery {
            emit: None,
            ..outer.clone()
        },
        false => outer.clone(),
    };
    let input_has_time = source.input.time.event_time.is_some();
    let mut plan = plan_select(&planned, &[source.input])?;
    if source.updating && plan.emit != EmitMode::Final && !rows_of_final {
        return Err(unsupported(
            &source.relation,
            "this subquery aggregates without a window, so its rows change until the input ends; \
             reading them as they change needs retractions, which corestream does not support: \
             window the inner query, or add EMIT FINAL to read its final rows at end of input",
        ));
    }
    if let PlanBody::RowWindow(rows) = &mut plan.body {
        // The exchange does not keep arrival order: sort by ORDER BY, which
        // the binder made the event-time column if the input has one.
        if rows.order.is_some() {
            rows.sorted = Some(match input_has_time {
                true => Release::AtWatermark,
                false => Release::AtEnd,
            });
        }
    }
    if plan.needs_arrival_order() {
        return Err(unsupported(
            &source.relation,
            "row windows without an ORDER BY column (and FIRST_VALUE/LAST_VALUE without an \
             event time) over a subquery are not supported: their results depend on the order \
             rows arrive in, which the exchange between stages does not keep",
        ));
    }
    plan.upstream = Some(Box::new(source.plan));
    Ok(plan)
}

/// `first UNION ALL second`: one stage running both, each on its own input.
fn union_all(
    mut first: QueryPlan,
    second: QueryPlan,
    at: &ast::SetExpr,
) -> Result<QueryPlan, SqlError> {
    let simple = |p: &QueryPlan| p.upstream.is_none() && p.join.is_none() && p.union.is_none();
    if !simple(&first) || !simple(&second) {
        return Err(unsupported(
            at,
            "UNION ALL combines queries over one input each, without joins or subqueries, for now",
        ));
    }
    if first.inputs[0]
        .name
        .eq_ignore_ascii_case(&second.inputs[0].name)
    {
        return Err(unsupported(
            at,
            "both sides of UNION ALL read the same input: read it once (e.g. with CASE or OR)",
        ));
    }
    let types =
        |p: &QueryPlan| -> Vec<_> { p.output_schema.fields.iter().map(|f| f.data_type).collect() };
    if types(&first) != types(&second) {
        return Err(super::bind::error_at(
            at,
            crate::error::SqlErrorKind::TypeMismatch,
            format!(
                "UNION ALL needs the same column types on both sides: ({}) and ({})",
                first.output_schema.describe(),
                second.output_schema.describe()
            ),
        ));
    }
    if first.emit != second.emit {
        return Err(unsupported(
            at,
            "both sides of UNION ALL must emit alike (both windowed, or neither)",
        ));
    }
    first.inputs.push(second.inputs[0].clone());
    first.union = Some(Box::new(second));
    Ok(first)
}

/// A derived table a query reads, planned as an earlier stage.
pub(super) struct Derived {
    /// The stage computing it.
    pub plan: QueryPlan,
    /// Its output as the one input of the stage that reads it.
    pub input: CatalogInput,
    /// Its rows change until end of input (an aggregate without a window).
    pub updating: bool,
    /// Where it stands in FROM, for errors.
    pub relation: ast::TableFactor,
}

/// Plans the derived table `query`'s FROM reads, if it reads one.
pub(super) fn read_derived(
    query: &ParsedQuery,
    catalog: &[CatalogInput],
    ctes: &[(String, ast::Query)],
) -> Result<Option<Derived>, SqlError> {
    let Some((name, inner, relation)) = derived_table(&query.query, ctes) else {
        return Ok(None);
    };
    derive(name, inner, relation, query, catalog, ctes).map(Some)
}

/// Plans `inner`, a derived table named `name` that `query` reads, as the
/// stages that compute it.
pub(super) fn derive(
    name: String,
    inner: ast::Query,
    relation: ast::TableFactor,
    query: &ParsedQuery,
    catalog: &[CatalogInput],
    ctes: &[(String, ast::Query)],
) -> Result<Derived, SqlError> {
    let inner = ParsedQuery {
        query: Box::new(inner),
        emit: None,
        window: None,
        final_rows: query.final_rows || query.emit == Some(EmitMode::Final),
        ..query.clone()
    };
    let mut plan = plan_stages(&inner, catalog, ctes)?;
    let updating = matches!(&plan.body, PlanBody::Aggregate(a) if a.window.is_none());
    if matches!(plan.body, PlanBody::Aggregate(_)) {
        plan.emit = EmitMode::Final;
    }
    let input = CatalogInput {
        name: Some(name),
        schema: plan.output_schema.clone(),
        kind: InputKind::Stream,
        time: PlanOptions {
            event_time: time_column(&plan),
            ..PlanOptions::default()
        },
        idle_timeout: None,
        bounded: false,
        closes_by_time: plan.windowed() && time_column(&plan).is_some(),
    };
    Ok(Derived {
        plan,
        input,
        updating,
        relation,
    })
}

/// The derived table the query's FROM reads, if it reads one: its name, its
/// query, and the relation (for errors).
pub(super) fn derived_table(
    query: &ast::Query,
    ctes: &[(String, ast::Query)],
) -> Option<(String, ast::Query, ast::TableFactor)> {
    let ast::SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let (name, query) = derived_relation(&from.relation, ctes)?;
    Some((name, query, from.relation.clone()))
}

/// The name and query of `factor` when it is a derived table: a subquery,
/// or a name from WITH.
pub(super) fn derived_relation(
    factor: &ast::TableFactor,
    ctes: &[(String, ast::Query)],
) -> Option<(String, ast::Query)> {
    match factor {
        ast::TableFactor::Derived {
            subquery, alias, ..
        } => {
            let name = alias
                .as_ref()
                .map_or("subquery".to_owned(), |a| a.name.value.clone());
            Some((name, (**subquery).clone()))
        }
        ast::TableFactor::Table { name, .. } => {
            let written = name.to_string();
            let (_, cte) = ctes
                .iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case(&written))?;
            Some((written, cte.clone()))
        }
        _ => None,
    }
}

/// The name of the output column that carries `plan`'s event time: a
/// windowed aggregate's `window_end`, or the event-time column selected
/// unchanged.
fn time_column(plan: &QueryPlan) -> Option<String> {
    let (project, source) = match &plan.body {
        // A GROUP BY on the end of closed windows (a window 1 ms long at
        // each end): the key carries the time, and its rows leave before
        // the watermark passes it.
        PlanBody::Aggregate(a) if a.window.is_some_and(closes_by_time) => {
            let time = a.window.and_then(|w| w.time_column)?;
            let key = a
                .keys
                .iter()
                .position(|k| matches!(k, Expr::Column { index, .. } if *index == time))?;
            (&a.project, key)
        }
        PlanBody::Aggregate(a) if a.window.is_some() => (&a.project, a.keys.len() + 1),
        PlanBody::Project(project) => (project, plan.watermarking.time_column?),
        _ => return None,
    };
    let at = project
        .iter()
        .position(|e| matches!(e, Expr::Column { index, .. } if *index == source))?;
    Some(plan.output_schema.fields[at].name.clone())
}

/// Whether `window` is the 1 ms window a GROUP BY on the end of closed
/// windows runs in (see `closes_by_time` in the binder).
fn closes_by_time(window: WindowSpec) -> bool {
    matches!(window.kind, WindowKind::Tumbling { size: 1 })
}
