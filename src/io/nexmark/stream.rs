//! The three Nexmark streams: which event numbers each holds, and its columns
//! (as the Flink Nexmark DDL declares them, in that order).

use crate::data::{DataType, Field, Schema};

/// Events come in epochs of `EPOCH`: in each, one person (offset 0), then
/// three auctions (offsets 1 to 3), then 46 bids (offsets 4 to 49).
pub const EPOCH: u64 = 50;
/// Persons per epoch.
pub const PERSONS: u64 = 1;
/// Auctions per epoch.
pub const AUCTIONS: u64 = 3;

/// One of the three streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Person,
    Auction,
    Bid,
}

impl Stream {
    /// All three, in the order a spec expands to.
    pub const ALL: [Stream; 3] = [Stream::Person, Stream::Auction, Stream::Bid];

    /// The input name: `person`, `auction` or `bid`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Person => "person",
            Stream::Auction => "auction",
            Stream::Bid => "bid",
        }
    }

    /// The stream named `name` (ignoring ASCII case).
    pub fn parse(name: &str) -> Option<Stream> {
        Stream::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// The stream event `n` belongs to.
    pub fn of(n: u64) -> Stream {
        match n % EPOCH {
            0 => Stream::Person,
            1..=3 => Stream::Auction,
            _ => Stream::Bid,
        }
    }

    /// The first event number of this stream at or after `n`.
    pub fn at_or_after(self, n: u64) -> u64 {
        let (epoch, offset) = (n - n % EPOCH, n % EPOCH);
        match (self, offset) {
            (Stream::Person, 0) => n,
            (Stream::Person, _) => epoch + EPOCH,
            (Stream::Auction, 0) => n + 1,
            (Stream::Auction, 1..=3) => n,
            (Stream::Auction, _) => epoch + EPOCH + 1,
            (Stream::Bid, 0..=3) => epoch + PERSONS + AUCTIONS,
            (Stream::Bid, _) => n,
        }
    }

    /// The event number after `n` (one of this stream's) in this stream.
    pub fn after(self, n: u64) -> u64 {
        self.at_or_after(n + 1)
    }

    /// The stream's columns.
    pub fn schema(self) -> Schema {
        use DataType::{Int64, Timestamp, Utf8};
        let fields: &[(&str, DataType)] = match self {
            Stream::Person => &[
                ("id", Int64),
                ("name", Utf8),
                ("emailAddress", Utf8),
                ("creditCard", Utf8),
                ("city", Utf8),
                ("state", Utf8),
                ("dateTime", Timestamp),
                ("extra", Utf8),
            ],
            Stream::Auction => &[
                ("id", Int64),
                ("itemName", Utf8),
                ("description", Utf8),
                ("initialBid", Int64),
                ("reserve", Int64),
                ("dateTime", Timestamp),
                ("expires", Timestamp),
                ("seller", Int64),
                ("category", Int64),
                ("extra", Utf8),
            ],
            Stream::Bid => &[
                ("auction", Int64),
                ("bidder", Int64),
                ("price", Int64),
                ("channel", Utf8),
                ("url", Utf8),
                ("dateTime", Timestamp),
                ("extra", Utf8),
            ],
        };
        Schema::new(fields.iter().map(|(n, t)| Field::new(*n, *t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stepping through each stream visits exactly its events, in order.
    #[test]
    fn each_stream_steps_through_its_own_events() {
        for s in Stream::ALL {
            let mut n = s.at_or_after(0);
            let mut seen = Vec::new();
            while n < 1_000 {
                seen.push(n);
                n = s.after(n);
            }
            let expected: Vec<u64> = (0..1_000).filter(|&n| Stream::of(n) == s).collect();
            assert_eq!(seen, expected, "{s:?}");
            for n in 0..200 {
                let next = s.at_or_after(n);
                assert!(next >= n && Stream::of(next) == s);
                assert!((n..next).all(|m| Stream::of(m) != s));
            }
        }
    }

    #[test]
    fn names_parse_back() {
        for s in Stream::ALL {
            assert_eq!(Stream::parse(s.name()), Some(s));
            assert_eq!(Stream::parse(&s.name().to_uppercase()), Some(s));
        }
        assert_eq!(Stream::parse("bids"), None);
    }
}
