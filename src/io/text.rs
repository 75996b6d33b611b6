//! CSV text sources: a file or stdin, configured by [`TextOptions`].
//!
//! # Columns
//! - A header row and no declared schema: the header names the columns; when
//!   it names the trades columns they get the trades schema, otherwise types are
//!   inferred from the first rows (BIGINT, DOUBLE, BOOLEAN, TIMESTAMP for ISO
//!   8601 text, else VARCHAR).
//! - A header row and a declared schema: the header's names must match the
//!   declared names (ignoring ASCII case), else an error names the first
//!   mismatch; the declared types are used (declared types win over inference).
//! - No header and a declared schema: the schema gives the names and types.
//! - Neither: the columns are called `c1..cN` (N from the widest sampled
//!   record) and their types are inferred from the first rows.
//!
//! # Records
//! Fields are split by csv-core with the configured delimiter, so quoted fields
//! (with delimiters, quotes or newlines inside) work. LF, CRLF and a bare CR
//! each end a record (so CR-only files read as one record per line); blank
//! lines are not records. A record longer than
//! [`TextOptions::max_line_bytes`] is malformed: its bytes beyond the bound are
//! skipped, not kept. Malformed records go to the `on_error` policy
//! ([`Rejects`]); errors name the source, the record's
//! first line and the column.
//!
//! Records are read line by line so that a slow pipe can be polled with a
//! deadline: the router flushes what it has when no line arrives in time.
//!
//! # Simple lines
//! From a file (never waited on), whole lines are decoded straight from the
//! read buffer while they are *simple*: no quote, no carriage return, valid
//! UTF-8. Such a line is split at the delimiter (found 64 bytes at a time, see
//! [`super::scan`]), which is exactly what the CSV parser would make of it,
//! without copying the line or running the parser's state machine; the lines
//! of a block are decoded a column at a time ([`LineFields`]). Only the bytes
//! of the lines a batch takes are searched for quotes and CRs and checked as
//! UTF-8, so that small batches do not check the same buffer again and again. The first line that is not simple
//! (and a line cut by the end of the buffer) takes the record path above, and
//! the simple path resumes after it. Both paths count lines, reject and roll
//! back a bad row the same way.

use super::columnar::{LineFields, Scanned};
use super::lines::{self, Input, LineRead};
use super::parse::{push_field, push_field_in};
pub use super::reject::OnError;
use super::reject::Rejects;
use super::scan::Marks;
use super::source::{Poll, Source};
use crate::data::{Batch, BatchPool, DataType, Field, Schema};
use crate::error::Error;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::RawFd;
use std::time::Instant;

/// The default bound on one record's bytes: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// The format of a text input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// JSON lines for a path ending `.jsonl` or `.ndjson`, CSV otherwise.
    #[default]
    Auto,
    Csv,
    /// One JSON object per line ([`super::json`]).
    Json,
}

impl InputFormat {
    /// Parses `auto`, `csv` or `json` (also `jsonl`, `ndjson`).
    pub fn parse(text: &str) -> Result<InputFormat, Error> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(InputFormat::Auto),
            "csv" => Ok(InputFormat::Csv),
            "json" | "jsonl" | "ndjson" => Ok(InputFormat::Json),
            _ => Err(Error::Config(format!(
                "--input-format {text:?}: expected csv, json or auto"
            ))),
        }
    }

    /// The format for the input at `path` (`Auto` decided by its extension).
    pub fn for_path(self, path: &str) -> InputFormat {
        match self {
            InputFormat::Auto => {
                let lower = path.to_ascii_lowercase();
                if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
                    InputFormat::Json
                } else {
                    InputFormat::Csv
                }
            }
            f => f,
        }
    }
}

/// How to read a text input.
#[derive(Debug, Clone, PartialEq)]
pub struct TextOptions {
    /// CSV or JSON lines; default by the path's extension.
    pub format: InputFormat,
    /// The first record is a header naming the columns. Default true.
    pub header: bool,
    /// The declared columns (`--schema`, or a `CREATE STREAM`); `None` infers them.
    pub schema: Option<Schema>,
    /// The field delimiter. Default `,`.
    pub delimiter: u8,
    /// What to do with a malformed record.
    pub on_error: OnError,
    /// Longest record, in bytes; a longer one is malformed. Default 1 MiB.
    pub max_line_bytes: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            format: InputFormat::Auto,
            header: true,
            schema: None,
            delimiter: b',',
            on_error: OnError::default(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// Parses a declared schema: `name TYPE, name TYPE, ...`, types as
/// [`DataType::parse`] reads them (`DECIMAL(10,2)` keeps its comma). An error
/// names the bad item.
pub fn parse_schema(text: &str) -> Result<Schema, Error> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    let mut fields: Vec<Field> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let item = item.trim();
        let bad = |why: &str| {
            Error::Config(format!(
                "--schema: item {} {item:?}: {why}; expected `name TYPE, ...` (e.g. `station VARCHAR, temperature DOUBLE`)",
                n + 1
            ))
        };
        let Some((name, ty)) = item.split_once(char::is_whitespace) else {
            return Err(bad(if item.is_empty() { "empty" } else { "no type" }));
        };
        let Some(data_type) = DataType::parse(ty) else {
            return Err(bad(&format!("unknown type {:?}", ty.trim())));
        };
        if fields.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
            return Err(bad(&format!("column {name} is declared twice")));
        }
        fields.push(Field::new(name, data_type));
    }
    Ok(Schema::new(fields))
}

