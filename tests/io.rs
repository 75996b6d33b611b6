//! Real inputs and outputs: text options (header, declared schema, delimiter),
//! malformed records under each `--on-error` policy, JSON lines, output
//! formats and the TCP source. Library-level tests drive a source directly;
//! CLI tests run the binary as a user does.

mod process;

use process::{accounting, corestream, temp_file, Ran, TempPath, BIN};

use corestream::data::{DataType, Schema, Value};
use corestream::io::source::{Poll, Source};
use corestream::io::text::{parse_schema, OnError, TextOptions, TextSource};
use std::process::Command;

/// The stdout rows after `header`, sorted (shards write in any order).
fn sorted_rows(ran: &Ran, header: &str) -> Vec<String> {
    let mut rows = ran.rows(header);
    rows.sort();
    rows
}

/// Every row of `source`, in order.
fn drain(source: &mut dyn Source) -> Result<Vec<Vec<Value>>, corestream::Error> {
    let mut rows = Vec::new();
    loop {
        match source.poll(3, None)? {
            Poll::Batch(b) => {
                for r in 0..b.len {
                    rows.push(b.columns.iter().map(|c| c.value(r)).collect());
                }
            }
            Poll::Idle => {}
            Poll::End => return Ok(rows),
        }
    }
}

fn text_source(text: &str, options: &TextOptions) -> Result<TextSource, corestream::Error> {
    TextSource::from_reader(
        "mem",
        Box::new(std::io::Cursor::new(text.to_owned())),
        options,
    )
}

fn types(schema: &Schema) -> Vec<(String, DataType)> {
    schema
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.data_type))
        .collect()
}

// ---------------------------------------------------------------------------
// 1. Text options

const ONE_BRC: &str = "Hamburg;10.5\nBulawayo;8.25\n\"St. John's; NL\";-1.5\nHamburg;-2.5\n\
Palembang;38.5\nBulawayo;9.75\nHamburg;7.0\n";

const ONE_BRC_SQL: &str = "SELECT station, MIN(temperature), AVG(temperature), MAX(temperature) \
FROM measurements GROUP BY station EMIT FINAL";

#[test]
fn one_brc_query_over_a_headerless_semicolon_file() {
    let file = temp_file("1brc.txt", ONE_BRC);
    for cores in ["0", "0-1"] {
        let ran = corestream(&[
            "run",
            "--input",
            file.str(),
            "--no-header",
            "--schema",
            "station VARCHAR, temperature DOUBLE",
            "--delimiter",
            ";",
            "--cores",
            cores,
            "--sql",
            ONE_BRC_SQL,
        ]);
        ran.assert_success();
        assert_eq!(
            sorted_rows(
                &ran,
                "station,MIN(temperature),AVG(temperature),MAX(temperature)"
            ),
            [
                "Bulawayo,8.25,9,9.75",
                "Hamburg,-2.5,5,10.5",
                "Palembang,38.5,38.5,38.5",
                "St. John's; NL,-1.5,-1.5,-1.5",
            ],
            "--cores {cores}"
        );
        assert_eq!(
            accounting(&ran).counts(),
            (7, 7, 0, 0, 0, true),
            "{}",
            ran.context()
        );
    }
}

#[test]
fn a_header_must_match_the_declared_schema_and_declared_types_win() {
    let options = TextOptions {
        schema: Some(parse_schema("Station VARCHAR, temp DOUBLE").unwrap()),
        ..TextOptions::default()
    };
    // Case-insensitive match; "1" and "2" would infer BIGINT, the declared DOUBLE wins.
    let mut src = text_source("station,TEMP\nA,1\nB,2\n", &options).unwrap();
    assert_eq!(
        types(src.schema()),
        [
            ("Station".to_owned(), DataType::Utf8),
            ("temp".to_owned(), DataType::Float64)
        ]
    );
    assert_eq!(
        drain(&mut src).unwrap(),
        [
            vec![Value::Utf8("A".into()), Value::Float64(1.0)],
            vec![Value::Utf8("B".into()), Value::Float64(2.0)]
        ]
    );

    let err = text_source("station,temperature\nA,1\n", &options)
        .err()
        .expect("a mismatched header is an error")
        .to_string();
    assert!(
        err.contains("header column 2 is \"temperature\", the declared column 2 is \"temp\""),
        "{err}"
    );
    let err = text_source("station\nA\n", &options)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("the declared column 2 (\"temp\") is missing"),
        "{err}"
    );
    let err = text_source("station,temp,x\nA,1,2\n", &options)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("header column 3 (\"x\") is not declared"),
        "{err}"
    );
}

