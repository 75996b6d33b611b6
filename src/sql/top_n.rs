//! Binding Top-N, written the Flink way:
//!
//! ```sql
//! SELECT * FROM (
//!   SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY n DESC) AS rn
//!   FROM (SELECT ... GROUP BY ..., TUMBLE(...)) w
//! ) WHERE rn <= 3
//! ```
//!
//! The ranking subquery selects columns of its input (or `*`) and the row
//! number; the outer query selects its columns and keeps `rn <= N` (or
//! `rn < N`, `rn = 1`). The plan is one stage with a Top-N body over the
//! ranking subquery's input. A group is complete, and emitted, once the
//! watermark passes the end of the closed window its key includes; over an
//! input without windows only at end of input, under `EMIT FINAL` (ranking
//! rows as they arrive would need retractions).

use super::bind::{error_at, unsupported};
use super::binder::Binder;
use super::from::{bind_from, CatalogInput};
use super::parse::{EmitMode, ParsedQuery};
use super::plan::{InputPlan, Partitioning, PlanBody, QueryPlan, TopNPlan, Watermarking};
use super::stages::{derived_table, read_derived};
use crate::data::{DataType, Field, Schema};
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::expr::Expr;
use sqlparser::ast;

/// Plans `outer` as a Top-N if it is written as one (see the module docs);
/// `None` if it is not.
pub(super) fn plan_top_n(
    outer: &ParsedQuery,
    catalog: &[CatalogInput],
    ctes: &[(String, ast::Query)],
) -> Option<Result<QueryPlan, SqlError>> {
    let ast::SetExpr::Select(select) = outer.query.body.as_ref() else {
        return None;
    };
    let (_, ranking, _) = derived_table(&outer.query, ctes)?;
    let ast::SetExpr::Select(inner) = ranking.body.as_ref() else {
        return None;
    };
    let (rn, spec) = inner.projection.iter().find_map(row_number)?;
    Some(plan(
        outer, select, &ranking, inner, rn, spec, catalog, ctes,
    ))
}

