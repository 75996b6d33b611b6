//! Joins through the library, against SQLite: the lookup (enrichment) join
//! of a table's current row, the ASOF join in its three spellings, the
//! event-time temporal join, the interval join (and a regular join with a
//! state time-to-live), and UNION ALL, each on 1 and 2 shards, several
//! batch sizes and source chunkings, with event-time disorder within the
//! declared bound; then a property test over random data sets and shapes,
//! and an idle input.
//!
//! Every configuration must give exactly the same rows (the results are a
//! function of the input), and those rows must be SQLite's for the
//! equivalent query. SQLite has no ASOF join: it is written as a correlated
//! subquery picking the latest quote at or before the trade (ties: the
//! later arrival, SQLite's rowid), and a table's current row as its last
//! row per key.

mod support;

use corestream::data::{DataType, Value};
use corestream::io::sink::OutputSpec;
use corestream::io::source::Source;
use corestream::runtime::router::Batching;
use corestream::{Engine, RunOutput};
use std::time::Duration;
use support::*;

const T0: i64 = 1_767_225_600_000;

/// Largest event-time disorder (ms); the declared watermark bound.
const BOUND: i64 = 2_000;

const DDL: &str = "\
CREATE STREAM trades (id BIGINT, ts BIGINT, symbol VARCHAR, trader VARCHAR, price DOUBLE, qty BIGINT)
  WITH (event_time = 'ts', watermark = '2s');
CREATE STREAM quotes (ts BIGINT, symbol VARCHAR, bid DOUBLE)
  WITH (event_time = 'ts', watermark = '2s');
CREATE TABLE instruments (symbol VARCHAR, sector VARCHAR, lot BIGINT, PRIMARY KEY (symbol));
CREATE TABLE rates (ts BIGINT, symbol VARCHAR, bid DOUBLE, PRIMARY KEY (symbol))
  WITH (event_time = 'ts', watermark = '2s');
";

/// The data set: trades, quotes (also served as the versioned table
/// `rates`) and instruments, in arrival order.
struct Data {
    trades: Table,
    quotes: Table,
    instruments: Table,
}

/// Event times `step` ms apart, each up to [`BOUND`] ms early: never late.
fn times(rng: &mut Rng, n: usize, step: i64) -> Vec<i64> {
    (0..n as i64)
        .map(|i| T0 + BOUND + i * step - rng.range(0, BOUND - 1))
        .collect()
}

fn data(seed: u64) -> Data {
    let mut rng = Rng::new(seed);
    let mut trades = Table::new(&[
        ("id", DataType::Int64),
        ("ts", DataType::Int64),
        ("symbol", DataType::Utf8),
        ("trader", DataType::Utf8),
        ("price", DataType::Float64),
        ("qty", DataType::Int64),
    ]);
    for (id, ts) in times(&mut rng, 3_000, 40).into_iter().enumerate() {
        // S20..S22 are in no table; a few symbols are NULL.
        let symbol = if rng.chance(0.03) {
            Value::Null
        } else {
            Value::Utf8(format!("S{}", rng.range(0, 22)))
        };
        trades.rows.push(vec![
            Value::Int64(id as i64),
            Value::Int64(ts),
            symbol,
            Value::Utf8(format!("T{}", rng.range(0, 6))),
            Value::Float64(rng.range(1_000, 9_999) as f64 / 8.0),
            Value::Int64(rng.range(1, 500)),
        ]);
    }
    let mut quotes = Table::new(&[
        ("ts", DataType::Int64),
        ("symbol", DataType::Utf8),
        ("bid", DataType::Float64),
    ]);
    for ts in times(&mut rng, 2_000, 60) {
        // Coarse times, so that quotes of a symbol share times (ties).
        quotes.rows.push(vec![
            Value::Int64(ts / 100 * 100),
            Value::Utf8(format!("S{}", rng.range(0, 21))),
            Value::Float64(rng.range(1_000, 9_999) as f64 / 4.0),
        ]);
    }
    let mut instruments = Table::new(&[
        ("symbol", DataType::Utf8),
        ("sector", DataType::Utf8),
        ("lot", DataType::Int64),
    ]);
    for s in 0..20 {
        let sector = ["tech", "energy", "banks", "retail"][s % 4];
        instruments.rows.push(vec![
            Value::Utf8(format!("S{s}")),
            Value::Utf8(sector.into()),
            Value::Int64(s as i64 * 10),
        ]);
    }
    // Later rows replace earlier ones with the same key.
    for s in (0..20).step_by(3) {
        instruments.rows.push(vec![
            Value::Utf8(format!("S{s}")),
            Value::Utf8("updated".into()),
            Value::Int64(s as i64 * 100 + 1),
        ]);
    }
    Data {
        trades,
        quotes,
        instruments,
    }
}

