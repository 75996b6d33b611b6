//! JSON lines sources: one JSON object per line, fields taken by name.
//!
//! # Columns
//! Declared ([`TextOptions::schema`]), or inferred from the first 1000 lines
//! (from a pipe, those within [`lines::INFER_WAIT`] of the first): the
//! keys in order of first appearance; integers are BIGINT, other numbers DOUBLE
//! (an integer and a float widen to DOUBLE), strings VARCHAR (TIMESTAMP when
//! every sampled one is ISO 8601 text, as the CSV inference does), booleans
//! BOOLEAN; arrays and objects say nothing (no column type but VARCHAR holds
//! them, and a stray one should not turn a numeric column into text), and a
//! key with no other value is VARCHAR. Other mixes are VARCHAR.
//!
//! # Records
//! A key is matched to a column by name (exactly, else ignoring ASCII case);
//! a missing key or `null` is NULL; keys not in the schema are ignored. A value
//! of the wrong type (a string or a boolean for a BIGINT, an array for a
//! DOUBLE ...), a line that is not a JSON object, invalid JSON or UTF-8, and a line
//! over [`TextOptions::max_line_bytes`] are malformed and go to the `on_error`
//! policy. BIGINT takes an integer; DOUBLE any number; DECIMAL a number or a
//! numeric string, exactly; TIMESTAMP an ISO 8601 string or integer epoch
//! milliseconds; VARCHAR a string, or any other value as its JSON text (a
//! number as serde_json writes it: `7`, `1.5`; `true`; `[1,2]`). Blank lines
//! are skipped.
//!
//! Inference never gives a type that rejects a scalar value it sampled: each
//! type [`type_of`] gives is taken by [`convert`] for the value that gave it,
//! and a mix widens only to DOUBLE (which takes every number) or to VARCHAR
//! (which takes every value). A sampled array or object is rejected only by
//! a column its other values made BIGINT, DOUBLE, BOOLEAN or TIMESTAMP.

use super::counted::CountedReader;
use super::late::{self, RecordText};
use super::lines::{self, Input, LineRead};
use super::parse::{parse_decimal, parse_timestamp};
use super::reject::Rejects;
use super::source::{Poll, Source};
use super::split::Part;
use super::text::TextOptions;
use crate::checkpoint::SourcePosition;
use crate::data::{Batch, BatchPool, DataType, Field, Schema, Value};
use crate::error::Error;
use serde_json::Value as Json;
use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::RawFd;
use std::time::Instant;

/// Lines read to infer column types.
const INFER_ROWS: usize = 1_000;

/// A JSON object's members in the order they appear (serde_json's `Map` sorts
/// them without its `preserve_order` feature).
struct Object(Vec<(String, Json)>);

impl<'de> serde::Deserialize<'de> for Object {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Object;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Object, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(member) = map.next_entry::<String, Json>()? {
                    members.push(member);
                }
                Ok(Object(members))
            }
        }
        d.deserialize_map(Members)
    }
}

impl Object {
    /// The member called `name`: exactly, else ignoring ASCII case.
    fn get(&self, name: &str) -> Option<&Json> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v)
    }
}

/// Decodes one JSON object line into a row of a schema.
#[derive(Debug, Clone)]
pub struct JsonDecoder {
    schema: Schema,
    row: Vec<Value>,
}

