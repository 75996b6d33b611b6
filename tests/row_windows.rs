//! Row windows (`... OVER (PARTITION BY ... ORDER BY ... ROWS ...)`), the S1
//! scenario: every function checked against a reference computed straight
//! from the generator's records, on one and two shards and several batch
//! sizes; the predecessor's `ROWS WINDOW BUFFER` form; and the errors.

mod common;

use common::{generate_trades, run, sorted_rows, Cell, Trade};
use std::collections::{BTreeMap, HashMap};

const INPUT: &str = "gen:trades?records=20000&traders=20&symbols=10&seed=7";

fn frame(preceding: usize) -> String {
    format!(
        "OVER (PARTITION BY symbol ORDER BY event_time ROWS BETWEEN {preceding} PRECEDING AND CURRENT ROW)"
    )
}

fn s1_sql(over: &str) -> String {
    format!(
        "SELECT event_time, symbol, AVG(price) {over} AS avg_price, MIN(price) {over} AS min_price, \
         MAX(price) {over} AS max_price, SUM(quantity) {over} AS sum_qty, COUNT(*) {over} AS n, \
         LAG(price) OVER (PARTITION BY symbol ORDER BY event_time) AS prev_price, \
         LEAD(price, 2, -1.0) OVER (PARTITION BY symbol ORDER BY event_time) AS next2_price, \
         ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY event_time) AS rn FROM trades"
    )
}

/// The expected row per event time (unique in the generator's output).
struct Expected {
    avg: f64,
    min: f64,
    max: f64,
    sum: i64,
    n: i64,
    prev: Option<f64>,
    next2: f64,
    rn: i64,
}

fn reference(trades: &[Trade], rows: usize) -> HashMap<i64, Expected> {
    let mut by_symbol: BTreeMap<&str, Vec<&Trade>> = BTreeMap::new();
    for t in trades {
        by_symbol.entry(&t.symbol).or_default().push(t);
    }
    let mut out = HashMap::new();
    for ts in by_symbol.values() {
        for (i, t) in ts.iter().enumerate() {
            let frame = &ts[i.saturating_sub(rows - 1)..=i];
            let prices: Vec<f64> = frame.iter().map(|t| t.price).collect();
            out.insert(
                t.event_time,
                Expected {
                    avg: prices.iter().sum::<f64>() / prices.len() as f64,
                    min: prices.iter().copied().fold(f64::INFINITY, f64::min),
                    max: prices.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    sum: frame.iter().map(|t| t.quantity).sum(),
                    n: frame.len() as i64,
                    prev: i.checked_sub(1).map(|j| ts[j].price),
                    next2: ts.get(i + 2).map_or(-1.0, |t| t.price),
                    rn: i as i64 + 1,
                },
            );
        }
    }
    out
}

fn float(c: &Cell) -> f64 {
    match c {
        Cell::Float(f) => f.0,
        other => panic!("expected a float, found {other:?}"),
    }
}

fn check(rows: &[Vec<Cell>], expected: &HashMap<i64, Expected>, ctx: &str) {
    assert_eq!(
        rows.len(),
        expected.len(),
        "one output row per input row, {ctx}"
    );
    for row in rows {
        let Cell::Int(t) = row[0] else {
            panic!("event_time first: {row:?}")
        };
        let e = &expected[&t];
        let avg = float(&row[2]);
        assert!(
            (avg - e.avg).abs() <= 1e-9 * e.avg.abs(),
            "avg {ctx}: {row:?}, want {}",
            e.avg
        );
        assert_eq!(float(&row[3]), e.min, "min {ctx}: {row:?}");
        assert_eq!(float(&row[4]), e.max, "max {ctx}: {row:?}");
        assert_eq!(row[5], Cell::Int(e.sum), "sum {ctx}: {row:?}");
        assert_eq!(row[6], Cell::Int(e.n), "count {ctx}: {row:?}");
        match e.prev {
            Some(p) => assert_eq!(float(&row[7]), p, "lag {ctx}: {row:?}"),
            None => assert_eq!(row[7], Cell::Null, "lag of a first row {ctx}: {row:?}"),
        }
        assert_eq!(float(&row[8]), e.next2, "lead {ctx}: {row:?}");
        assert_eq!(row[9], Cell::Int(e.rn), "row_number {ctx}: {row:?}");
    }
}

