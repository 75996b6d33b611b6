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

    /// Folds a batch of input rows: WHERE, then the groups.
    pub fn fold(&mut self, batch: Batch) {
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
