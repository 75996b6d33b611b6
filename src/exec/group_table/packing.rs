//! Packed keys: the keys of at most two machine words (four for a one-string
//! key of 16 to 31 bytes) that [`GroupTable`](super::GroupTable) also keeps
//! in its packed indexes, read straight from a batch's key columns and
//! looked up row by row ([`KeyPacking::probe`]), or packed one row at a time
//! ([`pack_row`]).
//!
//! A packed key: a one-string key's first 8 bytes, then its next 7 with its
//! length in the top byte (four words and 31 bytes for a long key); otherwise
//! per column, a BIGINT's bits, or a string's bytes (little-endian) with its
//! length in the top byte, and 0 for a missing second column. Bytes past a
//! string's end are 0; the length makes the packing one-to-one.

use crate::data::column::ColumnData;
use crate::data::Column;
use crate::exec::packed_index::{LongKey, PackedIndex, PackedKey, ABSENT};

/// Longest string of a two-column packed key: the eighth byte is the length.
const PACKED_STR_MAX: usize = 7;

/// Longest string of a one-string packed key: the sixteenth byte is the length.
const PACKED_LONG_STR_MAX: usize = 15;

/// Longest string of a one-string long key: the 32nd byte is the length.
const LONG_KEY_STR_MAX: usize = 31;

/// How a batch's key columns pack, when they may: the packed key of each
/// row is read straight from the columns (see [`PackedKeys`]).
#[derive(Clone, Copy)]
pub(super) enum KeyPacking<'a> {
    /// One string column: up to [`PACKED_LONG_STR_MAX`] bytes in two words.
    OneString(StrWords<'a>),
    /// One or two columns, a word each (the second word 0 for one column).
    Words(KeyWords<'a>, KeyWords<'a>),
}

/// A key column read as one packed word per row (see [`PackedWords`]).
#[derive(Clone, Copy)]
pub(super) enum KeyWords<'a> {
    Int(IntWords<'a>),
    Str(StrWords<'a>),
    /// The second word of a one-column key.
    Zero,
}

impl<'a> KeyPacking<'a> {
    /// How a key of at most two columns of packing types without NULLs
    /// packs; `None` if no row of the batch can.
    pub(super) fn of(columns: &[&'a Column]) -> Option<KeyPacking<'a>> {
        let one = |c: &'a Column| {
            if c.validity.is_some() {
                return None;
            }
            match &c.data {
                ColumnData::Int64(v) | ColumnData::Timestamp(v) => Some(KeyWords::Int(IntWords(v))),
                ColumnData::Utf8(v) => Some(KeyWords::Str(StrWords {
                    offsets: v.offsets(),
                    bytes: v.bytes(),
                })),
                _ => None,
            }
        };
        match columns {
            [a] => match one(a)? {
                KeyWords::Str(s) => Some(KeyPacking::OneString(s)),
                a => Some(KeyPacking::Words(a, KeyWords::Zero)),
            },
            [a, b] => Some(KeyPacking::Words(one(a)?, one(b)?)),
            _ => None,
        }
    }

    /// Looks each of the first `rows` rows up in `index`, each kind of key
    /// in its own loop (see [`probe_rows`]), with the lookup that suits how
    /// full the indexes are ([`PackedIndex::is_sparse`]).
    pub(super) fn probe(
        self,
        index: &PackedIndex,
        long: Option<&PackedIndex<4>>,
        rows: usize,
        groups: &mut Vec<u32>,
        misses: &mut Vec<u32>,
    ) {
        if index.is_sparse() && long.is_none_or(PackedIndex::is_sparse) {
            self.probe_with::<true>(index, long, rows, groups, misses)
        } else {
            self.probe_with::<false>(index, long, rows, groups, misses)
        }
    }

    fn probe_with<const SPARSE: bool>(
        self,
        index: &PackedIndex,
        long: Option<&PackedIndex<4>>,
        rows: usize,
        groups: &mut Vec<u32>,
        misses: &mut Vec<u32>,
    ) {
        fn with<A: PackedWords, const SPARSE: bool>(
            a: A,
            second: KeyWords<'_>,
            index: &PackedIndex,
            rows: usize,
            groups: &mut Vec<u32>,
            misses: &mut Vec<u32>,
        ) {
            match second {
                KeyWords::Int(b) => probe_rows::<_, SPARSE>((a, b), index, rows, groups, misses),
                KeyWords::Str(b) => probe_rows::<_, SPARSE>((a, b), index, rows, groups, misses),
                KeyWords::Zero => probe_rows::<_, SPARSE>((a, Zero), index, rows, groups, misses),
            }
        }
        let (g, m) = (groups, misses);
        match self {
            KeyPacking::OneString(s) => probe_one_string::<SPARSE>(s, index, long, rows, g, m),
            KeyPacking::Words(KeyWords::Int(a), b) => with::<_, SPARSE>(a, b, index, rows, g, m),
            KeyPacking::Words(KeyWords::Str(a), b) => with::<_, SPARSE>(a, b, index, rows, g, m),
            KeyPacking::Words(KeyWords::Zero, b) => with::<_, SPARSE>(Zero, b, index, rows, g, m),
        }
    }
}

/// The packed keys of a batch, row by row.
trait PackedKeys: Copy {
    /// Row `row`'s packed key, or `None` if it does not pack.
    fn key(&self, row: usize) -> Option<PackedKey>;

    /// The first `rows` rows (it panics if there are fewer). Cut just
    /// before a loop over `0..rows`, its slices' lengths are the loop's
    /// bound, so the compiler drops the bounds checks of `key`.
    fn cut(self, rows: usize) -> Self;
}

/// The packed words of a key column, row by row.
trait PackedWords: Copy {
    /// Row `row`'s word, or `None` if it does not pack.
    fn word(&self, row: usize) -> Option<u64>;

    /// The first `rows` rows, as [`PackedKeys::cut`].
    fn cut(self, rows: usize) -> Self;
}

/// A key of one or two columns, a word each.
impl<A: PackedWords, B: PackedWords> PackedKeys for (A, B) {
    #[inline(always)]
    fn key(&self, row: usize) -> Option<PackedKey> {
        Some([self.0.word(row)?, self.1.word(row)?])
    }

    #[inline(always)]
    fn cut(self, rows: usize) -> Self {
        (self.0.cut(rows), self.1.cut(rows))
    }
}

#[derive(Clone, Copy)]
pub(super) struct IntWords<'a>(&'a [i64]);

impl PackedWords for IntWords<'_> {
    #[inline(always)]
    fn word(&self, row: usize) -> Option<u64> {
        Some(self.0[row] as u64)
    }

    #[inline(always)]
    fn cut(self, rows: usize) -> Self {
        IntWords(&self.0[..rows])
    }
}

