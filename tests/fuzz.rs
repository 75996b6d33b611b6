//! Fuzz-style properties of the front ends: arbitrary bytes through the CSV
//! and JSON lines sources, arbitrary text and SQL token soup through parse and
//! plan. Bad input gets errors, never a panic (STYLE.md, "Errors").
//!
//! Beyond "no panic", each property checks what can be checked cheaply:
//! - sources: every batch has one column per field, of the field's type and
//!   the batch's length; a run ends (`Poll::End` or an error) within a bounded
//!   number of polls; every record is decoded or counted as malformed (exactly,
//!   where records can be counted from the bytes: no quotes and no CR in CSV,
//!   any bytes in JSON lines); the dead-letter file names each malformed
//!   record's line, and "too long" only for lines over the bound;
//! - the JSON decoder agrees with a small oracle on values whose verdict is
//!   certain, and appends nothing when it rejects a line;
//! - SQL: every parse and plan error carries the query text and a line and
//!   column inside it, and renders with a caret.
//!
//! Cases are sized to keep `cargo test --release --test fuzz` to a few seconds;
//! raise them locally with `PROPTEST_CASES=...` for a longer hunt.

use corestream::data::{Batch, DataType, Schema, Value};
use corestream::io::json::{JsonDecoder, JsonSource};
use corestream::io::source::{Poll, Source};
use corestream::io::text::{parse_schema, OnError, TextOptions, TextSource};
use corestream::sql::{parse, plan_query};
use corestream::{Error, SqlError};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Number, Value as Json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The declared schema the brief names for the CSV source.
const CSV_SCHEMA: &str = "a BIGINT, b DOUBLE, c VARCHAR, d TIMESTAMP, e DECIMAL(10,2)";
/// The JSON schema adds a BOOLEAN, which JSON has a literal for.
const JSON_SCHEMA: &str = "a BIGINT, b DOUBLE, c VARCHAR, d TIMESTAMP, e DECIMAL(10,2), f BOOLEAN";

type TestResult<T = ()> = Result<T, TestCaseError>;

// ---------------------------------------------------------------------------
// Options and draining a source
// ---------------------------------------------------------------------------

/// How malformed records are handled in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Skip,
    Fail,
    /// Skip, and write them to a dead-letter file the property then reads.
    DeadLetter,
}

/// The options of one case, before a dead-letter path is chosen.
#[derive(Debug, Clone)]
struct Case {
    header: bool,
    declared: bool,
    delimiter: u8,
    policy: Policy,
    max_line_bytes: usize,
    max_rows: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec![b',', b';']),
        prop::sample::select(vec![Policy::Skip, Policy::Fail, Policy::DeadLetter]),
        prop::sample::select(vec![1usize, 8, 40, 1 << 20]),
        prop::sample::select(vec![1usize, 3, 1024]),
    )
        .prop_map(
            |(header, declared, delimiter, policy, max_line_bytes, max_rows)| Case {
                header,
                declared,
                delimiter,
                policy,
                max_line_bytes,
                max_rows,
            },
        )
}

/// A dead-letter file unique to this process and case, removed when dropped.
struct DeadLetter(PathBuf);

impl DeadLetter {
    fn new() -> DeadLetter {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        DeadLetter(
            std::env::temp_dir().join(format!("corestream-fuzz-{}-{n}.txt", std::process::id())),
        )
    }

    /// The (line, reason) of each rejected record, in file order.
    fn records(&self) -> Vec<(u64, String)> {
        let text = std::fs::read(&self.0).unwrap_or_default();
        String::from_utf8_lossy(&text)
            .lines()
            .map(|l| {
                let mut parts = l.splitn(4, '\t');
                let _source = parts.next();
                let line = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                (line, parts.next().unwrap_or_default().to_owned())
            })
            .collect()
    }
}

