//! `EXPLAIN` for a [`QueryPlan`]: how rows are partitioned, what each shard
//! runs in order, the emit mode, the watermark settings and the output schema.
//!
//! Kept apart from `plan.rs` so that the plan can grow without touching the
//! rendering: a plan shape this file does not know yet is shown by its debug
//! form rather than failing (see the `_` arms).
//!
//! # Example output
//! ```text
//! source: trades
//! partitioning: by key (trader_id, symbol), hashed to shards
//! each shard runs:
//!   1. filter: price > 100
//!   2. hash aggregate: group by (trader_id, symbol); aggregates COUNT(*), AVG(price)
//!   3. project: trader_id, symbol, COUNT(*) AS n, AVG(price) AS avg_price
//! emit: CHANGES (an updated row per input record that changes it)
//! watermark: none (no windows)
//! output schema: trader_id VARCHAR, symbol VARCHAR, n BIGINT, avg_price DOUBLE
//! ```

use super::plan::{
    AggCall, AggFunc, AggregatePlan, JoinDistribution, JoinKind, JoinPlan, OverCall, OverFunc,
    Partitioning, PlanBody, QueryPlan, Release, RowWindowPlan, WindowKind,
};
use super::EmitMode;
use crate::data::{Schema, Value};
use crate::exec::expr::Expr;
use crate::exec::scalar::ScalarFunc;
use std::fmt::{self, Write as _};

impl QueryPlan {
    /// The plan in words, one item per line (the `corestream explain` output).
    pub fn explain(&self) -> String {
        self.to_string()
    }

    /// Per input: how its rows reach the shards, its watermark and idle
    /// timeout; then the exchanges (none yet: a join runs in one stage).
    fn fmt_inputs(&self, f: &mut fmt::Formatter<'_>, alone: bool) -> fmt::Result {
        writeln!(f, "inputs:")?;
        for (i, input) in self.inputs.iter().enumerate() {
            let names: Vec<String> = input.schema.fields.iter().map(|x| x.name.clone()).collect();
            let kind = match &input.primary_key {
                Some(key) => format!(
                    "table, primary key ({})",
                    key.iter()
                        .map(|&c| names[c].as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => "stream".to_owned(),
            };
            writeln!(f, "  {}. {} ({kind})", i + 1, input.name)?;
            writeln!(
                f,
                "     partitioning: {}",
                partitioning(&input.partitioning, &names)
            )?;
            let watermark = match &input.watermarking {
                Some(w) => match w.time_column {
                    Some(c) => format!(
                        "event time column {}, max out-of-orderness {}, allowed lateness {}",
                        name(&names, c),
                        ms(w.max_out_of_orderness),
                        ms(w.allowed_lateness)
                    ),
                    None => "none (no event time: it never holds the join back)".to_owned(),
                },
                None => "not needed".to_owned(),
            };
            writeln!(f, "     watermark: {watermark}")?;
            let idle = input.idle_timeout.map_or("none".to_owned(), ms);
            writeln!(f, "     idle timeout: {idle}")?;
        }
        if self.join.as_ref().is_some_and(|j| j.right_first) {
            writeln!(
                f,
                "  {} is read completely before any {} row is joined",
                self.inputs[1].name, self.inputs[0].name
            )?;
        }
        match alone {
            true => writeln!(
                f,
                "exchanges: none (the join and what follows run in one stage)"
            ),
            false => Ok(()),
        }
    }
}

impl fmt::Display for QueryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stages = self.stages();
        if stages.len() == 1 {
            return self.fmt_stage(f, true);
        }
        let links = self.stage_links();
        for (k, stage) in stages.iter().enumerate() {
            let reads: Vec<(usize, usize)> = (0..k)
                .filter_map(|j| Some((j, links[j].feeds.filter(|p| p / 2 == k)? % 2)))
                .collect();
            if reads.is_empty() {
                writeln!(f, "stage {} of {} (reads the inputs)", k + 1, stages.len())?;
            }
            for &(j, side) in &reads {
                let names: Vec<String> = stages[j]
                    .output_schema
                    .fields
                    .iter()
                    .map(|x| x.name.clone())
                    .collect();
                writeln!(
                    f,
                    "exchange {}: stage {}'s rows to every shard's stage {}{}, {}",
                    j + 1,
                    j + 1,
                    k + 1,
                    if side == 1 { " (its joined input)" } else { "" },
                    partitioning(&stage.inputs[side].partitioning, &names).replace(
                        "round-robin (whole batches, no keyed state)",
                        "kept on their shard (no keyed state)"
                    )
                )?;
            }
            if !reads.is_empty() {
                let from: Vec<String> = reads.iter().map(|(j, _)| (j + 1).to_string()).collect();
                writeln!(
                    f,
                    "stage {} of {} (reads stage {}{})",
                    k + 1,
                    stages.len(),
                    from.join(" and stage "),
                    if stage.inputs.len() > reads.len() {
                        " and an input"
                    } else {
                        ""
                    }
                )?;
            }
            stage.fmt_stage(f, false)?;
        }
        Ok(())
    }
}