#[derive(Clone, Copy)]
pub(super) struct StrWords<'a> {
    offsets: &'a [u32],
    bytes: &'a [u8],
}

impl StrWords<'_> {
    /// Row `row`'s start and length.
    #[inline(always)]
    fn span(&self, row: usize) -> (usize, usize) {
        let start = self.offsets[row] as usize;
        (start, self.offsets[row + 1] as usize - start)
    }
}

impl PackedWords for StrWords<'_> {
    #[inline(always)]
    fn word(&self, row: usize) -> Option<u64> {
        let (start, len) = self.span(row);
        if len > PACKED_STR_MAX {
            return None;
        }
        Some(load_word(self.bytes, start, len) | ((len as u64) << 56))
    }

    #[inline(always)]
    fn cut(self, rows: usize) -> Self {
        StrWords {
            offsets: &self.offsets[..=rows],
            bytes: self.bytes,
        }
    }
}

/// A row's packed key: two words, or four for a one-string key of 16 to 31
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Packed {
    Short(PackedKey),
    Long(LongKey),
}

/// A one-string key of at most 15 bytes: its first 8 bytes, then its next 7
/// and its length.
#[inline(always)]
fn short_key(bytes: &[u8], at: usize, n: usize) -> PackedKey {
    let [head, tail] = load_two_words(bytes, at, n);
    [head, tail | ((n as u64) << 56)]
}

/// A one-string key of 16 to 31 bytes: its first 16 bytes, then its next
/// 15 and its length.
#[inline(always)]
fn long_key(bytes: &[u8], at: usize, n: usize) -> LongKey {
    debug_assert!(n > PACKED_LONG_STR_MAX && n <= LONG_KEY_STR_MAX);
    let head = u128::from_le_bytes(bytes[at..at + 16].try_into().expect("16 bytes"));
    let [c, d] = load_two_words(bytes, at + 16, n - 16);
    [head as u64, (head >> 64) as u64, c, d | ((n as u64) << 56)]
}

/// The `n` (at most 7) bytes of `bytes` at `at` as a little-endian word,
/// zero above them: one unaligned load when 8 bytes are there.
#[inline(always)]
fn load_word(bytes: &[u8], at: usize, n: usize) -> u64 {
    debug_assert!(n <= PACKED_STR_MAX);
    let mask = low_bytes(n) as u64;
    match bytes.get(at..at + 8) {
        Some(eight) => u64::from_le_bytes(eight.try_into().expect("8 bytes")) & mask,
        None => load_short(&bytes[at..at + n]) as u64,
    }
}

/// The `n` (at most 15) bytes of `bytes` at `at` as two little-endian words,
/// zero above them: one unaligned 16-byte load and one mask when 16 bytes
/// are there.
#[inline(always)]
fn load_two_words(bytes: &[u8], at: usize, n: usize) -> [u64; 2] {
    debug_assert!(n <= PACKED_LONG_STR_MAX);
    let x = match bytes.get(at..at + 16) {
        Some(sixteen) => u128::from_le_bytes(sixteen.try_into().expect("16 bytes")) & low_bytes(n),
        None => load_short(&bytes[at..at + n]),
    };
    [x as u64, (x >> 64) as u64]
}

