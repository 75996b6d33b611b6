//! What checkpoints need of a run, checked before it starts: inputs that
//! can be read again from a position (files, generators and Kafka topics;
//! stdin and TCP are refused with exit 2). Every operator's state is covered (see
//! [`super::snapshot`]). Also how each stage's state is owned by key, for a
//! restore onto another number of shards, and the plan fingerprint that
//! ties a checkpoint to its query.

use crate::error::Error;
use crate::exec::expr::Expr;
use crate::exec::scalar::ScalarFunc;
use crate::sql::plan::{Partitioning, PlanBody, QueryPlan};

/// Refuses an input that cannot be read again from a position after a
/// crash: files, the generators and Kafka topics can (stdin and TCP not).
pub fn check_input(spec: &str) -> Result<(), Error> {
    let replayable = crate::io::source::file_path(spec).is_some()
        || spec.starts_with("gen:")
        || spec.starts_with("kafka://");
    match replayable {
        true => Ok(()),
        false => Err(Error::Config(format!(
            "--checkpoint-dir needs an input that can be read again after a crash (a \
             file, a generator or a Kafka topic); {spec} cannot"
        ))),
    }
}

/// How a stage's state is owned by key, for a restore onto another number
/// of shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateRouting {
    /// Its join's table is copied to every shard: every shard restores all
    /// of it.
    pub broadcast_table: bool,
    /// Its tumbling windows are routed by key and window start (see
    /// `sql::bind`): a window's owner hashes its start after its key.
    pub window_in_key: bool,
}

/// Per stage of `plan`, how its state is owned.
pub fn state_routing(plan: &QueryPlan) -> Vec<StateRouting> {
    plan.stages()
        .into_iter()
        .map(|s| StateRouting {
            broadcast_table: table_broadcast(s),
            window_in_key: window_in_key(s),
        })
        .collect()
}

/// Whether a stage's stream is routed by its windows' keys and start.
fn window_in_key(stage: &QueryPlan) -> bool {
    let PlanBody::Aggregate(agg) = &stage.body else {
        return false;
    };
    let keyed_join = stage.join.is_some() && !table_broadcast(stage);
    let n = agg.keys.len();
    match &stage.inputs[0].partitioning {
        Partitioning::ByKey(k) if !keyed_join && k.len() == n + 1 => {
            k[..n] == agg.keys[..]
                && matches!(
                    k[n],
                    Expr::Call {
                        func: ScalarFunc::TumbleStart(_),
                        ..
                    }
                )
        }
        _ => false,
    }
}

/// Whether one stage's join reads a table copied to every shard.
fn table_broadcast(stage: &QueryPlan) -> bool {
    let right = stage.inputs.get(1).map(|i| &i.partitioning);
    stage.join.is_some() && matches!(right, Some(Partitioning::Broadcast))
}

/// Whether the state of `plan` can be split by key onto another number of
/// shards: its groups are routed by their own key values (or there is one
/// global group, or no state).
pub fn splits_by_key(plan: &QueryPlan) -> bool {
    plan.stages().into_iter().all(stage_splits_by_key)
}

/// One stage of [`splits_by_key`].
fn stage_splits_by_key(plan: &QueryPlan) -> bool {
    if let Some(branch) = &plan.union {
        // Both branches stateless (a state after them is a stage of its own).
        let stateless = |p: &QueryPlan| matches!(p.body, PlanBody::Project(_)) && p.join.is_none();
        return stateless(plan) && stateless(branch);
    }
    if let Some(join) = plan.join.as_ref().filter(|_| !table_broadcast(plan)) {
        // Each side's rows by their join key, and what follows by the same.
        let by = |i: usize, keys: &Vec<_>| matches!(&plan.inputs[i].partitioning, Partitioning::ByKey(k) if k == keys);
        return by(0, &join.left_keys)
            && by(1, &join.right_keys)
            && match &plan.body {
                PlanBody::Project(_) => true,
                PlanBody::Aggregate(agg) => agg.keys == join.left_keys,
                PlanBody::TopN(top) => top.partition == join.left_keys,
                _ => false,
            };
    }
    match (&plan.body, &plan.partitioning) {
        (PlanBody::Project(_), _) => true,
        (PlanBody::Aggregate(agg), Partitioning::ByKey(keys)) => {
            *keys == agg.keys || window_in_key(plan)
        }
        (PlanBody::Aggregate(agg), Partitioning::Single) => agg.keys.is_empty(),
        (PlanBody::TopN(top), Partitioning::ByKey(keys)) => *keys == top.partition,
        (PlanBody::TopN(top), Partitioning::Single) => top.partition.is_empty(),
        (PlanBody::RowWindow(rows), Partitioning::ByKey(keys)) => *keys == rows.partition,
        (PlanBody::RowWindow(rows), Partitioning::Single) => rows.partition.is_empty(),
        _ => false,
    }
}

/// A fingerprint of the plan: checkpoints of another query (or of a build
/// that plans this one differently) are not restored into it.
pub fn fingerprint(plan: &QueryPlan) -> String {
    let text = format!("{plan:?}");
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}
