//! The text of Nexmark events: Nexmark's name, city and state lists (as
//! Beam's generator spells them, capitalized: Nexmark q3 looks for 'OR'),
//! random letters and digits, and the channels with their URLs. Everything
//! is ASCII and written into a caller's buffer, allocating nothing per event.

use super::model::EventRng;
use crate::data::Utf8Column;

pub const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
pub const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];
pub const CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
pub const STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
pub const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
/// Channels other than the hot ones: `channel-0` to `channel-9999`.
pub const CHANNELS: u64 = 10_000;

/// One of `items`, uniformly.
#[inline]
pub fn pick<'a>(items: &[&'a str], rng: &mut EventRng) -> &'a str {
    items[rng.below(items.len() as u64) as usize]
}

/// Appends `len` random lowercase letters, eight from each random word: a
/// letter is the top of the word times 26, and the word goes on as the
/// rest of that product (multiply-shift), so each letter takes about 4.7
/// bits and the eighth still has 31 of the word's to draw on (uniform to
/// within 26 in 2^31).
#[inline]
pub fn letters(len: usize, rng: &mut EventRng, out: &mut Vec<u8>) {
    out.reserve(len);
    let mut left = len;
    while left > 0 {
        let mut word = rng.next_u64();
        let mut chunk = [0u8; 8];
        for letter in &mut chunk {
            let product = u128::from(word) * 26;
            *letter = b'a' + (product >> 64) as u8;
            word = product as u64;
        }
        let take = left.min(8);
        out.extend_from_slice(&chunk[..take]);
        left -= take;
    }
}

/// Appends `value` (below 10 000) as four digits, zero-padded.
#[inline]
pub fn four_digits(value: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&[
        b'0' + (value / 1000 % 10) as u8,
        b'0' + (value / 100 % 10) as u8,
        b'0' + (value / 10 % 10) as u8,
        b'0' + (value % 10) as u8,
    ]);
}

/// Appends an email address, `xxxxxxx@xxxxx.com`.
#[inline]
pub fn email(rng: &mut EventRng, out: &mut Vec<u8>) {
    letters(7, rng, out);
    out.push(b'@');
    letters(5, rng, out);
    out.extend_from_slice(b".com");
}

/// Appends a credit card number, `dddd dddd dddd dddd`.
#[inline]
pub fn credit_card(rng: &mut EventRng, out: &mut Vec<u8>) {
    for i in 0..4 {
        if i > 0 {
            out.push(b' ');
        }
        four_digits(rng.below(10_000), out);
    }
}

/// The URL of every channel, made once per generator: channel `k`'s (`k <
/// CHANNELS`) at row `k`, hot channel `i`'s at row `CHANNELS + i`.
///
/// A URL is Nexmark's shape, which queries 21 and 22 take apart:
/// `https://www.nexmark.com/<a>/<b>/<c>/item.htm?query=1`, each part 3 or 4
/// letters or `_`, and for 9 channels in 10 `&channel_id=<n>`, `n` the
/// channel number's bits reversed (as an `i32`), made positive. Each
/// channel's URL depends on its number only, not on the seed.
pub struct ChannelUrls(Utf8Column);

/// Keys the channels' random numbers apart from the events'.
const CHANNEL_KEY: u64 = 0x6e65_786d_6172_6b21;

impl ChannelUrls {
    pub fn new() -> ChannelUrls {
        let total = CHANNELS as usize + HOT_CHANNELS.len();
        let mut urls = Utf8Column::with_capacity(total, total * 64);
        let mut url = Vec::with_capacity(96);
        for k in 0..total as u64 {
            url.clear();
            let mut rng = EventRng::new(CHANNEL_KEY, k);
            url.extend_from_slice(b"https://www.nexmark.com/");
            for _ in 0..3 {
                for _ in 0..3 + rng.below(2) {
                    match rng.below(13) {
                        0 => url.push(b'_'),
                        _ => letters(1, &mut rng, &mut url),
                    }
                }
                url.push(b'/');
            }
            url.extend_from_slice(b"item.htm?query=1");
            if k < CHANNELS && rng.below(10) > 0 {
                let id = i64::from((k as i32).reverse_bits()).abs();
                url.extend_from_slice(b"&channel_id=");
                url.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
            }
            urls.push_within(&url, 0, url.len());
        }
        ChannelUrls(urls)
    }

