//! Hostile inputs (issue 28, hardening): files, streams and lines shaped to
//! break the readers. Each test runs the CLI on a hostile input and checks
//! that nothing is lost silently: the same rows as a well-behaved reading, or
//! a malformed record counted and named.

mod process;

use corestream::data::Value;
use corestream::io::late::RecordText;
use corestream::io::source::{Poll, Source};
use corestream::io::tcp::TcpSource;
use corestream::io::text::{parse_schema, OnError, TextOptions};
use corestream::Error;
use process::{accounting, corestream, temp_file, TempPath};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The sorted stdout rows of a successful run (header first, then rows).
fn sorted_stdout(ran: &process::Ran) -> Vec<String> {
    ran.assert_success();
    let mut lines: Vec<String> = ran.stdout.lines().map(str::to_owned).collect();
    lines[1..].sort();
    lines
}

/// More readers than lines (a 3-line file with `--readers 8`, with and
/// without a last newline, and a header-only file): every reader count gives
/// the rows and counts of one reader.
#[test]
fn more_readers_than_lines_read_like_one_reader() {
    for (tag, text) in [
        ("newline", "a,b\n1,x\n2,y\n3,z\n"),
        ("no_newline", "a,b\n1,x\n2,y\n3,z"),
        ("header_only", "a,b\n"),
        ("one_row", "a,b\n1,x"),
    ] {
        let file = temp_file(&format!("readers_{tag}.csv"), text);
        let sql = "SELECT a, COUNT(*) AS n, MAX(b) AS m FROM t GROUP BY a EMIT FINAL";
        let one = corestream(&["run", "--input", file.str(), "--readers", "1", "--sql", sql]);
        let want = sorted_stdout(&one);
        for readers in ["2", "3", "8", "16", "64"] {
            let ran = corestream(&[
                "run",
                "--input",
                file.str(),
                "--readers",
                readers,
                "--sql",
                sql,
            ]);
            assert_eq!(sorted_stdout(&ran), want, "{tag}, --readers {readers}");
            assert_eq!(
                accounting(&ran).counts(),
                accounting(&one).counts(),
                "{tag}, --readers {readers}"
            );
        }
    }
}

/// Polls `source` until it has given `rows` rows and counted `malformed`
/// malformed records (or fails: an error, or 30 s with nothing new, which is
/// a hang, not a timing bet: each poll waits on the socket up to its deadline).
fn poll_tcp(source: &mut TcpSource, rows: usize, malformed: u64) -> Result<Vec<String>, Error> {
    let mut got = Vec::new();
    let started = Instant::now();
    while got.len() < rows || source.malformed() < malformed {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the TCP source gave {got:?} and {} malformed, not {rows} rows and {malformed}",
            source.malformed()
        );
        let deadline = Instant::now() + Duration::from_millis(100);
        if let Poll::Batch(b) = source.poll(1024, Some(deadline))? {
            let mut csv = Vec::new();
            b.write_csv(&mut csv);
            got.extend(String::from_utf8(csv).unwrap().lines().map(str::to_owned));
        }
    }
    Ok(got)
}

/// A TCP source bound to a free port, with `max_line_bytes` and `on_error`,
/// and a client connected to it that has sent `lines` and closed.
fn tcp_with_lines(max_line_bytes: usize, on_error: OnError, lines: &[u8]) -> TcpSource {
    let options = TextOptions {
        schema: Some(parse_schema("k VARCHAR, v BIGINT").unwrap()),
        header: false,
        max_line_bytes,
        on_error,
        ..TextOptions::default()
    };
    let source = TcpSource::bind("127.0.0.1:0", &options).unwrap();
    let mut client = TcpStream::connect(source.local_addr().unwrap()).unwrap();
    client.write_all(lines).unwrap();
    drop(client);
    source
}

/// `--max-line-bytes` below the TCP source's 64 KiB read buffer: a line over
/// the bound is malformed whether it arrives whole in one read or is cut
/// across reads, its first N bytes kept and its line named; a line of exactly
/// N bytes and the lines around the long ones are rows.
#[test]
fn tcp_input_honours_a_small_max_line_bytes() {
    let long = format!("{},9\n", "x".repeat(100_000));
    let text = format!("a,1\nthis_key_is_far_too_long,2\nabcdefghijklmn,3\n{long}c,4");
    let dead = TempPath::new("tcp_dead_letter.txt");
    let mut source = tcp_with_lines(
        16,
        OnError::DeadLetter(Some(dead.0.clone())),
        text.as_bytes(),
    );
    let rows = poll_tcp(&mut source, 3, 2).unwrap();
    assert_eq!(rows, ["a,1", "abcdefghijklmn,3", "c,4"]);
    assert_eq!(source.malformed(), 2);
    let letters = std::fs::read_to_string(&dead.0).unwrap();
    let letters: Vec<Vec<&str>> = letters.lines().map(|l| l.split('\t').collect()).collect();
    let too_long = "the record is longer than 16 bytes (max_line_bytes)";
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert_eq!(letters[0][1..], ["2", too_long, "this_key_is_far_"]);
    assert_eq!(letters[1][1..], ["4", too_long, "xxxxxxxxxxxxxxxx"]);
    assert!(letters[0][0].starts_with("tcp://127.0.0.1:"), "{letters:?}");

    // Under `fail`, the first long line stops the source, named.
    let mut source = tcp_with_lines(16, OnError::Fail, text.as_bytes());
    let err = poll_tcp(&mut source, 4, 0).unwrap_err().to_string();
    assert!(
        err.contains("at line 2: the record is longer than 16 bytes"),
        "{err}"
    );
}

