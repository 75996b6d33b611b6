//! The built-in trades generator: `gen:trades?records=N&traders=T&symbols=S&rate=R&seed=X&jitter=D&wait=W`.
//!
//! Deterministic for a seed: the same options give the same records in the same
//! order. Event times start at 2026-01-01T00:00:00Z and advance by `1/rate`
//! seconds per record (1 ms per record without a rate); `jitter` moves each
//! event time back by a random amount up to that duration, so records arrive
//! out of order within that bound.
//!
//! # Pacing and ingest time
//! With a `rate`, record `i` is due `i / rate` seconds after the first poll.
//! A poll waits for the next due record as [`Wait`] says (`wait=spin`, the
//! default: sleep off long waits, spin through the last `SPIN_WINDOW`;
//! `wait=sleep`: sleep only) and returns as soon as it has caught up
//! with the schedule, so a batch holds what had arrived by then. A batch's
//! `ingest_time` is when its oldest record was due: an outside source would
//! have held that record from then on, so time the router spends elsewhere
//! (or descheduled) before reading it counts as latency. Without a rate, it
//! is when the record was produced.

use super::source::{Poll, Source};
use crate::data::column::ColumnData;
use crate::data::{Batch, BatchPool, DataType, Field, Schema};
use crate::error::Error;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::time::{Duration, Instant};

/// Event time of the first record: 2026-01-01T00:00:00Z.
pub const FIRST_EVENT_TIME: i64 = 1_767_225_600_000;

const TICKERS: [&str; 10] = [
    "AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "XOM",
];

/// The generator's options, as given in its spec.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorOptions {
    /// Records to produce; `None` runs until stopped.
    pub records: Option<u64>,
    pub traders: u32,
    pub symbols: u32,
    /// Records per second of wall-clock time; `None` is as fast as possible.
    pub rate: Option<u64>,
    pub seed: u64,
    pub jitter_ms: i64,
    /// How a rate-limited generator waits for its next record.
    pub wait: Wait,
}

/// How a rate-limited generator waits for its next record.
///
/// A sleep ends a timer slack (50 us) or more late, but leaves the CPU to
/// others; spinning is on time but keeps the router's thread busy, which on
/// an oversubscribed host (router and shards on the same cores, other
/// processes) makes the scheduler take the CPU from it for whole slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    /// Sleep off all but the last `SPIN_WINDOW`, then spin: for a router
    /// with a core of its own.
    #[default]
    Spin,
    /// Sleep the whole wait: for a host where the router shares its core.
    Sleep,
}

impl Default for GeneratorOptions {
    fn default() -> Self {
        GeneratorOptions {
            records: None,
            traders: 20,
            symbols: 10,
            rate: None,
            seed: 7,
            jitter_ms: 0,
            wait: Wait::Spin,
        }
    }
}

/// The trades schema: `event_time, trader_id, symbol, price, quantity`.
pub fn trades_schema() -> Schema {
    Schema::new(vec![
        Field::new("event_time", DataType::Int64),
        Field::new("trader_id", DataType::Utf8),
        Field::new("symbol", DataType::Utf8),
        Field::new("price", DataType::Float64),
        Field::new("quantity", DataType::Int64),
    ])
}

/// Generates trades.
pub struct TradesGenerator {
    options: GeneratorOptions,
    schema: Schema,
    rng: Xoshiro256PlusPlus,
    next: u64,
    started: Option<Instant>,
    /// The record the pacing clock starts at (not 0 when resumed).
    first: u64,
    trader_names: Vec<String>,
    symbol_names: Vec<String>,
    base_prices: Vec<u64>,
    pool: BatchPool,
}

impl TradesGenerator {
    /// Goes on from a checkpoint's position (see [`Source::position`]).
    pub fn resume(&mut self, next: u64, rng: Xoshiro256PlusPlus) {
        self.next = next;
        self.first = next;
        self.rng = rng;
    }

    pub fn new(options: GeneratorOptions) -> TradesGenerator {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(options.seed);
        let base_prices = (0..options.symbols)
            .map(|_| 1_000 + rng.next_u64() % 49_000)
            .collect();
        let schema = trades_schema();
        TradesGenerator {
            pool: BatchPool::new(&schema),
            schema,
            trader_names: (0..options.traders).map(|t| format!("T{t:03}")).collect(),
            symbol_names: (0..options.symbols as usize)
                .map(|s| {
                    TICKERS
                        .get(s)
                        .map_or_else(|| format!("SYM{s}"), |t| t.to_string())
                })
                .collect(),
            base_prices,
            rng,
            next: 0,
            started: None,
            first: 0,
            options,
        }
    }