impl Drop for DeadLetter {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Case {
    fn options(&self, schema: &str, dead_letter: Option<&DeadLetter>) -> TextOptions {
        TextOptions {
            header: self.header,
            schema: self
                .declared
                .then(|| parse_schema(schema).expect("the test schema parses")),
            delimiter: self.delimiter,
            on_error: match self.policy {
                Policy::Skip => OnError::Skip,
                Policy::Fail => OnError::Fail,
                Policy::DeadLetter => {
                    OnError::DeadLetter(Some(dead_letter.expect("a dead-letter file").0.clone()))
                }
            },
            max_line_bytes: self.max_line_bytes,
            ..TextOptions::default()
        }
    }
}

/// What polling a source to its end gave.
struct Drained {
    rows: u64,
    malformed: u64,
    error: Option<Error>,
}

/// Polls `source` until `Poll::End` or an error, checking each batch, and
/// failing if it takes more than `max_polls` polls (a run that never ends).
fn drain(source: &mut dyn Source, max_rows: usize, max_polls: usize) -> TestResult<Drained> {
    let schema = source.schema().clone();
    prop_assert!(!schema.is_empty(), "a source opened with no columns");
    let mut rows = 0u64;
    let mut polls = 0usize;
    let error = loop {
        polls += 1;
        prop_assert!(polls <= max_polls, "no end after {max_polls} polls");
        match source.poll(max_rows, None) {
            Ok(Poll::Batch(batch)) => {
                check_batch(&batch, &schema, max_rows)?;
                rows += batch.len as u64;
            }
            Ok(Poll::End) => {
                // The end stays the end.
                prop_assert!(
                    matches!(source.poll(max_rows, None), Ok(Poll::End)),
                    "a poll after the end did not return End"
                );
                break None;
            }
            Ok(Poll::Idle) => prop_assert!(false, "Idle from a reader without a deadline"),
            Err(e) => {
                // Errors render.
                let _ = e.to_string();
                break Some(e);
            }
        }
    };
    Ok(Drained {
        rows,
        malformed: source.malformed(),
        error,
    })
}

/// A batch is 1..=max_rows rows, one column per field, each of the field's
/// type and the batch's length.
fn check_batch(batch: &Batch, schema: &Schema, max_rows: usize) -> TestResult {
    prop_assert!(
        batch.len > 0 && batch.len <= max_rows,
        "batch of {} rows",
        batch.len
    );
    prop_assert_eq!(batch.columns.len(), schema.len());
    for (c, f) in batch.columns.iter().zip(&schema.fields) {
        prop_assert_eq!(c.len(), batch.len, "column {} length", &f.name);
        prop_assert_eq!(c.data_type(), f.data_type, "column {} type", &f.name);
    }
    Ok(())
}

/// The lines of `input` as a line reader sees them: split at `\n`, without
/// the empty piece after a final newline.
fn physical_lines(input: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// The checks every source run gets when records can be counted: `data` holds
/// the 1-based line numbers that are records (header and blank lines left out).
fn check_counts(
    run: &Drained,
    case: &Case,
    lines: &[&[u8]],
    data: &[u64],
    dead_letter: Option<&DeadLetter>,
) -> TestResult {
    let records = data.len() as u64;
    match (&run.error, case.policy) {
        (None, _) => prop_assert_eq!(
            run.rows + run.malformed,
            records,
            "decoded {} + malformed {} != {} records (data lines {:?})",
            run.rows,
            run.malformed,
            records,
            data
        ),
        (Some(Error::Input { line, reason, .. }), Policy::Fail) => {
            prop_assert!(
                run.rows < records,
                "failed after decoding every record: {reason}"
            );
            check_rejected(*line, reason, case, lines, data)?;
        }
        (Some(e), _) => prop_assert!(false, "unexpected error while reading: {e}"),
    }
    if let (Some(dl), Policy::DeadLetter) = (dead_letter, case.policy) {
        let rejected = dl.records();
        prop_assert_eq!(rejected.len() as u64, run.malformed);
        prop_assert!(
            rejected.windows(2).all(|w| w[0].0 <= w[1].0),
            "dead-letter lines out of order: {:?}",
            rejected
        );
        for (line, reason) in &rejected {
            check_rejected(*line, reason, case, lines, data)?;
        }
    }
    Ok(())
}

/// A rejected record names a record's line, and is "too long" only when that
/// line is over the bound.
fn check_rejected(
    line: u64,
    reason: &str,
    case: &Case,
    lines: &[&[u8]],
    data: &[u64],
) -> TestResult {
    prop_assert!(
        data.contains(&line),
        "rejected line {line} is not a record ({reason}); records are on {data:?}"
    );
    if reason.contains("max_line_bytes") {
        let len = lines[line as usize - 1].len();
        prop_assert!(
            len > case.max_line_bytes,
            "line {line} of {len} bytes rejected as longer than {}",
            case.max_line_bytes
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

/// One piece of a CSV input; delimiters are rendered with the case's.
#[derive(Debug, Clone)]
enum Piece {
    Bytes(Vec<u8>),
    Delimiter,
    /// The delimiter the case does not use (`;` for `,` and back).
    OtherDelimiter,
    /// A record of five fields shaped for the declared schema, with its newline.
    Row(Vec<Vec<u8>>),
}

fn field_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        any::<f64>().prop_map(|x| x.to_string().into_bytes()),
        prop::sample::select(vec![
            "99999999999999999999",
            "-",
            "+",
            ".",
            "-.5",
            "1.2.3",
            "123.456",
            "99999999.995",
            "1e400",
            "NaN",
            "inf",
            " 7 ",
            "2026-01-01T00:00:00Z",
            "2026-01-01 00:00:00.250",
            "1970-01-01",
            "2026-13-45",
            "+275760-09-13T00:00:00Z",
            "true",
            "t",
            "é",
            "\u{feff}x",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        "[a-z ]{0,12}".prop_map(String::into_bytes),
        // Quoted, with delimiters, quotes and newlines inside.
        "[a-z,; \n\"]{0,10}".prop_map(|s| format!("\"{}\"", s.replace('"', "\"\"")).into_bytes()),
        prop::sample::select(vec!["\"open", "a\"b", "\"a\"b", "\"\"\"", "\0", "\r"])
            .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..12),
        (b'a'..=b'z', 50usize..300).prop_map(|(c, n)| vec![c; n]),
    ]
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        3 => field_text().prop_map(Piece::Bytes),
        3 => Just(Piece::Delimiter),
        1 => Just(Piece::OtherDelimiter),
        2 => prop::sample::select(vec![&b"\n"[..], b"\n", b"\r\n", b"\r", b"\"", b"\n\n"])
            .prop_map(|b| Piece::Bytes(b.to_vec())),
        3 => prop::collection::vec(field_text(), 5).prop_map(Piece::Row),
    ]
}

/// The first line of a CSV input.
#[derive(Debug, Clone, Copy)]
enum Header {
    None,
    /// `a,b,c,d,e`: matches the declared schema.
    Declared,
    /// The trades columns, which take the trades schema when not declared.
    Trades,
    Mismatched,
}

fn header() -> impl Strategy<Value = Header> {
    prop::sample::select(vec![
        Header::None,
        Header::Declared,
        Header::Declared,
        Header::Trades,
        Header::Mismatched,
    ])
}

fn render_csv(header: Header, pieces: &[Piece], delimiter: u8) -> Vec<u8> {
    let other = if delimiter == b',' { b';' } else { b',' };
    let names: &[&str] = match header {
        Header::None => &[],
        Header::Declared => &["a", "b", "c", "d", "e"],
        Header::Trades => &["event_time", "trader_id", "symbol", "price", "quantity"],
        Header::Mismatched => &["a", "x"],
    };
    let mut out = names.join(&(delimiter as char).to_string()).into_bytes();
    if !names.is_empty() {
        out.push(b'\n');
    }
    for p in pieces {
        match p {
            Piece::Bytes(b) => out.extend_from_slice(b),
            Piece::Delimiter => out.push(delimiter),
            Piece::OtherDelimiter => out.push(other),
            Piece::Row(fields) => {
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(delimiter);
                    }
                    out.extend_from_slice(f);
                }
                out.push(b'\n');
            }
        }
    }
    out
}

fn open_csv(input: Vec<u8>, options: &TextOptions) -> Result<TextSource, Error> {
    TextSource::from_reader("fuzz.csv", Box::new(std::io::Cursor::new(input)), options)
}

/// Opens and drains a CSV source over `input`, checking what holds for any
/// bytes; `None` when it does not open (an error, which must render).
fn run_csv(
    input: &[u8],
    case: &Case,
    dead_letter: Option<&DeadLetter>,
) -> TestResult<Option<Drained>> {
    let options = case.options(CSV_SCHEMA, dead_letter);
    let mut source = match open_csv(input.to_vec(), &options) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return Ok(None);
        }
    };
    let newlines = input.iter().filter(|&&b| b == b'\n').count();
    let terminators = input.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    let run = drain(&mut source, case.max_rows, terminators + 3)?;
    // Every record but the last ends at a CR or LF.
    prop_assert!(
        run.rows + run.malformed <= terminators as u64 + 1,
        "{} records from {} lines",
        run.rows + run.malformed,
        newlines + 1
    );
    Ok(Some(run))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any bytes, including quotes, CR, NUL and invalid UTF-8: no panic, batch
    /// shapes hold, the run ends.
    #[test]
    fn csv_any_bytes_never_panic(
        header in header(),
        pieces in prop::collection::vec(piece(), 0..40),
        case in case(),
    ) {
        let input = render_csv(header, &pieces, case.delimiter);
        let dl = DeadLetter::new();
        run_csv(&input, &case, Some(&dl))?;
    }

    /// Raw random bytes, no structure at all.
    #[test]
    fn csv_raw_bytes_never_panic(
        input in prop::collection::vec(any::<u8>(), 0..600),
        case in case(),
    ) {
        let dl = DeadLetter::new();
        run_csv(&input, &case, Some(&dl))?;
    }

    /// Without quotes, records can be counted from the bytes: CR, LF and CRLF
    /// end records, blank ones are skipped, and a line over the bound is one
    /// malformed record. So decoded + malformed = records (Skip), the failing
    /// line holds a record (Fail), and the dead-letter file names such lines.
    #[test]
    fn csv_records_are_decoded_or_counted(
        header in header(),
        pieces in prop::collection::vec(piece(), 0..40),
        case in case(),
    ) {
        let mut input = render_csv(header, &pieces, case.delimiter);
        input.retain(|&b| b != b'"');
        let dl = DeadLetter::new();
        let Some(run) = run_csv(&input, &case, Some(&dl))? else {
            return Ok(());
        };
        let lines = physical_lines(&input);
        // The line of each record, once per record.
        let mut data: Vec<u64> = Vec::new();
        for (n, line) in (1..).zip(&lines) {
            let records = if line.len() > case.max_line_bytes {
                1
            } else {
                line.split(|&b| b == b'\r').filter(|r| !r.is_empty()).count()
            };
            data.extend(std::iter::repeat_n(n, records));
        }
        if case.header {
            data.remove(0);
        }
        check_counts(&run, &case, &lines, &data, Some(&dl))?;
    }
}

