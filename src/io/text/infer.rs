//! Column type inference for [`TextSource`]: the first records are sampled
//! (and kept, to be returned later), and each column gets the narrowest type
//! that holds every sampled value (see [`widen`]).

use super::{Pending, Record, TextSource, INFER_ROWS};
use crate::data::{DataType, Field, Schema};
use crate::error::Error;
use crate::io::lines;
use std::collections::VecDeque;

impl TextSource {
    /// Samples up to [`INFER_ROWS`] records (kept to be returned later) and
    /// infers the column types; without `names`, the columns are `c1..cN`.
    /// From a pipe, the samples are the records that arrive within
    /// [`lines::INFER_WAIT`] of the first (see [`lines::Sampling`]); a column
    /// with no value sampled (a stop before any record) is VARCHAR.
    pub(super) fn infer_schema(
        &mut self,
        names: Option<Vec<String>>,
        stop: &lines::StopFlag,
    ) -> Result<Schema, Error> {
        if let Some(names) = &names {
            let trades = crate::io::generator::trades_schema();
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
        let mut sampling = lines::Sampling::new(self.fd.is_some(), stop);
        while sampled.len() < INFER_ROWS {
            let kind = match self.read_record(sampling.deadline())? {
                Record::None if self.at_end => break,
                Record::None if sampling.done() => break,
                Record::None => continue,
                kind @ (Record::TooLong | Record::Unclosed) => kind,
                Record::Whole => {
                    if names.is_none() && types.len() < self.ends.len() {
                        types.resize(self.ends.len(), None);
                    }
                    for (i, t) in types.iter_mut().enumerate().take(self.ends.len()) {
                        let text = String::from_utf8_lossy(self.field(i));
                        *t = widen(*t, text.trim());
                    }
                    Record::Whole
                }
            };
            sampling.sampled();
            let mut raw = std::mem::take(&mut self.raw);
            if raw.last() != Some(&b'\n') {
                raw.push(b'\n');
            }
            sampled.push_back(Pending {
                line: self.record_line,
                raw,
                kind,
            });
        }
        // A record under way when sampling ended (put back by `read_record`).
        sampled.extend(self.pending.drain(..));
        if !self.rest.is_empty() {
            // The rest of the last sampled line comes after the samples.
            sampled.push_back(Pending {
                line: self.line_no,
                raw: std::mem::take(&mut self.rest),
                kind: Record::Whole,
            });
        }
        self.pending = sampled;
        self.at_end = false;
        self.reset_parser();
        let names = match names {
            Some(n) => n,
            None if types.is_empty() && sampling.stopped() => {
                return Err(lines::stopped_opening(
                    &self.name,
                    "a record to infer the columns from",
                ))
            }
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
    } else if text.contains('-') && crate::io::parse::parse_timestamp(text).is_some() {
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
