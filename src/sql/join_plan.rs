//! Planning a join: its keys and time condition from `ON` (and
//! `MATCH_CONDITION`), its kind from how it was written and what the right
//! input is, and where each input's rows go.
//!
//! # Kinds
//! - `[LEFT] JOIN table ON keys`: a lookup of the table's current row
//!   ([`JoinKind::Lookup`]).
//! - `ASOF JOIN`, and `JOIN table FOR SYSTEM_TIME AS OF t.ts`: the right row
//!   with the key and the greatest time at or before the left row's
//!   ([`JoinKind::AsOf`]); for the temporal join the right time is the
//!   table's event time.
//! - A plain join of two streams has no time bound, so its state would grow
//!   without bound: refused.
//!
//! # Distribution
//! A lookup join broadcasts the table to every shard, so the left input
//! keeps the partitioning its later operators need, unless those operators
//! are partitioned by exactly the join key: then the table is partitioned
//! with the left input and each shard holds only its share. An ASOF join
//! partitions both inputs by the join key; its later operators must then be
//! keyed by a superset of the join key (or need no key). A plan that would
//! need rows re-keyed between the join and what follows runs on one shard
//! (every row to shard 0) until the shard-to-shard exchange exists.

use super::bind::{error_at, span_error, unsupported, Binder};
use super::from::{CatalogInput, FromClause, JoinClause, JoinSyntax};
use super::plan::{JoinDistribution, JoinKind, JoinPlan, Partitioning};
use super::InputKind;
use crate::data::DataType;
use crate::error::{SqlError, SqlErrorKind};
use crate::exec::expr::{BinaryOp, Expr};
use sqlparser::ast::{self, Spanned};

/// The side of the joined row an expression reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
    /// Both sides, or no column at all.
    Mixed,
}

fn side(e: &Expr, left_width: usize) -> Side {
    match e.column_range() {
        Some((_, hi)) if hi < left_width => Side::Left,
        Some((lo, _)) if lo >= left_width => Side::Right,
        _ => Side::Mixed,
    }
}

/// The conjuncts of `e` (`a AND b AND c` is `[a, b, c]`).
fn conjuncts<'a>(e: &'a ast::Expr, out: &mut Vec<&'a ast::Expr>) {
    match e {
        ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        ast::Expr::Nested(inner) => conjuncts(inner, out),
        other => out.push(other),
    }
}

/// Plans the join of `from`; returns it and the part of `ON` that is
/// neither a key nor the time condition (an INNER join's extra filter).
pub(super) fn plan_join(
    binder: &mut Binder<'_>,
    from: &FromClause<'_>,
    clause: &JoinClause<'_>,
    catalog: &[CatalogInput],
) -> Result<(JoinPlan, Option<Expr>), SqlError> {
    let left_width = from.scopes[0].width;
    let right_input = &catalog[from.scopes[1].input];
    let mut parts = Vec::new();
    conjuncts(clause.on, &mut parts);
    if let Some(m) = clause.match_condition {
        conjuncts(m, &mut parts);
    }
    let asof = clause.syntax == JoinSyntax::AsOf;
    let mut left_keys = Vec::new();
    let mut right_keys = Vec::new();
    let mut time: Option<(usize, usize)> = None;
    let mut residual: Option<Expr> = None;
    for part in parts {
        if let ast::Expr::BinaryOp { left, op, right } = part {
            let comparison = match op {
                ast::BinaryOperator::Eq => Some(BinaryOp::Eq),
                ast::BinaryOperator::GtEq => Some(BinaryOp::GtEq),
                ast::BinaryOperator::LtEq => Some(BinaryOp::LtEq),
                ast::BinaryOperator::Gt => Some(BinaryOp::Gt),
                ast::BinaryOperator::Lt => Some(BinaryOp::Lt),
                _ => None,
            };
            if let Some(op) = comparison {
                let (l, r) = (binder.bind(left)?, binder.bind(right)?);
                // Put the left input's side first.
                let (l, r, op) = match (side(&l, left_width), side(&r, left_width)) {
                    (Side::Left, Side::Right) => (l, r, op),
                    (Side::Right, Side::Left) => (r, l, flip(op)),
                    _ => {
                        residual = Some(and(residual, binder.bind(part)?));
                        continue;
                    }
                };
                match op {
                    BinaryOp::Eq => {
                        if l.data_type() != r.data_type() {
                            return Err(error_at(
                                part,
                                SqlErrorKind::TypeMismatch,
                                format!(
                                    "join keys must have the same type: {} and {}; CAST one of them",
                                    l.data_type(),
                                    r.data_type()
                                ),
                            ));
                        }
                        left_keys.push(l);
                        right_keys.push(r.map_columns(&|i| i - left_width));
                        continue;
                    }
                    _ if asof => {
                        if time.is_some() {
                            return Err(unsupported(part, "an ASOF join has one time condition"));
                        }
                        if op != BinaryOp::GtEq {
                            return Err(unsupported(
                                part,
                                "an ASOF join matches the latest right row at or before the left row: \
                                 write left.time >= right.time",
                            ));
                        }
                        let (Some(lt), Some(rt)) = (l.column_index(), r.column_index()) else {
                            return Err(unsupported(
                                part,
                                "an ASOF time condition compares two time columns",
                            ));
                        };
                        time = Some((lt, rt - left_width));
                        continue;
                    }
                    _ => {}
                }
            }
        }
        residual = Some(and(residual, binder.bind(part)?));
    }
    if left_keys.is_empty() {
        return Err(unsupported(
            clause.on,
            "a join needs an equality key in ON, e.g. t.symbol = q.symbol",
        ));
    }
    if clause.outer && residual.is_some() {
        return Err(unsupported(
            clause.on,
            "the ON of a LEFT join takes only equality keys (and an ASOF time condition); \
             put other conditions in WHERE",
        ));
    }
    let is_table = matches!(right_input.kind, InputKind::Table { .. });
    let (kind, left_time, right_time) = match &clause.syntax {
        JoinSyntax::AsOf => {
            let Some((lt, rt)) = time else {
                return Err(unsupported(
                    clause.on,
                    "an ASOF join needs its time condition: left.time >= right.time",
                ));
            };
            (JoinKind::AsOf, Some(lt), Some(rt))
        }
        JoinSyntax::Temporal(column) => {
            let ids: Vec<ast::Ident> = column.iter().map(|c| ast::Ident::new(c.clone())).collect();
            let bound = binder.bind(&ast::Expr::CompoundIdentifier(ids))?;
            let left_time = bound.column_index().filter(|&c| c < left_width);
            let Some(left_time) = left_time else {
                return Err(unsupported(
                    clause.relation,
                    "FOR SYSTEM_TIME AS OF takes a time column of the left input",
                ));
            };
            let right_time = right_input
                .time
                .event_time
                .as_ref()
                .and_then(|c| right_input.schema.index_of(c));
            if !is_table || right_time.is_none() {
                return Err(unsupported(
                    clause.relation,
                    "FOR SYSTEM_TIME AS OF joins a table with an event time: \
                     CREATE TABLE ... WITH (event_time = '...')",
                ));
            }
            (JoinKind::AsOf, Some(left_time), right_time)
        }
        JoinSyntax::Plain if is_table => (JoinKind::Lookup, None, None),
        JoinSyntax::Plain => {
            return Err(unsupported(
                clause.relation,
                "a join of two streams needs a time bound, or its state grows without bound: \
                 use ASOF JOIN, or declare the right input with CREATE TABLE (a lookup join)",
            ))
        }
    };
    for (c, schema) in [(left_time, &from.schema), (right_time, &right_input.schema)] {
        if let Some(c) = c {
            let t = schema.fields[c].data_type;
            if !matches!(t, DataType::Int64 | DataType::Timestamp) {
                return Err(span_error(
                    clause.relation.span(),
                    SqlErrorKind::TypeMismatch,
                    format!(
                        "the join's time column `{}` is {t}; it must be TIMESTAMP or BIGINT epoch milliseconds",
                        schema.fields[c].name
                    ),
                ));
            }
        }
    }
    let plan = JoinPlan {
        kind,
        outer: clause.outer,
        distribution: JoinDistribution::Broadcast,
        left_keys,
        right_keys,
        left_time,
        right_time,
        right_first: kind == JoinKind::Lookup && is_table && right_input.bounded,
    };
    Ok((plan, residual))
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::GtEq => BinaryOp::LtEq,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Lt => BinaryOp::Gt,
        other => other,
    }
}

