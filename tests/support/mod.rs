//! Helpers for the property and differential tests: an in-memory [`Source`]
//! that serves given rows in given chunk sizes, a runner, a deterministic
//! random generator, and result rows that compare exactly (integers, strings)
//! or within a relative tolerance (floats).
//!
//! Kept apart from `tests/common` so that these suites do not depend on it.
#![allow(dead_code)] // each test crate uses part of this module

use corestream::data::{Batch, DataType, Field, Schema, Value};
use corestream::io::sink::OutputSpec;
use corestream::io::source::{Poll, Source};
use corestream::runtime::cores::CoreSet;
use corestream::runtime::router::Batching;
use corestream::{Engine, RunOutput};
use std::cmp::Ordering;
use std::time::{Duration, Instant};

/// A table of rows in arrival order, with its schema.
#[derive(Debug, Clone)]
pub struct Table {
    pub schema: Schema,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    pub fn new(fields: &[(&str, DataType)]) -> Table {
        Table {
            schema: Schema::new(fields.iter().map(|(n, t)| Field::new(*n, *t)).collect()),
            rows: Vec::new(),
        }
    }
}

/// Serves a table's rows, in order, in chunks: poll `i` returns at most
/// `chunks[i % chunks.len()]` rows (and never more than the router asks for).
/// Each chunk is one source batch, so the router computes a watermark per chunk.
pub struct VecSource {
    schema: Schema,
    rows: Vec<Vec<Value>>,
    chunks: Vec<usize>,
    next_row: usize,
    polls: usize,
}

impl VecSource {
    pub fn new(table: &Table, chunks: &[usize]) -> VecSource {
        assert!(
            chunks.iter().all(|&c| c > 0),
            "chunk sizes must be positive"
        );
        VecSource {
            schema: table.schema.clone(),
            rows: table.rows.clone(),
            chunks: if chunks.is_empty() {
                vec![usize::MAX]
            } else {
                chunks.to_vec()
            },
            next_row: 0,
            polls: 0,
        }
    }
}

impl Source for VecSource {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(
        &mut self,
        max_rows: usize,
        _deadline: Option<Instant>,
    ) -> Result<Poll, corestream::Error> {
        if self.next_row >= self.rows.len() {
            return Ok(Poll::End);
        }
        let chunk = self.chunks[self.polls % self.chunks.len()];
        self.polls += 1;
        let n = chunk.min(max_rows).min(self.rows.len() - self.next_row);
        let mut batch = Batch::with_capacity(&self.schema, n);
        for row in &self.rows[self.next_row..self.next_row + n] {
            for (col, v) in batch.columns.iter_mut().zip(row) {
                assert!(
                    col.push_value(v),
                    "value {v:?} does not fit column {:?}",
                    col.data_type()
                );
            }
            batch.len += 1;
        }
        self.next_row += n;
        Ok(Poll::Batch(batch))
    }

    fn malformed(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        "test rows".to_owned()
    }

    fn bounded(&self) -> bool {
        true
    }

    fn reopen(&self) -> Option<Box<dyn Source>> {
        Some(Box::new(VecSource {
            schema: self.schema.clone(),
            rows: self.rows.clone(),
            chunks: self.chunks.clone(),
            next_row: 0,
            polls: 0,
        }))
    }
}

/// Event-time settings of a run, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct EventTime {
    pub column: &'static str,
    pub max_out_of_orderness: u64,
    pub allowed_lateness: u64,
}

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// A `taskset -c` core list: "0" or "0-1".
    pub cores: &'static str,
    /// Rows per batch from the router to a shard.
    pub batch_size: usize,
    /// Rows per source poll (cycled).
    pub chunks: Vec<usize>,
    pub event_time: Option<EventTime>,
}

/// The core set for a `taskset -c` style list, checked against this machine.
pub fn core_set(list: &str) -> CoreSet {
    let online = CoreSet::online_cpus().expect("the online CPUs are readable");
    CoreSet::from_list(list, &online).unwrap_or_else(|e| panic!("core list {list}: {e}"))
}

/// Runs `sql` over `table` with `config`, collecting the results in memory.
pub fn run(sql: &str, table: &Table, config: &RunConfig) -> RunOutput {
    let mut builder = Engine::builder()
        .sql(sql)
        .cores(core_set(config.cores))
        .output(OutputSpec::Collect)
        .batching(Batching {
            batch_size: config.batch_size,
            linger: Duration::from_millis(5),
        });
    if let Some(et) = config.event_time {
        builder = builder
            .event_time(et.column)
            .max_out_of_orderness(Duration::from_millis(et.max_out_of_orderness))
            .allowed_lateness(Duration::from_millis(et.allowed_lateness));
    }
    builder
        .build_with_source(Box::new(VecSource::new(table, &config.chunks)))
        .unwrap_or_else(|e| panic!("building `{sql}` failed: {e}"))
        .run()
        .unwrap_or_else(|e| panic!("running `{sql}` ({config:?}) failed: {e}"))
}