/// How one run is set up.
#[derive(Debug, Clone, Copy)]
struct Config {
    cores: &'static str,
    batch_size: usize,
    chunk: usize,
}

const CONFIGS: &[Config] = &[
    Config {
        cores: "0",
        batch_size: 4096,
        chunk: 4096,
    },
    Config {
        cores: "0-1",
        batch_size: 4096,
        chunk: 1000,
    },
    Config {
        cores: "0-1",
        batch_size: 7,
        chunk: 13,
    },
    Config {
        cores: "0",
        batch_size: 1,
        chunk: 1,
    },
];

/// Runs `sql` over the data set in `config`, with a state time-to-live for
/// joins of two streams if given.
fn run_with(sql: &str, data: &Data, config: Config, ttl: Option<Duration>) -> RunOutput {
    let sources: Vec<(String, Box<dyn Source>)> = [
        ("trades", &data.trades),
        ("quotes", &data.quotes),
        ("rates", &data.quotes),
        ("instruments", &data.instruments),
    ]
    .into_iter()
    .filter(|(name, _)| sql.contains(&format!(" {name} ")))
    .map(|(name, table)| {
        let source: Box<dyn Source> = Box::new(VecSource::new(table, &[config.chunk]));
        (name.to_owned(), source)
    })
    .collect();
    let declared: String = DDL
        .split_inclusive(';')
        .filter(|d| {
            sources
                .iter()
                .any(|(name, _)| d.contains(&format!(" {name} (")))
        })
        .collect();
    let sql = format!("{declared}\n{sql}");
    let mut builder = Engine::builder();
    if let Some(ttl) = ttl {
        builder = builder.state_ttl(ttl);
    }
    builder
        .sql(&sql)
        .cores(core_set(config.cores))
        .output(OutputSpec::Collect)
        .batching(Batching {
            batch_size: config.batch_size,
            linger: Duration::from_millis(5),
        })
        .build_with_sources(sources)
        .unwrap_or_else(|e| panic!("building `{sql}` failed: {e}"))
        .run()
        .unwrap_or_else(|e| panic!("running `{sql}` ({config:?}) failed: {e}"))
}

fn sqlite(data: &Data) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE TABLE trades (id INTEGER, ts INTEGER, symbol TEXT, trader TEXT, price REAL, qty INTEGER);
         CREATE TABLE quotes (ts INTEGER, symbol TEXT, bid REAL);
         CREATE TABLE instruments (symbol TEXT, sector TEXT, lot INTEGER);",
    )
    .unwrap();
    for (name, table) in [
        ("trades", &data.trades),
        ("quotes", &data.quotes),
        ("instruments", &data.instruments),
    ] {
        let marks = vec!["?"; table.schema.fields.len()].join(", ");
        let mut insert = db
            .prepare(&format!("INSERT INTO {name} VALUES ({marks})"))
            .unwrap();
        for row in &table.rows {
            let params: Vec<rusqlite::types::Value> = row
                .iter()
                .map(|v| match v {
                    Value::Null => rusqlite::types::Value::Null,
                    Value::Int64(i) => rusqlite::types::Value::Integer(*i),
                    Value::Float64(f) => rusqlite::types::Value::Real(*f),
                    Value::Utf8(s) => rusqlite::types::Value::Text(s.clone()),
                    other => panic!("no {other:?} in this data set"),
                })
                .collect();
            insert.execute(rusqlite::params_from_iter(params)).unwrap();
        }
    }
    db
}

/// A table's current row per key, for SQLite.
const CURRENT_INSTRUMENTS: &str = "(SELECT * FROM instruments i \
     WHERE rowid = (SELECT MAX(rowid) FROM instruments i2 WHERE i2.symbol = i.symbol))";

