//! CSV text sources: a file or stdin, with a header row naming the columns.
//!
//! Column types come from the header when it names the trades columns, and are
//! otherwise inferred from the first rows (BIGINT, then DOUBLE, then VARCHAR).
//! Records are read line by line so that a slow pipe can be polled with a
//! deadline: the router flushes what it has when no line arrives in time.

use super::parse::push_field;
use super::source::{Poll, Source};
use crate::data::{Batch, DataType, Field, Schema};
use crate::error::Error;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

/// What to do with a record that does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop the run, naming the file, line and reason.
    Fail,
    /// Count it as malformed and go on.
    #[default]
    Skip,
}

/// Rows read to infer column types.
const INFER_ROWS: usize = 1_000;

/// A CSV source over a file or stdin.
pub struct TextSource {
    name: String,
    reader: BufReader<Box<dyn Read + Send>>,
    /// Polled for readiness when a deadline applies and nothing is buffered.
    fd: Option<RawFd>,
    schema: Schema,
    on_error: OnError,
    csv: csv_core::Reader,
    line: Vec<u8>,
    fields: Vec<u8>,
    ends: Vec<usize>,
    /// Lines read ahead for type inference, not yet returned.
    pending: VecDeque<(u64, Vec<u8>)>,
    line_no: u64,
    malformed: u64,
    at_end: bool,
}

impl TextSource {
    pub fn file(path: &str, on_error: OnError) -> Result<TextSource, Error> {
        let file = File::open(path).map_err(|source| Error::Io {
            what: format!("cannot open input {path}"),
            source,
        })?;
        TextSource::new(path.to_owned(), Box::new(file), None, on_error)
    }

    pub fn stdin(on_error: OnError) -> Result<TextSource, Error> {
        let stdin = std::io::stdin();
        let fd = stdin.as_raw_fd();
        TextSource::new("stdin".to_owned(), Box::new(stdin), Some(fd), on_error)
    }

    /// A source over any reader (tests, embedding).
    pub fn from_reader(
        name: impl Into<String>,
        reader: Box<dyn Read + Send>,
        on_error: OnError,
    ) -> Result<TextSource, Error> {
        TextSource::new(name.into(), reader, None, on_error)
    }

    fn new(
        name: String,
        reader: Box<dyn Read + Send>,
        fd: Option<RawFd>,
        on_error: OnError,
    ) -> Result<TextSource, Error> {
        let mut s = TextSource {
            name,
            reader: BufReader::with_capacity(1 << 16, reader),
            fd,
            schema: Schema::default(),
            on_error,
            csv: csv_core::Reader::new(),
            line: Vec::new(),
            fields: Vec::new(),
            ends: Vec::new(),
            pending: VecDeque::new(),
            line_no: 0,
            malformed: 0,
            at_end: false,
        };
        if !s.read_record(None)? {
            return Err(Error::Input {
                source: s.name.clone(),
                line: 1,
                reason: "the input is empty; a header row naming the columns is required".into(),
            });
        }
        let names: Vec<String> = (0..s.ends.len())
            .map(|i| String::from_utf8_lossy(s.field(i)).trim().to_owned())
            .collect();
        if let Some(i) = names.iter().position(|n| n.is_empty()) {
            return Err(Error::Input {
                source: s.name.clone(),
                line: 1,
                reason: format!("header column {} has no name", i + 1),
            });
        }
        s.schema = s.infer_schema(&names)?;
        Ok(s)
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.fields[start..self.ends[i]]
    }

