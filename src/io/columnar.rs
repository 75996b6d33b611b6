//! Decoding a block of simple lines a column at a time.
//!
//! [`LineFields::scan`] finds the fields of each line of a block with the
//! bitmask scanner ([`Blocks`], AVX2 where the CPU has it) and keeps where
//! they start. It first assumes every line is a row of the right width: a
//! 64-byte block's marks are written with no branch per mark (so no loop
//! exit to mispredict per block), and the rows are checked all at once, one
//! load a row, at the end. A scan that breaks the assumption (an empty line,
//! a line of another width) is done again a mark at a time. Each delimiter
//! and newline is one entry, so a row's fields are `width` entries apart.
//! [`LineFields::decode`] then parses one column
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

/// The fields of the lines of one block: where the first line starts, then
/// one past each delimiter and newline of the rows. Row `r`'s field `f` is
/// `starts[r * width + f] .. starts[r * width + f + 1] - 1`: the byte before
/// the next entry is the field's delimiter or newline, or for a row followed
/// by empty lines, their last newline (which `decode` trims).
#[derive(Debug)]
pub struct LineFields {
    /// `width` entries a row for the `rows` rows, one more, then scratch:
    /// the scan writes by index into a buffer kept as long as the longest
    /// scan needed (no push, no capacity check per entry).
    starts: Vec<u32>,
    /// Fields per line.
    width: usize,
    rows: usize,
    /// Whether the last scan passed over an empty line after a row.
    gaps: bool,
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
            gaps: false,
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

