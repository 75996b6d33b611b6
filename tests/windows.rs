//! Windowed aggregation through the public API: tumbling, hopping and session
//! windows, both syntaxes, EMIT FINAL and CHANGES, watermarks and late rows.

use corestream::data::{Batch, Value};
use corestream::io::sink::OutputSpec;
use corestream::runtime::cores::CoreSet;
use corestream::runtime::router::Batching;
use corestream::Engine;
use std::collections::HashMap;
use std::time::Duration;

const INPUT: &str = "gen:trades?records=30000&traders=5&symbols=4&seed=11";

fn cores(list: &str) -> CoreSet {
    CoreSet::from_list(list, &CoreSet::online_cpus().unwrap()).unwrap()
}

fn rows(batches: &[Vec<Batch>]) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for shard in batches {
        for b in shard {
            for i in 0..b.len {
                out.push(b.columns.iter().map(|c| c.value(i)).collect());
            }
        }
    }
    out
}

fn sorted(mut v: Vec<Vec<Value>>) -> Vec<String> {
    let mut s: Vec<String> = v.drain(..).map(|r| format!("{r:?}")).collect();
    s.sort();
    s
}

struct Run {
    rows: Vec<Vec<Value>>,
    summary: corestream::runtime::metrics::RunSummary,
}

fn run(sql: &str, input: &str, shards: &str, batch_size: usize, out_of_order: u64) -> Run {
    let out = Engine::builder()
        .sql(sql)
        .input(input)
        .cores(cores(shards))
        .event_time("event_time")
        .max_out_of_orderness(Duration::from_millis(out_of_order))
        .output(OutputSpec::Collect)
        .batching(Batching {
            batch_size,
            linger: Duration::from_millis(5),
        })
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert!(out.summary.identity_holds(), "{}", out.summary.render());
    Run {
        rows: rows(&out.collected),
        summary: out.summary,
    }
}

/// (symbol, window start) -> count, computed from the raw generated rows.
fn reference_counts(size: i64) -> HashMap<(String, i64), i64> {
    let raw = run("SELECT symbol, event_time FROM trades", INPUT, "0", 4096, 0);
    let mut m = HashMap::new();
    for r in raw.rows {
        let (Value::Utf8(sym), Value::Int64(t)) = (&r[0], &r[1]) else {
            panic!("unexpected row {r:?}")
        };
        *m.entry((sym.clone(), t.div_euclid(size) * size))
            .or_insert(0) += 1;
    }
    m
}

fn ts(v: &Value) -> i64 {
    match v {
        Value::Timestamp(t) => *t,
        other => panic!("expected a timestamp, got {other:?}"),
    }
}

#[test]
fn tumbling_final_matches_reference_on_any_shard_count_and_batch_size() {
    let sql = "SELECT symbol, window_start, window_end, COUNT(*) AS n FROM trades \
               GROUP BY symbol WINDOW TUMBLING(5s) EMIT FINAL";
    let one = run(sql, INPUT, "0", 4096, 0);
    let expected = reference_counts(5_000);
    assert_eq!(one.rows.len(), expected.len());
    for r in &one.rows {
        let Value::Utf8(sym) = &r[0] else { panic!() };
        let start = ts(&r[1]);
        assert_eq!(ts(&r[2]) - start, 5_000);
        assert_eq!(r[3], Value::Int64(expected[&(sym.clone(), start)]), "{r:?}");
    }
    for (shards, batch) in [("0-1", 4096), ("0-1", 7), ("0", 100)] {
        let other = run(sql, INPUT, shards, batch, 0);
        assert_eq!(
            sorted(other.rows),
            sorted(one.rows.clone()),
            "{shards} / {batch}"
        );
    }
}

