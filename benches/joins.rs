//! Engine-only join benchmarks, each beside a bare loop doing the same join
//! in the same run:
//!
//! - **enrichment**: trades joined to an instruments table (the table's
//!   current row per symbol, broadcast to every shard and read first), the
//!   joined rows projected; the bare loop looks each trade's symbol up in a
//!   `hashbrown` map and sums a column of the match.
//! - **asof**: trades joined to the latest quote of their symbol at or
//!   before their time, both inputs partitioned by symbol; the bare loop
//!   binary-searches each trade's time in its symbol's sorted quotes.
//!
//! Figures are left rows (trades) per second. "per core" divides by the
//! shards; the bare loop runs on one core. What a run includes and excludes
//! is `support`'s (no decoding, no routing, rows counted not formatted); the
//! bare loops do no more than find each match, so the ratio is what the
//! engine's batching, joined-row building and projection cost on top.
//!
//! `CORESTREAM_BENCH_RECORDS` sets the trades (default 4M), quotes are a
//! quarter of them; `CORESTREAM_BENCH_TRIALS` the trials (median shown).

mod support;

use corestream::data::column::ColumnData;
use corestream::data::{Batch, Column, DataType, Field, Schema, Utf8Column};
use corestream::io::generator::trades_schema;
use corestream::io::sink::OutputSpec;
use corestream::sql::plan::QueryPlan;
use corestream::sql::{parse, plan_inputs, CatalogInput, InputKind, PlanOptions};
use hashbrown::HashMap;
use std::hint::black_box;
use std::time::Instant;
use support::*;

fn catalog() -> Vec<CatalogInput> {
    let timed = PlanOptions {
        event_time: Some("event_time".into()),
        ..PlanOptions::default()
    };
    let input = |name: &str, schema: Schema, kind, time: &PlanOptions| CatalogInput {
        name: Some(name.into()),
        schema,
        kind,
        time: time.clone(),
        idle_timeout: None,
        bounded: true,
        closes_by_time: false,
    };
    vec![
        input("trades", trades_schema(), InputKind::Stream, &timed),
        input("quotes", quotes_schema(), InputKind::Stream, &timed),
        input(
            "instruments",
            Schema::new(vec![
                Field::new("symbol", DataType::Utf8),
                Field::new("lot", DataType::Int64),
            ]),
            InputKind::Table {
                primary_key: vec![0],
            },
            &PlanOptions::default(),
        ),
    ]
}

fn quotes_schema() -> Schema {
    Schema::new(vec![
        Field::new("event_time", DataType::Int64),
        Field::new("symbol", DataType::Utf8),
        Field::new("bid", DataType::Float64),
    ])
}

fn join_plan(sql: &str) -> QueryPlan {
    plan_inputs(&parse(sql).expect("valid SQL"), &catalog()).expect("plans")
}

/// Every fourth trade's symbol quoted 1 ms before it, at its price.
fn quotes(trades: &[Batch]) -> Vec<Batch> {
    trades
        .iter()
        .map(|b| {
            let rows: Vec<u32> = (0..b.len as u32).step_by(4).collect();
            let t = b.gather(&rows);
            let times: Vec<i64> = i64s(&t.columns[0]).iter().map(|&x| x - 1).collect();
            Batch::new(
                vec![
                    Column::from_data(ColumnData::Int64(times)),
                    t.columns[2].clone(),
                    t.columns[3].clone(),
                ],
                t.len,
            )
        })
        .collect()
}

/// One row per symbol of the trades: (symbol, lot).
fn instruments(trades: &[Batch]) -> Vec<Batch> {
    let mut names: Vec<String> = Vec::new();
    for b in trades {
        let s = strs(&b.columns[2]);
        for i in 0..b.len {
            if !names.iter().any(|n| n == s.get(i)) {
                names.push(s.get(i).to_owned());
            }
        }
    }
    let mut symbols = Utf8Column::with_capacity(names.len(), 64);
    names.iter().for_each(|n| symbols.push(n));
    let lots: Vec<i64> = (0..names.len() as i64).map(|i| 100 + i).collect();
    vec![Batch::new(
        vec![
            Column::from_data(ColumnData::Utf8(symbols)),
            Column::from_data(ColumnData::Int64(lots)),
        ],
        names.len(),
    )]
}

/// The bare enrichment: each trade's lot, summed.
fn bare_enrichment(trades: &[Batch], table: &[Batch]) -> (f64, i64) {
    let mut map: HashMap<&str, i64> = HashMap::new();
    for b in table {
        let (s, l) = (strs(&b.columns[0]), i64s(&b.columns[1]));
        (0..b.len).for_each(|i| {
            map.insert(s.get(i), l[i]);
        });
    }
    let start = Instant::now();
    let mut sum = 0i64;
    for b in trades {
        let s = strs(&b.columns[2]);
        for i in 0..b.len {
            sum += map.get(s.get(i)).copied().unwrap_or(0);
        }
    }
    (start.elapsed().as_secs_f64(), black_box(sum))
}

