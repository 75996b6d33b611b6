//! Text to typed values: the field parsers shared by every text source.

use crate::data::{Column, DataType, Value};

/// Parses an event time: integer epoch milliseconds, or ISO 8601 / RFC 3339
/// (`2026-01-01T00:00:00Z`, `2026-01-01 00:00:00.250`, `2026-01-01`), UTC when no
/// offset is given.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

/// Parses a decimal number exactly into an integer scaled by `10^scale`;
/// extra fractional digits are rounded half away from zero.
pub fn parse_decimal(s: &str, scale: u8) -> Option<i128> {
    let s = s.trim();
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i128 = 0;
    for b in int.bytes() {
        v = v.checked_mul(10)?.checked_add((b - b'0') as i128)?;
    }
    let fb = frac.as_bytes();
    for k in 0..scale as usize {
        let d = fb.get(k).map_or(0, |b| (b - b'0') as i128);
        v = v.checked_mul(10)?.checked_add(d)?;
    }
    if fb.get(scale as usize).is_some_and(|&b| b >= b'5') {
        v = v.checked_add(1)?;
    }
    Some(if neg { -v } else { v })
}

/// Parses a DOUBLE exactly as `str::parse::<f64>` does (after trimming
/// whitespace), with a fast path for plain decimals such as `-12.5`.
///
/// The fast path (Clinger's): a decimal of at most 15 significant digits is
/// an integer `m < 2^53` over `10^k` with `k <= 15`; both are exact doubles, and
/// IEEE division rounds correctly, so `m / 10^k` is the correctly rounded
/// value that the general parser also returns.
pub fn parse_f64(text: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let bytes = text.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    let mut i = negative as usize;
    let mut mantissa = 0u64;
    let int_digits = take_digits(bytes, &mut i, &mut mantissa);
    let mut frac_digits = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = take_digits(bytes, &mut i, &mut mantissa);
    }
    let digits = int_digits + frac_digits;
    // Plain: all consumed, digits on both sides of a point (as the general
    // parser also accepts), and few enough to be exact.
    let plain = i == bytes.len()
        && int_digits > 0
        && (frac_digits > 0 || bytes.last() != Some(&b'.'))
        && digits <= 15;
    if plain {
        let value = mantissa as f64 / POW10[frac_digits];
        return Some(if negative { -value } else { value });
    }
    text.trim().parse().ok()
}

/// Appends the ASCII digits of `bytes` from `*at` to `mantissa` (wrapping on
/// overflow: the caller checks the count), moves `*at` past them and returns
/// how many there were.
/// [`parse_f64`] of the field `line[start..end]`, where `line` is the text
/// the field was cut from: when at least 8 bytes of `line` start at the field
/// and the field is a short decimal (see `short_decimal`), it is parsed from
/// one 8-byte load without a branch per digit; a decimal with one or two
/// digits and one decimal place, as every 1BRC temperature is, by the
/// shorter `tenths` first.
#[inline(always)]
pub fn parse_f64_in(line: &[u8], start: usize, end: usize) -> Option<f64> {
    let len = end - start;
    if let Some(window) = line.get(start..start + 8) {
        let word = u64::from_le_bytes(window.try_into().expect("8 bytes"));
        if let Some(x) = tenths(word, len) {
            return Some(x);
        }
        if let Some(x) = short_decimal(word, len) {
            return Some(x);
        }
    }
    // The field's bytes are a cut of a `&str` at ASCII bytes, so UTF-8.
    parse_f64(std::str::from_utf8(&line[start..end]).ok()?)
}

