//! The aggregates beyond COUNT/SUM/AVG/MIN/MAX: COUNT(DISTINCT), the
//! variance family, FIRST_VALUE and LAST_VALUE, checked against a reference
//! computed straight from the generator's records, on one and two shards.

mod common;

use common::{generate_trades, run, sorted_rows, Cell, Trade, INPUT};
use corestream::data::Value;
use std::collections::{BTreeMap, HashSet};

const SQL: &str = "SELECT symbol, COUNT(DISTINCT trader_id) AS traders, \
COUNT(DISTINCT quantity) AS quantities, STDDEV(price) AS sd, STDDEV_POP(price) AS sd_pop, \
VARIANCE(price) AS var, VAR_POP(price) AS var_pop, FIRST_VALUE(price) AS first_price, \
LAST_VALUE(price) AS last_price FROM trades GROUP BY symbol EMIT FINAL";

struct Expected {
    traders: i64,
    quantities: i64,
    var_pop: f64,
    var: f64,
    first: f64,
    last: f64,
}

fn reference(trades: &[Trade]) -> BTreeMap<String, Expected> {
    let mut by_symbol: BTreeMap<String, Vec<&Trade>> = BTreeMap::new();
    for t in trades {
        by_symbol.entry(t.symbol.clone()).or_default().push(t);
    }
    by_symbol
        .into_iter()
        .map(|(symbol, ts)| {
            let n = ts.len() as f64;
            let mean = ts.iter().map(|t| t.price).sum::<f64>() / n;
            let ss: f64 = ts.iter().map(|t| (t.price - mean).powi(2)).sum();
            let expected = Expected {
                traders: ts
                    .iter()
                    .map(|t| &t.trader_id)
                    .collect::<HashSet<_>>()
                    .len() as i64,
                quantities: ts.iter().map(|t| t.quantity).collect::<HashSet<_>>().len() as i64,
                var_pop: ss / n,
                var: ss / (n - 1.0),
                first: ts[0].price,
                last: ts[ts.len() - 1].price,
            };
            (symbol, expected)
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn float(c: &Cell) -> f64 {
    match c {
        Cell::Float(f) => f.0,
        other => panic!("expected a float, found {other:?}"),
    }
}

#[test]
fn distinct_spread_first_last_match_the_reference_on_one_and_two_shards() {
    let expected = reference(&generate_trades(INPUT));
    for cores in ["0", "0-1"] {
        for batch in [7, 4096] {
            let out = run(SQL, INPUT, cores, batch);
            let rows = sorted_rows(&out);
            assert_eq!(rows.len(), expected.len(), "one row per symbol");
            for (row, (symbol, e)) in rows.iter().zip(&expected) {
                let ctx = format!("{symbol} on cores {cores}, batch {batch}: {row:?}");
                assert_eq!(row[0], Cell::Str(symbol.clone()), "{ctx}");
                assert_eq!(row[1], Cell::Int(e.traders), "{ctx}");
                assert_eq!(row[2], Cell::Int(e.quantities), "{ctx}");
                assert!(close(float(&row[3]), e.var.sqrt()), "stddev {ctx}");
                assert!(close(float(&row[4]), e.var_pop.sqrt()), "stddev_pop {ctx}");
                assert!(close(float(&row[5]), e.var), "variance {ctx}");
                assert!(close(float(&row[6]), e.var_pop), "var_pop {ctx}");
                assert_eq!(float(&row[7]), e.first, "first_value {ctx}");
                assert_eq!(float(&row[8]), e.last, "last_value {ctx}");
            }
        }
    }
}

#[test]
fn sample_spread_of_one_row_is_null_and_population_spread_is_zero() {
    let out = run(
        "SELECT trader_id, STDDEV(price), STDDEV_POP(price) FROM trades GROUP BY trader_id EMIT FINAL",
        "gen:trades?records=1&traders=1&symbols=1&seed=3",
        "0",
        16,
    );
    let rows = sorted_rows(&out);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1], Cell::Null);
    assert_eq!(float(&rows[0][2]), 0.0);
}

#[test]
fn count_distinct_in_tumbling_windows_counts_each_window_separately() {
    // 1 record per millisecond: 10 s windows hold 10,000 records each.
    let input = "gen:trades?records=30000&traders=7&symbols=1&seed=5";
    let sql = "SELECT window_start, COUNT(DISTINCT trader_id) AS traders, COUNT(*) AS n \
               FROM trades GROUP BY TUMBLE(event_time, INTERVAL '10' SECOND)";
    let trades = generate_trades(input);
    let mut expected: BTreeMap<i64, (HashSet<String>, i64)> = BTreeMap::new();
    for t in &trades {
        let e = expected.entry(t.event_time.div_euclid(10_000)).or_default();
        e.0.insert(t.trader_id.clone());
        e.1 += 1;
    }
    let out = corestream::Engine::builder()
        .sql(sql)
        .input(input)
        .cores(common::core_set("0-1"))
        .event_time("event_time")
        .output(corestream::io::sink::OutputSpec::Collect)
        .build()
        .unwrap()
        .run()
        .unwrap();
    let rows = sorted_rows(&out);
    assert_eq!(rows.len(), expected.len());
    for (row, (_, (traders, n))) in rows.iter().zip(&expected) {
        assert_eq!(row[1], Cell::Int(traders.len() as i64), "{row:?}");
        assert_eq!(row[2], Cell::Int(*n), "{row:?}");
    }
}

#[test]
fn distinct_is_refused_where_it_is_not_supported() {
    let err = corestream::Engine::builder()
        .sql("SELECT symbol, SUM(DISTINCT quantity) FROM trades GROUP BY symbol")
        .input(INPUT)
        .build()
        .err()
        .expect("SUM(DISTINCT) is refused");
    let text = err.to_string();
    assert!(text.contains("only COUNT(DISTINCT x)"), "{text}");
    assert!(text.contains("1:16") || text.contains("line 1"), "{text}");
}

/// One (group or window) state of the FILTER queries' reference.
#[derive(Default)]
struct Filtered {
    small: i64,
    t1_quantity: Option<i64>,
    big_high: Option<f64>,
    mid_traders: HashSet<String>,
}

impl Filtered {
    fn add(&mut self, t: &Trade) {
        if t.quantity < 300 {
            self.small += 1;
        }
        if t.trader_id == "T001" {
            *self.t1_quantity.get_or_insert(0) += t.quantity;
        }
        if t.quantity >= 700 {
            self.big_high = Some(self.big_high.map_or(t.price, |h| h.max(t.price)));
        }
        if (300..700).contains(&t.quantity) {
            self.mid_traders.insert(t.trader_id.clone());
        }
    }

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::Int(self.small),
            self.t1_quantity.map_or(Cell::Null, Cell::Int),
            self.big_high
                .map_or(Cell::Null, |h| Cell::Float(common::Exact(h))),
            Cell::Int(self.mid_traders.len() as i64),
        ]
    }
}

