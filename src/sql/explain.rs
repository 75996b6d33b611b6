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

use super::plan::{AggCall, AggFunc, AggregatePlan, Partitioning, PlanBody, QueryPlan, WindowKind};
use super::EmitMode;
use crate::data::{Schema, Value};
use crate::exec::expr::Expr;
use std::fmt::{self, Write as _};

impl QueryPlan {
    /// The plan in words, one item per line (the `corestream explain` output).
    pub fn explain(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for QueryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let input: Vec<String> = self
            .input_schema
            .fields
            .iter()
            .map(|x| x.name.clone())
            .collect();
        writeln!(f, "source: {}", self.source_name)?;
        writeln!(f, "input schema: {}", schema_list(&self.input_schema))?;
        match &self.partitioning {
            Partitioning::ByKey(keys) => writeln!(
                f,
                "partitioning: by key ({}), hashed to shards",
                expr_list(keys, &input)
            )?,
            Partitioning::Single => writeln!(f, "partitioning: single (every row to shard 0)")?,
            Partitioning::RoundRobin => writeln!(
                f,
                "partitioning: round-robin (whole batches, no keyed state)"
            )?,
            #[allow(unreachable_patterns)] // a partitioning added to plan.rs later
            other => writeln!(f, "partitioning: {other:?}")?,
        }
        writeln!(f, "each shard runs:")?;
        let mut step = 0;
        let mut op = |f: &mut fmt::Formatter<'_>, text: String| {
            step += 1;
            writeln!(f, "  {step}. {text}")
        };
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
            #[allow(unreachable_patterns)] // an operator added to plan.rs later
            other => op(f, format!("{other:?}"))?,
        }
        let emit = match self.emit {
            EmitMode::Changes => "CHANGES (an updated row per input record that changes it)",
            EmitMode::Final if self.windowed() => {
                "FINAL (one row per key and window, when the window closes)"
            }
            EmitMode::Final => "FINAL (one row per group, at end of input)",
        };
        writeln!(f, "emit: {emit}")?;
        if self.windowed() {
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
        writeln!(f, "output schema: {}", schema_list(&self.output_schema))
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
                #[allow(unreachable_patterns)] // a window kind added to plan.rs later
                other => format!("{other:?}"),
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
    let func = match a.func {
        AggFunc::CountStar => return "COUNT(*)".into(),
        AggFunc::Count => "COUNT",
        AggFunc::Sum => "SUM",
        AggFunc::Avg => "AVG",
        AggFunc::Min => "MIN",
        AggFunc::Max => "MAX",
        #[allow(unreachable_patterns)] // an aggregate added to plan.rs later
        other => return format!("{other:?}").to_uppercase(),
    };
    match &a.arg {
        Some(arg) => format!("{func}({})", top(arg, input)),
        None => format!("{func}(*)"),
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
    #[allow(unreachable_patterns)] // an expression added to expr.rs later
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
        other => format!("{other:?}"),
    }
}

fn schema_list(schema: &Schema) -> String {
    let items: Vec<String> = schema
        .fields
        .iter()
        .map(|f| format!("{} {}", f.name, f.data_type))
        .collect();
    items.join(", ")
}

/// Milliseconds in the largest whole unit: `60000` -> `1m`, `1500` -> `1500ms`.
fn ms(v: i64) -> String {
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
