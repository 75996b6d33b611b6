//! Binding: names to columns, types checked, aggregates found; the result is a
//! [`QueryPlan`].

use super::duration::parse_interval_ms;
use super::from::{bind_from, CatalogInput, FromClause, Scope};
use super::join_plan::{distribute, plan_join};
use super::parse::{EmitMode, ParsedQuery};
use super::plan::{
    AggCall, AggFunc, AggregatePlan, InputPlan, OverCall, OverFunc, Partitioning, PlanBody,
    QueryPlan, RowWindowPlan, Watermarking, WindowKind, WindowSpec,
};
use crate::data::{DataType, Field, Schema, Value};
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::accumulator::{output_type, SpreadKind};
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
            primary.time.state_ttl,
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

    let mut filter = match &select.selection {
        Some(w) => Some(binder.bind_predicate(w, "WHERE")?),
        None => None,
    };
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
            SqlError::new(
                SqlErrorKind::UnknownColumn,
                format!("the event-time column `{name}` is not a column of the input"),
                1,
                1,
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
        if w.time_column.is_none() {
            w.time_column = event_time;
        }
        if let Some(c) = w.time_column {
            let t = schema.fields[c].data_type;
            if !matches!(t, DataType::Int64 | DataType::Timestamp) {
                return Err(SqlError::new(
                    SqlErrorKind::TypeMismatch,
                    format!(
                        "the event-time column `{}` is {t}; it must be TIMESTAMP or BIGINT epoch milliseconds",
                        schema.fields[c].name
                    ),
                    1,
                    1,
                ));
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

    let first_over = select.projection.iter().find_map(|item| match item {
        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
            find_over(e)
        }
        _ => None,
    });
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
    let join = match join {
        None => None,
        Some((mut join, _)) => {
            let scope = &from.scopes[1];
            let right = &catalog[scope.input];
            let (left, right_partitioning) = distribute(&mut join, partitioning, scope.offset);
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
    Ok(QueryPlan {
        source_name: from.scopes[0].name.clone(),
        input_schema: schema.clone(),
        partitioning: inputs[0].partitioning.clone(),
        inputs,
        join,
        union: None,
        upstream: None,
        filter,
        body,
        output_schema,
        emit,
        watermarking,
    })
}

/// `TUMBLE`, `HOP` or `SESSION` in GROUP BY (the standard group-window syntax).
fn group_window_kind(name: &str) -> Option<&'static str> {
    match name.to_ascii_uppercase().as_str() {
        "TUMBLE" => Some("TUMBLE"),
        "HOP" => Some("HOP"),
        "SESSION" => Some("SESSION"),
        _ => None,
    }
}

/// A window argument: a duration (`5m`, `INTERVAL '1' MINUTE`) or the time column.
enum WindowArg {
    Duration(i64),
    Column(usize),
}

fn window_arg(
    text: &str,
    from: &FromClause<'_>,
    line: usize,
    column: usize,
) -> Result<WindowArg, SqlError> {
    if let Some(ms) = parse_interval_ms(text) {
        if ms <= 0 {
            return Err(SqlError::new(
                SqlErrorKind::Syntax,
                format!("window durations must be positive, found `{text}`"),
                line,
                column,
            ));
        }
        return Ok(WindowArg::Duration(ms));
    }
    match from.resolve(text) {
        Some(c) => Ok(WindowArg::Column(c)),
        None => Err(SqlError::new(
            SqlErrorKind::Syntax,
            format!("`{text}` is neither a duration (500ms, 30s, 5m, 1h, INTERVAL '1' MINUTE) nor a column"),
            line,
            column,
        )),
    }
}

/// Builds a window from its time column (optional) and durations.
fn window_spec(
    kind: &str,
    args: &[WindowArg],
    line: usize,
    column: usize,
) -> Result<WindowSpec, SqlError> {
    let (time_column, durations): (Option<usize>, Vec<i64>) = match args {
        [WindowArg::Column(c), rest @ ..] => (
            Some(*c),
            rest.iter()
                .map(duration_of)
                .collect::<Option<_>>()
                .unwrap_or_default(),
        ),
        rest => (
            None,
            rest.iter()
                .map(duration_of)
                .collect::<Option<_>>()
                .unwrap_or_default(),
        ),
    };
    let bad = |expected: &str| {
        SqlError::new(
            SqlErrorKind::Syntax,
            format!("{kind} takes {expected}"),
            line,
            column,
        )
    };
    let expected_len = args.len() - time_column.is_some() as usize;
    if durations.len() != expected_len {
        return Err(bad("durations after the optional time column"));
    }
    let kind = match (kind, durations.as_slice()) {
        ("TUMBLING" | "TUMBLE", [size]) => WindowKind::Tumbling { size: *size },
        ("SLIDING" | "HOPPING", [size, advance]) => WindowKind::Hopping {
            size: *size,
            advance: *advance,
        },
        // The standard HOP(time, slide, size) names the slide first.
        ("HOP", [advance, size]) => WindowKind::Hopping {
            size: *size,
            advance: *advance,
        },
        ("SESSION", [gap]) => WindowKind::Session { gap: *gap },
        ("TUMBLING" | "TUMBLE", _) => return Err(bad("one duration: the window size")),
        ("SLIDING" | "HOPPING", _) => return Err(bad("two durations: size, then advance")),
        ("HOP", _) => return Err(bad("two durations: slide, then size")),
        _ => return Err(bad("one duration: the gap")),
    };
    if let WindowKind::Hopping { size, advance } = kind {
        if advance > size || size % advance != 0 {
            return Err(bad("a size that is a whole multiple of the advance"));
        }
    }
    Ok(WindowSpec { kind, time_column })
}

fn duration_of(a: &WindowArg) -> Option<i64> {
    match a {
        WindowArg::Duration(d) => Some(*d),
        WindowArg::Column(_) => None,
    }
}

fn window_from_clause(
    clause: &super::WindowClause,
    from: &FromClause<'_>,
) -> Result<WindowSpec, SqlError> {
    let args = clause
        .args
        .iter()
        .map(|a| window_arg(a, from, clause.line, clause.column))
        .collect::<Result<Vec<_>, _>>()?;
    window_spec(&clause.kind, &args, clause.line, clause.column)
}

fn window_function(
    f: &ast::Function,
    e: &ast::Expr,
    from: &FromClause<'_>,
) -> Result<WindowSpec, SqlError> {
    let name = f.name.to_string().to_ascii_uppercase();
    let start = e.span().start;
    let (line, column) = (start.line as usize, start.column as usize);
    let ast::FunctionArguments::List(list) = &f.args else {
        return Err(unsupported(
            e,
            format!("{name} takes (time column, durations)"),
        ));
    };
    let args = list
        .args
        .iter()
        .map(|a| window_arg(&a.to_string(), from, line, column))
        .collect::<Result<Vec<_>, _>>()?;
    if !matches!(args.first(), Some(WindowArg::Column(_))) {
        return Err(unsupported(
            e,
            format!("{name} takes the time column first"),
        ));
    }
    window_spec(&name, &args, line, column)
}

/// The name of an unaliased select item: its column name, else its text.
fn output_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => id.value.clone(),
        ast::Expr::CompoundIdentifier(ids) => {
            ids.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

fn aggregate_func(name: &str) -> Option<AggFunc> {
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

/// The first window function call (`... OVER (...)`) in `e`.
fn find_over(e: &ast::Expr) -> Option<ast::Expr> {
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

fn contains_aggregate(e: &ast::Expr) -> bool {
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

/// The grouping in force while binding the select list of an aggregation.
struct Grouping {
    keys: Vec<Expr>,
    aggs: Vec<AggCall>,
    /// `window_start` and `window_end` follow the keys.
    windowed: bool,
}

impl Grouping {
    /// The grouped-schema index of the first aggregate.
    fn first_agg(&self) -> usize {
        self.keys.len() + if self.windowed { 2 } else { 0 }
    }

    /// `window_start` / `window_end` (or `TUMBLE_START(...)` ...) as a column.
    fn window_bound(&self, name: &str) -> Option<Expr> {
        if !self.windowed {
            return None;
        }
        let upper = name.to_ascii_uppercase();
        let offset = match upper.as_str() {
            "WINDOW_START" | "TUMBLE_START" | "HOP_START" | "SESSION_START" => 0,
            "WINDOW_END" | "TUMBLE_END" | "HOP_END" | "SESSION_END" => 1,
            _ => return None,
        };
        Some(Expr::Column {
            index: self.keys.len() + offset,
            data_type: DataType::Timestamp,
        })
    }
}

/// The window functions found while binding the select list of a row window.
struct OverBinding {
    /// Calls' results follow the input's columns.
    input_width: usize,
    /// The PARTITION BY every call shares (set by the first call).
    partition: Option<Vec<Expr>>,
    calls: Vec<OverCall>,
}

pub(super) struct Binder<'a> {
    /// The row expressions read: the joined row of FROM's relations.
    schema: &'a Schema,
    /// Where each relation's columns sit in that row.
    scopes: Vec<Scope>,
    /// `Some` while binding the select list of a row window.
    over: Option<OverBinding>,
    /// The event-time column, which orders `FIRST_VALUE` / `LAST_VALUE`.
    event_time: Option<Expr>,
    /// `Some` while binding over the grouped schema (keys, then aggregates).
    grouping: Option<Grouping>,
}

impl<'a> Binder<'a> {
    /// A binder over `from`'s joined row, outside any aggregation.
    pub(super) fn over(from: &'a FromClause<'_>) -> Binder<'a> {
        Binder {
            schema: &from.schema,
            scopes: from.scopes.clone(),
            event_time: None,
            over: None,
            grouping: None,
        }
    }

    fn bind_predicate(&mut self, e: &ast::Expr, clause: &str) -> Result<Expr, SqlError> {
        let bound = self.bind(e)?;
        if bound.data_type() != DataType::Bool {
            return Err(error_at(
                e,
                SqlErrorKind::TypeMismatch,
                format!(
                    "{clause} needs a BOOLEAN condition, found {}",
                    bound.data_type()
                ),
            ));
        }
        Ok(bound)
    }

    /// Binds `e`. Over a grouping, an expression equal to a group key becomes a
    /// reference to that key, and aggregate calls become references to their
    /// results.
    pub(super) fn bind(&mut self, e: &ast::Expr) -> Result<Expr, SqlError> {
        if let Some(grouping) = self.grouping.take() {
            let as_input = self.bind(e);
            self.grouping = Some(grouping);
            let grouping = self.grouping.as_ref().expect("restored above");
            if let Ok(bound) = as_input {
                if let Some(k) = grouping.keys.iter().position(|key| *key == bound) {
                    return Ok(Expr::Column {
                        index: k,
                        data_type: bound.data_type(),
                    });
                }
            }
        }
        match e {
            ast::Expr::Identifier(id) => self.column(std::slice::from_ref(id), e),
            ast::Expr::CompoundIdentifier(ids) => self.column(ids, e),
            ast::Expr::Nested(inner) => self.bind(inner),
            ast::Expr::Value(v) => literal(&v.value, e),
            e if super::scalar::is_special(e) => super::scalar::special(e, &mut |x| self.bind(x)),
            ast::Expr::BinaryOp { left, op, right } => {
                let op_kind = binary_op(op)
                    .ok_or_else(|| unsupported(e, format!("operator {op} is not supported yet")))?;
                let l = self.bind(left)?;
                let r = self.bind(right)?;
                binary(op_kind, l, r, e)
            }
            ast::Expr::UnaryOp { op, expr } => {
                let inner = self.bind(expr)?;
                match op {
                    ast::UnaryOperator::Not => {
                        expect_type(&inner, DataType::Bool, expr, "NOT")?;
                        Ok(Expr::Not(Box::new(inner)))
                    }
                    ast::UnaryOperator::Minus => {
                        if !inner.data_type().is_numeric() {
                            return Err(error_at(
                                expr.as_ref(),
                                SqlErrorKind::TypeMismatch,
                                format!("cannot negate a {}", inner.data_type()),
                            ));
                        }
                        Ok(Expr::Negate(Box::new(inner)))
                    }
                    ast::UnaryOperator::Plus => Ok(inner),
                    other => Err(unsupported(e, format!("operator {other} is not supported"))),
                }
            }
            ast::Expr::IsNull(inner) | ast::Expr::IsNotNull(inner) => Ok(Expr::IsNull {
                expr: Box::new(self.bind(inner)?),
                negated: matches!(e, ast::Expr::IsNotNull(_)),
            }),
            ast::Expr::Cast {
                expr, data_type, ..
            } => {
                let to = DataType::parse(&data_type.to_string())
                    .ok_or_else(|| unsupported(e, format!("type {data_type} is not supported")))?;
                Ok(Expr::Cast {
                    expr: Box::new(self.bind(expr)?),
                    to,
                })
            }
            ast::Expr::Function(f) => self.function(f, e),
            other => Err(unsupported(
                other,
                format!("expression `{other}` is not supported yet"),
            )),
        }
    }

    fn column(&mut self, ids: &[ast::Ident], e: &ast::Expr) -> Result<Expr, SqlError> {
        let (qualifier, name) = match ids {
            [name] => (None, name),
            [q, name] => (Some(q), name),
            _ => return Err(unsupported(e, "column names have at most one qualifier")),
        };
        let scopes: Vec<&Scope> = match qualifier {
            Some(q) => {
                let named: Vec<&Scope> = self
                    .scopes
                    .iter()
                    .filter(|s| s.is_named(&q.value))
                    .collect();
                if named.is_empty() {
                    let names: Vec<&str> = self.scopes.iter().map(|s| s.name.as_str()).collect();
                    let message = match names.as_slice() {
                        [one] => format!("`{}` is not the stream in FROM (`{one}`)", q.value),
                        _ => format!(
                            "`{}` is not a relation in FROM ({})",
                            q.value,
                            names.join(", ")
                        ),
                    };
                    return Err(span_error(q.span, SqlErrorKind::UnknownStream, message));
                }
                named
            }
            None => self.scopes.iter().collect(),
        };
        let window_name = self
            .grouping
            .as_ref()
            .and_then(|g| g.window_bound(&name.value));
        let found: Vec<usize> = scopes
            .iter()
            .filter_map(|s| {
                self.schema.fields[s.offset..s.offset + s.width]
                    .iter()
                    .position(|f| f.name.eq_ignore_ascii_case(&name.value))
                    .map(|i| s.offset + i)
            })
            .collect();
        let index = match found.as_slice() {
            [index] => *index,
            [] => {
                if let Some(bound) = window_name {
                    return Ok(bound);
                }
                let names: Vec<&str> = scopes
                    .iter()
                    .flat_map(|s| &self.schema.fields[s.offset..s.offset + s.width])
                    .map(|f| f.name.as_str())
                    .collect();
                let what = if self.scopes.len() > 1 {
                    "the inputs have"
                } else {
                    "the stream has"
                };
                return Err(span_error(
                    name.span,
                    SqlErrorKind::UnknownColumn,
                    format!("no column `{}`; {what}: {}", name.value, names.join(", ")),
                ));
            }
            _ => {
                return Err(span_error(
                    name.span,
                    SqlErrorKind::UnknownColumn,
                    format!(
                        "column `{}` is in more than one input; qualify it (e.g. {}.{})",
                        name.value, self.scopes[0].name, name.value
                    ),
                ))
            }
        };
        if self.grouping.is_some() {
            return Err(span_error(
                name.span,
                SqlErrorKind::UnknownColumn,
                format!(
                    "column `{}` must appear in GROUP BY or be used in an aggregate",
                    name.value
                ),
            ));
        }
        Ok(Expr::Column {
            index,
            data_type: self.schema.fields[index].data_type,
        })
    }

    fn function(&mut self, f: &ast::Function, e: &ast::Expr) -> Result<Expr, SqlError> {
        let name = f.name.to_string();
        if let Some(over) = &f.over {
            return self.over_call(f, over, e);
        }
        if let Some(bound) = super::scalar::function(f, e, &mut |x| self.bind(x))? {
            return Ok(bound);
        }
        if let Some(bound) = self.grouping.as_ref().and_then(|g| g.window_bound(&name)) {
            return Ok(bound);
        }
        let Some(func) = aggregate_func(&name) else {
            return Err(error_at(
                &f.name,
                SqlErrorKind::UnknownFunction,
                format!("no function named `{name}`"),
            ));
        };
        if self.grouping.is_none() {
            return Err(error_at(
                e,
                SqlErrorKind::Unsupported,
                format!("aggregate {name} is not allowed here"),
            ));
        }
        let list = match &f.args {
            ast::FunctionArguments::List(list) => list,
            _ => return Err(unsupported(e, format!("{name} takes one argument"))),
        };
        let distinct = list.duplicate_treatment == Some(ast::DuplicateTreatment::Distinct);
        let func = match func {
            AggFunc::Count if distinct => AggFunc::CountDistinct,
            AggFunc::Min | AggFunc::Max => func,
            _ if distinct => {
                return Err(unsupported(
                    e,
                    format!("{name}(DISTINCT ...) is not supported; only COUNT(DISTINCT x)"),
                ))
            }
            _ => func,
        };
        if f.filter.is_some() || !list.clauses.is_empty() {
            return Err(unsupported(
                e,
                format!("{name} with clauses is not supported"),
            ));
        }
        let (func, arg) = match list.args.as_slice() {
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard)]
                if func == AggFunc::Count =>
            {
                (AggFunc::CountStar, None)
            }
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg))] => {
                // Arguments are over the input rows, not the groups.
                let grouping = self.grouping.take();
                let bound = self.bind(arg);
                self.grouping = grouping;
                let bound = bound.map_err(|err| {
                    if contains_aggregate(arg) {
                        unsupported(arg, "aggregates cannot nest")
                    } else {
                        err
                    }
                })?;
                if matches!(func, AggFunc::Sum | AggFunc::Avg | AggFunc::Spread(_))
                    && !bound.data_type().is_numeric()
                {
                    return Err(error_at(
                        arg,
                        SqlErrorKind::TypeMismatch,
                        format!(
                            "{name} needs a numeric argument, found {}",
                            bound.data_type()
                        ),
                    ));
                }
                (func, Some(bound))
            }
            _ => return Err(unsupported(e, format!("{name} takes exactly one argument"))),
        };
        let out = output_type(func, arg.as_ref().map(|a| a.data_type()));
        let order = match func {
            AggFunc::FirstValue | AggFunc::LastValue => self.event_time.clone(),
            _ => None,
        };
        let grouping = self.grouping.as_mut().expect("checked above");
        let index = match grouping
            .aggs
            .iter()
            .position(|a| a.func == func && a.arg == arg)
        {
            Some(i) => i,
            None => {
                grouping.aggs.push(AggCall {
                    func,
                    arg,
                    order,
                    output_type: out,
                });
                grouping.aggs.len() - 1
            }
        };
        Ok(Expr::Column {
            index: grouping.first_agg() + index,
            data_type: out,
        })
    }
}