fn and(acc: Option<Expr>, e: Expr) -> Expr {
    match acc {
        None => e,
        Some(a) => Expr::Binary {
            op: BinaryOp::And,
            left: Box::new(a),
            right: Box::new(e),
            data_type: DataType::Bool,
        },
    }
}

/// Where each input's rows go, given the partitioning the operators after
/// the join need (over the joined row): returns the left input's and the
/// right input's, and sets the join's distribution (see the module docs).
pub(super) fn distribute(
    join: &mut JoinPlan,
    after: Partitioning,
    left_width: usize,
) -> (Partitioning, Partitioning) {
    let left_only = |keys: &[Expr]| keys.iter().all(|k| side(k, left_width) == Side::Left);
    let contains_join_key = |keys: &[Expr]| join.left_keys.iter().all(|k| keys.contains(k));
    let by_join_key = (
        Partitioning::ByKey(join.left_keys.clone()),
        Partitioning::ByKey(join.right_keys.clone()),
    );
    let (left, right, distribution) = match (join.kind, after) {
        (JoinKind::Lookup, Partitioning::ByKey(keys))
            if left_only(&keys)
                && keys.len() == join.left_keys.len()
                && contains_join_key(&keys) =>
        {
            (by_join_key.0, by_join_key.1, JoinDistribution::Partitioned)
        }
        (JoinKind::Lookup, Partitioning::ByKey(keys)) if left_only(&keys) => (
            Partitioning::ByKey(keys),
            Partitioning::Broadcast,
            JoinDistribution::Broadcast,
        ),
        (JoinKind::Lookup, Partitioning::RoundRobin) => (
            Partitioning::RoundRobin,
            Partitioning::Broadcast,
            JoinDistribution::Broadcast,
        ),
        (JoinKind::AsOf, Partitioning::RoundRobin) => {
            (by_join_key.0, by_join_key.1, JoinDistribution::Partitioned)
        }
        (JoinKind::AsOf, Partitioning::ByKey(keys)) if contains_join_key(&keys) => {
            (by_join_key.0, by_join_key.1, JoinDistribution::Partitioned)
        }
        // One shard: a global aggregate, or later operators keyed otherwise
        // (that needs the exchange).
        _ => (
            Partitioning::Single,
            Partitioning::Single,
            JoinDistribution::Partitioned,
        ),
    };
    join.distribution = distribution;
    (left, right)
}
