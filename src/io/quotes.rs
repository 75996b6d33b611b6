//! Where a CSV quote was left open, for the messages about it (the error
//! path only: records are parsed by csv-core, which keeps its state to itself).
//!
//! The rules are csv-core's defaults, which [`super::text::TextSource`] uses:
//! a quote opens a quoted field only at the start of a field; inside one, two
//! quotes are a quote and one quote closes it; elsewhere a quote is data. LF
//! and CR end a record outside quotes.

use super::split::Part;
use crate::error::Error;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

/// Why a record over `max` bytes is malformed; names the line where a
/// quote still open at the bound opened, if one is (a missing closing quote
/// makes the rest of the input one field). `raw` is the record's kept bytes;
/// `line_of` turns a line offset within it into the file's line number.
pub fn too_long_reason(
    raw: &[u8],
    delimiter: u8,
    max: usize,
    line_of: impl FnOnce(u64) -> Result<u64, Error>,
) -> String {
    let reason = format!("the record is longer than {max} bytes (max_line_bytes)");
    match open_quote_line(raw, delimiter).map(line_of) {
        None => reason,
        Some(Ok(line)) => {
            format!("{reason}; the quote that opens a field on line {line} is still open there")
        }
        Some(Err(e)) => e.to_string(),
    }
}

/// Why a record that ends at the end of the input with a quoted field open
/// is malformed: the line where the quote opened, which swallowed every line
/// after it. Arguments as for [`too_long_reason`].
pub fn never_closed_reason(
    raw: &[u8],
    delimiter: u8,
    line_of: impl FnOnce(u64) -> Result<u64, Error>,
) -> String {
    match line_of(open_quote_line(raw, delimiter).unwrap_or_default()) {
        Ok(line) => format!(
            "the quote that opens a field on line {line} is never closed, \
             so the field runs to the end of the input"
        ),
        Err(e) => e.to_string(),
    }
}

/// Why a byte range of a file read in parallel stops with a quoted field
/// open at its cut (`never_closed`: the [`never_closed_reason`] of its
/// record). Reads the file past the cut: if the quote is never closed, the
/// record is malformed, but the lines after it, which one reader would count
/// in it, were read by the other readers, so the run must stop; else the
/// field holds a line break where the file was cut.
pub fn cut_reason(cut: &Part, never_closed: String) -> String {
    let rest = File::open(&cut.path).and_then(|mut f| {
        f.seek(SeekFrom::Start(cut.end))?;
        closes_in(f)
    });
    match rest {
        Err(e) => format!(
            "cannot read {} past byte {}: {e}",
            cut.path.display(),
            cut.end
        ),
        Ok(false) => format!(
            "{never_closed}; other readers have read the lines after it, so the run stops: \
             read the file with --readers 1 to count it as malformed and go on"
        ),
        Ok(true) => format!(
            "a quoted field runs past byte {}, where the file was split for parallel \
             reading; a file with line breaks inside quoted fields must be read by one \
             reader (--readers 1)",
            cut.end
        ),
    }
}

/// Where a parse of one record stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// In a field without quotes.
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// In a quoted field, just after a quote: it closed the field, unless a
    /// second quote follows.
    QuoteInQuoted,
}

/// The line (0 for the record's first) on which the quoted field still open
/// at the end of `record` opened, or `None` if no quote is open there.
/// `record` is one record's bytes from its start, as read.
pub fn open_quote_line(record: &[u8], delimiter: u8) -> Option<u64> {
    let mut state = State::FieldStart;
    let (mut line, mut opened) = (0u64, 0u64);
    for &b in record {
        state = match (state, b) {
            (State::FieldStart, b'"') => {
                opened = line;
                State::Quoted
            }
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (_, b) if b == delimiter => State::FieldStart,
            (_, b'\n' | b'\r') => State::FieldStart,
            _ => State::Unquoted,
        };
        if b == b'\n' {
            line += 1;
        }
    }
    (state == State::Quoted).then_some(opened)
}

/// Whether a quoted field open at the start of `rest` closes before its end
/// (reads `rest` to the end, or to the closing quote).
pub fn closes_in(mut rest: impl Read) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut after_quote = false;
    loop {
        let n = match rest.read(&mut buf) {
            Ok(0) => return Ok(after_quote),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for &b in &buf[..n] {
            match (after_quote, b) {
                (false, b'"') => after_quote = true,
                (true, b'"') => after_quote = false,
                (true, _) => return Ok(true),
                (false, _) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_line_of_the_quote_left_open() {
        assert_eq!(open_quote_line(b"1,x\n", b','), None);
        assert_eq!(open_quote_line(b"1,\"x\n2,y\n", b','), Some(0));
        assert_eq!(open_quote_line(b"1,\"a\nb\",\"c\nd", b','), Some(1));
        assert_eq!(open_quote_line(b"1,\"a\"\"\nb", b','), Some(0));
        assert_eq!(open_quote_line(b"1,\"a\"\"\"\n", b','), None);
        // A quote inside an unquoted field is data.
        assert_eq!(open_quote_line(b"1,a\"b\n", b','), None);
        assert_eq!(open_quote_line(b"1;\"a,b\n", b';'), Some(0));
    }

    #[test]
    fn closes_in_looks_for_a_lone_quote() {
        assert!(!closes_in(&b"abc\ndef\n"[..]).unwrap());
        assert!(!closes_in(&b"a\"\"b\n"[..]).unwrap());
        assert!(closes_in(&b"a\",b\n"[..]).unwrap());
        assert!(closes_in(&b"a\""[..]).unwrap());
    }
}