#[test]
fn without_header_or_schema_columns_are_c1_to_cn_with_inferred_types() {
    let options = TextOptions {
        header: false,
        ..TextOptions::default()
    };
    let mut src = text_source("a,1,2026-01-01T00:00:00Z\nb,2.5,2026-01-02\n", &options).unwrap();
    assert_eq!(
        types(src.schema()),
        [
            ("c1".to_owned(), DataType::Utf8),
            ("c2".to_owned(), DataType::Float64),
            ("c3".to_owned(), DataType::Timestamp)
        ]
    );
    // The sampled rows are not lost, the first included.
    let rows = drain(&mut src).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], Value::Utf8("a".into()));
    assert_eq!(rows[1][1], Value::Float64(2.5));

    let err = text_source("", &options).err().unwrap().to_string();
    assert!(err.contains("declare the columns"), "{err}");
}

#[test]
fn without_header_the_declared_schema_names_the_columns() {
    let options = TextOptions {
        header: false,
        schema: Some(parse_schema("k VARCHAR, v BIGINT, d DECIMAL(10,2)").unwrap()),
        ..TextOptions::default()
    };
    let mut src = text_source("x,1,2.50\ny,2,3\n", &options).unwrap();
    assert_eq!(
        src.schema().fields[2].data_type,
        DataType::Decimal {
            precision: 10,
            scale: 2
        }
    );
    let rows = drain(&mut src).unwrap();
    assert_eq!(rows[0][1], Value::Int64(1));
    assert_eq!(rows[1][0], Value::Utf8("y".into()));
}

#[test]
fn tab_delimiter_keeps_quoted_fields() {
    let options = TextOptions {
        delimiter: corestream::io::text::parse_delimiter("\\t").unwrap(),
        ..TextOptions::default()
    };
    let mut src = text_source(
        "name\tn\n\"a\tb\"\t1\n\"multi\nline\"\t2\nplain\t3\n",
        &options,
    )
    .unwrap();
    let rows = drain(&mut src).unwrap();
    assert_eq!(
        rows,
        [
            vec![Value::Utf8("a\tb".into()), Value::Int64(1)],
            vec![Value::Utf8("multi\nline".into()), Value::Int64(2)],
            vec![Value::Utf8("plain".into()), Value::Int64(3)]
        ]
    );
    assert_eq!(corestream::io::text::parse_delimiter("tab").unwrap(), b'\t');
    assert_eq!(corestream::io::text::parse_delimiter("|").unwrap(), b'|');
    assert!(corestream::io::text::parse_delimiter(";;").is_err());
}