/// Every row (as values), the malformed count, the error text and the
/// dead-letter records of a CSV source over `input`.
type Decoded = (Vec<Vec<Value>>, u64, Option<String>, Vec<(u64, String)>);

fn decode_all(input: &[u8], case: &Case) -> Decoded {
    let dl = DeadLetter::new();
    let options = case.options(CSV_SCHEMA, Some(&dl));
    let mut source = match open_csv(input.to_vec(), &options) {
        Ok(s) => s,
        Err(e) => return (Vec::new(), 0, Some(e.to_string()), Vec::new()),
    };
    let mut rows = Vec::new();
    let error = loop {
        match source.poll(case.max_rows, None) {
            Ok(Poll::Batch(b)) => {
                rows.extend((0..b.len).map(|r| b.columns.iter().map(|c| c.value(r)).collect()))
            }
            Ok(Poll::End) => break None,
            Ok(Poll::Idle) => break Some("idle".to_owned()),
            Err(e) => break Some(e.to_string()),
        }
    };
    let malformed = source.malformed();
    drop(source);
    (rows, malformed, error, dl.records())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Lines decoded straight from the read buffer (a record bound of at
    /// least the buffer) give exactly what the record path gives (a smaller
    /// bound, not reached by these lines): rows, counts, errors, dead letters.
    #[test]
    fn csv_simple_lines_decode_as_the_record_path_does(
        header in header(),
        pieces in prop::collection::vec(piece(), 0..40),
        case in case(),
    ) {
        let input = render_csv(header, &pieces, case.delimiter);
        let fast = Case { max_line_bytes: 1 << 20, ..case.clone() };
        let record_path = Case { max_line_bytes: 60_000, ..case };
        let (a, b) = (decode_all(&input, &fast), decode_all(&input, &record_path));
        // As text: a NaN field is not equal to itself.
        prop_assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}

// ---------------------------------------------------------------------------
// JSON lines
// ---------------------------------------------------------------------------

fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "x",
            "12",
            "-3.25",
            "1e3",
            "123.456",
            "99999999.995",
            "99999999999999999999",
            "2026-01-01T00:00:00Z",
            "2026-01-01 00:00:00.250",
            "1970-01-01",
            "2026-13-45",
            "true",
            "\u{0}",
            "\n",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            i64::MAX,
            i64::MIN,
            99_999_999,
            100_000_000
        ])
        .prop_map(Json::from),
        any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(Json::Number)),
        prop::sample::select(vec![0.5f64, -0.005, 1e-7, 1e300, 12345678.9])
            .prop_map(|x| Json::Number(Number::from_f64(x).expect("finite"))),
        json_string().prop_map(Json::String),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

