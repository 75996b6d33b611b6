//! One Nexmark stream as a [`Source`]: `gen:nexmark?...&stream=bid`.
//!
//! # Pacing and ingest time
//! As for the trades generator ([`crate::io::generator`]): with a `rate`,
//! global event `n` is due `n / rate` seconds after the stream's first poll,
//! so the three streams of one spec keep one schedule between them. A poll
//! waits for the stream's next due event as `wait` says, then returns every
//! event of the stream due by then (up to `max_rows`); a batch's
//! `ingest_time` is when its first event was due. Without a rate, events
//! are made as fast as asked for, and stamped when made.

use super::options::{NexmarkOptions, KNOWN};
use super::rows::Rows;
use super::stream::Stream;
use crate::data::{BatchPool, Schema};
use crate::error::Error;
use crate::io::generator::wait_until;
use crate::io::source::{Poll, Source};
use std::time::{Duration, Instant};

/// Generates one of the three Nexmark streams.
pub struct NexmarkSource {
    stream: Stream,
    options: NexmarkOptions,
    schema: Schema,
    rows: Rows,
    /// The stream's next event number.
    next: u64,
    /// Events end before this number (`u64::MAX`: never).
    end: u64,
    started: Option<Instant>,
    /// The global event the pacing clock starts at (not 0 when resumed).
    first: u64,
    pool: BatchPool,
}

impl NexmarkSource {
    /// The `stream` of the events `options` describe (its `stream` is not read).
    pub fn new(stream: Stream, options: NexmarkOptions) -> NexmarkSource {
        let schema = stream.schema();
        NexmarkSource {
            stream,
            rows: Rows::new(&options),
            next: stream.at_or_after(0),
            end: options.events.unwrap_or(u64::MAX),
            started: None,
            first: 0,
            pool: BatchPool::new(&schema),
            schema,
            options,
        }
    }

    /// Parses the part of a spec after `gen:`, e.g. `nexmark?events=1000&stream=bid`,
    /// which must name its stream.
    pub fn from_spec(spec: &str) -> Result<NexmarkSource, Error> {
        let query = spec
            .strip_prefix("nexmark")
            .and_then(|q| match q {
                "" => Some(""),
                _ => q.strip_prefix('?'),
            })
            .ok_or_else(|| Error::Config(format!("gen:{spec} is not a gen:nexmark spec")))?;
        let options = NexmarkOptions::parse(query)?;
        let stream = options.stream.ok_or_else(|| {
            Error::Config(format!(
                "gen:{spec} gives three streams (person, auction, bid): give it as the one \
                 unnamed input (--input 'gen:{spec}') and read the streams by name in FROM \
                 and JOIN, or read one with stream=person|auction|bid (options: {KNOWN})"
            ))
        })?;
        Ok(NexmarkSource::new(stream, options))
    }

    /// Goes on from a checkpoint's position: the stream's next event.
    pub fn resume(&mut self, next: u64) {
        self.next = self.stream.at_or_after(next);
        self.first = next;
    }

    /// When global event `n` is due, for a paced generator that has started.
    fn due(&self, n: u64) -> Option<Instant> {
        let rate = u128::from(self.options.rate?);
        let ns = u128::from(n.saturating_sub(self.first)) * 1_000_000_000 / rate;
        Some(self.started? + Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX)))
    }

    /// The first event number not yet due at `now` (`end` if all are).
    fn due_end(&self, now: Instant) -> u64 {
        let (Some(rate), Some(started)) = (self.options.rate, self.started) else {
            return self.end;
        };
        let elapsed = now.saturating_duration_since(started).as_nanos();
        let due = elapsed * u128::from(rate) / 1_000_000_000 + 1 + u128::from(self.first);
        u64::try_from(due).unwrap_or(u64::MAX).min(self.end)
    }
}

