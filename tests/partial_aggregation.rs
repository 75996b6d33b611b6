//! Partial aggregation in the readers: with at least as many readers as
//! shards, a grouped `EMIT FINAL` query's routers fold their own rows and hand
//! partial groups to the shards. The answers and the counts must be those of
//! routing every row; a query that cannot be split must route rows.

mod process;

use corestream::io::sink::OutputSpec;
use corestream::runtime::cores::CoreSet;
use corestream::Engine;
use process::{accounting, corestream, temp_file};

/// `rows` lines of `ts,sym,qty,price,note`: 37 symbols (some NULL), integer
/// quantities (some NULL), prices in halves (so DOUBLE sums are exact in any
/// order), notes that sort differently from the symbols.
fn trades(rows: usize) -> String {
    let mut text = String::from("ts,sym,qty,price,note\n");
    for i in 0..rows {
        let sym = match i % 41 {
            0 => String::new(),
            k => format!("s{}", k % 37),
        };
        let qty = if i % 17 == 3 {
            String::new()
        } else {
            ((i * 31 % 200) as i64 - 50).to_string()
        };
        let price = (i * 7 % 400) as f64 / 2.0 - 30.0;
        text.push_str(&format!(
            "{},{sym},{qty},{price},n{}\n",
            i * 10,
            i * 13 % 97
        ));
    }
    text
}

/// The sorted result rows, and whether the routers folded rows.
fn answer(sql: &str, input: &str, readers: usize, partial: bool) -> (Vec<String>, bool) {
    let mut builder = Engine::builder();
    if sql.contains("_VALUE(") {
        // FIRST_VALUE/LAST_VALUE are ordered by event time, so that they do
        // not depend on arrival order.
        builder = builder.event_time("ts");
    }
    let engine = builder
        .sql(sql)
        .input(input)
        .readers(readers)
        .cores(CoreSet::from_list("0-1", &[0, 1]).unwrap())
        .partial_aggregation(partial)
        .output(OutputSpec::Collect)
        .build()
        .unwrap();
    let folds = engine.partial_aggregation();
    let out = engine.run().unwrap();
    assert_eq!(out.summary.partial_aggregation, folds);
    assert!(out.summary.identity_holds(), "{sql}");
    let mut rows = Vec::new();
    for batch in out.collected.iter().flatten() {
        for i in 0..batch.len {
            let row: Vec<String> = batch
                .columns
                .iter()
                .map(|c| c.value(i).to_string())
                .collect();
            rows.push(row.join(","));
        }
    }
    rows.sort();
    (rows, folds)
}

#[test]
fn every_aggregate_merges_to_the_answer_of_routed_rows() {
    let file = temp_file("partial.csv", trades(30_000));
    let queries = [
        "SELECT sym, COUNT(*), COUNT(qty), SUM(qty), MIN(qty), MAX(qty) FROM t GROUP BY sym",
        "SELECT sym, SUM(price), AVG(price), MIN(price), MAX(price), AVG(qty) FROM t GROUP BY sym",
        "SELECT sym, MIN(note), MAX(note), COUNT(note) FROM t GROUP BY sym",
        "SELECT sym, FIRST_VALUE(note), LAST_VALUE(qty) FROM t GROUP BY sym",
        "SELECT sym, qty % 3, SUM(CAST(price AS DECIMAL(10,2))), AVG(CAST(price AS DECIMAL(10,2))) \
         FROM t WHERE qty > 0 GROUP BY sym, qty % 3 HAVING COUNT(*) > 3",
        "SELECT COUNT(*), SUM(qty), MIN(price), AVG(price) FROM t",
        "SELECT COUNT(*), SUM(qty) FROM t WHERE qty > 1000000",
        "SELECT qty % 7, sym IS NULL, COUNT(*) FROM t GROUP BY qty % 7, sym IS NULL",
        "SELECT sym, COUNT(*) FILTER (WHERE qty > 0), SUM(qty) FILTER (WHERE price < 50), \
         MIN(note) FILTER (WHERE qty < 0), AVG(price) FILTER (WHERE note = 'n7') FROM t GROUP BY sym",
        "SELECT DATE_FORMAT(ts * 1000, 'HH:mm'), REGEXP_EXTRACT(note, 'n(.)', 1), COUNT(*) FROM t \
         GROUP BY DATE_FORMAT(ts * 1000, 'HH:mm'), REGEXP_EXTRACT(note, 'n(.)', 1)",
    ];
    for sql in queries {
        let sql = format!("{sql} EMIT FINAL");
        let (routed, folded_off) = answer(&sql, file.str(), 2, false);
        let (merged, folded_on) = answer(&sql, file.str(), 2, true);
        assert!(!folded_off, "{sql}");
        assert!(folded_on, "{sql}: the routers should fold");
        assert!(!merged.is_empty(), "{sql}");
        assert_eq!(merged, routed, "{sql}");
        // Three readers for two shards fold too; one reader for two does not.
        assert_eq!(answer(&sql, file.str(), 3, true), (routed.clone(), true));
        assert_eq!(answer(&sql, file.str(), 1, true), (routed, false));
    }
}

