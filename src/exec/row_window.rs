//! Row windows: `f(x) OVER (PARTITION BY k ORDER BY t ROWS BETWEEN n PRECEDING AND CURRENT ROW)`.
//!
//! Every input row is emitted once, extended with the values of its window
//! functions. A partition's rows are taken in arrival order (the router keeps
//! a partition on one shard and a shard sees its rows in source order).
//!
//! Bounded frames keep the frame's last `n + 1` values: sums and counts add the
//! entering value and subtract the leaving one; MIN and MAX keep a monotonic
//! deque of the frame's candidates, so each row enters and leaves it once
//! (O(1) amortised per row). Unbounded frames keep only running totals.
//!
//! With `LEAD(x, k)` a row waits until the row `k` ahead in its partition
//! arrives; at end of input the rows still waiting are emitted with the
//! default. Rows therefore leave in partition order, not input order.

mod checkpoint;
mod sorted_input;

use super::group_table::GroupTable;
use super::project::project;
use crate::data::column::ColumnData;
use crate::data::{Batch, Column, DataType, Value};
use crate::sql::plan::{AggFunc, OverCall, OverFunc, RowWindowPlan};
use sorted_input::SortedInput;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::VecDeque;

/// A numeric frame value: integers, timestamps and decimals (at the
/// argument's scale) as `I`, doubles as `F`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
enum Num {
    I(i128),
    F(f64),
}

impl Num {
    fn at(c: &Column, i: usize) -> Option<Num> {
        if !c.is_valid(i) {
            return None;
        }
        match &c.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => Some(Num::I(v[i] as i128)),
            ColumnData::Float64(v) => Some(Num::F(v[i])),
            ColumnData::Decimal { values, .. } => Some(Num::I(values[i])),
            _ => None,
        }
    }

    /// The order MIN and MAX use: by value, a NaN greater than every number
    /// and equal to itself (as in PostgreSQL), so that the frame's deque of
    /// candidates stays monotonic.
    fn sql_cmp(self, other: Num) -> Ordering {
        match (self, other) {
            (Num::I(a), Num::I(b)) => a.cmp(&b),
            (a, b) => {
                let (a, b) = (a.f64(), b.f64());
                match (a.is_nan(), b.is_nan()) {
                    (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                    (x, y) => x.cmp(&y),
                }
            }
        }
    }

    fn add(self, other: Num) -> Num {
        match (self, other) {
            (Num::I(a), Num::I(b)) => Num::I(a + b),
            (a, b) => Num::F(a.f64() + b.f64()),
        }
    }

    fn sub(self, other: Num) -> Num {
        match (self, other) {
            (Num::I(a), Num::I(b)) => Num::I(a - b),
            (a, b) => Num::F(a.f64() - b.f64()),
        }
    }

    fn f64(self) -> f64 {
        match self {
            Num::I(v) => v as f64,
            Num::F(v) => v,
        }
    }

    /// As a value of type `t` (the argument's or the result's type).
    fn value(self, t: DataType) -> Value {
        match (self, t) {
            (Num::I(v), DataType::Int64) => i64::try_from(v).map_or(Value::Null, Value::Int64),
            (Num::I(v), DataType::Timestamp) => {
                i64::try_from(v).map_or(Value::Null, Value::Timestamp)
            }
            (Num::I(v), DataType::Decimal { scale, .. }) => Value::Decimal { value: v, scale },
            (n, _) => Value::Float64(n.f64()),
        }
    }
}

/// One aggregate's frame in one partition.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Frame {
    /// The frame's values, oldest first (bounded SUM, AVG, COUNT and FIRST_VALUE).
    values: VecDeque<Option<Num>>,
    sum: Option<Num>,
    non_null: i64,
    /// MIN/MAX candidates `(row, value)`: rows ascending, values strictly
    /// improving from back to front.
    extremes: VecDeque<(u64, Num)>,
    /// The partition's first value (FIRST_VALUE).
    first: Option<Option<Num>>,
}

