//! Decoding a block of simple lines a column at a time.
//!
//! [`LineFields::scan`] finds the fields of each line of a block with the
//! bitmask scanner ([`Blocks`], AVX2 where the CPU has it) and keeps where
//! they start; its loop over a 64-byte block's marks assumes every line is a
//! row of the right width and checks only that, so a line costs a few
//! instructions a field, and a block that breaks the assumption is done
//! again a mark at a time. [`LineFields::decode`] then parses one column
//! over all those lines at a time, so the column's type is matched once per
//! block instead of once per field, and each column's loop is a tight one.
//!
//! Nothing here rejects: a line with the wrong number of fields ends the scan
//! before it, and a field that does not parse makes `decode` fail as a whole,
//! leaving the caller to decode those lines one by one (and reject exactly the
//! bad ones with their line numbers).

use super::parse::{parse_f64_in, parse_i64_in, push_field_in};
use super::scan::{Block, Blocks, Finder, Scanner, WithFinder, BLOCK};
use crate::data::column::ColumnData;
use crate::data::{Batch, Schema};

/// The fields of the lines of one block: for each line, where each of its
/// fields starts and then where the next line would start (one past its
/// newline). Field `f` is `starts[f] .. starts[f + 1] - 1`: the byte before
/// the next start is the field's delimiter or newline.
#[derive(Debug)]
pub struct LineFields {
    /// `width + 1` entries a row for the `rows` rows, then scratch: the scan
    /// writes by index into a buffer kept as long as the longest scan needed
    /// (no push, no capacity check per entry).
    starts: Vec<u32>,
    /// Fields per line.
    width: usize,
    rows: usize,
    /// The byte finder, chosen for the CPU once.
    scanner: Scanner,
}

impl Default for LineFields {
    fn default() -> LineFields {
        LineFields::with_scanner(Scanner::detect())
    }
}

/// How far [`LineFields::scan`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// Bytes of the block taken: the lines kept and the empty lines among them.
    pub consumed: usize,
    /// Lines taken, empty ones included.
    pub lines: u64,
    /// Whether the scan stopped before a line with another number of fields,
    /// which starts at `consumed`.
    pub odd_line: bool,
}

impl LineFields {
    /// Scans with `scanner`'s byte finder rather than the CPU's best.
    pub fn with_scanner(scanner: Scanner) -> LineFields {
        LineFields {
            starts: Vec::new(),
            width: 0,
            rows: 0,
            scanner,
        }
    }

    /// Lines kept by the last scan.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Scans the lines of `bytes` (whole lines: it ends with a newline, and it
    /// is shorter than 4 GiB) from its start, keeping up to `max_rows` lines
    /// of exactly `width` fields split at `delimiter`. Empty lines are passed
    /// over. Stops before the first line with another number of fields.
    pub fn scan(&mut self, bytes: &[u8], delimiter: u8, width: usize, max_rows: usize) -> Scanned {
        debug_assert!(bytes.len() <= u32::MAX as usize);
        self.width = width;
        self.rows = 0;
        let scanner = self.scanner;
        scanner.run(
            delimiter,
            ScanLines {
                fields: self,
                bytes,
                max_rows,
            },
        )
    }

    /// Appends the rows of the last scan of `text` to `batch`, whose columns
    /// are `schema`'s, and says whether it could: on a field that does not
    /// parse it returns false with `batch` as it was.
    pub fn decode(&self, text: &str, schema: &Schema, batch: &mut Batch) -> bool {
        let before = batch.len;
        let bytes = text.as_bytes();
        // The entries of the rows, one chunk a row.
        let rows = self.starts[..self.rows * (self.width + 1)].chunks_exact(self.width + 1);
        for (f, column) in batch.columns.iter_mut().enumerate() {
            // Field `f` of a row: from its start to the byte before the next
            // field's (its delimiter or newline).
            let field = move |row: &[u32]| (row[f] as usize, row[f + 1] as usize - 1);
            let fields = rows.clone().map(field);
            let mut r = 0;
            if column.validity.is_none() {
                match &mut column.data {
                    ColumnData::Float64(v) => {
                        r = push_parsed(v, fields, |s, e| parse_f64_in(bytes, s, e));
                    }
                    // A TIMESTAMP field that is an integer is milliseconds,
                    // as `parse_timestamp` reads it first.
                    ColumnData::Int64(v) | ColumnData::Timestamp(v) => {
                        r = push_parsed(v, fields, |s, e| parse_i64_in(bytes, s, e));
                    }
                    // Up to the first empty field, a NULL.
                    ColumnData::Utf8(v) => r = v.extend_within(bytes, fields),
                    _ => {}
                }
            }
            // The rest of the column, a field at a time: other types, NULLs.
            let name = &schema.fields[f].name;
            for row in rows.clone().skip(r) {
                let (start, end) = field(row);
                if push_field_in(column, text, start, end, name).is_err() {
                    for c in batch.columns.iter_mut() {
                        c.truncate(before);
                    }
                    return false;
                }
            }
        }
        batch.len += self.rows;
        true
    }
}

