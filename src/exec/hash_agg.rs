//! Grouped aggregation over a hash table of groups.
//!
//! `EMIT CHANGES` produces one row per input row: the group's keys and its
//! aggregates right after that row. `EMIT FINAL` produces one row per group
//! when input ends.

use super::accumulator::Accumulator;
use super::expr::Expr;
use super::filter::select;
use super::fused_float;
use super::group_table::GroupTable;
use super::partial_agg::PartialGroups;
use super::project::project;
use crate::data::column::ColumnData;
use crate::data::DataType;
use crate::data::{Batch, Column};
use crate::sql::plan::{AggFunc, AggregatePlan};
use crate::sql::EmitMode;
use smallvec::SmallVec;
use std::borrow::Cow;

/// The operator state of one shard's GROUP BY.
pub struct HashAggregate {
    plan: AggregatePlan,
    emit: EmitMode,
    /// Emit the one row of a global aggregate (no GROUP BY) even over no rows,
    /// as SQL does (`COUNT(*)` 0, other aggregates NULL). Set on one shard only.
    global_row: bool,
    groups: GroupTable,
    /// The input columns of the keys, when every key is a plain column.
    key_columns: Option<SmallVec<[usize; 4]>>,
    accumulators: Vec<Accumulator>,
    /// Groups the accumulators are sized for (at most `groups.len()`).
    accumulator_groups: usize,
    /// The aggregates by argument ([`arg_sets`]).
    arg_sets: Vec<SmallVec<[usize; 4]>>,
    // Per-batch scratch, kept to avoid allocating per batch.
    /// Per aggregate, the buffer its computed DOUBLE argument reuses.
    arg_buffers: Vec<Vec<f64>>,
    group_ids: Vec<u32>,
    selection: Vec<u32>,
}

impl HashAggregate {
    pub fn new(plan: AggregatePlan, emit: EmitMode, global_row: bool) -> HashAggregate {
        HashAggregate {
            global_row: global_row && plan.keys.is_empty(),
            groups: key_table(&plan),
            key_columns: plan.keys.iter().map(Expr::column_index).collect(),
            accumulators: accumulators(&plan),
            accumulator_groups: 0,
            arg_sets: arg_sets(&plan),
            arg_buffers: vec![Vec::new(); plan.aggs.len()],
            plan,
            emit,
            group_ids: Vec::new(),
            selection: Vec::new(),
        }
    }

