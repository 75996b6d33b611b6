//! Several named inputs and their joins through the `corestream` binary:
//! `--input NAME=SPEC` per input, declarations in the SQL file, the same
//! rows on 1 and 2 shards at any batch size, `explain` showing each input,
//! and clear errors for inputs that do not add up.

mod process;

use process::{corestream, temp_file, TempPath};

const QUERY: &str = "\
CREATE STREAM trades (ts BIGINT, symbol VARCHAR, price DOUBLE, qty BIGINT)
  WITH (event_time = 'ts', watermark = '1s');
CREATE STREAM quotes (ts BIGINT, symbol VARCHAR, bid DOUBLE)
  WITH (event_time = 'ts', watermark = '1s');
CREATE TABLE instruments (symbol VARCHAR, sector VARCHAR, lot BIGINT, PRIMARY KEY (symbol));
SELECT t.ts, t.symbol, t.price, q.bid, i.sector
FROM trades t ASOF JOIN quotes q ON t.symbol = q.symbol AND t.ts >= q.ts";

/// Trades, quotes and instruments files: 400 trades over 5 symbols (one
/// without quotes), quotes every 3 s, two instruments updated once.
struct Files {
    trades: TempPath,
    quotes: TempPath,
    instruments: TempPath,
}

/// The files, named for test `test` (tests run at once in one process).
fn files(test: &str) -> Files {
    let mut trades = String::from("ts,symbol,price,qty\n");
    for i in 0..400u64 {
        // Up to 900 ms out of order: within the 1 s watermark.
        let ts = 10_000 + i * 100 - (i * 7919) % 900;
        trades.push_str(&format!(
            "{ts},S{},{}.5,{}\n",
            i % 5,
            100 + i % 13,
            1 + i % 9
        ));
    }
    let mut quotes = String::from("ts,symbol,bid\n");
    for i in 0..150u64 {
        quotes.push_str(&format!(
            "{},S{},{}.25\n",
            9_000 + i * 300,
            i % 4,
            90 + i % 17
        ));
    }
    let instruments =
        "symbol,sector,lot\nS0,tech,100\nS1,banks,50\nS2,energy,10\nS1,banks,75\nS0,tech,200\n";
    Files {
        trades: temp_file(&format!("{test}-trades.csv"), trades),
        quotes: temp_file(&format!("{test}-quotes.csv"), quotes),
        instruments: temp_file(&format!("{test}-instruments.csv"), instruments),
    }
}

fn sorted_stdout(stdout: &str) -> Vec<String> {
    let mut rows: Vec<String> = stdout.lines().map(str::to_owned).collect();
    rows.sort();
    rows
}

#[test]
fn an_asof_join_of_two_named_files_gives_the_same_rows_on_any_shards_and_batches() {
    let f = files("asof");
    let sql = QUERY.replace(", i.sector", "");
    let sql = sql
        .split_inclusive(';')
        .filter(|s| !s.contains("instruments"))
        .collect::<String>();
    let run = |cores: &str, batch: &str| {
        let ran = corestream(&[
            "run",
            "--sql",
            &sql,
            "--input",
            &format!("trades={}", f.trades.str()),
            "--input",
            &format!("quotes={}", f.quotes.str()),
            "--cores",
            cores,
            "--batch-size",
            batch,
        ]);
        ran.assert_success();
        assert!(ran.stderr.contains("(holds)"), "{}", ran.context());
        sorted_stdout(&ran.stdout)
    };
    let one = run("0", "4096");
    assert_eq!(
        one.len(),
        1 + 320,
        "a header and the trades of S0..S3 (S4 has no quotes)"
    );
    assert!(one.contains(&"ts,symbol,price,bid".to_owned()));
    // The trade at 10 000 ms on S0 meets S0's quote at 9 000 ms (i = 0),
    // not the one at 10 200 ms (i = 4).
    assert!(one.contains(&"10000,S0,100.5,90.25".to_owned()), "{one:?}");
    assert_eq!(run("0-1", "7"), one);
    assert_eq!(run("0-1", "1"), one);
}

