//! Partial aggregation in the routers: local-global aggregation.
//!
//! A router that would scatter every row of a grouped `EMIT FINAL` query to
//! the shard owning its key instead folds the rows into groups of its own
//! ([`PartialAggregate`]), with the same accumulators the shards use. From
//! time to time it hands the partial groups over ([`PartialGroups`]); each
//! shard merges the groups it owns into its state with
//! [`Accumulator::merge_from`], then finishes as usual (HAVING, projection).
//!
//! Folding costs about what routing a row costs (hash, probe versus hash,
//! copy), so a router does the shard's work at no extra cost, and a hot key
//! no longer loads one shard: each router sends it at most once per flush.
//! The engine uses it for a file read in parallel with at least as many
//! readers as shards, so every shard has a router of its own and the routers
//! have the cores the shards leave idle. (Rows of several readers already
//! interleave there, so a DOUBLE sum's last bits already depend on timing;
//! one reader keeps sending rows, and its sums stay bit-identical for any
//! core count.)
//!
//! # When the groups are handed over
//! - Every [`FLUSH_ROWS`] input rows, or when the oldest folded row has waited
//!   [`FLUSH_AFTER`], so progress counts and memory stay current;
//! - when the groups reach [`MAX_GROUPS`], which bounds the router's memory;
//! - at end of input (and when the router stops).
//!
//! If the groups reach [`MAX_GROUPS`] before the rows are at least twice
//! their number, the keys hardly repeat and folding only adds work: the
//! router hands over what it holds and routes rows from then on. A shard
//! takes routed rows and merged groups alike, so this needs no coordination.
//!
//! # Which queries
//! [`splits`]: a grouped aggregate without a window,
//! `EMIT FINAL`, whose results do not depend on arrival order, and whose
//! aggregates have a state of fixed size (all but `COUNT(DISTINCT ..)`).

use super::accumulator::Accumulator;
use super::expr::Expr;
use super::filter::filter;
use super::hash::{hash_rows, shard_of};
use super::hash_agg::HashAggregate;
use crate::data::{Batch, Column};
use crate::sql::plan::{AggFunc, PlanBody, QueryPlan};
use crate::sql::EmitMode;
use std::time::{Duration, Instant};

/// Input rows after which a router hands its groups over.
pub const FLUSH_ROWS: u64 = 1 << 20;
/// Longest a folded row waits before its group is handed over.
pub const FLUSH_AFTER: Duration = Duration::from_millis(100);
/// Most groups a router holds.
pub const MAX_GROUPS: usize = 1 << 16;

/// Groups folded by one router, handed to every shard at once: shard `s`
/// merges the groups `g` with `owner[g] == s`.
#[derive(Debug)]
pub struct PartialGroups {
    /// The group keys, one column per GROUP BY key (none for a global aggregate).
    pub keys: Vec<Column>,
    /// One accumulator per aggregate call, with the groups' states.
    pub accumulators: Vec<Accumulator>,
    /// The shard that owns each group: the one the router would send its rows to.
    pub owner: Vec<u32>,
    /// When the oldest row folded into these groups arrived.
    pub ingest_time: Instant,
}

/// Whether `plan` can be aggregated partly in the routers (see the module docs).
pub fn splits(plan: &QueryPlan) -> bool {
    if plan.join.is_some() || plan.upstream.is_some() || plan.union.is_some() {
        // The routers see the rows before the join, or before the stage
        // that aggregates.
        return false;
    }
    match &plan.body {
        PlanBody::Aggregate(agg) => {
            agg.window.is_none()
                && plan.emit == EmitMode::Final
                && !plan.needs_arrival_order()
                && agg.aggs.iter().all(|a| a.func != AggFunc::CountDistinct)
        }
        _ => false,
    }
}