impl Binder<'_> {
    /// Binds `f(...) OVER (...)` in the select list of a row window.
    fn over_call(
        &mut self,
        f: &ast::Function,
        over: &ast::WindowType,
        e: &ast::Expr,
    ) -> Result<Expr, SqlError> {
        let name = f.name.to_string().to_ascii_uppercase();
        if self.over.is_none() {
            return Err(unsupported(
                e,
                "window functions (OVER) are only allowed in the select list",
            ));
        }
        let spec = match over {
            ast::WindowType::WindowSpec(spec) if spec.window_name.is_none() => spec,
            _ => {
                return Err(unsupported(
                    e,
                    "named windows are not supported; write OVER (...)",
                ))
            }
        };
        let partition = spec
            .partition_by
            .iter()
            .map(|p| self.bind(p))
            .collect::<Result<Vec<_>, _>>()?;
        let state = self.over.as_mut().expect("checked above");
        match &state.partition {
            None => state.partition = Some(partition),
            Some(first) if *first == partition => {}
            Some(_) => {
                return Err(unsupported(
                    e,
                    "all window functions of a query must share one PARTITION BY",
                ))
            }
        }
        self.over_order(spec)?;
        let preceding = over_frame(spec, e)?;
        let list = match &f.args {
            ast::FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(unsupported(
                        e,
                        format!("{name} with DISTINCT or clauses is not supported in OVER"),
                    ));
                }
                list.args.as_slice()
            }
            ast::FunctionArguments::None => &[],
            ast::FunctionArguments::Subquery(_) => {
                return Err(unsupported(e, "subqueries are not supported"))
            }
        };
        let mut args = Vec::new();
        let mut star = false;
        for a in list {
            match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg)) => {
                    if find_over(arg).is_some() {
                        return Err(unsupported(arg, "window functions cannot nest"));
                    }
                    args.push((self.bind(arg)?, arg));
                }
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                other => return Err(unsupported(other, "this argument form is not supported")),
            }
        }
        let (func, arg) = match name.as_str() {
            "ROW_NUMBER" if args.is_empty() && !star => (OverFunc::RowNumber, None),
            "ROW_NUMBER" => return Err(unsupported(e, "ROW_NUMBER() takes no arguments")),
            "LAG" | "LEAD" => {
                let Some((arg, _)) = args.first() else {
                    return Err(unsupported(e, format!("{name} needs an argument")));
                };
                if args.len() > 3 {
                    return Err(unsupported(e, format!("{name} takes at most 3 arguments")));
                }
                let offset = match args.get(1) {
                    None => 1,
                    Some((
                        Expr::Literal {
                            value: Value::Int64(n),
                            ..
                        },
                        _,
                    )) if *n >= 0 => *n as usize,
                    Some((_, node)) => {
                        return Err(unsupported(
                            *node,
                            format!("{name}'s offset must be a non-negative integer literal"),
                        ))
                    }
                };
                let default = match args.get(2).map(|(e, node)| (constant(e), node)) {
                    None => Value::Null,
                    Some((Some(value), node)) => {
                        let cast = crate::exec::expr::cast_value(value.clone(), arg.data_type());
                        if cast.is_null() && !value.is_null() {
                            return Err(error_at(
                                *node,
                                SqlErrorKind::TypeMismatch,
                                format!("{name}'s default must be a {}", arg.data_type()),
                            ));
                        }
                        cast
                    }
                    Some((_, node)) => {
                        return Err(unsupported(
                            *node,
                            format!("{name}'s default must be a literal"),
                        ))
                    }
                };
                let func = if name == "LAG" {
                    OverFunc::Lag { offset, default }
                } else {
                    OverFunc::Lead { offset, default }
                };
                (func, Some(arg.clone()))
            }
            _ => {
                let Some(agg) = aggregate_func(&name) else {
                    return Err(error_at(
                        &f.name,
                        SqlErrorKind::UnknownFunction,
                        format!(
                            "no window function `{name}`; OVER supports COUNT, SUM, AVG, MIN, MAX, \
                             FIRST_VALUE, LAST_VALUE, ROW_NUMBER, LAG, LEAD"
                        ),
                    ));
                };
                match (agg, star, args.as_slice()) {
                    (AggFunc::Count, true, []) => (OverFunc::Aggregate(AggFunc::CountStar), None),
                    (
                        AggFunc::Count
                        | AggFunc::Sum
                        | AggFunc::Avg
                        | AggFunc::Min
                        | AggFunc::Max
                        | AggFunc::FirstValue
                        | AggFunc::LastValue,
                        false,
                        [(arg, node)],
                    ) => {
                        let t = arg.data_type();
                        let numeric = t.is_numeric() || t == DataType::Timestamp;
                        let ok = match agg {
                            AggFunc::Count => true,
                            AggFunc::Sum | AggFunc::Avg => t.is_numeric(),
                            _ => numeric,
                        };
                        if !ok {
                            return Err(error_at(
                                *node,
                                SqlErrorKind::TypeMismatch,
                                format!("{name} OVER (...) needs a numeric argument, found {t}"),
                            ));
                        }
                        (OverFunc::Aggregate(agg), Some(arg.clone()))
                    }
                    _ => {
                        return Err(unsupported(
                            e,
                            format!("{name} OVER (...) takes exactly one argument"),
                        ))
                    }
                }
            }
        };
        let output_type = match &func {
            OverFunc::RowNumber => DataType::Int64,
            OverFunc::Lag { .. } | OverFunc::Lead { .. } => {
                arg.as_ref().map_or(DataType::Int64, |a| a.data_type())
            }
            OverFunc::Aggregate(agg) => output_type(*agg, arg.as_ref().map(|a| a.data_type())),
        };
        let state = self.over.as_mut().expect("checked above");
        state.calls.push(OverCall {
            func,
            arg,
            preceding,
            output_type,
        });
        Ok(Expr::Column {
            index: state.input_width + state.calls.len() - 1,
            data_type: output_type,
        })
    }

    /// Checks a row window's ORDER BY: at most one ascending column, which
    /// must be the event-time column when one is declared. Rows are taken in
    /// arrival order, so ORDER BY states that order rather than sorting.
    fn over_order(&mut self, spec: &ast::WindowSpec) -> Result<(), SqlError> {
        match spec.order_by.as_slice() {
            [] => Ok(()),
            [o] => {
                let bound = self.bind(&o.expr)?;
                if o.options.asc == Some(false) {
                    return Err(unsupported(
                        &o.expr,
                        "a streaming row window is ordered ascending (rows arrive in order)",
                    ));
                }
                match (&bound, &self.event_time) {
                    (Expr::Column { .. }, None) => Ok(()),
                    (b, Some(t)) if b == t => Ok(()),
                    (Expr::Column { .. }, Some(_)) => Err(unsupported(
                        &o.expr,
                        "a row window is ordered by the event-time column",
                    )),
                    _ => Err(unsupported(&o.expr, "ORDER BY in OVER must name a column")),
                }
            }
            [_, second, ..] => Err(unsupported(
                &second.expr,
                "ORDER BY in OVER takes one column",
            )),
        }
    }
}