impl Source for NexmarkSource {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        if self.next >= self.end {
            return Ok(Poll::End);
        }
        self.started.get_or_insert_with(Instant::now);
        let mut now = Instant::now();
        let mut end = self.due_end(now);
        if self.next >= end {
            if let Some(due) = self.due(self.next) {
                let wake = deadline.map_or(due, |d| d.min(due));
                wait_until(wake, self.options.wait);
                if wake < due {
                    return Ok(Poll::Idle);
                }
                now = Instant::now();
            }
            end = self.due_end(now).max(self.next + 1);
        }
        let ingest_time = self.due(self.next).unwrap_or(now);
        let mut batch = self.pool.take_at(&self.schema, max_rows, ingest_time);
        self.next = self
            .rows
            .fill(self.stream, &mut batch, self.next, end, max_rows.max(1));
        Ok(Poll::Batch(batch))
    }

    fn position(&self) -> Option<crate::checkpoint::SourcePosition> {
        Some(crate::checkpoint::SourcePosition::Nexmark { next: self.next })
    }

    fn reuse(&mut self, batch: crate::data::Batch) {
        self.pool.give(batch);
    }

    fn malformed(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        format!("gen:nexmark ({})", self.stream.name())
    }

    fn bounded(&self) -> bool {
        self.options.events.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Batch;

    fn source(spec: &str) -> NexmarkSource {
        NexmarkSource::from_spec(spec).unwrap()
    }

    fn drain(mut s: NexmarkSource, rows: usize) -> Vec<Batch> {
        let mut out = Vec::new();
        while let Poll::Batch(b) = s.poll(rows, None).unwrap() {
            out.push(b);
        }
        out
    }

    /// All the rows, whatever the batch size they were asked for in.
    fn rows(spec: &str, batch_rows: usize) -> Vec<Vec<crate::data::Value>> {
        let mut out = Vec::new();
        for b in drain(source(spec), batch_rows) {
            for r in 0..b.len {
                out.push(b.columns.iter().map(|c| c.value(r)).collect());
            }
        }
        out
    }

    #[test]
    fn rows_depend_on_the_seed_and_event_number_only() {
        for stream in ["person", "auction", "bid"] {
            let spec = format!("nexmark?events=2000&seed=5&stream={stream}");
            let whole = rows(&spec, 4096);
            assert_eq!(
                whole,
                rows(&spec, 7),
                "{stream}: batch size changes nothing"
            );
            let other = rows(&format!("nexmark?events=2000&seed=6&stream={stream}"), 4096);
            assert_eq!(whole.len(), other.len());
            assert_ne!(whole, other, "{stream}: another seed, other rows");
            // A shorter run is a prefix: event n does not depend on the count.
            let fewer = rows(&format!("nexmark?events=1000&seed=5&stream={stream}"), 64);
            assert_eq!(fewer[..], whole[..fewer.len()]);
        }
    }

    #[test]
    fn the_streams_split_the_events_one_three_forty_six() {
        let counts: Vec<usize> = ["person", "auction", "bid"]
            .iter()
            .map(|s| {
                drain(source(&format!("nexmark?events=5000&stream={s}")), 1000)
                    .iter()
                    .map(|b| b.len)
                    .sum()
            })
            .collect();
        assert_eq!(counts, [100, 300, 4600]);
        let s = source("nexmark?events=5000&stream=bid");
        assert!(s.bounded());
        assert!(!source("nexmark?stream=bid").bounded());
        assert_eq!(
            s.schema().header(),
            "auction,bidder,price,channel,url,dateTime,extra"
        );
    }

    #[test]
    fn a_spec_without_a_stream_says_how_to_give_one() {
        let err = NexmarkSource::from_spec("nexmark?events=5")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("gives three streams"), "{err}");
        assert!(err.contains("stream=person|auction|bid"), "{err}");
    }

    /// With a rate, the bid stream's first event (event 4) is due 4 / rate
    /// seconds after the first poll: a deadline before then gives `Idle`,
    /// and a poll without one returns it, stamped when it was due.
    #[test]
    fn paced_events_wait_for_their_global_number() {
        let mut s = source("nexmark?events=100&rate=1000&stream=bid");
        let before = Instant::now();
        assert!(matches!(s.poll(10, Some(before)).unwrap(), Poll::Idle));
        let started = s.started.unwrap();
        let Poll::Batch(b) = s.poll(10, None).unwrap() else {
            panic!("expected the first bid");
        };
        assert!(b.len >= 1);
        assert_eq!(b.ingest_time, started + Duration::from_millis(4));
        assert!(Instant::now() >= started + Duration::from_millis(4));
        // Only what was due: bid n is due at n ms.
        let due = (Instant::now() - started).as_millis() as u64;
        assert!(
            b.len as u64 <= due.saturating_sub(3),
            "{} rows by {due} ms",
            b.len
        );
    }
}