/// The rowid of the latest quote at or before trade `t`, for SQLite.
const LATEST_QUOTE: &str = "(SELECT q2.rowid FROM quotes q2 WHERE q2.symbol = t.symbol \
     AND q2.ts <= t.ts ORDER BY q2.ts DESC, q2.rowid DESC LIMIT 1)";

/// Runs `corestream_sql` in every configuration and checks each against
/// the first (exactly) and against SQLite's rows for `sqlite_sql`.
fn check(name: &str, corestream_sql: &str, sqlite_sql: &str) {
    check_with(name, corestream_sql, sqlite_sql, None)
}

fn check_with(name: &str, corestream_sql: &str, sqlite_sql: &str, ttl: Option<Duration>) {
    check_configs(name, corestream_sql, sqlite_sql, ttl, 11, CONFIGS);
}

/// [`check`] over the data set of `seed`, in `configs`.
fn check_configs(
    name: &str,
    corestream_sql: &str,
    sqlite_sql: &str,
    ttl: Option<Duration>,
    seed: u64,
    configs: &[Config],
) {
    let data = data(seed);
    let want = sqlite_rows(&sqlite(&data), sqlite_sql);
    assert!(!want.is_empty(), "{name}: SQLite returned no rows");
    let mut first: Option<Vec<Row>> = None;
    for &config in configs {
        let out = run_with(corestream_sql, &data, config, ttl);
        assert!(
            out.summary.identity_holds(),
            "{name} {config:?}: accounting\n{:?}",
            out.summary
        );
        let got = result_rows(&out);
        if let Err(e) = compare_rows(&got, &want, 1e-9) {
            panic!("{name} {config:?} differs from SQLite: {e}");
        }
        match &first {
            None => first = Some(got),
            Some(first) => {
                if let Err(e) = compare_rows(&got, first, 0.0) {
                    panic!("{name} {config:?} differs from {:?}: {e}", configs[0]);
                }
            }
        }
    }
}

#[test]
fn lookup_join_enriches_each_trade_with_the_current_row() {
    check(
        "inner lookup",
        "SELECT t.id, t.symbol, t.price, i.sector, i.lot FROM trades t \
         JOIN instruments i ON t.symbol = i.symbol",
        &format!(
            "SELECT t.id, t.symbol, t.price, i.sector, i.lot FROM trades t \
             JOIN {CURRENT_INSTRUMENTS} i ON t.symbol = i.symbol"
        ),
    );
}

#[test]
fn left_lookup_join_keeps_unmatched_trades_with_nulls() {
    check(
        "left lookup",
        "SELECT t.id, t.symbol, i.sector, i.lot * t.qty AS lots FROM trades t \
         LEFT JOIN instruments i ON t.symbol = i.symbol",
        &format!(
            "SELECT t.id, t.symbol, i.sector, i.lot * t.qty FROM trades t \
             LEFT JOIN {CURRENT_INSTRUMENTS} i ON t.symbol = i.symbol"
        ),
    );
}

#[test]
fn lookup_join_then_aggregate_by_a_stream_key_broadcasts_the_table() {
    check(
        "lookup, group by trader",
        "SELECT t.trader, COUNT(*) AS n, SUM(i.lot) AS lots, MAX(t.price) AS top FROM trades t \
         JOIN instruments i ON t.symbol = i.symbol WHERE i.sector <> 'energy' \
         GROUP BY t.trader EMIT FINAL",
        &format!(
            "SELECT t.trader, COUNT(*), SUM(i.lot), MAX(t.price) FROM trades t \
             JOIN {CURRENT_INSTRUMENTS} i ON t.symbol = i.symbol WHERE i.sector <> 'energy' \
             GROUP BY t.trader"
        ),
    );
}

