//! Nexmark events written straight into a batch's columns: one random
//! generator per event, text built in one reused buffer, no allocation per
//! row once the batch's buffers have grown.

use super::model::{self, Clock, EventRng, FIRST_AUCTION_ID, FIRST_PERSON_ID};
use super::options::NexmarkOptions;
use super::stream::Stream;
use super::words::{self, ChannelUrls, CHANNELS, HOT_CHANNELS};
use crate::data::column::ColumnData;
use crate::data::{Batch, Column, Utf8Column};

/// Average bytes of an event, as Nexmark sizes them; `extra` pads to these.
const PERSON_BYTES: usize = 200;
const AUCTION_BYTES: usize = 500;
const BID_BYTES: usize = 100;

/// Writes the events of one run (one seed and clock) into batches.
pub struct Rows {
    key: u64,
    clock: Clock,
    /// Made at the first bid: a person or auction source never needs it.
    channels: Option<ChannelUrls>,
    /// Where a text field is built before it is copied into its column.
    text: Vec<u8>,
}

/// Why a column is not of its type: the batch does not have its stream's schema.
const SHAPE: &str = "a Nexmark batch has its stream's columns (the pool keeps only those)";

fn ints(c: &mut Column) -> &mut Vec<i64> {
    match &mut c.data {
        ColumnData::Int64(v) | ColumnData::Timestamp(v) => v,
        _ => unreachable!("{SHAPE}"),
    }
}

fn strings(c: &mut Column) -> &mut Utf8Column {
    match &mut c.data {
        ColumnData::Utf8(v) => v,
        _ => unreachable!("{SHAPE}"),
    }
}

/// Builds a string in `text` with `write`, appends it to `column`, and
/// returns its length.
#[inline]
fn push_text(
    column: &mut Utf8Column,
    text: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>),
) -> usize {
    text.clear();
    write(text);
    // Only ASCII is ever written: a whole, valid UTF-8 string.
    column.push_within(text, 0, text.len());
    text.len()
}

impl Rows {
    pub fn new(options: &NexmarkOptions) -> Rows {
        Rows {
            key: model::key_of(options.seed),
            clock: Clock {
                base_time: options.base_time,
                event_rate: options.event_rate,
            },
            channels: None,
            text: Vec::with_capacity(512),
        }
    }

    /// Appends `stream`'s events from `n` (one of its own) to `batch` (of
    /// its schema), stopping before event number `end` or at `max_rows` rows
    /// in the batch; returns the stream's next event number.
    pub fn fill(
        &mut self,
        stream: Stream,
        batch: &mut Batch,
        n: u64,
        end: u64,
        max_rows: usize,
    ) -> u64 {
        let room = max_rows.saturating_sub(batch.len);
        match stream {
            Stream::Person => self.persons(batch, n, end, room),
            Stream::Auction => self.auctions(batch, n, end, room),
            Stream::Bid => self.bids(batch, n, end, room),
        }
    }

    fn persons(&mut self, batch: &mut Batch, mut n: u64, end: u64, room: usize) -> u64 {
        let [id, name, email, card, city, state, time, extra] = &mut batch.columns[..] else {
            unreachable!("{SHAPE}");
        };
        let (id, name, email, card) = (ints(id), strings(name), strings(email), strings(card));
        let (city, state, time, extra) =
            (strings(city), strings(state), ints(time), strings(extra));
        let text = &mut self.text;
        let mut rows = 0;
        while n < end && rows < room {
            let rng = &mut EventRng::new(self.key, n);
            id.push(FIRST_PERSON_ID + model::last_person(n) as i64);
            let name_len = push_text(name, text, |t| {
                t.extend_from_slice(words::pick(&words::FIRST_NAMES, rng).as_bytes());
                t.push(b' ');
                t.extend_from_slice(words::pick(&words::LAST_NAMES, rng).as_bytes());
            });
            let email_len = push_text(email, text, |t| words::email(rng, t));
            let card_len = push_text(card, text, |t| words::credit_card(rng, t));
            let (c, s) = (
                words::pick(&words::CITIES, rng),
                words::pick(&words::STATES, rng),
            );
            city.push(c);
            state.push(s);
            time.push(self.clock.time(n));
            let size = 8 + name_len + email_len + card_len + c.len() + s.len();
            let len = model::extra_len(size, PERSON_BYTES, rng);
            push_text(extra, text, |t| words::letters(len, rng, t));
            n = Stream::Person.after(n);
            rows += 1;
        }
        batch.len += rows;
        n
    }

