//! The Flink functions and the aggregate FILTER the Nexmark queries use,
//! through the public API: DATE_FORMAT, HOUR, MINUTE, SPLIT_INDEX,
//! REGEXP_EXTRACT and REPLACE in the select list, WHERE, GROUP BY and CASE,
//! then Nexmark q14, q15, q16, q21 and q22 over a small table of bids (an
//! empty CSV field is NULL), and the planning errors with their places.

mod common;

use common::{core_set, sorted_rows, Cell};
use corestream::data::Value;
use corestream::io::generator::trades_schema;
use corestream::io::sink::OutputSpec;
use corestream::sql::{parse, plan_query};
use corestream::{Engine, RunOutput, SqlError, SqlErrorKind};
use std::path::PathBuf;
use std::process::Command;

/// Bids, Nexmark's columns; a NULL in `bidder`, `url`, `date_time` and `extra`.
const BIDS: &str = "\
auction,bidder,price,channel,url,date_time,extra
1001,10,500,Google,https://www.nexmark.com/abc/item.htm?query=1&channel_id=7,2024-02-29T13:05:07.045Z,cocoa
1001,11,15000,Apple,https://www.nexmark.com/xyz/item.htm?channel_id=12&x=1,2024-02-29T23:59:59.999Z,ccc
1002,10,2000000,Baidu,,2024-03-01T00:00:00Z,
1002,,12000,Facebook,https://www.nexmark.com/abc/item.htm?query=2,,abc
1003,12,9000,channel-7,https://www.nexmark.com/q/item.htm?a=1&channel_id=99,2024-03-01T06:30:00Z,c
";

/// The bids in a CSV file, removed when dropped.
struct BidsFile(PathBuf);

impl BidsFile {
    fn new(tag: &str) -> BidsFile {
        let path = std::env::temp_dir().join(format!(
            "corestream-sql-functions-{}-{tag}.csv",
            std::process::id()
        ));
        std::fs::write(&path, BIDS).expect("the temp dir is writable");
        BidsFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for BidsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run_bids(tag: &str, sql: &str) -> RunOutput {
    let file = BidsFile::new(tag);
    Engine::builder()
        .sql(sql)
        .input(file.path())
        .cores(core_set("0"))
        .output(OutputSpec::Collect)
        .build()
        .unwrap_or_else(|e| panic!("building `{sql}` failed: {e}"))
        .run()
        .unwrap_or_else(|e| panic!("running `{sql}` failed: {e}"))
}

fn text(v: Value) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        other => other.to_string(),
    }
}

/// The rows of `sql` over [`BIDS`] on one shard (so in input order), as text.
fn query(tag: &str, sql: &str) -> Vec<Vec<String>> {
    run_bids(tag, sql)
        .collected
        .iter()
        .flatten()
        .flat_map(|b| {
            (0..b.len)
                .map(|i| b.columns.iter().map(|c| text(c.value(i))).collect())
                .collect::<Vec<Vec<String>>>()
        })
        .collect()
}