/// The value of a literal or a negated numeric literal.
fn constant(e: &Expr) -> Option<Value> {
    match e {
        Expr::Literal { value, .. } => Some(value.clone()),
        Expr::Negate(inner) => match constant(inner)? {
            Value::Int64(v) => Some(Value::Int64(v.checked_neg()?)),
            Value::Float64(v) => Some(Value::Float64(-v)),
            Value::Decimal { value, scale } => Some(Value::Decimal {
                value: -value,
                scale,
            }),
            _ => None,
        },
        _ => None,
    }
}

/// The frame of a row window: `Some(n)` for `n PRECEDING`, `None` for
/// `UNBOUNDED PRECEDING` (also the default). Frames end at the current row.
fn over_frame(spec: &ast::WindowSpec, e: &ast::Expr) -> Result<Option<usize>, SqlError> {
    let Some(frame) = &spec.window_frame else {
        return Ok(None);
    };
    if frame.units != ast::WindowFrameUnits::Rows {
        return Err(unsupported(
            e,
            format!("{} frames are not supported; use ROWS", frame.units),
        ));
    }
    match &frame.end_bound {
        None | Some(ast::WindowFrameBound::CurrentRow) => {}
        Some(other) => {
            return Err(unsupported(
                e,
                format!("a streaming row window ends at CURRENT ROW, not {other}"),
            ))
        }
    }
    match &frame.start_bound {
        ast::WindowFrameBound::CurrentRow => Ok(Some(0)),
        ast::WindowFrameBound::Preceding(None) => Ok(None),
        ast::WindowFrameBound::Preceding(Some(n)) => match n.as_ref() {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(text, _) => text
                    .parse::<usize>()
                    .map(Some)
                    .map_err(|_| unsupported(n.as_ref(), "PRECEDING needs a row count")),
                _ => Err(unsupported(n.as_ref(), "PRECEDING needs a row count")),
            },
            other => Err(unsupported(other, "PRECEDING needs a row count")),
        },
        ast::WindowFrameBound::Following(_) => Err(unsupported(
            e,
            "a streaming row window cannot look at FOLLOWING rows; use LEAD",
        )),
    }
}

