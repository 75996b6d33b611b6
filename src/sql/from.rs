//! Binding FROM: the inputs a query names, the row they make together, and
//! the join between them.
//!
//! A query reads one input, or joins a second one to it. The joined row is
//! the first input's columns, then the second's; column names resolve in
//! each relation's part of that row (qualified by name or alias, or
//! unqualified when only one relation has the name).

use super::bind::{error_at, span_error, unsupported};
use super::join_syntax::JoinHints;
use super::{InputKind, PlanOptions};
use crate::data::{Field, Schema};
use crate::error::{SqlError, SqlErrorKind};
use sqlparser::ast;

/// An input a query may name, with what its declaration and the flags say.
#[derive(Debug, Clone)]
pub struct CatalogInput {
    /// Its name; `None` for the single input of a run that did not name it
    /// (FROM may call it anything).
    pub name: Option<String>,
    pub schema: Schema,
    pub kind: InputKind,
    /// Its event-time column and watermark.
    pub time: PlanOptions,
    /// Milliseconds quiet after which it stops holding back an operator
    /// with several inputs.
    pub idle_timeout: Option<i64>,
    /// Whether it ends by itself (a file, a generator with a count).
    pub bounded: bool,
    /// Its rows are closed windows of an earlier stage and its event time
    /// their end: a GROUP BY on that column completes a group once the
    /// watermark passes it (as a window does).
    pub closes_by_time: bool,
}

impl CatalogInput {
    /// The single input of a run, named `name` (or anything, for `None`).
    pub fn single(name: Option<&str>, schema: &Schema, time: &PlanOptions) -> CatalogInput {
        CatalogInput {
            name: name.map(str::to_owned),
            schema: schema.clone(),
            kind: InputKind::Stream,
            time: time.clone(),
            idle_timeout: None,
            bounded: false,
            closes_by_time: false,
        }
    }
}

/// A relation in FROM: where its columns sit in the joined row.
#[derive(Debug, Clone)]
pub(super) struct Scope {
    /// The name as written in FROM.
    pub name: String,
    pub alias: Option<String>,
    /// Its index in the catalog.
    pub input: usize,
    /// Its first column in the joined row, and how many it has.
    pub offset: usize,
    pub width: usize,
}

impl Scope {
    /// Whether `qualifier` names this relation (its name or its alias).
    pub fn is_named(&self, qualifier: &str) -> bool {
        qualifier.eq_ignore_ascii_case(&self.name)
            || self
                .alias
                .as_ref()
                .is_some_and(|a| qualifier.eq_ignore_ascii_case(a))
    }
}

/// How a join was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JoinSyntax {
    /// `[INNER | LEFT] JOIN r ON ...`.
    Plain,
    /// `ASOF JOIN r MATCH_CONDITION(...) ON ...` or `ASOF [LEFT] JOIN r ON ...`.
    AsOf,
    /// `JOIN r FOR SYSTEM_TIME AS OF <left time column>`.
    Temporal(Vec<String>),
}

/// The join of FROM, as written.
pub(super) struct JoinClause<'a> {
    pub syntax: JoinSyntax,
    /// `LEFT` (or Snowflake's ASOF JOIN, which keeps unmatched left rows).
    pub outer: bool,
    /// The `ON` condition.
    pub on: &'a ast::Expr,
    /// Snowflake's `MATCH_CONDITION(...)`.
    pub match_condition: Option<&'a ast::Expr>,
    /// The joined relation, for error positions.
    pub relation: &'a ast::TableFactor,
}

/// FROM, resolved: the relations in joined-row order and the join.
pub(super) struct FromClause<'a> {
    pub scopes: Vec<Scope>,
    /// The joined row: every relation's columns, in order.
    pub schema: Schema,
    pub join: Option<JoinClause<'a>>,
}