/// Member names: the schema's, other cases of them, and others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "c", "d", "e", "f", "A", "B", "E", "F", "g", ""])
            .prop_map(str::to_owned),
        1 => "[a-zA-Z_]{1,4}",
    ]
}

fn json_object() -> impl Strategy<Value = Map<String, Json>> {
    prop::collection::vec((key(), json_value()), 0..8).prop_map(|kv| kv.into_iter().collect())
}

/// A line of a JSON lines input (without its newline).
fn json_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => json_object().prop_map(|o| serde_json::to_vec(&o).expect("serializes")),
        1 => json_value().prop_map(|v| serde_json::to_vec(&v).expect("serializes")),
        1 => prop::sample::select(vec![
            "", " ", "\t \r", "{", "{\"a\":", "{\"a\": 1,}", "{\"a\": 1} x", "{}", "null",
            "{\"a\": 1e999}", "{\"a\": 1}\r", "\u{feff}{}", "{\"a\": \"\\ud800\"}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => (b' '..=b'~', 50usize..200).prop_map(|(c, n)| vec![c; n]),
    ]
}

fn open_json(input: Vec<u8>, options: &TextOptions) -> Result<JsonSource, Error> {
    JsonSource::from_reader("fuzz.jsonl", Box::new(std::io::Cursor::new(input)), options)
}

