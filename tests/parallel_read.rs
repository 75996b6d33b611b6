//! A file read in parallel (`--readers N`): byte ranges cut at line
//! boundaries, each decoded and routed by its own reader, so `N` routers feed
//! every shard. The answers must be those of one reader; errors must name the
//! file's own line numbers; what cannot be split is refused.

mod process;

use corestream::io::sink::OutputSpec;
use corestream::Engine;
use process::{accounting, corestream, temp_file, Ran, TempPath};

const SQL: &str = "SELECT sym, COUNT(*) AS n, SUM(qty) AS total, MIN(qty) AS lo, MAX(qty) AS hi \
                   FROM trades GROUP BY sym EMIT FINAL";
const WINDOWED: &str = "SELECT sym, window_start, COUNT(*) AS n, SUM(qty) AS total FROM trades \
                        GROUP BY sym, TUMBLE(ts, INTERVAL '1' SECOND) EMIT FINAL";

/// `rows` trades with increasing event times (10 ms apart), 13 symbols.
fn trades(rows: usize) -> String {
    let mut text = String::from("ts,sym,qty\n");
    for i in 0..rows {
        text.push_str(&format!(
            "{},s{},{}\n",
            i * 10,
            i * 7 % 13,
            (i * 31 % 100) as i64 - 20
        ));
    }
    text
}

fn run(args: &[&str]) -> Ran {
    let ran = corestream(args);
    ran.assert_success();
    ran
}

fn sorted(ran: &Ran) -> Vec<String> {
    let mut rows: Vec<String> = ran.stdout.lines().skip(1).map(str::to_owned).collect();
    rows.sort();
    rows
}

#[test]
fn any_number_of_readers_gives_the_answer_of_one() {
    let file = temp_file("par.csv", trades(20_000));
    let one = run(&["run", "--sql", SQL, "--input", file.str(), "--readers", "1"]);
    assert!(
        !one.stderr.contains("readers in parallel"),
        "{}",
        one.context()
    );
    for readers in ["2", "3", "8"] {
        let many = run(&[
            "run",
            "--sql",
            SQL,
            "--input",
            file.str(),
            "--readers",
            readers,
        ]);
        assert_eq!(sorted(&many), sorted(&one), "{readers} readers");
        assert!(
            many.stderr
                .contains(&format!("read by {readers} readers in parallel")),
            "{}",
            many.context()
        );
        let a = accounting(&many);
        assert_eq!(
            a.counts(),
            (20_000, 20_000, 0, 0, 0, true),
            "{readers} readers"
        );
    }
}

#[test]
fn json_lines_split_as_csv_does() {
    let mut text = String::new();
    for i in 0..5_000 {
        text.push_str(&format!("{{\"sym\":\"s{}\",\"qty\":{}}}\n", i % 11, i % 97));
    }
    let file = temp_file("par.jsonl", text);
    let sql = "SELECT sym, COUNT(*) AS n, SUM(qty) AS total FROM s GROUP BY sym EMIT FINAL";
    let one = run(&["run", "--sql", sql, "--input", file.str(), "--readers", "1"]);
    let four = run(&["run", "--sql", sql, "--input", file.str(), "--readers", "4"]);
    assert_eq!(sorted(&four), sorted(&one));
    assert_eq!(sorted(&one).len(), 11);
}

#[test]
fn windows_close_on_the_slowest_reader_and_nothing_is_late() {
    // Each reader's watermark runs ahead over its own range; a shard follows
    // the smallest, so the later ranges' windows wait for the first range
    // and no row of it is late.
    let file = temp_file("par-win.csv", trades(20_000));
    let args = |readers: &'static str| {
        vec![
            "run",
            "--sql",
            WINDOWED,
            "--input",
            file.str(),
            "--event-time",
            "ts",
            "--readers",
            readers,
        ]
    };
    let one = run(&args("1"));
    let three = run(&args("3"));
    assert_eq!(sorted(&three), sorted(&one));
    assert_eq!(
        sorted(&one).len(),
        200 * 13,
        "200 one-second windows per symbol"
    );
    assert_eq!(accounting(&three).counts(), (20_000, 20_000, 0, 0, 0, true));
}

/// Declared, so that a bad quantity among the first rows does not make the
/// column VARCHAR by inference.
const SCHEMA: &str = "ts BIGINT, sym VARCHAR, qty BIGINT";

/// `lines` data lines after a header, with `bad` (1-based file line numbers,
/// the header being line 1) holding a non-number quantity.
fn with_bad_lines(lines: usize, bad: &[usize]) -> String {
    let mut text = String::from("ts,sym,qty\n");
    for line in 2..lines + 2 {
        if bad.contains(&line) {
            text.push_str(&format!("{line},bad,not-a-number\n"));
        } else {
            text.push_str(&format!("{line},s{},1\n", line % 5));
        }
    }
    text
}