const FILTERED: &str = "COUNT(*) FILTER (WHERE quantity < 300) AS small, \
SUM(quantity) FILTER (WHERE trader_id = 'T001') AS t1, \
MAX(price) FILTER (WHERE quantity >= 700) AS big_high, \
COUNT(DISTINCT trader_id) FILTER (WHERE quantity BETWEEN 300 AND 699) AS mid";

/// Under EMIT CHANGES each input row gives its group's filtered aggregates
/// right after it; on one shard the rows come out in input order.
#[test]
fn filtered_aggregates_emit_changes_row_by_row() {
    let input = "gen:trades?records=3000&traders=5&symbols=3&seed=11";
    let trades = generate_trades(input);
    let sql = format!("SELECT symbol, {FILTERED} FROM trades GROUP BY symbol EMIT CHANGES");
    for batch in [1, 64, 4096] {
        let out = run(&sql, input, "0", batch);
        let rows = &common::shard_rows(&out)[0];
        assert_eq!(rows.len(), trades.len());
        let mut groups: BTreeMap<String, Filtered> = BTreeMap::new();
        let mut nulls = 0;
        for (i, (t, row)) in trades.iter().zip(rows).enumerate() {
            let g = groups.entry(t.symbol.clone()).or_default();
            g.add(t);
            let mut want = vec![Cell::Str(t.symbol.clone())];
            want.extend(g.cells());
            assert_eq!(row, &want, "row {i}, batch {batch}");
            nulls += want.iter().filter(|c| **c == Cell::Null).count();
        }
        assert!(nulls > 0, "some group has had no row pass a filter yet");
    }
}