/// Parses a `--delimiter`: one byte, or `\t` / `tab` for a tab.
pub fn parse_delimiter(text: &str) -> Result<u8, Error> {
    match text {
        "\\t" | "tab" | "TAB" | "\t" => Ok(b'\t'),
        t if t.len() == 1 && !matches!(t.as_bytes()[0], b'"' | b'\n' | b'\r') => {
            Ok(t.as_bytes()[0])
        }
        _ => Err(Error::Config(format!(
            "--delimiter {text:?}: expected one byte (e.g. ';' or '|'), or \\t or tab; not a quote or newline"
        ))),
    }
}

/// Rows read to infer column types.
const INFER_ROWS: usize = 1_000;

/// Bytes read from the input at a time.
const READ_BUFFER: usize = 1 << 16;

/// What [`TextSource::read_record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    /// A whole record is in `fields`/`ends`.
    Whole,
    /// A record longer than the bound; `raw` holds its first bytes.
    TooLong,
    /// End of input, or the deadline passed first (then `at_end` is false).
    None,
}

/// A record read ahead for type inference, not yet returned.
struct Pending {
    line: u64,
    raw: Vec<u8>,
    too_long: bool,
}

/// A CSV source over a file or stdin.
pub struct TextSource {
    name: String,
    reader: BufReader<Box<dyn Read + Send>>,
    /// Polled for readiness when a deadline applies and nothing is buffered.
    fd: Option<RawFd>,
    schema: Schema,
    /// Batches handed back for refilling.
    pool: BatchPool,
    rejects: Rejects,
    max_line_bytes: usize,
    csv: csv_core::Reader,
    /// Nothing has gone into `csv` since it was made or reset. csv-core drops
    /// a byte order mark at the start of its first input, which need not be
    /// the start of the file (the lines before may have been decoded without
    /// it): such a record gets its first byte on its own (see
    /// [`Self::skip_byte_order_mark`] for the one at the start).
    csv_fresh: bool,
    /// The input starts at the file's first byte and its first bytes have not
    /// been looked at yet for a byte order mark.
    mark_unchecked: bool,
    /// The bytes being parsed: a line, or a whole record read ahead.
    line: Vec<u8>,
    /// Every byte of the current record (for the dead-letter file).
    raw: Vec<u8>,
    fields: Vec<u8>,
    ends: Vec<usize>,
    /// The fields of the simple lines being decoded.
    line_fields: LineFields,
    /// Bytes per line of the simple lines last decoded (0 before any).
    line_bytes: usize,
    pending: VecDeque<Pending>,
    /// The bytes of the last line after the record that ended inside it (at a
    /// bare CR, which csv-core takes as a record terminator): the next record
    /// starts there.
    rest: Vec<u8>,
    /// Lines read from the input so far.
    line_no: u64,
    /// The first line of the current record.
    record_line: u64,
    at_end: bool,
    /// Whether simple lines may be decoded from the read buffer (see the
    /// module docs): the input is never waited on, every line that fits in
    /// the buffer is within the record bound, and the delimiter is ASCII (so
    /// never inside a UTF-8 character).
    simple_lines: bool,
    delimiter: u8,
    /// Where the input stops when it is one byte range of a file read in
    /// parallel and not the last one (see [`super::split`]): a record may not
    /// continue past it.
    cut: Option<u64>,
}

impl TextSource {
    /// A source over any reader (tests, embedding).
    pub fn from_reader(
        name: impl Into<String>,
        reader: Box<dyn Read + Send>,
        options: &TextOptions,
    ) -> Result<TextSource, Error> {
        TextSource::open(Input::from_reader(name, reader), options)
    }