/// Runs SQL over `file` with four readers, the declared schema and `on_error`.
fn four_readers(file: &TempPath, on_error: &str) -> Ran {
    corestream(&[
        "run",
        "--sql",
        SQL,
        "--input",
        file.str(),
        "--schema",
        SCHEMA,
        "--readers",
        "4",
        "--on-error",
        on_error,
    ])
}

#[test]
fn errors_name_the_files_own_line_in_every_range() {
    let file = temp_file("par-fail.csv", with_bad_lines(4_000, &[3_900]));
    let ran = four_readers(&file, "fail");
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(
        ran.stderr
            .contains(&format!("malformed record in {} at line 3900", file.str())),
        "{}",
        ran.context()
    );
}

#[test]
fn the_dead_letter_file_gets_every_range_s_records_with_their_lines() {
    let bad = [3, 1_500, 2_999, 4_001];
    let file = temp_file("par-dead.csv", with_bad_lines(4_000, &bad));
    let dead = TempPath::new("par-dead-letter.txt");
    let ran = four_readers(&file, &format!("dead-letter={}", dead.str()));
    ran.assert_success();
    assert_eq!(accounting(&ran).counts(), (4_000, 3_996, 0, 0, 4, true));
    let written = std::fs::read_to_string(&dead.0).expect("the dead-letter file exists");
    let mut lines: Vec<usize> = written
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            assert_eq!(fields.len(), 4, "source, line, reason, raw: {l:?}");
            assert_eq!(fields[0], file.str());
            let line: usize = fields[1].parse().unwrap();
            assert_eq!(
                fields[3],
                format!("{line},bad,not-a-number"),
                "the raw record"
            );
            line
        })
        .collect();
    lines.sort();
    assert_eq!(lines, bad);
}

#[test]
fn a_quoted_line_break_at_a_cut_stops_the_run_and_says_to_read_with_one_reader() {
    // One record whose quoted field spans the middle of the file, where a
    // cut for 2 readers falls.
    let mut text = String::from("ts,sym,qty\n1,\"");
    for i in 0..200 {
        text.push_str(&format!("note {i}\n"));
    }
    text.push_str("\",5\n2,b,6\n");
    let file = temp_file("par-quoted.csv", &text);
    let sql = "SELECT sym, COUNT(*) AS n FROM t GROUP BY sym";
    let ran = corestream(&["run", "--sql", sql, "--input", file.str(), "--readers", "2"]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    assert!(
        ran.stderr.contains("where the file was split") && ran.stderr.contains("--readers 1"),
        "{}",
        ran.context()
    );
    // One reader reads it.
    let one = run(&["run", "--sql", sql, "--input", file.str(), "--readers", "1"]);
    assert_eq!(accounting(&one).counts().0, 2);
}

#[test]
fn what_cannot_be_split_is_refused_with_exit_2() {
    let file = temp_file("par-refuse.csv", trades(100));
    let row_window = "SELECT sym, SUM(qty) OVER (PARTITION BY sym ORDER BY ts \
                      ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS s FROM t";
    let cases: [(&[&str], &str); 3] = [
        (
            &["--sql", row_window, "--input", file.str(), "--readers", "2"],
            "depend on the order rows arrive in",
        ),
        (
            &["--input", "gen:trades?records=10", "--readers", "2"],
            "only a regular file",
        ),
        (
            &["--input", file.str(), "--sql", SQL, "--readers", "0"],
            "at least 1",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let ran = corestream(&all);
        assert_eq!(ran.code, Some(2), "{args:?}\n{}", ran.context());
        assert!(ran.stderr.contains(message), "{args:?}\n{}", ran.context());
    }
    // Left to the engine, an order-dependent query reads with one reader.
    let ran = run(&["run", "--sql", row_window, "--input", file.str()]);
    assert_eq!(accounting(&ran).counts().0, 100);
}

#[test]
fn the_builder_reads_in_parallel_and_reports_the_readers() {
    let file = temp_file("par-api.csv", trades(10_000));
    let engine = Engine::builder()
        .sql(SQL)
        .input(file.str())
        .readers(3)
        .output(OutputSpec::Collect)
        .build()
        .unwrap();
    assert_eq!(engine.readers(), 3);
    let out = engine.run().unwrap();
    assert_eq!(out.summary.readers, 3);
    assert_eq!(out.summary.records_read, 10_000);
    assert!(out.summary.identity_holds());
    let groups: usize = out.collected.iter().flatten().map(|b| b.len).sum();
    assert_eq!(groups, 13);
    // A small file left to the engine is read by one reader.
    let engine = Engine::builder()
        .sql(SQL)
        .input(file.str())
        .build()
        .unwrap();
    assert_eq!(engine.readers(), 1);
}
