//! Binding: names to columns, types checked, aggregates found; the result is a
//! [`QueryPlan`].

use super::binder::{Binder, Grouping, OverBinding};
use super::from::{bind_from, CatalogInput};
use super::group_window::{group_window_kind, window_from_clause, window_function};
use super::join_plan::{distribute, plan_join};
use super::parse::{EmitMode, ParsedQuery};
use super::plan::{
    AggFunc, AggregatePlan, InputPlan, JoinKind, Partitioning, PlanBody, QueryPlan, RowWindowPlan,
    Watermarking, WindowKind, WindowSpec,
};
use crate::data::{DataType, Field, Schema};
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::accumulator::SpreadKind;
use crate::exec::expr::{BinaryOp, Expr};
use crate::exec::scalar::ScalarFunc;
use sqlparser::ast::{self, Spanned};
use sqlparser::tokenizer::Span;

/// Binds a parsed query against the input stream `schema`.
///
/// `input_name` is the stream's name; `None` accepts any name in FROM (a run
/// with a single input).
pub fn plan_query(
    parsed: &ParsedQuery,
    input_name: Option<&str>,
    schema: &Schema,
) -> Result<QueryPlan, SqlError> {
    plan_query_with(parsed, input_name, schema, &PlanOptions::default())
}

/// Settings that come from outside the query text (flags or DDL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// The event-time column; windows use processing time without one.
    pub event_time: Option<String>,
    /// Milliseconds the watermark trails the largest event time seen.
    pub max_out_of_orderness: i64,
    /// Milliseconds a row may be behind the watermark and still count.
    pub allowed_lateness: i64,
    /// Milliseconds of event time a regular join of two streams keeps a
    /// row for (`--state-ttl`): it then joins rows at most this far apart.
    pub state_ttl: Option<i64>,
}

/// [`plan_query`] with event-time settings.
pub fn plan_query_with(
    parsed: &ParsedQuery,
    input_name: Option<&str>,
    schema: &Schema,
    options: &PlanOptions,
) -> Result<QueryPlan, SqlError> {
    plan_inputs(parsed, &[CatalogInput::single(input_name, schema, options)])
}

/// Binds a parsed query against the inputs it may name.
pub fn plan_inputs(parsed: &ParsedQuery, catalog: &[CatalogInput]) -> Result<QueryPlan, SqlError> {
    super::stages::plan_stages(parsed, catalog, &[]).map_err(|e| e.in_sql(&parsed.sql))
}

pub(super) fn unsupported(node: &impl Spanned, what: impl Into<String>) -> SqlError {
    error_at(node, SqlErrorKind::Unsupported, what)
}

pub(super) fn error_at(
    node: &impl Spanned,
    kind: SqlErrorKind,
    message: impl Into<String>,
) -> SqlError {
    span_error(node.span(), kind, message)
}

pub(super) fn span_error(span: Span, kind: SqlErrorKind, message: impl Into<String>) -> SqlError {
    SqlError::new(
        kind,
        message,
        span.start.line as usize,
        span.start.column as usize,
    )
}

