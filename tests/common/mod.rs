//! Helpers shared by the integration tests: running a query into memory,
//! turning result batches into comparable rows, reading the generator's
//! records, and a plain reference implementation of the trades GROUP BY.
//!
//! Each test crate uses a subset of these helpers.
#![allow(dead_code)] // each test crate compiles this module and uses only part of it

use corestream::data::{Batch, Value};
use corestream::io::generator::TradesGenerator;
use corestream::io::sink::OutputSpec;
use corestream::io::source::{Poll, Source};
use corestream::runtime::cores::CoreSet;
use corestream::runtime::router::Batching;
use corestream::{Engine, RunOutput};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// The input every library test reads: 20 000 trades over 200 (trader, symbol) keys.
pub const INPUT: &str = "gen:trades?records=20000&traders=20&symbols=10&seed=7";

/// Records in [`INPUT`].
pub const RECORDS: u64 = 20_000;

/// The select list and FROM of the query under test.
const SELECT: &str = "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, \
SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value FROM trades";

/// The query under test, with an optional WHERE condition, optional HAVING
/// condition, and an EMIT clause (`""` for none).
pub fn group_by_sql(filter: Option<&str>, having: Option<&str>, emit: &str) -> String {
    let mut sql = SELECT.to_owned();
    if let Some(w) = filter {
        sql.push_str(" WHERE ");
        sql.push_str(w);
    }
    sql.push_str(" GROUP BY trader_id, symbol");
    if let Some(h) = having {
        sql.push_str(" HAVING ");
        sql.push_str(h);
    }
    if !emit.is_empty() {
        sql.push(' ');
        sql.push_str(emit);
    }
    sql
}

/// The core set for a `taskset -c` style list, checked against this machine.
pub fn core_set(list: &str) -> CoreSet {
    let online = CoreSet::online_cpus().expect("the online CPUs are readable");
    CoreSet::from_list(list, &online).unwrap_or_else(|e| panic!("core list {list}: {e}"))
}

/// Runs `sql` over `input` on the cores `cores`, collecting results in memory.
pub fn run(sql: &str, input: &str, cores: &str, batch_size: usize) -> RunOutput {
    Engine::builder()
        .sql(sql)
        .input(input)
        .cores(core_set(cores))
        .output(OutputSpec::Collect)
        .batching(Batching {
            batch_size,
            linger: Duration::from_millis(5),
        })
        .build()
        .unwrap_or_else(|e| panic!("building `{sql}` failed: {e}"))
        .run()
        .unwrap_or_else(|e| panic!("running `{sql}` failed: {e}"))
}

/// A float compared by its bits, so that results can be compared exactly and
/// sorted; shown as the number.
#[derive(Clone, Copy)]
pub struct Exact(pub f64);

impl PartialEq for Exact {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Exact {}

impl PartialOrd for Exact {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Exact {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Hash for Exact {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

impl std::fmt::Debug for Exact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// One result cell in a form that compares exactly and sorts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cell {
    Null,
    Int(i64),
    Float(Exact),
    Str(String),
    /// Any other type, by its debug text.
    Other(String),
}

impl From<Value> for Cell {
    fn from(v: Value) -> Cell {
        match v {
            Value::Null => Cell::Null,
            Value::Int64(i) => Cell::Int(i),
            Value::Float64(f) => Cell::Float(Exact(f)),
            Value::Utf8(s) => Cell::Str(s),
            other => Cell::Other(format!("{other:?}")),
        }
    }
}

pub type Row = Vec<Cell>;

/// The rows of `batch`, in order.
pub fn batch_rows(batch: &Batch) -> Vec<Row> {
    for c in &batch.columns {
        assert_eq!(
            c.len(),
            batch.len,
            "a column's length differs from the batch length"
        );
    }
    (0..batch.len)
        .map(|i| {
            batch
                .columns
                .iter()
                .map(|c| Cell::from(c.value(i)))
                .collect()
        })
        .collect()
}

/// Per shard, its result rows in the order the shard emitted them.
pub fn shard_rows(out: &RunOutput) -> Vec<Vec<Row>> {
    out.collected
        .iter()
        .map(|batches| batches.iter().flat_map(batch_rows).collect())
        .collect()
}

/// Every result row of the run, sorted: the result as a multiset.
pub fn sorted_rows(out: &RunOutput) -> Vec<Row> {
    let mut rows: Vec<Row> = shard_rows(out).into_iter().flatten().collect();
    rows.sort();
    rows
}

/// The result column names.
pub fn column_names(out: &RunOutput) -> Vec<String> {
    out.schema.fields.iter().map(|f| f.name.clone()).collect()
}

/// One generated trade.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    pub event_time: i64,
    pub trader_id: String,
    pub symbol: String,
    pub price: f64,
    pub quantity: i64,
}

/// The trades in a result of `SELECT * FROM trades`, in row order.
pub fn trades_from_rows(rows: &[Row]) -> Vec<Trade> {
    rows.iter()
        .map(|r| match r.as_slice() {
            [Cell::Int(t), Cell::Str(trader), Cell::Str(symbol), Cell::Float(price), Cell::Int(q)] => Trade {
                event_time: *t,
                trader_id: trader.clone(),
                symbol: symbol.clone(),
                price: price.0,
                quantity: *q,
            },
            other => panic!("not a trades row: {other:?}"),
        })
        .collect()
}

/// The records of a `gen:trades?...` spec, read straight from the generator
/// (no router, no shard), in the order it produces them.
pub fn generate_trades(spec: &str) -> Vec<Trade> {
    let rest = spec.strip_prefix("gen:").expect("a gen: spec");
    let mut generator = TradesGenerator::from_spec(rest).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let mut trades = Vec::new();
    loop {
        match generator
            .poll(1000, None)
            .expect("the generator does not fail")
        {
            Poll::Batch(batch) => trades.extend(trades_from_rows(&batch_rows(&batch))),
            Poll::End => break,
            Poll::Idle => panic!("an unpaced generator is never idle"),
        }
    }
    trades
}

/// The records of [`INPUT`] as the engine sees them: `SELECT * FROM trades`
/// on one shard, whose output keeps the source order.
pub fn engine_trades(input: &str) -> Vec<Trade> {
    let out = run("SELECT * FROM trades", input, "0", 4096);
    let shards = shard_rows(&out);
    assert_eq!(shards.len(), 1);
    trades_from_rows(&shards[0])
}

/// The running state of one (trader_id, symbol) group in the reference.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub count: i64,
    pub sum_price: f64,
    pub sum_quantity: i64,
    pub sum_value: f64,
}

impl Group {
    pub fn add(&mut self, t: &Trade) {
        self.count += 1;
        self.sum_price += t.price;
        self.sum_quantity += t.quantity;
        self.sum_value += t.price * t.quantity as f64;
    }