/// A bounded frame's DOUBLE sum once it is no longer finite: the frame's
/// values summed afresh. A running sum that met an infinity stays infinite
/// or NaN (`inf - inf`) after the infinity has left; summed afresh, it is
/// finite again. Frames holding an infinity are rare, so the cost (the
/// frame's length) is paid rarely; a finite sum costs one check.
#[cold]
fn sum_afresh(values: &VecDeque<Option<Num>>) -> f64 {
    values.iter().flatten().map(|v| v.f64()).sum()
}

/// One call's state in one partition.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum CallState {
    Frame(Frame),
    /// LAG: the last `offset` argument values, oldest first.
    Lag(VecDeque<Value>),
    /// ROW_NUMBER and LEAD keep nothing per call.
    None,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Partition {
    /// Rows seen so far.
    rows: u64,
    calls: Vec<CallState>,
    /// Rows waiting for their LEAD values (plans with LEAD only).
    waiting: VecDeque<Vec<Value>>,
}

/// The operator state of one shard's row window.
///
/// # Threading
/// Owned by one shard; never shared.
pub struct RowWindow {
    plan: RowWindowPlan,
    /// The intermediate schema's types: the input's, then one per call.
    types: Vec<DataType>,
    input_width: usize,
    partitions: GroupTable,
    states: Vec<Partition>,
    /// The largest LEAD offset, when the plan has a LEAD.
    lead_horizon: Option<usize>,
    ids: Vec<u32>,
    /// Each row's number within its partition (from 0), for the batch.
    seqs: Vec<u64>,
    /// The rows held to be sorted, when the plan sorts its input.
    sorted: Option<SortedInput>,
}

impl RowWindow {
    pub fn new(plan: RowWindowPlan, input_types: &[DataType]) -> RowWindow {
        let key_types: Vec<_> = plan.partition.iter().map(|e| e.data_type()).collect();
        let mut types = input_types.to_vec();
        types.extend(plan.calls.iter().map(|c| c.output_type));
        let lead_horizon = plan
            .calls
            .iter()
            .filter_map(|c| match c.func {
                OverFunc::Lead { offset, .. } => Some(offset),
                _ => None,
            })
            .max();
        let sorted = (plan.sorted.zip(plan.order))
            .map(|(release, column)| SortedInput::new(column, release, input_types));
        RowWindow {
            sorted,
            partitions: GroupTable::new(&key_types, 1024),
            input_width: input_types.len(),
            types,
            plan,
            states: Vec::new(),
            lead_horizon,
            ids: Vec::new(),
            seqs: Vec::new(),
        }
    }

    /// Partitions seen.
    pub fn partitions(&self) -> usize {
        self.states.len()
    }

    /// Takes `batch`: its rows now, or held to be sorted when the plan sorts
    /// its input (see [`SortedInput`]); returns the rows that are complete.
    pub fn process(&mut self, batch: Batch) -> Option<Batch> {
        match &mut self.sorted {
            Some(sorted) => {
                sorted.hold(&batch);
                None
            }
            None => self.extend(batch),
        }
    }

    /// The watermark moved: the held rows it has passed, in order.
    pub fn advance(&mut self, watermark: i64) -> Option<Batch> {
        let rows = self.sorted.as_mut()?.release(watermark)?;
        self.extend(rows)
    }