    /// A source over `input` (see [`Input::open`]).
    pub fn open(input: Input, options: &TextOptions) -> Result<TextSource, Error> {
        let Input {
            name,
            reader,
            fd,
            part,
        } = input;
        let rejects = Rejects::new(&options.on_error, part.as_ref())?;
        let mut s = TextSource {
            name,
            reader: BufReader::with_capacity(READ_BUFFER, reader),
            simple_lines: fd.is_none()
                && options.max_line_bytes >= READ_BUFFER
                && options.delimiter.is_ascii(),
            delimiter: options.delimiter,
            fd,
            schema: Schema::default(),
            pool: BatchPool::new(&Schema::default()),
            rejects,
            max_line_bytes: options.max_line_bytes.max(1),
            csv: csv_core::ReaderBuilder::new()
                .delimiter(options.delimiter)
                .build(),
            csv_fresh: true,
            mark_unchecked: part.as_ref().is_none_or(|p| p.start == 0),
            line: Vec::new(),
            raw: Vec::new(),
            fields: Vec::new(),
            ends: Vec::new(),
            line_fields: LineFields::default(),
            line_bytes: 0,
            pending: VecDeque::new(),
            rest: Vec::new(),
            line_no: 0,
            record_line: 0,
            at_end: false,
            cut: part.as_ref().filter(|p| !p.last).map(|p| p.end),
        };
        s.schema = match (options.header, &options.schema) {
            (true, declared) => {
                let names = s.read_header()?;
                match declared {
                    Some(d) => {
                        s.check_header(&names, d)?;
                        d.clone()
                    }
                    None => s.infer_schema(Some(names))?,
                }
            }
            (false, Some(d)) => d.clone(),
            (false, None) => s.infer_schema(None)?,
        };
        if s.schema.is_empty() {
            return Err(Error::Config(format!("input {}: no columns", s.name)));
        }
        s.pool = BatchPool::new(&s.schema);
        Ok(s)
    }

    /// Drops a UTF-8 byte order mark at the start of the file, once, before
    /// the first line is read by either path. Elsewhere those bytes are data.
    /// Waits for input only where the caller would read anyway.
    fn skip_byte_order_mark(&mut self) -> Result<(), Error> {
        if !std::mem::take(&mut self.mark_unchecked) {
            return Ok(());
        }
        const MARK: &[u8] = b"\xEF\xBB\xBF";
        let buf = loop {
            match self.reader.fill_buf() {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                read => {
                    break read.map_err(|source| Error::Io {
                        what: format!("cannot read input {}", self.name),
                        source,
                    })?
                }
            }
        };
        // A first read shorter than the mark (a pipe's first few bytes) keeps
        // them as data: nothing is consumed unless the whole mark is there.
        if buf.starts_with(MARK) {
            self.reader.consume(MARK.len());
        }
        Ok(())
    }

    /// Resets the CSV parser to the start of a record.
    fn reset_parser(&mut self) {
        self.csv.reset();
        self.csv_fresh = true;
    }

    fn read_header(&mut self) -> Result<Vec<String>, Error> {
        let header_error = |s: &Self, reason: String| Error::Input {
            source: s.name.clone(),
            line: 1,
            reason,
        };
        match self.read_record(None)? {
            Record::Whole => {}
            Record::TooLong => {
                return Err(header_error(
                    self,
                    format!(
                        "the header is longer than {} bytes (max_line_bytes)",
                        self.max_line_bytes
                    ),
                ))
            }
            Record::None => {
                return Err(header_error(
                    self,
                    "the input is empty; a header row naming the columns is required \
                     (or declare the columns and say there is no header)"
                        .into(),
                ))
            }
        }
        let names: Vec<String> = (0..self.ends.len())
            .map(|i| String::from_utf8_lossy(self.field(i)).trim().to_owned())
            .collect();
        if let Some(i) = names.iter().position(|n| n.is_empty()) {
            return Err(header_error(
                self,
                format!("header column {} has no name", i + 1),
            ));
        }
        Ok(names)
    }

    /// The header must name the declared columns, in order, ignoring ASCII case.
    fn check_header(&self, names: &[String], declared: &Schema) -> Result<(), Error> {
        let mismatch = |what: String| {
            Error::Config(format!(
                "input {} line 1: the header does not match the declared schema: {what}",
                self.name
            ))
        };
        for (i, f) in declared.fields.iter().enumerate() {
            match names.get(i) {
                Some(n) if n.eq_ignore_ascii_case(&f.name) => {}
                Some(n) => {
                    return Err(mismatch(format!(
                        "header column {} is {n:?}, the declared column {} is {:?}",
                        i + 1,
                        i + 1,
                        f.name
                    )))
                }
                None => {
                    return Err(mismatch(format!(
                        "the header has {} columns, the declared column {} ({:?}) is missing",
                        names.len(),
                        i + 1,
                        f.name
                    )))
                }
            }
        }
        if names.len() > declared.len() {
            return Err(mismatch(format!(
                "header column {} ({:?}) is not declared (the schema has {} columns)",
                declared.len() + 1,
                names[declared.len()],
                declared.len()
            )));
        }
        Ok(())
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.fields[start..self.ends[i]]
    }