/// One router's partial groups, and what it counts about the rows folded.
pub struct PartialAggregate {
    filter: Option<Expr>,
    groups: HashAggregate,
    /// Whether the plan partitions by key (else every group is shard 0's).
    by_key: bool,
    active: bool,
    /// Rows folded since the last hand-over, WHERE-removed ones included.
    records: u64,
    filtered: u64,
    oldest: Option<Instant>,
    selection: Vec<u32>,
    hashes: Vec<u64>,
}

/// What a hand-over carries besides the groups: the rows they stand for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Folded {
    /// Input rows folded, WHERE-removed ones included.
    pub records: u64,
    /// Of those, rows WHERE removed.
    pub filtered: u64,
}

impl PartialAggregate {
    /// The partial aggregation of `plan`, if the plan can be split this way
    /// (see the module docs).
    pub fn for_plan(plan: &QueryPlan) -> Option<PartialAggregate> {
        let PlanBody::Aggregate(agg) = &plan.body else {
            return None;
        };
        splits(plan).then(|| PartialAggregate {
            filter: plan.filter.clone(),
            groups: HashAggregate::new(agg.clone(), EmitMode::Final, false),
            by_key: !agg.keys.is_empty(),
            active: true,
            records: 0,
            filtered: 0,
            oldest: None,
            selection: Vec::new(),
            hashes: Vec::new(),
        })
    }

    /// Whether rows should still be folded (not routed): see the module docs.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Folds a batch of input rows: WHERE, then the groups. Returns the
    /// batch, spent, for its source to refill.
    pub fn fold(&mut self, batch: Batch) -> Batch {
        self.records += batch.len as u64;
        self.oldest.get_or_insert(batch.ingest_time);
        let batch = match &self.filter {
            Some(p) => {
                let (kept, removed) = filter(p, batch, &mut self.selection);
                self.filtered += removed as u64;
                kept
            }
            None => batch,
        };
        if !batch.is_empty() {
            self.groups.process(&batch);
        }
        batch
    }

    /// Whether the groups should be handed over now.
    pub fn due(&self) -> bool {
        self.records >= FLUSH_ROWS
            || self.groups.groups() >= MAX_GROUPS
            || self.oldest.is_some_and(|t| t.elapsed() >= FLUSH_AFTER)
    }