impl QueryPlan {
    /// One stage: its inputs, its operators in order, emit, watermark, output.
    /// `alone`: the plan's only stage.
    fn fmt_stage(&self, f: &mut fmt::Formatter<'_>, alone: bool) -> fmt::Result {
        let input: Vec<String> = self
            .input_schema
            .fields
            .iter()
            .map(|x| x.name.clone())
            .collect();
        writeln!(f, "source: {}", self.source_name)?;
        writeln!(f, "input schema: {}", self.input_schema.describe())?;
        if self.join.is_some() {
            self.fmt_inputs(f, alone)?;
        } else {
            writeln!(
                f,
                "partitioning: {}",
                partitioning(&self.partitioning, &input)
            )?;
        }
        if crate::exec::partial_agg::splits(self) {
            writeln!(
                f,
                "partial aggregation: when a file is read by several readers, at least one per shard, each reader \
                 folds its rows into groups and the shards merge them"
            )?;
        }
        writeln!(f, "each shard runs:")?;
        let mut step = 0;
        let mut op = |f: &mut fmt::Formatter<'_>, text: String| {
            step += 1;
            writeln!(f, "  {step}. {text}")
        };
        if let Some(join) = &self.join {
            op(f, join_step(self, join))?;
        }
        if let Some(filter) = &self.filter {
            op(f, format!("filter: {}", top(filter, &input)))?;
        }
        match &self.body {
            PlanBody::Project(exprs) => op(
                f,
                format!(
                    "project: {}",
                    named_exprs(exprs, &input, &self.output_schema)
                ),
            )?,
            PlanBody::TopN(t) => {
                let order: Vec<String> = t
                    .order
                    .iter()
                    .map(|(e, desc)| {
                        format!("{}{}", top(e, &input), if *desc { " DESC" } else { "" })
                    })
                    .collect();
                let complete = match t.close_time {
                    Some(c) => format!("once the watermark passes its {}", name(&input, c)),
                    None => "at end of input".to_owned(),
                };
                op(
                    f,
                    format!(
                        "top {} per group ({}) by {}, ties by their values; a group is emitted {complete}",
                        t.limit,
                        expr_list(&t.partition, &input),
                        order.join(", ")
                    ),
                )?;
                let mut names = input.clone();
                names.push("row_number".into());
                op(
                    f,
                    format!(
                        "project: {}",
                        named_exprs(&t.project, &names, &self.output_schema)
                    ),
                )?;
            }
            PlanBody::Aggregate(agg) => {
                op(f, aggregate(agg, &input))?;
                if let Some(having) = &agg.having {
                    op(
                        f,
                        format!("having: {}", top(having, &agg_names(agg, &input))),
                    )?;
                }
                op(
                    f,
                    format!(
                        "project: {}",
                        named_exprs(&agg.project, &agg_names(agg, &input), &self.output_schema)
                    ),
                )?;
            }
            PlanBody::RowWindow(rows) => {
                op(f, row_window(rows, &input))?;
                let mut names = input.clone();
                names.extend(rows.calls.iter().map(|c| over_call(c, &input)));
                op(
                    f,
                    format!(
                        "project: {}",
                        named_exprs(&rows.project, &names, &self.output_schema)
                    ),
                )?;
            }
        }
        let closes = matches!(&self.body, PlanBody::TopN(t) if t.close_time.is_some());
        let emit = match self.emit {
            EmitMode::Final if closes => {
                "FINAL (each group's top rows, once the watermark passes its close time)"
            }
            EmitMode::Final if matches!(self.body, PlanBody::TopN(_)) => {
                "FINAL (each group's top rows, at end of input)"
            }
            EmitMode::Changes if matches!(self.body, PlanBody::RowWindow(_)) => {
                "every input row once, with its window values (a LEAD row when its following row arrives)"
            }
            EmitMode::Changes => "CHANGES (an updated row per input record that changes it)",
            EmitMode::Final if self.windowed() => {
                "FINAL (one row per key and window, when the window closes)"
            }
            EmitMode::Final => "FINAL (one row per group, at end of input)",
        };
        writeln!(f, "emit: {emit}")?;
        if self.windowed() || closes {
            let w = &self.watermarking;
            let time = match w.time_column {
                Some(c) => format!("event time column {}", name(&input, c)),
                None => "processing time (the wall clock)".to_owned(),
            };
            writeln!(
                f,
                "watermark: {time}, max out-of-orderness {}, allowed lateness {}",
                ms(w.max_out_of_orderness),
                ms(w.allowed_lateness)
            )?;
        } else {
            writeln!(f, "watermark: none (no windows)")?;
        }
        writeln!(f, "output schema: {}", self.output_schema.describe())?;
        if let Some(branch) = &self.union {
            writeln!(f, "union all, on the second input:")?;
            branch.fmt_stage(f, alone)?;
        }
        Ok(())
    }
}

