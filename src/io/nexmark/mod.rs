//! The Nexmark generator: `gen:nexmark?events=N&seed=S&rate=R&event_rate=E&base_time=T&wait=W`.
//!
//! Nexmark is the online-auction benchmark: people register, open auctions
//! and bid. Its events are numbered `0, 1, 2, ...` over three streams: of
//! every 50, one person, three auctions and 46 bids ([`stream`]). Each
//! event's fields are a pure function of the seed and its number
//! ([`model`], [`rows`]), so each stream is generated on its own, skipping
//! the others' numbers, and the three agree (a bid names auctions and
//! people that exist, or that are at most 10 ids ahead, as in Nexmark).
//! Event `n` happens `n * 1_000_000 / event_rate` microseconds after
//! `base_time` (default 2026-01-01T00:00:00Z, never the wall clock), so
//! every stream is in event-time order.
//!
//! One unnamed spec gives the three inputs `person`, `auction` and `bid`,
//! and q13's `side_input` table ([`side_input`]) ([`expand`]): the query
//! reads the ones it names, the others are not read. A named input
//! `bid=gen:nexmark?...` is that one stream ([`named_spec`]).

pub mod files;
pub mod model;
pub mod options;
pub mod rows;
pub mod side_input;
pub mod source;
pub mod stream;
pub mod words;

pub use options::NexmarkOptions;
pub use side_input::SideInput;
pub use source::NexmarkSource;
pub use stream::Stream;

use crate::error::Error;
use crate::io::source::Source;
use std::borrow::Cow;

/// Opens the part of a spec after `gen:` (`nexmark?...&stream=S`): one
/// stream of events, or the side input; resumed at `next` (a checkpoint's
/// position) when given.
pub fn open(spec: &str, next: Option<u64>) -> Result<Box<dyn Source>, Error> {
    let query = spec
        .strip_prefix("nexmark")
        .and_then(|q| q.strip_prefix('?'));
    let options = NexmarkOptions::parse(query.unwrap_or(""))?;
    if options.side_input {
        let mut side = SideInput::new();
        side.resume(next.unwrap_or(0));
        return Ok(Box::new(side));
    }
    let mut events = NexmarkSource::from_spec(spec)?;
    if let Some(next) = next {
        events.resume(next);
    }
    Ok(Box::new(events))
}

/// The options part of `spec` when it is a `gen:nexmark` spec.
fn query_of(spec: &str) -> Option<&str> {
    match spec.strip_prefix("gen:nexmark")? {
        "" => Some(""),
        rest => rest.strip_prefix('?'),
    }
}

/// `spec` reading only the stream (or side input) named `stream`.
fn with_stream(spec: &str, stream: &str) -> String {
    let join = match spec.as_bytes().last() {
        _ if !spec.contains('?') => "?",
        Some(b'?' | b'&') => "",
        _ => "&",
    };
    format!("{spec}{join}stream={stream}")
}

/// Whether `spec` names its stream (`stream=`), or is not `gen:nexmark`.
fn names_a_stream(query: &str) -> bool {
    query.split('&').any(|p| p.starts_with("stream="))
}

/// The inputs of an unnamed `gen:nexmark` spec that does not name a
/// stream: `(person, spec)`, `(auction, ..)`, `(bid, ..)`, `(side_input,
/// ..)`, each spec reading its stream. `None` for any other spec.
pub fn expand(spec: &str) -> Option<Vec<(String, String)>> {
    let query = query_of(spec)?;
    if names_a_stream(query) {
        return None;
    }
    Some(
        (Stream::ALL.into_iter().map(Stream::name))
            .chain([side_input::NAME])
            .map(|s| (s.to_owned(), with_stream(spec, s)))
            .collect(),
    )
}

/// The spec a named input `name=spec` opens: a `gen:nexmark` spec without
/// `stream=` reads the stream of that name, and is an error naming the
/// ways to give it when `name` is not one of the three; any other spec
/// as given.
pub fn named_spec<'a>(name: &str, spec: &'a str) -> Result<Cow<'a, str>, Error> {
    let Some(query) = query_of(spec) else {
        return Ok(Cow::Borrowed(spec));
    };
    if names_a_stream(query) {
        return Ok(Cow::Borrowed(spec));
    }
    match Stream::parse(name) {
        Some(stream) => Ok(Cow::Owned(with_stream(spec, stream.name()))),
        None if name.eq_ignore_ascii_case(side_input::NAME) => {
            Ok(Cow::Owned(with_stream(spec, side_input::NAME)))
        }
        None => Err(Error::Config(format!(
            "--input {name}={spec}: gen:nexmark gives three streams (person, auction, bid) \
             and q13's side_input; give it unnamed (--input '{spec}') to read them by those \
             names, name the input after one (--input bid='{spec}'), or add \
             stream=person|auction|bid|side_input"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unnamed_spec_expands_to_the_three_streams_and_the_side_input() {
        let three = expand("gen:nexmark?events=10&seed=2").unwrap();
        let names: Vec<&str> = three.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["person", "auction", "bid", "side_input"]);
        assert_eq!(three[2].1, "gen:nexmark?events=10&seed=2&stream=bid");
        assert_eq!(
            expand("gen:nexmark").unwrap()[0].1,
            "gen:nexmark?stream=person"
        );
        assert_eq!(
            expand("gen:nexmark?").unwrap()[1].1,
            "gen:nexmark?stream=auction"
        );
        assert_eq!(expand("gen:nexmark?stream=bid&events=5"), None);
        assert_eq!(expand("gen:trades?records=5"), None);
        assert_eq!(expand("gen:nexmarkets"), None);
        assert_eq!(expand("nexmark.csv"), None);
    }

    #[test]
    fn a_named_spec_reads_the_stream_of_its_name() {
        assert_eq!(
            named_spec("Bid", "gen:nexmark?events=5").unwrap(),
            "gen:nexmark?events=5&stream=bid"
        );
        assert_eq!(
            named_spec("bids", "gen:nexmark?events=5&stream=bid").unwrap(),
            "gen:nexmark?events=5&stream=bid"
        );
        assert_eq!(named_spec("t", "trades.csv").unwrap(), "trades.csv");
        let err = named_spec("bids", "gen:nexmark?events=5")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--input bids=gen:nexmark?events=5: gen:nexmark gives three streams"),
            "{err}"
        );
        assert!(err.contains("give it unnamed"), "{err}");
    }
}