#[test]
fn a_tumbling_window_of_one_key_or_none_spreads_over_the_shards() {
    // One symbol, and no key at all: partitioned by key alone, every row
    // would go to one shard. Each window goes to one shard, and the windows
    // spread over both; the answer is the one shard's.
    let one_symbol = "gen:trades?records=30000&traders=5&symbols=1&seed=11";
    for sql in [
        "SELECT symbol, window_start, COUNT(*) AS n, SUM(quantity) AS q FROM trades \
         GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' SECOND) EMIT FINAL",
        "SELECT window_start, COUNT(*) AS n, SUM(quantity) AS q FROM trades \
         GROUP BY TUMBLE(event_time, INTERVAL '1' SECOND) EMIT FINAL",
    ] {
        let one = run(sql, one_symbol, "0", 4096, 0);
        let two = run(sql, one_symbol, "0-1", 100, 0);
        assert!(one.rows.len() > 10, "{} windows", one.rows.len());
        assert_eq!(sorted(two.rows), sorted(one.rows), "{sql}");
        let per_shard: Vec<u64> = two
            .summary
            .shards
            .iter()
            .map(|(_, s)| s.records_in)
            .collect();
        assert!(
            per_shard.iter().all(|&n| n > 3_000),
            "rows per shard {per_shard:?}: {sql}"
        );
    }
}

#[test]
fn standard_and_predecessor_syntax_agree() {
    let a = run(
        "SELECT symbol, TUMBLE_START(event_time, INTERVAL '10' SECOND) AS ws, COUNT(*) AS n, SUM(quantity) AS q \
         FROM trades GROUP BY symbol, TUMBLE(event_time, INTERVAL '10' SECOND)",
        INPUT, "0-1", 4096, 0,
    );
    let b = run(
        "SELECT symbol, window_start AS ws, COUNT(*) AS n, SUM(quantity) AS q \
         FROM trades GROUP BY symbol WINDOW TUMBLING(event_time, INTERVAL '10' SECOND) EMIT FINAL",
        INPUT,
        "0-1",
        4096,
        0,
    );
    assert!(!a.rows.is_empty());
    assert_eq!(sorted(a.rows), sorted(b.rows));
}