    /// Extends every row of `batch` with its window values; returns the rows
    /// that are complete (all of them, unless the plan has LEAD).
    fn extend(&mut self, batch: Batch) -> Option<Batch> {
        self.assign_partitions(&batch);
        let args: Vec<Option<Cow<'_, Column>>> = self
            .plan
            .calls
            .iter()
            .map(|c| c.arg.as_ref().map(|e| e.eval(&batch)))
            .collect();
        let mut outputs: Vec<Column> = self
            .plan
            .calls
            .iter()
            .map(|c| Column::with_capacity(c.output_type, batch.len))
            .collect();
        let mut ready: Vec<Vec<Value>> = Vec::new();
        if self.lead_horizon.is_none() {
            // No row waits: each call's column is made in one pass over the
            // rows (calls are independent), so the call is matched once.
            self.seqs.clear();
            for &p in &self.ids {
                let rows = &mut self.states[p as usize].rows;
                self.seqs.push(*rows);
                *rows += 1;
            }
            for (c, call) in self.plan.calls.iter().enumerate() {
                let arg = args[c].as_deref();
                let out = &mut outputs[c];
                if !sum_dense_doubles(call, c, arg, &self.ids, &mut self.states, out) {
                    for (row, (&p, &seq)) in self.ids.iter().zip(&self.seqs).enumerate() {
                        let state = &mut self.states[p as usize].calls[c];
                        step(call, state, seq, arg, row, out);
                    }
                }
            }
        }
        for (row, &p) in self.ids.iter().enumerate() {
            let Some(horizon) = self.lead_horizon else {
                break;
            };
            let state = &mut self.states[p as usize];
            let seq = state.rows;
            state.rows += 1;
            for (c, call) in self.plan.calls.iter().enumerate() {
                let arg = args[c].as_deref();
                step(call, &mut state.calls[c], seq, arg, row, &mut outputs[c]);
            }
            let mut values: Vec<Value> = batch.columns.iter().map(|c| c.value(row)).collect();
            values.extend(outputs.iter().map(|c| c.value(c.len() - 1)));
            state.waiting.push_back(values);
            let waiting = state.waiting.len();
            for (c, call) in self.plan.calls.iter().enumerate() {
                if let OverFunc::Lead { offset, .. } = call.func {
                    if waiting > offset {
                        let value = args[c].as_deref().map_or(Value::Null, |a| a.value(row));
                        state.waiting[waiting - 1 - offset][self.input_width + c] = value;
                    }
                }
            }
            while state.waiting.len() > horizon {
                ready.extend(state.waiting.pop_front());
            }
        }
        drop(args);
        if self.lead_horizon.is_some() {
            return self.emit_rows(ready, batch.ingest_time);
        }
        let len = batch.len;
        let ingest_time = batch.ingest_time;
        let mut columns = batch.columns;
        columns.extend(outputs);
        let extended = Batch {
            columns,
            len,
            ingest_time,
        };
        Some(project(&self.plan.project, extended, None))
    }

    /// End of input: the rows held to be sorted, then the rows still
    /// waiting for a LEAD, with its default.
    pub fn finish(&mut self) -> Vec<Batch> {
        let held = self.sorted.as_mut().and_then(SortedInput::release_all);
        let mut out: Vec<Batch> = held
            .and_then(|rows| self.extend(rows))
            .into_iter()
            .collect();
        out.extend(self.finish_leads());
        out
    }

    /// The rows still waiting for a LEAD, with its default.
    fn finish_leads(&mut self) -> Option<Batch> {
        self.lead_horizon?;
        let mut rows = Vec::new();
        for state in &mut self.states {
            rows.extend(state.waiting.drain(..));
        }
        self.emit_rows(rows, std::time::Instant::now())
    }

    fn assign_partitions(&mut self, batch: &Batch) {
        if self.plan.partition.is_empty() {
            self.ids.clear();
            self.ids.resize(batch.len, 0);
        } else {
            let keys: Vec<Cow<'_, Column>> =
                self.plan.partition.iter().map(|k| k.eval(batch)).collect();
            let key_refs: Vec<&Column> = keys.iter().map(|c| c.as_ref()).collect();
            self.partitions
                .find_or_insert(&key_refs, batch.len, &mut self.ids);
        }
        let wanted = self.partitions.len().max(1);
        while self.states.len() < wanted {
            let calls = self.plan.calls.iter().map(new_state).collect();
            self.states.push(Partition {
                rows: 0,
                calls,
                waiting: VecDeque::new(),
            });
        }
    }