    /// Reads lines until one whole CSV record is in `fields`/`ends` (and its
    /// bytes in `raw`). Blank lines are not records.
    fn read_record(&mut self, deadline: Option<Instant>) -> Result<Record, Error> {
        'record: loop {
            self.fields.clear();
            self.ends.clear();
            self.raw.clear();
            let mut nout = 0usize;
            let mut nend = 0usize;
            let mut first_line = true;
            loop {
                let pending = if first_line && self.rest.is_empty() {
                    self.pending.pop_front()
                } else {
                    None
                };
                if first_line && !self.rest.is_empty() {
                    // The rest of the line read last; swapped, so both keep their buffers.
                    self.record_line = self.line_no;
                    std::mem::swap(&mut self.line, &mut self.rest);
                    self.rest.clear();
                    self.raw.extend_from_slice(&self.line);
                } else if let Some(p) = pending {
                    self.record_line = p.line;
                    self.raw.extend_from_slice(&p.raw);
                    if p.too_long {
                        return Ok(Record::TooLong);
                    }
                    self.line = p.raw;
                } else {
                    if first_line && !self.wait_readable(deadline) {
                        return Ok(Record::None);
                    }
                    self.skip_byte_order_mark()?;
                    self.line.clear();
                    let room = self.max_line_bytes.saturating_sub(self.raw.len());
                    let read = lines::read_line(&mut self.reader, &mut self.line, room).map_err(
                        |source| Error::Io {
                            what: format!("cannot read input {}", self.name),
                            source,
                        },
                    )?;
                    match read {
                        LineRead::Eof if first_line => {
                            self.at_end = true;
                            return Ok(Record::None);
                        }
                        LineRead::Eof if self.cut.is_some() => return Err(self.cut_error()),
                        // A quoted field left open at end of input: finish it.
                        LineRead::Eof => self.line.clear(),
                        LineRead::Line | LineRead::TooLong => {
                            self.line_no += 1;
                            if first_line {
                                self.record_line = self.line_no;
                            }
                            self.raw.extend_from_slice(&self.line);
                        }
                    }
                    if read == LineRead::TooLong {
                        // Start the next record afresh on the next line.
                        self.reset_parser();
                        return Ok(Record::TooLong);
                    }
                }
                first_line = false;
                let mut input: &[u8] = &self.line;
                loop {
                    if self.fields.len() < nout + input.len() + 1 {
                        self.fields.resize(nout + input.len() + 64, 0);
                    }
                    if self.ends.len() <= nend {
                        self.ends.resize(nend + 16, 0);
                    }
                    // A fresh parser gets one byte alone: less than a byte
                    // order mark, which it would drop (see `csv_fresh`).
                    let chunk = match self.csv_fresh {
                        true => &input[..input.len().min(1)],
                        false => input,
                    };
                    self.csv_fresh = false;
                    let (res, nin, o, e) = self.csv.read_record(
                        chunk,
                        &mut self.fields[nout..],
                        &mut self.ends[nend..],
                    );
                    // csv-core's ends count from the start of the record
                    // (it keeps its output position across calls), so they
                    // are already offsets into `fields`.
                    input = &input[nin..];
                    nout += o;
                    nend += e;
                    match res {
                        csv_core::ReadRecordResult::Record => {
                            // A record that ended inside the line, at a bare
                            // CR, leaves the rest of the line to the next
                            // record. (After a CRLF only its LF is left, which
                            // csv-core would skip.)
                            if !input.is_empty() && input != b"\n" {
                                self.raw.truncate(self.raw.len() - input.len());
                                self.rest.extend_from_slice(input);
                            }
                            self.ends.truncate(nend);
                            self.fields.truncate(nout);
                            // A blank line is not a record.
                            if nend == 1 && nout == 0 {
                                continue 'record;
                            }
                            return Ok(Record::Whole);
                        }
                        csv_core::ReadRecordResult::End => {
                            self.at_end = true;
                            return Ok(Record::None);
                        }
                        csv_core::ReadRecordResult::InputEmpty if !input.is_empty() => continue,
                        csv_core::ReadRecordResult::InputEmpty => {
                            if self.line.is_empty() {
                                // End of input: ask the parser to finish the record.
                                let (res, _, o, e) = self.csv.read_record(
                                    &[],
                                    &mut self.fields[nout..],
                                    &mut self.ends[nend..],
                                );
                                nout += o;
                                nend += e;
                                self.ends.truncate(nend);
                                self.fields.truncate(nout);
                                if res == csv_core::ReadRecordResult::Record {
                                    return Ok(Record::Whole);
                                }
                                self.at_end = true;
                                return Ok(Record::None);
                            }
                            // csv-core skips blank lines (terminators at the
                            // start of a record) without a word: nothing came
                            // out and the line is over, so no record has
                            // started. Start afresh on the next line, so the
                            // record's line number and length leave them out.
                            if nout == 0 && nend == 0 && self.line.last() == Some(&b'\n') {
                                continue 'record;
                            }
                            break;
                        }
                        csv_core::ReadRecordResult::OutputFull
                        | csv_core::ReadRecordResult::OutputEndsFull => continue,
                    }
                }
                if self.raw.len() > self.max_line_bytes {
                    // A quoted field spanning lines past the bound.
                    self.reset_parser();
                    return Ok(Record::TooLong);
                }
            }
        }
    }

    /// Decodes whole simple lines (see the module docs) from the read buffer
    /// into `batch` until it holds `max_rows`, or the buffer's next line is
    /// not simple or not whole; malformed lines go to the rejects.
    fn decode_simple_lines(&mut self, batch: &mut Batch, max_rows: usize) -> Result<(), Error> {
        self.skip_byte_order_mark()?;
        let TextSource {
            name,
            reader,
            schema,
            rejects,
            delimiter,
            line_no,
            line_fields,
            line_bytes,
            ..
        } = self;
        while batch.len < max_rows {
            let buf = loop {
                match reader.fill_buf() {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    read => {
                        break read.map_err(|source| Error::Io {
                            what: format!("cannot read input {name}"),
                            source,
                        })?
                    }
                }
            };
            let wanted = max_rows - batch.len;
            // The bytes this batch's lines likely span (twice as many per
            // line as last time), not the whole read buffer, which a small
            // batch would search for quotes again and again.
            let reach = match *line_bytes {
                0 => buf.len(),
                n => wanted.saturating_mul(2 * n).max(4096).min(buf.len()),
            };
            let whole = memchr::memrchr(b'\n', &buf[..reach])
                .or_else(|| memchr::memrchr(b'\n', &buf[reach..]).map(|i| reach + i))
                .map_or(0, |i| i + 1);
            let mut block = &buf[..whole];
            if let Some(odd) = memchr::memchr2(b'"', b'\r', block) {
                block = &block[..line_start(block, odd)];
            }
            if block.is_empty() {
                return Ok(());
            }
            // Lines with the right number of fields, a column at a time.
            // Scanned before the UTF-8 check, so that only the bytes taken
            // are checked: a small batch takes a small part of the read
            // buffer, and the rest is checked when its turn comes, not
            // again for every batch.
            let width = schema.len();
            let mut scanned = line_fields.scan(block, *delimiter, width, wanted);
            // Validated with SIMD (simdutf8): cheap whether or not the text
            // is ASCII; the standard check slows down at every non-ASCII name.
            let text = match simdutf8::compat::from_utf8(&block[..scanned_end(block, &scanned)]) {
                Ok(t) => t,
                Err(e) => {
                    // The lines before the bad one, scanned again (rare).
                    block = &block[..line_start(block, e.valid_up_to())];
                    if block.is_empty() {
                        return Ok(());
                    }
                    scanned = line_fields.scan(block, *delimiter, width, wanted);
                    std::str::from_utf8(&block[..scanned_end(block, &scanned)]).unwrap_or_default()
                }
            };
            if text.is_empty() {
                return Ok(());
            }
            if scanned.lines > 0 {
                *line_bytes = scanned.consumed.div_ceil(scanned.lines as usize);
            }
            // If a field does not parse, those lines again one at a time, so
            // that exactly the bad ones are rejected.
            let decoded = line_fields.decode(text, schema, batch);
            if decoded {
                *line_no += scanned.lines;
            }
            // A line with another number of fields: to be rejected.
            let odd_end = scanned.odd_line.then_some(text.len());
            // The row path, one line at a time: over the scanned lines when a
            // field did not parse, and over the odd line.
            let slow = [
                (!decoded).then_some((0, scanned.consumed)),
                odd_end.map(|end| (scanned.consumed, end)),
            ];
            for (from, to) in slow.into_iter().flatten() {
                decode_rows(
                    &text[..to],
                    from,
                    *delimiter,
                    schema,
                    batch,
                    line_no,
                    |line, why, raw| rejects.reject(name, line, why, raw),
                )?;
            }
            let used = odd_end.unwrap_or(scanned.consumed);
            reader.consume(used);
        }
        Ok(())
    }

    /// The error for a record left open at this range's cut: the file has a
    /// line break inside a quoted field where it was split.
    fn cut_error(&mut self) -> Error {
        let line = match self.rejects.line_in_file(self.record_line) {
            Ok(line) => line,
            Err(e) => return e,
        };
        Error::Input {
            source: self.name.clone(),
            line,
            reason: format!(
                "a quoted field runs past byte {}, where the file was split for parallel \
                 reading; a file with line breaks inside quoted fields must be read by one \
                 reader (--readers 1)",
                self.cut.unwrap_or_default()
            ),
        }
    }

    /// Waits until the input has a byte to read or `deadline` passes; true
    /// without a deadline or a pollable descriptor.
    fn wait_readable(&self, deadline: Option<Instant>) -> bool {
        let (Some(fd), Some(deadline)) = (self.fd, deadline) else {
            return true;
        };
        !self.reader.buffer().is_empty() || lines::wait_readable(fd, deadline)
    }

    /// Samples up to [`INFER_ROWS`] records (kept to be returned later) and
    /// infers the column types; without `names`, the columns are `c1..cN`.
    fn infer_schema(&mut self, names: Option<Vec<String>>) -> Result<Schema, Error> {
        if let Some(names) = &names {
            let trades = super::generator::trades_schema();
            let is_trades = names.len() == trades.len()
                && names
                    .iter()
                    .zip(&trades.fields)
                    .all(|(n, f)| n.eq_ignore_ascii_case(&f.name));
            if is_trades {
                return Ok(trades);
            }
        }
        let mut types: Vec<Option<DataType>> = vec![None; names.as_ref().map_or(0, Vec::len)];
        // Kept apart while sampling, so that `read_record` reads on instead of
        // replaying them.
        let mut sampled = VecDeque::new();
        for _ in 0..INFER_ROWS {
            let too_long = match self.read_record(None)? {
                Record::None => break,
                Record::TooLong => true,
                Record::Whole => {
                    if names.is_none() && types.len() < self.ends.len() {
                        types.resize(self.ends.len(), None);
                    }
                    for (i, t) in types.iter_mut().enumerate().take(self.ends.len()) {
                        let text = String::from_utf8_lossy(self.field(i));
                        *t = widen(*t, text.trim());
                    }
                    false
                }
            };
            let mut raw = std::mem::take(&mut self.raw);
            if raw.last() != Some(&b'\n') {
                raw.push(b'\n');
            }
            sampled.push_back(Pending {
                line: self.record_line,
                raw,
                too_long,
            });
        }
        if !self.rest.is_empty() {
            // The rest of the last sampled line comes after the samples.
            sampled.push_back(Pending {
                line: self.line_no,
                raw: std::mem::take(&mut self.rest),
                too_long: false,
            });
        }
        self.pending = sampled;
        self.at_end = false;
        self.reset_parser();
        let names = match names {
            Some(n) => n,
            None if types.is_empty() => {
                return Err(Error::Input {
                    source: self.name.clone(),
                    line: 1,
                    reason: "the input is empty; without a header, declare the columns (--schema)"
                        .into(),
                })
            }
            None => (1..=types.len()).map(|i| format!("c{i}")).collect(),
        };
        Ok(Schema::new(
            names
                .into_iter()
                .zip(types)
                .map(|(n, t)| Field::new(n, t.unwrap_or(DataType::Utf8)))
                .collect(),
        ))
    }

    /// Decodes the current record into `batch`; on failure undoes the partial row.
    fn decode_into(&mut self, batch: &mut Batch) -> Result<(), String> {
        if self.ends.len() != self.schema.len() {
            return Err(format!(
                "expected {} fields, found {}",
                self.schema.len(),
                self.ends.len()
            ));
        }
        let mut texts = Vec::with_capacity(self.ends.len());
        for i in 0..self.ends.len() {
            match std::str::from_utf8(self.field(i)) {
                Ok(t) => texts.push(t),
                Err(_) => {
                    return Err(format!(
                        "column {}: invalid UTF-8",
                        self.schema.fields[i].name
                    ))
                }
            }
        }
        let before = batch.len;
        for (i, text) in texts.iter().enumerate() {
            let name = &self.schema.fields[i].name;
            if let Err(e) = push_field(&mut batch.columns[i], text, name) {
                // Roll the columns already written back to `before` rows.
                for c in &mut batch.columns[..i] {
                    c.truncate(before);
                }
                return Err(e.to_string());
            }
        }
        batch.len += 1;
        Ok(())
    }
}