/// `text.trim().parse::<i64>()` of the field `line[start..end]`, with a
/// fast path for plain integers: an optional `-` and 1 to 16 ASCII digits,
/// read from one or two 8-byte loads (`eight_digits`) when `line` has 8
/// bytes from the first digit.
#[inline(always)]
pub fn parse_i64_in(line: &[u8], start: usize, end: usize) -> Option<i64> {
    let negative = line.get(start) == Some(&b'-');
    let from = start + usize::from(negative);
    let n = end.saturating_sub(from);
    if let Some(head) = line.get(from..from + 8) {
        let head = u64::from_le_bytes(head.try_into().expect("8 bytes"));
        let value = if n <= 8 {
            eight_digits(head, n).map(u64::from)
        } else if n <= 16 {
            // The last 8 digits, and those before them.
            let tail = u64::from_le_bytes(line[end - 8..end].try_into().expect("8 bytes"));
            match (eight_digits(head, n - 8), eight_digits(tail, 8)) {
                (Some(high), Some(low)) => Some(u64::from(high) * 100_000_000 + u64::from(low)),
                _ => None,
            }
        } else {
            None
        };
        if let Some(v) = value {
            // At most 16 digits: far inside i64.
            let v = v as i64;
            return Some(if negative { -v } else { v });
        }
    }
    std::str::from_utf8(&line[start..end])
        .ok()?
        .trim()
        .parse()
        .ok()
}

const ONES: u64 = 0x0101_0101_0101_0101;

/// The value of the first `len` bytes of `word` (little-endian, so the
/// field's first byte is the low byte) when they are an optional `-`, then
/// digits, an optional `.` with digits on both sides: at most 8 bytes, so at
/// most 7 digits, exactly the decimals [`parse_f64`]'s fast path takes, with
/// the same result (`m / 10^k`, correctly rounded). Otherwise `None`, and the
/// caller takes the general path; bytes past `len` are ignored.
///
/// The digits are validated and combined in the word (SWAR): the `.` is cut
/// out, every byte is checked to be a digit, and pairs, then quads, then
/// octets of digits are combined with three multiplications.
#[inline(always)]
fn short_decimal(word: u64, len: usize) -> Option<f64> {
    const POW10: [f64; 8] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7];
    if len == 0 || len > 8 {
        return None;
    }
    let negative = word & 0xff == b'-' as u64;
    let (mut word, n) = if negative {
        (word >> 8, len - 1)
    } else {
        (word, len)
    };
    word &= low(n);
    // Bytes equal to '.': zero bytes of `word ^ '.'`, found exactly (no
    // false positives from borrows) with the high-bit trick on 7-bit lanes.
    let x = word ^ (ONES * b'.' as u64);
    let dots = !(((x & (ONES * 0x7f)) + ONES * 0x7f) | x) & (ONES * 0x80) & low(n);
    let (digits, k, frac) = if dots == 0 {
        (word, n, 0)
    } else {
        let p = dots.trailing_zeros() as usize / 8;
        // A digit on both sides of the dot (".5" and "5." go the general way).
        if p == 0 || p + 1 >= n {
            return None;
        }
        let joined = (word & low(p)) | ((word >> (8 * (p + 1))) << (8 * p));
        (joined, n - 1, n - 1 - p)
    };
    let m = eight_digits(digits, k)?;
    let value = m as f64 / POW10[frac];
    Some(if negative { -value } else { value })
}

/// The value of the first `len` bytes of `word` (little-endian: the field's
/// first byte is the low byte) when they are `-?\d{1,2}\.\d`; otherwise
/// `None` (the caller tries `short_decimal`). These are a subset of the
/// decimals `short_decimal` takes, with its result: `m / 10`, where `m` is
/// the digits without the dot, is the correctly rounded value (Clinger's fast
/// path, see [`parse_f64`]), the value `str::parse::<f64>` also returns.
///
/// The sign is shifted out, a 3-byte `d.d` gets a leading `'0'` so that
/// both lengths are the 4 bytes `dd.d`, and those are checked in one word:
/// XOR with `"00.0"` leaves each digit's value and a zero for the dot, and
/// a byte is a digit exactly when neither it nor it plus 6 has a bit in the
/// high nibble (no byte carries into the next unless its own high nibble is
/// already set, which fails the check).
#[inline(always)]
fn tenths(word: u64, len: usize) -> Option<f64> {
    let negative = word & 0xff == b'-' as u64;
    let n = len.wrapping_sub(usize::from(negative));
    // 3 or 4 bytes after the sign.
    if n.wrapping_sub(3) > 1 {
        return None;
    }
    let w = (word >> (8 * u32::from(negative))) as u32;
    let w = if n == 3 { (w << 8) | b'0' as u32 } else { w };
    let x = w ^ u32::from_le_bytes(*b"00.0");
    let digit_lanes = u32::from_le_bytes([0xf0, 0xf0, 0xff, 0xf0]);
    if (x | x.wrapping_add(u32::from_le_bytes([6, 6, 0, 6]))) & digit_lanes != 0 {
        return None;
    }
    let m = (x & 0xff) * 100 + ((x >> 8) & 0xff) * 10 + (x >> 24);
    let value = m as f64 / 10.0;
    // The sign bit set without a branch: half of all readings may be
    // negative, and a branch on it mispredicts as often.
    Some(f64::from_bits(value.to_bits() | u64::from(negative) << 63))
}

