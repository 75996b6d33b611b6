//! Every Nexmark query of `benches/nexmark` against a reference: each query
//! file runs through the library over `gen:nexmark` (20 000 events at 1 000
//! events/s of event time, so 20 s: two 10 s windows, sessions that end, and
//! the 10 s join bounds reached) on 1 and 2 shards and at a small batch
//! size, every configuration giving exactly the same rows, and those rows
//! must be SQLite's for a hand-written equivalent over the same events
//! (windows as integer arithmetic on epoch ms), or, where SQLite cannot say
//! it (REGEXP_EXTRACT, SPLIT_INDEX), a reference computed in plain Rust.
//! EMIT CHANGES queries (q15-q17) compare each group's last row, its final
//! values, with SQLite's GROUP BY; the others all rows, as a multiset.

mod support;

use corestream::data::Value;
use corestream::io::nexmark::{NexmarkOptions, NexmarkSource, Stream};
use corestream::io::sink::OutputSpec;
use corestream::io::source::{Poll, Source};
use corestream::runtime::router::Batching;
use corestream::{Engine, RunOutput};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;
use support::*;

const OPTIONS: &str = "events=20000&seed=5&event_rate=1000";

/// (cores, rows per batch): 1 shard, 2 shards, 2 shards with tiny batches.
const CONFIGS: &[(&str, usize)] = &[("0", 4096), ("0-1", 4096), ("0-1", 7)];

/// The generator's rows of the three streams, in order.
struct Events {
    person: Vec<Vec<Value>>,
    auction: Vec<Vec<Value>>,
    bid: Vec<Vec<Value>>,
}

fn events() -> &'static Events {
    static EVENTS: OnceLock<Events> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let options = NexmarkOptions::parse(OPTIONS).unwrap();
        let generate = |stream| {
            let mut source = NexmarkSource::new(stream, options.clone());
            let mut rows = Vec::new();
            while let Poll::Batch(b) = source.poll(1000, None).unwrap() {
                rows.extend((0..b.len).map(|r| b.columns.iter().map(|c| c.value(r)).collect()));
            }
            rows
        };
        Events {
            person: generate(Stream::Person),
            auction: generate(Stream::Auction),
            bid: generate(Stream::Bid),
        }
    })
}

/// SQLite with tables `person`, `auction` and `bid` holding the events,
/// times as INTEGER epoch ms, `side_input` q13's 10,000 rows (key, `v` and
/// the key), and `hop(k)` holding 0..5 for HOP windows.
fn sqlite() -> rusqlite::Connection {
    let mut db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE TABLE person (id INTEGER, name TEXT, emailAddress TEXT, creditCard TEXT, \
           city TEXT, state TEXT, dateTime INTEGER, extra TEXT);
         CREATE TABLE auction (id INTEGER, itemName TEXT, description TEXT, initialBid INTEGER, \
           reserve INTEGER, dateTime INTEGER, expires INTEGER, seller INTEGER, category INTEGER, \
           extra TEXT);
         CREATE TABLE bid (auction INTEGER, bidder INTEGER, price INTEGER, channel TEXT, \
           url TEXT, dateTime INTEGER, extra TEXT);
         CREATE TABLE hop (k INTEGER);
         INSERT INTO hop VALUES (0), (1), (2), (3), (4);
         CREATE TABLE side_input (key INTEGER, value TEXT);
         WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < 9999) \
         INSERT INTO side_input SELECT k, 'v' || k FROM n;",
    )
    .unwrap();
    let e = events();
    let tx = db.transaction().unwrap();
    for (table, rows) in [
        ("person", &e.person),
        ("auction", &e.auction),
        ("bid", &e.bid),
    ] {
        let marks = vec!["?"; rows[0].len()].join(", ");
        let mut insert = tx
            .prepare(&format!("INSERT INTO {table} VALUES ({marks})"))
            .unwrap();
        for row in rows {
            let params = row.iter().map(|v| match v {
                Value::Null => rusqlite::types::Value::Null,
                Value::Int64(i) | Value::Timestamp(i) => rusqlite::types::Value::Integer(*i),
                Value::Utf8(s) => rusqlite::types::Value::Text(s.clone()),
                other => panic!("no {other:?} in the generator's rows"),
            });
            insert.execute(rusqlite::params_from_iter(params)).unwrap();
        }
    }
    tx.commit().unwrap();
    db
}