impl JsonDecoder {
    pub fn new(schema: Schema) -> JsonDecoder {
        JsonDecoder {
            schema,
            row: Vec::new(),
        }
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Appends the row `line` holds to `batch`, or says why it cannot.
    /// Appends nothing on failure.
    pub fn decode(&mut self, line: &[u8], batch: &mut Batch) -> Result<(), String> {
        if let Err(e) = std::str::from_utf8(line) {
            return Err(format!("invalid UTF-8 at byte {}", e.valid_up_to() + 1));
        }
        let object = match serde_json::from_slice::<Object>(line) {
            Ok(o) => o,
            Err(e) if e.is_data() => return Err(format!("not a JSON object ({e})")),
            Err(e) => return Err(format!("invalid JSON: {e}")),
        };
        self.row.clear();
        for f in &self.schema.fields {
            let v = object.get(&f.name);
            let value = match v {
                None | Some(Json::Null) => Value::Null,
                Some(v) => convert(v, f.data_type).ok_or_else(|| {
                    format!(
                        "column {}: expected {}, found {}",
                        f.name,
                        f.data_type,
                        shown(v)
                    )
                })?,
            };
            self.row.push(value);
        }
        for (c, v) in batch.columns.iter_mut().zip(&self.row) {
            // `convert` gave a value of the column's type, so this succeeds.
            let pushed = c.push_value(v);
            debug_assert!(pushed);
        }
        batch.len += 1;
        Ok(())
    }
}

/// A JSON value as a short text for messages.
fn shown(v: &Json) -> String {
    let text = v.to_string();
    if text.len() > 40 {
        let mut cut = 40;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}... ({})", &text[..cut], kind(v))
    } else {
        format!("{text} ({})", kind(v))
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// `v` as a value of type `t`, if it is one.
fn convert(v: &Json, t: DataType) -> Option<Value> {
    Some(match (t, v) {
        (DataType::Int64, Json::Number(n)) => Value::Int64(n.as_i64()?),
        (DataType::Float64, Json::Number(n)) => Value::Float64(n.as_f64()?),
        (DataType::Bool, Json::Bool(b)) => Value::Bool(*b),
        (DataType::Utf8, Json::String(s)) => Value::Utf8(s.clone()),
        // Any other value as its JSON text: what inference widens mixes to
        // must take every value it saw (see the module docs).
        (DataType::Utf8, v) => Value::Utf8(v.to_string()),
        (DataType::Timestamp, Json::String(s)) => Value::Timestamp(parse_timestamp(s)?),
        (DataType::Timestamp, Json::Number(n)) => Value::Timestamp(n.as_i64()?),
        (DataType::Decimal { precision, scale }, Json::Number(n)) => Value::Decimal {
            value: fits(parse_decimal(&n.to_string(), scale)?, precision)?,
            scale,
        },
        (DataType::Decimal { precision, scale }, Json::String(s)) => Value::Decimal {
            value: fits(parse_decimal(s, scale)?, precision)?,
            scale,
        },
        _ => return None,
    })
}

fn fits(v: i128, precision: u8) -> Option<i128> {
    (v.unsigned_abs() < 10u128.checked_pow(precision as u32).unwrap_or(u128::MAX)).then_some(v)
}

/// The type a sampled JSON value suggests; `None` for null.
fn type_of(v: &Json) -> Option<DataType> {
    Some(match v {
        Json::Null => return None,
        Json::Bool(_) => DataType::Bool,
        Json::Number(n) if n.as_i64().is_some() => DataType::Int64,
        Json::Number(_) => DataType::Float64,
        Json::String(s) if s.contains('-') && parse_timestamp(s).is_some() => DataType::Timestamp,
        Json::String(_) => DataType::Utf8,
        // Only VARCHAR holds these (as their JSON text); they say nothing, and
        // are malformed in a column other values type otherwise.
        Json::Array(_) | Json::Object(_) => return None,
    })
}

fn widen(current: Option<DataType>, this: Option<DataType>) -> Option<DataType> {
    match (current, this) {
        (c, None) => c,
        (None, t) => t,
        (Some(a), Some(b)) if a == b => Some(a),
        (Some(DataType::Int64), Some(DataType::Float64))
        | (Some(DataType::Float64), Some(DataType::Int64)) => Some(DataType::Float64),
        _ => Some(DataType::Utf8),
    }
}

/// Infers a schema from sample lines (those that are not objects are ignored).
pub fn infer_schema<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Schema {
    let mut names: Vec<String> = Vec::new();
    let mut types: Vec<Option<DataType>> = Vec::new();
    for line in lines {
        let Ok(Object(members)) = serde_json::from_slice::<Object>(line) else {
            continue;
        };
        for (k, v) in &members {
            let i = match names.iter().position(|n| n.eq_ignore_ascii_case(k)) {
                Some(i) => i,
                None => {
                    names.push(k.clone());
                    types.push(None);
                    names.len() - 1
                }
            };
            types[i] = widen(types[i], type_of(v));
        }
    }
    Schema::new(
        names
            .into_iter()
            .zip(types)
            .map(|(n, t)| Field::new(n, t.unwrap_or(DataType::Utf8)))
            .collect(),
    )
}

/// A line read ahead for type inference, not yet returned.
struct Pending {
    line: u64,
    raw: Vec<u8>,
    too_long: bool,
}

/// A JSON lines source over a file, stdin or any reader.
pub struct JsonSource {
    name: String,
    reader: CountedReader,
    /// The file byte range read, when the input is a file's (for
    /// [`Source::position`]).
    part: Option<Part>,
    fd: Option<RawFd>,
    decoder: JsonDecoder,
    /// Batches handed back for refilling.
    pool: BatchPool,
    rejects: Rejects,
    max_line_bytes: usize,
    line: Vec<u8>,
    /// A line not finished by the last deadline, and how far it got.
    partial: Vec<u8>,
    progress: lines::LineProgress,
    pending: VecDeque<Pending>,
    line_no: u64,
    at_end: bool,
    /// The batches' schema when each row's line is kept (see
    /// [`Source::keep_text`]): the schema and the text column.
    text_schema: Option<Schema>,
}

impl JsonSource {
    /// A source over any reader (tests, embedding).
    pub fn from_reader(
        name: impl Into<String>,
        reader: Box<dyn Read + Send>,
        options: &TextOptions,
    ) -> Result<JsonSource, Error> {
        JsonSource::open(Input::from_reader(name, reader), options)
    }

    /// A source over `input` (see [`Input::open`]).
    pub fn open(input: Input, options: &TextOptions) -> Result<JsonSource, Error> {
        let Input {
            name,
            reader,
            fd,
            part,
        } = input;
        let mut s = JsonSource {
            name,
            reader: CountedReader::new(1 << 16, reader),
            part: part.clone(),
            fd,
            decoder: JsonDecoder::new(Schema::default()),
            pool: BatchPool::new(&Schema::default()),
            rejects: Rejects::new(&options.on_error, part.as_ref())?,
            max_line_bytes: options.max_line_bytes.max(1),
            line: Vec::new(),
            partial: Vec::new(),
            progress: lines::LineProgress::default(),
            pending: VecDeque::new(),
            line_no: 0,
            at_end: false,
            text_schema: None,
        };
        let schema = match &options.schema {
            Some(d) => d.clone(),
            None => {
                // From a pipe: the lines that arrive within INFER_WAIT of
                // the first, and a stop ends the wait (see `Sampling`).
                let mut sampled = VecDeque::new();
                let mut sampling = lines::Sampling::new(s.fd.is_some(), &options.stop);
                while sampled.len() < INFER_ROWS {
                    let Some(too_long) = s.read_line(sampling.deadline())? else {
                        if s.at_end || sampling.done() {
                            break;
                        }
                        continue;
                    };
                    sampling.sampled();
                    sampled.push_back(Pending {
                        line: s.line_no,
                        raw: std::mem::take(&mut s.line),
                        too_long,
                    });
                }
                s.at_end = false;
                let schema = infer_schema(
                    sampled
                        .iter()
                        .filter(|p| !p.too_long)
                        .map(|p| p.raw.as_slice()),
                );
                s.pending = sampled;
                if schema.is_empty() && sampling.stopped() {
                    return Err(lines::stopped_opening(
                        &s.name,
                        "a JSON object to infer the columns from",
                    ));
                }
                schema
            }
        };
        if schema.is_empty() {
            return Err(Error::Input {
                source: s.name.clone(),
                line: 1,
                reason:
                    "no JSON object with a field in the first lines; declare the columns (--schema)"
                        .into(),
            });
        }
        s.pool = BatchPool::new(&schema);
        s.decoder = JsonDecoder::new(schema);
        Ok(s)
    }

    /// Reads the next non-blank line into `line`: `Some(too_long)`, or `None`
    /// at end of input or when `deadline` passes first.
    fn read_line(&mut self, deadline: Option<Instant>) -> Result<Option<bool>, Error> {
        loop {
            // A line a pipe has not finished by the deadline is kept in
            // `partial` and resumed at the next call.
            let read = lines::read_line_until(
                &mut self.reader,
                &mut self.partial,
                self.max_line_bytes,
                &mut self.progress,
                self.fd.zip(deadline),
            )
            .map_err(|source| Error::Io {
                what: format!("cannot read input {}", self.name),
                source,
            })?;
            let Some(read) = read else {
                return Ok(None);
            };
            self.line.clear();
            std::mem::swap(&mut self.line, &mut self.partial);
            match read {
                LineRead::Eof => {
                    self.at_end = true;
                    return Ok(None);
                }
                LineRead::TooLong => {
                    self.line_no += 1;
                    return Ok(Some(true));
                }
                LineRead::Line => {
                    self.line_no += 1;
                    if !self.line.iter().all(u8::is_ascii_whitespace) {
                        return Ok(Some(false));
                    }
                }
            }
        }
    }
}

impl Source for JsonSource {
    fn schema(&self) -> &Schema {
        self.decoder.schema()
    }

    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        let schema = self.text_schema.as_ref();
        let mut batch = (self.pool).take(schema.unwrap_or(self.decoder.schema()), max_rows);
        while batch.len < max_rows {
            let (line_no, too_long) = if let Some(p) = self.pending.pop_front() {
                self.line = p.raw;
                (p.line, p.too_long)
            } else {
                let wait = match (self.fd, batch.len) {
                    (None, _) => None,
                    (Some(_), 0) => deadline,
                    (Some(_), _) => Some(Instant::now()),
                };
                match self.read_line(wait)? {
                    None => break,
                    Some(too_long) => (self.line_no, too_long),
                }
            };
            if batch.len == 0 {
                batch.ingest_time = Instant::now();
            }
            let reason = if too_long {
                format!(
                    "the record is longer than {} bytes (max_line_bytes)",
                    self.max_line_bytes
                )
            } else {
                match self.decoder.decode(&self.line, &mut batch) {
                    Ok(()) if self.text_schema.is_some() => {
                        late::push_record_text(&mut batch, &self.line);
                        continue;
                    }
                    Ok(()) => continue,
                    Err(reason) => reason,
                }
            };
            self.rejects
                .reject(&self.name, line_no, reason, &self.line)?;
        }
        self.rejects.flush()?;
        if batch.len > 0 {
            return Ok(Poll::Batch(batch));
        }
        self.pool.give(batch);
        Ok(if self.at_end { Poll::End } else { Poll::Idle })
    }

    /// At a line boundary of a file range only: nothing read ahead into
    /// `pending` (see [`Source::position`]).
    fn position(&self) -> Option<SourcePosition> {
        let part = self.part.as_ref()?;
        self.pending
            .is_empty()
            .then(|| SourcePosition::resumed(part, self.reader.consumed()))
    }

    fn malformed(&self) -> u64 {
        self.rejects.count()
    }

    fn reuse(&mut self, batch: Batch) {
        self.pool.give(batch);
    }

    fn has_read_ahead(&self) -> bool {
        self.fd.is_some()
            && (!self.pending.is_empty() || memchr::memchr(b'\n', self.reader.buffer()).is_some())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    fn keep_text(&mut self) -> Option<RecordText> {
        let schema = late::with_text(self.decoder.schema());
        self.pool = BatchPool::new(&schema);
        self.text_schema = Some(schema);
        Some(RecordText::Json)
    }

    fn keeps_text(&self) -> Option<RecordText> {
        self.text_schema.as_ref().map(|_| RecordText::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_are_read_exactly() {
        // Found by tests/fuzz.rs: serde_json's default float parser can be one
        // ULP off; the CSV path (`str::parse`) is exact, so the same text gave
        // different DOUBLEs.
        let schema = Schema::new(vec![Field::new("b", DataType::Float64)]);
        let mut decoder = JsonDecoder::new(schema.clone());
        let mut batch = Batch::with_capacity(&schema, 2);
        for text in ["-1.0092669913440475e+18", "-2.325071769616926e+60"] {
            let line = format!("{{\"b\": {text}}}");
            decoder.decode(line.as_bytes(), &mut batch).unwrap();
            let expected: f64 = text.parse().unwrap();
            assert_eq!(
                batch.columns[0].value(batch.len - 1),
                Value::Float64(expected)
            );
        }
    }

    #[test]
    fn infers_types_by_key() {
        let lines: [&[u8]; 3] = [
            br#"{"a": 1, "b": "x", "t": "2026-01-01T00:00:00Z", "f": true}"#,
            br#"{"a": 2.5, "b": null, "n": null}"#,
            b"[1]",
        ];
        let s = infer_schema(lines);
        let got: Vec<(&str, DataType)> = s
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.data_type))
            .collect();
        assert_eq!(
            got,
            [
                ("a", DataType::Float64),
                ("b", DataType::Utf8),
                ("t", DataType::Timestamp),
                ("f", DataType::Bool),
                ("n", DataType::Utf8)
            ]
        );
    }

    #[test]
    fn inferred_types_take_every_sampled_value() {
        let values = [
            "1",
            "-3",
            "1.5",
            "1e300",
            "18446744073709551615",
            "true",
            "\"x\"",
            "\"2026-01-01T00:00:00Z\"",
            "\"2026-01-01\"",
            "[1, \"a\"]",
            "{\"a\": 1}",
            "null",
        ];
        for a in values {
            for b in values {
                let lines = [format!("{{\"c\": {a}}}"), format!("{{\"c\": {b}}}")];
                let schema = infer_schema(lines.iter().map(|l| l.as_bytes()));
                let mut decoder = JsonDecoder::new(schema.clone());
                let mut batch = Batch::with_capacity(&schema, 2);
                let text = schema.fields[0].data_type == DataType::Utf8;
                for (line, value) in lines.iter().zip([a, b]) {
                    let decoded = decoder.decode(line.as_bytes(), &mut batch);
                    let scalar = !value.starts_with(['[', '{']);
                    assert_eq!(
                        decoded.is_ok(),
                        scalar || text,
                        "{line} after inferring {schema:?}: {decoded:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn varchar_takes_any_value_as_its_json_text() {
        let schema = Schema::new(vec![Field::new("c", DataType::Utf8)]);
        let mut decoder = JsonDecoder::new(schema.clone());
        let mut batch = Batch::with_capacity(&schema, 8);
        for line in [
            r#"{"c": 7}"#,
            r#"{"c": 1.5}"#,
            r#"{"c": false}"#,
            r#"{"c": [1,"a"]}"#,
            r#"{"c": "s"}"#,
        ] {
            decoder.decode(line.as_bytes(), &mut batch).unwrap();
        }
        let texts: Vec<Value> = (0..batch.len).map(|i| batch.columns[0].value(i)).collect();
        let want = ["7", "1.5", "false", "[1,\"a\"]", "s"].map(|t| Value::Utf8(t.into()));
        assert_eq!(texts, want);
    }
}