    /// Parses the part of the spec after `gen:`, e.g. `trades?records=1000&seed=7`.
    pub fn from_spec(spec: &str) -> Result<TradesGenerator, Error> {
        let (kind, query) = spec.split_once('?').unwrap_or((spec, ""));
        if kind != "trades" {
            return Err(Error::Config(format!(
                "unknown generator `gen:{kind}`; available: gen:trades, gen:nexmark"
            )));
        }
        let mut o = GeneratorOptions::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                Error::Config(format!(
                    "generator option `{pair}` needs a value (key=value)"
                ))
            })?;
            let bad = |what: &str| {
                Error::Config(format!("generator option {key}={value}: expected {what}"))
            };
            let positive = |v: &str| v.parse::<u64>().ok().filter(|&n| n > 0);
            match key {
                "records" => o.records = Some(value.parse().map_err(|_| bad("a record count"))?),
                "traders" => {
                    o.traders = positive(value)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| bad("a positive count"))?
                }
                "symbols" => {
                    o.symbols = positive(value)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| bad("a positive count"))?
                }
                "rate" => o.rate = Some(positive(value).ok_or_else(|| bad("records per second > 0"))?),
                "seed" => o.seed = value.parse().map_err(|_| bad("an integer seed"))?,
                "jitter" => {
                    o.jitter_ms = crate::sql::duration::parse_duration_ms(value)
                        .ok_or_else(|| bad("a duration like 500ms, 2s, 1m"))?
                }
                "wait" => {
                    o.wait = match value {
                        "spin" => Wait::Spin,
                        "sleep" => Wait::Sleep,
                        _ => return Err(bad("spin or sleep")),
                    }
                }
                _ => {
                    return Err(Error::Config(format!(
                        "unknown generator option `{key}`; known: records, traders, symbols, rate, seed, jitter, wait"
                    )))
                }
            }
        }
        Ok(TradesGenerator::new(o))
    }

    /// When record `i` is due, for a rate-limited generator.
    fn due(&self, i: u64) -> Option<Instant> {
        let rate = self.options.rate?;
        let started = self.started?;
        let i = i - self.first;
        Some(started + Duration::from_nanos(i.saturating_mul(1_000_000_000) / rate))
    }

    fn push_record(&mut self, batch: &mut Batch) {
        let i = self.next;
        self.next += 1;
        let step_us = 1_000_000 / self.options.rate.unwrap_or(1_000).max(1);
        let mut event_time = FIRST_EVENT_TIME + (i * step_us / 1_000) as i64;
        let r = self.rng.next_u64();
        if self.options.jitter_ms > 0 {
            event_time -= (r % (self.options.jitter_ms as u64 + 1)) as i64;
        }
        let r2 = self.rng.next_u64();
        let trader = (r2 % self.options.traders as u64) as usize;
        let symbol = ((r2 >> 32) % self.options.symbols as u64) as usize;
        let r3 = self.rng.next_u64();
        // Price in cents: the symbol's base price moved by up to +-1%.
        let base = self.base_prices[symbol];
        let spread = base / 50 + 1;
        let cents = base - base / 100 + (r3 % spread);
        let quantity = 1 + ((r3 >> 32) % 1_000) as i64;
        let c = &mut batch.columns;
        if let ColumnData::Int64(v) = &mut c[0].data {
            v.push(event_time);
        }
        if let ColumnData::Utf8(v) = &mut c[1].data {
            v.push(&self.trader_names[trader]);
        }
        if let ColumnData::Utf8(v) = &mut c[2].data {
            v.push(&self.symbol_names[symbol]);
        }
        if let ColumnData::Float64(v) = &mut c[3].data {
            v.push(cents as f64 / 100.0);
        }
        if let ColumnData::Int64(v) = &mut c[4].data {
            v.push(quantity);
        }
        batch.len += 1;
    }
}