#[test]
fn lookup_join_then_aggregate_by_the_join_key_or_a_table_column() {
    check(
        "lookup, group by symbol",
        "SELECT t.symbol, COUNT(*) AS n, SUM(t.qty * i.lot) AS v FROM trades t \
         JOIN instruments i ON t.symbol = i.symbol GROUP BY t.symbol EMIT FINAL",
        &format!(
            "SELECT t.symbol, COUNT(*), SUM(t.qty * i.lot) FROM trades t \
             JOIN {CURRENT_INSTRUMENTS} i ON t.symbol = i.symbol GROUP BY t.symbol"
        ),
    );
    check(
        "lookup, group by sector",
        "SELECT i.sector, COUNT(*) AS n, SUM(t.qty) AS q FROM trades t \
         JOIN instruments i ON t.symbol = i.symbol GROUP BY i.sector EMIT FINAL",
        &format!(
            "SELECT i.sector, COUNT(*), SUM(t.qty) FROM trades t \
             JOIN {CURRENT_INSTRUMENTS} i ON t.symbol = i.symbol GROUP BY i.sector"
        ),
    );
}

#[test]
fn asof_join_meets_the_latest_quote_at_or_before_each_trade() {
    let sqlite_inner = format!(
        "SELECT t.id, t.symbol, q.bid, q.ts FROM trades t JOIN quotes q ON q.rowid = {LATEST_QUOTE}"
    );
    let sqlite_left = format!(
        "SELECT t.id, t.symbol, q.bid, q.ts FROM trades t LEFT JOIN quotes q ON q.rowid = {LATEST_QUOTE}"
    );
    // DuckDB's spelling: ASOF JOIN is inner, ASOF LEFT JOIN keeps the trade.
    check(
        "duckdb asof",
        "SELECT t.id, t.symbol, q.bid, q.ts AS qts FROM trades t \
         ASOF JOIN quotes q ON t.symbol = q.symbol AND t.ts >= q.ts",
        &sqlite_inner,
    );
    check(
        "duckdb asof left",
        "SELECT t.id, t.symbol, q.bid, q.ts AS qts FROM trades t \
         ASOF LEFT JOIN quotes q ON q.ts <= t.ts AND q.symbol = t.symbol",
        &sqlite_left,
    );
    // Snowflake's: ASOF JOIN keeps an unmatched trade with NULLs.
    check(
        "snowflake asof",
        "SELECT t.id, t.symbol, q.bid, q.ts AS qts FROM trades t \
         ASOF JOIN quotes q MATCH_CONDITION(t.ts >= q.ts) ON t.symbol = q.symbol",
        &sqlite_left,
    );
}

#[test]
fn asof_join_feeds_a_window_aggregate() {
    check(
        "asof, tumbling window",
        "SELECT t.symbol, window_start, COUNT(*) AS n, SUM(t.qty * q.bid) AS notional FROM trades t \
         ASOF JOIN quotes q ON t.symbol = q.symbol AND t.ts >= q.ts \
         GROUP BY t.symbol, TUMBLE(t.ts, INTERVAL '10' SECOND) EMIT FINAL",
        &format!(
            "SELECT t.symbol, (t.ts / 10000) * 10000, COUNT(*), SUM(t.qty * q.bid) FROM trades t \
             JOIN quotes q ON q.rowid = {LATEST_QUOTE} GROUP BY t.symbol, t.ts / 10000"
        ),
    );
}

#[test]
fn temporal_join_meets_the_table_row_valid_at_the_trade_time() {
    check(
        "temporal",
        "SELECT t.id, t.price, r.bid FROM trades t \
         JOIN rates FOR SYSTEM_TIME AS OF t.ts AS r ON t.symbol = r.symbol",
        &format!(
            "SELECT t.id, t.price, q.bid FROM trades t JOIN quotes q ON q.rowid = {LATEST_QUOTE}"
        ),
    );
    check(
        "temporal left",
        "SELECT t.id, r.bid FROM trades t \
         LEFT JOIN rates FOR SYSTEM_TIME AS OF t.ts AS r ON t.symbol = r.symbol",
        &format!("SELECT t.id, q.bid FROM trades t LEFT JOIN quotes q ON q.rowid = {LATEST_QUOTE}"),
    );
}