    /// Number of groups held.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Folds `batch` into the groups. Returns the rows to emit (CHANGES only).
    pub fn process(&mut self, batch: &Batch) -> Option<Batch> {
        if self.emit == EmitMode::Changes {
            return Some(self.process_changes(batch));
        }
        // On the stack: a batch allocates nothing to look up its groups.
        match &self.key_columns {
            Some(columns) => {
                let key_refs: SmallVec<[&Column; 4]> =
                    columns.iter().map(|&i| &batch.columns[i]).collect();
                self.find_groups(&key_refs, batch.len);
            }
            None => {
                let keys: SmallVec<[Cow<'_, Column>; 4]> =
                    self.plan.keys.iter().map(|k| k.eval(batch)).collect();
                let key_refs: SmallVec<[&Column; 4]> = keys.iter().map(|c| c.as_ref()).collect();
                self.find_groups(&key_refs, batch.len);
            }
        }
        self.update_by_argument(batch, self.groups.len());
        None
    }

    /// [`process`](Self::process) for `EMIT CHANGES`: each row's group keys
    /// and aggregates right after it.
    fn process_changes(&mut self, batch: &Batch) -> Batch {
        let keys: SmallVec<[Cow<'_, Column>; 4]> =
            self.plan.keys.iter().map(|k| k.eval(batch)).collect();
        let key_refs: SmallVec<[&Column; 4]> = keys.iter().map(|c| c.as_ref()).collect();
        self.find_groups(&key_refs, batch.len);
        let mut columns: Vec<Column> = keys.iter().map(|c| c.clone().into_owned()).collect();
        let aggs = self.accumulators.iter_mut().zip(&self.plan.aggs);
        for ((acc, call), spare) in aggs.zip(&mut self.arg_buffers) {
            let arg = call.arg.as_ref().map(|e| e.eval_reusing(batch, spare));
            let order = call.order.as_ref().map(|e| e.eval(batch));
            let mut snapshot = Column::with_capacity(call.output_type, batch.len);
            acc.update(
                &self.group_ids,
                arg.as_deref(),
                order.as_deref(),
                Some(&mut snapshot),
            );
            columns.push(snapshot);
            if let Some(arg) = arg {
                Expr::recycle(arg, spare);
            }
        }
        let grouped = Batch {
            columns,
            len: batch.len,
            ingest_time: batch.ingest_time,
        };
        self.finish_rows(grouped)
    }

    /// Finds (or adds) the group of each of `rows` rows of `keys` into
    /// `group_ids`, and sizes the accumulators for every group.
    fn find_groups(&mut self, keys: &[&Column], rows: usize) {
        self.groups.find_or_insert(keys, rows, &mut self.group_ids);
        self.cover_groups(self.groups.len());
    }

    /// Sizes the accumulators for `n` groups, if they hold fewer.
    #[inline]
    fn cover_groups(&mut self, n: usize) {
        if n > self.accumulator_groups {
            self.accumulator_groups = n;
            for acc in &mut self.accumulators {
                acc.resize(n);
            }
        }
    }

    /// Updates the accumulators (`n` groups) with `batch`, whose group ids
    /// are found, for `EMIT FINAL` ([`update_by_argument`]).
    fn update_by_argument(&mut self, batch: &Batch, n: usize) {
        update_by_argument(
            &self.plan,
            &self.arg_sets,
            &mut self.accumulators,
            &mut self.arg_buffers,
            batch,
            &self.group_ids,
            n,
        );
    }

    /// Takes every group out: the key columns and the accumulators, leaving
    /// no groups (for a router's partial aggregation).
    pub fn take_state(&mut self) -> (Vec<Column>, Vec<Accumulator>) {
        // Every update sized the accumulators for every group.
        let table = std::mem::replace(&mut self.groups, key_table(&self.plan));
        let accumulators = std::mem::replace(&mut self.accumulators, accumulators(&self.plan));
        self.accumulator_groups = 0;
        (table.into_keys(), accumulators)
    }

    /// This shard's groups, for a checkpoint: the key columns and each
    /// aggregate's accumulator (sized for every group).
    pub fn state(&self) -> (&[Column], &[Accumulator]) {
        (self.groups.keys(), &self.accumulators)
    }

    /// Adds restored groups (see [`state`](Self::state)) whose owner in
    /// `owner` is `shard`, merging them into groups it holds already.
    pub fn restore(
        &mut self,
        keys: Vec<Column>,
        accumulators: Vec<Accumulator>,
        owner: Vec<u32>,
        shard: usize,
    ) {
        let partial = PartialGroups {
            keys,
            accumulators,
            owner,
            ingest_time: std::time::Instant::now(),
        };
        self.merge_partial(&partial, shard);
    }

    /// Merges the groups of `partial` that shard `shard` owns into this
    /// shard's groups.
    pub fn merge_partial(&mut self, partial: &PartialGroups, shard: usize) {
        let from = super::hash::rows_of_shard(&partial.owner, shard);
        if from.is_empty() {
            return;
        }
        let keys: Vec<Column> = partial.keys.iter().map(|c| c.gather(&from)).collect();
        let key_refs: Vec<&Column> = keys.iter().collect();
        self.find_groups(&key_refs, from.len());
        for (acc, other) in self.accumulators.iter_mut().zip(&partial.accumulators) {
            acc.merge_from(other, &from, &self.group_ids);
        }
    }

    /// The final row of every group (FINAL); nothing for CHANGES, whose rows
    /// were already emitted.
    pub fn finish(&mut self) -> Option<Batch> {
        if self.emit == EmitMode::Changes {
            return None;
        }
        if self.groups.is_empty() {
            return self.global_row.then(|| self.empty_global_row());
        }
        let n = self.groups.len();
        let mut columns: Vec<Column> = self.groups.keys().to_vec();
        for (acc, call) in self.accumulators.iter().zip(&self.plan.aggs) {
            let mut c = Column::with_capacity(call.output_type, n);
            for g in 0..n {
                acc.push_result(g, &mut c);
            }
            columns.push(c);
        }
        Some(self.finish_rows(Batch::new(columns, n)))
    }

    /// The global aggregate's row over no input.
    fn empty_global_row(&mut self) -> Batch {
        self.cover_groups(1);
        let mut columns = Vec::new();
        for (acc, call) in self.accumulators.iter().zip(&self.plan.aggs) {
            let mut c = Column::with_capacity(call.output_type, 1);
            acc.push_result(0, &mut c);
            columns.push(c);
        }
        self.finish_rows(Batch::new(columns, 1))
    }

    fn finish_rows(&mut self, grouped: Batch) -> Batch {
        having_and_project(&self.plan, grouped, &mut self.selection)
    }
}

/// An empty group table for the plan's keys.
pub(crate) fn key_table(plan: &AggregatePlan) -> GroupTable {
    let key_types: Vec<_> = plan.keys.iter().map(|k| k.data_type()).collect();
    GroupTable::new(&key_types, 1024)
}

/// The plan's aggregates by argument: each set holds the calls with one
/// argument and no order, in plan order; a call with an order is a set of
/// its own. A `COUNT(*)` joins the first set over a DOUBLE argument, whose
/// pass can count its rows too ([`fused_float`]; it ignores the argument
/// whichever loop updates it), else it is a set of its own.
pub(crate) fn arg_sets(plan: &AggregatePlan) -> Vec<SmallVec<[usize; 4]>> {
    let mut sets: Vec<SmallVec<[usize; 4]>> = Vec::new();
    for (i, call) in plan.aggs.iter().enumerate() {
        let shares = |set: &&mut SmallVec<[usize; 4]>| {
            let first = &plan.aggs[set[0]];
            call.arg.is_some()
                && call.order.is_none()
                && first.order.is_none()
                && first.arg == call.arg
        };
        match sets.iter_mut().find(shares) {
            Some(set) => set.push(i),
            None => sets.push(smallvec::smallvec![i]),
        }
    }
    let double_host = sets.iter().position(|set| {
        let first = &plan.aggs[set[0]];
        first.order.is_none()
            && first
                .arg
                .as_ref()
                .is_some_and(|e| e.data_type() == DataType::Float64)
    });
    if let Some(host) = double_host {
        // Each `COUNT(*)` is a set of its own so far; the host's first call
        // has an argument, so the host outlives the `retain`.
        let is_star = |i: usize| plan.aggs[i].func == AggFunc::CountStar;
        sets[host].extend((0..plan.aggs.len()).filter(|&i| is_star(i)));
        sets.retain(|set| !is_star(set[0]));
    }
    sets
}

/// Updates `accumulators` (each already sized for `n` groups;
/// `arg_buffers` one per aggregate) with `batch`, whose rows' groups are
/// `groups`, for `EMIT FINAL`: each argument evaluated once for the
/// aggregates that share it ([`arg_sets`]), and DOUBLE ones updated in one
/// pass where they can be ([`fused_float`]).
pub(crate) fn update_by_argument(
    plan: &AggregatePlan,
    arg_sets: &[SmallVec<[usize; 4]>],
    accumulators: &mut [Accumulator],
    arg_buffers: &mut [Vec<f64>],
    batch: &Batch,
    groups: &[u32],
    n: usize,
) {
    for set in arg_sets {
        let first = &plan.aggs[set[0]];
        let spare = &mut arg_buffers[set[0]];
        let arg = first.arg.as_ref().map(|e| e.eval_reusing(batch, spare));
        let order = first.order.as_ref().map(|e| e.eval(batch));
        if let [only] = set[..] {
            // Most sets: no list of accumulators to gather, no pass to pick.
            accumulators[only].update(groups, arg.as_deref(), order.as_deref(), None);
        } else {
            let mut accs: SmallVec<[&mut Accumulator; 4]> = accumulators
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| set.contains(i))
                .map(|(_, acc)| acc)
                .collect();
            let fused = match arg.as_deref() {
                Some(Column {
                    data: ColumnData::Float64(v),
                    validity: None,
                }) => fused_float::update_together(&mut accs, groups, v, n),
                _ => false,
            };
            if !fused {
                for acc in accs {
                    acc.update(groups, arg.as_deref(), order.as_deref(), None);
                }
            }
        }
        if let Some(arg) = arg {
            Expr::recycle(arg, spare);
        }
    }
}

/// Empty state for each of the plan's aggregates.
pub(crate) fn accumulators(plan: &AggregatePlan) -> Vec<Accumulator> {
    plan.aggs
        .iter()
        .map(|a| Accumulator::new(a.func, a.arg.as_ref().map(|e| e.data_type())))
        .collect()
}

/// HAVING and the select list over rows of the grouped schema.
pub(crate) fn having_and_project(
    plan: &AggregatePlan,
    grouped: Batch,
    selection: &mut Vec<u32>,
) -> Batch {
    match &plan.having {
        Some(h) if select(h, &grouped, selection) > 0 => {
            project(&plan.project, grouped, Some(selection))
        }
        _ => project(&plan.project, grouped, None),
    }
}