/// Opens and drains a JSON source; a record is a line that is over the bound
/// or not all ASCII whitespace, so records are counted for any bytes.
fn run_json(input: &[u8], case: &Case) -> TestResult {
    let dl = DeadLetter::new();
    let options = case.options(JSON_SCHEMA, Some(&dl));
    let mut source = match open_json(input.to_vec(), &options) {
        Ok(s) => s,
        Err(e) => {
            let _ = e.to_string();
            return Ok(());
        }
    };
    let lines = physical_lines(input);
    let data: Vec<u64> = (1..=lines.len() as u64)
        .filter(|&n| {
            let l = lines[n as usize - 1];
            l.len() > case.max_line_bytes || !l.iter().all(u8::is_ascii_whitespace)
        })
        .collect();
    let run = drain(&mut source, case.max_rows, lines.len() + 3)?;
    check_counts(&run, case, &lines, &data, Some(&dl))
}

/// The decoder's verdict on `object` when it is certain from the JSON types
/// alone: `Some(true)` decodes, `Some(false)` is malformed, `None` depends on
/// the text (timestamps, decimals). With the expected row when it decodes.
fn oracle(object: &Map<String, Json>, schema: &Schema) -> Option<Result<Vec<Value>, ()>> {
    let mut row = Vec::new();
    let mut certain = true;
    for f in &schema.fields {
        // Exactly, else the first member whose name matches ignoring ASCII case.
        let v = object.get(&f.name).or_else(|| {
            object
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&f.name))
                .map(|(_, v)| v)
        });
        let expected = match (f.data_type, v) {
            (_, None | Some(Json::Null)) => Some(Value::Null),
            (DataType::Utf8, Some(Json::String(s))) => Some(Value::Utf8(s.clone())),
            // VARCHAR takes any other value as its JSON text.
            (DataType::Utf8, Some(v)) => Some(Value::Utf8(v.to_string())),
            (_, Some(Json::Array(_) | Json::Object(_))) => return Some(Err(())),
            (DataType::Int64, Some(Json::Number(n))) => match n.as_i64() {
                Some(i) => Some(Value::Int64(i)),
                None => return Some(Err(())),
            },
            (DataType::Float64, Some(Json::Number(n))) => Some(Value::Float64(n.as_f64()?)),
            (DataType::Bool, Some(Json::Bool(b))) => Some(Value::Bool(*b)),
            (DataType::Timestamp, Some(Json::Number(n))) => match n.as_i64() {
                Some(i) => Some(Value::Timestamp(i)),
                None => return Some(Err(())),
            },
            (DataType::Timestamp, Some(Json::String(_))) => None,
            (DataType::Decimal { .. }, Some(Json::Number(_) | Json::String(_))) => None,
            // Every other pairing is a wrong type.
            _ => return Some(Err(())),
        };
        match expected {
            Some(v) => row.push(v),
            None => certain = false,
        }
    }
    certain.then_some(Ok(row))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any bytes, split into lines: no panic, shapes hold, every record is
    /// decoded or counted, rejections name records.
    #[test]
    fn json_any_bytes_are_decoded_or_counted(
        input in prop::collection::vec(any::<u8>(), 0..600),
        case in case(),
    ) {
        run_json(&input, &case)?;
    }

    /// Lines of JSON, mostly objects with members of the wrong type.
    #[test]
    fn json_lines_are_decoded_or_counted(
        lines in prop::collection::vec(json_line(), 0..30),
        trailing_newline in any::<bool>(),
        case in case(),
    ) {
        let mut input = lines.join(&b'\n');
        if trailing_newline {
            input.push(b'\n');
        }
        run_json(&input, &case)?;
    }

    /// The decoder on one object: agrees with the oracle where it is certain,
    /// and a rejected line appends nothing.
    #[test]
    fn json_decoder_agrees_with_the_oracle(objects in prop::collection::vec(json_object(), 1..8)) {
        let schema = parse_schema(JSON_SCHEMA).expect("the test schema parses");
        let mut decoder = JsonDecoder::new(schema.clone());
        let mut batch = Batch::with_capacity(&schema, 8);
        for object in &objects {
            let line = serde_json::to_vec(object).expect("serializes");
            let before = batch.len;
            let got = decoder.decode(&line, &mut batch);
            prop_assert!(
                batch.columns.iter().all(|c| c.len() == batch.len),
                "column lengths differ from the batch's after {:?}", got
            );
            match &got {
                Ok(()) => prop_assert_eq!(batch.len, before + 1),
                Err(_) => prop_assert_eq!(batch.len, before, "a rejected line appended a row"),
            }
            match (oracle(object, &schema), got) {
                (None, _) => {}
                (Some(Ok(row)), Ok(())) => {
                    let decoded: Vec<Value> =
                        batch.columns.iter().map(|c| c.value(before)).collect();
                    prop_assert_eq!(decoded, row, "line {}", String::from_utf8_lossy(&line));
                }
                (Some(Ok(_)), Err(reason)) => prop_assert!(
                    false,
                    "rejected {}: {reason}",
                    String::from_utf8_lossy(&line)
                ),
                (Some(Err(())), Ok(())) => prop_assert!(
                    false,
                    "accepted {}",
                    String::from_utf8_lossy(&line)
                ),
                (Some(Err(())), Err(_)) => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------

/// Words and symbols SQL soup is made of.
const TOKENS: &[&str] = &[
    // Keywords and clauses.
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "AS",
    "OVER",
    "PARTITION",
    "PARTITION BY",
    "ROWS",
    "RANGE",
    "BETWEEN",
    "AND",
    "OR",
    "NOT",
    "PRECEDING",
    "FOLLOWING",
    "CURRENT ROW",
    "UNBOUNDED",
    "EMIT",
    "CHANGES",
    "FINAL",
    "WINDOW",
    "TUMBLING",
    "SLIDING",
    "HOPPING",
    "SESSION",
    "TUMBLE",
    "HOP",
    "BUFFER",
    "CREATE",
    "STREAM",
    "TABLE",
    "WITH",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "LIKE",
    "ILIKE",
    "ESCAPE",
    "IN",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "DISTINCT",
    "INTERVAL",
    "MINUTE",
    "SECOND",
    "HOUR",
    "DAY",
    "CAST",
    "EXTRACT",
    "YEAR",
    "LIMIT",
    "UNION",
    "JOIN",
    "ON",
    "event_time",
    "watermark",
    // Functions.
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "STDDEV",
    "ROW_NUMBER",
    "RANK",
    "LAG",
    "COALESCE",
    "NULLIF",
    "CONCAT",
    "UPPER",
    "ROUND",
    "ABS",
    "DATE_TRUNC",
    "window_start",
    "window_end",
    // Identifiers: the trades columns, the stream, and unknowns.
    "trader_id",
    "symbol",
    "price",
    "quantity",
    "trades",
    "t",
    "x",
    "\"Price\"",
    "trades.price",
    "BIGINT",
    "DOUBLE",
    "VARCHAR",
    "TIMESTAMP",
    "DECIMAL(10,2)",
    // Literals.
    "0",
    "1",
    "-1",
    "2.5",
    "1e3",
    "1e999",
    "99999999999999999999999",
    "9223372036854775808",
    "'a'",
    "''",
    "'%x_'",
    "'1'",
    "'5 minutes'",
    "'1m'",
    "'5s'",
    "'event_time'",
    "'",
    "\"",
    "1m",
    "5s",
    "0s",
    "500ms",
    "X'0A'",
    "$1",
    "?",
    // Punctuation and operators.
    "(",
    ")",
    "(",
    ")",
    ",",
    ",",
    ";",
    "*",
    "+",
    "-",
    "/",
    "%",
    "=",
    "<>",
    "!=",
    "<",
    ">=",
    "||",
    ".",
    "::",
    "[",
    "]",
    "\n",
    "--",
    "/*",
];

/// Queries that plan, for mutations to start from.
const SEEDS: &[&str] = &[
    "SELECT symbol, price FROM trades WHERE price > 10",
    "SELECT symbol, COUNT(*) AS n, AVG(price) FROM trades GROUP BY symbol EMIT FINAL",
    "SELECT symbol, window_start, COUNT(*) FROM trades GROUP BY symbol WINDOW TUMBLING(5s)",
    "SELECT symbol, COUNT(*) FROM trades GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' MINUTE) EMIT CHANGES",
    "SELECT AVG(price) OVER (PARTITION BY symbol ORDER BY event_time ROWS BETWEEN 9 PRECEDING AND CURRENT ROW) FROM trades",
    "SELECT AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY event_time) FROM trades",
    "SELECT CASE WHEN price > 10 THEN 'hi' ELSE 'lo' END, symbol LIKE 'A%', quantity IN (1, 2), price BETWEEN 1 AND 2 FROM trades",
    "CREATE STREAM trades (event_time BIGINT, trader_id VARCHAR, symbol VARCHAR, price DOUBLE, quantity BIGINT) WITH (event_time = 'event_time', watermark = '5s'); SELECT symbol, COUNT(*) FROM trades GROUP BY symbol WINDOW SESSION(30s) EMIT FINAL",
];

/// A sequence of soup tokens joined by whitespace (or nothing).
fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(TOKENS),
            prop::sample::select(vec![" ", " ", " ", "", "\n", "\t", "\r\n"]),
        ),
        0..40,
    )
    .prop_map(|parts| parts.into_iter().flat_map(|(t, s)| [t, s]).collect())
}

