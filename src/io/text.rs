//! CSV text sources: a file or stdin, configured by [`TextOptions`].
//!
//! # Columns
//! - A header row and no declared schema: the header names the columns; when
//!   it names the trades columns they get the trades schema, otherwise types are
//!   inferred from the first rows (BIGINT, DOUBLE, BOOLEAN, TIMESTAMP for ISO
//!   8601 text, else VARCHAR): up to 1000, from a pipe only those
//!   that arrive within [`lines::INFER_WAIT`] of the first (see
//!   [`lines::Sampling`]).
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
//! skipped, not kept. A quoted field still open at the end of the input
//! is a malformed record, named by the line where its quote opened (see
//! [`super::quotes`]). Malformed records go to the `on_error` policy
//! ([`Rejects`]); errors name the source, the record's
//! first line and the column.
//!
//! Records are read line by line so that a slow pipe can be polled with a
//! deadline: the router flushes what it has when no line arrives in time. A
//! line the pipe has not finished by the deadline (or that never ends) is
//! kept and resumed at the next poll ([`lines::read_line_until`]), and a
//! record whose later lines have not come is read again from its start, so
//! a poll never waits past its deadline.
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

use super::columnar::LineFields;
use super::counted::CountedReader;
use super::late;
use super::lines::{self, Input, LineRead};
use super::parse::push_field;
use super::quotes;
pub use super::reject::OnError;
use super::reject::Rejects;
use super::source::{Poll, Source};
use super::split::Part;
use crate::checkpoint::SourcePosition;
use crate::data::{Batch, BatchPool, Schema};
use crate::error::Error;
use crate::runtime::router::STOP_CHECK;
use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::os::fd::RawFd;
use std::time::Instant;

mod infer;
mod options;
mod simple_lines;

pub use options::{
    parse_delimiter, parse_schema, InputFormat, TextOptions, DEFAULT_MAX_LINE_BYTES,
};

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
    /// A record whose quoted field is still open at the end of the input;
    /// `raw` holds all of it.
    Unclosed,
    /// End of input, or the deadline passed first (then `at_end` is false).
    None,
}

/// A record read ahead for type inference, not yet returned.
struct Pending {
    line: u64,
    raw: Vec<u8>,
    /// [`Record::Whole`], or the malformed kind it is returned as again.
    kind: Record,
}

