//! The watermark of a Kafka input: the smallest of its assigned partitions'
//! watermarks, as Flink's Kafka source computes it.
//!
//! Each partition's watermark is the largest event time read from it so far,
//! less the input's max out-of-orderness. A record within that bound of its
//! own partition is then never late, however the consumer interleaves the
//! partitions (one may be read far ahead of another). A partition that has
//! sent nothing holds the watermark back (there is none yet), unless it is
//! idle: with an idle timeout, a partition that has sent no record for that
//! long (since its last record, or its assignment) stops counting until it
//! sends again; when every partition is idle, the ones that have sent count. Partitions revoked by a
//! rebalance stop counting; records of a partition not assigned (polled just
//! before it was revoked) are routed but not counted.
//!
//! The router sends a watermark only when it moves forwards; a partition
//! assigned later, or coming back from idleness, holds it where it is until
//! it catches up.

use crate::data::column::ColumnData;
use crate::data::Batch;
use crate::io::source::EventTime;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One assigned partition's event time.
#[derive(Debug, Clone, Copy)]
struct Partition {
    /// The largest event time read; `i64::MIN` before the first.
    max_seen: i64,
    /// When its last record (or its assignment) reached the source.
    last_record: Instant,
}

/// The per-partition watermarks of one Kafka input.
#[derive(Debug)]
pub struct PartitionWatermarks {
    /// The event-time column, over the source's schema.
    column: usize,
    max_out_of_orderness: i64,
    idle_timeout: Option<Duration>,
    partitions: BTreeMap<i32, Partition>,
    /// Per partition, the largest event time of the checkpoint the run
    /// resumed: where a partition starts when it is assigned.
    resumed: BTreeMap<i32, i64>,
}

impl PartitionWatermarks {
    pub fn new(event_time: EventTime) -> PartitionWatermarks {
        PartitionWatermarks {
            column: event_time.column,
            max_out_of_orderness: event_time.max_out_of_orderness,
            idle_timeout: event_time.idle_timeout,
            partitions: BTreeMap::new(),
            resumed: BTreeMap::new(),
        }
    }

    /// A resumed run: each partition's largest event time at the checkpoint
    /// (a partition assigned later starts there, not with none).
    pub fn resume(&mut self, max_seen: BTreeMap<i32, i64>) {
        self.resumed = max_seen;
    }

    /// Per assigned partition that has sent an event time, the largest.
    pub fn max_seen(&self) -> BTreeMap<i32, i64> {
        (self.partitions.iter())
            .filter(|(_, p)| p.max_seen != i64::MIN)
            .map(|(&n, p)| (n, p.max_seen))
            .collect()
    }

    /// The partitions assigned now: the ones kept keep their event time,
    /// new ones start with none (holding the watermark back), their idle
    /// clock starting `now`; the others stop counting.
    pub fn assigned(&mut self, partitions: &[i32], now: Instant) {
        self.partitions.retain(|p, _| partitions.contains(p));
        for &p in partitions {
            self.partitions.entry(p).or_insert(Partition {
                max_seen: self.resumed.get(&p).copied().unwrap_or(i64::MIN),
                last_record: now,
            });
        }
    }

    /// A record of `partition` reached the source at `at`; decoded, it is
    /// row `row` of `batch` (`None`: malformed, skipped).
    #[inline]
    pub fn observe(&mut self, partition: i32, decoded: Option<(&Batch, usize)>, at: Instant) {
        let Some(p) = self.partitions.get_mut(&partition) else {
            return;
        };
        p.last_record = at;
        let Some((batch, row)) = decoded else {
            return;
        };
        let col = &batch.columns[self.column];
        if let ColumnData::Int64(v) | ColumnData::Timestamp(v) = &col.data {
            if v[row] > p.max_seen && col.is_valid(row) {
                p.max_seen = v[row];
            }
        }
    }

    /// The watermark at `now`: the smallest watermark of the partitions that
    /// count; `None` while one of them has sent no event time, or none
    /// counts. The partitions that count are the assigned ones that are not
    /// idle; when every one is idle, the ones that have sent an event time
    /// (so the watermark stays where their records put it, and a partition
    /// that never sends holds nothing back).
    pub fn watermark(&self, now: Instant) -> Option<i64> {
        let idle = |p: &Partition| {
            self.idle_timeout
                .is_some_and(|t| now.saturating_duration_since(p.last_record) >= t)
        };
        let of = |p: &Partition| p.max_seen.saturating_sub(self.max_out_of_orderness);
        let mut active = self.partitions.values().filter(|p| !idle(p)).peekable();
        if active.peek().is_some() {
            return active.try_fold(i64::MAX, |min, p| {
                (p.max_seen != i64::MIN).then(|| min.min(of(p)))
            });
        }
        self.partitions
            .values()
            .filter(|p| p.max_seen != i64::MIN)
            .map(of)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;
    use crate::data::{DataType, Field, Schema};

    fn rows(times: &[i64]) -> Batch {
        let schema = Schema::new(vec![Field::new("t", DataType::Int64)]);
        let mut b = Batch::with_capacity(&schema, times.len());
        for &t in times {
            assert!(b.columns[0].push_value(&Value::Int64(t)));
            b.len += 1;
        }
        b
    }

    fn tracker(idle: Option<Duration>) -> PartitionWatermarks {
        PartitionWatermarks::new(EventTime {
            column: 0,
            max_out_of_orderness: 10,
            idle_timeout: idle,
        })
    }

    #[test]
    fn the_watermark_is_the_smallest_partitions_and_waits_for_every_partition() {
        let t0 = Instant::now();
        let mut w = tracker(None);
        assert_eq!(w.watermark(t0), None, "nothing assigned");
        w.assigned(&[0, 1], t0);
        let b = rows(&[1000, 5000, 100]);
        w.observe(0, Some((&b, 1)), t0);
        assert_eq!(w.watermark(t0), None, "partition 1 has sent nothing");
        w.observe(1, Some((&b, 2)), t0);
        assert_eq!(w.watermark(t0), Some(90));
        w.observe(1, Some((&b, 0)), t0);
        assert_eq!(w.watermark(t0), Some(990));
        // A record of a partition not assigned does not count.
        w.observe(7, Some((&b, 2)), t0);
        assert_eq!(w.watermark(t0), Some(990));
        // Revoked, partition 1 stops counting; a new one holds it back.
        w.assigned(&[0], t0);
        assert_eq!(w.watermark(t0), Some(4990));
        w.assigned(&[0, 2], t0);
        assert_eq!(w.watermark(t0), None);
    }

    #[test]
    fn an_idle_partition_stops_holding_the_watermark_back() {
        let t0 = Instant::now();
        let idle = Duration::from_secs(5);
        let mut w = tracker(Some(idle));
        w.assigned(&[0, 1], t0);
        let b = rows(&[1000, 2000]);
        w.observe(0, Some((&b, 0)), t0);
        assert_eq!(w.watermark(t0), None);
        // Partition 1 never sends: idle after the timeout.
        let later = t0 + idle;
        w.observe(0, Some((&b, 1)), later);
        assert_eq!(w.watermark(later), Some(1990));
        // It sends again: it counts again.
        w.observe(1, Some((&b, 0)), later);
        assert_eq!(w.watermark(later), Some(990));
        // Every partition idle: the ones that sent count.
        assert_eq!(w.watermark(later + idle), Some(990));
        w.assigned(&[0, 1, 2], later + idle);
        assert_eq!(w.watermark(later + idle), None, "partition 2 is new");
        assert_eq!(w.watermark(later + idle * 2), Some(990));
    }
}