/// A seed query with tokens replaced, inserted or removed.
fn mutated() -> impl Strategy<Value = String> {
    (
        prop::sample::select(SEEDS),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                0..3u8,
                prop::sample::select(TOKENS),
            ),
            1..4,
        ),
    )
        .prop_map(|(seed, edits)| {
            let mut words: Vec<&str> = seed.split(' ').collect();
            for (at, op, token) in edits {
                let i = at.index(words.len() + 1);
                match op {
                    0 if i < words.len() => words[i] = token,
                    1 if i < words.len() => {
                        words.remove(i);
                    }
                    _ => words.insert(i, token),
                }
            }
            words.join(" ")
        })
}

/// Parses and plans `sql` against the trades schema; every error must carry
/// the text and a location inside it, and render with a caret there.
fn check_sql(sql: &str) -> TestResult {
    let schema = corestream::io::generator::trades_schema();
    let result = parse(sql).and_then(|parsed| plan_query(&parsed, None, &schema).map(|_| ()));
    if let Err(e) = result {
        check_location(&e, sql)?;
    }
    Ok(())
}

fn check_location(e: &SqlError, sql: &str) -> TestResult {
    let rendered = e.to_string();
    prop_assert_eq!(&e.sql, sql, "the error does not carry the query text");
    // Lines as the tokenizer counts them: the end of a text that ends in a
    // newline is on an empty last line.
    let lines: Vec<&str> = sql
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    prop_assert!(
        e.line >= 1 && e.line <= lines.len(),
        "line {} outside the {} lines of {sql:?}: {rendered}",
        e.line,
        lines.len()
    );
    let width = lines[e.line - 1].chars().count();
    prop_assert!(
        e.column >= 1 && e.column <= width + 1,
        "column {} outside line {} ({width} chars) of {sql:?}: {rendered}",
        e.column,
        e.line
    );
    prop_assert!(
        rendered.ends_with('^'),
        "no caret in the rendering: {rendered}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn sql_any_text_gets_located_errors(sql in any::<String>()) {
        check_sql(&sql)?;
    }

    #[test]
    fn sql_ascii_punctuation_gets_located_errors(sql in "[a-z0-9_ ,;()'\"*+\\-/<>=.\n\t]{0,80}") {
        check_sql(&sql)?;
    }

    #[test]
    fn sql_token_soup_gets_located_errors(sql in soup()) {
        check_sql(&sql)?;
    }

    #[test]
    fn sql_mutated_queries_get_located_errors(sql in mutated()) {
        check_sql(&sql)?;
    }
}

