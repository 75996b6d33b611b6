//! Columns: one typed vector per column, with an optional validity mask for NULLs.

use std::cell::Cell;
use std::mem::MaybeUninit;

use super::value::format_decimal;
use super::{DataType, Value};

/// Strings of at most this many bytes are copied with one fixed-size copy
/// by [`Utf8Column::push_within`].
const SHORT_COPY: usize = 32;

/// Variable-length UTF-8 strings stored back to back.
///
/// # Invariants
/// `offsets.len() == len + 1`, `offsets[0] == 0`, offsets never decrease, and
/// `bytes[offsets[i]..offsets[i + 1]]` is valid UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Utf8Parts")]
pub struct Utf8Column {
    offsets: Vec<u32>,
    bytes: Vec<u8>,
}

/// A [`Utf8Column`] as read from a checkpoint, before its invariants are
/// checked.
#[derive(serde::Deserialize)]
struct Utf8Parts {
    offsets: Vec<u32>,
    bytes: Vec<u8>,
}

impl TryFrom<Utf8Parts> for Utf8Column {
    type Error = String;

    fn try_from(p: Utf8Parts) -> Result<Self, String> {
        let whole = p.offsets.first() == Some(&0)
            && p.offsets.windows(2).all(|w| w[0] <= w[1])
            && p.offsets
                .last()
                .is_some_and(|&e| e as usize == p.bytes.len())
            && p.offsets
                .windows(2)
                .all(|w| std::str::from_utf8(&p.bytes[w[0] as usize..w[1] as usize]).is_ok());
        match whole {
            true => Ok(Utf8Column {
                offsets: p.offsets,
                bytes: p.bytes,
            }),
            false => Err("a string column's offsets or bytes are invalid".into()),
        }
    }
}

impl Default for Utf8Column {
    fn default() -> Self {
        Utf8Column {
            offsets: vec![0],
            bytes: Vec::new(),
        }
    }
}