impl FromClause<'_> {
    /// The joined-row index of a column written `name` or `relation.name`
    /// (quotes ignored); an unqualified name is the first relation's that has it.
    pub fn resolve(&self, text: &str) -> Option<usize> {
        let text = text.trim();
        let (qualifier, name) = match text.rsplit_once('.') {
            Some((q, n)) => (Some(q.trim_matches('"')), n.trim_matches('"')),
            None => (None, text.trim_matches('"')),
        };
        self.scopes
            .iter()
            .filter(|s| qualifier.is_none_or(|q| s.is_named(q)))
            .find_map(|s| {
                self.schema.fields[s.offset..s.offset + s.width]
                    .iter()
                    .position(|f| f.name.eq_ignore_ascii_case(name))
                    .map(|i| s.offset + i)
            })
    }
}

/// Resolves FROM against the catalog.
pub(super) fn bind_from<'a>(
    select: &'a ast::Select,
    catalog: &[CatalogInput],
    hints: &JoinHints,
) -> Result<FromClause<'a>, SqlError> {
    let [from] = select.from.as_slice() else {
        return match select.from.get(1) {
            Some(second) => Err(unsupported(
                &second.relation,
                "FROM takes one input, or a JOIN of two: write `a JOIN b ON ...`",
            )),
            None => Err(span_error(
                select.select_token.0.span,
                SqlErrorKind::Unsupported,
                "a query needs FROM <stream>",
            )),
        };
    };
    let mut scopes = vec![relation(&from.relation, catalog, 0)?];
    let join = match from.joins.as_slice() {
        [] => None,
        [join]
            if catalog.len() == 1
                && catalog[0].name.is_none()
                && table_name(&join.relation) != table_name(&from.relation) =>
        {
            return Err(unsupported(
                &from.joins[0].relation,
                "a join reads a second input: name each input with --input NAME=SPEC \
                 (e.g. --input trades=t.csv --input quotes=q.csv)",
            ))
        }
        [join] => {
            let scope = relation(&join.relation, catalog, scopes[0].width)?;
            // A self-join reads its input twice; each side needs a name.
            let named_apart = match (&scopes[0].alias, &scope.alias) {
                (_, None) => false,
                (Some(a), Some(b)) => !a.eq_ignore_ascii_case(b),
                (None, Some(b)) => !b.eq_ignore_ascii_case(&scopes[0].name),
            };
            if scope.input == scopes[0].input && !named_apart {
                return Err(unsupported(
                    &join.relation,
                    "a self-join (an input joined to itself) needs an alias on each side, \
                     e.g. FROM bid a JOIN bid b ON ...",
                ));
            }
            let clause = join_clause(join, &scope.name, hints)?;
            scopes.push(scope);
            Some(clause)
        }
        [_, third, ..] => {
            return Err(unsupported(
                &third.relation,
                "a query joins two inputs at most for now",
            ))
        }
    };
    let fields: Vec<Field> = scopes
        .iter()
        .flat_map(|s| catalog[s.input].schema.fields.iter().cloned())
        .collect();
    Ok(FromClause {
        scopes,
        schema: Schema::new(fields),
        join,
    })
}

/// The name a relation of FROM gives its input (`None` for a subquery).
fn table_name(factor: &ast::TableFactor) -> Option<String> {
    match factor {
        ast::TableFactor::Table { name, .. } => Some(name.to_string().to_ascii_lowercase()),
        _ => None,
    }
}