#[test]
fn hopping_windows_hold_each_row_size_over_advance_times() {
    let sql = "SELECT symbol, window_start, COUNT(*) AS n FROM trades \
               GROUP BY symbol WINDOW SLIDING(6s, 2s)";
    let r = run(sql, INPUT, "0-1", 4096, 0);
    let total: i64 = r
        .rows
        .iter()
        .map(|row| match row[2] {
            Value::Int64(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(total, 3 * 30_000);
    let hop = run(
        "SELECT symbol, HOP_START(event_time, INTERVAL '2' SECOND, INTERVAL '6' SECOND) AS ws, COUNT(*) AS n \
         FROM trades GROUP BY symbol, HOP(event_time, INTERVAL '2' SECOND, INTERVAL '6' SECOND)",
        INPUT, "0", 4096, 0,
    );
    assert_eq!(sorted(hop.rows), sorted(r.rows));
}

#[test]
fn changes_last_row_per_window_equals_final_row() {
    let base = "SELECT symbol, window_start, COUNT(*) AS n, MAX(price) AS hi FROM trades \
                GROUP BY symbol WINDOW TUMBLING(3s)";
    let fin = run(&format!("{base} EMIT FINAL"), INPUT, "0-1", 4096, 0);
    let changes = run(&format!("{base} EMIT CHANGES"), INPUT, "0-1", 4096, 0);
    assert_eq!(changes.rows.len(), 30_000);
    let mut last: HashMap<String, Vec<Value>> = HashMap::new();
    for r in changes.rows {
        last.insert(format!("{:?}/{:?}", r[0], r[1]), r);
    }
    let mut fin_map: HashMap<String, Vec<Value>> = HashMap::new();
    for r in fin.rows {
        fin_map.insert(format!("{:?}/{:?}", r[0], r[1]), r);
    }
    assert_eq!(last, fin_map);
}

#[test]
fn session_windows_split_on_gaps() {
    let dir = std::env::temp_dir().join(format!("corestream-sessions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events.csv");
    // Key a: sessions [0, 1500) from 0,500 and [5000, 6800) from 5000,5800
    // (arriving out of order) ; key b: one session bridged by a late-arriving row.
    let csv = "event_time,trader_id,symbol,price,quantity\n\
               0,a,S,1.0,1\n500,a,S,1.0,2\n5800,a,S,1.0,3\n5000,a,S,1.0,4\n\
               0,b,S,1.0,1\n1800,b,S,1.0,1\n900,b,S,1.0,1\n20000,z,S,1.0,1\n";
    std::fs::write(&path, csv).unwrap();
    let r = run(
        "SELECT trader_id, window_start, window_end, COUNT(*) AS n, SUM(quantity) AS q FROM trades \
         GROUP BY trader_id WINDOW SESSION(1s)",
        path.to_str().unwrap(),
        "0-1",
        2,
        10_000,
    );
    let got: Vec<(String, i64, i64, Value, Value)> = {
        let mut v: Vec<_> = r
            .rows
            .into_iter()
            .map(|row| {
                let Value::Utf8(k) = &row[0] else { panic!() };
                (
                    k.clone(),
                    ts(&row[1]),
                    ts(&row[2]),
                    row[3].clone(),
                    row[4].clone(),
                )
            })
            .collect();
        v.sort_by_key(|a| (a.0.clone(), a.1));
        v
    };
    assert_eq!(
        got,
        vec![
            ("a".into(), 0, 1_500, Value::Int64(2), Value::Int64(3)),
            ("a".into(), 5_000, 6_800, Value::Int64(2), Value::Int64(7)),
            ("b".into(), 0, 2_800, Value::Int64(3), Value::Int64(3)),
            ("z".into(), 20_000, 21_000, Value::Int64(1), Value::Int64(1)),
        ]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn late_rows_are_counted_and_never_reach_a_final_row() {
    let input = "gen:trades?records=30000&traders=5&symbols=4&seed=11&jitter=3s";
    let sql = "SELECT symbol, window_start, COUNT(*) AS n FROM trades GROUP BY symbol WINDOW TUMBLING(5s)";
    let tight = run(sql, input, "0-1", 512, 500);
    assert!(
        tight.summary.total().late > 0,
        "jitter 3s beyond a 500ms bound must make late rows"
    );
    let counted: i64 = tight
        .rows
        .iter()
        .map(|r| match r[2] {
            Value::Int64(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(counted as u64, tight.summary.total().processed);
    // A bound larger than the jitter admits every row.
    let loose = run(sql, input, "0-1", 512, 3_000);
    assert_eq!(loose.summary.total().late, 0);
    let counted: i64 = loose
        .rows
        .iter()
        .map(|r| match r[2] {
            Value::Int64(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(counted, 30_000);
}

#[test]
fn window_state_is_freed_as_the_watermark_passes() {
    use corestream::exec::window_agg::WindowAggregate;
    use corestream::io::generator::{trades_schema, GeneratorOptions, TradesGenerator};
    use corestream::io::source::{Poll, Source};
    use corestream::sql::plan::PlanBody;

    let parsed = corestream::sql::parse(
        "SELECT symbol, COUNT(*) FROM trades GROUP BY symbol WINDOW TUMBLING(1s)",
    )
    .unwrap();
    let options = corestream::sql::PlanOptions {
        event_time: Some("event_time".into()),
        ..Default::default()
    };
    let plan = corestream::sql::plan_query_with(&parsed, None, &trades_schema(), &options).unwrap();
    let PlanBody::Aggregate(agg) = plan.body.clone() else {
        panic!()
    };
    let mut op = WindowAggregate::new(agg, plan.emit, 0, false);
    let mut g = TradesGenerator::new(GeneratorOptions {
        records: Some(2_000_000),
        symbols: 10,
        ..Default::default()
    });
    let mut emitted = 0usize;
    let mut max_open = 0usize;
    while let Poll::Batch(b) = g.poll(1000, None).unwrap() {
        let Value::Int64(last) = b.columns[0].value(b.len - 1) else {
            panic!()
        };
        op.process(&b, 0);
        max_open = max_open.max(op.open_windows());
        if let Some(out) = op.advance(last) {
            emitted += out.len;
        }
    }
    emitted += op.finish().map_or(0, |b| b.len);
    // 2,000,000 records at 1 ms each: 2,000 one-second windows of 10 symbols.
    assert_eq!(emitted, 20_000);
    // Only the current and the next window per symbol are ever open.
    assert!(max_open <= 20, "open windows grew to {max_open}");
    assert_eq!(op.open_windows(), 0);
}