    /// Appends channel `k`'s URL (a hot channel's is `CHANNELS + i`) to `column`.
    #[inline]
    pub fn push(&self, k: usize, column: &mut Utf8Column) {
        let offsets = self.0.offsets();
        column.push_within(self.0.bytes(), offsets[k] as usize, offsets[k + 1] as usize);
    }

    /// Channel `k`'s URL.
    pub fn get(&self, k: usize) -> &str {
        self.0.get(k)
    }
}

impl Default for ChannelUrls {
    fn default() -> Self {
        ChannelUrls::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_lowercase_and_cover_the_alphabet() {
        let mut rng = EventRng::new(1, 1);
        let mut out = Vec::new();
        for len in 0..10 {
            out.clear();
            letters(len, &mut rng, &mut out);
            assert_eq!(out.len(), len);
        }
        out.clear();
        letters(26_000, &mut rng, &mut out);
        let mut counts = [0u32; 26];
        for b in &out {
            counts[(b - b'a') as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }

    /// Every position of the eight letters a word gives is uniform, and
    /// neighbours are independent (no pair of letters is favoured).
    #[test]
    fn each_letter_of_a_word_is_uniform_and_independent_of_the_one_before() {
        let words = 100_000;
        let mut by_position = [[0u32; 26]; 8];
        let mut pairs = vec![0u32; 26 * 26];
        let mut out = Vec::new();
        for w in 0..words {
            out.clear();
            letters(8, &mut EventRng::new(9, w), &mut out);
            let l: Vec<usize> = out.iter().map(|b| (b - b'a') as usize).collect();
            for (p, &x) in l.iter().enumerate() {
                by_position[p][x] += 1;
            }
            pairs[l[6] * 26 + l[7]] += 1;
        }
        // 3846 expected per cell (sd 61); 148 per pair (sd 12).
        for (p, counts) in by_position.iter().enumerate() {
            assert!(
                counts.iter().all(|&c| (3_500..4_200).contains(&c)),
                "position {p}: {counts:?}"
            );
        }
        assert!(pairs.iter().all(|&c| (90..210).contains(&c)), "{pairs:?}");
    }

    #[test]
    fn emails_and_cards_have_their_shapes() {
        let mut rng = EventRng::new(2, 2);
        let mut out = Vec::new();
        email(&mut rng, &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        let (user, host) = text.split_once('@').unwrap();
        assert_eq!(user.len(), 7);
        assert_eq!(host.len(), 9);
        assert!(host.ends_with(".com"));
        out.clear();
        credit_card(&mut rng, &mut out);
        let card = String::from_utf8(out).unwrap();
        let groups: Vec<&str> = card.split(' ').collect();
        assert_eq!(groups.len(), 4, "{card}");
        assert!(groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_digit())));
    }

    /// The URL shape queries 21 and 22 parse: three directories, then
    /// `item.htm?query=1`, and `&channel_id=` on about 9 channels in 10.
    #[test]
    fn channel_urls_have_nexmarks_shape() {
        let urls = ChannelUrls::new();
        let mut with_id = 0;
        for k in 0..CHANNELS as usize + HOT_CHANNELS.len() {
            let url = urls.get(k);
            let rest = url.strip_prefix("https://www.nexmark.com/").unwrap();
            let parts: Vec<&str> = rest.split('/').collect();
            assert_eq!(parts.len(), 4, "{url}");
            for dir in &parts[..3] {
                assert!((3..=4).contains(&dir.len()), "{url}");
                assert!(
                    dir.bytes().all(|b| b == b'_' || b.is_ascii_lowercase()),
                    "{url}"
                );
            }
            let Some(id) = parts[3].strip_prefix("item.htm?query=1") else {
                panic!("{url}");
            };
            if let Some(id) = id.strip_prefix("&channel_id=") {
                assert!(k < CHANNELS as usize, "a hot channel has no id: {url}");
                let expected = i64::from((k as i32).reverse_bits()).abs();
                assert_eq!(id.parse::<i64>().unwrap(), expected);
                with_id += 1;
            } else {
                assert!(id.is_empty(), "{url}");
            }
        }
        assert!((8_800..9_200).contains(&with_id), "{with_id}");
        assert_eq!(urls.get(5), ChannelUrls::new().get(5));
    }
}