/// Rows of text, for comparing with [`query`]'s.
fn rows<const N: usize>(rows: &[[&str; N]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn date_format_hour_and_minute() {
    assert_eq!(
        query(
            "date-format",
            "SELECT DATE_FORMAT(date_time, 'yyyy-MM-dd'), DATE_FORMAT(date_time, 'HH:mm'), \
             DATE_FORMAT(date_time, 'yyyy-MM-dd''T''HH:mm:ss.SSS'), HOUR(date_time), \
             MINUTE(date_time) FROM bid"
        ),
        rows(&[
            ["2024-02-29", "13:05", "2024-02-29T13:05:07.045", "13", "5"],
            ["2024-02-29", "23:59", "2024-02-29T23:59:59.999", "23", "59"],
            ["2024-03-01", "00:00", "2024-03-01T00:00:00.000", "0", "0"],
            ["NULL", "NULL", "NULL", "NULL", "NULL"],
            ["2024-03-01", "06:30", "2024-03-01T06:30:00.000", "6", "30"],
        ])
    );
    // BIGINT epoch milliseconds too (1001 * 10^9 ms is 2001-09-20T15:33:20Z).
    assert_eq!(
        query(
            "date-format-ms",
            "SELECT DATE_FORMAT(auction * 1000000000, 'yy/M/d H:m'), HOUR(auction * 1000000000) \
             FROM bid WHERE bidder = 10"
        ),
        rows(&[["01/9/20 15:33", "15"], ["01/10/2 5:20", "5"]])
    );
}

#[test]
fn split_index_regexp_extract_and_replace() {
    assert_eq!(
        query(
            "split-index",
            "SELECT SPLIT_INDEX(url, '/', 3), SPLIT_INDEX(url, '/', 5), \
             SPLIT_INDEX(channel, '-', bidder - 11), SPLIT_INDEX(extra, 'o', 1) FROM bid"
        ),
        rows(&[
            ["abc", "NULL", "NULL", "c"],
            ["xyz", "NULL", "Apple", "NULL"],
            ["NULL", "NULL", "NULL", "NULL"],
            ["abc", "NULL", "NULL", "NULL"],
            ["q", "NULL", "7", "NULL"],
        ])
    );
    // The regex is the literal's text: `\d` reaches the regex as written.
    assert_eq!(
        query(
            "regexp-extract",
            "SELECT REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2), \
             REGEXP_EXTRACT(url, 'query=(\\d+)', 1), REGEXP_EXTRACT(channel, '[a-z]+'), \
             REGEXP_EXTRACT(channel, '^(C|B)?([a-z]+)', 1) FROM bid"
        ),
        rows(&[
            ["7", "1", "oogle", "NULL"],
            ["NULL", "NULL", "pple", "NULL"],
            ["NULL", "NULL", "aidu", "B"],
            ["NULL", "2", "acebook", "NULL"],
            ["99", "NULL", "channel", "NULL"],
        ])
    );
    // Nexmark q14's count_char UDF, spelled with REPLACE.
    assert_eq!(
        query(
            "replace",
            "SELECT REPLACE(extra, 'c', ''), CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')), \
             REPLACE(channel, 'o', '0') FROM bid"
        ),
        rows(&[
            ["ooa", "2", "G00gle"],
            ["", "3", "Apple"],
            ["NULL", "NULL", "Baidu"],
            ["ab", "1", "Faceb00k"],
            ["", "1", "channel-7"],
        ])
    );
}

#[test]
fn the_functions_work_in_where_group_by_and_case() {
    assert_eq!(
        query(
            "where",
            "SELECT bidder FROM bid WHERE DATE_FORMAT(date_time, 'HH:mm') >= '13:00' \
             AND REGEXP_EXTRACT(url, 'item') IS NOT NULL"
        ),
        rows(&[["10"], ["11"]])
    );
    assert_eq!(
        query(
            "case",
            "SELECT CASE WHEN HOUR(date_time) < 12 THEN 'am' \
             WHEN MINUTE(date_time) >= 0 THEN SPLIT_INDEX(url, '/', 3) ELSE 'no time' END FROM bid"
        ),
        rows(&[["abc"], ["xyz"], ["am"], ["no time"], ["am"]])
    );
    let out = run_bids(
        "group-by",
        "SELECT DATE_FORMAT(date_time, 'yyyy-MM-dd') AS day, COUNT(*) AS n, SUM(price) AS total \
         FROM bid GROUP BY DATE_FORMAT(date_time, 'yyyy-MM-dd') EMIT FINAL",
    );
    let day = |s: &str| Cell::Str(s.into());
    assert_eq!(
        sorted_rows(&out),
        [
            vec![Cell::Null, Cell::Int(1), Cell::Int(12000)],
            vec![day("2024-02-29"), Cell::Int(2), Cell::Int(15500)],
            vec![day("2024-03-01"), Cell::Int(2), Cell::Int(2009000)],
        ]
    );
    let out = run_bids(
        "group-by-split",
        "SELECT SPLIT_INDEX(url, '/', 3) AS dir, COUNT(*) AS n FROM bid \
         GROUP BY SPLIT_INDEX(url, '/', 3) EMIT FINAL",
    );
    assert_eq!(
        sorted_rows(&out),
        [
            vec![Cell::Null, Cell::Int(1)],
            vec![day("abc"), Cell::Int(2)],
            vec![day("q"), Cell::Int(1)],
            vec![day("xyz"), Cell::Int(1)],
        ]
    );
}

/// Nexmark q14: a projection with HOUR in CASE and a character count.
#[test]
fn nexmark_q14() {
    assert_eq!(
        query(
            "q14",
            "SELECT auction, bidder, \
               CASE WHEN HOUR(date_time) >= 8 AND HOUR(date_time) <= 18 THEN 'dayTime' \
                    WHEN HOUR(date_time) <= 6 OR HOUR(date_time) >= 20 THEN 'nightTime' \
                    ELSE 'otherTime' END AS bidTimeType, \
               CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')) AS c_counts \
             FROM bid WHERE 0.908 * price > 1000 AND 0.908 * price < 50000000"
        ),
        rows(&[
            ["1001", "11", "nightTime", "3"],
            ["1002", "10", "nightTime", "NULL"],
            ["1002", "NULL", "otherTime", "1"],
            ["1003", "12", "nightTime", "1"],
        ])
    );
}

/// Nexmark q15: bids per day in three price ranges, with FILTER.
#[test]
fn nexmark_q15() {
    let out = run_bids(
        "q15",
        "SELECT DATE_FORMAT(date_time, 'yyyy-MM-dd') AS day, COUNT(*) AS total_bids, \
           COUNT(*) FILTER (WHERE price < 10000) AS rank1_bids, \
           COUNT(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids, \
           COUNT(*) FILTER (WHERE price >= 1000000) AS rank3_bids, \
           COUNT(DISTINCT bidder) AS total_bidders, \
           COUNT(DISTINCT bidder) FILTER (WHERE price < 10000) AS rank1_bidders, \
           COUNT(DISTINCT bidder) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bidders, \
           COUNT(DISTINCT auction) FILTER (WHERE price >= 1000000) AS rank3_auctions \
         FROM bid GROUP BY DATE_FORMAT(date_time, 'yyyy-MM-dd') EMIT FINAL",
    );
    let ints = |day: Cell, v: [i64; 8]| {
        let mut row = vec![day];
        row.extend(v.map(Cell::Int));
        row
    };
    assert_eq!(
        sorted_rows(&out),
        [
            ints(Cell::Null, [1, 0, 1, 0, 0, 0, 0, 0]),
            ints(Cell::Str("2024-02-29".into()), [2, 1, 1, 0, 2, 1, 1, 0]),
            ints(Cell::Str("2024-03-01".into()), [2, 1, 0, 1, 2, 1, 0, 1]),
        ]
    );
}

/// Nexmark q16: per channel and day, with an aggregate over DATE_FORMAT.
#[test]
fn nexmark_q16() {
    let out = run_bids(
        "q16",
        "SELECT channel, DATE_FORMAT(date_time, 'yyyy-MM-dd') AS day, \
           MAX(DATE_FORMAT(date_time, 'HH:mm')) AS minute, \
           COUNT(*) FILTER (WHERE price < 10000) AS rank1_bids, COUNT(DISTINCT bidder) AS bidders \
         FROM bid GROUP BY channel, DATE_FORMAT(date_time, 'yyyy-MM-dd') EMIT FINAL",
    );
    let s = |x: &str| Cell::Str(x.into());
    assert_eq!(
        sorted_rows(&out),
        [
            vec![
                s("Apple"),
                s("2024-02-29"),
                s("23:59"),
                Cell::Int(0),
                Cell::Int(1)
            ],
            vec![
                s("Baidu"),
                s("2024-03-01"),
                s("00:00"),
                Cell::Int(0),
                Cell::Int(1)
            ],
            vec![
                s("Facebook"),
                Cell::Null,
                Cell::Null,
                Cell::Int(0),
                Cell::Int(0)
            ],
            vec![
                s("Google"),
                s("2024-02-29"),
                s("13:05"),
                Cell::Int(1),
                Cell::Int(1)
            ],
            vec![
                s("channel-7"),
                s("2024-03-01"),
                s("06:30"),
                Cell::Int(1),
                Cell::Int(1)
            ],
        ]
    );
}

const Q21: &str = "SELECT auction, bidder, channel, \
  CASE WHEN LOWER(channel) = 'apple' THEN '0' WHEN LOWER(channel) = 'google' THEN '1' \
       WHEN LOWER(channel) = 'facebook' THEN '2' WHEN LOWER(channel) = 'baidu' THEN '3' \
       ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) END AS channel_id \
FROM bid WHERE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) IS NOT NULL \
  OR LOWER(channel) IN ('apple', 'google', 'facebook', 'baidu')";

/// Nexmark q21 (channel ids from a regex) and q22 (URL directories).
#[test]
fn nexmark_q21_and_q22() {
    assert_eq!(
        query("q21", Q21),
        rows(&[
            ["1001", "10", "Google", "1"],
            ["1001", "11", "Apple", "0"],
            ["1002", "10", "Baidu", "3"],
            ["1002", "NULL", "Facebook", "2"],
            ["1003", "12", "channel-7", "99"],
        ])
    );
    assert_eq!(
        query(
            "q22",
            "SELECT auction, SPLIT_INDEX(url, '/', 3) AS dir1, SPLIT_INDEX(url, '/', 4) AS dir2, \
             SPLIT_INDEX(url, '/', 5) AS dir3 FROM bid WHERE bidder <> 12"
        ),
        rows(&[
            ["1001", "abc", "item.htm?query=1&channel_id=7", "NULL"],
            ["1001", "xyz", "item.htm?channel_id=12&x=1", "NULL"],
            ["1002", "NULL", "NULL", "NULL"],
        ])
    );
}

/// The planning error of `sql` over the trades schema.
fn plan_error(sql: &str) -> SqlError {
    let parsed = parse(sql).unwrap_or_else(|e| panic!("`{sql}` does not parse: {e}"));
    match plan_query(&parsed, None, &trades_schema()) {
        Ok(_) => panic!("`{sql}` planned without error"),
        Err(e) => e,
    }
}

#[track_caller]
fn check_error(sql: &str, kind: SqlErrorKind, line: usize, column: usize, message: &str) {
    let e = plan_error(sql);
    assert_eq!(
        (e.kind, e.line, e.column),
        (kind, line, column),
        "{sql}\n{e}"
    );
    assert!(e.message.contains(message), "{e}");
}

#[test]
fn pattern_errors_point_inside_the_literal() {
    use SqlErrorKind::*;
    check_error(
        "SELECT DATE_FORMAT(event_time, 'yyyy-MM-dd hh:mm') FROM trades",
        Unsupported,
        1,
        44,
        "DATE_FORMAT pattern letter 'h' is not supported",
    );
    // Each quote of the pattern is two characters of the query.
    check_error(
        "SELECT symbol,\n  DATE_FORMAT(event_time, '''at'' HH:mm E') FROM trades",
        Unsupported,
        2,
        41,
        "'E' is not supported",
    );
    check_error(
        "SELECT DATE_FORMAT(event_time, 'dd MMM') FROM trades",
        Unsupported,
        1,
        36,
        "'M' takes one or two letters, found 3",
    );
    check_error(
        "SELECT DATE_FORMAT(event_time, 'HH ''oops') FROM trades",
        Unsupported,
        1,
        36,
        "unclosed quote",
    );
    check_error(
        "SELECT REGEXP_EXTRACT(symbol, 'a(b') FROM trades",
        Syntax,
        1,
        33,
        "invalid regex: unclosed group",
    );
    check_error(
        "SELECT REGEXP_EXTRACT(symbol, '(?<=a)b') FROM trades",
        Syntax,
        1,
        32,
        "look-around",
    );
}

#[test]
fn argument_errors_name_their_kind_and_place() {
    use SqlErrorKind::*;
    check_error(
        "SELECT REGEXP_EXTRACT(symbol, '(a)(b)', 3) FROM trades",
        TypeMismatch,
        1,
        41,
        "REGEXP_EXTRACT group 3 does not exist: the regex has groups 0 to 2",
    );
    check_error(
        "SELECT REGEXP_EXTRACT(symbol, trader_id) FROM trades",
        Unsupported,
        1,
        31,
        "REGEXP_EXTRACT needs its pattern as a string literal",
    );
    check_error(
        "SELECT DATE_FORMAT(symbol, 'yyyy') FROM trades",
        TypeMismatch,
        1,
        20,
        "DATE_FORMAT needs a TIMESTAMP",
    );
    check_error(
        "SELECT SPLIT_INDEX(symbol, '/') FROM trades",
        TypeMismatch,
        1,
        8,
        "SPLIT_INDEX takes 3 arguments, found 2",
    );
    check_error(
        "SELECT SPLIT_INDEX(symbol, '/', '1') FROM trades",
        TypeMismatch,
        1,
        33,
        "SPLIT_INDEX needs a BIGINT index, found VARCHAR",
    );
    check_error(
        "SELECT REPLACE(symbol, 'a', 1) FROM trades",
        TypeMismatch,
        1,
        29,
        "REPLACE needs VARCHAR, found BIGINT",
    );
    check_error(
        "SELECT HOUR(symbol) FROM trades",
        TypeMismatch,
        1,
        13,
        "HOUR needs a TIMESTAMP",
    );
}

#[test]
fn filter_errors_name_their_kind_and_place() {
    use SqlErrorKind::*;
    check_error(
        "SELECT symbol, COUNT(*) FILTER (WHERE price) FROM trades GROUP BY symbol",
        TypeMismatch,
        1,
        39,
        "COUNT's FILTER needs a BOOLEAN condition, found DOUBLE",
    );
    check_error(
        "SELECT symbol, SUM(price) FILTER (WHERE MAX(price) > 1) FROM trades GROUP BY symbol",
        Unsupported,
        1,
        41,
        "an aggregate's FILTER cannot hold an aggregate",
    );
    check_error(
        "SELECT SUM(price) FILTER (WHERE price > 1) OVER (PARTITION BY symbol) FROM trades",
        Unsupported,
        1,
        33,
        "FILTER is not supported in OVER",
    );
    check_error(
        "SELECT UPPER(symbol) FILTER (WHERE price > 1) FROM trades",
        Unsupported,
        1,
        8,
        "UPPER takes no clauses",
    );
}

fn cli(file: &BidsFile, sql: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_corestream"))
        .args(["run", "--quiet", "--input", file.path(), "--cores", "0"])
        .args(["--sql", sql])
        .output()
        .expect("the CLI runs")
}

#[test]
fn the_cli_runs_q21_and_shows_a_pattern_error_with_a_caret() {
    let file = BidsFile::new("cli");
    let out = cli(&file, Q21);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1003,12,channel-7,99\n"), "{stdout}");

    let out = cli(
        &file,
        "SELECT DATE_FORMAT(date_time, 'yyyy-MM-dd hh:mm') FROM bid",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unsupported SQL at line 1, column 43: DATE_FORMAT pattern letter 'h'"),
        "{stderr}"
    );
    let caret = format!(
        "1 | SELECT DATE_FORMAT(date_time, 'yyyy-MM-dd hh:mm') FROM bid\n  | {}^",
        " ".repeat(42)
    );
    assert!(stderr.contains(&caret), "{stderr}");
}
