//! Top-N per group: the rows `ROW_NUMBER() OVER (PARTITION BY p ORDER BY o)
//! <= N` keeps, emitted once their group is complete.
//!
//! A group is complete when the watermark passes its close time (the group
//! key includes the end of a closed window: its rows can no longer change),
//! or at end of input (`EMIT FINAL` over an input without windows). Rows of
//! a group are ranked by the ORDER BY, then, among ties, by their values, so
//! which rows make the top N never depends on arrival order (rows reach a
//! later stage from every shard in no fixed order).
//!
//! # State
//! Per open group, at most N rows, best first; a group's state is freed
//! when it is emitted.

use crate::data::column::ColumnData;
use crate::data::{Batch, Column, DataType, Value};
use crate::exec::expr::Expr;
use crate::sql::plan::TopNPlan;
use hashbrown::HashMap;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// One group's best rows: (ranking values, the row's values), best first.
type Ranked = Vec<(Vec<Value>, Vec<Value>)>;

/// One shard's Top-N.
pub struct TopN {
    plan: TopNPlan,
    input_types: Vec<DataType>,
    groups: HashMap<Vec<u8>, Ranked>,
    /// With a close time: groups by the time they complete.
    closing: BTreeMap<i64, Vec<Vec<u8>>>,
    watermark: i64,
}