/// Plans one SELECT over `catalog` (its WITH, if any, is the caller's).
pub(super) fn plan_select(
    parsed: &ParsedQuery,
    catalog: &[CatalogInput],
) -> Result<QueryPlan, SqlError> {
    let query = &parsed.query;
    if let Some(order_by) = &query.order_by {
        return Err(unsupported(
            order_by,
            "ORDER BY is not supported on an unbounded stream",
        ));
    }
    if let Some(limit) = &query.limit_clause {
        return Err(unsupported(limit, "LIMIT is not supported on a stream yet"));
    }
    let select = match query.body.as_ref() {
        ast::SetExpr::Select(select) => select,
        other => return Err(unsupported(other, "only a single SELECT is supported")),
    };
    if select.distinct.is_some() {
        return Err(span_error(
            select.select_token.0.span,
            SqlErrorKind::Unsupported,
            "SELECT DISTINCT is not supported yet",
        ));
    }
    let from = bind_from(select, catalog, &parsed.joins)?;
    let primary = &catalog[from.scopes[0].input];
    let mut options = primary.time.clone();
    let schema = &from.schema;
    let mut binder = Binder {
        schema,
        scopes: from.scopes.clone(),
        event_time: None,
        over: None,
        grouping: None,
    };
    let mut join = match &from.join {
        Some(clause) => Some(plan_join(
            &mut binder,
            &from,
            clause,
            catalog,
            select.selection.as_ref(),
            primary.time.state_ttl.or(parsed.settings.state_ttl),
        )?),
        None => None,
    };
    // An ASOF join's left time column is the primary input's event time,
    // unless it declares another.
    if let Some(t) = join.as_ref().and_then(|(j, _)| j.left_time) {
        let name = &schema.fields[t].name;
        match &options.event_time {
            None => options.event_time = Some(name.clone()),
            Some(declared) if declared.eq_ignore_ascii_case(name) => {}
            Some(declared) => {
                return Err(SqlError::new(
                    SqlErrorKind::Unsupported,
                    format!(
                        "the join's time column `{name}` is not the event-time column `{declared}` of `{}`",
                        from.scopes[0].name
                    ),
                    1,
                    1,
                ))
            }
        }
    }

    // An inner interval join enforces the time bound WHERE states.
    let interval = join
        .as_ref()
        .is_some_and(|(j, _)| j.kind == JoinKind::Interval && !j.outer);
    let mut filter = None;
    if let Some(w) = &select.selection {
        let mut parts = Vec::new();
        match interval {
            true => super::join_plan::conjuncts(w, &mut parts),
            false => parts.push(w),
        }
        for part in parts {
            if interval && super::join_plan::is_time_bound(&mut binder, &from, catalog, part)? {
                continue;
            }
            let bound = binder.bind_predicate(part, "WHERE")?;
            filter = Some(match filter {
                None => bound,
                Some(acc) => Expr::Binary {
                    op: BinaryOp::And,
                    left: Box::new(acc),
                    right: Box::new(bound),
                    data_type: DataType::Bool,
                },
            });
        }
    }
    if let Some((_, Some(extra))) = join.as_mut().map(|(j, residual)| (j, residual.take())) {
        filter = Some(match filter {
            None => extra,
            Some(w) => Expr::Binary {
                op: BinaryOp::And,
                left: Box::new(w),
                right: Box::new(extra),
                data_type: DataType::Bool,
            },
        });
    }
    let options = &options;

    let group_exprs: &[ast::Expr] = match &select.group_by {
        ast::GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return Err(unsupported(
                    &exprs[0],
                    "GROUP BY modifiers are not supported",
                ));
            }
            exprs
        }
        ast::GroupByExpr::All(_) => {
            return Err(span_error(
                select.select_token.0.span,
                SqlErrorKind::Unsupported,
                "GROUP BY ALL is not supported",
            ))
        }
    };
    let event_time = match &options.event_time {
        Some(name) => Some(primary.schema.index_of(name).ok_or_else(|| {
            let columns: Vec<&str> = primary
                .schema
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .collect();
            SqlError::unplaced(
                SqlErrorKind::UnknownColumn,
                format!(
                    "--event-time: no column \"{name}\"; columns are: {}",
                    columns.join(", ")
                ),
            )
        })?),
        None => None,
    };
    let mut window: Option<WindowSpec> = None;
    let mut key_exprs: Vec<&ast::Expr> = Vec::new();
    for e in group_exprs {
        match e {
            ast::Expr::Function(f) if group_window_kind(&f.name.to_string()).is_some() => {
                if window.is_some() {
                    return Err(unsupported(e, "a query has at most one window"));
                }
                window = Some(window_function(f, e, &from)?);
            }
            _ => key_exprs.push(e),
        }
    }
    if let Some(clause) = &parsed.window {
        if window.is_some() {
            return Err(SqlError::new(
                SqlErrorKind::Unsupported,
                "a query has at most one window (GROUP BY TUMBLE(...) or WINDOW ..., not both)",
                clause.line,
                clause.column,
            ));
        }
        window = Some(window_from_clause(clause, &from)?);
    }
    // Over closed windows of an earlier stage, a GROUP BY on their end (the
    // event time) completes a group once the watermark passes that end: a
    // window 1 ms long at that end, one per end.
    if let (None, true, Some(tc)) = (window, primary.closes_by_time, event_time) {
        if key_exprs
            .iter()
            .any(|e| from.resolve(&e.to_string()) == Some(tc))
        {
            window = Some(WindowSpec {
                kind: WindowKind::Tumbling { size: 1 },
                time_column: Some(tc),
            });
        }
    }
    if let Some(w) = &mut window {
        // A time column the window names was checked where it is named
        // (`window_function`, `window_from_clause`); this one is the flag's.
        if w.time_column.is_none() {
            w.time_column = event_time;
            if let Some(c) = event_time {
                let t = schema.fields[c].data_type;
                if !matches!(t, DataType::Int64 | DataType::Timestamp) {
                    return Err(SqlError::unplaced(
                        SqlErrorKind::TypeMismatch,
                        format!(
                            "--event-time: column \"{}\" is {t}; a window's time column must be \
                             TIMESTAMP or BIGINT epoch milliseconds",
                            schema.fields[c].name
                        ),
                    ));
                }
            }
        }
    }
    let watermarking = Watermarking {
        time_column: window.and_then(|w| w.time_column).or(event_time),
        max_out_of_orderness: options.max_out_of_orderness,
        allowed_lateness: options.allowed_lateness,
    };
    binder.event_time = watermarking.time_column.map(|index| Expr::Column {
        index,
        data_type: schema.fields[index].data_type,
    });
    let aggregating = window.is_some()
        || !group_exprs.is_empty()
        || select.having.is_some()
        || select.projection.iter().any(|item| match item {
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                contains_aggregate(e)
            }
            _ => false,
        });

    let first_over = first_over(select);
    if let Some(over) = &first_over {
        if aggregating {
            return Err(unsupported(
                over,
                "window functions (OVER) cannot be combined with GROUP BY or aggregates",
            ));
        }
        if parsed.emit == Some(EmitMode::Final) {
            return Err(unsupported(
                over,
                "EMIT FINAL does not apply to a row window: every row is emitted once, as it completes",
            ));
        }
        binder.over = Some(OverBinding {
            input_width: schema.fields.len(),
            partition: None,
            order: None,
            calls: Vec::new(),
        });
    }

    let (body, output_schema, partitioning, emit) = if aggregating {
        let keys = key_exprs
            .iter()
            .map(|e| binder.bind(e))
            .collect::<Result<Vec<_>, _>>()?;
        binder.grouping = Some(Grouping {
            keys: keys.clone(),
            aggs: Vec::new(),
            windowed: window.is_some(),
        });
        let mut project = Vec::new();
        let mut fields = Vec::new();
        for item in &select.projection {
            let (expr, name) = match item {
                ast::SelectItem::UnnamedExpr(e) => (e, output_name(e)),
                ast::SelectItem::ExprWithAlias { expr, alias } => (expr, alias.value.clone()),
                other => {
                    return Err(unsupported(
                        other,
                        "`*` cannot be used with GROUP BY; list the columns",
                    ))
                }
            };
            let bound = binder.bind(expr)?;
            fields.push(Field::new(name, bound.data_type()));
            project.push(bound);
        }
        let having = match &select.having {
            Some(h) => Some(binder.bind_predicate(h, "HAVING")?),
            None => None,
        };
        let grouping = binder.grouping.take().expect("set above");
        let mut partition_keys = grouping.keys.clone();
        // An event-time tumbling window's groups are (keys, window): a
        // window's rows of a key go to one shard, and a key's windows spread
        // over the shards as time passes, so that a few hot keys (or none)
        // do not pin the work to a few shards.
        if let Some(WindowSpec {
            kind: WindowKind::Tumbling { size },
            time_column: Some(c),
        }) = window
        {
            partition_keys.push(Expr::Call {
                func: ScalarFunc::TumbleStart(size),
                args: vec![Expr::Column {
                    index: c,
                    data_type: schema.fields[c].data_type,
                }],
                data_type: DataType::Timestamp,
            });
        }
        let partitioning = if partition_keys.is_empty() {
            Partitioning::Single
        } else {
            Partitioning::ByKey(partition_keys)
        };
        let body = PlanBody::Aggregate(AggregatePlan {
            keys: grouping.keys,
            aggs: grouping.aggs,
            having,
            project,
            window,
        });
        let default_emit = if window.is_some() {
            EmitMode::Final
        } else {
            EmitMode::Changes
        };
        (
            body,
            Schema::new(fields),
            partitioning,
            parsed.emit.unwrap_or(default_emit),
        )
    } else {
        let mut project = Vec::new();
        let mut fields = Vec::new();
        for item in &select.projection {
            match item {
                ast::SelectItem::Wildcard(_) => {
                    for (i, f) in schema.fields.iter().enumerate() {
                        project.push(Expr::Column {
                            index: i,
                            data_type: f.data_type,
                        });
                        fields.push(f.clone());
                    }
                }
                ast::SelectItem::UnnamedExpr(e) => {
                    let bound = binder.bind(e)?;
                    fields.push(Field::new(output_name(e), bound.data_type()));
                    project.push(bound);
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    let bound = binder.bind(expr)?;
                    fields.push(Field::new(alias.value.clone(), bound.data_type()));
                    project.push(bound);
                }
                other => return Err(unsupported(other, "this select item is not supported")),
            }
        }
        let (body, partitioning) = match binder.over.take() {
            Some(over) => {
                let partition = over.partition.unwrap_or_default();
                let partitioning = if partition.is_empty() {
                    Partitioning::Single
                } else {
                    Partitioning::ByKey(partition.clone())
                };
                let body = PlanBody::RowWindow(RowWindowPlan {
                    partition,
                    order: over.order,
                    sorted: None,
                    calls: over.calls,
                    project,
                });
                (body, partitioning)
            }
            None => (PlanBody::Project(project), Partitioning::RoundRobin),
        };
        (
            body,
            Schema::new(fields),
            partitioning,
            parsed.emit.unwrap_or(EmitMode::Changes),
        )
    };

    let windowed = matches!(&body, PlanBody::Aggregate(a) if a.window.is_some());
    let left_watermarks = (windowed || join.is_some()).then_some(watermarking);
    let mut inputs = vec![InputPlan {
        name: from.scopes[0].name.clone(),
        schema: primary.schema.clone(),
        partitioning: partitioning.clone(),
        watermarking: left_watermarks,
        primary_key: None,
        idle_timeout: primary.idle_timeout,
    }];
    let mut rekey = false;
    let join = match join {
        None => None,
        Some((mut join, _)) => {
            let scope = &from.scopes[1];
            let right = &catalog[scope.input];
            let (left, right_partitioning, split) =
                distribute(&mut join, &partitioning, scope.offset);
            rekey = split;
            inputs[0].partitioning = left;
            let right_time = join.right_time.or_else(|| {
                right
                    .time
                    .event_time
                    .as_ref()
                    .and_then(|c| right.schema.index_of(c))
            });
            inputs.push(InputPlan {
                name: scope.name.clone(),
                schema: right.schema.clone(),
                partitioning: right_partitioning,
                watermarking: Some(Watermarking {
                    time_column: right_time,
                    max_out_of_orderness: right.time.max_out_of_orderness,
                    allowed_lateness: right.time.allowed_lateness,
                }),
                primary_key: match &right.kind {
                    super::InputKind::Table { primary_key } => Some(primary_key.clone()),
                    super::InputKind::Stream => None,
                },
                idle_timeout: right.idle_timeout,
            });
            Some(join)
        }
    };
    let mut plan = QueryPlan {
        source_name: from.scopes[0].name.clone(),
        input_schema: schema.clone(),
        partitioning: inputs[0].partitioning.clone(),
        inputs,
        join,
        union: None,
        upstream: None,
        joined_upstream: None,
        filter,
        body,
        output_schema,
        emit,
        watermarking,
    };
    if rekey {
        plan = rekeyed(plan, partitioning);
    }
    Ok(plan)
}