    /// Takes the groups folded so far, each assigned to one of `shards`, and
    /// the count of rows they stand for; `None` when no row was folded. Turns
    /// folding off when the groups reached [`MAX_GROUPS`] in fewer than twice
    /// as many rows.
    pub fn take(&mut self, shards: usize) -> Option<(PartialGroups, Folded)> {
        let ingest_time = self.oldest.take()?;
        let folded = Folded {
            records: std::mem::take(&mut self.records),
            filtered: std::mem::take(&mut self.filtered),
        };
        let groups = self.groups.groups();
        if groups >= MAX_GROUPS && folded.records - folded.filtered < 2 * groups as u64 {
            self.active = false;
        }
        let (keys, accumulators) = self.groups.take_state();
        let owner = if self.by_key && shards > 1 {
            let refs: Vec<&Column> = keys.iter().collect();
            hash_rows(&refs, groups, &mut self.hashes);
            self.hashes
                .iter()
                .map(|&h| shard_of(h, shards) as u32)
                .collect()
        } else {
            vec![0; groups]
        };
        let partial = PartialGroups {
            keys,
            accumulators,
            owner,
            ingest_time,
        };
        Some((partial, folded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataType, Field, Schema, Value};
    use crate::sql::plan::PlanBody;

    /// Batches of `(k VARCHAR, x BIGINT, y DOUBLE)` with NULLs, from a fixed
    /// pseudo-random sequence; `y` in halves, so every sum is exact.
    fn batches(schema: &Schema, count: usize) -> Vec<Batch> {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        (0..count)
            .map(|_| {
                let rows = (next() % 300) as usize;
                let mut b = Batch::with_capacity(schema, rows);
                for _ in 0..rows {
                    let r = next();
                    let k = match r % 23 {
                        0 => Value::Null,
                        n => Value::Utf8(format!("key-{}", "x".repeat((n % 19) as usize))),
                    };
                    let x = match (r >> 8) % 11 {
                        0 => Value::Null,
                        _ => Value::Int64(((r >> 16) % 1000) as i64 - 500),
                    };
                    let y = Value::Float64(((r >> 32) % 200) as f64 / 2.0 - 40.0);
                    for (c, v) in b.columns.iter_mut().zip([k, x, y]) {
                        assert!(c.push_value(&v));
                    }
                    b.len += 1;
                }
                b
            })
            .collect()
    }

    fn rows(batch: Option<Batch>) -> Vec<String> {
        let Some(b) = batch else { return Vec::new() };
        (0..b.len)
            .map(|i| {
                let row: Vec<String> = b.columns.iter().map(|c| c.value(i).to_string()).collect();
                row.join(",")
            })
            .collect()
    }

    #[test]
    fn groups_handed_over_many_times_by_many_routers_merge_to_one_aggregate() {
        let schema = Schema::new(vec![
            Field::new("k", DataType::Utf8),
            Field::new("x", DataType::Int64),
            Field::new("y", DataType::Float64),
        ]);
        for sql in [
            "SELECT k, COUNT(*), COUNT(x), SUM(x), AVG(y), MIN(y), MAX(x), MIN(k), SUM(y) \
             FROM t WHERE x IS NULL OR x > -400 GROUP BY k HAVING COUNT(*) > 1 EMIT FINAL",
            "SELECT COUNT(*), SUM(x), MAX(y), AVG(x) FROM t EMIT FINAL",
        ] {
            let plan =
                crate::sql::plan_query(&crate::sql::parse(sql).unwrap(), None, &schema).unwrap();
            let PlanBody::Aggregate(agg) = &plan.body else {
                panic!("{sql}: not an aggregate")
            };
            let input = batches(&schema, 60);
            let mut whole = HashAggregate::new(agg.clone(), EmitMode::Final, true);
            for b in &input {
                let (kept, _) = match &plan.filter {
                    Some(p) => filter(p, b.clone(), &mut Vec::new()),
                    None => (b.clone(), 0),
                };
                whole.process(&kept);
            }
            let mut expected = rows(whole.finish());
            expected.sort();

            let shards = 2;
            let mut merged: Vec<HashAggregate> = (0..shards)
                .map(|s| HashAggregate::new(agg.clone(), EmitMode::Final, s == 0))
                .collect();
            let mut routers: Vec<PartialAggregate> = (0..3)
                .map(|_| PartialAggregate::for_plan(&plan).unwrap())
                .collect();
            let (mut records, mut filtered) = (0, 0);
            let mut hand_over = |p: &mut PartialAggregate, merged: &mut [HashAggregate]| {
                if let Some((groups, folded)) = p.take(shards) {
                    records += folded.records;
                    filtered += folded.filtered;
                    for (s, agg) in merged.iter_mut().enumerate() {
                        agg.merge_partial(&groups, s);
                    }
                }
            };
            for (i, b) in input.iter().enumerate() {
                let p = &mut routers[i % 3];
                p.fold(b.clone());
                // Hand over after some batches only, so groups accumulate
                // across batches and repeat across hand-overs.
                if i % 4 == 1 {
                    hand_over(p, &mut merged);
                }
            }
            for p in &mut routers {
                hand_over(p, &mut merged);
                assert!(p.take(shards).is_none(), "nothing left after a hand-over");
            }
            let mut got: Vec<String> = merged.iter_mut().flat_map(|a| rows(a.finish())).collect();
            got.sort();
            assert!(!expected.is_empty());
            assert_eq!(got, expected, "{sql}");
            let total: u64 = input.iter().map(|b| b.len as u64).sum();
            assert_eq!(records, total, "{sql}: every row counted once");
            assert!(filtered > 0 || plan.filter.is_none(), "{sql}");
        }
    }
}
