//! The simple-line path of [`TextSource`] (see the module docs of
//! [`super`]): whole lines with no quote, no carriage return and valid UTF-8,
//! decoded straight from the read buffer a column at a time, with the lines
//! that do not decode taken again one at a time so that exactly the bad ones
//! are rejected.

use super::TextSource;
use crate::data::{Batch, Schema};
use crate::error::Error;
use crate::io::columnar::Scanned;
use crate::io::parse::push_field_in;
use crate::io::scan::Marks;
use std::io::BufRead;

impl TextSource {
    /// Decodes whole simple lines (see the module docs) from the read buffer
    /// into `batch` until it holds `max_rows`, or the buffer's next line is
    /// not simple or not whole; malformed lines go to the rejects.
    pub(super) fn decode_simple_lines(
        &mut self,
        batch: &mut Batch,
        max_rows: usize,
    ) -> Result<(), Error> {
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
