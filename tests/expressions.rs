//! SQL expressions and scalar functions through the library API: each feature
//! parses, plans and runs over a small CSV file, and its exact results are
//! checked, NULLs included (an empty CSV field is NULL). The errors are checked
//! for kind, line and column.

mod common;

use common::*;
use corestream::data::{DataType, Value};
use corestream::io::generator::trades_schema;
use corestream::io::sink::OutputSpec;
use corestream::sql::{parse, plan_query};
use corestream::{Engine, RunOutput, SqlError, SqlErrorKind};
use std::path::PathBuf;
use std::process::Command;

/// The test input: every column has a NULL somewhere except `id`.
const ROWS: &str = "\
id,name,city,price,qty,ts
1,Apple,Oslo,10.5,3,2024-02-29T13:45:30.250Z
2,banana,,2.25,,2024-03-03T00:00:00Z
3,,Rome,,7,
4,Cherry pie,Oslo,-1.5,0,1969-12-31T23:59:59.999Z
";

/// A CSV file removed when dropped.
struct CsvFile(PathBuf);

impl CsvFile {
    fn new(tag: &str, contents: &str) -> CsvFile {
        let path = std::env::temp_dir().join(format!(
            "corestream-expressions-{}-{tag}.csv",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("the temp dir is writable");
        CsvFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for CsvFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run_csv(tag: &str, csv: &str, sql: &str, cores: &str) -> RunOutput {
    let file = CsvFile::new(tag, csv);
    Engine::builder()
        .sql(sql)
        .input(file.path())
        .cores(core_set(cores))
        .output(OutputSpec::Collect)
        .build()
        .unwrap_or_else(|e| panic!("building `{sql}` failed: {e}"))
        .run()
        .unwrap_or_else(|e| panic!("running `{sql}` failed: {e}"))
}

fn render(v: Value) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        other => other.to_string(),
    }
}

/// The rows of a one-shard run, in order, as text.
fn rows_of(out: &RunOutput) -> Vec<Vec<String>> {
    out.collected
        .iter()
        .flatten()
        .flat_map(|b| {
            (0..b.len)
                .map(|i| b.columns.iter().map(|c| render(c.value(i))).collect())
                .collect::<Vec<Vec<String>>>()
        })
        .collect()
}

/// The rows of `sql` over [`ROWS`] on one shard (so in input order), as text.
fn query(tag: &str, sql: &str) -> Vec<Vec<String>> {
    rows_of(&run_csv(tag, ROWS, sql, "0"))
}

/// The single result column of `sql` over [`ROWS`], one entry per row.
fn column(tag: &str, sql: &str) -> Vec<String> {
    query(tag, sql)
        .into_iter()
        .map(|mut r| {
            assert_eq!(r.len(), 1, "one column");
            r.remove(0)
        })
        .collect()
}

fn types(tag: &str, sql: &str) -> Vec<DataType> {
    let out = run_csv(tag, ROWS, sql, "0");
    out.schema.fields.iter().map(|f| f.data_type).collect()
}

/// WHERE keeps a row only when its predicate is TRUE: a NULL predicate drops
/// the row however the NULL's data slot would compare.
#[test]
fn where_drops_rows_whose_predicate_is_null() {
    let ids = |tag, sql| column(tag, sql);
    assert_eq!(
        ids("w1", "SELECT id FROM t WHERE price > -100"),
        ["1", "2", "4"]
    );
    assert_eq!(
        ids("w2", "SELECT id FROM t WHERE NOT (price > 100)"),
        ["1", "2", "4"]
    );
    assert_eq!(ids("w3", "SELECT id FROM t WHERE qty <= 3"), ["1", "4"]);
    assert_eq!(
        ids("w4", "SELECT id FROM t WHERE NOT (qty > 3)"),
        ["1", "4"]
    );
    assert_eq!(
        ids("w5", "SELECT id FROM t WHERE city <> 'Rome'"),
        ["1", "4"]
    );
    // A projection that computes, over the kept rows of two string columns.
    assert_eq!(
        query(
            "w6",
            "SELECT id, name, price * 2 FROM t WHERE price * 2 < 100"
        ),
        [
            ["1", "Apple", "21"],
            ["2", "banana", "4.5"],
            ["4", "Cherry pie", "-3"]
        ]
    );
}

#[test]
fn in_and_not_in_follow_sql_null_rules() {
    assert_eq!(
        column("in", "SELECT qty IN (3, 7) FROM t"),
        ["true", "NULL", "true", "false"]
    );
    // With a NULL in the list, a miss is NULL, not FALSE.
    assert_eq!(
        column("in-null", "SELECT qty IN (3, NULL) FROM t"),
        ["true", "NULL", "NULL", "NULL"]
    );
    assert_eq!(
        column("not-in", "SELECT qty NOT IN (3, 7) FROM t"),
        ["false", "NULL", "false", "true"]
    );
    assert_eq!(
        column("not-in-null", "SELECT qty NOT IN (3, NULL) FROM t"),
        ["false", "NULL", "NULL", "NULL"]
    );
    assert_eq!(
        column("in-str", "SELECT city IN ('Oslo', 'Paris') FROM t"),
        ["true", "NULL", "false", "true"]
    );
    // Mixed numeric types compare by value.
    assert_eq!(
        column("in-mixed", "SELECT price IN (10.5, 2) FROM t"),
        ["true", "false", "NULL", "false"]
    );
    assert_eq!(
        column("in-where", "SELECT id FROM t WHERE id IN (1, 3, 4)"),
        ["1", "3", "4"]
    );
}

#[test]
fn between_and_not_between() {
    assert_eq!(
        column("between", "SELECT price BETWEEN 0 AND 10.5 FROM t"),
        ["true", "true", "NULL", "false"]
    );
    assert_eq!(
        column("not-between", "SELECT qty NOT BETWEEN 1 AND 5 FROM t"),
        ["false", "NULL", "true", "true"]
    );
    assert_eq!(
        column("between-str", "SELECT name BETWEEN 'B' AND 'Z' FROM t"),
        ["false", "false", "NULL", "true"]
    );
    // A NULL bound: NULL unless the other bound already decides.
    assert_eq!(
        column("between-null", "SELECT id BETWEEN NULL AND 2 FROM t"),
        ["NULL", "NULL", "false", "false"]
    );
    assert_eq!(
        column("between-where", "SELECT id FROM t WHERE id BETWEEN 2 AND 3"),
        ["2", "3"]
    );
}

#[test]
fn like_ilike_and_escape() {
    assert_eq!(
        column("like", "SELECT name LIKE '%an%' FROM t"),
        ["false", "true", "NULL", "false"]
    );
    assert_eq!(
        column("like-underscore", "SELECT name LIKE '_pple' FROM t"),
        ["true", "false", "NULL", "false"]
    );
    assert_eq!(
        column("not-like", "SELECT name NOT LIKE 'C%' FROM t"),
        ["true", "true", "NULL", "false"]
    );
    assert_eq!(
        column("ilike", "SELECT name ILIKE 'a%' FROM t"),
        ["true", "false", "NULL", "false"]
    );
    assert_eq!(
        column(
            "like-where",
            "SELECT id FROM t WHERE name LIKE '%e' OR name ILIKE 'B%'"
        ),
        ["1", "2", "4"]
    );
    let csv = "code\n50%\n500\na_b\naxb\n";
    let out = run_csv(
        "escape",
        csv,
        "SELECT code, code LIKE '50\\%', code LIKE '50!%' ESCAPE '!', code LIKE 'a\\_b' FROM t",
        "0",
    );
    assert_eq!(
        rows_of(&out),
        [
            ["50%", "true", "true", "false"],
            ["500", "false", "false", "false"],
            ["a_b", "false", "false", "true"],
            ["axb", "false", "false", "false"],
        ]
    );
}

#[test]
fn case_in_both_forms_unifies_result_types() {
    assert_eq!(
        query(
            "case",
            "SELECT CASE WHEN price > 5 THEN 'high' WHEN price > 0 THEN 'low' ELSE 'none' END, \
             CASE city WHEN 'Oslo' THEN 1 WHEN 'Rome' THEN 2 END FROM t"
        ),
        [["high", "1"], ["low", "NULL"], ["none", "2"], ["none", "1"]]
    );
    // BIGINT and DECIMAL unify to DECIMAL; with DOUBLE, to DOUBLE; NULL takes
    // the other type.
    let sql = "SELECT CASE WHEN id = 1 THEN 1 ELSE 2.50 END, \
               CASE WHEN id = 1 THEN qty WHEN id = 2 THEN 0.5 ELSE price END, \
               CASE WHEN id = 1 THEN NULL ELSE name END FROM t";
    assert_eq!(
        types("case-types", sql),
        [
            DataType::Decimal {
                precision: 38,
                scale: 2
            },
            DataType::Float64,
            DataType::Utf8
        ]
    );
    assert_eq!(
        query("case-values", sql),
        [
            ["1.00", "3", "NULL"],
            ["2.50", "0.5", "banana"],
            ["2.50", "NULL", "NULL"],
            ["2.50", "-1.5", "Cherry pie"],
        ]
    );
}

#[test]
fn coalesce_and_nullif() {
    assert_eq!(
        query(
            "coalesce",
            "SELECT COALESCE(city, name, 'none'), COALESCE(qty, 0), NULLIF(city, 'Oslo'), NULLIF(qty, 0) FROM t"
        ),
        [
            ["Oslo", "3", "NULL", "3"],
            ["banana", "0", "NULL", "NULL"],
            ["Rome", "7", "Rome", "7"],
            ["Oslo", "0", "NULL", "NULL"],
        ]
    );
    assert_eq!(
        types(
            "coalesce-types",
            "SELECT COALESCE(qty, 1.5), COALESCE(NULL, qty) FROM t"
        ),
        [
            DataType::Decimal {
                precision: 38,
                scale: 1
            },
            DataType::Int64
        ]
    );
    assert_eq!(
        column("coalesce-decimal", "SELECT COALESCE(qty, 1.5) FROM t"),
        ["3.0", "1.5", "7.0", "0.0"]
    );
}

#[test]
fn string_functions() {
    assert_eq!(
        query(
            "strings",
            "SELECT UPPER(name), LOWER(name), LENGTH(name), CHAR_LENGTH('héllo'), \
             SUBSTRING(name FROM 2 FOR 3), SUBSTRING(name, 3), SUBSTRING(name, 0, 2) FROM t"
        ),
        [
            ["APPLE", "apple", "5", "5", "ppl", "ple", "A"],
            ["BANANA", "banana", "6", "5", "ana", "nana", "b"],
            ["NULL", "NULL", "NULL", "5", "NULL", "NULL", "NULL"],
            [
                "CHERRY PIE",
                "cherry pie",
                "10",
                "5",
                "her",
                "erry pie",
                "C"
            ],
        ]
    );
    assert_eq!(
        query(
            "concat",
            "SELECT CONCAT(name, '-', city, qty), name || '@' || city FROM t"
        ),
        [
            ["Apple-Oslo3", "Apple@Oslo"],
            ["banana-", "NULL"],
            ["-Rome7", "NULL"],
            ["Cherry pie-Oslo0", "Cherry pie@Oslo"],
        ]
    );
    assert_eq!(
        query(
            "trim",
            "SELECT TRIM('  a b  '), TRIM(LEADING ' ' FROM '  a  '), TRIM(TRAILING 'x' FROM 'xxaxx'), \
             TRIM(BOTH 'xy' FROM 'xyaxy'), LTRIM('  a'), RTRIM('a!!', '!'), TRIM(name) FROM t WHERE id = 1"
        ),
        [["a b", "a  ", "xxa", "a", "a", "a", "Apple"]]
    );
}

#[test]
fn math_functions() {
    assert_eq!(
        query(
            "math",
            "SELECT ABS(price), ROUND(price), ROUND(price, 1), FLOOR(price), CEIL(price), CEILING(qty), \
             SQRT(qty), POWER(qty, 2), MOD(qty, 2), MOD(id, 0) FROM t"
        ),
        [
            ["10.5", "11", "10.5", "10", "11", "3", &3f64.sqrt().to_string(), "9", "1", "NULL"],
            ["2.25", "2", "2.3", "2", "3", "NULL", "NULL", "NULL", "NULL", "NULL"],
            ["NULL", "NULL", "NULL", "NULL", "NULL", "7", &7f64.sqrt().to_string(), "49", "1", "NULL"],
            ["1.5", "-2", "-1.5", "-2", "-1", "0", "0", "0", "0", "NULL"],
        ]
    );
    // Exact on DECIMAL, half away from zero, negative digits round to tens.
    let sql = "SELECT ROUND(CAST(price AS DECIMAL(10,3)), 1), ROUND(2.675, 2), ROUND(-2.5), \
               ROUND(1250, -2), ROUND(-1250.5, -2), FLOOR(-1.25), CEIL(-1.25) FROM t WHERE id = 2";
    assert_eq!(
        query("round-decimal", sql),
        [["2.3", "2.68", "-3", "1300", "-1300", "-2", "-1"]]
    );
    let dec = |scale| DataType::Decimal {
        precision: 38,
        scale,
    };
    assert_eq!(
        types("round-types", sql),
        [
            DataType::Decimal {
                precision: 10,
                scale: 1
            },
            dec(2),
            dec(0),
            DataType::Int64,
            dec(0),
            dec(0),
            dec(0)
        ]
    );
}

#[test]
fn time_functions() {
    assert_eq!(
        query(
            "extract",
            "SELECT EXTRACT(YEAR FROM ts), EXTRACT(MONTH FROM ts), EXTRACT(DAY FROM ts), \
             EXTRACT(HOUR FROM ts), EXTRACT(MINUTE FROM ts), EXTRACT(SECOND FROM ts), \
             EXTRACT(MILLISECOND FROM ts), EXTRACT(DOW FROM ts), EXTRACT(DOY FROM ts), \
             EXTRACT(EPOCH FROM ts) FROM t"
        ),
        [
            [
                "2024",
                "2",
                "29",
                "13",
                "45",
                "30.250",
                "30250",
                "4",
                "60",
                "1709214330.250"
            ],
            [
                "2024",
                "3",
                "3",
                "0",
                "0",
                "0.000",
                "0",
                "0",
                "63",
                "1709424000.000"
            ],
            ["NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"],
            ["1969", "12", "31", "23", "59", "59.999", "59999", "3", "365", "-0.001"],
        ]
    );
    assert_eq!(
        query(
            "date-trunc",
            "SELECT DATE_TRUNC('second', ts), DATE_TRUNC('minute', ts), DATE_TRUNC('hour', ts), \
             DATE_TRUNC('day', ts), DATE_TRUNC('week', ts), DATE_TRUNC('month', ts), \
             DATE_TRUNC('year', ts) FROM t WHERE id = 1"
        ),
        [[
            "2024-02-29T13:45:30.000Z",
            "2024-02-29T13:45:00.000Z",
            "2024-02-29T13:00:00.000Z",
            "2024-02-29T00:00:00.000Z",
            "2024-02-26T00:00:00.000Z",
            "2024-02-01T00:00:00.000Z",
            "2024-01-01T00:00:00.000Z",
        ]]
    );
    // BIGINT epoch milliseconds are accepted too.
    assert_eq!(
        query(
            "epoch-ms",
            "SELECT EXTRACT(YEAR FROM 1709214330250), DATE_TRUNC('day', 1709214330250) FROM t WHERE id = 1"
        ),
        [["2024", "2024-02-29T00:00:00.000Z"]]
    );
}

#[test]
fn functions_over_groups() {
    let csv = "city,qty\nOslo,3\nRome,7\nOslo,4\nrome,1\n";
    let out = run_csv(
        "grouped",
        csv,
        "SELECT UPPER(city) AS c, SUM(qty) AS total, \
         CASE WHEN SUM(qty) > 7 THEN 'big' ELSE 'small' END AS size, \
         ROUND(AVG(qty), 1) AS mean \
         FROM t GROUP BY UPPER(city) EMIT FINAL",
        "0-1",
    );
    assert_eq!(
        sorted_rows(&out),
        [
            vec![
                Cell::Str("OSLO".into()),
                Cell::Int(7),
                Cell::Str("small".into()),
                Cell::Float(Exact(3.5))
            ],
            vec![
                Cell::Str("ROME".into()),
                Cell::Int(8),
                Cell::Str("big".into()),
                Cell::Float(Exact(4.0))
            ],
        ]
    );
}

#[test]
fn scalar_functions_over_a_group_key_and_an_aggregate() {
    let out = run(
        "SELECT UPPER(symbol) AS s, ROUND(AVG(price), 2) AS p FROM trades GROUP BY symbol EMIT FINAL",
        INPUT,
        "0-1",
        1024,
    );
    let mut groups: std::collections::BTreeMap<String, (f64, f64)> = Default::default();
    for t in generate_trades(INPUT) {
        let g = groups.entry(t.symbol.clone()).or_default();
        g.0 += t.price;
        g.1 += 1.0;
    }
    let expected: Vec<Row> = groups
        .into_iter()
        .map(|(symbol, (sum, n))| {
            vec![
                Cell::Str(symbol.to_uppercase()),
                Cell::Float(Exact((sum / n * 100.0).round() / 100.0)),
            ]
        })
        .collect();
    assert_eq!(sorted_rows(&out), expected);
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
fn errors_name_their_kind_and_place() {
    check_error(
        "SELECT symbol,\n  UPPPER(symbol) FROM trades",
        SqlErrorKind::UnknownFunction,
        2,
        3,
        "no function named `UPPPER`",
    );
    check_error(
        "SELECT UPPER(price) FROM trades",
        SqlErrorKind::TypeMismatch,
        1,
        14,
        "UPPER needs VARCHAR, found DOUBLE",
    );
    check_error(
        "SELECT ROUND(symbol, 2) FROM trades",
        SqlErrorKind::TypeMismatch,
        1,
        14,
        "ROUND needs a number, found VARCHAR",
    );
    check_error(
        "SELECT SUBSTRING(symbol FROM 'a') FROM trades",
        SqlErrorKind::TypeMismatch,
        1,
        30,
        "SUBSTRING needs BIGINT",
    );
    check_error(
        "SELECT * FROM trades\nWHERE price IN (1, 'x')",
        SqlErrorKind::TypeMismatch,
        2,
        20,
        "IN cannot compare DOUBLE with VARCHAR",
    );
    check_error(
        "SELECT CASE WHEN price > 1 THEN symbol ELSE quantity END FROM trades",
        SqlErrorKind::TypeMismatch,
        1,
        45,
        "CASE results must share a type: found VARCHAR and BIGINT",
    );
    check_error(
        "SELECT EXTRACT(YEAR FROM symbol) FROM trades",
        SqlErrorKind::TypeMismatch,
        1,
        26,
        "EXTRACT needs a TIMESTAMP",
    );
    check_error(
        "SELECT LOWER(symbol, 1) FROM trades",
        SqlErrorKind::TypeMismatch,
        1,
        8,
        "LOWER takes 1 argument, found 2",
    );
    check_error(
        "SELECT * FROM trades WHERE symbol LIKE trader_id",
        SqlErrorKind::Unsupported,
        1,
        40,
        "LIKE needs a string literal pattern",
    );
    check_error(
        "SELECT DATE_TRUNC('fortnight', event_time) FROM trades",
        SqlErrorKind::Unsupported,
        1,
        19,
        "DATE_TRUNC unit 'fortnight' is not supported",
    );
    check_error(
        "SELECT ROUND(price, quantity) FROM trades",
        SqlErrorKind::TypeMismatch,
        1,
        21,
        "constant integer",
    );
}

#[test]
fn the_cli_shows_a_function_error_with_a_caret_and_exits_2() {
    let file = CsvFile::new("cli", ROWS);
    let out = Command::new(env!("CARGO_BIN_EXE_corestream"))
        .args([
            "run",
            "--input",
            file.path(),
            "--cores",
            "0",
            "--sql",
            "SELECT LENGTH(qty) FROM t",
        ])
        .output()
        .expect("the CLI runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("type mismatch at line 1, column 15: LENGTH needs VARCHAR, found BIGINT"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 | SELECT LENGTH(qty) FROM t\n  |               ^"),
        "{stderr}"
    );
}