/// The aggregation step: window (if any), keys and aggregate calls.
fn aggregate(agg: &AggregatePlan, input: &[String]) -> String {
    let mut s = String::new();
    match &agg.window {
        Some(w) => {
            let kind = match w.kind {
                WindowKind::Tumbling { size } => format!("TUMBLING size {}", ms(size)),
                WindowKind::Hopping { size, advance } => {
                    format!("HOPPING size {}, advance {}", ms(size), ms(advance))
                }
                WindowKind::Session { gap } => format!("SESSION gap {}", ms(gap)),
            };
            let time = match w.time_column {
                Some(c) => format!("on {}", name(input, c)),
                None => "on processing time".to_owned(),
            };
            let _ = write!(s, "window aggregate: {kind} {time}; ");
        }
        None => s.push_str("hash aggregate: "),
    }
    if agg.keys.is_empty() {
        s.push_str("no group keys");
    } else {
        let _ = write!(s, "group by ({})", expr_list(&agg.keys, input));
    }
    let calls: Vec<String> = agg.aggs.iter().map(|a| agg_call(a, input)).collect();
    let _ = write!(s, "; aggregates {}", calls.join(", "));
    s
}

/// The names of the aggregation's intermediate schema: keys, window bounds
/// (when windowed), then aggregates. `having` and `project` refer to these.
fn agg_names(agg: &AggregatePlan, input: &[String]) -> Vec<String> {
    let mut names: Vec<String> = agg.keys.iter().map(|k| top(k, input)).collect();
    if agg.window.is_some() {
        names.push("window_start".into());
        names.push("window_end".into());
    }
    names.extend(agg.aggs.iter().map(|a| agg_call(a, input)));
    names
}

fn agg_call(a: &AggCall, input: &[String]) -> String {
    call_text(a.func, a.arg.as_ref(), input)
}

fn call_text(func: AggFunc, arg: Option<&Expr>, input: &[String]) -> String {
    let name = match func {
        AggFunc::CountStar => return "COUNT(*)".into(),
        AggFunc::Count | AggFunc::CountDistinct => "COUNT",
        AggFunc::Sum => "SUM",
        AggFunc::Avg => "AVG",
        AggFunc::Min => "MIN",
        AggFunc::Max => "MAX",
        AggFunc::Spread(k) => match (k.sample, k.sqrt) {
            (true, true) => "STDDEV",
            (false, true) => "STDDEV_POP",
            (true, false) => "VARIANCE",
            (false, false) => "VAR_POP",
        },
        AggFunc::FirstValue => "FIRST_VALUE",
        AggFunc::LastValue => "LAST_VALUE",
    };
    let distinct = if func == AggFunc::CountDistinct {
        "DISTINCT "
    } else {
        ""
    };
    match arg {
        Some(arg) => format!("{name}({distinct}{})", top(arg, input)),
        None => format!("{name}(*)"),
    }
}