    fn emit_rows(&self, rows: Vec<Vec<Value>>, ingest_time: std::time::Instant) -> Option<Batch> {
        if rows.is_empty() {
            return None;
        }
        let mut columns: Vec<Column> = self
            .types
            .iter()
            .map(|t| Column::with_capacity(*t, rows.len()))
            .collect();
        for row in &rows {
            for (c, v) in columns.iter_mut().zip(row) {
                push(c, v);
            }
        }
        let extended = Batch {
            columns,
            len: rows.len(),
            ingest_time,
        };
        Some(project(&self.plan.project, extended, None))
    }
}

fn new_state(call: &OverCall) -> CallState {
    match call.func {
        OverFunc::Aggregate(_) => CallState::Frame(Frame::default()),
        OverFunc::Lag { .. } => CallState::Lag(VecDeque::new()),
        OverFunc::RowNumber | OverFunc::Lead { .. } => CallState::None,
    }
}

/// `SUM` or `AVG` of a DOUBLE without NULLs into a DOUBLE column without
/// NULLs: each row of the batch (in partition `ids[row]`) folded into call
/// `c`'s frame and its value appended to `out`, exactly as [`frame_step`]
/// does it, in one loop. Returns false, doing nothing, for any other call.
fn sum_dense_doubles(
    call: &OverCall,
    c: usize,
    arg: Option<&Column>,
    ids: &[u32],
    states: &mut [Partition],
    out: &mut Column,
) -> bool {
    let avg = match call.func {
        OverFunc::Aggregate(AggFunc::Avg) => true,
        OverFunc::Aggregate(AggFunc::Sum) => false,
        _ => return false,
    };
    let (
        Some(Column {
            data: ColumnData::Float64(values),
            validity: None,
        }),
        ColumnData::Float64(out),
        None,
    ) = (arg, &mut out.data, &out.validity)
    else {
        return false;
    };
    out.reserve(ids.len());
    for (&p, &x) in ids.iter().zip(values) {
        let CallState::Frame(frame) = &mut states[p as usize].calls[c] else {
            unreachable!("an aggregate call keeps a frame");
        };
        // A DOUBLE argument's sum is always a double (`Num::F`).
        let mut sum = frame.sum.map_or(x, |s| s.f64() + x);
        frame.non_null += 1;
        if let Some(n) = call.preceding {
            frame.values.push_back(Some(Num::F(x)));
            if frame.values.len() > n + 1 {
                if let Some(Some(old)) = frame.values.pop_front() {
                    sum -= old.f64();
                    frame.non_null -= 1;
                }
            }
            if !sum.is_finite() {
                sum = sum_afresh(&frame.values);
            }
        }
        frame.sum = Some(Num::F(sum));
        out.push(if avg {
            sum / frame.non_null as f64
        } else {
            sum
        });
    }
    true
}

/// Folds row `row` (the partition's row number `seq`, from 0) into `call`'s
/// state and appends the call's value for that row to `out`.
#[inline]
fn step(
    call: &OverCall,
    state: &mut CallState,
    seq: u64,
    arg: Option<&Column>,
    row: usize,
    out: &mut Column,
) {
    match (&call.func, state) {
        (OverFunc::RowNumber, _) => push_int(out, seq as i64 + 1),
        (OverFunc::Lead { default, .. }, _) => push(out, default),
        (OverFunc::Lag { offset, default }, CallState::Lag(last)) => {
            let value = arg.map_or(Value::Null, |a| a.value(row));
            if *offset == 0 {
                push(out, &value);
                return;
            }
            push(
                out,
                if last.len() == *offset {
                    &last[0]
                } else {
                    default
                },
            );
            last.push_back(value);
            if last.len() > *offset {
                last.pop_front();
            }
        }
        (OverFunc::Aggregate(func), CallState::Frame(frame)) => {
            let value = arg.and_then(|a| Num::at(a, row));
            frame_step(*func, call, frame, seq, value, out);
        }
        (func, state) => unreachable!("{func:?} with state {state:?}"),
    }
}