    /// Reads lines until one whole CSV record is in `fields`/`ends`. Returns
    /// false at end of input, or when `deadline` passes before a line arrives
    /// (then `at_end` is false).
    fn read_record(&mut self, deadline: Option<Instant>) -> Result<bool, Error> {
        self.fields.clear();
        self.ends.clear();
        let mut nout = 0usize;
        let mut nend = 0usize;
        let mut first_line = true;
        loop {
            if let Some((line_no, line)) = self.pending.pop_front() {
                self.line_no = line_no;
                self.line = line;
            } else {
                if first_line && !self.wait_readable(deadline) {
                    return Ok(false);
                }
                self.line.clear();
                let n = self
                    .reader
                    .read_until(b'\n', &mut self.line)
                    .map_err(|source| Error::Io {
                        what: format!("cannot read input {}", self.name),
                        source,
                    })?;
                if n == 0 {
                    if first_line {
                        self.at_end = true;
                        return Ok(false);
                    }
                    // A quoted field left open at end of input: finish it.
                    self.line.clear();
                }
                self.line_no += 1;
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
                let (res, nin, o, e) =
                    self.csv
                        .read_record(input, &mut self.fields[nout..], &mut self.ends[nend..]);
                for end in &mut self.ends[nend..nend + e] {
                    *end += nout;
                }
                input = &input[nin..];
                nout += o;
                nend += e;
                match res {
                    csv_core::ReadRecordResult::Record => {
                        self.ends.truncate(nend);
                        self.fields.truncate(nout);
                        // A blank line is not a record.
                        if nend == 1 && nout == 0 {
                            return self.read_record(deadline);
                        }
                        return Ok(true);
                    }
                    csv_core::ReadRecordResult::End => {
                        self.at_end = true;
                        return Ok(false);
                    }
                    csv_core::ReadRecordResult::InputEmpty => {
                        if self.line.is_empty() {
                            // End of input: ask the parser to finish the record.
                            let (res, _, o, e) = self.csv.read_record(
                                &[],
                                &mut self.fields[nout..],
                                &mut self.ends[nend..],
                            );
                            for end in &mut self.ends[nend..nend + e] {
                                *end += nout;
                            }
                            nout += o;
                            nend += e;
                            self.ends.truncate(nend);
                            self.fields.truncate(nout);
                            return Ok(res == csv_core::ReadRecordResult::Record);
                        }
                        break;
                    }
                    csv_core::ReadRecordResult::OutputFull
                    | csv_core::ReadRecordResult::OutputEndsFull => continue,
                }
            }
        }
    }

    /// Waits until the input has a byte to read or `deadline` passes (or a
    /// signal interrupts the wait). Another poll error returns true, so the
    /// read that follows reports it.
    fn wait_readable(&self, deadline: Option<Instant>) -> bool {
        let (Some(fd), Some(deadline)) = (self.fd, deadline) else {
            return true;
        };
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid pollfd for the duration of the call, and the
        // count passed is 1, matching the single struct.
        let ready = unsafe {
            libc::poll(
                &mut pfd,
                1,
                timeout.as_millis().min(i32::MAX as u128) as i32,
            )
        };
        match ready {
            0 => false,
            // Interrupted by a signal: report nothing yet, so the caller
            // returns to check whether it should stop, and polls again.
            r if r < 0 => std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted,
            _ => true,
        }
    }

    fn infer_schema(&mut self, names: &[String]) -> Result<Schema, Error> {
        let trades = super::generator::trades_schema();
        let is_trades = names.len() == trades.len()
            && names
                .iter()
                .zip(&trades.fields)
                .all(|(n, f)| n.eq_ignore_ascii_case(&f.name));
        if is_trades {
            return Ok(trades);
        }
        let mut types: Vec<Option<DataType>> = vec![None; names.len()];
        for _ in 0..INFER_ROWS {
            if !self.read_record(None)? {
                break;
            }
            for (i, t) in types.iter_mut().enumerate().take(self.ends.len()) {
                let text = String::from_utf8_lossy(self.field(i));
                *t = widen(*t, text.trim());
            }
            self.pending
                .push_back((self.line_no, std::mem::take(&mut self.line)));
        }
        self.at_end = false;
        self.csv.reset();
        Ok(Schema::new(
            names
                .iter()
                .zip(types)
                .map(|(n, t)| Field::new(n.clone(), t.unwrap_or(DataType::Utf8)))
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
                    truncate_column(c, before);
                }
                return Err(e.to_string());
            }
        }
        batch.len += 1;
        Ok(())
    }
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

fn truncate_column(c: &mut crate::data::Column, rows: usize) {
    let mut rebuilt = crate::data::Column::with_capacity(c.data_type(), rows);
    for i in 0..rows {
        rebuilt.push_from(c, i);
    }
    *c = rebuilt;
}

impl Source for TextSource {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        let mut batch = Batch::with_capacity(&self.schema, max_rows);
        while batch.len < max_rows {
            // Once some rows are in hand, stop at the deadline rather than wait.
            let wait = if batch.len > 0 {
                Some(Instant::now())
            } else {
                deadline
            };
            let wait = if self.fd.is_some() { wait } else { None };
            if !self.read_record(wait)? {
                break;
            }
            if batch.len == 0 {
                batch.ingest_time = Instant::now();
            }
            if let Err(reason) = self.decode_into(&mut batch) {
                match self.on_error {
                    OnError::Fail => {
                        return Err(Error::Input {
                            source: self.name.clone(),
                            line: self.line_no,
                            reason,
                        })
                    }
                    OnError::Skip => self.malformed += 1,
                }
            }
        }
        Ok(if batch.len > 0 {
            Poll::Batch(batch)
        } else if self.at_end {
            Poll::End
        } else {
            Poll::Idle
        })
    }

    fn malformed(&self) -> u64 {
        self.malformed
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
        let src = TextSource::from_reader("t", Box::new(std::io::Cursor::new(csv)), OnError::Fail)
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
}