#[test]
fn spread_merges_to_the_answer_of_routed_rows_within_rounding() {
    let file = temp_file("partial-spread.csv", trades(30_000));
    let sql = "SELECT sym, STDDEV(qty), VAR_POP(price), COUNT(*) FROM t GROUP BY sym EMIT FINAL";
    let (routed, _) = answer(sql, file.str(), 2, false);
    let (merged, folded) = answer(sql, file.str(), 2, true);
    assert!(folded);
    assert_eq!(merged.len(), routed.len());
    for (m, r) in merged.iter().zip(&routed) {
        let (m, r): (Vec<&str>, Vec<&str>) = (m.split(',').collect(), r.split(',').collect());
        assert_eq!((m[0], m[3]), (r[0], r[3]), "key and count");
        for c in 1..3 {
            let (a, b): (f64, f64) = (m[c].parse().unwrap(), r[c].parse().unwrap());
            assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{m:?} vs {r:?}");
        }
    }
}

#[test]
fn a_global_aggregate_over_no_rows_still_has_its_row() {
    let file = temp_file("partial-none.csv", trades(5_000));
    let sql = "SELECT COUNT(*) AS n, SUM(qty) AS s FROM t WHERE qty > 1000000 EMIT FINAL";
    let (rows, folded) = answer(sql, file.str(), 2, true);
    assert!(folded);
    assert_eq!(rows, vec!["0,".to_owned()], "COUNT 0, SUM NULL");
}

#[test]
fn keys_that_do_not_repeat_are_routed_and_still_exact() {
    // More distinct keys than a router holds, each seen about once: the
    // routers hand over what they hold and route the rest as rows.
    let rows = 200_000;
    let mut text = String::from("k,v\n");
    for i in 0..rows {
        text.push_str(&format!("{},{}\n", (i * 7919) % 150_000, i % 10));
    }
    let file = temp_file("partial-unique.csv", text);
    let sql = "SELECT k, COUNT(*) AS n, SUM(v) AS s FROM t GROUP BY k EMIT FINAL";
    let (merged, folded) = answer(sql, file.str(), 2, true);
    assert!(folded);
    let (routed, _) = answer(sql, file.str(), 2, false);
    assert_eq!(merged.len(), 150_000);
    assert_eq!(merged, routed);
}

#[test]
fn queries_that_cannot_be_split_route_rows() {
    let file = temp_file("partial-no.csv", trades(5_000));
    for sql in [
        "SELECT sym, COUNT(DISTINCT qty) FROM t GROUP BY sym EMIT FINAL",
        "SELECT sym, COUNT(*) FROM t GROUP BY sym EMIT CHANGES",
        "SELECT sym, window_start, COUNT(*) FROM t \
         GROUP BY sym, TUMBLE(ts, INTERVAL '1' SECOND) EMIT FINAL",
        "SELECT sym, qty FROM t WHERE qty > 3",
    ] {
        let engine = Engine::builder()
            .sql(sql)
            .input(file.str())
            .readers(2)
            .cores(CoreSet::from_list("0-1", &[0, 1]).unwrap())
            .output(OutputSpec::Collect)
            .build()
            .unwrap();
        assert!(!engine.partial_aggregation(), "{sql}");
    }
}

#[test]
fn the_cli_says_when_readers_fold_and_can_be_told_not_to() {
    let file = temp_file("partial-cli.csv", trades(20_000));
    let sql = "SELECT sym, COUNT(*) AS n, SUM(qty) AS total FROM t GROUP BY sym EMIT FINAL";
    let base = ["run", "--sql", sql, "--input", file.str(), "--readers", "2"];
    let folded = corestream(&[&base[..], &["--cores", "0-1"]].concat());
    folded.assert_success();
    assert!(
        folded.stderr.contains("aggregated partly in the readers"),
        "{}",
        folded.context()
    );
    assert!(folded.stderr.contains("(holds)"), "{}", folded.context());
    let routed = corestream(&[&base[..], &["--cores", "0-1", "--no-partial-aggregation"]].concat());
    routed.assert_success();
    assert!(
        !routed.stderr.contains("aggregated partly"),
        "{}",
        routed.context()
    );
    let rows = |ran: &process::Ran| {
        let mut r: Vec<String> = ran.stdout.lines().skip(1).map(str::to_owned).collect();
        r.sort();
        r
    };
    assert_eq!(rows(&folded), rows(&routed));
    assert_eq!(accounting(&folded).counts(), accounting(&routed).counts());
}