/// [`LineFields::scan`]'s loop, compiled for its finder.
struct ScanLines<'a> {
    fields: &'a mut LineFields,
    bytes: &'a [u8],
    max_rows: usize,
}

/// How far a scan is.
#[derive(Debug, Clone, Copy)]
struct Progress {
    /// Entries written.
    n: usize,
    /// The entry of the line being scanned, its start: `n - 1 - line` of
    /// its fields are found (always fewer than the width).
    line: usize,
    rows: usize,
    empty_lines: usize,
    odd_line: bool,
}

impl WithFinder for ScanLines<'_> {
    type Output = Scanned;

    /// A block at a time: each block first as if all of its lines were rows
    /// ([`rows_only`]: no bounds check, no count but the entries, a branch
    /// out at the first line that is not a row), and if one is not (an empty
    /// line, another field count, or the block of the last row wanted),
    /// again a mark at a time ([`marks_one_by_one`]), from the same entry.
    #[inline(always)]
    fn with<F: Finder>(self, finder: F) -> Scanned {
        let ScanLines {
            fields,
            bytes,
            max_rows,
        } = self;
        let width = fields.width;
        fields.rows = 0;
        if max_rows == 0 {
            return Scanned {
                consumed: 0,
                lines: 0,
                odd_line: false,
            };
        }
        let starts = &mut fields.starts;
        if starts.is_empty() {
            starts.push(0);
        }
        starts[0] = 0;
        let mut progress = Progress {
            n: 1,
            line: 0,
            rows: 0,
            empty_lines: 0,
            odd_line: false,
        };
        for block in Blocks::new(bytes, finder) {
            // A block writes at most two entries a byte (a newline ends a
            // line and starts the next).
            if starts.len() < progress.n + 2 * BLOCK {
                grow(starts, progress.n + 2 * BLOCK);
            }
            // Not the block of the last row wanted: that one stops inside.
            let lines = block.newlines.count_ones() as usize;
            let window = if width > 1 && progress.rows + lines < max_rows {
                starts[progress.n..].first_chunk_mut()
            } else {
                None
            };
            let open = progress.n - 1 - progress.line;
            match window.and_then(|window| rows_only(window, block, width, open)) {
                Some((written, open)) => {
                    progress.n += written;
                    progress.line = progress.n - 1 - open;
                    progress.rows += lines;
                }
                None => {
                    // A copy, so that `progress` itself stays in registers.
                    let mut slow = progress;
                    let Block {
                        at,
                        newlines,
                        delimiters,
                    } = block;
                    marks_one_by_one(starts, at, newlines, delimiters, width, max_rows, &mut slow);
                    progress = slow;
                    if progress.odd_line || progress.rows == max_rows {
                        break;
                    }
                }
            }
        }
        fields.rows = progress.rows;
        Scanned {
            consumed: fields.starts[progress.line] as usize,
            lines: (progress.rows + progress.empty_lines) as u64,
            odd_line: progress.odd_line,
        }
    }
}

/// Lengthens `starts` to at least `len`, at least doubling it.
#[cold]
#[inline(never)]
fn grow(starts: &mut Vec<u32>, len: usize) {
    starts.resize(len.max(2 * starts.len()), 0);
}