/// The row-window step: partition and each call with its frame.
fn row_window(rows: &RowWindowPlan, input: &[String]) -> String {
    let partition = if rows.partition.is_empty() {
        "one partition".to_owned()
    } else {
        format!("partition by ({})", expr_list(&rows.partition, input))
    };
    let calls: Vec<String> = rows
        .calls
        .iter()
        .map(|c| {
            let frame = match (&c.func, c.preceding) {
                (OverFunc::Aggregate(_), Some(n)) => {
                    format!(" over ROWS {n} PRECEDING TO CURRENT ROW")
                }
                (OverFunc::Aggregate(_), None) => " over ROWS UNBOUNDED PRECEDING".to_owned(),
                _ => String::new(),
            };
            format!("{}{frame}", over_call(c, input))
        })
        .collect();
    let order = match (rows.sorted, rows.order) {
        (Some(release), Some(c)) => {
            let when = match release {
                Release::AtWatermark => "as the watermark passes them",
                Release::AtEnd => "at end of input",
            };
            format!("rows sorted by {}, {when}", input[c])
        }
        _ => "rows in arrival order".to_owned(),
    };
    format!("row window ({order}): {partition}; {}", calls.join(", "))
}

fn over_call(c: &OverCall, input: &[String]) -> String {
    let arg = c.arg.as_ref().map(|a| top(a, input)).unwrap_or_default();
    match &c.func {
        OverFunc::Aggregate(func) => call_text(*func, c.arg.as_ref(), input),
        OverFunc::RowNumber => "ROW_NUMBER()".to_owned(),
        OverFunc::Lag { offset, .. } => format!("LAG({arg}, {offset})"),
        OverFunc::Lead { offset, .. } => format!("LEAD({arg}, {offset})"),
    }
}

/// `expr AS name` where the output column's name differs from the expression.
fn named_exprs(exprs: &[Expr], names: &[String], output: &Schema) -> String {
    let items: Vec<String> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let text = top(e, names);
            match output.fields.get(i) {
                Some(field) if field.name != text => format!("{text} AS {}", field.name),
                _ => text,
            }
        })
        .collect();
    items.join(", ")
}

fn partitioning(p: &Partitioning, names: &[String]) -> String {
    match p {
        Partitioning::ByKey(keys) => {
            format!("by key ({}), hashed to shards", expr_list(keys, names))
        }
        Partitioning::Single => "single (every row to shard 0)".to_owned(),
        Partitioning::RoundRobin => "round-robin (whole batches, no keyed state)".to_owned(),
        Partitioning::Broadcast => "broadcast (every row to every shard)".to_owned(),
    }
}

/// The join step: kind, keys, and why its inputs are placed as they are.
fn join_step(plan: &QueryPlan, join: &JoinPlan) -> String {
    let left: Vec<String> = plan.inputs[0]
        .schema
        .fields
        .iter()
        .map(|x| x.name.clone())
        .collect();
    let right: Vec<String> = plan.inputs[1]
        .schema
        .fields
        .iter()
        .map(|x| x.name.clone())
        .collect();
    let (l, r) = (&plan.inputs[0].name, &plan.inputs[1].name);
    let keys: Vec<String> = join
        .left_keys
        .iter()
        .zip(&join.right_keys)
        .map(|(a, b)| format!("{l}.{} = {r}.{}", top(a, &left), top(b, &right)))
        .collect();
    let outer = if join.outer { "left" } else { "inner" };
    let what = match join.kind {
        JoinKind::Interval => {
            let (before, after) = join.bound.unwrap_or_default();
            format!(
                "interval join ({outer}): each {l} row meets every {r} row with {r}.{} from {} before to {} after its {}; rows no later row can match are freed",
                name(&right, join.right_time.unwrap_or(0)),
                ms(before),
                ms(after),
                name(&left, join.left_time.unwrap_or(0))
            )
        }
        JoinKind::Lookup => format!("lookup join ({outer}): each {l} row meets {r}'s current row"),
        JoinKind::AsOf => format!(
            "asof join ({outer}): each {l} row meets the {r} row with the greatest {} at or before its {}, \
             once {r}'s watermark has passed it",
            name(&right, join.right_time.unwrap_or(0)),
            name(&left, join.left_time.unwrap_or(0))
        ),
    };
    let placed = match (join.distribution, &plan.inputs[0].partitioning) {
        (_, Partitioning::Single) => "all on shard 0: a global aggregate follows".to_owned(),
        (JoinDistribution::Broadcast, _) => {
            format!("{r} broadcast to every shard, so {l} keeps the partitioning of what follows")
        }
        (JoinDistribution::Partitioned, _) => {
            format!("{r} partitioned with {l} by the join key")
        }
    };
    format!("{what} on {}; {placed}", keys.join(" AND "))
}