/// The same per tumbling window, under EMIT CHANGES.
#[test]
fn filtered_aggregates_in_a_tumbling_window_emit_changes_row_by_row() {
    let input = "gen:trades?records=3000&traders=5&symbols=3&seed=12";
    let trades = generate_trades(input);
    let sql = format!(
        "SELECT symbol, window_start, {FILTERED} FROM trades \
         GROUP BY symbol, TUMBLE(event_time, INTERVAL '500' MILLISECOND) EMIT CHANGES"
    );
    let out = corestream::Engine::builder()
        .sql(&sql)
        .input(input)
        .cores(common::core_set("0"))
        .event_time("event_time")
        .output(corestream::io::sink::OutputSpec::Collect)
        .build()
        .unwrap()
        .run()
        .unwrap();
    let rows = &common::shard_rows(&out)[0];
    assert_eq!(rows.len(), trades.len());
    let mut windows: BTreeMap<(String, i64), Filtered> = BTreeMap::new();
    for (i, (t, row)) in trades.iter().zip(rows).enumerate() {
        let start = t.event_time.div_euclid(500) * 500;
        let w = windows.entry((t.symbol.clone(), start)).or_default();
        w.add(t);
        assert_eq!(row[0], Cell::Str(t.symbol.clone()), "row {i}");
        assert_eq!(
            row[1],
            Cell::Other(format!("{:?}", Value::Timestamp(start))),
            "row {i}"
        );
        assert_eq!(row[2..], w.cells()[..], "row {i}");
    }
    assert!(windows.len() > 6, "several windows per symbol");
}

/// Under EMIT CHANGES, the last row a window emits is its EMIT FINAL row
/// (which tests/differential checks against SQLite), for hopping and session
/// windows with filtered aggregates.
#[test]
fn filtered_window_changes_end_at_the_final_rows() {
    let input = "gen:trades?records=4000&traders=5&symbols=3&seed=13";
    let run_emit = |window: &str, emit: &str| {
        let sql = format!(
            "SELECT symbol, window_start, window_end, {FILTERED} FROM trades \
             GROUP BY symbol, {window} EMIT {emit}"
        );
        let out = corestream::Engine::builder()
            .sql(&sql)
            .input(input)
            .cores(common::core_set("0"))
            .event_time("event_time")
            .output(corestream::io::sink::OutputSpec::Collect)
            .build()
            .unwrap()
            .run()
            .unwrap();
        common::shard_rows(&out).remove(0)
    };
    for window in [
        "HOP(event_time, INTERVAL '250' MILLISECOND, INTERVAL '1' SECOND)",
        "SESSION(event_time, INTERVAL '4' MILLISECOND)",
    ] {
        let finals = run_emit(window, "FINAL");
        let changes = run_emit(window, "CHANGES");
        let mut last: BTreeMap<(Cell, Cell), Vec<Cell>> = BTreeMap::new();
        for row in &changes {
            last.insert((row[0].clone(), row[1].clone()), row.clone());
        }
        assert!(finals.len() > 10, "{window}: {} windows", finals.len());
        assert!(changes.len() > finals.len(), "{window}");
        for row in &finals {
            let key = (row[0].clone(), row[1].clone());
            assert_eq!(last.get(&key), Some(row), "{window}");
        }
    }
}