#[test]
fn s1_functions_match_the_reference_on_one_and_two_shards() {
    let expected = reference(&generate_trades(INPUT), 100);
    let sql = s1_sql(&frame(99));
    for cores in ["0", "0-1"] {
        for batch in [1, 64, 4096] {
            let out = run(&sql, INPUT, cores, batch);
            check(
                &sorted_rows(&out),
                &expected,
                &format!("cores {cores}, batch {batch}"),
            );
            assert_eq!(out.summary.total().rows_out, 20_000);
        }
    }
}

#[test]
fn the_predecessor_buffer_form_is_the_same_window() {
    let standard = run(&s1_sql(&frame(9)), INPUT, "0-1", 256);
    let buffer = run(
        &s1_sql("OVER (ROWS WINDOW BUFFER 10 ROWS PARTITION BY symbol ORDER BY event_time)"),
        INPUT,
        "0-1",
        256,
    );
    let rows = sorted_rows(&buffer);
    assert_eq!(rows, sorted_rows(&standard));
    check(&rows, &reference(&generate_trades(INPUT), 10), "BUFFER 10");
}

#[test]
fn unbounded_frames_and_no_partition_run_over_the_whole_stream() {
    let input = "gen:trades?records=3000&traders=3&symbols=2&seed=9";
    let trades = generate_trades(input);
    let out = run(
        "SELECT event_time, SUM(quantity) OVER (ORDER BY event_time ROWS UNBOUNDED PRECEDING) AS running, \
         MAX(quantity) OVER (ORDER BY event_time) AS max_so_far, \
         FIRST_VALUE(quantity) OVER (ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS first3 FROM trades",
        input,
        "0-1",
        100,
    );
    let rows = sorted_rows(&out);
    assert_eq!(rows.len(), trades.len());
    let mut running = 0;
    let mut max = i64::MIN;
    for (i, (row, t)) in rows.iter().zip(&trades).enumerate() {
        running += t.quantity;
        max = max.max(t.quantity);
        assert_eq!(row[0], Cell::Int(t.event_time));
        assert_eq!(row[1], Cell::Int(running), "row {i}");
        assert_eq!(row[2], Cell::Int(max), "row {i}");
        assert_eq!(
            row[3],
            Cell::Int(trades[i.saturating_sub(2)].quantity),
            "row {i}"
        );
    }
}

#[test]
fn calls_made_a_column_at_a_time_equal_the_row_at_a_time_path() {
    // Without LEAD each call's column is made in one pass over a batch (SUM
    // and AVG of a DOUBLE by a dense loop); with a LEAD the rows go one at a
    // time through every call. The shared columns must be identical.
    let f = frame(49);
    let unbounded = "OVER (PARTITION BY symbol ORDER BY event_time)";
    let calls = format!(
        "event_time, AVG(price) {f}, SUM(price) {f}, AVG(price) {unbounded}, \
         SUM(price * 2) {unbounded}, SUM(quantity) {f}, MIN(price) {f}, COUNT(*) {f}, \
         ROW_NUMBER() {unbounded}"
    );
    let column_wise = format!("SELECT {calls} FROM trades");
    let row_wise = format!("SELECT {calls}, LEAD(price) {unbounded} AS next FROM trades");
    for batch in [1, 64, 4096] {
        let a = sorted_rows(&run(&column_wise, INPUT, "0-1", batch));
        let b: Vec<Vec<Cell>> = sorted_rows(&run(&row_wise, INPUT, "0-1", batch))
            .into_iter()
            .map(|mut row| {
                row.pop();
                row
            })
            .collect();
        assert_eq!(a.len(), 20_000);
        assert_eq!(a, b, "batch {batch}");
    }
}

