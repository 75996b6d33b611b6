//! The binder: names to columns, types checked, aggregates and window
//! functions found, over the joined row of FROM's relations.

use super::bind::{
    aggregate_func, contains_aggregate, error_at, find_over, span_error, unsupported,
};
use super::from::{FromClause, Scope};
use super::plan::{AggCall, AggFunc, OverCall, OverFunc};
use super::typing::*;
use crate::data::{DataType, Schema, Value};
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::accumulator::output_type;
use crate::exec::expr::Expr;
use sqlparser::ast;

/// The grouping in force while binding the select list of an aggregation.
pub(super) struct Grouping {
    pub(super) keys: Vec<Expr>,
    pub(super) aggs: Vec<AggCall>,
    /// `window_start` and `window_end` follow the keys.
    pub(super) windowed: bool,
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
pub(super) struct OverBinding {
    /// Calls' results follow the input's columns.
    pub(super) input_width: usize,
    /// The PARTITION BY every call shares (set by the first call).
    pub(super) partition: Option<Vec<Expr>>,
    /// The input column the calls' ORDER BY names (the last call's that
    /// names one; [`over_order`](Binder::over_order) checks they agree).
    pub(super) order: Option<usize>,
    pub(super) calls: Vec<OverCall>,
}

pub(super) struct Binder<'a> {
    /// The row expressions read: the joined row of FROM's relations.
    pub(super) schema: &'a Schema,
    /// Where each relation's columns sit in that row.
    pub(super) scopes: Vec<Scope>,
    /// `Some` while binding the select list of a row window.
    pub(super) over: Option<OverBinding>,
    /// The event-time column, which orders `FIRST_VALUE` / `LAST_VALUE`.
    pub(super) event_time: Option<Expr>,
    /// `Some` while binding over the grouped schema (keys, then aggregates).
    pub(super) grouping: Option<Grouping>,
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

    pub(super) fn bind_predicate(&mut self, e: &ast::Expr, clause: &str) -> Result<Expr, SqlError> {
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
        if !list.clauses.is_empty() {
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
        let (func, arg) = match &f.filter {
            Some(cond) => super::agg_filter::filtered(func, arg, self.bind_filter(cond, &name)?),
            None => (func, arg),
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
        if let Some(cond) = &f.filter {
            return Err(unsupported(
                cond.as_ref(),
                "FILTER is not supported in OVER; aggregate a CASE instead",
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
    /// must be the event-time column when one is declared, and the same for
    /// every call; records it. Rows are taken in arrival order, so ORDER BY
    /// states that order rather than sorting (but see `RowWindowPlan::sorted`).
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
                let index = match (&bound, &self.event_time) {
                    (Expr::Column { index, .. }, None) => *index,
                    (Expr::Column { index, .. }, Some(t)) if &bound == t => *index,
                    (Expr::Column { .. }, Some(_)) => {
                        return Err(unsupported(
                            &o.expr,
                            "a row window is ordered by the event-time column",
                        ))
                    }
                    _ => return Err(unsupported(&o.expr, "ORDER BY in OVER must name a column")),
                };
                let over = self.over.as_mut().expect("binding a row window");
                match over.order.replace(index) {
                    Some(other) if other != index => Err(unsupported(
                        &o.expr,
                        "all window functions of a query must share one ORDER BY",
                    )),
                    _ => Ok(()),
                }
            }
            [_, second, ..] => Err(unsupported(
                &second.expr,
                "ORDER BY in OVER takes one column",
            )),
        }
    }
}