    /// The bounds (start, end) of field `f` of each row of the last scan of
    /// `bytes`: from the field's entry to the byte before the next entry.
    /// A row's entries are `width` apart, and the scan leaves room for a
    /// whole row past the last. The last field of a row followed by empty
    /// lines would take their newlines, which are trimmed (`GAPS`: the scan
    /// passed over empty lines): a field has none.
    #[inline(always)]
    fn fields<'a, const GAPS: bool>(
        &'a self,
        bytes: &'a [u8],
        f: usize,
    ) -> impl ExactSizeIterator<Item = (usize, usize)> + Clone + 'a {
        let (rows, width) = (self.rows, self.width);
        let nth_of_rows = move |f: usize| {
            self.starts[f..f + rows * width]
                .chunks_exact(width)
                .map(|row| row[0] as usize)
        };
        let trim = GAPS && f + 1 == width;
        nth_of_rows(f)
            .zip(nth_of_rows(f + 1))
            .map(move |(start, next)| {
                let mut end = next - 1;
                if trim {
                    while end > start && bytes[end - 1] == b'\n' {
                        end -= 1;
                    }
                }
                (start, end)
            })
    }

    /// Appends the rows of the last scan of `text` to `batch`, whose columns
    /// are `schema`'s, and says whether it could: on a field that does not
    /// parse it returns false with `batch` as it was.
    pub fn decode(&self, text: &str, schema: &Schema, batch: &mut Batch) -> bool {
        if self.gaps {
            self.decode_fields::<true>(text, schema, batch)
        } else {
            self.decode_fields::<false>(text, schema, batch)
        }
    }

    /// [`LineFields::decode`], compiled for whether the rows have gaps.
    fn decode_fields<const GAPS: bool>(
        &self,
        text: &str,
        schema: &Schema,
        batch: &mut Batch,
    ) -> bool {
        let before = batch.len;
        let bytes = text.as_bytes();
        // The rows' text, from the first one's start to the entry after the
        // last: its length bounds the bytes of any column's fields.
        let span = match self.rows {
            0 => 0,
            rows => (self.starts[rows * self.width] - self.starts[0]) as usize,
        };
        for (f, column) in batch.columns.iter_mut().enumerate() {
            let fields = self.fields::<GAPS>(bytes, f);
            let mut r = 0;
            if column.validity.is_none() {
                match &mut column.data {
                    ColumnData::Float64(v) => {
                        r = push_parsed(v, fields.clone(), |s, e| parse_f64_in(bytes, s, e));
                    }
                    // A TIMESTAMP field that is an integer is milliseconds,
                    // as `parse_timestamp` reads it first.
                    ColumnData::Int64(v) | ColumnData::Timestamp(v) => {
                        r = push_parsed(v, fields.clone(), |s, e| parse_i64_in(bytes, s, e));
                    }
                    // Up to the first empty field, a NULL.
                    ColumnData::Utf8(v) => r = v.extend_within(bytes, fields.clone(), span),
                    _ => {}
                }
            }
            // The rest of the column, a field at a time: other types, NULLs.
            let name = &schema.fields[f].name;
            for (start, end) in fields.skip(r) {
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

/// How far a scan is. The open line (the one being scanned) starts at
/// entry `rows * width`, and `n - 1 - rows * width` of its marks are found.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Entries written.
    n: usize,
    rows: usize,
    empty_lines: usize,
    odd_line: bool,
}

impl WithFinder for ScanLines<'_> {
    type Output = Scanned;

    /// First trusting that every line is a row of the right width (the
    /// marks of a block written without a branch per mark, then checked
    /// for all the rows at once), and if one is not (an empty line, another
    /// field count), again a mark at a time from the start.
    #[inline(always)]
    fn with<F: Finder>(self, finder: F) -> Scanned {
        let ScanLines {
            fields,
            bytes,
            max_rows,
        } = self;
        let width = fields.width;
        let starts = &mut fields.starts;
        let progress = scan_blocks(starts, bytes, finder, width, max_rows, true)
            .or_else(|| scan_blocks(starts, bytes, finder, width, max_rows, false))
            .expect("a scan that trusts nothing checks nothing");
        // Room for `decode`'s views of a whole last row past the rows.
        let room = (progress.rows + 1) * width + 1;
        if starts.len() < room {
            grow(starts, room);
        }
        fields.rows = progress.rows;
        fields.gaps = progress.empty_lines > 0;
        Scanned {
            consumed: fields.starts[progress.rows * width] as usize,
            lines: (progress.rows + progress.empty_lines) as u64,
            odd_line: progress.odd_line,
        }
    }
}

/// Scans the blocks of `bytes` from its start into `starts`. With
/// `trusting`, a block in which the last row wanted does not end has its
/// marks written as if every line were a row of `width` fields
/// ([`Finder::write_marks`]), and those rows are checked ([`rows_end_at_newlines`])
/// before a block is done a mark at a time and at the end: `None` if they
/// are not all rows. Without it, or for `width` 1 (where an empty line would
/// pass for a row), every block is done a mark at a time.
#[inline(always)]
fn scan_blocks<F: Finder>(
    starts: &mut Vec<u32>,
    bytes: &[u8],
    finder: F,
    width: usize,
    max_rows: usize,
    trusting: bool,
) -> Option<Progress> {
    let trusting = trusting && width > 1;
    if starts.is_empty() {
        grow(starts, 1);
    }
    starts[0] = 0;
    let mut progress = Progress {
        n: 1,
        ..Progress::default()
    };
    if max_rows == 0 {
        return Some(progress);
    }
    // The rows before this one are known to be rows.
    let mut checked = 0;
    for block in Blocks::new(bytes, finder) {
        // At most one entry a byte.
        if starts.len() < progress.n + BLOCK {
            grow(starts, progress.n + BLOCK);
        }
        let lines = block.newlines.count_ones() as usize;
        if trusting && progress.rows + lines < max_rows {
            let window = starts[progress.n..].first_chunk_mut().expect("grown above");
            let marks = block.newlines | block.delimiters;
            progress.n += finder.write_marks(window, marks, block.at as u32 + 1);
            progress.rows += lines;
            continue;
        }
        if !rows_end_at_newlines(starts, bytes, width, checked, progress) {
            return None;
        }
        // A copy, so that `progress` itself stays in registers.
        let mut slow = progress;
        let Block {
            at,
            newlines,
            delimiters,
        } = block;
        marks_one_by_one(starts, at, newlines, delimiters, width, max_rows, &mut slow);
        progress = slow;
        checked = progress.rows;
        if progress.odd_line || progress.rows == max_rows {
            break;
        }
    }
    rows_end_at_newlines(starts, bytes, width, checked, progress).then_some(progress)
}

/// Lengthens `starts` to at least `len`, at least doubling it.
#[cold]
#[inline(never)]
fn grow(starts: &mut Vec<u32>, len: usize) {
    starts.resize(len.max(2 * starts.len()), 0);
}

/// Whether the entries written since row `checked` are rows of `width`
/// fields: each of the `progress.rows - checked` rows' last entry is one
/// past a newline. The marks among those entries hold exactly that many
/// newlines, so then every newline ends a row and no line has more or fewer
/// fields.
#[inline(always)]
fn rows_end_at_newlines(
    starts: &[u32],
    bytes: &[u8],
    width: usize,
    checked: usize,
    progress: Progress,
) -> bool {
    let open = progress.rows * width;
    if checked == progress.rows {
        return true;
    }
    // Fewer marks than the rows need: some line is short.
    if progress.n <= open {
        return false;
    }
    starts[(checked + 1) * width..=open]
        .iter()
        .step_by(width)
        .all(|&end| bytes[end as usize - 1] == b'\n')
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
        let line = *rows * width;
        if at == starts[line] as usize {
            // An empty line: not a row; the open line starts after it.
            *empty_lines += 1;
            starts[line] = at as u32 + 1;
            *n = line + 1;
        } else if *n - line != width + 1 {
            *odd_line = true;
            *n = line + 1;
            break;
        } else {
            *rows += 1;
            if *rows == max_rows {
                break;
            }
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

    /// The rows (their fields' bounds) and outcome of a scan, the same by
    /// every finder this CPU has.
    fn scan(text: &[u8], width: usize, max_rows: usize) -> (Vec<Vec<(usize, usize)>>, Scanned) {
        let mut outcomes = Scanner::all().into_iter().map(|scanner| {
            let mut lines = LineFields::with_scanner(scanner);
            let scanned = lines.scan(text, b';', width, max_rows);
            let mut rows = vec![Vec::new(); lines.rows()];
            for f in 0..width {
                let fields: Vec<_> = match lines.gaps {
                    true => lines.fields::<true>(text, f).collect(),
                    false => lines.fields::<false>(text, f).collect(),
                };
                for (row, field) in rows.iter_mut().zip(fields) {
                    row.push(field);
                }
            }
            (scanner, rows, scanned)
        });
        let (_, rows, scanned) = outcomes.next().expect("the fallback is always there");
        for (scanner, other_rows, other) in outcomes {
            assert_eq!((&other_rows, other), (&rows, scanned), "{scanner:?}");
        }
        (rows, scanned)
    }

    /// What `scan` keeps, a line at a time.
    fn reference(
        text: &[u8],
        width: usize,
        max_rows: usize,
    ) -> (Vec<Vec<(usize, usize)>>, Scanned) {
        let (mut rows, mut consumed, mut lines) = (Vec::new(), 0, 0);
        let mut odd_line = false;
        let mut ends = text.iter().enumerate().filter(|(_, &b)| b == b'\n');
        while rows.len() < max_rows {
            let Some((end, _)) = ends.next() else { break };
            let line = &text[consumed..end];
            if !line.is_empty() {
                let mut row = Vec::new();
                let mut start = consumed;
                for (i, &b) in line.iter().enumerate() {
                    if b == b';' {
                        row.push((start, consumed + i));
                        start = consumed + i + 1;
                    }
                }
                row.push((start, end));
                if row.len() != width {
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
        assert_eq!(rows, vec![vec![(0, 2), (3, 4)], vec![(6, 8), (9, 11)]]);
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
        assert_eq!(rows, vec![vec![(0, 1), (2, 3)]]);
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
        // limits, by every finder. One case in five has more lines, of
        // fields of 0..=2 or 0..=6 bytes and seldom an empty one (so that
        // blocks of any number of marks up to 64 are written trusting the
        // lines).
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let cases = if cfg!(miri) { 10 } else { 600 };
        for case in 0..cases {
            let width = 1 + case % 4;
            let odd_every = [3, 20, 1000][case / 4 % 3];
            let (lengths, lines, empty_every): (&[usize], _, _) = match case % 10 {
                0 => (&[0, 1, 2], 200, 1000),
                5 => (&[0, 1, 2, 4, 6], 200, 1000),
                _ => (&[0, 1, 3, 7, 15, 70], 40, 10),
            };
            let mut text = Vec::new();
            for _ in 0..rng.next() % lines {
                if rng.next().is_multiple_of(empty_every) {
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
                    let len = lengths[rng.next() as usize % lengths.len()];
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