/// `ROW_NUMBER() OVER (...) AS rn`: the alias and the window.
fn row_number(item: &ast::SelectItem) -> Option<(&ast::Ident, &ast::WindowSpec)> {
    let ast::SelectItem::ExprWithAlias {
        expr: ast::Expr::Function(f),
        alias,
    } = item
    else {
        return None;
    };
    match &f.over {
        Some(ast::WindowType::WindowSpec(spec))
            if f.name.to_string().eq_ignore_ascii_case("ROW_NUMBER") =>
        {
            Some((alias, spec))
        }
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)] // the query's parts, each needed once
fn plan(
    outer: &ParsedQuery,
    select: &ast::Select,
    ranking: &ast::Query,
    inner: &ast::Select,
    rn: &ast::Ident,
    spec: &ast::WindowSpec,
    catalog: &[CatalogInput],
    ctes: &[(String, ast::Query)],
) -> Result<QueryPlan, SqlError> {
    let limit = match &select.selection {
        Some(w) => limit_of(w, rn)?,
        None => {
            return Err(unsupported(
                &select.projection[0],
                format!("a Top-N query keeps WHERE {} <= N", rn.value),
            ))
        }
    };
    if inner.selection.is_some()
        || !matches!(&inner.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty())
    {
        return Err(unsupported(
            &inner.projection[0],
            "a ranking subquery selects and ranks; filter or aggregate in a subquery of its own",
        ));
    }
    let ranking = ParsedQuery {
        query: Box::new(ranking.clone()),
        emit: None,
        window: None,
        ..outer.clone()
    };
    let derived = read_derived(&ranking, catalog, ctes)?;
    let source: Vec<CatalogInput> = match &derived {
        Some(d) => vec![d.input.clone()],
        None => catalog.to_vec(),
    };
    let from = bind_from(inner, &source, &outer.joins)?;
    if let Some(join) = &from.join {
        return Err(unsupported(
            join.relation,
            "a ranking subquery reads one input: join in a subquery of its own",
        ));
    }
    let mut binder = Binder::over(&from);
    let partition = spec
        .partition_by
        .iter()
        .map(|e| binder.bind(e))
        .collect::<Result<Vec<_>, _>>()?;
    let order = spec
        .order_by
        .iter()
        .map(|o| Ok((binder.bind(&o.expr)?, o.options.asc == Some(false))))
        .collect::<Result<Vec<_>, SqlError>>()?;
    if order.is_empty() {
        return Err(unsupported(
            &inner.projection[0],
            "ROW_NUMBER() for a Top-N needs ORDER BY in its OVER (...)",
        ));
    }
    // The ranking subquery's columns: (name, index into input columns + rn).
    let width = from.schema.fields.len();
    let mut columns: Vec<(String, usize)> = Vec::new();
    for item in &inner.projection {
        match item {
            ast::SelectItem::Wildcard(_) => columns.extend(
                from.schema
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.name.clone(), i)),
            ),
            ast::SelectItem::ExprWithAlias { alias, .. } if alias.value == rn.value => {
                columns.push((rn.value.clone(), width))
            }
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                let name = match item {
                    ast::SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                    _ => e
                        .to_string()
                        .rsplit('.')
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                };
                match binder.bind(e)?.column_index() {
                    Some(i) => columns.push((name, i)),
                    None => {
                        return Err(unsupported(
                            e,
                            "a ranking subquery selects columns of its input; compute in a subquery of its own",
                        ))
                    }
                }
            }
            other => return Err(unsupported(other, "this select item is not supported here")),
        }
    }
    let type_of = |i: usize| match i == width {
        true => DataType::Int64,
        false => from.schema.fields[i].data_type,
    };
    let mut project = Vec::new();
    let mut fields = Vec::new();
    let mut pick = |name: String, index: usize| {
        project.push(Expr::Column {
            index,
            data_type: type_of(index),
        });
        fields.push(Field::new(name, type_of(index)));
    };
    for item in &select.projection {
        let (e, alias) = match item {
            ast::SelectItem::Wildcard(_) => {
                columns.iter().for_each(|(n, i)| pick(n.clone(), *i));
                continue;
            }
            ast::SelectItem::UnnamedExpr(e) => (e, None),
            ast::SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            other => return Err(unsupported(other, "this select item is not supported here")),
        };
        let written = match e {
            ast::Expr::Identifier(id) => &id.value,
            ast::Expr::CompoundIdentifier(ids) => &ids[ids.len() - 1].value,
            _ => {
                return Err(unsupported(
                    e,
                    "a Top-N query selects columns of its ranking subquery",
                ))
            }
        };
        let Some((name, index)) = columns
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(written))
        else {
            return Err(error_at(
                e,
                SqlErrorKind::UnknownColumn,
                format!("no column `{written}` in the ranking subquery"),
            ));
        };
        pick(alias.unwrap_or_else(|| name.clone()), *index);
    }
    let primary = &source[from.scopes[0].input];
    let time = primary
        .time
        .event_time
        .as_ref()
        .and_then(|c| primary.schema.index_of(c));
    let close_time = time.filter(|&t| {
        primary.closes_by_time && partition.iter().any(|p| p.column_index() == Some(t))
    });
    if close_time.is_none() && outer.emit != Some(EmitMode::Final) && !outer.final_rows {
        return Err(unsupported(
            &inner.projection[0],
            "this Top-N's groups never close, so its ranks change as rows arrive, which needs \
             retractions: partition by the window bounds of a windowed subquery, or add EMIT FINAL \
             to rank at end of input",
        ));
    }
    let partitioning = match partition.is_empty() {
        true => Partitioning::Single,
        false => Partitioning::ByKey(partition.clone()),
    };
    let watermarking = Watermarking {
        time_column: time,
        max_out_of_orderness: primary.time.max_out_of_orderness,
        allowed_lateness: primary.time.allowed_lateness,
    };
    Ok(QueryPlan {
        source_name: from.scopes[0].name.clone(),
        input_schema: from.schema.clone(),
        inputs: vec![InputPlan {
            name: from.scopes[0].name.clone(),
            schema: primary.schema.clone(),
            partitioning: partitioning.clone(),
            watermarking: close_time.map(|_| watermarking),
            primary_key: None,
            idle_timeout: primary.idle_timeout,
        }],
        join: None,
        union: None,
        upstream: derived.map(|d| Box::new(d.plan)),
        joined_upstream: None,
        partitioning,
        filter: None,
        body: PlanBody::TopN(TopNPlan {
            partition,
            order,
            limit,
            close_time,
            project,
        }),
        output_schema: Schema::new(fields),
        emit: EmitMode::Final,
        watermarking,
    })
}

/// N of `rn <= N` (also `rn < N`, `rn = 1`, and the same turned around).
fn limit_of(w: &ast::Expr, rn: &ast::Ident) -> Result<usize, SqlError> {
    let bad = || {
        unsupported(
            w,
            format!(
                "a Top-N query keeps WHERE {} <= N, N a whole number",
                rn.value
            ),
        )
    };
    let ast::Expr::BinaryOp { left, op, right } = w else {
        return Err(bad());
    };
    let is_rn = |e: &ast::Expr| matches!(e, ast::Expr::Identifier(id) if id.value.eq_ignore_ascii_case(&rn.value));
    let number = |e: &ast::Expr| match e {
        ast::Expr::Value(v) => v.value.to_string().parse::<usize>().ok(),
        _ => None,
    };
    let (op, n) = match (is_rn(left), is_rn(right)) {
        (true, false) => (op.clone(), number(right).ok_or_else(bad)?),
        (false, true) => {
            let flipped = match op {
                ast::BinaryOperator::GtEq => ast::BinaryOperator::LtEq,
                ast::BinaryOperator::Gt => ast::BinaryOperator::Lt,
                other => other.clone(),
            };
            (flipped, number(left).ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    };
    let limit = match op {
        ast::BinaryOperator::LtEq => n,
        ast::BinaryOperator::Lt => n.saturating_sub(1),
        ast::BinaryOperator::Eq if n == 1 => 1,
        _ => return Err(bad()),
    };
    if limit == 0 || limit > 10_000 {
        return Err(unsupported(
            w,
            "a Top-N keeps between 1 and 10000 rows per group",
        ));
    }
    Ok(limit)
}