/// A mask of the low `n` (at most 16) bytes of a 128-bit word: one load
/// from a table of 16 ones and 16 zeros, where a 128-bit shift by a variable
/// count is a dozen instructions.
#[inline(always)]
fn low_bytes(n: usize) -> u128 {
    const ONES_THEN_ZEROS: [u8; 32] = {
        let mut t = [0; 32];
        let mut i = 0;
        while i < 16 {
            t[i] = 0xff;
            i += 1;
        }
        t
    };
    let window = &ONES_THEN_ZEROS[16 - n..32 - n];
    u128::from_le_bytes(window.try_into().expect("16 bytes"))
}

/// Up to 16 bytes as a little-endian integer: the slow path near the end
/// of a buffer.
#[cold]
fn load_short(bytes: &[u8]) -> u128 {
    let mut sixteen = [0; 16];
    sixteen[..bytes.len()].copy_from_slice(bytes);
    u128::from_le_bytes(sixteen)
}

#[derive(Clone, Copy)]
struct Zero;

impl PackedWords for Zero {
    #[inline(always)]
    fn word(&self, _row: usize) -> Option<u64> {
        Some(0)
    }

    #[inline(always)]
    fn cut(self, _rows: usize) -> Self {
        self
    }
}

/// Packs and looks up each of the first `rows` rows in one pass (no
/// per-batch key buffer), appending to the empty `groups` a found row's id,
/// or `u32::MAX` for a row not found or whose key does not pack, which also
/// goes to `misses`. `groups` is one `extend` of known length: no fill
/// beforehand, no capacity check per row.
#[inline(always)]
fn probe_rows<K: PackedKeys, const SPARSE: bool>(
    keys: K,
    index: &PackedIndex,
    rows: usize,
    groups: &mut Vec<u32>,
    misses: &mut Vec<u32>,
) {
    let keys = keys.cut(rows);
    groups.extend((0..rows).map(|row| {
        let id = keys.key(row).map_or(ABSENT, |k| index.lookup::<SPARSE>(&k));
        noted(misses, row, id)
    }));
}

/// `id`, noting `row` in `misses` if it is [`ABSENT`] (`u32::MAX`, the
/// row's group until the miss is resolved).
#[inline(always)]
fn noted(misses: &mut Vec<u32>, row: usize, id: u32) -> u32 {
    if id == ABSENT {
        misses.push(row as u32);
    }
    id
}

/// Looks up each row of a one-string key, as [`probe_rows`]: keys of up to
/// 15 bytes in `index`, of 16 to 31 in `long`.
#[inline(always)]
fn probe_one_string<const SPARSE: bool>(
    s: StrWords<'_>,
    index: &PackedIndex,
    long: Option<&PackedIndex<4>>,
    rows: usize,
    groups: &mut Vec<u32>,
    misses: &mut Vec<u32>,
) {
    let s = s.cut(rows);
    groups.extend((0..rows).map(|row| {
        let (start, len) = s.span(row);
        let id = if len <= PACKED_LONG_STR_MAX {
            index.lookup::<SPARSE>(&short_key(s.bytes, start, len))
        } else if len <= LONG_KEY_STR_MAX {
            long.map_or(ABSENT, |long| {
                long.lookup::<SPARSE>(&long_key(s.bytes, start, len))
            })
        } else {
            ABSENT
        };
        noted(misses, row, id)
    }));
}

/// Row `row`'s packed key, if it packs.
pub(super) fn pack_row(columns: &[&Column], row: usize) -> Option<Packed> {
    if let [c] = columns {
        if let (ColumnData::Utf8(v), true) = (&c.data, c.is_valid(row)) {
            let b = v.get_bytes(row);
            return match b.len() {
                n if n <= PACKED_LONG_STR_MAX => Some(Packed::Short(short_key(b, 0, n))),
                n if n <= LONG_KEY_STR_MAX => Some(Packed::Long(long_key(b, 0, n))),
                _ => None,
            };
        }
    }
    let mut k = [0; 2];
    for (j, c) in columns.iter().enumerate() {
        if j >= 2 || !c.is_valid(row) {
            return None;
        }
        k[j] = match &c.data {
            ColumnData::Int64(v) | ColumnData::Timestamp(v) => v[row] as u64,
            ColumnData::Utf8(v) if v.get_bytes(row).len() <= PACKED_STR_MAX => {
                let b = v.get_bytes(row);
                load_word(b, 0, b.len()) | ((b.len() as u64) << 56)
            }
            _ => return None,
        };
    }
    Some(Packed::Short(k))
}