/// Where the line holding byte `at` of `block` starts.
fn line_start(block: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &block[..at]).map_or(0, |i| i + 1)
}

/// The end of what `scanned` took of `block`: its lines, and the line with
/// another number of fields it stopped before, if any.
fn scanned_end(block: &[u8], scanned: &Scanned) -> usize {
    let at = scanned.consumed;
    if scanned.odd_line {
        at + memchr::memchr(b'\n', &block[at..]).map_or(block.len() - at, |i| i + 1)
    } else {
        at
    }
}

/// Decodes the lines of `text[from..]` (whole lines) one at a time, counting
/// them in `line_no`; each line that cannot be decoded goes to `reject` with
/// its line number, the reason and its bytes. Empty lines are passed over.
fn decode_rows(
    text: &str,
    from: usize,
    delimiter: u8,
    schema: &Schema,
    batch: &mut Batch,
    line_no: &mut u64,
    mut reject: impl FnMut(u64, String, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let bytes = text.as_bytes();
    let mut ends = Vec::with_capacity(schema.len());
    let mut start = from;
    for at in Marks::new(&bytes[from..], delimiter).map(|at| at + from) {
        ends.push(at);
        if bytes[at] != b'\n' {
            continue;
        }
        *line_no += 1;
        if at > start {
            if let Err(reason) = decode_line(text, start, &ends, schema, batch) {
                reject(*line_no, reason, &bytes[start..at])?;
            }
        }
        ends.clear();
        start = at + 1;
    }
    Ok(())
}

/// Appends the row of the line at `text[start..]` to `batch`; `ends` holds
/// where each of its fields ends (at a delimiter, the last at the line's
/// end). Or says why it cannot, and leaves `batch` as it was; the reasons are
/// the record path's.
fn decode_line(
    text: &str,
    start: usize,
    ends: &[usize],
    schema: &Schema,
    batch: &mut Batch,
) -> Result<(), String> {
    if ends.len() != schema.len() {
        return Err(format!(
            "expected {} fields, found {}",
            schema.len(),
            ends.len()
        ));
    }
    let before = batch.len;
    let mut from = start;
    for (i, (column, &end)) in batch.columns.iter_mut().zip(ends).enumerate() {
        if let Err(e) = push_field_in(column, text, from, end, &schema.fields[i].name) {
            for c in &mut batch.columns[..i] {
                c.truncate(before);
            }
            return Err(e.to_string());
        }
        from = end + 1;
    }
    batch.len += 1;
    Ok(())
}

/// The narrowest type that holds both `current` and `text`.
fn widen(current: Option<DataType>, text: &str) -> Option<DataType> {
    if text.is_empty() {
        return current;
    }
    let this = if text.parse::<i64>().is_ok() {
        DataType::Int64
    } else if text.parse::<f64>().is_ok() {
        DataType::Float64
    } else if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
        DataType::Bool
    } else if text.contains('-') && super::parse::parse_timestamp(text).is_some() {
        DataType::Timestamp
    } else {
        DataType::Utf8
    };
    Some(match (current, this) {
        (None, t) => t,
        (Some(a), b) if a == b => a,
        (Some(DataType::Int64), DataType::Float64) | (Some(DataType::Float64), DataType::Int64) => {
            DataType::Float64
        }
        _ => DataType::Utf8,
    })
}