/// A mask of the low `bytes` bytes of a word, for 0..=8 bytes.
#[inline(always)]
fn low(bytes: usize) -> u64 {
    if bytes >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * bytes)) - 1
    }
}

/// The value of the first `k` bytes of `word` (little-endian: the first
/// byte is the most significant digit) when `k` is 1..=8 and they are all
/// ASCII digits; the bytes past `k` are ignored.
///
/// The bytes past `k` are replaced by `'0'`, every byte is checked to be a
/// digit (its high nibble is 3, and adding 6 does not carry past 9), and the
/// digits are combined in pairs, quads, then octets by three multiplications.
#[inline(always)]
fn eight_digits(word: u64, k: usize) -> Option<u32> {
    if k == 0 || k > 8 {
        return None;
    }
    let padded = (word & low(k)) | ((ONES * b'0' as u64) & !low(k));
    let high = ONES * 0xf0;
    if (padded & high) | (((padded.wrapping_add(ONES * 6)) & high) >> 4) != ONES * 0x33 {
        return None;
    }
    // Digit values, shifted up so the number has leading zeros, not
    // trailing ones.
    let v = (padded - ONES * b'0' as u64) << (8 * (8 - k));
    let pairs = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_ffff_0000_ffff;
    Some((quads.wrapping_mul(10_000 << 32 | 1) >> 32) as u32)
}

fn take_digits(bytes: &[u8], at: &mut usize, mantissa: &mut u64) -> usize {
    let start = *at;
    while let Some(d) = bytes
        .get(*at)
        .map(|b| b.wrapping_sub(b'0'))
        .filter(|&d| d < 10)
    {
        *mantissa = mantissa.wrapping_mul(10).wrapping_add(d as u64);
        *at += 1;
    }
    *at - start
}

/// Why a field did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub column: String,
    pub expected: DataType,
    pub text: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "column {}: cannot read {:?} as {}",
            self.column, self.text, self.expected
        )
    }
}

/// Parses `text` as a value of `column`'s type and appends it. An empty field
/// is NULL.
#[inline]
pub fn push_field(column: &mut Column, text: &str, name: &str) -> Result<(), FieldError> {
    push_field_in(column, text, 0, text.len(), name)
}

/// [`push_field`] of `line[start..end]`; the bytes of `line` after the field
/// let a short DOUBLE be read with one load ([`parse_f64_in`]).
#[inline]
pub fn push_field_in(
    column: &mut Column,
    line: &str,
    start: usize,
    end: usize,
    name: &str,
) -> Result<(), FieldError> {
    use crate::data::column::ColumnData;
    let text = &line[start..end];
    if !text.is_empty() && column.validity.is_none() {
        match &mut column.data {
            ColumnData::Int64(v) => {
                if let Some(x) = parse_i64_in(line.as_bytes(), start, end) {
                    v.push(x);
                    return Ok(());
                }
            }
            ColumnData::Float64(v) => {
                if let Some(x) = parse_f64_in(line.as_bytes(), start, end) {
                    v.push(x);
                    return Ok(());
                }
            }
            ColumnData::Utf8(v) => {
                v.push(text);
                return Ok(());
            }
            _ => {}
        }
    }
    push_field_general(column, text, name)
}