    fn auctions(&mut self, batch: &mut Batch, mut n: u64, end: u64, room: usize) -> u64 {
        let [id, item, description, initial, reserve, time, expires, seller, category, extra] =
            &mut batch.columns[..]
        else {
            unreachable!("{SHAPE}");
        };
        let (id, item, description, initial) =
            (ints(id), strings(item), strings(description), ints(initial));
        let (reserve, time, expires, seller) =
            (ints(reserve), ints(time), ints(expires), ints(seller));
        let (category, extra) = (ints(category), strings(extra));
        let text = &mut self.text;
        let mut rows = 0;
        while n < end && rows < room {
            let rng = &mut EventRng::new(self.key, n);
            id.push(FIRST_AUCTION_ID + model::last_auction(n) as i64);
            let item_len = push_text(item, text, |t| words::letters(20, rng, t));
            let description_len = push_text(description, text, |t| words::letters(100, rng, t));
            let bid = model::price(rng);
            initial.push(bid);
            reserve.push(bid + model::price(rng));
            let at = self.clock.time(n);
            time.push(at);
            expires.push(model::expires(self.clock, n, at, rng));
            seller.push(model::seller(n, rng));
            category.push(model::category(rng));
            // Nexmark counts 8 bytes for the id and each of the five numbers.
            let size = 8 + item_len + description_len + 5 * 8;
            let len = model::extra_len(size, AUCTION_BYTES, rng);
            push_text(extra, text, |t| words::letters(len, rng, t));
            n = Stream::Auction.after(n);
            rows += 1;
        }
        batch.len += rows;
        n
    }

    fn bids(&mut self, batch: &mut Batch, mut n: u64, end: u64, room: usize) -> u64 {
        let [auction, bidder, price, channel, url, time, extra] = &mut batch.columns[..] else {
            unreachable!("{SHAPE}");
        };
        let (auction, bidder, price, channel) =
            (ints(auction), ints(bidder), ints(price), strings(channel));
        let (url, time, extra) = (strings(url), ints(time), strings(extra));
        let urls = self.channels.get_or_insert_with(ChannelUrls::new);
        let text = &mut self.text;
        let mut rows = 0;
        while n < end && rows < room {
            let rng = &mut EventRng::new(self.key, n);
            auction.push(model::bid_auction(n, rng));
            bidder.push(model::bidder(n, rng));
            price.push(model::price(rng));
            if rng.below(model::HOT_CHANNEL_RATIO) > 0 {
                let hot = rng.below(HOT_CHANNELS.len() as u64) as usize;
                channel.push(HOT_CHANNELS[hot]);
                urls.push(CHANNELS as usize + hot, url);
            } else {
                let k = rng.below(CHANNELS);
                push_text(channel, text, |t| {
                    t.extend_from_slice(b"channel-");
                    t.extend_from_slice(itoa::Buffer::new().format(k).as_bytes());
                });
                urls.push(k as usize, url);
            }
            time.push(self.clock.time(n));
            // Nexmark counts 8 bytes for each of the four numbers.
            let len = model::extra_len(4 * 8, BID_BYTES, rng);
            push_text(extra, text, |t| words::letters(len, rng, t));
            n = Stream::Bid.after(n);
            rows += 1;
        }
        batch.len += rows;
        n
    }
}