/// Writes the entries of `block`'s marks to `window` (which starts at the
/// next entry) as if every line ending in it had `width` fields (`width >
/// 1`), `open` of them found before the block. Returns the entries written
/// and the fields found of the line left open, or None at a line ending in
/// the block that is not such a row (an empty line has one field).
#[inline(always)]
fn rows_only(
    window: &mut [u32; 2 * BLOCK],
    block: Block,
    width: usize,
    open: usize,
) -> Option<(usize, usize)> {
    let mut marks = block.newlines | block.delimiters;
    // The start after a mark at `bit`; fits, the block being shorter than
    // 4 GiB.
    let after = block.at as u32 + 1;
    // Entries written; the entry of the open line's start (before the
    // window while it is the line open before the block).
    let mut k = 0;
    let mut line = 0usize.wrapping_sub(open + 1);
    while marks != 0 {
        let bit = marks.trailing_zeros();
        marks &= marks - 1;
        // `k` is at most twice the marks before this one, so at most 126:
        // the `%` changes nothing but shows the index is in bounds.
        window[k % (2 * BLOCK)] = after + bit;
        k += 1;
        if block.newlines >> bit & 1 == 1 {
            if k.wrapping_sub(line) != width + 1 {
                return None;
            }
            // The next line's start.
            window[k % (2 * BLOCK)] = after + bit;
            line = k;
            k += 1;
        }
    }
    Some((k, k.wrapping_sub(line) - 1))
}

/// Writes the entries of the marks of the block at `at` to `starts` a mark
/// at a time, passing over empty lines and stopping after the `max_rows`th
/// row or before a line with another number of fields. The block comes
/// taken apart: a struct argument would go through memory, stored on every
/// block of the caller's fast path.
#[inline(never)]
fn marks_one_by_one(
    starts: &mut [u32],
    at: usize,
    newlines: u64,
    delimiters: u64,
    width: usize,
    max_rows: usize,
    progress: &mut Progress,
) {
    let Progress {
        n,
        line,
        rows,
        empty_lines,
        odd_line,
    } = progress;
    let block_at = at;
    let mut marks = newlines | delimiters;
    while marks != 0 {
        let bit = marks.trailing_zeros() as usize;
        marks &= marks - 1;
        let at = block_at + bit;
        starts[*n] = at as u32 + 1;
        *n += 1;
        if newlines >> bit & 1 == 0 {
            continue;
        }
        let start = starts[*line] as usize;
        if at == start {
            // An empty line: not a row; the next starts after it.
            *empty_lines += 1;
            *n = *line;
        } else if *n - *line != width + 1 {
            *odd_line = true;
            break;
        } else {
            *rows += 1;
            *line = *n;
        }
        starts[*n] = at as u32 + 1;
        *n += 1;
        if *rows == max_rows {
            break;
        }
    }
}

