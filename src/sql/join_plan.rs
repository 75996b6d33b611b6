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
//! - A join of two streams with a time bound (`r.ts BETWEEN l.ts - x AND
//!   l.ts + y`, in `ON`, or in `WHERE` for an inner join), or with a state
//!   time-to-live (`--state-ttl`: rows at most that far apart in event
//!   time): an interval join ([`JoinKind::Interval`]).
//! - A join of two streams with neither would keep every row: refused.
//!
//! # Distribution
//! A lookup join broadcasts the table to every shard, so the left input
//! keeps the partitioning its later operators need, unless those operators
//! are partitioned by exactly the join key: then the table is partitioned
//! with the left input and each shard holds only its share. An ASOF join
//! (and an interval join) partitions both inputs by the join key; its later
//! operators must then be
//! keyed by a superset of the join key (or need no key). When what follows
//! is keyed otherwise (a GROUP BY on a table's column, say), the join runs
//! in a stage of its own, placed as it runs best, and the exchange re-keys
//! its rows for the stage that follows. A global aggregate runs on one shard.

use super::bind::{error_at, span_error, unsupported};
use super::binder::Binder;
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
pub(super) fn conjuncts<'a>(e: &'a ast::Expr, out: &mut Vec<&'a ast::Expr>) {
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
/// An INNER join of two streams may also take its time bound from `WHERE`.
pub(super) fn plan_join(
    binder: &mut Binder<'_>,
    from: &FromClause<'_>,
    clause: &JoinClause<'_>,
    catalog: &[CatalogInput],
    where_clause: Option<&ast::Expr>,
    state_ttl: Option<i64>,
) -> Result<(JoinPlan, Option<Expr>), SqlError> {
    let left_width = from.scopes[0].width;
    let right_input = &catalog[from.scopes[1].input];
    let mut parts = Vec::new();
    conjuncts(clause.on, &mut parts);
    if let Some(m) = clause.match_condition {
        conjuncts(m, &mut parts);
    }
    let asof = clause.syntax == JoinSyntax::AsOf;
    // `r.t >= l.t + lo` and `r.t <= l.t + hi`, with the time columns.
    let event_times = from_time(binder, from, catalog);
    let mut bounds = TimeBounds::over(event_times);
    let mut scanned = parts.clone();
    if !clause.outer {
        if let Some(w) = where_clause {
            conjuncts(w, &mut scanned);
        }
    }
    for part in &scanned {
        bounds.scan(binder, part, left_width)?;
    }
    let is_table = matches!(right_input.kind, InputKind::Table { .. });
    let time_bounded = !asof && !is_table;
    let mut left_keys = Vec::new();
    let mut right_keys = Vec::new();
    let mut time: Option<(usize, usize)> = None;
    let mut residual: Option<Expr> = None;
    for part in parts {
        // A time bound of two streams is the join's, not a filter.
        if time_bounded && TimeBounds::over(event_times).scan(binder, part, left_width)? {
            continue;
        }
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
    // A join on equal event times alone (a window join on `window_end`)
    // is keyed by them.
    if let (true, Some((lt, rt)), Some(0), Some(0)) =
        (left_keys.is_empty(), bounds.columns, bounds.lo, bounds.hi)
    {
        let (l_type, r_type) = (
            from.schema.fields[lt].data_type,
            right_input.schema.fields[rt].data_type,
        );
        if l_type == r_type {
            left_keys.push(Expr::Column {
                index: lt,
                data_type: l_type,
            });
            right_keys.push(Expr::Column {
                index: rt,
                data_type: r_type,
            });
        }
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
        JoinSyntax::Plain => match (bounds.columns, bounds.lo, bounds.hi) {
            (Some((lt, rt)), Some(lo), Some(hi)) if lo <= hi => {
                (JoinKind::Interval, Some(lt), Some(rt))
            }
            (Some(_), Some(_), Some(_)) => {
                return Err(unsupported(
                    clause.on,
                    "the join's time bound is empty: its lower end is above its upper end",
                ))
            }
            _ => match (state_ttl, event_times) {
                (Some(ttl), Some((lt, rt))) => {
                    bounds.lo = Some(-ttl);
                    bounds.hi = Some(ttl);
                    (JoinKind::Interval, Some(lt), Some(rt))
                }
                _ => {
                    return Err(unsupported(
                        clause.relation,
                        "a join of two streams needs a time bound, or its state grows without bound: \
                         bound it (r.ts BETWEEN l.ts - INTERVAL '10' SECOND AND l.ts + INTERVAL '5' SECOND), \
                         set a state time-to-live (--state-ttl) over inputs with event time, \
                         use ASOF JOIN, or declare the right input with CREATE TABLE (a lookup join)",
                    ))
                }
            },
        },
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
        bound: (kind == JoinKind::Interval).then(|| {
            let (lo, hi) = (bounds.lo.unwrap_or(0), bounds.hi.unwrap_or(0));
            (-lo, hi)
        }),
        right_first: kind == JoinKind::Lookup && is_table && right_input.bounded,
    };
    Ok((plan, residual))
}

/// Whether `part` (a term of WHERE) states the time bound of an interval
/// join: the join enforces it, so the filter need not.
pub(super) fn is_time_bound(
    binder: &mut Binder<'_>,
    from: &FromClause<'_>,
    catalog: &[CatalogInput],
    part: &ast::Expr,
) -> Result<bool, SqlError> {
    let left_width = from.scopes[0].width;
    TimeBounds::over(from_time(binder, from, catalog)).scan(binder, part, left_width)
}

/// The event-time columns of both inputs (each over its own input), for a
/// join bounded by a state time-to-live.
fn from_time(
    _binder: &Binder<'_>,
    from: &FromClause<'_>,
    catalog: &[CatalogInput],
) -> Option<(usize, usize)> {
    let time = |scope: usize| {
        let input = &catalog[from.scopes[scope].input];
        input.schema.index_of(input.time.event_time.as_ref()?)
    };
    Some((time(0)?, time(1)?))
}

/// An interval join's bound as found in its conditions: the right time
/// minus the left time is at least `lo` and at most `hi` (milliseconds).
struct TimeBounds {
    /// The inputs' event-time columns (as `columns`), if both have one: an
    /// equality of these two is a bound of width zero (a window join on
    /// `window_end`).
    event_times: Option<(usize, usize)>,
    /// (left time column, right time column over the right input).
    columns: Option<(usize, usize)>,
    lo: Option<i64>,
    hi: Option<i64>,
}

impl TimeBounds {
    fn over(event_times: Option<(usize, usize)>) -> TimeBounds {
        TimeBounds {
            event_times,
            columns: None,
            lo: None,
            hi: None,
        }
    }

    /// Notes the bound `part` states, if it states one: `r.t BETWEEN l.t -
    /// x AND l.t + y`, or `r.t >= l.t - x` / `r.t <= l.t + y` (either way
    /// round, with the inputs either side), or `l.t = r.t` of the two
    /// event-time columns. Returns whether it states one.
    fn scan(
        &mut self,
        binder: &mut Binder<'_>,
        part: &ast::Expr,
        left_width: usize,
    ) -> Result<bool, SqlError> {
        match part {
            ast::Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } => Ok(self.compare(binder, expr, BinaryOp::GtEq, low, left_width)?
                & self.compare(binder, expr, BinaryOp::LtEq, high, left_width)?),
            ast::Expr::BinaryOp {
                left,
                op: ast::BinaryOperator::Eq,
                right,
            } => {
                let (Some((a, 0)), Some((b, 0))) =
                    (time_plus(binder, left)?, time_plus(binder, right)?)
                else {
                    return Ok(false);
                };
                let columns = match a < b {
                    true => (a, b.wrapping_sub(left_width)),
                    false => (b, a.wrapping_sub(left_width)),
                };
                if a.min(b) >= left_width || Some(columns) != self.event_times {
                    return Ok(false);
                }
                Ok(
                    self.compare(binder, left, BinaryOp::GtEq, right, left_width)?
                        & self.compare(binder, left, BinaryOp::LtEq, right, left_width)?,
                )
            }
            ast::Expr::BinaryOp { left, op, right } => {
                let op = match op {
                    ast::BinaryOperator::GtEq => BinaryOp::GtEq,
                    ast::BinaryOperator::LtEq => BinaryOp::LtEq,
                    _ => return Ok(false),
                };
                self.compare(binder, left, op, right, left_width)
            }
            _ => Ok(false),
        }
    }

    /// `a op b`, each a time column plus a constant; whether it is one.
    fn compare(
        &mut self,
        binder: &mut Binder<'_>,
        a: &ast::Expr,
        op: BinaryOp,
        b: &ast::Expr,
        left_width: usize,
    ) -> Result<bool, SqlError> {
        let (Some((ac, ao)), Some((bc, bo))) = (time_plus(binder, a)?, time_plus(binder, b)?)
        else {
            return Ok(false);
        };
        // Put the right input's time first: r op l + c.
        let (r, l, op, c) = match (ac >= left_width, bc >= left_width) {
            (true, false) => (ac, bc, op, bo - ao),
            (false, true) => (bc, ac, flip(op), ao - bo),
            _ => return Ok(false),
        };
        let columns = (l, r - left_width);
        // Only the event-time columns bound the join (its state is freed
        // by their watermarks); `a.n >= b.n` is a filter.
        if self.columns.is_some_and(|known| known != columns)
            || self.event_times.is_some_and(|times| times != columns)
        {
            return Ok(false);
        }
        self.columns = Some(columns);
        match op {
            BinaryOp::GtEq => self.lo = Some(self.lo.map_or(c, |lo| lo.max(c))),
            _ => self.hi = Some(self.hi.map_or(c, |hi| hi.min(c))),
        }
        Ok(true)
    }
}

