//! The options of `gen:nexmark?...`, parsed from its spec.

use super::stream::Stream;
use crate::error::Error;
use crate::io::generator::Wait;

/// 2026-01-01T00:00:00Z, the default event time of event 0 (never the wall
/// clock, so that a seed gives the same rows on every run).
pub const DEFAULT_BASE_TIME: i64 = 1_767_225_600_000;

/// Events per second of event time over all three streams, as in Beam and Flink.
pub const DEFAULT_EVENT_RATE: u64 = 10_000;

/// The options every part of the spec may set, and the one stream to read.
#[derive(Debug, Clone, PartialEq)]
pub struct NexmarkOptions {
    /// Events over all three streams (event numbers `0..events`); `None`
    /// runs until stopped.
    pub events: Option<u64>,
    /// Every event's fields are a function of `(seed, event number)`.
    pub seed: u64,
    /// Wall-clock events per second over all three streams: event `n` is due
    /// `n / rate` seconds after the first poll. `None` is as fast as possible.
    pub rate: Option<u64>,
    /// Events per second of event time over all three streams.
    pub event_rate: u64,
    /// Event time of event 0, epoch ms.
    pub base_time: i64,
    /// How a `rate` waits.
    pub wait: Wait,
    /// The stream a source reads (`stream=`); `None` in a spec that gives
    /// all three, or reads the side input.
    pub stream: Option<Stream>,
    /// Whether the spec reads q13's side input (`stream=side_input`, see
    /// [`super::side_input`]) rather than a stream of events.
    pub side_input: bool,
}

impl Default for NexmarkOptions {
    fn default() -> Self {
        NexmarkOptions {
            events: None,
            seed: 0,
            rate: None,
            event_rate: DEFAULT_EVENT_RATE,
            base_time: DEFAULT_BASE_TIME,
            wait: Wait::Spin,
            stream: None,
            side_input: false,
        }
    }
}

/// The options `gen:nexmark` knows, for error messages.
pub const KNOWN: &str = "events, seed, rate, event_rate, base_time, wait, stream";

impl NexmarkOptions {
    /// Parses the part of a spec after `gen:nexmark?`, e.g. `events=1000&seed=7`.
    pub fn parse(query: &str) -> Result<NexmarkOptions, Error> {
        let mut o = NexmarkOptions::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                Error::Config(format!(
                    "gen:nexmark option `{pair}` needs a value (key=value); known: {KNOWN}"
                ))
            })?;
            let bad = |what: &str| {
                Error::Config(format!("gen:nexmark option {key}={value}: expected {what}"))
            };
            let positive = |v: &str| v.parse::<u64>().ok().filter(|&n| n > 0);
            match key {
                "events" => o.events = Some(value.parse().map_err(|_| bad("an event count"))?),
                "seed" => o.seed = value.parse().map_err(|_| bad("an integer seed"))?,
                "rate" => {
                    o.rate = Some(positive(value).ok_or_else(|| bad("events per second > 0"))?)
                }
                "event_rate" => {
                    o.event_rate = positive(value)
                        .filter(|&r| r <= MAX_EVENT_RATE)
                        .ok_or_else(|| bad("events per second of event time, 1 to 1000000000"))?
                }
                "base_time" => {
                    o.base_time = parse_base_time(value).ok_or_else(|| bad(BASE_TIME))?
                }
                "wait" => {
                    o.wait = match value {
                        "spin" => Wait::Spin,
                        "sleep" => Wait::Sleep,
                        _ => return Err(bad("spin or sleep")),
                    }
                }
                "stream" if value.eq_ignore_ascii_case(super::side_input::NAME) => {
                    o.side_input = true
                }
                "stream" => {
                    o.stream = Some(
                        Stream::parse(value)
                            .ok_or_else(|| bad("person, auction, bid or side_input"))?,
                    )
                }
                _ => {
                    return Err(Error::Config(format!(
                        "unknown gen:nexmark option `{key}`; known: {KNOWN}"
                    )))
                }
            }
        }
        Ok(o)
    }

    /// The options of `corestream gen nexmark`, checked as a spec's are;
    /// an error names the flag.
    pub fn from_flags(
        events: u64,
        seed: u64,
        event_rate: u64,
        base_time: &str,
    ) -> Result<NexmarkOptions, Error> {
        if !(1..=MAX_EVENT_RATE).contains(&event_rate) {
            return Err(Error::Config(format!(
                "--event-rate {event_rate}: expected events per second of event time, 1 to 1000000000"
            )));
        }
        let base_time = parse_base_time(base_time).ok_or_else(|| {
            Error::Config(format!("--base-time {base_time}: expected {BASE_TIME}"))
        })?;
        Ok(NexmarkOptions {
            events: Some(events),
            seed,
            event_rate,
            base_time,
            ..NexmarkOptions::default()
        })
    }
}

/// The largest `event_rate`: one event per nanosecond of event time.
pub const MAX_EVENT_RATE: u64 = 1_000_000_000;

/// What a `base_time` may be, for error messages.
pub const BASE_TIME: &str =
    "an ISO 8601 UTC time (2026-01-01T00:00:00Z) or epoch milliseconds, years 1970 to 9999";

/// A base time: ISO 8601 (UTC when no offset is given) or epoch ms, from
/// 1970 to the end of 9999, so that every event time can be written as ISO 8601.
pub fn parse_base_time(text: &str) -> Option<i64> {
    /// 10000-01-01T00:00:00Z.
    const YEAR_10000: i64 = 253_402_300_800_000;
    crate::io::parse::parse_timestamp(text).filter(|t| (0..YEAR_10000).contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_read() {
        let o = NexmarkOptions::parse(
            "events=5000&seed=3&rate=100&event_rate=1000&base_time=2026-02-01T00:00:00Z&wait=sleep&stream=bid",
        )
        .unwrap();
        assert_eq!(o.events, Some(5000));
        assert_eq!(o.seed, 3);
        assert_eq!(o.rate, Some(100));
        assert_eq!(o.event_rate, 1000);
        assert_eq!(o.base_time, 1_769_904_000_000);
        assert_eq!(o.wait, Wait::Sleep);
        assert_eq!(o.stream, Some(Stream::Bid));
        assert_eq!(
            NexmarkOptions::parse("base_time=1000").unwrap().base_time,
            1000
        );
        assert_eq!(
            NexmarkOptions::parse("").unwrap(),
            NexmarkOptions::default()
        );
    }

    #[test]
    fn a_bad_option_is_named_with_what_was_expected() {
        let err = |q: &str| NexmarkOptions::parse(q).unwrap_err().to_string();
        assert!(
            err("bogus=1").contains("known: events, seed"),
            "{}",
            err("bogus=1")
        );
        assert!(err("events").contains("needs a value"));
        assert!(err("events=-1").contains("events=-1: expected an event count"));
        assert!(err("rate=0").contains("rate=0"));
        assert!(err("event_rate=0").contains("event_rate=0"));
        assert!(err("event_rate=2000000000").contains("1 to 1000000000"));
        assert!(err("base_time=yesterday").contains("ISO 8601"));
        assert!(err("base_time=-5").contains("ISO 8601"));
        assert!(err("wait=nap").contains("spin or sleep"));
        assert!(err("stream=bids").contains("person, auction, bid or side_input"));
    }
}