impl Source for TradesGenerator {
    fn position(&self) -> Option<crate::checkpoint::SourcePosition> {
        Some(crate::checkpoint::SourcePosition::Trades {
            next: self.next,
            rng: self.rng.clone(),
        })
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        let remaining = self.options.records.map_or(u64::MAX, |n| n - self.next);
        if remaining == 0 {
            return Ok(Poll::End);
        }
        self.started.get_or_insert_with(Instant::now);
        let rows = (max_rows as u64).min(remaining) as usize;
        // The clock is read again only when a record is not yet due by the
        // last reading: a generator that keeps up reads it about once a poll.
        let mut now = Instant::now();
        let mut batch = self.pool.take_at(&self.schema, rows, now);
        while batch.len < rows {
            let due = self.due(self.next);
            if let Some(due) = due {
                if due > now {
                    now = Instant::now();
                }
                if due > now {
                    if batch.len > 0 {
                        break;
                    }
                    let wake = deadline.map_or(due, |d| d.min(due));
                    wait_until(wake, self.options.wait);
                    if wake < due {
                        self.pool.give(batch);
                        return Ok(Poll::Idle);
                    }
                    now = Instant::now();
                }
            }
            if batch.len == 0 {
                // Arrival of the oldest record: when it was due (see the
                // module docs), so falling behind the schedule is latency.
                batch.ingest_time = due.unwrap_or(now);
            }
            self.push_record(&mut batch);
        }
        Ok(Poll::Batch(batch))
    }

    fn reuse(&mut self, batch: Batch) {
        self.pool.give(batch);
    }

    fn malformed(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        "gen:trades".to_owned()
    }
}

/// Below this much waiting left, [`wait_until`] spins instead of sleeping: a
/// sleep ends a timer slack (50 us by default) or more late; measured on a
/// 2-core VM, `nanosleep(1us)` returned 65 us late at the median.
const SPIN_WINDOW: Duration = Duration::from_micros(100);

/// Waits until `until`, as an outside source whose records arrive over time
/// would keep the router waiting: sleeps off all but the last
/// `SPIN_WINDOW` (all of it with [`Wait::Sleep`]), then spins to the deadline.
pub(crate) fn wait_until(until: Instant, wait: Wait) {
    let spin = match wait {
        Wait::Spin => SPIN_WINDOW,
        Wait::Sleep => Duration::ZERO,
    };
    loop {
        let now = Instant::now();
        if now >= until {
            return;
        }
        let left = until - now;
        if left > spin {
            sleep(left - spin);
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The coarse part of [`wait_until`]. The generator stands in for a source
/// whose records arrive over time; sleeping here is that source being quiet.
#[allow(clippy::disallowed_methods)]
fn sleep(d: Duration) {
    std::thread::sleep(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut g: TradesGenerator) -> Vec<Batch> {
        let mut out = Vec::new();
        while let Poll::Batch(b) = g.poll(100, None).unwrap() {
            out.push(b);
        }
        out
    }

    #[test]
    fn same_seed_same_records() {
        let opts = GeneratorOptions {
            records: Some(1_000),
            ..GeneratorOptions::default()
        };
        let a = drain(TradesGenerator::new(opts.clone()));
        let b = drain(TradesGenerator::new(opts));
        assert_eq!(a.len(), 10);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.columns, y.columns);
        }
    }

    #[test]
    fn paced_batches_are_stamped_when_their_oldest_record_was_due() {
        let mut g = TradesGenerator::from_spec("trades?records=1000&rate=20000").unwrap();
        let Poll::Batch(first) = g.poll(100, None).unwrap() else {
            panic!("expected the first record");
        };
        let started = first.ingest_time;
        // Fall behind the schedule (50 us per record) by about 1 ms; no sleep,
        // as on the data path.
        while started.elapsed() < Duration::from_millis(1) {
            std::hint::spin_loop();
        }
        let Poll::Batch(late) = g.poll(100, None).unwrap() else {
            panic!("expected the records that came due");
        };
        assert!(late.len >= 19, "caught up in one batch: {}", late.len);
        assert_eq!(late.ingest_time, started + Duration::from_micros(50));
        // Caught up: the next poll waits for the next record, no earlier.
        let next_due = started + Duration::from_micros(50 * (1 + late.len as u64));
        let Poll::Batch(next) = g.poll(100, None).unwrap() else {
            panic!("expected the next record");
        };
        assert_eq!(next.ingest_time, next_due);
        assert!(Instant::now() >= next_due);
    }

    #[test]
    fn spec_options_are_checked() {
        let g = TradesGenerator::from_spec("trades?records=5&traders=3&symbols=2&seed=1&jitter=2s")
            .unwrap();
        assert_eq!(g.options.records, Some(5));
        assert_eq!(g.options.jitter_ms, 2_000);
        assert!(TradesGenerator::from_spec("trades?bogus=1").is_err());
        assert!(TradesGenerator::from_spec("trades?traders=0").is_err());
        assert!(TradesGenerator::from_spec("quotes").is_err());
        assert_eq!(
            TradesGenerator::from_spec("trades?wait=sleep")
                .unwrap()
                .options
                .wait,
            Wait::Sleep
        );
        assert!(TradesGenerator::from_spec("trades?wait=nap").is_err());
    }
}