fn expect_type(bound: &Expr, want: DataType, node: &ast::Expr, ctx: &str) -> Result<(), SqlError> {
    if bound.data_type() == want {
        Ok(())
    } else {
        Err(error_at(
            node,
            SqlErrorKind::TypeMismatch,
            format!("{ctx} needs {want}, found {}", bound.data_type()),
        ))
    }
}

fn literal(v: &ast::Value, node: &ast::Expr) -> Result<Expr, SqlError> {
    let (value, data_type) = match v {
        ast::Value::Number(text, _) => {
            if let Ok(i) = text.parse::<i64>() {
                (Value::Int64(i), DataType::Int64)
            } else if let Some((_, frac)) =
                text.split_once('.').filter(|_| !text.contains(['e', 'E']))
            {
                let scale = frac.len().min(18) as u8;
                let value = crate::io::parse::parse_decimal(text, scale)
                    .ok_or_else(|| unsupported(node, format!("number {text} is out of range")))?;
                (
                    Value::Decimal { value, scale },
                    DataType::Decimal {
                        precision: 38,
                        scale,
                    },
                )
            } else {
                let f: f64 = text
                    .parse()
                    .map_err(|_| unsupported(node, format!("number {text} is out of range")))?;
                (Value::Float64(f), DataType::Float64)
            }
        }
        ast::Value::SingleQuotedString(s) => (Value::Utf8(s.clone()), DataType::Utf8),
        ast::Value::Boolean(b) => (Value::Bool(*b), DataType::Bool),
        ast::Value::Null => (Value::Null, DataType::Int64),
        other => {
            return Err(unsupported(
                node,
                format!("literal {other} is not supported"),
            ))
        }
    };
    Ok(Expr::Literal { value, data_type })
}