#[test]
fn a_table_file_enriches_a_stream_with_its_latest_row_per_key() {
    let f = files("table");
    let sql = "CREATE TABLE instruments (symbol VARCHAR, sector VARCHAR, lot BIGINT, PRIMARY KEY (symbol));
SELECT t.symbol, COUNT(*) AS n, SUM(t.qty * i.lot) AS lots FROM trades t
JOIN instruments i ON t.symbol = i.symbol GROUP BY t.symbol EMIT FINAL";
    let ran = corestream(&[
        "run",
        "--sql",
        sql,
        "--input",
        &format!("trades={}", f.trades.str()),
        "--input",
        &format!("instruments={}", f.instruments.str()),
        "--cores",
        "0-1",
    ]);
    ran.assert_success();
    let rows = sorted_stdout(&ran.stdout);
    // 80 trades each; qty cycles 1..9 (S0 takes i = 0, 5, 10, ...).
    let qty = |s: u64| {
        (0..400u64)
            .filter(|i| i % 5 == s)
            .map(|i| 1 + i % 9)
            .sum::<u64>()
    };
    assert_eq!(
        rows,
        vec![
            format!("S0,80,{}", qty(0) * 200),
            format!("S1,80,{}", qty(1) * 75),
            format!("S2,80,{}", qty(2) * 10),
            "symbol,n,lots".to_owned(),
        ],
        "{}",
        ran.context()
    );
}

#[test]
fn explain_shows_each_input_its_partitioning_and_watermark() {
    let f = files("explain");
    let sql = "CREATE STREAM trades (ts BIGINT, symbol VARCHAR, price DOUBLE, qty BIGINT) WITH (event_time = 'ts', watermark = '1s', idle_timeout = '5s');
CREATE TABLE instruments (symbol VARCHAR, sector VARCHAR, lot BIGINT, PRIMARY KEY (symbol));
SELECT i.sector, COUNT(*) AS n FROM trades t JOIN instruments i ON t.symbol = i.symbol GROUP BY t.symbol, i.sector";
    let ran = corestream(&[
        "explain",
        "--sql",
        sql,
        "--input",
        &format!("trades={}", f.trades.str()),
        "--input",
        &format!("instruments={}", f.instruments.str()),
    ]);
    ran.assert_success();
    for line in [
        "  1. trades (stream)",
        "     watermark: event time column ts, max out-of-orderness 1s, allowed lateness 0s",
        "     idle timeout: 5s",
        "  2. instruments (table, primary key (symbol))",
        "  instruments is read completely before any trades row is joined",
        "  1. lookup join (inner): each trades row meets instruments's current row on trades.symbol = instruments.symbol",
    ] {
        assert!(
            ran.stdout.lines().any(|l| l.starts_with(line)),
            "explain lacks {line:?}\n{}",
            ran.stdout
        );
    }
}

#[test]
fn inputs_that_do_not_add_up_are_refused_before_anything_runs() {
    let f = files("refused");
    let trades = format!("trades={}", f.trades.str());
    let quotes = format!("quotes={}", f.quotes.str());
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "run", "--sql", QUERY, "--input", &trades, "--input", &quotes,
            ],
            "instruments is declared but no input gives it",
        ),
        (
            &[
                "run",
                "--sql",
                "SELECT * FROM trades",
                "--input",
                &trades,
                "--input",
                &quotes,
            ],
            "--input quotes=... is not used by the query",
        ),
        (
            &[
                "run",
                "--sql",
                "SELECT * FROM trades",
                "--input",
                &trades,
                "--input",
                f.quotes.str(),
            ],
            "name each one as NAME=SPEC",
        ),
    ];
    for (args, message) in cases {
        let ran = corestream(args);
        assert_eq!(ran.code, Some(2), "{}", ran.context());
        assert!(ran.stderr.contains(message), "{}", ran.context());
        assert!(ran.stdout.is_empty(), "{}", ran.context());
    }
}
