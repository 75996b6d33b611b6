//! Decoding a block of simple lines a column at a time.
//!
//! [`LineFields::scan`] finds the fields of each line of a block with the
//! bitmask scanner ([`Marks`]) and keeps where they are;
//! [`LineFields::decode`] then parses one column over all those lines at a
//! time, so the column's type is matched once per block instead of once per
//! field, and each column's loop is a tight one.
//!
//! Nothing here rejects: a line with the wrong number of fields ends the scan
//! before it, and a field that does not parse makes `decode` fail as a whole,
//! leaving the caller to decode those lines one by one (and reject exactly the
//! bad ones with their line numbers).

use super::parse::{parse_f64_in, parse_i64_in, push_field_in};
use super::scan::Marks;
use crate::data::column::ColumnData;
use crate::data::{Batch, Schema};

/// The fields of the lines of one block: for each line, its start and then
/// the end of each of its fields (a delimiter, the last one its newline).
#[derive(Debug, Default)]
pub struct LineFields {
    bounds: Vec<u32>,
    /// Fields per line.
    width: usize,
    rows: usize,
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
        self.bounds.clear();
        self.width = width;
        self.rows = 0;
        let mut scanned = Scanned {
            consumed: 0,
            lines: 0,
            odd_line: false,
        };
        if max_rows == 0 {
            return scanned;
        }
        // The entry of the line being scanned starts at `line`.
        let mut line = 0;
        self.bounds.push(0);
        for at in Marks::new(bytes, delimiter) {
            self.bounds.push(at as u32);
            if bytes[at] != b'\n' {
                continue;
            }
            let fields = self.bounds.len() - line - 1;
            if at == scanned.consumed {
                // An empty line: not a row.
                self.bounds.truncate(line);
            } else if fields != width {
                self.bounds.truncate(line);
                scanned.odd_line = true;
                return scanned;
            } else {
                self.rows += 1;
                line = self.bounds.len();
            }
            scanned.lines += 1;
            scanned.consumed = at + 1;
            if self.rows == max_rows {
                return scanned;
            }
            self.bounds.push(scanned.consumed as u32);
        }
        self.bounds.truncate(line);
        scanned
    }

    /// Appends the rows of the last scan of `text` to `batch`, whose columns
    /// are `schema`'s, and says whether it could: on a field that does not
    /// parse it returns false with `batch` as it was.
    pub fn decode(&self, text: &str, schema: &Schema, batch: &mut Batch) -> bool {
        let before = batch.len;
        for (f, column) in batch.columns.iter_mut().enumerate() {
            // Field `f` of line `r`: after the end of field `f - 1` (its
            // delimiter), or at the line's start; up to its own end.
            let after = usize::from(f > 0);
            let field = |r: usize| {
                let at = r * (self.width + 1) + f;
                (
                    self.bounds[at] as usize + after,
                    self.bounds[at + 1] as usize,
                )
            };
            let bytes = text.as_bytes();
            let mut r = 0;
            if column.validity.is_none() {
                match &mut column.data {
                    ColumnData::Float64(v) => {
                        r = push_parsed(v, self.rows, field, |s, e| parse_f64_in(bytes, s, e));
                    }
                    // A TIMESTAMP field that is an integer is milliseconds,
                    // as `parse_timestamp` reads it first.
                    ColumnData::Int64(v) | ColumnData::Timestamp(v) => {
                        r = push_parsed(v, self.rows, field, |s, e| parse_i64_in(bytes, s, e));
                    }
                    ColumnData::Utf8(v) => {
                        while r < self.rows {
                            let (start, end) = field(r);
                            if start == end {
                                break; // NULL
                            }
                            v.push_within(bytes, start, end);
                            r += 1;
                        }
                    }
                    _ => {}
                }
            }
            // The rest of the column, a field at a time: other types, NULLs.
            let name = &schema.fields[f].name;
            for r in r..self.rows {
                let (start, end) = field(r);
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

/// Pushes `parse(start, end)` of the field of each of rows `0..rows` (`field`
/// gives its bounds) onto `values`, up to the first that does not parse;
/// returns how many were pushed.
#[inline(always)]
fn push_parsed<T>(
    values: &mut Vec<T>,
    rows: usize,
    field: impl Fn(usize) -> (usize, usize),
    parse: impl Fn(usize, usize) -> Option<T>,
) -> usize {
    values.reserve(rows);
    for r in 0..rows {
        let (start, end) = field(r);
        match parse(start, end) {
            Some(x) => values.push(x),
            None => return r,
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, width: usize, max_rows: usize) -> (Vec<Vec<u32>>, Scanned) {
        let mut fields = LineFields::default();
        let scanned = fields.scan(text.as_bytes(), b';', width, max_rows);
        let rows = fields
            .bounds
            .chunks(width + 1)
            .map(<[u32]>::to_vec)
            .collect::<Vec<_>>();
        assert_eq!(rows.len(), fields.rows());
        (rows, scanned)
    }

    #[test]
    fn keeps_each_lines_start_and_field_ends() {
        let (rows, scanned) = scan("ab;1\n\ncd;22\n", 2, 10);
        assert_eq!(rows, vec![vec![0, 2, 4], vec![6, 8, 11]]);
        let expected = Scanned {
            consumed: 12,
            lines: 3,
            odd_line: false,
        };
        assert_eq!(scanned, expected);
    }

    #[test]
    fn stops_before_a_line_with_another_field_count() {
        let (rows, scanned) = scan("a;1\nb;2;3\nc;4\n", 2, 10);
        assert_eq!(rows, vec![vec![0, 1, 3]]);
        let expected = Scanned {
            consumed: 4,
            lines: 1,
            odd_line: true,
        };
        assert_eq!(scanned, expected);
        let (rows, scanned) = scan("x\n", 2, 10);
        assert!(rows.is_empty());
        assert!(scanned.odd_line && scanned.consumed == 0);
    }

    #[test]
    fn stops_at_max_rows() {
        let (rows, scanned) = scan("a;1\nb;2\nc;3\n", 2, 2);
        assert_eq!(rows.len(), 2);
        assert_eq!((scanned.consumed, scanned.lines), (8, 2));
    }
}
