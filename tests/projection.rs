//! S0, projection and filter: every kept row exactly once, on one and two
//! shards and any batch size, and the filtered rows counted.

mod common;

use common::{generate_trades, run, sorted_rows, Cell, Exact, INPUT, RECORDS};

const S0: &str = "SELECT trader_id, symbol, price, quantity, price * quantity AS notional \
                  FROM trades WHERE price > 100";

#[test]
fn s0_keeps_exactly_the_matching_rows_with_their_notional() {
    let trades = generate_trades(INPUT);
    let mut expected: Vec<Vec<Cell>> = trades
        .iter()
        .filter(|t| t.price > 100.0)
        .map(|t| {
            vec![
                Cell::Str(t.trader_id.clone()),
                Cell::Str(t.symbol.clone()),
                Cell::Float(Exact(t.price)),
                Cell::Int(t.quantity),
                Cell::Float(Exact(t.price * t.quantity as f64)),
            ]
        })
        .collect();
    expected.sort();
    assert!(!expected.is_empty() && expected.len() < trades.len());
    for cores in ["0", "0-1"] {
        for batch in [1, 100, 4096] {
            let out = run(S0, INPUT, cores, batch);
            assert_eq!(sorted_rows(&out), expected, "cores {cores}, batch {batch}");
            let total = out.summary.total();
            assert_eq!(total.records_in, RECORDS);
            assert_eq!(total.filtered, RECORDS - expected.len() as u64);
            assert_eq!(total.rows_out, expected.len() as u64);
        }
    }
}