/// JSON lines whose sample mixes types: a key numeric in 5,000 lines and a
/// string in one is VARCHAR, and the 5,000 numbers are its rows (as their
/// text), not 5,000 malformed records; likewise booleans in a column the
/// sample made VARCHAR, integers in one it made DOUBLE, and arrays and
/// objects in one they alone typed (VARCHAR).
#[test]
fn json_columns_inferred_from_mixed_values_take_every_sampled_value() {
    let mut text = String::from(r#"{"k": "x", "b": 1, "f": 1, "o": {"a": 1}}"#);
    text.push('\n');
    for i in 0..5_000 {
        let f = if i % 2 == 0 { "2.5" } else { "3" };
        text.push_str(&format!(
            "{{\"k\": {i}, \"b\": {}, \"f\": {f}, \"o\": [{i}]}}\n",
            i % 3 == 0
        ));
    }
    let file = temp_file("mixed.jsonl", &text);
    let ran = corestream(&[
        "run",
        "--input",
        file.str(),
        "--on-error",
        "fail",
        "--sql",
        "SELECT COUNT(*) AS n, COUNT(DISTINCT k) AS ks, MAX(k) AS top, SUM(f) AS f, \
         COUNT(DISTINCT b) AS bs, MIN(o) AS o FROM t WHERE k <> 'x' EMIT FINAL",
    ]);
    let rows = ran.rows("n,ks,top,f,bs,o");
    // MAX of text: "999" sorts last; f: 2500 x 2.5 + 2500 x 3.
    assert_eq!(rows, ["5000,5000,999,13750,2,[0]"], "{}", ran.context());
    assert_eq!(accounting(&ran).counts(), (5001, 5000, 1, 0, 0, true));
}

/// A CSV quote left open at the end of the file made the rest of the file
/// one field, silently when the field count still fit. Now that record is
/// malformed: counted under `skip`, and under `fail` an error naming the file
/// and the line where the quote opened. Read in parallel, the range that
/// holds the quote is not the last (its later lines were read by other
/// readers): the run stops, saying so; in the last range it is counted, as
/// by one reader.
#[test]
fn a_quote_left_open_at_the_end_of_a_csv_file_is_a_malformed_record() {
    // Bytes: "a,b\n" 0-3, "1,x\n" 4-7, "2,\"y\n" 8-12, "3,z\n" 13-16.
    let file = temp_file("open_quote.csv", "a,b\n1,x\n2,\"y\n3,z\n");
    let sql = "SELECT * FROM t";
    let never_closed = "the quote that opens a field on line 3 is never closed";
    // One reader, and two (the quote in the last range).
    for readers in ["1", "2"] {
        let ran = corestream(&[
            "run",
            "--input",
            file.str(),
            "--readers",
            readers,
            "--sql",
            sql,
        ]);
        assert_eq!(ran.rows("a,b"), ["1,x"], "--readers {readers}");
        assert_eq!(
            accounting(&ran).counts(),
            (2, 1, 0, 0, 1, true),
            "{readers}"
        );
        let args = [
            "run",
            "--input",
            file.str(),
            "--readers",
            readers,
            "--on-error",
            "fail",
        ];
        let ran = corestream(&[&args[..], &["--sql", sql]].concat());
        assert_eq!(ran.code, Some(1), "{}", ran.context());
        let want = format!(
            "error: malformed record in {} at line 3: {never_closed}",
            file.str()
        );
        assert!(ran.stderr.contains(&want), "{}", ran.context());
    }
    // Four readers: the quote's range ends at byte 13, before the last.
    let ran = corestream(&["run", "--input", file.str(), "--readers", "4", "--sql", sql]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    for part in [never_closed, "--readers 1"] {
        assert!(ran.stderr.contains(part), "{}", ran.context());
    }
    // The header's own quote, never closed.
    let header = temp_file("open_quote_header.csv", "a,\"b\n1,2\n");
    let ran = corestream(&["run", "--input", header.str(), "--sql", sql]);
    assert_eq!(ran.code, Some(1), "{}", ran.context());
    let want = "at line 1: the header: the quote that opens a field on line 1 is never closed";
    assert!(ran.stderr.contains(want), "{}", ran.context());
}

/// Runs a tumbling-window count over `input` on one shard, one row per
/// source batch and no out-of-orderness (so a row older than the largest
/// event time before it is late), writing late records to `late_dir`.
fn run_with_late_side_output(input: &str, late_dir: &str, extra: &[&str]) -> process::Ran {
    let sql = "SELECT k, window_start, COUNT(*) AS n FROM t \
               GROUP BY k, TUMBLE(ts, INTERVAL '10' SECOND)";
    let args = [
        "run",
        "--input",
        input,
        "--event-time",
        "ts",
        "--batch-size",
        "1",
        "--cores",
        "0",
        "--late",
        "side-output",
        "--late-dir",
        late_dir,
        "--sql",
        sql,
    ];
    let ran = corestream(&[&args[..], extra].concat());
    ran.assert_success();
    ran
}

/// `--late side-output` writes each late record as it was read, not its
/// values written again: the DOUBLE `1.00` stays `1.00`, quotes, spaces and
/// a field with a delimiter inside quotes stay as they were (a CRLF line end
/// becomes LF). The late count is unchanged, and the on-time rows are still counted.
#[test]
fn late_csv_records_are_written_as_read() {
    let csv = "ts,k,v\n\
               5000,a,1.00\n\
               1000,\"a\",1.00\n\
               2000,\"a, b\",2.50\r\n\
               15000,b,3.10\n\
               3000,b,  7.0\n";
    let file = temp_file("late_as_read.csv", csv);
    let late_dir = TempPath::new("late_as_read");
    let ran = run_with_late_side_output(file.str(), late_dir.str(), &[]);
    assert_eq!(accounting(&ran).counts(), (5, 2, 0, 3, 0, true));
    let late = std::fs::read_to_string(late_dir.0.join("late-0.csv")).unwrap();
    assert_eq!(
        late,
        "ts,k,v\n1000,\"a\",1.00\n2000,\"a, b\",2.50\n3000,b,  7.0\n"
    );
}

/// From JSON lines, late records go to `late-<shard>.jsonl` as read (key
/// order, spacing, `1.00`, keys not in the schema), with no header line.
#[test]
fn late_json_lines_are_written_as_read() {
    let jsonl = "{\"ts\":5000,\"k\":\"a\",\"v\":1.00}\n\
                 {\"ts\": 1000, \"k\":\"a\",\"v\":1.00, \"extra\":[1]}\r\n\
                 {\"k\":\"b\",\"ts\":15000,\"v\":3}\n\
                 {\"ts\":3000,\"v\":7.50,\"k\":\"b\"}\n";
    let file = temp_file("late_as_read.jsonl", jsonl);
    let late_dir = TempPath::new("late_as_read_json");
    let ran = run_with_late_side_output(file.str(), late_dir.str(), &[]);
    assert_eq!(accounting(&ran).counts(), (4, 2, 0, 2, 0, true));
    let late = std::fs::read_to_string(late_dir.0.join("late-0.jsonl")).unwrap();
    assert_eq!(
        late,
        "{\"ts\": 1000, \"k\":\"a\",\"v\":1.00, \"extra\":[1]}\n{\"ts\":3000,\"v\":7.50,\"k\":\"b\"}\n"
    );
    assert!(!late_dir.0.join("late-0.csv").exists());
}

/// A TCP source asked to keep each record's text (as `--late side-output`
/// does) returns it as one more column, the line as received; and a CSV
/// line whose quote is never closed is malformed, not a row.
#[test]
fn tcp_lines_keep_their_text_and_an_open_quote_is_malformed() {
    let mut source = tcp_with_lines(1 << 20, OnError::Skip, b"a,1\n\"b\" ,  2\r\n\"c,3\nd,4");
    assert_eq!(source.keep_text(), Some(RecordText::Csv));
    let mut texts = Vec::new();
    let started = Instant::now();
    while texts.len() < 3 || source.malformed() < 1 {
        assert!(started.elapsed() < Duration::from_secs(30), "{texts:?}");
        let deadline = Instant::now() + Duration::from_millis(100);
        if let Poll::Batch(b) = source.poll(1024, Some(deadline)).unwrap() {
            assert_eq!(b.columns.len(), 3);
            texts.extend((0..b.len).map(|i| b.columns[2].value(i)));
        }
    }
    let want = ["a,1", "\"b\" ,  2", "d,4"].map(|t| Value::Utf8(t.into()));
    assert_eq!(texts, want);
    assert_eq!(source.malformed(), 1);
}