/// Pushes `parse(start, end)` of each field of `fields` (its bounds) onto
/// `values`, up to the first that does not parse; returns how many were
/// pushed.
///
/// All of them are parsed and pushed by one `extend` of an iterator of known
/// length (room made once, no capacity check per value), a field that does
/// not parse as a placeholder, and then cut off at the first of those: a
/// block with a bad field goes back to the row path anyway.
#[inline(always)]
fn push_parsed<T: Copy + Default>(
    values: &mut Vec<T>,
    fields: impl ExactSizeIterator<Item = (usize, usize)>,
    parse: impl Fn(usize, usize) -> Option<T>,
) -> usize {
    let before = values.len();
    let rows = fields.len();
    let mut bad = None;
    values.extend(fields.enumerate().map(|(r, (start, end))| {
        parse(start, end).unwrap_or_else(|| {
            bad.get_or_insert(r);
            T::default()
        })
    }));
    match bad {
        Some(r) => {
            values.truncate(before + r);
            r
        }
        None => rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::scan::tests::Rng;

    /// The rows (their entries) and outcome of a scan, the same by every
    /// finder this CPU has.
    fn scan(text: &[u8], width: usize, max_rows: usize) -> (Vec<Vec<u32>>, Scanned) {
        let mut outcomes = Scanner::all().into_iter().map(|scanner| {
            let mut fields = LineFields::with_scanner(scanner);
            let scanned = fields.scan(text, b';', width, max_rows);
            let rows = fields.starts[..fields.rows() * (width + 1)]
                .chunks(width + 1)
                .map(<[u32]>::to_vec)
                .collect::<Vec<_>>();
            (scanner, rows, scanned)
        });
        let (_, rows, scanned) = outcomes.next().expect("the fallback is always there");
        for (scanner, other_rows, other) in outcomes {
            assert_eq!((&other_rows, other), (&rows, scanned), "{scanner:?}");
        }
        (rows, scanned)
    }

    /// What `scan` keeps, a line at a time.
    fn reference(text: &[u8], width: usize, max_rows: usize) -> (Vec<Vec<u32>>, Scanned) {
        let (mut rows, mut consumed, mut lines) = (Vec::new(), 0, 0);
        let mut odd_line = false;
        let mut ends = text.iter().enumerate().filter(|(_, &b)| b == b'\n');
        while rows.len() < max_rows {
            let Some((end, _)) = ends.next() else { break };
            let line = &text[consumed..end];
            if !line.is_empty() {
                let mut row = vec![consumed as u32];
                for (i, &b) in line.iter().enumerate() {
                    if b == b';' {
                        row.push((consumed + i + 1) as u32);
                    }
                }
                row.push(end as u32 + 1);
                if row.len() != width + 1 {
                    odd_line = true;
                    break;
                }
                rows.push(row);
            }
            lines += 1;
            consumed = end + 1;
        }
        let scanned = Scanned {
            consumed,
            lines,
            odd_line,
        };
        (rows, scanned)
    }

    #[test]
    fn keeps_each_lines_field_starts() {
        let (rows, scanned) = scan(b"ab;1\n\ncd;22\n", 2, 10);
        assert_eq!(rows, vec![vec![0, 3, 5], vec![6, 9, 12]]);
        let expected = Scanned {
            consumed: 12,
            lines: 3,
            odd_line: false,
        };
        assert_eq!(scanned, expected);
    }

    #[test]
    fn stops_before_a_line_with_another_field_count() {
        let (rows, scanned) = scan(b"a;1\nb;2;3\nc;4\n", 2, 10);
        assert_eq!(rows, vec![vec![0, 2, 4]]);
        let expected = Scanned {
            consumed: 4,
            lines: 1,
            odd_line: true,
        };
        assert_eq!(scanned, expected);
        let (rows, scanned) = scan(b"x\n", 2, 10);
        assert!(rows.is_empty());
        assert!(scanned.odd_line && scanned.consumed == 0);
    }

    #[test]
    fn stops_at_max_rows() {
        let (rows, scanned) = scan(b"a;1\nb;2\nc;3\n", 2, 2);
        assert_eq!(rows.len(), 2);
        assert_eq!((scanned.consumed, scanned.lines), (8, 2));
        let (rows, scanned) = scan(b"a;1\nb;2\n", 2, 0);
        assert!(rows.is_empty());
        assert_eq!((scanned.consumed, scanned.lines), (0, 0));
    }

    #[test]
    fn random_lines_as_the_reference_keeps_them() {
        // Lines of 1..=4 fields of 0..=70 bytes (so some span a block or
        // more), empty lines, and now and then a line of another width or
        // a last line without its newline; every width and a range of row
        // limits, by every finder.
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let cases = if cfg!(miri) { 10 } else { 600 };
        for case in 0..cases {
            let width = 1 + case % 4;
            let odd_every = [3, 20, 1000][case / 4 % 3];
            let mut text = Vec::new();
            for _ in 0..rng.next() % 40 {
                if rng.next().is_multiple_of(10) {
                    text.push(b'\n');
                    continue;
                }
                let fields = if rng.next().is_multiple_of(odd_every) {
                    1 + rng.next() as usize % 5
                } else {
                    width
                };
                for f in 0..fields {
                    if f > 0 {
                        text.push(b';');
                    }
                    let len = [0, 1, 3, 7, 15, 70][rng.next() as usize % 6];
                    text.extend((0..len).map(|_| b'a' + (rng.next() % 26) as u8));
                }
                text.push(b'\n');
            }
            if rng.next().is_multiple_of(5) {
                text.extend_from_slice(b"tail;no newline");
            }
            for max_rows in [0, 1, 2, 5, usize::MAX] {
                assert_eq!(
                    scan(&text, width, max_rows),
                    reference(&text, width, max_rows),
                    "case {case}, width {width}, max_rows {max_rows}: {:?}",
                    String::from_utf8_lossy(&text)
                );
            }
        }
    }
}