/// `column`, `column + constant` or `column - constant` (an interval, or
/// milliseconds for a BIGINT time), as the column's joined-row index and
/// the constant; `None` for anything else.
fn time_plus(binder: &mut Binder<'_>, e: &ast::Expr) -> Result<Option<(usize, i64)>, SqlError> {
    let (column, offset) = match e {
        ast::Expr::Nested(inner) => return time_plus(binder, inner),
        ast::Expr::BinaryOp { left, op, right } => {
            let sign = match op {
                ast::BinaryOperator::Plus => 1,
                ast::BinaryOperator::Minus => -1,
                _ => return Ok(None),
            };
            let text = right.to_string();
            let Some(ms) = super::duration::parse_interval_ms(&text).or_else(|| text.parse().ok())
            else {
                return Ok(None);
            };
            (left.as_ref(), sign * ms)
        }
        other => (other, 0),
    };
    if !matches!(
        column,
        ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_)
    ) {
        return Ok(None);
    }
    let bound = binder.bind(column)?;
    Ok(bound
        .column_index()
        .filter(|_| matches!(bound.data_type(), DataType::Int64 | DataType::Timestamp))
        .map(|c| (c, offset)))
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
/// right input's, whether the joined rows must then be re-keyed for what
/// follows (through the exchange, in a stage of its own), and sets the
/// join's distribution (see the module docs).
pub(super) fn distribute(
    join: &mut JoinPlan,
    after: &Partitioning,
    left_width: usize,
) -> (Partitioning, Partitioning, bool) {
    let left_only = |keys: &[Expr]| keys.iter().all(|k| side(k, left_width) == Side::Left);
    let contains_join_key = |keys: &[Expr]| join.left_keys.iter().all(|k| keys.contains(k));
    let by_join_key = (
        Partitioning::ByKey(join.left_keys.clone()),
        Partitioning::ByKey(join.right_keys.clone()),
    );
    let (left, right, distribution, rekey) = match (join.kind, after) {
        (JoinKind::Lookup, Partitioning::ByKey(keys))
            if left_only(keys) && keys.len() == join.left_keys.len() && contains_join_key(keys) =>
        {
            (
                by_join_key.0,
                by_join_key.1,
                JoinDistribution::Partitioned,
                false,
            )
        }
        (JoinKind::Lookup, Partitioning::ByKey(keys)) if left_only(keys) => (
            Partitioning::ByKey(keys.clone()),
            Partitioning::Broadcast,
            JoinDistribution::Broadcast,
            false,
        ),
        (JoinKind::Lookup, Partitioning::RoundRobin) => (
            Partitioning::RoundRobin,
            Partitioning::Broadcast,
            JoinDistribution::Broadcast,
            false,
        ),
        (JoinKind::AsOf | JoinKind::Interval, Partitioning::RoundRobin) => (
            by_join_key.0,
            by_join_key.1,
            JoinDistribution::Partitioned,
            false,
        ),
        (JoinKind::AsOf | JoinKind::Interval, Partitioning::ByKey(keys))
            if contains_join_key(keys) =>
        {
            (
                by_join_key.0,
                by_join_key.1,
                JoinDistribution::Partitioned,
                false,
            )
        }
        // A global aggregate: one shard.
        (_, Partitioning::Single) => (
            Partitioning::Single,
            Partitioning::Single,
            JoinDistribution::Partitioned,
            false,
        ),
        // Keyed otherwise: the join where it runs best, then the exchange.
        (JoinKind::Lookup, _) => (
            Partitioning::RoundRobin,
            Partitioning::Broadcast,
            JoinDistribution::Broadcast,
            true,
        ),
        (_, _) => (
            by_join_key.0,
            by_join_key.1,
            JoinDistribution::Partitioned,
            true,
        ),
    };
    join.distribution = distribution;
    (left, right, rekey)
}