#[inline]
fn frame_step(
    func: AggFunc,
    call: &OverCall,
    frame: &mut Frame,
    seq: u64,
    value: Option<Num>,
    out: &mut Column,
) {
    // Only what `func` reads is kept: a running sum and count for SUM, AVG
    // and COUNT, the frame's values where a leaving row must be known.
    let sums = matches!(func, AggFunc::Sum | AggFunc::Avg | AggFunc::Count);
    if sums {
        if let Some(x) = value {
            frame.sum = Some(frame.sum.map_or(x, |s| s.add(x)));
            frame.non_null += 1;
        }
    }
    if func == AggFunc::FirstValue && frame.first.is_none() {
        frame.first = Some(value);
    }
    if let (Some(n), true) = (call.preceding, sums || func == AggFunc::FirstValue) {
        frame.values.push_back(value);
        if frame.values.len() > n + 1 {
            if let (Some(Some(old)), true) = (frame.values.pop_front(), sums) {
                frame.sum = match frame.sum.map(|s| s.sub(old)) {
                    // See `sum_afresh`.
                    Some(Num::F(s)) if !s.is_finite() => Some(Num::F(sum_afresh(&frame.values))),
                    other => other,
                };
                frame.non_null -= 1;
            }
        }
    }
    let frame_rows = call
        .preceding
        .map_or(seq + 1, |n| (seq + 1).min(n as u64 + 1));
    let t = call.output_type;
    match func {
        AggFunc::CountStar => push_int(out, frame_rows as i64),
        AggFunc::Count => push_int(out, frame.non_null),
        AggFunc::Sum => push_num(out, frame.sum.filter(|_| frame.non_null > 0), t),
        AggFunc::Avg => {
            let avg = frame.sum.filter(|_| frame.non_null > 0).map(|s| {
                let scale = match call.arg.as_ref().map(|a| a.data_type()) {
                    Some(DataType::Decimal { scale, .. }) => 10f64.powi(scale as i32),
                    _ => 1.0,
                };
                Num::F(s.f64() / scale / frame.non_null as f64)
            });
            push_num(out, avg, t)
        }
        AggFunc::Min | AggFunc::Max => {
            let max = func == AggFunc::Max;
            if let Some(x) = value {
                while frame
                    .extremes
                    .back()
                    .is_some_and(|&(_, b)| match b.sql_cmp(x) {
                        Ordering::Greater => !max,
                        Ordering::Less => max,
                        Ordering::Equal => true,
                    })
                {
                    frame.extremes.pop_back();
                }
                frame.extremes.push_back((seq, x));
            }
            if let Some(n) = call.preceding {
                while frame
                    .extremes
                    .front()
                    .is_some_and(|&(at, _)| at + (n as u64) < seq)
                {
                    frame.extremes.pop_front();
                }
            }
            push_num(out, frame.extremes.front().map(|&(_, v)| v), t)
        }
        AggFunc::FirstValue => {
            let first = match call.preceding {
                Some(_) => frame.values.front().copied().flatten(),
                None => frame.first.flatten(),
            };
            push_num(out, first, t)
        }
        AggFunc::LastValue => push_num(out, value, t),
        other => unreachable!("{other:?} is refused in OVER by the planner"),
    }
}

#[inline]
fn push_int(out: &mut Column, v: i64) {
    match (&mut out.data, &out.validity) {
        (ColumnData::Int64(values), None) => values.push(v),
        _ => push(out, &Value::Int64(v)),
    }
}

#[inline]
fn push_num(out: &mut Column, v: Option<Num>, t: DataType) {
    match (&mut out.data, &out.validity, v) {
        (ColumnData::Float64(values), None, Some(n)) => values.push(n.f64()),
        (_, _, Some(n)) => push(out, &n.value(t)),
        (_, _, None) => out.push_null(),
    }
}

/// Appends `v`; the planner types every value to its column, so a value that
/// does not fit is a bug, shown as NULL rather than a short column.
#[inline]
fn push(out: &mut Column, v: &Value) {
    if !out.push_value(v) {
        debug_assert!(false, "{v:?} does not fit a {} column", out.data_type());
        out.push_null();
    }
}