/// `plan` as two stages: its join (and WHERE), emitting the joined rows,
/// then, over the exchange re-keyed by `after`, what follows the join.
fn rekeyed(mut join: QueryPlan, after: Partitioning) -> QueryPlan {
    let joined = join.input_schema.clone();
    let every_column = joined
        .fields
        .iter()
        .enumerate()
        .map(|(index, f)| Expr::Column {
            index,
            data_type: f.data_type,
        })
        .collect();
    let body = std::mem::replace(&mut join.body, PlanBody::Project(every_column));
    let output_schema = std::mem::replace(&mut join.output_schema, joined.clone());
    let emit = std::mem::replace(&mut join.emit, EmitMode::Changes);
    let watermarking = join.watermarking;
    QueryPlan {
        source_name: "the join".to_owned(),
        input_schema: joined.clone(),
        inputs: vec![InputPlan {
            name: "the join".to_owned(),
            schema: joined,
            partitioning: after.clone(),
            watermarking: Some(watermarking),
            primary_key: None,
            idle_timeout: None,
        }],
        join: None,
        union: None,
        upstream: Some(Box::new(join)),
        joined_upstream: None,
        partitioning: after,
        filter: None,
        body,
        output_schema,
        emit,
        watermarking,
    }
}

/// The name of an unaliased select item: its column name, else its text.
pub(super) fn output_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => id.value.clone(),
        ast::Expr::CompoundIdentifier(ids) => {
            ids.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

pub(super) fn aggregate_func(name: &str) -> Option<AggFunc> {
    let spread = |sample, sqrt| AggFunc::Spread(SpreadKind { sample, sqrt });
    Some(match name.to_ascii_uppercase().as_str() {
        "COUNT" => AggFunc::Count,
        "SUM" => AggFunc::Sum,
        "AVG" => AggFunc::Avg,
        "MIN" => AggFunc::Min,
        "MAX" => AggFunc::Max,
        "STDDEV" | "STDDEV_SAMP" => spread(true, true),
        "STDDEV_POP" => spread(false, true),
        "VARIANCE" | "VAR_SAMP" => spread(true, false),
        "VAR_POP" => spread(false, false),
        "FIRST_VALUE" => AggFunc::FirstValue,
        "LAST_VALUE" => AggFunc::LastValue,
        _ => return None,
    })
}

/// The first window function call (`... OVER`) of `select`'s select list.
pub(super) fn first_over(select: &ast::Select) -> Option<ast::Expr> {
    select.projection.iter().find_map(|item| match item {
        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
            find_over(e)
        }
        _ => None,
    })
}