/// One relation of FROM, found in the catalog.
fn relation(
    factor: &ast::TableFactor,
    catalog: &[CatalogInput],
    offset: usize,
) -> Result<Scope, SqlError> {
    if let ast::TableFactor::Derived { alias, .. } = factor {
        // Planned as an earlier stage, whose output is the catalog's input
        // of the same name.
        let name = alias.as_ref().map(|a| a.name.value.clone());
        let written = name.clone().unwrap_or_else(|| "subquery".to_owned());
        let input = catalog
            .iter()
            .position(|c| {
                c.name
                    .as_ref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&written))
            })
            .unwrap_or(0);
        return Ok(Scope {
            name: written,
            alias: name,
            input,
            offset,
            width: catalog[input].schema.fields.len(),
        });
    }
    let ast::TableFactor::Table {
        name, alias, args, ..
    } = factor
    else {
        return Err(unsupported(
            factor,
            "FROM takes an input's name or a subquery",
        ));
    };
    if args.is_some() {
        return Err(unsupported(factor, "table functions are not supported"));
    }
    let written = name.to_string();
    // The run's single unnamed input answers to any name no derived table has.
    let unnamed = || match catalog.iter().filter(|c| c.name.is_none()).count() {
        1 => catalog.iter().position(|c| c.name.is_none()),
        _ => None,
    };
    let input = match catalog {
        [CatalogInput { name: None, .. }] => 0,
        _ => catalog
            .iter()
            .position(|c| {
                c.name
                    .as_ref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&written))
            })
            .or_else(unnamed)
            .ok_or_else(|| {
                let names: Vec<&str> = catalog.iter().filter_map(|c| c.name.as_deref()).collect();
                let message = match names.as_slice() {
                    [one] => format!("no stream named `{written}`; the input is `{one}`"),
                    _ => format!(
                        "no input named `{written}`; the inputs are: {}",
                        names.join(", ")
                    ),
                };
                error_at(name, SqlErrorKind::UnknownStream, message)
            })?,
    };
    Ok(Scope {
        name: written,
        alias: alias.as_ref().map(|a| a.name.value.clone()),
        input,
        offset,
        width: catalog[input].schema.fields.len(),
    })
}

/// The kind, outerness and conditions of a join as written.
fn join_clause<'a>(
    join: &'a ast::Join,
    relation: &str,
    hints: &JoinHints,
) -> Result<JoinClause<'a>, SqlError> {
    let on = |constraint: &'a ast::JoinConstraint| match constraint {
        ast::JoinConstraint::On(e) => Ok(e),
        _ => Err(unsupported(
            &join.relation,
            "a join needs ON <condition> (USING and NATURAL are not supported)",
        )),
    };
    let temporal = hints.temporal(relation).map(<[String]>::to_vec);
    let (syntax, outer, on, match_condition) = match &join.join_operator {
        ast::JoinOperator::AsOf {
            match_condition,
            constraint,
        } => (JoinSyntax::AsOf, true, on(constraint)?, Some(match_condition)),
        ast::JoinOperator::Join(c) | ast::JoinOperator::Inner(c) => {
            let syntax = match (hints.asof(relation), temporal) {
                (Some(_), _) => JoinSyntax::AsOf,
                (None, Some(t)) => JoinSyntax::Temporal(t),
                (None, None) => JoinSyntax::Plain,
            };
            (syntax, false, on(c)?, None)
        }
        ast::JoinOperator::Left(c) | ast::JoinOperator::LeftOuter(c) => {
            let syntax = match (hints.asof(relation), temporal) {
                (Some(_), _) => JoinSyntax::AsOf,
                (None, Some(t)) => JoinSyntax::Temporal(t),
                (None, None) => JoinSyntax::Plain,
            };
            (syntax, true, on(c)?, None)
        }
        ast::JoinOperator::Right(_) | ast::JoinOperator::RightOuter(_) => {
            return Err(unsupported(
                &join.relation,
                "RIGHT JOIN is not supported: swap the inputs and write LEFT JOIN",
            ))
        }
        ast::JoinOperator::FullOuter(_) => {
            return Err(unsupported(
                &join.relation,
                "FULL JOIN is not supported: it would need retractions",
            ))
        }
        ast::JoinOperator::CrossJoin(_) => {
            return Err(unsupported(
                &join.relation,
                "CROSS JOIN is not supported: its state would grow without bound",
            ))
        }
        _ => {
            return Err(unsupported(
                &join.relation,
                "this join is not supported; corestream joins with [LEFT] JOIN, ASOF JOIN and FOR SYSTEM_TIME AS OF",
            ))
        }
    };
    Ok(JoinClause {
        syntax,
        outer,
        on,
        match_condition,
        relation: &join.relation,
    })
}