/// The seeds plan: the mutation property starts from queries that reach the
/// planner's deep paths, not from syntax errors.
#[test]
fn sql_seeds_plan() {
    let schema = corestream::io::generator::trades_schema();
    for sql in SEEDS {
        let parsed = parse(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        plan_query(&parsed, None, &schema).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Parses and plans `sql` against the trades schema on a thread with a test
/// thread's default stack (2 MiB). Bad SQL must give an error; a stack
/// overflow would abort the whole process (the parser bounds nesting and the
/// number of operators so that it cannot).
fn parse_and_plan_on_a_test_thread_stack(sql: String) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || check_sql(&sql).map_err(|e| e.to_string()))
        .expect("spawns")
        .join()
        .expect("no panic")
        .expect("errors are located");
}

#[test]
fn sql_a_long_operator_chain_is_an_error_not_a_stack_overflow() {
    parse_and_plan_on_a_test_thread_stack(format!(
        "SELECT price{} FROM trades",
        " + 1".repeat(50_000)
    ));
}

#[test]
fn sql_nested_nots_are_an_error_not_a_stack_overflow() {
    parse_and_plan_on_a_test_thread_stack(format!(
        "SELECT price FROM trades WHERE {}price > 1",
        "NOT ".repeat(40)
    ));
}