#[test]
fn interval_join_meets_every_quote_within_the_bound() {
    check(
        "interval, bound in ON",
        "SELECT t.id, q.ts AS qts, q.bid FROM trades t JOIN quotes q ON t.symbol = q.symbol \
         AND q.ts BETWEEN t.ts - INTERVAL '1' SECOND AND t.ts + INTERVAL '500' MILLISECOND",
        "SELECT t.id, q.ts, q.bid FROM trades t JOIN quotes q ON t.symbol = q.symbol \
         AND q.ts BETWEEN t.ts - 1000 AND t.ts + 500",
    );
    check(
        "interval, bound in WHERE",
        "SELECT t.id, q.ts AS qts FROM trades t JOIN quotes q ON t.symbol = q.symbol \
         WHERE q.ts >= t.ts - 300 AND t.ts + 1200 >= q.ts AND q.bid > 1000",
        "SELECT t.id, q.ts FROM trades t JOIN quotes q ON t.symbol = q.symbol \
         WHERE q.ts >= t.ts - 300 AND t.ts + 1200 >= q.ts AND q.bid > 1000",
    );
    check(
        "left interval",
        "SELECT t.id, q.ts AS qts FROM trades t LEFT JOIN quotes q ON t.symbol = q.symbol \
         AND q.ts BETWEEN t.ts - 700 AND t.ts",
        "SELECT t.id, q.ts FROM trades t LEFT JOIN quotes q ON t.symbol = q.symbol \
         AND q.ts BETWEEN t.ts - 700 AND t.ts",
    );
}

#[test]
fn a_regular_join_of_two_streams_keeps_rows_for_the_state_ttl() {
    check_with(
        "state ttl",
        "SELECT t.id, q.ts AS qts FROM trades t JOIN quotes q ON t.symbol = q.symbol",
        "SELECT t.id, q.ts FROM trades t JOIN quotes q ON t.symbol = q.symbol \
         AND ABS(q.ts - t.ts) <= 2000",
        Some(Duration::from_secs(2)),
    );
    check_with(
        "state ttl set in the query",
        "SET 'table.exec.state.ttl' = '2 s';\n\
         SELECT t.id, q.ts AS qts FROM trades t JOIN quotes q ON t.symbol = q.symbol",
        "SELECT t.id, q.ts FROM trades t JOIN quotes q ON t.symbol = q.symbol \
         AND ABS(q.ts - t.ts) <= 2000",
        None,
    );
}

/// The state a time-to-live frees is counted: most rows leave before the end.
#[test]
fn the_rows_a_state_ttl_frees_are_counted() {
    let data = data(11);
    let out = run_with(
        "SELECT t.id FROM trades t JOIN quotes q ON t.symbol = q.symbol",
        &data,
        CONFIGS[1],
        Some(Duration::from_secs(2)),
    );
    let rows = (data.trades.rows.len() + data.quotes.rows.len()) as u64;
    let freed = out.summary.total().join_rows_freed;
    assert!(freed > rows / 2 && freed <= rows, "{freed} of {rows}");
    assert!(out
        .summary
        .render()
        .contains(&format!("join state: {freed} rows freed")));
}

/// An input quiet for its idle timeout stops holding the join back: trades
/// wait for quotes only while the quotes input is active.
#[test]
fn an_idle_input_stops_holding_back_an_asof_join() {
    use corestream::io::push;
    let quotes_schema = data(1).quotes.schema;
    let (mut pusher, quotes) = push::channel(quotes_schema, 4);
    let mut trades = Table::new(&[
        ("id", DataType::Int64),
        ("ts", DataType::Int64),
        ("symbol", DataType::Utf8),
        ("trader", DataType::Utf8),
        ("price", DataType::Float64),
        ("qty", DataType::Int64),
    ]);
    for id in 0..5i64 {
        trades.rows.push(vec![
            Value::Int64(id),
            Value::Int64(1_000 + id * 1_000),
            Value::Utf8("S0".into()),
            Value::Utf8("T0".into()),
            Value::Float64(10.0),
            Value::Int64(1),
        ]);
    }
    let sql = "CREATE STREAM trades (id BIGINT, ts BIGINT, symbol VARCHAR, trader VARCHAR, price DOUBLE, qty BIGINT)
                 WITH (event_time = 'ts');
               CREATE STREAM quotes (ts BIGINT, symbol VARCHAR, bid DOUBLE)
                 WITH (event_time = 'ts', idle_timeout = '200ms');
               SELECT t.id, q.bid FROM trades t ASOF JOIN quotes q ON t.symbol = q.symbol AND t.ts >= q.ts";
    let sources: Vec<(String, Box<dyn Source>)> = vec![
        ("trades".into(), Box::new(VecSource::new(&trades, &[5]))),
        ("quotes".into(), Box::new(quotes)),
    ];
    let mut running = Engine::builder()
        .sql(sql)
        .cores(core_set("0"))
        .output(OutputSpec::Rings { capacity: 4 })
        .build_with_sources(sources)
        .unwrap()
        .spawn()
        .unwrap();
    let mut ring = running.take_result_rings().pop().unwrap();
    for (ts, bid) in [(500, 1.0), (2_500, 2.0)] {
        pusher
            .push_row(&[
                Value::Int64(ts),
                Value::Utf8("S0".into()),
                Value::Float64(bid),
            ])
            .unwrap();
    }
    pusher.flush().unwrap();
    // Every trade is joined while the quotes input is still open: the last
    // three only once it has been quiet for 200 ms.
    let mut got = Vec::new();
    let watchdog = std::time::Instant::now() + Duration::from_secs(60);
    while got.len() < 5 {
        assert!(std::time::Instant::now() < watchdog, "joined {got:?} only");
        match ring.pop() {
            Some(b) => {
                for row in 0..b.len {
                    got.push((b.columns[0].value(row), b.columns[1].value(row)));
                }
            }
            None => std::thread::yield_now(),
        }
    }
    pusher.finish().unwrap();
    let out = running.join().unwrap();
    assert!(out.summary.identity_holds(), "{}", out.summary.render());
    got.sort_by_key(|(id, _)| format!("{id:?}"));
    let bids: Vec<Value> = got.into_iter().map(|(_, bid)| bid).collect();
    let want = [1.0, 1.0, 2.0, 2.0, 2.0].map(Value::Float64);
    assert_eq!(bids, want);
}