/// A hashable encoding of key values (`Value` holds floats, so it has no `Eq`).
fn encode(values: &[Value], out: &mut Vec<u8>) {
    out.clear();
    for v in values {
        match v {
            Value::Null => out.push(0),
            Value::Int64(x) | Value::Timestamp(x) => {
                out.push(1);
                out.extend_from_slice(&x.to_le_bytes());
            }
            Value::Float64(x) => {
                out.push(2);
                // One key for 0.0 and -0.0, and for every NaN.
                let x = if *x == 0.0 {
                    0.0
                } else if x.is_nan() {
                    f64::NAN
                } else {
                    *x
                };
                out.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Value::Utf8(s) => {
                out.push(3);
                out.extend_from_slice(&(s.len() as u64).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Bool(b) => out.extend_from_slice(&[4, *b as u8]),
            Value::Decimal { value, scale } => {
                out.push(5);
                out.extend_from_slice(&value.to_le_bytes());
                out.push(*scale);
            }
        }
    }
}

/// SQL order with NULL above every value (PostgreSQL's).
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.sql_cmp(b).unwrap_or(Ordering::Equal),
    }
}

impl TopN {
    pub fn new(plan: TopNPlan, input_types: Vec<DataType>) -> TopN {
        TopN {
            plan,
            input_types,
            groups: HashMap::new(),
            closing: BTreeMap::new(),
            watermark: i64::MIN,
        }
    }

    /// Groups holding rows now.
    pub fn open_groups(&self) -> usize {
        self.groups.len()
    }

    /// For a checkpoint: every row held (input columns) and the watermark.
    pub fn state(&self) -> (Vec<Column>, usize, i64) {
        let mut columns: Vec<Column> = self.input_types.iter().map(|t| Column::new(*t)).collect();
        let mut n = 0;
        let mut keys: Vec<&Vec<u8>> = self.groups.keys().collect();
        keys.sort();
        for (_, values) in keys.into_iter().flat_map(|k| &self.groups[k]) {
            for (c, v) in columns.iter_mut().zip(values) {
                c.push_value(v);
            }
            n += 1;
        }
        (columns, n, self.watermark)
    }

    /// The group key columns of `batch`'s rows (which shard owns each).
    pub fn partition_keys(&self, batch: &Batch) -> Vec<Column> {
        (self.plan.partition.iter())
            .map(|e| e.eval(batch).into_owned())
            .collect()
    }

    /// Holds again rows [`state`](Self::state) gave (those this shard
    /// owns): ranked into their groups as if they had just come. The
    /// watermark becomes the smaller of the two.
    pub fn restore(&mut self, rows: &Batch, watermark: i64) {
        self.watermark = match self.watermark {
            i64::MIN => watermark,
            w => w.min(watermark),
        };
        self.process(rows);
    }

    /// Whether ranking `a` comes before `b` (ORDER BY, then the values).
    fn better(&self, a: &(Vec<Value>, Vec<Value>), b: &(Vec<Value>, Vec<Value>)) -> Ordering {
        for ((x, y), (_, desc)) in a.0.iter().zip(&b.0).zip(&self.plan.order) {
            let o = compare(x, y);
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.1.iter()
            .zip(&b.1)
            .map(|(x, y)| compare(x, y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }

    /// Ranks the rows of `batch` into their groups; returns how many were
    /// late (their group had already been emitted).
    pub fn process(&mut self, batch: &Batch) -> u64 {
        let eval = |exprs: &mut dyn Iterator<Item = &Expr>| -> Vec<Column> {
            exprs.map(|e| e.eval(batch).into_owned()).collect()
        };
        let keys = eval(&mut self.plan.partition.iter());
        let order = eval(&mut self.plan.order.iter().map(|(e, _)| e));
        let mut late = 0;
        let mut key = Vec::new();
        for row in 0..batch.len {
            let close = self.plan.close_time.map(|c| match &batch.columns[c].data {
                ColumnData::Int64(v) | ColumnData::Timestamp(v)
                    if batch.columns[c].is_valid(row) =>
                {
                    v[row]
                }
                _ => i64::MIN,
            });
            if close.is_some_and(|t| t <= self.watermark) {
                late += 1;
                continue;
            }
            let ranking: Vec<Value> = order.iter().map(|c| c.value(row)).collect();
            let candidate = (ranking, Vec::new());
            let key_values: Vec<Value> = keys.iter().map(|c| c.value(row)).collect();
            encode(&key_values, &mut key);
            let limit = self.plan.limit;
            let is_new = !self.groups.contains_key(&key);
            if let Some(group) = self.groups.get(&key) {
                // Cheap reject: not better than the last of a full group.
                if group.len() >= limit {
                    let last = &group[group.len() - 1];
                    let mut c = candidate.clone();
                    c.1 = batch.columns.iter().map(|col| col.value(row)).collect();
                    if self.better(&c, last) != Ordering::Less {
                        continue;
                    }
                }
            }
            let full = (
                candidate.0,
                batch
                    .columns
                    .iter()
                    .map(|c| c.value(row))
                    .collect::<Vec<_>>(),
            );
            let mut group = self.groups.remove(&key).unwrap_or_default();
            let at = group
                .iter()
                .position(|r| self.better(&full, r) == Ordering::Less)
                .unwrap_or(group.len());
            group.insert(at, full);
            group.truncate(limit);
            self.groups.insert(key.clone(), group);
            if let (true, Some(t)) = (is_new, close) {
                self.closing.entry(t).or_default().push(key.clone());
            }
        }
        late
    }

    /// The watermark moved: the groups it completes, ranked.
    pub fn advance(&mut self, watermark: i64) -> Option<Batch> {
        self.watermark = self.watermark.max(watermark);
        let later = self.closing.split_off(&(self.watermark.saturating_add(1)));
        let due = std::mem::replace(&mut self.closing, later);
        let keys: Vec<Vec<u8>> = due.into_values().flatten().collect();
        self.emit(keys)
    }

    /// End of input: every group, ranked.
    pub fn finish(&mut self) -> Option<Batch> {
        self.closing.clear();
        let mut keys: Vec<Vec<u8>> = self.groups.keys().cloned().collect();
        keys.sort();
        self.emit(keys)
    }

    fn emit(&mut self, keys: Vec<Vec<u8>>) -> Option<Batch> {
        if keys.is_empty() {
            return None;
        }
        let width = self.input_types.len();
        let mut rows = Batch::new(
            self.input_types
                .iter()
                .chain([&DataType::Int64])
                .map(|t| Column::new(*t))
                .collect(),
            0,
        );
        for key in keys {
            let Some(group) = self.groups.remove(&key) else {
                continue;
            };
            for (rank, (_, values)) in group.into_iter().enumerate() {
                for (column, v) in rows.columns[..width].iter_mut().zip(&values) {
                    column.push_value(v);
                }
                rows.columns[width].push_value(&Value::Int64(rank as i64 + 1));
                rows.len += 1;
            }
        }
        let columns = self
            .plan
            .project
            .iter()
            .map(|e| e.eval(&rows).into_owned())
            .collect();
        Some(Batch::new(columns, rows.len))
    }
}