fn push_field_general(column: &mut Column, text: &str, name: &str) -> Result<(), FieldError> {
    let expected = column.data_type();
    let err = || FieldError {
        column: name.to_owned(),
        expected,
        text: text.to_owned(),
    };
    if text.is_empty() {
        column.push_null();
        return Ok(());
    }
    let value = match expected {
        DataType::Int64 => Value::Int64(text.trim().parse().map_err(|_| err())?),
        DataType::Float64 => Value::Float64(parse_f64(text).ok_or_else(err)?),
        DataType::Utf8 => Value::Utf8(text.to_owned()),
        DataType::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Value::Bool(true),
            "false" | "f" | "0" => Value::Bool(false),
            _ => return Err(err()),
        },
        DataType::Timestamp => Value::Timestamp(parse_timestamp(text).ok_or_else(err)?),
        DataType::Decimal { scale, .. } => Value::Decimal {
            value: parse_decimal(text, scale).ok_or_else(err)?,
            scale,
        },
    };
    if column.push_value(&value) {
        Ok(())
    } else {
        Err(err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `s` (at most 8 bytes) as a little-endian word, the bytes past it `pad`.
    fn padded_word(s: &str, pad: u8) -> u64 {
        let mut b = [pad; 8];
        b[..s.len()].copy_from_slice(s.as_bytes());
        u64::from_le_bytes(b)
    }

    /// Calls `f` with every string of 0 to `max_len` bytes over `alphabet`
    /// (ASCII), then with `random` strings of 6 to `6 + spread - 1` bytes of
    /// digits, a leading `-` now and then, and `odd` here and there.
    fn each_field(
        alphabet: &[u8],
        max_len: u32,
        random: usize,
        spread: u64,
        odd: u8,
        f: impl Fn(&str),
    ) {
        let mut field = Vec::new();
        for len in 0..=max_len {
            for mut code in 0..alphabet.len().pow(len) {
                field.clear();
                for _ in 0..len {
                    field.push(alphabet[code % alphabet.len()]);
                    code /= alphabet.len();
                }
                f(std::str::from_utf8(&field).unwrap());
            }
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..random {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = 6 + (seed % spread) as usize;
            field.clear();
            for k in 0..len {
                let r = (seed >> (4 + 3 * k)) % 32;
                field.push(match r {
                    0 if k == 0 => b'-',
                    1 => odd,
                    _ => b'0' + (r % 10) as u8,
                });
            }
            f(std::str::from_utf8(&field).unwrap());
        }
    }

    /// `parse_f64_in` over a field followed by more text (so the one-load
    /// path is taken) and alone (so it is not) gives `str::parse`'s bits.
    fn check_in_context(field: &str) {
        let expected = field.parse::<f64>().ok().map(f64::to_bits);
        let line = format!("{field};more text after");
        let got = parse_f64_in(line.as_bytes(), 0, field.len()).map(f64::to_bits);
        assert_eq!(got, expected, "{field:?} followed by text");
        let alone = parse_f64_in(field.as_bytes(), 0, field.len()).map(f64::to_bits);
        assert_eq!(alone, expected, "{field:?} alone");
    }

    #[test]
    fn integers_parse_as_trim_then_the_standard_parser() {
        // Followed by more text (the one- or two-load path) and alone (not).
        let check = |field: &str| {
            let expected = field.trim().parse::<i64>().ok();
            let line = format!("{field},and more text");
            assert_eq!(
                parse_i64_in(line.as_bytes(), 0, field.len()),
                expected,
                "{field:?}"
            );
            let alone = parse_i64_in(field.as_bytes(), 0, field.len());
            assert_eq!(alone, expected, "{field:?} alone");
        };
        each_field(b"0179-+ .x", 5, 100_000, 14, b'x', check);
        for field in [
            "1767225604096",
            "-1767225604096",
            "9999999999999999",
            "-0000000000000000",
            "-999999999999999999",
            "999999999999999999",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "0000000000000000000001",
            "\u{a0}12",
        ] {
            check(field);
        }
    }

    #[test]
    fn the_one_load_path_takes_plain_short_decimals_only() {
        let word = |s: &str| padded_word(s, b'#');
        for (text, value) in [
            ("-12.3", -12.3f64),
            ("5.0", 5.0),
            ("1234567", 1234567.0),
            ("-0", -0.0),
        ] {
            let got = short_decimal(word(text), text.len()).map(f64::to_bits);
            assert_eq!(got, Some(value.to_bits()), "{text}");
        }
        for text in [".5", "5.", "-", "1.2.3", "1e5", "+1.5", " 1.5", "12:3"] {
            assert_eq!(short_decimal(word(text), text.len()), None, "{text}");
        }
    }

    #[test]
    fn tenths_take_one_or_two_digits_and_one_decimal_place_only() {
        let word = |s: &str| padded_word(s, b'7');
        // Every 1BRC temperature, and the same with a leading zero.
        for t in -999i32..=999 {
            let sign = if t < 0 { "-" } else { "" };
            let (int, frac) = (t.abs() / 10, t.abs() % 10);
            for text in [
                format!("{sign}{int}.{frac}"),
                format!("{sign}{int:02}.{frac}"),
            ] {
                let expected = text.parse::<f64>().ok().map(f64::to_bits);
                assert_eq!(
                    tenths(word(&text), text.len()).map(f64::to_bits),
                    expected,
                    "{text}"
                );
            }
        }
        for text in [
            "",
            "-",
            "5",
            "-5",
            "12",
            "1.",
            ".5",
            "5.",
            "-.5",
            "123.4",
            "1.23",
            "12.34",
            "-123.4",
            "1:.5",
            "1/.5",
            "1,5",
            "12,5",
            "-12,5",
            "+1.5",
            "+12.5",
            "--1.5",
            " 1.5",
            "1.:",
            "1./",
            "\u{7f}1.5",
        ] {
            assert_eq!(tenths(word(text), text.len()), None, "{text}");
        }
    }

    #[test]
    fn short_decimals_parse_as_the_standard_parser_does() {
        // Every string of up to 5 bytes over digits and the bytes that border
        // them in ASCII or in a number's syntax; longer ones (6 to 9 bytes)
        // of digits, sign and dots.
        each_field(b"0123456789-.+e/:", 5, 200_000, 4, b'.', check_in_context);
        for field in [
            "-99.9", "99.9", "-0.0", "0.0", "1234567", "-1234567", "123456.7", "9.999999",
        ] {
            check_in_context(field);
        }
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("123.45", 2), Some(12345));
        assert_eq!(parse_decimal("-0.5", 2), Some(-50));
        assert_eq!(parse_decimal("7", 3), Some(7000));
        assert_eq!(parse_decimal("1.005", 2), Some(101));
        assert_eq!(parse_decimal("1.2.3", 2), None);
        assert_eq!(parse_decimal("", 2), None);
    }

    #[test]
    fn doubles_parse_as_the_standard_parser_does() {
        let cases = [
            "0",
            "-0",
            "-0.0",
            "12.5",
            "-12.3",
            "0.1",
            "99.9",
            "123456789012345",
            "1234567890.12345",
            "0.000000000000001",
            "1.7976931348623157e308",
            "1e5",
            "  3.25 ",
            "+1.5",
            ".5",
            "5.",
            "1234567890123456",
            "12.34567890123456",
            "nan",
            "inf",
            "-",
            "1.2.3",
            "1,5",
            "",
        ];
        for c in cases {
            let ours = parse_f64(c);
            let std = c.trim().parse::<f64>().ok();
            assert_eq!(
                ours.map(f64::to_bits),
                std.map(f64::to_bits),
                "{c:?}: {ours:?} vs {std:?}"
            );
        }
        // Every one-decimal temperature, as in the 1BRC data.
        for t in -999i32..=999 {
            let text = format!(
                "{}{}.{}",
                if t < 0 { "-" } else { "" },
                t.abs() / 10,
                t.abs() % 10
            );
            assert_eq!(
                parse_f64(&text).map(f64::to_bits),
                text.parse::<f64>().ok().map(f64::to_bits),
                "{text}"
            );
        }
    }

    #[test]
    fn timestamps_in_both_forms() {
        assert_eq!(parse_timestamp("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_timestamp("1970-01-01 00:00:01.250"), Some(1250));
        assert_eq!(parse_timestamp("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
