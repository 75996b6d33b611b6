//! Nexmark q13's side input: `gen:nexmark?stream=side_input`, the bounded
//! table a stream is enriched from.
//!
//! The Flink suite reads it from a file; corestream's generator gives it as
//! a fourth input (and `corestream gen nexmark` writes it beside the three
//! streams): [`ROWS`] rows `(key, value)`, key `0, 1, ..` and value `v`
//! and the key (`v0`, `v1`, ..: text, so a file of them reads back as
//! text). q13 joins a bid to the row of `auction % 10000`. It holds no events: the same rows for any seed, count
//! or rate.

use crate::checkpoint::SourcePosition;
use crate::data::column::ColumnData;
use crate::data::{Batch, Column, DataType, Field, Schema};
use crate::error::Error;
use crate::io::source::{Poll, Source};
use std::time::Instant;

/// The side input's rows: q13 looks up `auction % 10000`.
pub const ROWS: u64 = 10_000;

/// The input name.
pub const NAME: &str = "side_input";

/// The side input's rows as a [`Source`].
pub struct SideInput {
    schema: Schema,
    /// The next row's key.
    next: u64,
}

impl Default for SideInput {
    fn default() -> Self {
        SideInput::new()
    }
}

impl SideInput {
    pub fn new() -> SideInput {
        SideInput {
            schema: Schema::new(vec![
                Field::new("key", DataType::Int64),
                Field::new("value", DataType::Utf8),
            ]),
            next: 0,
        }
    }

    /// Goes on from a checkpoint's position: the next row's key.
    pub fn resume(&mut self, next: u64) {
        self.next = next.min(ROWS);
    }
}

impl Source for SideInput {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(&mut self, max_rows: usize, _deadline: Option<Instant>) -> Result<Poll, Error> {
        let end = ROWS.min(self.next + max_rows.max(1) as u64);
        if self.next == end {
            return Ok(Poll::End);
        }
        let keys: Vec<i64> = (self.next as i64..end as i64).collect();
        let mut values = Column::new(DataType::Utf8);
        for k in &keys {
            values.push_value(&crate::data::Value::Utf8(format!("v{k}")));
        }
        self.next = end;
        let len = keys.len();
        let keys = Column::from_data(ColumnData::Int64(keys));
        Ok(Poll::Batch(Batch::new(vec![keys, values], len)))
    }

    fn malformed(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        format!("gen:nexmark {NAME} ({ROWS} rows)")
    }

    fn bounded(&self) -> bool {
        true
    }

    fn position(&self) -> Option<SourcePosition> {
        Some(SourcePosition::Nexmark { next: self.next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_gives_each_key_once_with_its_text_then_ends() {
        let mut s = SideInput::new();
        let mut rows = Vec::new();
        while let Poll::Batch(b) = s.poll(4096, None).unwrap() {
            rows.extend((0..b.len).map(|i| (b.columns[0].value(i), b.columns[1].value(i))));
        }
        assert_eq!(rows.len() as u64, ROWS);
        let last = &rows[ROWS as usize - 1];
        assert_eq!(last.0, crate::data::Value::Int64(9_999));
        assert_eq!(last.1, crate::data::Value::Utf8("v9999".into()));
        let mut resumed = SideInput::new();
        resumed.resume(9_998);
        let Poll::Batch(b) = resumed.poll(10, None).unwrap() else {
            panic!("rows after 9998")
        };
        assert_eq!(b.len, 2);
        assert!(matches!(resumed.poll(10, None).unwrap(), Poll::End));
    }
}