/// A row window over a subquery of closed windows: the exchange does not
/// keep arrival order, so the window's rows are sorted by `ORDER BY` (the
/// windows' end, their event time) as the watermark passes them; the same
/// rows on one and two shards and tiny batches, and a plain reference's.
#[test]
fn a_row_window_over_closed_windows_takes_them_in_order() {
    let sql = "SELECT symbol, window_end, n, SUM(n) OVER (PARTITION BY symbol ORDER BY window_end \
               ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS last3 FROM (SELECT symbol, window_end, \
               COUNT(*) AS n FROM trades GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' SECOND)) w";
    let mut counts: BTreeMap<(String, i64), i64> = BTreeMap::new();
    for t in generate_trades(INPUT) {
        let end = t.event_time.div_euclid(1000) * 1000 + 1000;
        *counts.entry((t.symbol.clone(), end)).or_default() += 1;
    }
    let mut want: Vec<Vec<Cell>> = Vec::new();
    let mut frame: Vec<i64> = Vec::new();
    let mut symbol = String::new();
    for ((s, end), n) in &counts {
        if *s != symbol {
            (symbol, frame) = (s.clone(), Vec::new());
        }
        frame.push(*n);
        let last3: i64 = frame.iter().rev().take(3).sum();
        want.push(vec![
            Cell::Str(s.clone()),
            Cell::Other(format!("{:?}", corestream::data::Value::Timestamp(*end))),
            Cell::Int(*n),
            Cell::Int(last3),
        ]);
    }
    want.sort();
    for (cores, batch) in [("0", 4096), ("0-1", 4096), ("0-1", 7)] {
        let got = sorted_rows(&run(sql, INPUT, cores, batch));
        assert_eq!(
            got.len(),
            want.len(),
            "rows on cores {cores}, batches of {batch}"
        );
        assert!(
            got == want,
            "cores {cores}, batches of {batch}: {:?} vs {:?}",
            &got[..3],
            &want[..3]
        );
    }
    let plan = corestream::Engine::builder()
        .sql(sql)
        .input(INPUT)
        .build()
        .unwrap()
        .plan()
        .explain();
    assert!(
        plan.contains("rows sorted by window_end, as the watermark passes them"),
        "{plan}"
    );
}

fn plan_error(sql: &str) -> String {
    match corestream::Engine::builder().sql(sql).input(INPUT).build() {
        Ok(_) => panic!("`{sql}` should be refused"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn unsupported_row_windows_are_refused_with_a_location() {
    let cases = [
        (
            "SELECT AVG(price) OVER (PARTITION BY symbol RANGE BETWEEN 5 PRECEDING AND CURRENT ROW) FROM trades",
            "RANGE frames are not supported",
        ),
        (
            "SELECT AVG(price) OVER (ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM trades",
            "ends at CURRENT ROW",
        ),
        (
            "SELECT symbol, COUNT(*), AVG(price) OVER (PARTITION BY symbol) FROM trades GROUP BY symbol",
            "cannot be combined with GROUP BY",
        ),
        (
            "SELECT AVG(price) OVER (PARTITION BY symbol), MIN(price) OVER (PARTITION BY trader_id) FROM trades",
            "share one PARTITION BY",
        ),
        (
            "SELECT RANK() OVER (PARTITION BY symbol) FROM trades",
            "no window function `RANK`",
        ),
        (
            "SELECT price FROM trades WHERE AVG(price) OVER () > 3",
            "only allowed in the select list",
        ),
        (
            "SELECT AVG(symbol) OVER (PARTITION BY trader_id) FROM trades",
            "needs a numeric argument",
        ),
        (
            "SELECT SUM(n) OVER (PARTITION BY symbol) FROM (SELECT symbol, COUNT(*) AS n \
             FROM trades GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' SECOND)) w",
            "row windows without an ORDER BY column",
        ),
    ];
    for (sql, message) in cases {
        let text = plan_error(sql);
        assert!(text.contains(message), "`{sql}`:\n{text}");
        assert!(text.contains('^'), "a caret under the location: {text}");
    }
}