/// One result cell. Timestamps become integers (epoch ms), decimals stay
/// exact; floats compare within a tolerance (see [`cells_match`]).
#[derive(Debug, Clone)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    /// A DECIMAL: unscaled value and scale.
    Dec(i128, u8),
    Str(String),
    Bool(bool),
}

impl Cell {
    fn rank(&self) -> u8 {
        match self {
            Cell::Null => 0,
            Cell::Int(_) | Cell::Float(_) | Cell::Dec(..) => 1,
            Cell::Str(_) => 2,
            Cell::Bool(_) => 3,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match *self {
            Cell::Int(i) => Some(i as f64),
            Cell::Float(f) => Some(f),
            Cell::Dec(v, s) => Some(v as f64 / 10f64.powi(s as i32)),
            _ => None,
        }
    }
}

impl From<Value> for Cell {
    fn from(v: Value) -> Cell {
        match v {
            Value::Null => Cell::Null,
            Value::Int64(i) | Value::Timestamp(i) => Cell::Int(i),
            Value::Float64(f) => Cell::Float(f),
            Value::Decimal { value, scale } => Cell::Dec(value, scale),
            Value::Utf8(s) => Cell::Str(s),
            Value::Bool(b) => Cell::Bool(b),
        }
    }
}

/// A total order for sorting result rows: NULL first, then numbers by value
/// (exact for two integers or two decimals of one scale), strings, booleans.
pub fn cell_cmp(a: &Cell, b: &Cell) -> Ordering {
    match (a, b) {
        (Cell::Int(x), Cell::Int(y)) => x.cmp(y),
        (Cell::Dec(x, s), Cell::Dec(y, t)) if s == t => x.cmp(y),
        (Cell::Str(x), Cell::Str(y)) => x.cmp(y),
        (Cell::Bool(x), Cell::Bool(y)) => x.cmp(y),
        _ if a.rank() != b.rank() => a.rank().cmp(&b.rank()),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => Ordering::Equal,
        },
    }
}

pub type Row = Vec<Cell>;

pub fn row_cmp(a: &Row, b: &Row) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match cell_cmp(x, y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    a.len().cmp(&b.len())
}

/// Two numbers within a relative tolerance `rel` (absolute near zero).
pub fn close(x: f64, y: f64, rel: f64) -> bool {
    if x == y || (x.is_nan() && y.is_nan()) {
        return true;
    }
    let scale = x.abs().max(y.abs()).max(1.0);
    (x - y).abs() <= rel * scale
}

/// Whether two cells are the same result: integers, strings, booleans and
/// same-scale decimals exactly; a float against any number within `rel`;
/// an integer against a decimal exactly.
pub fn cells_match(a: &Cell, b: &Cell, rel: f64) -> bool {
    match (a, b) {
        (Cell::Null, Cell::Null) => true,
        (Cell::Int(x), Cell::Int(y)) => x == y,
        (Cell::Dec(x, s), Cell::Dec(y, t)) if s == t => x == y,
        (Cell::Dec(v, s), Cell::Int(i)) | (Cell::Int(i), Cell::Dec(v, s)) => {
            (*i as i128).checked_mul(10i128.pow(*s as u32)) == Some(*v)
        }
        (Cell::Str(x), Cell::Str(y)) => x == y,
        (Cell::Bool(x), Cell::Bool(y)) => x == y,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => close(x, y, rel),
            _ => false,
        },
    }
}

/// Every result row of a run, sorted.
pub fn result_rows(out: &RunOutput) -> Vec<Row> {
    let mut rows = Vec::new();
    for shard in &out.collected {
        for b in shard {
            for c in &b.columns {
                assert_eq!(c.len(), b.len, "a column's length differs from its batch's");
            }
            for i in 0..b.len {
                rows.push(b.columns.iter().map(|c| Cell::from(c.value(i))).collect());
            }
        }
    }
    sort_rows(&mut rows);
    rows
}

pub fn sort_rows(rows: &mut [Row]) {
    rows.sort_by(row_cmp);
}

/// Compares two sorted row multisets; `Err` describes the first difference.
pub fn compare_rows(got: &[Row], want: &[Row], rel: f64) -> Result<(), String> {
    let first_diff = got.iter().zip(want).position(|(g, w)| {
        g.len() != w.len() || g.iter().zip(w).any(|(x, y)| !cells_match(x, y, rel))
    });
    if got.len() == want.len() && first_diff.is_none() {
        return Ok(());
    }
    let mut msg = format!("{} rows, expected {}", got.len(), want.len());
    if let Some(i) = first_diff.or(Some(got.len().min(want.len()))) {
        let show = |rows: &[Row], i: usize| {
            rows[i.saturating_sub(1)..(i + 2).min(rows.len())]
                .iter()
                .map(|r| format!("\n      {r:?}"))
                .collect::<String>()
        };
        msg.push_str(&format!(
            "\n  first difference at sorted row {i}:\n    got:{}\n    want:{}",
            show(got, i),
            show(want, i)
        ));
    }
    // Rows present on one side only, for a readable report.
    let missing: Vec<&Row> = want
        .iter()
        .filter(|w| !got.iter().any(|g| rows_match(g, w, rel)))
        .take(5)
        .collect();
    let extra: Vec<&Row> = got
        .iter()
        .filter(|g| !want.iter().any(|w| rows_match(g, w, rel)))
        .take(5)
        .collect();
    msg.push_str(&format!(
        "\n  missing (first 5): {missing:?}\n  unexpected (first 5): {extra:?}"
    ));
    Err(msg)
}