/// A CSV source over a file or stdin.
pub struct TextSource {
    name: String,
    reader: CountedReader,
    /// The file byte range read, when the input is a file's (for
    /// [`Source::position`]).
    part: Option<Part>,
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
    /// The line being read from a pipe that has not finished it yet (kept
    /// across polls), and how far it got.
    partial: Vec<u8>,
    progress: lines::LineProgress,
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
    cut: Option<Part>,
    /// The batches' schema when each row's record text is kept (see
    /// [`Source::keep_text`]): the schema and the text column.
    text_schema: Option<Schema>,
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
            reader: CountedReader::new(READ_BUFFER, reader),
            part: part.clone(),
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
            partial: Vec::new(),
            progress: lines::LineProgress::default(),
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
            cut: part.filter(|p| !p.last),
            text_schema: None,
        };
        s.schema = match (options.header, &options.schema) {
            (true, declared) => {
                let names = s.read_header(&options.stop)?;
                match declared {
                    Some(d) => {
                        s.check_header(&names, d)?;
                        d.clone()
                    }
                    None => s.infer_schema(Some(names), &options.stop)?,
                }
            }
            (false, Some(d)) => d.clone(),
            (false, None) => s.infer_schema(None, &options.stop)?,
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

    /// Reads the header row. From a pipe it waits until the header arrives,
    /// re-checking `stop` every [`STOP_CHECK`]; a stop first is an error
    /// saying nothing was read.
    fn read_header(&mut self, stop: &lines::StopFlag) -> Result<Vec<String>, Error> {
        let header_error = |s: &Self, reason: String| Error::Input {
            source: s.name.clone(),
            line: 1,
            reason,
        };
        let record = loop {
            let deadline = self.fd.map(|_| Instant::now() + STOP_CHECK);
            match self.read_record(deadline)? {
                Record::None if !self.at_end => {
                    if stop.is_set() {
                        return Err(lines::stopped_opening(&self.name, "the header row"));
                    }
                }
                record => break record,
            }
        };
        match record {
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
            Record::Unclosed => {
                let reason = self.unclosed_reason();
                return Err(header_error(self, format!("the header: {reason}")));
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
            // The input ended inside this record: a newline is fed to the
            // parser, which ends the record unless a quoted field is open.
            let mut at_eof = false;
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
                    if p.kind != Record::Whole {
                        return Ok(p.kind);
                    }
                    self.line = p.raw;
                } else {
                    let wait = self.fd.zip(deadline);
                    let read = match self.read_line(wait)? {
                        Some(read) => read,
                        None => {
                            // The deadline passed before the line ended: a
                            // record under way is read again from its start
                            // at the next poll (its lines are kept).
                            if !first_line {
                                self.stash_record();
                            }
                            return Ok(Record::None);
                        }
                    };
                    match read {
                        LineRead::Eof if first_line => {
                            self.at_end = true;
                            return Ok(Record::None);
                        }
                        LineRead::Eof if self.cut.is_some() => return Err(self.cut_error()),
                        LineRead::Eof => {
                            self.line.clear();
                            self.line.push(b'\n');
                            at_eof = true;
                        }
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
                        csv_core::ReadRecordResult::InputEmpty
                            if at_eof
                                && quotes::open_quote_line(&self.raw, self.delimiter).is_some() =>
                        {
                            // The newline went into a quoted field. (Not
                            // after a CR that starts a record, which takes
                            // the newline as its CRLF's.)
                            self.reset_parser();
                            return Ok(Record::Unclosed);
                        }
                        csv_core::ReadRecordResult::InputEmpty => {
                            if at_eof {
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

    /// Why the record in `raw`, over the bound, is malformed (see
    /// [`quotes::too_long_reason`]).
    fn too_long_reason(&mut self) -> String {
        let (first, rejects) = (self.record_line, &mut self.rejects);
        let line_of = |offset| rejects.line_in_file(first + offset);
        quotes::too_long_reason(&self.raw, self.delimiter, self.max_line_bytes, line_of)
    }

    /// Why the record in `raw`, at the end of the input with a quoted field
    /// open, is malformed (see [`quotes::never_closed_reason`]).
    fn unclosed_reason(&mut self) -> String {
        let (first, rejects) = (self.record_line, &mut self.rejects);
        let line_of = |offset| rejects.line_in_file(first + offset);
        quotes::never_closed_reason(&self.raw, self.delimiter, line_of)
    }

    /// The error for a record left open at this range's cut (see
    /// [`quotes::cut_reason`]).
    fn cut_error(&mut self) -> Error {
        let line = match self.rejects.line_in_file(self.record_line) {
            Ok(line) => line,
            Err(e) => return e,
        };
        let never_closed = self.unclosed_reason();
        let reason = match &self.cut {
            Some(cut) => quotes::cut_reason(cut, never_closed),
            None => never_closed,
        };
        Error::Input {
            source: self.name.clone(),
            line,
            reason,
        }
    }

    /// Reads the next line into `line` (its first `max_line_bytes` less the
    /// record's bytes so far). With `wait`, gives up (`None`) when the line
    /// has not ended by the deadline, keeping what arrived for the next call
    /// (see [`lines::read_line_until`]); without, blocks until it ends.
    fn read_line(&mut self, wait: Option<(RawFd, Instant)>) -> Result<Option<LineRead>, Error> {
        if let Some((fd, deadline)) = wait {
            // The byte order mark check reads: not before bytes are there.
            if self.mark_unchecked
                && self.reader.buffer().is_empty()
                && !lines::wait_readable(fd, deadline)
            {
                return Ok(None);
            }
        }
        self.skip_byte_order_mark()?;
        let room = self.max_line_bytes.saturating_sub(self.raw.len());
        let read = lines::read_line_until(
            &mut self.reader,
            &mut self.partial,
            room,
            &mut self.progress,
            wait,
        )
        .map_err(|source| Error::Io {
            what: format!("cannot read input {}", self.name),
            source,
        })?;
        if read.is_some() {
            self.line.clear();
            std::mem::swap(&mut self.line, &mut self.partial);
        }
        Ok(read)
    }

    /// Puts the lines read so far of a record not yet whole back in front
    /// of the records to return, to be parsed again from its start when the
    /// rest of it arrives; the parser starts afresh.
    fn stash_record(&mut self) {
        self.pending.push_front(Pending {
            line: self.record_line,
            raw: std::mem::take(&mut self.raw),
            kind: Record::Whole,
        });
        self.reset_parser();
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

impl Source for TextSource {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        let schema = self.text_schema.as_ref().unwrap_or(&self.schema);
        let mut batch = self.pool.take(schema, max_rows);
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
                Record::TooLong => self.too_long_reason(),
                Record::Unclosed => self.unclosed_reason(),
                Record::Whole => {
                    if batch.len == 0 {
                        batch.ingest_time = Instant::now();
                    }
                    match self.decode_into(&mut batch) {
                        Ok(()) if self.text_schema.is_some() => {
                            late::push_record_text(&mut batch, &self.raw);
                            continue;
                        }
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

    /// At a record boundary of a file range only: nothing read ahead
    /// into `pending` or `rest` (see [`Source::position`]).
    fn position(&self) -> Option<SourcePosition> {
        let part = self.part.as_ref()?;
        (self.pending.is_empty() && self.rest.is_empty())
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
            && (!self.pending.is_empty()
                || !self.rest.is_empty()
                || memchr::memchr(b'\n', self.reader.buffer()).is_some())
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Keeps each record's text, as read (without its line end): every
    /// record then takes the record path, which holds it in `raw`.
    fn keep_text(&mut self) -> Option<late::RecordText> {
        self.simple_lines = false;
        let schema = late::with_text(&self.schema);
        self.pool = BatchPool::new(&schema);
        self.text_schema = Some(schema);
        Some(late::RecordText::Csv)
    }

    fn keeps_text(&self) -> Option<late::RecordText> {
        self.text_schema.as_ref().map(|_| late::RecordText::Csv)
    }
}

#[cfg(test)]
mod tests;