fn query_text(name: &str) -> String {
    let path = format!("{}/benches/nexmark/{name}.sql", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn run(text: &str, cores: &str, batch_size: usize) -> RunOutput {
    Engine::builder()
        .sql(text)
        .input(format!("gen:nexmark?{OPTIONS}"))
        .cores(core_set(cores))
        .output(OutputSpec::Collect)
        .batching(Batching {
            batch_size,
            linger: Duration::from_millis(5),
        })
        .build()
        .unwrap_or_else(|e| panic!("building failed: {e}"))
        .run()
        .unwrap_or_else(|e| panic!("running ({cores}, {batch_size}) failed: {e}"))
}

/// Each group's last row (the group is the first `key` columns), sorted: the
/// final values of an EMIT CHANGES query. A group lives on one shard, whose
/// rows are collected in the order they were emitted.
fn last_rows(out: &RunOutput, key: usize) -> Vec<Row> {
    let mut last: HashMap<String, Row> = HashMap::new();
    for b in out.collected.iter().flatten() {
        for i in 0..b.len {
            let row: Row = b.columns.iter().map(|c| Cell::from(c.value(i))).collect();
            last.insert(format!("{:?}", &row[..key]), row);
        }
    }
    let mut rows: Vec<Row> = last.into_values().collect();
    sort_rows(&mut rows);
    rows
}

/// How a query's rows are compared with the reference.
#[derive(Clone, Copy)]
enum Compare {
    /// All rows, as a multiset; floats within this relative tolerance.
    All(f64),
    /// EMIT CHANGES: the last row of each group of the first `n` columns.
    LastPerKey(usize, f64),
}

/// Runs query `name` in every configuration: each must give exactly the
/// first's rows, and those must be `want` (non-empty).
fn check(name: &str, want: Vec<Row>, compare: Compare) {
    assert!(!want.is_empty(), "{name}: the reference has no rows");
    let text = query_text(name);
    let mut first: Option<Vec<Row>> = None;
    for &(cores, batch_size) in CONFIGS {
        let out = run(&text, cores, batch_size);
        let config = format!("{name} on cores {cores}, batches of {batch_size}");
        assert!(
            out.summary.identity_holds(),
            "{config}:\n{}",
            out.summary.render()
        );
        assert_eq!(out.summary.total().late, 0, "{config}: late rows");
        let all = result_rows(&out);
        match &first {
            None => first = Some(all),
            Some(first) => {
                if let Err(e) = compare_rows(&all, first, 0.0) {
                    panic!("{config} differs from the first configuration: {e}");
                }
            }
        }
        let (got, rel) = match compare {
            Compare::All(rel) => (result_rows(&out), rel),
            Compare::LastPerKey(n, rel) => (last_rows(&out, n), rel),
        };
        if let Err(e) = compare_rows(&got, &want, rel) {
            panic!("{config} differs from the reference: {e}");
        }
    }
}

/// Checks query `name` against SQLite's rows for `sql`.
fn check_sqlite(name: &str, sql: &str, compare: Compare) {
    check(name, sqlite_rows(&sqlite(), sql), compare);
}

const EXACT: Compare = Compare::All(0.0);
const FLOAT: Compare = Compare::All(1e-9);

#[test]
fn q0_pass_through() {
    check_sqlite(
        "q0",
        "SELECT auction, bidder, price, dateTime, extra FROM bid",
        EXACT,
    );
}

#[test]
fn q1_currency_conversion() {
    check_sqlite(
        "q1",
        "SELECT auction, bidder, 0.908 * price, dateTime, extra FROM bid",
        FLOAT,
    );
}

#[test]
fn q2_selection() {
    check_sqlite(
        "q2",
        "SELECT auction, price FROM bid WHERE auction % 123 = 0",
        EXACT,
    );
}

#[test]
fn q3_local_item_suggestion() {
    check_sqlite(
        "q3",
        "SELECT P.name, P.city, P.state, A.id FROM auction A JOIN person P ON A.seller = P.id \
         WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')",
        EXACT,
    );
}

/// The bids of each auction within its life and 10 s of its start (q4, q9).
const WINNING: &str = "SELECT A.*, B.auction, B.bidder, B.price, B.dateTime AS bid_dateTime, \
     B.extra AS bid_extra FROM auction A JOIN bid B ON A.id = B.auction \
     WHERE B.dateTime BETWEEN A.dateTime AND A.expires AND B.dateTime <= A.dateTime + 10000";

#[test]
fn q4_average_price_per_category() {
    check_sqlite(
        "q4",
        &format!(
            "SELECT category, CAST(AVG(final) AS INTEGER) FROM \
             (SELECT MAX(price) AS final, category FROM ({WINNING}) GROUP BY id, category) \
             GROUP BY category"
        ),
        EXACT,
    );
}

#[test]
fn q5_hot_items() {
    check_sqlite(
        "q5",
        "WITH c AS (SELECT b.auction, (b.dateTime / 2000) * 2000 - hop.k * 2000 AS ws, \
                      COUNT(*) AS num FROM bid b, hop GROUP BY 1, 2), \
              m AS (SELECT ws, MAX(num) AS maxn FROM c GROUP BY ws) \
         SELECT c.auction, c.num FROM c JOIN m ON c.ws = m.ws AND c.num >= m.maxn",
        EXACT,
    );
}

/// Each auction's winning bid (q4's bids, the highest, the earliest of
/// equal ones), for q6.
const WINNERS: &str = "SELECT id, seller, price, dateTime FROM \
     (SELECT A.id, A.seller, B.price, B.dateTime, ROW_NUMBER() OVER \
        (PARTITION BY A.id, A.seller ORDER BY B.price DESC, B.dateTime) AS rownum \
      FROM auction A JOIN bid B ON A.id = B.auction \
      WHERE B.dateTime BETWEEN A.dateTime AND A.expires AND B.dateTime <= A.dateTime + 10000) \
     WHERE rownum = 1";

#[test]
fn q6_average_selling_price_by_seller() {
    // The row window sorts by dateTime, ties by the whole row.
    check_sqlite(
        "q6",
        &format!(
            "SELECT seller, CAST(AVG(price) OVER (PARTITION BY seller \
               ORDER BY dateTime, id, seller, price ROWS BETWEEN 10 PRECEDING AND CURRENT ROW) \
               AS INTEGER) FROM ({WINNERS})"
        ),
        EXACT,
    );
}

#[test]
fn q7_highest_bid() {
    check_sqlite(
        "q7",
        "SELECT b.auction, b.price, b.bidder, b.dateTime, b.extra FROM bid b \
         JOIN (SELECT MAX(price) AS maxprice, (dateTime / 10000) * 10000 + 10000 AS we \
               FROM bid GROUP BY dateTime / 10000) m \
         ON b.price = m.maxprice WHERE b.dateTime BETWEEN m.we - 10001 AND m.we - 1",
        EXACT,
    );
}

#[test]
fn q8_new_users() {
    check_sqlite(
        "q8",
        "SELECT P.id, P.name, P.ws FROM \
         (SELECT DISTINCT id, name, dateTime / 10000 * 10000 AS ws FROM person) P \
         JOIN (SELECT DISTINCT seller, dateTime / 10000 * 10000 AS ws FROM auction) A \
         ON P.id = A.seller AND P.ws = A.ws",
        EXACT,
    );
}

#[test]
fn q9_winning_bids() {
    check_sqlite(
        "q9",
        &format!(
            "SELECT id, itemName, description, initialBid, reserve, dateTime, expires, seller, \
               category, extra, auction, bidder, price, bid_dateTime, bid_extra FROM \
             (SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY price DESC, bid_dateTime) \
                AS rownum FROM ({WINNING})) WHERE rownum <= 1"
        ),
        EXACT,
    );
}

#[test]
fn q13_bounded_side_input_join() {
    check_sqlite(
        "q13",
        "SELECT B.auction, B.bidder, B.price, B.dateTime, S.value FROM bid B \
         JOIN side_input S ON B.auction % 10000 = S.key",
        EXACT,
    );
}

/// `DATE_FORMAT(dateTime, f)` in SQLite, for a strftime format `f`.
fn date_format(f: &str) -> String {
    format!("strftime('{f}', dateTime / 1000, 'unixepoch')")
}

#[test]
fn q10_log_to_file_system() {
    check_sqlite(
        "q10",
        &format!(
            "SELECT auction, bidder, price, dateTime, extra, {}, {} FROM bid",
            date_format("%Y-%m-%d"),
            date_format("%H:%M")
        ),
        EXACT,
    );
}

#[test]
fn q11_user_sessions() {
    // A bid within 10 s (exclusive) of its bidder's previous one is in its
    // session; a session ends 10 s after its last bid.
    check_sqlite(
        "q11",
        "WITH o AS (SELECT bidder, dateTime, CASE WHEN dateTime - LAG(dateTime) OVER \
                      (PARTITION BY bidder ORDER BY dateTime) < 10000 THEN 0 ELSE 1 END AS new \
                    FROM bid), \
              s AS (SELECT bidder, dateTime, SUM(new) OVER (PARTITION BY bidder ORDER BY dateTime \
                      ROWS UNBOUNDED PRECEDING) AS session FROM o) \
         SELECT bidder, COUNT(*), MIN(dateTime), MAX(dateTime) + 10000 FROM s \
         GROUP BY bidder, session",
        EXACT,
    );
}

#[test]
fn q12_tumbling_windows_per_bidder() {
    check_sqlite(
        "q12",
        "SELECT bidder, COUNT(*), dateTime / 10000 * 10000, dateTime / 10000 * 10000 + 10000 \
         FROM bid GROUP BY bidder, dateTime / 10000",
        EXACT,
    );
}

#[test]
fn q14_calculation() {
    let hour = format!("CAST({} AS INTEGER)", date_format("%H"));
    check_sqlite(
        "q14",
        &format!(
            "SELECT auction, bidder, 0.908 * price, \
               CASE WHEN {hour} >= 8 AND {hour} <= 18 THEN 'dayTime' \
                    WHEN {hour} <= 6 OR {hour} >= 20 THEN 'nightTime' ELSE 'otherTime' END, \
               dateTime, extra, length(extra) - length(replace(extra, 'c', '')) \
             FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000"
        ),
        FLOAT,
    );
}

/// The rank columns of q15-q17: bids, then (if `distinct`) bidders and
/// auctions, in all and in each of the three price ranks.
fn ranks(distinct: bool) -> String {
    let ranks = [
        "price < 10000",
        "price >= 10000 AND price < 1000000",
        "price >= 1000000",
    ];
    let mut cols = vec!["COUNT(*)".to_owned()];
    cols.extend(
        ranks
            .iter()
            .map(|r| format!("COUNT(CASE WHEN {r} THEN 1 END)")),
    );
    if distinct {
        for c in ["bidder", "auction"] {
            cols.push(format!("COUNT(DISTINCT {c})"));
            cols.extend(
                ranks
                    .iter()
                    .map(|r| format!("COUNT(DISTINCT CASE WHEN {r} THEN {c} END)")),
            );
        }
    }
    cols.join(", ")
}

#[test]
fn q15_bidding_statistics_per_day() {
    check_sqlite(
        "q15",
        &format!(
            "SELECT {day}, {} FROM bid GROUP BY 1",
            ranks(true),
            day = date_format("%Y-%m-%d")
        ),
        Compare::LastPerKey(1, 0.0),
    );
}

#[test]
fn q16_channel_statistics_per_day() {
    check_sqlite(
        "q16",
        &format!(
            "SELECT channel, {day}, MAX({}), {} FROM bid GROUP BY 1, 2",
            date_format("%H:%M"),
            ranks(true),
            day = date_format("%Y-%m-%d")
        ),
        Compare::LastPerKey(2, 0.0),
    );
}

#[test]
fn q17_auction_statistics_per_day() {
    check_sqlite(
        "q17",
        &format!(
            "SELECT auction, {day}, {}, MIN(price), MAX(price), AVG(price), SUM(price) \
             FROM bid GROUP BY 1, 2",
            ranks(false),
            day = date_format("%Y-%m-%d")
        ),
        Compare::LastPerKey(2, 1e-9),
    );
}

#[test]
fn q18_last_bid_per_bidder_and_auction() {
    check_sqlite(
        "q18",
        "SELECT auction, bidder, price, channel, url, dateTime, extra FROM \
         (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC) AS rn \
          FROM bid) WHERE rn <= 1",
        EXACT,
    );
}

#[test]
fn q19_top_10_bids_per_auction() {
    // Ties on price are ranked by the rows' values, in column order
    // (docs/dataflow.md, Top-N), so the top 10 never depend on arrival.
    check_sqlite(
        "q19",
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER \
           (PARTITION BY auction ORDER BY price DESC, auction, bidder, price, channel, url, \
             dateTime, extra) AS rn FROM bid) WHERE rn <= 10",
        EXACT,
    );
}

#[test]
fn q20_bids_with_their_auction() {
    check_sqlite(
        "q20",
        "SELECT B.auction, B.bidder, B.price, B.channel, B.url, B.dateTime, B.extra, \
           A.itemName, A.description, A.initialBid, A.reserve, A.dateTime, A.expires, A.seller, \
           A.category, A.extra \
         FROM bid B JOIN auction A ON B.auction = A.id WHERE A.category = 10",
        EXACT,
    );
}

fn text(v: &Value) -> &str {
    match v {
        Value::Utf8(s) => s,
        other => panic!("expected a string, found {other:?}"),
    }
}

/// `auction, bidder, price, channel` of a bid row, then `more`.
fn bid_row(b: &[Value], more: impl IntoIterator<Item = Option<String>>) -> Row {
    b[..4]
        .iter()
        .map(|v| Cell::from(v.clone()))
        .chain(more.into_iter().map(|s| s.map_or(Cell::Null, Cell::Str)))
        .collect()
}

#[test]
fn q21_channel_id() {
    // REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2): the value of the
    // first `channel_id=` at the start or after a `&`.
    let channel_id = |url: &str| {
        url.match_indices("channel_id=")
            .find(|&(i, _)| i == 0 || url.as_bytes()[i - 1] == b'&')
            .map(|(i, m)| {
                let rest = &url[i + m.len()..];
                rest[..rest.find('&').unwrap_or(rest.len())].to_owned()
            })
    };
    let hot = ["apple", "google", "facebook", "baidu"];
    let mut want: Vec<Row> = events()
        .bid
        .iter()
        .filter_map(|b| {
            let lower = text(&b[3]).to_lowercase();
            let id = match hot.iter().position(|&h| h == lower) {
                Some(i) => Some(i.to_string()),
                None => Some(channel_id(text(&b[4]))?),
            };
            Some(bid_row(b, [id]))
        })
        .collect();
    sort_rows(&mut want);
    check("q21", want, EXACT);
}

#[test]
fn q22_url_directories() {
    // SPLIT_INDEX(url, '/', i): the i-th (from 0) piece, NULL past the last.
    let mut want: Vec<Row> = events()
        .bid
        .iter()
        .map(|b| {
            let pieces: Vec<&str> = text(&b[4]).split('/').collect();
            bid_row(b, (3..6).map(|i| pieces.get(i).map(|s| s.to_string())))
        })
        .collect();
    sort_rows(&mut want);
    check("q22", want, EXACT);
}