    /// The result row of the query under test for this group.
    pub fn row(&self, key: &(String, String)) -> Row {
        vec![
            Cell::Str(key.0.clone()),
            Cell::Str(key.1.clone()),
            Cell::Int(self.count),
            Cell::Float(Exact(self.sum_price / self.count as f64)),
            Cell::Int(self.sum_quantity),
            Cell::Float(Exact(self.sum_value)),
        ]
    }
}

pub type Key = (String, String);

pub fn key_of(t: &Trade) -> Key {
    (t.trader_id.clone(), t.symbol.clone())
}

/// The (trader_id, symbol) of a result row of the query under test.
pub fn row_key(row: &Row) -> Key {
    match (&row[0], &row[1]) {
        (Cell::Str(a), Cell::Str(b)) => (a.clone(), b.clone()),
        other => panic!("a result row starts with trader_id, symbol: {other:?}"),
    }
}

/// The reference EMIT FINAL result: the groups of the trades that pass
/// `filter`, folded in input order with a plain `HashMap`.
pub fn reference_groups(trades: &[Trade], filter: impl Fn(&Trade) -> bool) -> HashMap<Key, Group> {
    let mut groups: HashMap<Key, Group> = HashMap::new();
    for t in trades.iter().filter(|t| filter(t)) {
        groups.entry(key_of(t)).or_default().add(t);
    }
    groups
}

/// The reference EMIT FINAL rows, sorted, of the groups that pass `having`.
pub fn reference_final(
    trades: &[Trade],
    filter: impl Fn(&Trade) -> bool,
    having: impl Fn(&Group) -> bool,
) -> Vec<Row> {
    let mut rows: Vec<Row> = reference_groups(trades, filter)
        .iter()
        .filter(|(_, g)| having(g))
        .map(|(k, g)| g.row(k))
        .collect();
    rows.sort();
    rows
}

/// The reference EMIT CHANGES rows per key: after each trade of the key, in
/// input order, the group's row, kept when it passes `having`.
pub fn reference_changes(
    trades: &[Trade],
    having: impl Fn(&Group) -> bool,
) -> HashMap<Key, Vec<Row>> {
    let mut groups: HashMap<Key, Group> = HashMap::new();
    let mut changes: HashMap<Key, Vec<Row>> = HashMap::new();
    for t in trades {
        let key = key_of(t);
        let g = groups.entry(key.clone()).or_default();
        g.add(t);
        if having(g) {
            let row = g.row(&key);
            changes.entry(key).or_default().push(row);
        }
    }
    changes
}

/// Per key, its rows in the order its shard emitted them; fails if a key's
/// rows come from more than one shard.
pub fn rows_by_key(out: &RunOutput) -> HashMap<Key, Vec<Row>> {
    let mut owner: HashMap<Key, usize> = HashMap::new();
    let mut by_key: HashMap<Key, Vec<Row>> = HashMap::new();
    for (shard, rows) in shard_rows(out).into_iter().enumerate() {
        for row in rows {
            let key = row_key(&row);
            let first = *owner.entry(key.clone()).or_insert(shard);
            assert_eq!(
                first, shard,
                "key {key:?} has rows on shards {first} and {shard}"
            );
            by_key.entry(key).or_default().push(row);
        }
    }
    by_key
}