impl Source for TextSource {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        let mut batch = self.pool.take(&self.schema, max_rows);
        // A deadline already passed: read only what is there. One clock read
        // per poll, not per record (a file never waits, so needs none).
        let mut no_wait: Option<Instant> = None;
        while batch.len < max_rows {
            if self.simple_lines && self.pending.is_empty() && self.rest.is_empty() {
                if batch.len == 0 {
                    batch.ingest_time = Instant::now();
                }
                self.decode_simple_lines(&mut batch, max_rows)?;
                if batch.len == max_rows {
                    break;
                }
            }
            // Once some rows are in hand, return what is there rather than wait.
            let wait = match (self.fd.is_some(), batch.len > 0) {
                (false, _) => None,
                (true, true) => Some(*no_wait.get_or_insert_with(Instant::now)),
                (true, false) => deadline,
            };
            let reason = match self.read_record(wait)? {
                Record::None => break,
                Record::TooLong => format!(
                    "the record is longer than {} bytes (max_line_bytes)",
                    self.max_line_bytes
                ),
                Record::Whole => {
                    if batch.len == 0 {
                        batch.ingest_time = Instant::now();
                    }
                    match self.decode_into(&mut batch) {
                        Ok(()) => continue,
                        Err(reason) => reason,
                    }
                }
            };
            self.rejects
                .reject(&self.name, self.record_line, reason, &self.raw)?;
        }
        self.rejects.flush()?;
        if batch.len > 0 {
            return Ok(Poll::Batch(batch));
        }
        self.pool.give(batch);
        Ok(if self.at_end { Poll::End } else { Poll::Idle })
    }

    fn malformed(&self) -> u64 {
        self.rejects.count()
    }

    fn reuse(&mut self, batch: Batch) {
        self.pool.give(batch);
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_types_from_samples() {
        let csv = "ts,sym,px,n,flag\n2026-01-01T00:00:01Z,A,1.5,3,true\n2026-01-01 00:00:02,B,2,4,false\n";
        let src = TextSource::from_reader(
            "t",
            Box::new(std::io::Cursor::new(csv)),
            &TextOptions::default(),
        )
        .unwrap();
        let types: Vec<DataType> = src.schema().fields.iter().map(|f| f.data_type).collect();
        assert_eq!(
            types,
            vec![
                DataType::Timestamp,
                DataType::Utf8,
                DataType::Float64,
                DataType::Int64,
                DataType::Bool
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_dropped_at_the_start_only_on_both_paths() {
        // 1 MiB: lines decoded from the read buffer; 100: the record path.
        for bound in [1 << 20, 100] {
            let (rows, rejected) = drain("\u{feff}1,2\n3,4\n", bound);
            assert_eq!(rows, vec![vec![1, 2], vec![3, 4]], "bound {bound}");
            assert!(rejected.is_empty(), "bound {bound}: {rejected:?}");
            // After a blank first line and with a quote (so the record path
            // takes it on both), a mark is data.
            let (rows, rejected) = drain("\n\u{feff}5,\"6\"\n", bound);
            assert!(rows.is_empty(), "bound {bound}: {rows:?}");
            assert_eq!(rejected.len(), 1, "bound {bound}");
            assert!(
                rejected[0].1.contains("\\u{feff}5"),
                "bound {bound}: {rejected:?}"
            );
        }
    }

    /// Drains a source over `csv` (no header, two BIGINT columns): the rows
    /// read, and each rejected record's line and reason.
    fn drain(csv: &str, max_line_bytes: usize) -> (Vec<Vec<i64>>, Vec<(u64, String)>) {
        let options = TextOptions {
            header: false,
            schema: Some(parse_schema("a BIGINT, b BIGINT").unwrap()),
            on_error: OnError::Fail,
            max_line_bytes,
            ..TextOptions::default()
        };
        let mut src = TextSource::from_reader(
            "t",
            Box::new(std::io::Cursor::new(csv.to_owned())),
            &options,
        )
        .unwrap();
        let (mut rows, mut rejected) = (Vec::new(), Vec::new());
        loop {
            match src.poll(1, None) {
                Ok(Poll::Batch(b)) => rows.push(
                    (0..b.columns.len())
                        .map(|c| b.columns[c].value(0).as_i64().unwrap())
                        .collect(),
                ),
                Ok(_) => break,
                Err(Error::Input { line, reason, .. }) => rejected.push((line, reason)),
                Err(e) => panic!("{e}"),
            }
        }
        (rows, rejected)
    }

    #[test]
    fn a_bare_cr_ends_a_record_and_the_rest_of_the_line_is_read() {
        // Found by tests/fuzz.rs: the records after a bare CR were dropped silently.
        let (rows, rejected) = drain("1,2\r3,4\n5,6\n", 1 << 20);
        assert_eq!(rows, [[1, 2], [3, 4], [5, 6]]);
        assert!(rejected.is_empty(), "{rejected:?}");
        let (rows, _) = drain("1,2\r3,4\r5,6\r", 1 << 20);
        assert_eq!(rows, [[1, 2], [3, 4], [5, 6]], "CR-only line ends");
        let (rows, _) = drain("1,2\r\n3,4\r\n", 1 << 20);
        assert_eq!(rows, [[1, 2], [3, 4]], "CRLF");
    }

    #[test]
    fn the_records_after_a_bare_cr_are_replayed_after_inference() {
        let options = TextOptions {
            header: false,
            ..TextOptions::default()
        };
        // Sampling stops after a record that ends at a CR, with the rest of its line unread.
        let csv = "0,0\n".to_owned() + &"1,2\r3,4\n".repeat(INFER_ROWS) + "5,6\r7,8";
        let mut src =
            TextSource::from_reader("t", Box::new(std::io::Cursor::new(csv)), &options).unwrap();
        let mut firsts = Vec::new();
        while let Poll::Batch(b) = src.poll(1000, None).unwrap() {
            firsts.extend((0..b.len).map(|i| b.columns[0].value(i).as_i64().unwrap()));
        }
        let mut expected = vec![0];
        expected.extend([1, 3].repeat(INFER_ROWS));
        expected.extend([5, 7]);
        assert_eq!(firsts, expected);
    }

    #[test]
    fn blank_lines_are_not_part_of_the_next_record() {
        // Found by tests/fuzz.rs: blank lines counted toward the next record's
        // length and gave it their line number.
        let (rows, rejected) = drain("\n\n1,2\n", 3);
        assert_eq!(rows, [[1, 2]]);
        assert!(rejected.is_empty(), "{rejected:?}");
        let (_, rejected) = drain("1,2\n\n\r\n\nx,y\n", 1 << 20);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].0, 5, "{rejected:?}");
    }

    #[test]
    fn a_last_line_of_exactly_the_bound_is_not_too_long() {
        // Found by tests/fuzz.rs: without a final newline it was rejected.
        let (rows, rejected) = drain("1,2\n3,4", 3);
        assert_eq!(rows, [[1, 2], [3, 4]]);
        assert!(rejected.is_empty(), "{rejected:?}");
        let (_, rejected) = drain("1,22", 3);
        assert!(rejected[0].1.contains("max_line_bytes"), "{rejected:?}");
    }

    #[test]
    fn inference_samples_every_row_not_only_the_first() {
        let csv = "n,x\n1,a\n2.5,b\n";
        let src = TextSource::from_reader(
            "t",
            Box::new(std::io::Cursor::new(csv)),
            &TextOptions::default(),
        )
        .unwrap();
        assert_eq!(src.schema().fields[0].data_type, DataType::Float64);
    }
}