fn rows_match(a: &Row, b: &Row, rel: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| cells_match(x, y, rel))
}

/// SplitMix64: a tiny deterministic generator for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo) as u64 + 1)) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Checks the run's accounting: every record read is processed, filtered or
/// late on exactly one shard, and the collected rows are the rows counted out.
pub fn check_accounting(out: &RunOutput, records: u64, shards: usize) -> Result<(), String> {
    let s = &out.summary;
    let t = s.total();
    let collected: usize = out.collected.iter().flatten().map(|b| b.len).sum();
    let problems: Vec<String> = [
        (
            s.records_read == records,
            format!("records_read {} != {records}", s.records_read),
        ),
        (s.malformed == 0, format!("malformed {}", s.malformed)),
        (
            t.records_in == records,
            format!("records_in {} != {records}", t.records_in),
        ),
        (
            t.processed + t.filtered + t.late == t.records_in,
            format!("processed + filtered + late != records_in: {t:?}"),
        ),
        (s.identity_holds(), "identity_holds() is false".to_owned()),
        (
            s.shards.len() == shards,
            format!("{} shard rows, expected {shards}", s.shards.len()),
        ),
        (
            out.collected.len() == shards,
            format!("{} collected vectors", out.collected.len()),
        ),
        (
            t.rows_out == collected as u64,
            format!("rows_out {} != collected {collected}", t.rows_out),
        ),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, m)| m)
    .chain(
        s.shards
            .iter()
            .filter(|(_, st)| st.processed + st.filtered + st.late != st.records_in)
            .map(|(core, st)| format!("shard on core {core}: {st:?}")),
    )
    .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{}", problems.join("; "), s.render()))
    }
}

/// The rows SQLite gives for `sql`, sorted.
pub fn sqlite_rows(db: &rusqlite::Connection, sql: &str) -> Vec<Row> {
    let mut stmt = db
        .prepare(sql)
        .unwrap_or_else(|e| panic!("SQLite rejects `{sql}`: {e}"));
    let columns = stmt.column_count();
    let mut rows: Vec<Row> = stmt
        .query_map([], |r| {
            (0..columns)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => Cell::Null,
                        rusqlite::types::ValueRef::Integer(i) => Cell::Int(i),
                        rusqlite::types::ValueRef::Real(f) => Cell::Float(f),
                        rusqlite::types::ValueRef::Text(t) => {
                            Cell::Str(String::from_utf8_lossy(t).into_owned())
                        }
                        rusqlite::types::ValueRef::Blob(_) => panic!("no blobs here"),
                    })
                })
                .collect::<Result<Row, rusqlite::Error>>()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    sort_rows(&mut rows);
    rows
}

/// An in-memory SQLite database holding `table` as `name` (INTEGER, REAL
/// and TEXT columns; timestamps as INTEGER epoch ms).
pub fn sqlite_table(table: &Table, name: &str) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    let columns: Vec<String> = table
        .schema
        .fields
        .iter()
        .map(|f| {
            let t = match f.data_type {
                DataType::Float64 => "REAL",
                DataType::Utf8 => "TEXT",
                _ => "INTEGER",
            };
            format!("{} {t}", f.name)
        })
        .collect();
    db.execute_batch(&format!("CREATE TABLE {name} ({})", columns.join(", ")))
        .unwrap();
    let marks = vec!["?"; columns.len()].join(", ");
    let mut insert = db
        .prepare(&format!("INSERT INTO {name} VALUES ({marks})"))
        .unwrap();
    for row in &table.rows {
        let params: Vec<rusqlite::types::Value> = row
            .iter()
            .map(|v| match v {
                Value::Null => rusqlite::types::Value::Null,
                Value::Int64(i) | Value::Timestamp(i) => rusqlite::types::Value::Integer(*i),
                Value::Float64(f) => rusqlite::types::Value::Real(*f),
                Value::Utf8(s) => rusqlite::types::Value::Text(s.clone()),
                other => panic!("no {other:?} in SQLite tables here"),
            })
            .collect();
        insert.execute(rusqlite::params_from_iter(params)).unwrap();
    }
    drop(insert);
    db
}