#[test]
fn union_all_of_two_inputs_and_a_window_over_it() {
    check(
        "union all",
        "SELECT symbol, ts FROM trades WHERE price > 500 UNION ALL SELECT symbol, ts FROM quotes ",
        "SELECT symbol, ts FROM trades WHERE price > 500 UNION ALL SELECT symbol, ts FROM quotes",
    );
    check(
        "window over a union",
        "SELECT symbol, window_start, COUNT(*) AS n FROM \
         (SELECT symbol, ts FROM trades UNION ALL SELECT symbol, ts FROM quotes ) u \
         GROUP BY symbol, TUMBLE(ts, INTERVAL '5' SECOND)",
        "SELECT symbol, (ts / 5000) * 5000, COUNT(*) FROM \
         (SELECT symbol, ts FROM trades UNION ALL SELECT symbol, ts FROM quotes) u \
         GROUP BY symbol, ts / 5000",
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(6))]

    /// Any data set (arrival order within the bound), shard count, batch
    /// size and chunking: the same rows as SQLite, for each join kind.
    #[test]
    fn any_order_shards_and_batching_give_the_same_join_results(
        seed in 0u64..1_000,
        two in proptest::bool::ANY,
        batch_size in proptest::sample::select(vec![1usize, 3, 64, 4096]),
        chunk in 1usize..500,
    ) {
        let config = Config { cores: if two { "0-1" } else { "0" }, batch_size, chunk };
        check_configs(
            "asof",
            "SELECT t.id, q.bid FROM trades t ASOF LEFT JOIN quotes q ON t.symbol = q.symbol AND t.ts >= q.ts",
            &format!("SELECT t.id, q.bid FROM trades t LEFT JOIN quotes q ON q.rowid = {LATEST_QUOTE}"),
            None,
            seed,
            &[config],
        );
        check_configs(
            "lookup",
            "SELECT t.id, i.lot FROM trades t LEFT JOIN instruments i ON t.symbol = i.symbol",
            &format!("SELECT t.id, i.lot FROM trades t LEFT JOIN {CURRENT_INSTRUMENTS} i ON t.symbol = i.symbol"),
            None,
            seed,
            &[config],
        );
        check_configs(
            "interval",
            "SELECT t.id, q.ts FROM trades t JOIN quotes q ON t.symbol = q.symbol AND q.ts BETWEEN t.ts - 500 AND t.ts + 500",
            "SELECT t.id, q.ts FROM trades t JOIN quotes q ON t.symbol = q.symbol AND q.ts BETWEEN t.ts - 500 AND t.ts + 500",
            None,
            seed,
            &[config],
        );
    }
}
