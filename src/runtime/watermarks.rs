//! The router's watermark: it follows the largest event time seen and says
//! when the watermark moves.
//!
//! # Lateness per record
//! A record is late when it is behind the watermark the records before it
//! (from the same source) produced, by more than the allowed lateness: the
//! same for any batch size or linger. The shards judge a row against the
//! last watermark they received, and the router sends one after each batch;
//! so where a batch holds a row that the rows before it in the batch make
//! late, the router cuts the batch there ([`WatermarkTracker::cuts`]) and
//! sends the watermark between the two parts. Such rows are rare (out of
//! order by more than the bound), so cutting costs one comparison per row.

use crate::data::column::ColumnData;
use crate::data::Batch;
use crate::io::source::{EventTime, Source};
use crate::sql::plan::Watermarking;
use std::time::Duration;

/// Follows the largest event time seen and says when the watermark moves.
///
/// The watermark is the largest event time seen minus the out-of-orderness
/// bound, computed once per source batch (or part of one: see the module
/// docs), and never moves backwards. For
/// processing-time windows it is the wall clock. A source that computes its
/// watermark itself ([`Source::track_watermark`], a Kafka input's per
/// partition) gives it instead, after every poll.
pub(super) struct WatermarkTracker {
    settings: Option<Watermarking>,
    pub(super) max_seen: i64,
    sent: i64,
    /// The source computes the watermark.
    from_source: bool,
    /// Its latest, when it does.
    source_watermark: Option<i64>,
}

impl WatermarkTracker {
    /// Asks `source` whether it computes the watermark itself.
    pub(super) fn new(
        settings: Option<Watermarking>,
        idle_timeout: Option<i64>,
        source: &mut dyn Source,
    ) -> Self {
        let from_source = match settings {
            Some(Watermarking {
                time_column: Some(column),
                max_out_of_orderness,
                ..
            }) => source.track_watermark(EventTime {
                column,
                max_out_of_orderness,
                idle_timeout: idle_timeout.map(|ms| Duration::from_millis(ms.max(0) as u64)),
            }),
            _ => false,
        };
        WatermarkTracker {
            settings,
            max_seen: i64::MIN,
            sent: i64::MIN,
            from_source,
            source_watermark: None,
        }
    }

    /// Takes the watermark of a source that computes its own.
    pub(super) fn ask(&mut self, source: &mut dyn Source) {
        if self.from_source {
            self.source_watermark = source.watermark();
        }
    }

    pub(super) fn observe(&mut self, batch: &Batch) {
        let Some(Watermarking {
            time_column: Some(c),
            ..
        }) = self.settings
        else {
            return;
        };
        if self.from_source {
            return;
        }
        let col = &batch.columns[c];
        if let ColumnData::Int64(v) | ColumnData::Timestamp(v) = &col.data {
            for (i, &t) in v.iter().enumerate() {
                if t > self.max_seen && col.is_valid(i) {
                    self.max_seen = t;
                }
            }
        }
    }

    /// The new watermark, if it moved since the last one sent.
    pub(super) fn next(&mut self) -> Option<i64> {
        let s = self.settings?;
        let wm = match s.time_column {
            Some(_) if self.from_source => self.source_watermark?,
            Some(_) if self.max_seen == i64::MIN => return None,
            Some(_) => self.max_seen.saturating_sub(s.max_out_of_orderness),
            None => crate::runtime::shard::now_ms(),
        };
        (wm > self.sent).then(|| {
            self.sent = wm;
            wm
        })
    }

    /// Where `batch` must be cut so that each row is judged against the
    /// watermark the rows before it produced (see the module docs): the
    /// rows at which a part must start, after a watermark sent for the rows
    /// before. Empty (the usual case) when no row is late only by the rows
    /// before it in the batch; always empty for processing time and for a
    /// source that computes its own watermark.
    pub(super) fn cuts(&self, batch: &Batch, allowed_lateness: i64) -> Vec<usize> {
        let Some(Watermarking {
            time_column: Some(c),
            max_out_of_orderness,
            ..
        }) = self.settings
        else {
            return Vec::new();
        };
        if self.from_source {
            return Vec::new();
        }
        let col = &batch.columns[c];
        let (ColumnData::Int64(v) | ColumnData::Timestamp(v)) = &col.data else {
            return Vec::new();
        };
        let behind = max_out_of_orderness.saturating_add(allowed_lateness);
        let (mut max, mut known) = (self.max_seen, self.sent);
        let mut cuts = Vec::new();
        for (i, &t) in v.iter().enumerate() {
            if !col.is_valid(i) {
                continue;
            }
            // Late against the rows before it, but not against the
            // watermark the shards will have: a cut makes them have it.
            let due = max.saturating_sub(max_out_of_orderness);
            if t < max.saturating_sub(behind) && due > known && i > 0 {
                cuts.push(i);
                known = due;
            }
            max = max.max(t);
        }
        cuts
    }
}