#[test]
fn bad_schema_and_delimiter_flags_exit_2_naming_the_item() {
    let file = temp_file("flags.txt", ONE_BRC);
    let ran = corestream(&[
        "run",
        "--input",
        file.str(),
        "--schema",
        "station VARCHAR, temperature DUBBLE",
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(
        ran.stderr
            .contains("--schema: item 2 \"temperature DUBBLE\": unknown type \"DUBBLE\""),
        "{}",
        ran.context()
    );
    let ran = corestream(&[
        "run",
        "--input",
        file.str(),
        "--schema",
        "station, x BIGINT",
    ]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(
        ran.stderr.contains("item 1 \"station\": no type"),
        "{}",
        ran.context()
    );
    let ran = corestream(&["run", "--input", file.str(), "--delimiter", "::"]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(
        ran.stderr.contains("--delimiter \"::\""),
        "{}",
        ran.context()
    );
}

#[test]
fn engine_builder_takes_a_declared_schema() {
    let file = temp_file("builder.txt", ONE_BRC);
    let out = corestream::Engine::builder()
        .sql(ONE_BRC_SQL)
        .input(file.str())
        .text_options(TextOptions {
            header: false,
            delimiter: b';',
            on_error: OnError::Fail,
            ..TextOptions::default()
        })
        .schema(parse_schema("station VARCHAR, temperature DOUBLE").unwrap())
        .on_error(OnError::Skip)
        .cores(corestream::runtime::cores::CoreSet::all_online().unwrap())
        .output(corestream::io::sink::OutputSpec::Collect)
        .build()
        .unwrap()
        .run()
        .unwrap();
    let rows: usize = out.collected.iter().flatten().map(|b| b.len).sum();
    assert_eq!(rows, 4);
    assert!(out.summary.identity_holds());
}

#[test]
fn a_bigint_sum_is_exact_past_the_i64_range_and_null_outside_it() {
    // `back` rises to 3000 * i64::MAX and comes back down to 5; `out` ends
    // below i64::MIN (NULL, as an overflowing expression is); `small` never
    // leaves the range. `back`'s rises and falls are in different halves of
    // the file, so with two readers the partial sums merged are far out of
    // the i64 range.
    let (max, min) = (i64::MAX, i64::MIN);
    let mut csv = String::from("k,n\n");
    // Each row's expected EMIT CHANGES value: its key's running sum, NULL
    // where that is outside the i64 range.
    let mut running = std::collections::HashMap::<&str, i128>::new();
    let mut changes = Vec::new();
    for (k, n, copies) in [
        ("back", max, 3_000),
        ("out", min, 1),
        ("small", 1, 1_000),
        ("back", -max, 3_000),
        ("out", -1, 1),
        ("small", 2, 1_000),
        ("back", 5, 1),
    ] {
        for _ in 0..copies {
            csv.push_str(&format!("{k},{n}\n"));
            let sum = running.entry(k).or_default();
            *sum += i128::from(n);
            let value = i64::try_from(*sum).map_or(Value::Null, Value::Int64);
            changes.push((k.to_owned(), value));
        }
    }
    let file = temp_file("bigsum.csv", csv);
    let online = corestream::runtime::cores::CoreSet::online_cpus().unwrap();
    // EMIT CHANGES on one shard: a row out per row, in input order.
    for (cores, emit) in [("0", "FINAL"), ("0-1", "FINAL"), ("0", "CHANGES")] {
        let out = corestream::Engine::builder()
            .sql(format!("SELECT k, SUM(n) FROM t GROUP BY k EMIT {emit}"))
            .input(file.str())
            .schema(parse_schema("k VARCHAR, n BIGINT").unwrap())
            .cores(corestream::runtime::cores::CoreSet::from_list(cores, &online).unwrap())
            .output(corestream::io::sink::OutputSpec::Collect)
            .build()
            .unwrap()
            .run()
            .unwrap();
        let mut rows = Vec::new();
        for b in out.collected.iter().flatten() {
            for i in 0..b.len {
                rows.push((b.columns[0].value(i).to_string(), b.columns[1].value(i)));
            }
        }
        if emit == "CHANGES" {
            assert!(rows == changes, "every row's running sum, EMIT CHANGES");
        }
        let sums: std::collections::BTreeMap<_, _> = rows.into_iter().collect();
        let expected = [
            ("back".to_owned(), Value::Int64(5)),
            ("out".to_owned(), Value::Null),
            ("small".to_owned(), Value::Int64(3_000)),
        ];
        assert_eq!(sums, expected.into(), "cores {cores}, EMIT {emit}");
    }
}

#[test]
fn a_large_input_decodes_alike_in_batches_of_any_size() {
    // Far past the first read buffer, and far past what a small batch takes
    // of it: a quoted line, a CRLF line, a line of invalid UTF-8, a line with
    // one field, a 5000-byte key. The malformed ones are skipped.
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for i in 0..20_000i64 {
        let key = match i {
            7_000 => {
                bytes.extend_from_slice(b"\"k,7000\",7000\n");
                "k,7000".to_owned()
            }
            9_000 => {
                bytes.extend_from_slice(b"k9000,9000\r\n");
                "k9000".to_owned()
            }
            11_000 => {
                bytes.extend_from_slice(b"k\xff,11000\n");
                continue;
            }
            13_000 => {
                bytes.extend_from_slice(b"k13000\n");
                continue;
            }
            15_000 => {
                let key = "x".repeat(5_000);
                bytes.extend_from_slice(format!("{key},{i}\n").as_bytes());
                key
            }
            _ => {
                bytes.extend_from_slice(format!("k{i},{i}\n").as_bytes());
                format!("k{i}")
            }
        };
        expected.push(vec![Value::Utf8(key), Value::Int64(i)]);
    }
    let options = TextOptions {
        header: false,
        schema: Some(parse_schema("k VARCHAR, v BIGINT").unwrap()),
        on_error: OnError::Skip,
        ..TextOptions::default()
    };
    for max_rows in [1, 3, 100, 4096] {
        let mut src = TextSource::from_reader(
            "mem",
            Box::new(std::io::Cursor::new(bytes.clone())),
            &options,
        )
        .unwrap();
        let mut rows: Vec<Vec<Value>> = Vec::new();
        loop {
            match src.poll(max_rows, None).unwrap() {
                Poll::Batch(b) => {
                    assert!(b.len <= max_rows);
                    rows.extend((0..b.len).map(|r| b.columns.iter().map(|c| c.value(r)).collect()));
                }
                Poll::Idle => {}
                Poll::End => break,
            }
        }
        assert_eq!(rows.len(), expected.len(), "batches of {max_rows}");
        assert!(rows == expected, "batches of {max_rows}");
    }
}

// ---------------------------------------------------------------------------
// 2. Malformed records under each --on-error policy

const MALFORMED_SCHEMA: &str = "ts TIMESTAMP, station VARCHAR, temperature DOUBLE";
const GOOD_1: &[u8] = b"2026-01-01T00:00:00Z,A,1.5\n";
const GOOD_2: &[u8] = b"2026-01-01T00:00:05Z,B,4.5\n";

/// Each kind of malformed record, the line it is on in [`malformed_file`], and its reason.
fn bad_lines() -> Vec<(Vec<u8>, &'static str)> {
    let mut long = b"2026-01-01T00:00:04Z,A,".to_vec();
    long.extend(std::iter::repeat_n(b'9', 100));
    long.push(b'\n');
    vec![
        (
            b"2026-01-01T00:00:01Z,B\n".to_vec(),
            "expected 3 fields, found 2",
        ),
        (
            b"2026-01-01T00:00:02Z,A,abc\n".to_vec(),
            "column temperature: cannot read \"abc\" as DOUBLE",
        ),
        (
            b"2026-01-01T00:00:03Z,\xff\xfe,2.0\n".to_vec(),
            "column station: invalid UTF-8",
        ),
        (long, "the record is longer than 64 bytes (max_line_bytes)"),
        (
            b"yesterday,B,3.0\n".to_vec(),
            "column ts: cannot read \"yesterday\" as TIMESTAMP",
        ),
    ]
}

/// A header, a good record, every bad one (lines 3..=7), a good record.
fn malformed_file(tag: &str) -> TempPath {
    let mut bytes = b"ts,station,temperature\n".to_vec();
    bytes.extend_from_slice(GOOD_1);
    for (line, _) in bad_lines() {
        bytes.extend_from_slice(&line);
    }
    bytes.extend_from_slice(GOOD_2);
    temp_file(tag, bytes)
}

fn run_malformed(input: &str, on_error: &str, extra: &[&str]) -> Ran {
    let mut args = vec![
        "run",
        "--input",
        input,
        "--schema",
        MALFORMED_SCHEMA,
        "--max-line-bytes",
        "64",
        "--on-error",
        on_error,
        "--sql",
        "SELECT station, COUNT(*) AS n FROM m GROUP BY station EMIT FINAL",
    ];
    args.extend_from_slice(extra);
    corestream(&args)
}

#[test]
fn on_error_fail_names_the_file_line_and_reason_of_each_kind() {
    for (i, (bad, reason)) in bad_lines().into_iter().enumerate() {
        let mut bytes = b"ts,station,temperature\n".to_vec();
        bytes.extend_from_slice(GOOD_1);
        bytes.extend_from_slice(&bad);
        bytes.extend_from_slice(GOOD_2);
        let file = temp_file(&format!("fail-{i}.csv"), bytes);
        let ran = run_malformed(file.str(), "fail", &[]);
        assert_eq!(ran.code, Some(1), "{}", ran.context());
        let expected = format!(
            "error: malformed record in {} at line 3: {reason}",
            file.str()
        );
        assert!(
            ran.stderr.contains(&expected),
            "stderr lacks {expected:?}\n{}",
            ran.context()
        );
    }
}

#[test]
fn on_error_skip_counts_every_kind_and_the_identity_holds() {
    let file = malformed_file("skip.csv");
    let ran = run_malformed(file.str(), "skip", &[]);
    ran.assert_success();
    assert_eq!(sorted_rows(&ran, "station,n"), ["A,1", "B,1"]);
    assert_eq!(
        accounting(&ran).counts(),
        (7, 2, 0, 0, 5, true),
        "{}",
        ran.context()
    );
}

#[test]
fn on_error_dead_letter_writes_each_record_with_its_reason() {
    let file = malformed_file("dead.csv");
    let dead = TempPath::new("dead-letter.txt");
    let ran = run_malformed(file.str(), &format!("dead-letter={}", dead.str()), &[]);
    ran.assert_success();
    assert_eq!(
        accounting(&ran).counts(),
        (7, 2, 0, 0, 5, true),
        "{}",
        ran.context()
    );
    let written = std::fs::read_to_string(&dead.0).expect("the dead-letter file exists");
    let raws = [
        "2026-01-01T00:00:01Z,B".to_owned(),
        "2026-01-01T00:00:02Z,A,abc".to_owned(),
        "2026-01-01T00:00:03Z,\\xFF\\xFE,2.0".to_owned(),
        // Only the first 64 bytes of the over-long record are kept.
        format!("2026-01-01T00:00:04Z,A,{}", "9".repeat(64 - 23)),
        "yesterday,B,3.0".to_owned(),
    ];
    let expected: Vec<String> = bad_lines()
        .iter()
        .zip(&raws)
        .enumerate()
        .map(|(i, ((_, reason), raw))| format!("{}\t{}\t{reason}\t{raw}", file.str(), i + 3))
        .collect();
    assert_eq!(written.lines().collect::<Vec<_>>(), expected);

    // The default place, with an output directory: DIR/dead-letter.txt.
    let out = TempPath::new("dead-out");
    let ran = run_malformed(file.str(), "dead-letter", &["--output", out.str()]);
    ran.assert_success();
    let written =
        std::fs::read_to_string(out.0.join("dead-letter.txt")).expect("DIR/dead-letter.txt");
    assert_eq!(written.lines().count(), 5);

    let ran = run_malformed(file.str(), "ignore", &[]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(ran.stderr.contains("dead-letter=PATH"), "{}", ran.context());
}

#[test]
fn a_quoted_field_left_open_does_not_eat_the_input() {
    // The open quote swallows the following lines into one record until the
    // bound; then reading starts afresh on the next line.
    let mut text = String::from("k,v\n\"open,1\n");
    for i in 0..20 {
        text.push_str(&format!("k{i},{i}\n"));
    }
    let options = TextOptions {
        max_line_bytes: 40,
        ..TextOptions::default()
    };
    let mut src = text_source(&text, &options).unwrap();
    let rows = drain(&mut src).unwrap();
    assert!(src.malformed() >= 1);
    assert!(!rows.is_empty(), "reading resumed after the bound");
    assert_eq!(rows.last().unwrap()[0], Value::Utf8("k19".into()));
}

// ---------------------------------------------------------------------------
// 3. JSON lines

fn json_source(
    text: &str,
    options: &TextOptions,
) -> Result<corestream::io::json::JsonSource, corestream::Error> {
    corestream::io::json::JsonSource::from_reader(
        "mem.jsonl",
        Box::new(std::io::Cursor::new(text.to_owned())),
        options,
    )
}

#[test]
fn json_lines_infer_a_schema_and_missing_fields_are_null() {
    let text = r#"{"station": "Hamburg", "temperature": 10, "at": "2026-01-01T00:00:00Z", "ok": true}
{"temperature": -2.5, "station": "Hamburg", "extra": [1, 2]}

{"station": "Bulawayo", "temperature": null, "ok": false}
"#;
    let mut src = json_source(text, &TextOptions::default()).unwrap();
    assert_eq!(
        types(src.schema()),
        [
            ("station".to_owned(), DataType::Utf8),
            ("temperature".to_owned(), DataType::Float64),
            ("at".to_owned(), DataType::Timestamp),
            ("ok".to_owned(), DataType::Bool),
            ("extra".to_owned(), DataType::Utf8),
        ]
    );
    let rows = drain(&mut src).unwrap();
    // "extra" has only an array: a VARCHAR column, which takes it as its JSON text.
    assert_eq!(src.malformed(), 0);
    assert_eq!(
        rows,
        [
            vec![
                Value::Utf8("Hamburg".into()),
                Value::Float64(10.0),
                Value::Timestamp(1_767_225_600_000),
                Value::Bool(true),
                Value::Null
            ],
            vec![
                Value::Utf8("Hamburg".into()),
                Value::Float64(-2.5),
                Value::Null,
                Value::Null,
                Value::Utf8("[1,2]".into())
            ],
            vec![
                Value::Utf8("Bulawayo".into()),
                Value::Null,
                Value::Null,
                Value::Bool(false),
                Value::Null
            ],
        ]
    );
}

#[test]
fn json_lines_malformed_records_say_why() {
    let options = TextOptions {
        schema: Some(parse_schema("k VARCHAR, n BIGINT, d DECIMAL(10,2)").unwrap()),
        on_error: OnError::Fail,
        max_line_bytes: 60,
        ..TextOptions::default()
    };
    let cases = [
        (
            r#"{"k": "a", "n": "7"}"#,
            "column n: expected BIGINT, found \"7\" (a string)",
        ),
        (
            r#"{"k": "a", "n": 1.5}"#,
            "column n: expected BIGINT, found 1.5 (a number)",
        ),
        (
            r#"{"k": "a", "n": true}"#,
            "column n: expected BIGINT, found true (a boolean)",
        ),
        ("[1, 2]", "not a JSON object"),
        (r#"{"k": "a", "#, "invalid JSON"),
        (
            r#"{"k": "a", "d": 1e40}"#,
            "column d: expected DECIMAL(10,2)",
        ),
        (
            r#"{"k": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}"#,
            "the record is longer than 60 bytes",
        ),
    ];
    for (line, reason) in cases {
        let text = format!("{{\"k\": \"ok\", \"n\": 1, \"d\": \"2.50\"}}\n{line}\n");
        let mut src = json_source(&text, &options).unwrap();
        let err = drain(&mut src).expect_err(line).to_string();
        assert!(
            err.contains("in mem.jsonl at line 2: ") && err.contains(reason),
            "{line}: {err}"
        );
    }
    let bytes: &[u8] = b"{\"k\": \"\xff\"}\n";
    let mut src = corestream::io::json::JsonSource::from_reader(
        "mem.jsonl",
        Box::new(std::io::Cursor::new(bytes)),
        &options,
    )
    .unwrap();
    let err = drain(&mut src).unwrap_err().to_string();
    assert!(err.contains("at line 1: invalid UTF-8 at byte 8"), "{err}");
}

#[test]
fn json_input_through_the_cli_by_extension_and_by_flag() {
    let text = "{\"station\": \"Hamburg\", \"temperature\": 10.5}\n\
{\"station\": \"Bulawayo\", \"temperature\": 8.25}\n\
{\"station\": \"Hamburg\", \"temperature\": -2.5}\n\
not json\n\
{\"station\": \"Hamburg\", \"temperature\": [1]}\n\
{\"station\": \"Hamburg\", \"temperature\": 7}\n";
    let jsonl = temp_file("m.jsonl", text);
    let txt = temp_file("m.txt", text);
    for (input, extra) in [(jsonl.str(), None), (txt.str(), Some("json"))] {
        let mut args = vec!["run", "--input", input, "--sql", ONE_BRC_SQL];
        if let Some(f) = extra {
            args.extend(["--input-format", f]);
        }
        let ran = corestream(&args);
        ran.assert_success();
        assert_eq!(
            sorted_rows(
                &ran,
                "station,MIN(temperature),AVG(temperature),MAX(temperature)"
            ),
            ["Bulawayo,8.25,8.25,8.25", "Hamburg,-2.5,5,10.5"]
        );
        assert_eq!(
            accounting(&ran).counts(),
            (6, 4, 0, 0, 2, true),
            "{}",
            ran.context()
        );
    }
    let ran = corestream(&["run", "--input", txt.str(), "--input-format", "xml"]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
}

// ---------------------------------------------------------------------------
// 4. Output formats

const TYPED_CSV: &str = "s,n,d,ts,b,x\n\
plain,1,12.50,2026-01-01T00:00:00Z,true,0.5\n\
\"say \"\"hi\"\", \\ back\",-7,-0.05,2026-01-01 00:00:01.250,false,-1e300\n\
\"multi\nline\ttab\x01ctl\",,,,,\n\
unicode é ✓,9223372036854775807,99999999.99,1970-01-01,true,3\n";

const TYPED_SCHEMA: &str =
    "s VARCHAR, n BIGINT, d DECIMAL(10,2), ts TIMESTAMP, b BOOLEAN, x DOUBLE";

/// Parses every line as a JSON object; returns them sorted by their text.
fn parse_json_lines(text: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut objects: Vec<_> = text
        .lines()
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(serde_json::Value::Object(o)) => o,
            other => panic!("not a JSON object line: {l:?}: {other:?}"),
        })
        .collect();
    objects.sort_by_key(|o| serde_json::Value::Object(o.clone()).to_string());
    objects
}

fn check_typed_objects(objects: &[serde_json::Map<String, serde_json::Value>]) {
    use serde_json::json;
    assert_eq!(objects.len(), 4);
    let by_s = |prefix: &str| {
        objects
            .iter()
            .find(|o| o["s"].as_str().is_some_and(|s| s.starts_with(prefix)))
            .unwrap_or_else(|| panic!("no row {prefix}"))
    };
    let plain = by_s("plain");
    assert_eq!(plain["n"], json!(1));
    assert_eq!(plain["d"], json!(12.5));
    assert_eq!(plain["ts"], json!("2026-01-01T00:00:00.000Z"));
    assert_eq!(plain["b"], json!(true));
    assert_eq!(plain["x"], json!(0.5));
    let quoted = by_s("say");
    assert_eq!(quoted["s"], json!("say \"hi\", \\ back"));
    assert_eq!(quoted["d"], json!(-0.05));
    assert_eq!(quoted["ts"], json!("2026-01-01T00:00:01.250Z"));
    assert_eq!(quoted["x"], json!(-1e300));
    let nulls = by_s("multi");
    assert_eq!(nulls["s"], json!("multi\nline\ttab\u{1}ctl"));
    for k in ["n", "d", "ts", "b", "x"] {
        assert_eq!(nulls[k], serde_json::Value::Null, "{k}");
    }
    let big = by_s("unicode");
    assert_eq!(big["s"], json!("unicode é ✓"));
    assert_eq!(big["n"], json!(i64::MAX));
    assert_eq!(big["d"].to_string(), "99999999.99");
    // Keys in the output schema's order.
    assert_eq!(
        big.keys().collect::<Vec<_>>().len(),
        6,
        "every column is a key"
    );
}

#[test]
fn json_output_on_stdout_and_in_part_files_is_valid_json() {
    let input = temp_file("typed.csv", TYPED_CSV);
    let ran = corestream(&[
        "run",
        "--input",
        input.str(),
        "--schema",
        TYPED_SCHEMA,
        "--output-format",
        "json",
        "--cores",
        "0-1",
        "--sql",
        "SELECT * FROM t",
    ]);
    ran.assert_success();
    check_typed_objects(&parse_json_lines(&ran.stdout));
    assert!(ran.stdout.starts_with("{\"s\":"), "{}", ran.context());

    let out = TempPath::new("json-out");
    let ran = corestream(&[
        "run",
        "--input",
        input.str(),
        "--schema",
        TYPED_SCHEMA,
        "--output-format",
        "json",
        "--output",
        out.str(),
        "--cores",
        "0-1",
        "--sql",
        "SELECT * FROM t",
    ]);
    ran.assert_success();
    let mut all = String::new();
    for shard in 0..2 {
        let part = out.0.join(format!("part-{shard}.jsonl"));
        all.push_str(&std::fs::read_to_string(&part).expect("a part file per shard"));
    }
    check_typed_objects(&parse_json_lines(&all));

    let ran = corestream(&["run", "--input", input.str(), "--output-format", "xml"]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
}

#[test]
fn json_output_of_an_aggregate_has_the_query_column_names() {
    let file = temp_file("1brc-json.txt", ONE_BRC);
    let ran = corestream(&[
        "run",
        "--input",
        file.str(),
        "--no-header",
        "--schema",
        "station VARCHAR, temperature DOUBLE",
        "--delimiter",
        ";",
        "--output-format",
        "json",
        "--sql",
        ONE_BRC_SQL,
    ]);
    ran.assert_success();
    let mut lines: Vec<&str> = ran.stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            r#"{"station":"Bulawayo","MIN(temperature)":8.25,"AVG(temperature)":9,"MAX(temperature)":9.75}"#,
            r#"{"station":"Hamburg","MIN(temperature)":-2.5,"AVG(temperature)":5,"MAX(temperature)":10.5}"#,
            r#"{"station":"Palembang","MIN(temperature)":38.5,"AVG(temperature)":38.5,"MAX(temperature)":38.5}"#,
            r#"{"station":"St. John's; NL","MIN(temperature)":-1.5,"AVG(temperature)":-1.5,"MAX(temperature)":-1.5}"#,
        ]
    );
}

// ---------------------------------------------------------------------------
// 5. TCP listener source

/// Connects to `addr`, retrying while the child starts listening.
// A child process gives no ring or doorbell to wait on before it listens, and
// a refused connect returns at once: a short pause between tries is the wait.
#[allow(clippy::disallowed_methods)]
fn connect(addr: &str) -> std::net::TcpStream {
    let started = std::time::Instant::now();
    loop {
        match std::net::TcpStream::connect(addr) {
            Ok(s) => return s,
            Err(e) if started.elapsed() > std::time::Duration::from_secs(30) => {
                panic!("cannot connect to {addr}: {e}")
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

#[test]
fn tcp_source_serves_two_clients_at_once_until_sigterm() {
    use std::io::{BufRead, BufReader, Write};
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let input = format!("tcp://{addr}");
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--input",
            &input,
            "--schema",
            "k VARCHAR, v BIGINT",
            "--cores",
            "0-1",
            "--sql",
            "SELECT k, v FROM t",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id() as libc::pid_t;
    // A hang fails the test instead of stalling the suite.
    let (disarm, armed) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if armed
            .recv_timeout(std::time::Duration::from_secs(60))
            .is_err()
        {
            // SAFETY: kill(2) takes plain integers; the child is not reaped
            // before the watchdog is disarmed, so `pid` still names it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });

    const PER_CLIENT: usize = 500;
    // Both clients are connected before either sends: they are served at once.
    let clients: Vec<std::net::TcpStream> = (0..2).map(|_| connect(&addr)).collect();
    let senders: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(c, mut stream)| {
            std::thread::spawn(move || {
                for i in 0..PER_CLIENT {
                    writeln!(stream, "c{c}k{},{i}", i % 7).expect("the source reads");
                    if i == PER_CLIENT / 2 {
                        stream.write_all(b"bad,notanumber\n").unwrap();
                    }
                }
                // The last record has no newline: it counts when the client closes.
                write!(stream, "c{c}last,{}", PER_CLIENT).unwrap();
            })
        })
        .collect();
    for s in senders {
        s.join().expect("a client sends");
    }
    let expected_rows = 2 * (PER_CLIENT + 1);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "k,v\n");
    let mut rows = Vec::new();
    while rows.len() < expected_rows {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "stdout ended early"
        );
        rows.push(line.trim_end().to_owned());
    }
    // SAFETY: as in the watchdog: plain integers, and the child is not reaped yet.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().expect("the child ends");
    let _ = disarm.send(());
    watchdog.join().unwrap();
    let ran = Ran {
        code: out.status.code(),
        stdout: rest,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(ran.code, Some(143), "{}", ran.context());
    assert!(ran.stdout.is_empty(), "{}", ran.context());
    assert!(rows.contains(&"c0last,500".to_owned()));
    assert!(rows.contains(&"c1k1,498".to_owned()));
    assert_eq!(
        accounting(&ran).counts(),
        (
            expected_rows as u64 + 2,
            expected_rows as u64,
            0,
            0,
            2,
            true
        ),
        "{}",
        ran.context()
    );
    assert!(
        ran.stderr.contains("stopped by SIGTERM"),
        "{}",
        ran.context()
    );
}

#[test]
fn tcp_source_needs_declared_columns() {
    let ran = corestream(&["run", "--input", "tcp://127.0.0.1:0"]);
    assert_eq!(ran.code, Some(2), "{}", ran.context());
    assert!(
        ran.stderr.contains("declare the columns"),
        "{}",
        ran.context()
    );
}