/// The first window function call (`... OVER (...)`) in `e`.
pub(super) fn find_over(e: &ast::Expr) -> Option<ast::Expr> {
    // The visitor breaks with `()`, not the `Expr`: the derived visit has a
    // slot for the break value at every call site, and with an `Expr` there a
    // debug build spent ~100 KB of stack per nesting level (tests/fuzz.rs).
    let mut found = None;
    let _ = ast::visit_expressions(e, |e: &ast::Expr| match e {
        ast::Expr::Function(f) if f.over.is_some() => {
            found = Some(e.clone());
            std::ops::ControlFlow::Break(())
        }
        _ => std::ops::ControlFlow::Continue(()),
    });
    found
}

pub(super) fn contains_aggregate(e: &ast::Expr) -> bool {
    let mut found = false;
    let _ = ast::visit_expressions(e, |e: &ast::Expr| {
        if let ast::Expr::Function(f) = e {
            if f.over.is_none() && aggregate_func(&f.name.to_string()).is_some() {
                found = true;
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_of_a_hundred_operators_plans_on_a_small_stack() {
        // Found by tests/fuzz.rs: `find_over` broke its visit with the whole
        // `Expr`, and a debug build overflowed a 2 MiB stack at 20 `+`.
        let sql = format!("SELECT price{} FROM trades", " + 1".repeat(100));
        let planned = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let parsed = crate::sql::parse(&sql).unwrap();
                plan_query(&parsed, None, &crate::io::generator::trades_schema()).is_ok()
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(planned);
    }
}
