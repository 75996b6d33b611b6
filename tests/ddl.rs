//! `CREATE STREAM` declarations: columns, event time and watermark declared
//! in SQL mean what the flags mean; a declaration that does not fit is an
//! error naming what and where.

mod common;

use common::{core_set, sorted_rows, Cell};
use corestream::io::sink::OutputSpec;
use corestream::runtime::router::Batching;
use corestream::{Engine, EngineBuilder};
use std::process::Command;
use std::time::Duration;

const TRADES: &str = "CREATE STREAM trades (event_time BIGINT, trader_id VARCHAR, symbol VARCHAR, \
                      price DOUBLE, quantity BIGINT)";
const WINDOWED: &str =
    "SELECT symbol, window_start, COUNT(*) AS n, SUM(quantity) AS q FROM trades \
                        GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' SECOND)";
/// Jitter puts records up to 300 ms out of order.
const INPUT: &str = "gen:trades?records=20000&traders=5&symbols=4&seed=3&jitter=300";

fn builder(sql: &str) -> EngineBuilder {
    Engine::builder()
        .sql(sql)
        .input(INPUT)
        .cores(core_set("0-1"))
        .batching(Batching {
            batch_size: 64,
            linger: Duration::from_millis(1),
        })
        .output(OutputSpec::Collect)
}

#[test]
fn declared_event_time_and_watermark_mean_what_the_flags_mean() {
    let ddl = format!(
        "{TRADES} WITH (event_time = 'event_time', watermark = '100ms', allowed_lateness = '50ms'); {WINDOWED}"
    );
    let declared = builder(&ddl).build().unwrap().run().unwrap();
    let flagged = builder(WINDOWED)
        .event_time("event_time")
        .max_out_of_orderness(Duration::from_millis(100))
        .allowed_lateness(Duration::from_millis(50))
        .build()
        .unwrap()
        .run()
        .unwrap();
    let (d, f) = (declared.summary.total(), flagged.summary.total());
    assert!(
        d.late > 0,
        "the jitter exceeds the bound, so some records are late"
    );
    assert_eq!((d.late, d.processed), (f.late, f.processed));
    assert_eq!(sorted_rows(&declared), sorted_rows(&flagged));
    assert!(!sorted_rows(&declared).is_empty());
}

#[test]
fn a_flag_given_explicitly_wins_over_the_declaration() {
    let ddl = format!("{TRADES} WITH (event_time = 'event_time', watermark = '0s'); {WINDOWED}");
    let strict = builder(&ddl).build().unwrap().run().unwrap();
    let relaxed = builder(&ddl)
        .max_out_of_orderness(Duration::from_secs(1))
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert!(strict.summary.total().late > 0);
    assert_eq!(
        relaxed.summary.total().late,
        0,
        "1 s covers the 300 ms jitter"
    );
}

#[test]
fn a_declared_schema_types_a_headerless_file() {
    let dir = std::env::temp_dir().join(format!("corestream-ddl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("measurements.txt");
    std::fs::write(&path, "Oslo;-3.5\nLima;18.25\nOslo;1\nLima;20\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_corestream"))
        .args([
            "run",
            "--input",
            path.to_str().unwrap(),
            "--no-header",
            "--delimiter",
            ";",
            "--cores",
            "0",
            "--sql",
            "CREATE STREAM measurements (station VARCHAR, temperature DOUBLE); \
             SELECT station, MIN(temperature) AS lo, MAX(temperature) AS hi, COUNT(*) AS n \
             FROM measurements GROUP BY station EMIT FINAL",
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        ["Lima,18.25,20,2", "Oslo,-3.5,1,2", "station,lo,hi,n"]
    );
}

#[test]
fn a_declaration_is_checked_against_the_input_and_the_query() {
    let cases: [(String, &str); 5] = [
        (
            format!("{TRADES} WITH (event_time = 'when'); {WINDOWED}"),
            "the event-time column `when` is not a declared column",
        ),
        (
            format!("{TRADES} WITH (watermark = 'soon'); {WINDOWED}"),
            "`soon` is not a duration",
        ),
        (
            format!("{TRADES} WITH (colour = 'red'); {WINDOWED}"),
            "unknown CREATE STREAM option `colour`",
        ),
        (
            format!("{TRADES} {WINDOWED}"),
            "a CREATE STREAM declaration ends with `;`",
        ),
        (
            "CREATE STREAM trades (event_time BIGINT, symbol VARCHAR); SELECT symbol FROM trades"
                .to_owned(),
            "CREATE STREAM trades declares (event_time BIGINT, symbol VARCHAR) but the input",
        ),
    ];
    for (sql, message) in cases {
        let err = match builder(&sql).build() {
            Ok(_) => panic!("`{sql}` should be refused"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(message), "`{sql}`:\n{err}");
    }
    let err = match builder(&format!("{TRADES}; SELECT symbol FROM quotes")).build() {
        Ok(_) => panic!("FROM must name the declared stream"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("quotes"), "{err}");
}

#[test]
fn a_declared_stream_without_options_plans_like_an_undeclared_one() {
    let out = builder(&format!(
        "{TRADES}; SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol EMIT FINAL"
    ))
    .build()
    .unwrap()
    .run()
    .unwrap();
    let rows = sorted_rows(&out);
    assert_eq!(rows.len(), 4);
    let total: i64 = rows
        .iter()
        .map(|r| match r[1] {
            Cell::Int(n) => n,
            _ => panic!("{r:?}"),
        })
        .sum();
    assert_eq!(total, 20_000);
}