/// The bare ASOF: each trade's latest quote at or before it, its bid summed.
fn bare_asof(trades: &[Batch], quotes: &[Batch]) -> (f64, f64) {
    let mut by_symbol: HashMap<&str, Vec<(i64, f64)>> = HashMap::new();
    for b in quotes {
        let (t, s, p) = (
            i64s(&b.columns[0]),
            strs(&b.columns[1]),
            f64s(&b.columns[2]),
        );
        (0..b.len).for_each(|i| by_symbol.entry(s.get(i)).or_default().push((t[i], p[i])));
    }
    by_symbol.values_mut().for_each(|v| v.sort_by_key(|q| q.0));
    let start = Instant::now();
    let mut sum = 0.0;
    for b in trades {
        let (t, s) = (i64s(&b.columns[0]), strs(&b.columns[2]));
        for (i, &time) in t.iter().enumerate() {
            if let Some(q) = by_symbol.get(s.get(i)) {
                let at = q.partition_point(|x| x.0 <= time);
                if at > 0 {
                    sum += q[at - 1].1;
                }
            }
        }
    }
    (start.elapsed().as_secs_f64(), black_box(sum))
}

/// Median seconds and the rows out of the engine on `shards` shards.
fn engine(plan: &QueryPlan, left: &[Batch], right: &[Batch], shards: usize) -> (f64, u64) {
    let stage = plan.first_stage();
    let time = |i: usize| stage.inputs[i].watermarking.and_then(|w| w.time_column);
    let ports = [
        partition_by(&stage.inputs[0].partitioning, time(0), left, shards),
        partition_by(&stage.inputs[1].partitioning, time(1), right, shards),
    ];
    let table_first = stage.join.as_ref().is_some_and(|j| j.right_first);
    let runs: Vec<EngineRun> = (0..trials())
        .map(|_| run_engine_ports(plan, &ports, table_first, OutputSpec::Discard))
        .collect();
    let rows = runs[0].rows_out;
    assert!(
        runs.iter().all(|r| r.rows_out == rows),
        "every trial gives the same rows"
    );
    (median(runs.iter().map(|r| r.seconds).collect()), rows)
}

fn report(name: &str, left_rows: u64, bare: f64, one: f64, two: Option<f64>) {
    let rate = |s: f64| left_rows as f64 / s / 1e6;
    print!(
        "{name:<11} bare {:>7.1} M/s | engine 1 core {:>7.1} M/s (rate x{:.2} the bare loop's)",
        rate(bare),
        rate(one),
        bare / one
    );
    match two {
        Some(two) => println!(
            " | 2 cores {:>7.1} M/s, {:.1} M/s per core, efficiency {:.2}",
            rate(two),
            rate(two) / 2.0,
            one / two / 2.0
        ),
        None => println!(),
    }
}

fn main() {
    let records = records(4_000_000);
    let trades = trades(records);
    let quotes = quotes(&trades);
    let table = instruments(&trades);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "joins: {records} trades, {} quotes, {} instruments; median of {} trials; {cores} cores",
        quotes.iter().map(|b| b.len).sum::<usize>(),
        table[0].len,
        trials()
    );

    let enrich = join_plan(
        "SELECT t.trader_id, t.price, i.lot FROM trades t JOIN instruments i ON t.symbol = i.symbol",
    );
    let bare = median(
        (0..trials())
            .map(|_| bare_enrichment(&trades, &table).0)
            .collect(),
    );
    let (one, rows) = engine(&enrich, &trades, &table, 1);
    assert_eq!(rows, records, "every trade has its instrument");
    let two = (cores >= 2).then(|| engine(&enrich, &trades, &table, 2).0);
    report("enrichment", records, bare, one, two);

    let asof = join_plan(
        "SELECT t.trader_id, t.price - q.bid AS slip FROM trades t \
         ASOF JOIN quotes q ON t.symbol = q.symbol AND t.event_time >= q.event_time",
    );
    let bare = median(
        (0..trials())
            .map(|_| bare_asof(&trades, &quotes).0)
            .collect(),
    );
    let (one, rows) = engine(&asof, &trades, &quotes, 1);
    let (two, rows_two) = match cores >= 2 {
        true => {
            let (s, r) = engine(&asof, &trades, &quotes, 2);
            (Some(s), r)
        }
        false => (None, rows),
    };
    assert_eq!(rows, rows_two, "1 and 2 shards join the same trades");
    report("asof", records, bare, one, two);
}