fn binary_op(op: &ast::BinaryOperator) -> Option<BinaryOp> {
    use ast::BinaryOperator as B;
    Some(match op {
        B::Plus => BinaryOp::Add,
        B::Minus => BinaryOp::Sub,
        B::Multiply => BinaryOp::Mul,
        B::Divide => BinaryOp::Div,
        B::Modulo => BinaryOp::Mod,
        B::Eq => BinaryOp::Eq,
        B::NotEq => BinaryOp::NotEq,
        B::Lt => BinaryOp::Lt,
        B::LtEq => BinaryOp::LtEq,
        B::Gt => BinaryOp::Gt,
        B::GtEq => BinaryOp::GtEq,
        B::And => BinaryOp::And,
        B::Or => BinaryOp::Or,
        _ => return None,
    })
}

fn is_null_literal(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Literal {
            value: Value::Null,
            ..
        }
    )
}

/// Types `l op r` under SQL's rules.
fn binary(op: BinaryOp, l: Expr, r: Expr, node: &ast::Expr) -> Result<Expr, SqlError> {
    let (lt, rt) = (l.data_type(), r.data_type());
    let mismatch = || {
        error_at(
            node,
            SqlErrorKind::TypeMismatch,
            format!("cannot apply {} to {lt} and {rt}", op.symbol()),
        )
    };
    let data_type = if op.is_arithmetic() {
        if is_null_literal(&l) || is_null_literal(&r) {
            if is_null_literal(&l) {
                rt
            } else {
                lt
            }
        } else {
            arithmetic_type(op, lt, rt).ok_or_else(mismatch)?
        }
    } else if op.is_comparison() {
        let comparable = lt == rt
            || (lt.is_numeric() && rt.is_numeric())
            || is_null_literal(&l)
            || is_null_literal(&r);
        if !comparable {
            return Err(mismatch());
        }
        DataType::Bool
    } else {
        let boolish = |e: &Expr| e.data_type() == DataType::Bool || is_null_literal(e);
        if !boolish(&l) || !boolish(&r) {
            return Err(mismatch());
        }
        DataType::Bool
    };
    Ok(Expr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
        data_type,
    })
}

fn arithmetic_type(op: BinaryOp, l: DataType, r: DataType) -> Option<DataType> {
    use DataType::*;
    Some(match (l, r) {
        (Int64, Int64) => Int64,
        (Float64, t) | (t, Float64) if t.is_numeric() => Float64,
        (Decimal { scale: a, .. }, Decimal { scale: b, .. }) => decimal_result(op, a, b),
        (Decimal { scale, .. }, Int64) | (Int64, Decimal { scale, .. }) => {
            let (a, b) = if l == Int64 { (0, scale) } else { (scale, 0) };
            decimal_result(op, a, b)
        }
        _ => return None,
    })
}

fn decimal_result(op: BinaryOp, a: u8, b: u8) -> DataType {
    let scale = match op {
        BinaryOp::Mul => (a + b).min(18),
        BinaryOp::Div => a.max(b).max(6),
        _ => a.max(b),
    };
    DataType::Decimal {
        precision: 38,
        scale,
    }
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