impl Utf8Column {
    pub fn with_capacity(rows: usize, bytes: usize) -> Utf8Column {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Utf8Column {
            offsets,
            bytes: Vec::with_capacity(bytes),
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` spans `bytes()[offsets()[i]..offsets()[i + 1]]`.
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// All rows' bytes, back to back.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    #[inline]
    pub fn get_bytes(&self, i: usize) -> &[u8] {
        &self.bytes[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    #[inline]
    pub fn get(&self, i: usize) -> &str {
        // Only valid UTF-8 is ever pushed (see `push`), so this cannot fail.
        std::str::from_utf8(self.get_bytes(i)).unwrap_or("")
    }

    #[inline]
    pub fn push(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
        self.offsets.push(self.bytes.len() as u32);
    }

    /// Pushes `text[start..end]`, which must be a whole string's bytes (so
    /// valid UTF-8): a field of a line, or a row of another column.
    ///
    /// A short string is copied as a fixed `SHORT_COPY` bytes, then the
    /// extra bytes are dropped, when `text` has that many from `start`: a
    /// copy of known size is a few vector moves, not a call to `memcpy`.
    #[inline(always)]
    pub fn push_within(&mut self, text: &[u8], start: usize, end: usize) {
        let len = end - start;
        match text.get(start..start + SHORT_COPY) {
            Some(window) if len <= SHORT_COPY => {
                let at = self.bytes.len();
                let window: &[u8; SHORT_COPY] = window.try_into().expect("SHORT_COPY bytes");
                self.bytes.extend_from_slice(window);
                self.bytes.truncate(at + len);
            }
            _ => self.bytes.extend_from_slice(&text[start..end]),
        }
        self.offsets.push(self.bytes.len() as u32);
    }

    /// Pushes `text[start..end]` for each `(start, end)` of `fields` (whole
    /// strings, as for [`Utf8Column::push_within`]) up to the first empty
    /// one; returns how many were pushed. `most` bounds their lengths' sum
    /// (the span of text they lie in, say); it panics if they exceed it.
    ///
    /// Room for `most` bytes is reserved once and each string written into
    /// it by index: a short one as a fixed `SHORT_COPY` bytes, the extra
    /// bytes overwritten by the next string or left past the end. The offsets
    /// are one `extend` of an iterator of known length (room made once, no
    /// capacity check per string), cut off at the first empty field.
    #[inline(always)]
    pub fn extend_within(
        &mut self,
        text: &[u8],
        fields: impl ExactSizeIterator<Item = (usize, usize)>,
        most: usize,
    ) -> usize {
        let first = self.offsets.len() - 1;
        let before = self.bytes.len();
        self.bytes.reserve(most + SHORT_COPY);
        let room = &mut self.bytes.spare_capacity_mut()[..most + SHORT_COPY];
        // Bytes of `room` written, all of them from its start.
        let mut at = 0;
        let mut empty = None;
        self.offsets
            .extend(fields.enumerate().map(|(r, (start, end))| {
                let len = end - start;
                if len == 0 {
                    empty.get_or_insert(r);
                }
                // `room` has room for the strings so far and `SHORT_COPY` more.
                let window = text.get(start..start + SHORT_COPY);
                match (window, room.get_mut(at..at + SHORT_COPY)) {
                    (Some(from), Some(to)) if len <= SHORT_COPY => {
                        let from: &[u8; SHORT_COPY] = from.try_into().expect("SHORT_COPY bytes");
                        let to: &mut [MaybeUninit<u8>; SHORT_COPY] =
                            to.try_into().expect("SHORT_COPY bytes");
                        *to = from.map(MaybeUninit::new);
                    }
                    _ => {
                        for (to, &from) in room[at..at + len].iter_mut().zip(&text[start..end]) {
                            to.write(from);
                        }
                    }
                }
                at += len;
                (before + at) as u32
            }));
        let pushed = empty.unwrap_or(self.offsets.len() - 1 - first);
        self.offsets.truncate(first + pushed + 1);
        let end = self.offsets[first + pushed] as usize;
        // SAFETY: `end` is `before` plus the lengths of the strings kept,
        // and each of those was written into `room`, the spare capacity from
        // `before` on, right after the one before it, from `room`'s start:
        // so all of `before..end` is initialized, and within the capacity.
        unsafe { self.bytes.set_len(end) };
        pushed
    }

    pub fn clear(&mut self) {
        self.offsets.truncate(1);
        self.bytes.clear();
    }

    /// Keeps the first `rows` strings (all of them if there are fewer).
    pub fn truncate(&mut self, rows: usize) {
        if rows < self.len() {
            self.offsets.truncate(rows + 1);
            self.bytes.truncate(self.offsets[rows] as usize);
        }
    }

    /// Keeps only the rows named by `selection` (strictly increasing, each
    /// below `len()`), in place. Once `SHORT_MOVE` bytes have been dropped, a
    /// short string moves with one fixed-size copy (a load and a store, not
    /// a `memmove` call): the bytes it writes past its end lie before its
    /// source, where nothing is left to read. Others move with `copy_within`.
    pub fn retain_rows(&mut self, selection: &[u32]) {
        const SHORT_MOVE: usize = 16;
        // Cells, so that the loop reads offsets at `row` while iteration `k`
        // (the `k`th kept row) writes `offsets[k + 1]`, its `kept_end`, each
        // write slot paired with its row by `zip`.
        let offsets = Cell::from_mut(&mut self.offsets[..]).as_slice_of_cells();
        let bytes = &mut self.bytes[..];
        // Offsets are `u32`, so `write + SHORT_MOVE` below cannot overflow and
        // the copy's bounds need no check of their own.
        let mut write = 0u32;
        for (&row, kept_end) in selection.iter().zip(&offsets[1..]) {
            let row = row as usize;
            // Offsets above `k` are still the originals: iteration `k` writes
            // `offsets[k + 1]`, and a later row `k + 1` is read only when rows
            // `0..=k` were all kept, when the value written is the original.
            let end = offsets[row + 1].get() as usize;
            let start = offsets[row].get() as usize;
            let to = write as usize;
            if to + SHORT_MOVE <= start
                && end <= start + SHORT_MOVE
                && start + SHORT_MOVE <= bytes.len()
            {
                let (done, rest) = bytes.split_at_mut(start);
                done[to..to + SHORT_MOVE].copy_from_slice(&rest[..SHORT_MOVE]);
            } else if start != to {
                bytes.copy_within(start..end, to);
            }
            write += (end - start) as u32;
            kept_end.set(write);
        }
        self.offsets.truncate(selection.len() + 1);
        self.bytes.truncate(write as usize);
    }
}

/// The values of a column, one vector per type.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ColumnData {
    Int64(Vec<i64>),
    Float64(Vec<f64>),
    Bool(Vec<bool>),
    Utf8(Utf8Column),
    Timestamp(Vec<i64>),
    Decimal {
        values: Vec<i128>,
        precision: u8,
        scale: u8,
    },
}

/// A typed column. A row is NULL when `validity` is present and false at that row;
/// the data slot of a NULL row holds a default value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Column {
    pub data: ColumnData,
    pub validity: Option<Vec<bool>>,
}

impl Column {
    /// Loads the first and last element of each of the column's buffers and
    /// folds them into a value that means nothing (see [`Batch::touch`]).
    ///
    /// [`Batch::touch`]: super::Batch::touch
    #[inline]
    pub fn touch(&self) -> u64 {
        fn ends<T>(v: &[T], word: impl Fn(&T) -> u64) -> u64 {
            match (v.first(), v.last()) {
                (Some(a), Some(b)) => word(a) ^ word(b),
                _ => 0,
            }
        }
        let data = match &self.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => ends(v, |&x| x as u64),
            ColumnData::Float64(v) => ends(v, |x| x.to_bits()),
            ColumnData::Bool(v) => ends(v, |&x| x as u64),
            ColumnData::Utf8(v) => ends(&v.offsets, |&x| x as u64) ^ ends(&v.bytes, |&x| x as u64),
            ColumnData::Decimal { values, .. } => ends(values, |&x| x as u64),
        };
        data ^ self
            .validity
            .as_deref()
            .map_or(0, |v| ends(v, |&x| x as u64))
    }

    pub fn new(data_type: DataType) -> Column {
        Column::with_capacity(data_type, 0)
    }

    pub fn with_capacity(data_type: DataType, rows: usize) -> Column {
        let data = match data_type {
            DataType::Int64 => ColumnData::Int64(Vec::with_capacity(rows)),
            DataType::Float64 => ColumnData::Float64(Vec::with_capacity(rows)),
            DataType::Bool => ColumnData::Bool(Vec::with_capacity(rows)),
            DataType::Utf8 => ColumnData::Utf8(Utf8Column::with_capacity(rows, rows * 8)),
            DataType::Timestamp => ColumnData::Timestamp(Vec::with_capacity(rows)),
            DataType::Decimal { precision, scale } => ColumnData::Decimal {
                values: Vec::with_capacity(rows),
                precision,
                scale,
            },
        };
        Column {
            data,
            validity: None,
        }
    }

    pub fn from_data(data: ColumnData) -> Column {
        Column {
            data,
            validity: None,
        }
    }

    pub fn data_type(&self) -> DataType {
        match &self.data {
            ColumnData::Int64(_) => DataType::Int64,
            ColumnData::Float64(_) => DataType::Float64,
            ColumnData::Bool(_) => DataType::Bool,
            ColumnData::Utf8(_) => DataType::Utf8,
            ColumnData::Timestamp(_) => DataType::Timestamp,
            ColumnData::Decimal {
                precision, scale, ..
            } => DataType::Decimal {
                precision: *precision,
                scale: *scale,
            },
        }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => v.len(),
            ColumnData::Float64(v) => v.len(),
            ColumnData::Bool(v) => v.len(),
            ColumnData::Utf8(v) => v.len(),
            ColumnData::Decimal { values, .. } => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn is_valid(&self, i: usize) -> bool {
        self.validity.as_ref().is_none_or(|v| v[i])
    }

    /// Removes every row, keeping the allocations.
    pub fn clear(&mut self) {
        match &mut self.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => v.clear(),
            ColumnData::Float64(v) => v.clear(),
            ColumnData::Bool(v) => v.clear(),
            ColumnData::Utf8(v) => v.clear(),
            ColumnData::Decimal { values, .. } => values.clear(),
        }
        self.validity = None;
    }

    /// Keeps the first `rows` rows (all of them if there are fewer). The
    /// validity mask goes when no NULL is left, as if the rows had been
    /// pushed anew.
    pub fn truncate(&mut self, rows: usize) {
        match &mut self.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => v.truncate(rows),
            ColumnData::Float64(v) => v.truncate(rows),
            ColumnData::Bool(v) => v.truncate(rows),
            ColumnData::Utf8(v) => v.truncate(rows),
            ColumnData::Decimal { values, .. } => values.truncate(rows),
        }
        if let Some(valid) = &mut self.validity {
            valid.truncate(rows);
            if valid.iter().all(|&v| v) {
                self.validity = None;
            }
        }
    }

    /// The value at row `i` (allocates for strings: not for hot loops).
    pub fn value(&self, i: usize) -> Value {
        if !self.is_valid(i) {
            return Value::Null;
        }
        match &self.data {
            ColumnData::Int64(v) => Value::Int64(v[i]),
            ColumnData::Float64(v) => Value::Float64(v[i]),
            ColumnData::Bool(v) => Value::Bool(v[i]),
            ColumnData::Utf8(v) => Value::Utf8(v.get(i).to_owned()),
            ColumnData::Timestamp(v) => Value::Timestamp(v[i]),
            ColumnData::Decimal { values, scale, .. } => Value::Decimal {
                value: values[i],
                scale: *scale,
            },
        }
    }

    fn mark_null_at_end(&mut self) {
        let len = self.len();
        let validity = self.validity.get_or_insert_with(|| vec![true; len - 1]);
        validity.push(false);
    }

    fn mark_valid_at_end(&mut self) {
        if let Some(v) = &mut self.validity {
            v.push(true);
        }
    }

    /// Appends a NULL.
    pub fn push_null(&mut self) {
        match &mut self.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => v.push(0),
            ColumnData::Float64(v) => v.push(0.0),
            ColumnData::Bool(v) => v.push(false),
            ColumnData::Utf8(v) => v.push(""),
            ColumnData::Decimal { values, .. } => values.push(0),
        }
        self.mark_null_at_end();
    }

    /// Appends a value, converting it to the column's type where SQL allows
    /// (integers widen to floats and decimals). Returns false, appending nothing,
    /// when the value does not fit the column.
    pub fn push_value(&mut self, value: &Value) -> bool {
        if value.is_null() {
            self.push_null();
            return true;
        }
        let ok = match (&mut self.data, value) {
            (ColumnData::Int64(v), Value::Int64(x)) => {
                v.push(*x);
                true
            }
            (ColumnData::Timestamp(v), Value::Timestamp(x) | Value::Int64(x)) => {
                v.push(*x);
                true
            }
            (ColumnData::Float64(v), x) => match x.as_f64() {
                Some(f) if !matches!(x, Value::Timestamp(_)) => {
                    v.push(f);
                    true
                }
                _ => false,
            },
            (ColumnData::Bool(v), Value::Bool(x)) => {
                v.push(*x);
                true
            }
            (ColumnData::Utf8(v), Value::Utf8(x)) => {
                v.push(x);
                true
            }
            (
                ColumnData::Decimal {
                    values,
                    precision,
                    scale,
                },
                x,
            ) => match decimal_of(x, *precision, *scale) {
                Some(d) => {
                    values.push(d);
                    true
                }
                None => false,
            },
            _ => false,
        };
        if ok {
            self.mark_valid_at_end();
        }
        ok
    }

    /// Appends row `i` of `other`, which must have the same type.
    #[inline]
    pub fn push_from(&mut self, other: &Column, i: usize) {
        if !other.is_valid(i) {
            self.push_null();
            return;
        }
        match (&mut self.data, &other.data) {
            (ColumnData::Int64(a), ColumnData::Int64(b))
            | (ColumnData::Timestamp(a), ColumnData::Timestamp(b)) => a.push(b[i]),
            (ColumnData::Float64(a), ColumnData::Float64(b)) => a.push(b[i]),
            (ColumnData::Bool(a), ColumnData::Bool(b)) => a.push(b[i]),
            (ColumnData::Utf8(a), ColumnData::Utf8(b)) => {
                a.bytes.extend_from_slice(b.get_bytes(i));
                a.offsets.push(a.bytes.len() as u32);
            }
            (ColumnData::Decimal { values: a, .. }, ColumnData::Decimal { values: b, .. }) => {
                a.push(b[i])
            }
            (a, b) => unreachable!("push_from between {a:?} and {b:?}: the planner checks types"),
        }
        self.mark_valid_at_end();
    }

    /// A new column holding the rows named by `indices`, in that order.
    pub fn gather(&self, indices: &[u32]) -> Column {
        let mut out = Column::with_capacity(self.data_type(), indices.len());
        out.extend_from_rows(self, indices);
        out
    }

    /// Appends the rows of `other` (same type) named by `rows`, in that order.
    pub fn extend_from_rows(&mut self, other: &Column, rows: &[u32]) {
        if self.validity.is_none() && other.validity.is_none() {
            match (&mut self.data, &other.data) {
                (ColumnData::Int64(a), ColumnData::Int64(b))
                | (ColumnData::Timestamp(a), ColumnData::Timestamp(b)) => {
                    a.extend(rows.iter().map(|&i| b[i as usize]));
                    return;
                }
                (ColumnData::Float64(a), ColumnData::Float64(b)) => {
                    a.extend(rows.iter().map(|&i| b[i as usize]));
                    return;
                }
                (ColumnData::Utf8(a), ColumnData::Utf8(b)) => {
                    for &i in rows {
                        let i = i as usize;
                        let (start, end) = (b.offsets[i] as usize, b.offsets[i + 1] as usize);
                        a.push_within(&b.bytes, start, end);
                    }
                    return;
                }
                (ColumnData::Decimal { values: a, .. }, ColumnData::Decimal { values: b, .. }) => {
                    a.extend(rows.iter().map(|&i| b[i as usize]));
                    return;
                }
                _ => {}
            }
        }
        for &i in rows {
            self.push_from(other, i as usize);
        }
    }

    /// Keeps only the rows named by `selection`, in that order, in place: no
    /// allocation. `selection` must be strictly increasing, each index below
    /// `len()` (a filter's selection vector).
    pub fn retain_rows(&mut self, selection: &[u32]) {
        debug_assert!(selection.windows(2).all(|w| w[0] < w[1]));
        debug_assert!(selection.last().is_none_or(|&i| (i as usize) < self.len()));
        match &mut self.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => compact(v, selection),
            ColumnData::Float64(v) => compact(v, selection),
            ColumnData::Bool(v) => compact(v, selection),
            ColumnData::Utf8(v) => v.retain_rows(selection),
            ColumnData::Decimal { values, .. } => compact(values, selection),
        }
        if let Some(v) = &mut self.validity {
            compact(v, selection);
            // As `gather` builds it: a mask only when some row is NULL.
            if v.iter().all(|&valid| valid) {
                self.validity = None;
            }
        }
    }

    /// Appends the value at row `i` to `out` as CSV text (quoted when needed;
    /// NULL is the empty field).
    pub fn write_csv(&self, i: usize, out: &mut Vec<u8>) {
        use std::io::Write;
        if !self.is_valid(i) {
            return;
        }
        match &self.data {
            ColumnData::Int64(v) => {
                let mut b = itoa::Buffer::new();
                out.extend_from_slice(b.format(v[i]).as_bytes());
            }
            ColumnData::Float64(v) => {
                let _ = write!(out, "{}", v[i]);
            }
            ColumnData::Bool(v) => out.extend_from_slice(if v[i] { b"true" } else { b"false" }),
            // The bytes as stored (UTF-8 already): no check on the way out.
            ColumnData::Utf8(v) => write_csv_str(v.get_bytes(i), out),
            ColumnData::Timestamp(v) => out.extend_from_slice(format_timestamp(v[i]).as_bytes()),
            ColumnData::Decimal { values, scale, .. } => {
                out.extend_from_slice(format_decimal(values[i], *scale).as_bytes())
            }
        }
    }
}

/// Moves `v[selection[k]]` to `v[k]` for every `k`, then truncates. Safe in
/// place because `selection[k] >= k` (strictly increasing indices).
#[inline]
fn compact<T: Copy>(v: &mut Vec<T>, selection: &[u32]) {
    // Cells, so that each write slot is paired with its row by `zip` while
    // the loop reads further on.
    let cells = Cell::from_mut(&mut v[..]).as_slice_of_cells();
    for (to, &i) in cells.iter().zip(selection) {
        to.set(cells[i as usize].get());
    }
    v.truncate(selection.len());
}

/// Writes `s` as one CSV field, quoting it when it holds a comma, quote or newline.
fn write_csv_str(s: &[u8], out: &mut Vec<u8>) {
    if s.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for &b in s {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s);
    }
}

/// `value` as a DECIMAL(`precision`, `scale`): an exact numeric value with
/// `scale` places (rounded half away from zero), `None` when it has more
/// than `precision` digits (its magnitude reaches `10^precision`): such a
/// value is malformed on input and NULL in an expression, never saturated.
fn decimal_of(value: &Value, precision: u8, scale: u8) -> Option<i128> {
    let scaled = decimal_at_scale(value, scale)?;
    fits_precision(scaled, precision).then_some(scaled)
}

/// Whether the scaled integer `v` has at most `precision` digits.
pub fn fits_precision(v: i128, precision: u8) -> bool {
    match 10u128.checked_pow(u32::from(precision)) {
        Some(limit) => v.unsigned_abs() < limit,
        None => true,
    }
}

fn decimal_at_scale(value: &Value, scale: u8) -> Option<i128> {
    match *value {
        Value::Int64(x) => (x as i128).checked_mul(10i128.pow(scale as u32)),
        Value::Decimal { value, scale: s } if s <= scale => {
            value.checked_mul(10i128.pow((scale - s) as u32))
        }
        Value::Decimal { value, scale: s } => {
            Some(crate::data::value::div_pow10_round(value, s - scale))
        }
        Value::Float64(f) => {
            let scaled = (f * 10f64.powi(scale as i32)).round();
            // 2^127: past it `as` would saturate.
            (scaled.abs() < 1.7e38).then_some(scaled as i128)
        }
        _ => None,
    }
}

/// Renders epoch milliseconds as ISO 8601 UTC, e.g. `2026-01-01T00:00:00.000Z`.
pub fn format_timestamp(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests;