fn expr_list(exprs: &[Expr], names: &[String]) -> String {
    let items: Vec<String> = exprs.iter().map(|e| top(e, names)).collect();
    items.join(", ")
}

fn name(names: &[String], index: usize) -> String {
    names
        .get(index)
        .cloned()
        .unwrap_or_else(|| format!("#{index}"))
}

/// An expression standing alone (a list item, an argument): without the
/// parentheses a binary operation gets inside a larger expression.
fn top(e: &Expr, names: &[String]) -> String {
    match e {
        Expr::Binary {
            op, left, right, ..
        } => format!(
            "{} {} {}",
            expr(left, names),
            op.symbol(),
            expr(right, names)
        ),
        _ => expr(e, names),
    }
}

/// An expression in SQL-like text; column references by name from `names`.
fn expr(e: &Expr, names: &[String]) -> String {
    match e {
        Expr::Column { index, .. } => name(names, *index),
        Expr::Literal { value, .. } => match value {
            Value::Null => "NULL".into(),
            Value::Utf8(s) => format!("'{}'", s.replace('\'', "''")),
            Value::Timestamp(_) => format!("TIMESTAMP '{value}'"),
            v => v.to_string(),
        },
        Expr::Binary {
            op, left, right, ..
        } => format!(
            "({} {} {})",
            expr(left, names),
            op.symbol(),
            expr(right, names)
        ),
        Expr::Not(inner) => format!("NOT {}", expr(inner, names)),
        Expr::Negate(inner) => format!("-{}", expr(inner, names)),
        Expr::IsNull {
            expr: inner,
            negated,
        } => format!(
            "{} IS {}NULL",
            expr(inner, names),
            if *negated { "NOT " } else { "" }
        ),
        Expr::Cast { expr: inner, to } => format!("CAST({} AS {to})", expr(inner, names)),
        Expr::Call {
            func: ScalarFunc::TumbleStart(size),
            args,
            ..
        } => format!("TUMBLE_START({}, {size} ms)", expr_list(args, names)),
        Expr::Call { func, args, .. } => {
            format!(
                "{}({})",
                format!("{func:?}").to_uppercase(),
                expr_list(args, names)
            )
        }
        Expr::Case {
            operand,
            branches,
            otherwise,
            ..
        } => {
            let mut s = "CASE".to_owned();
            if let Some(o) = operand {
                let _ = write!(s, " {}", expr(o, names));
            }
            for (when, then) in branches {
                let _ = write!(s, " WHEN {} THEN {}", top(when, names), top(then, names));
            }
            if let Some(e) = otherwise {
                let _ = write!(s, " ELSE {}", top(e, names));
            }
            s + " END"
        }
        Expr::InList {
            expr: inner,
            list,
            negated,
        } => format!(
            "{} {}IN ({})",
            expr(inner, names),
            if *negated { "NOT " } else { "" },
            expr_list(list, names)
        ),
        Expr::Between {
            expr: inner,
            low,
            high,
            negated,
        } => format!(
            "{} {}BETWEEN {} AND {}",
            expr(inner, names),
            if *negated { "NOT " } else { "" },
            expr(low, names),
            expr(high, names)
        ),
        Expr::Like {
            expr: inner,
            negated,
            ..
        } => format!(
            "{} {}LIKE <pattern>",
            expr(inner, names),
            if *negated { "NOT " } else { "" }
        ),
        Expr::Pattern { func, args } => {
            let args: Vec<String> = args.iter().map(|a| top(a, names)).collect();
            func.sql(&args)
        }
    }
}

/// Milliseconds in the largest whole unit: `60000` -> `1m`, `1500` -> `1500ms`.
pub(crate) fn ms(v: i64) -> String {
    const UNITS: [(i64, &str); 4] = [(3_600_000, "h"), (60_000, "m"), (1_000, "s"), (1, "ms")];
    if v == 0 {
        return "0s".into();
    }
    for (size, unit) in UNITS {
        if v % size == 0 {
            return format!("{}{unit}", v / size);
        }
    }
    format!("{v}ms")
}

#[cfg(test)]
mod tests {
    use super::ms;

    #[test]
    fn durations_use_the_largest_whole_unit() {
        assert_eq!(ms(0), "0s");
        assert_eq!(ms(60_000), "1m");
        assert_eq!(ms(90_000), "90s");
        assert_eq!(ms(1_500), "1500ms");
        assert_eq!(ms(7_200_000), "2h");
    }
}
