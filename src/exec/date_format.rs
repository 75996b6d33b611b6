//! `DATE_FORMAT` patterns, Flink's spelling (Java's `SimpleDateFormat`
//! letters), compiled once when the query is planned and applied in UTC.
//!
//! Pattern letters: `y` the year (`yy` its last two digits), `M` the month,
//! `d` the day of the month, `H` the hour (0-23), `m` the minute, `s` the
//! second, `SSS` the milliseconds. A letter repeated `n` times is zero-padded
//! to `n` digits; `M`, `d`, `H`, `m` and `s` take one or two letters. Every
//! character that is not an ASCII letter is copied as is, and so is text in
//! single quotes (`''` is one quote, inside quotes or out). Any other letter,
//! or another count, is refused: Java's two formatters (`SimpleDateFormat`,
//! `DateTimeFormatter`) read those differently, or as text (`MMM`).

use chrono::{Datelike, Timelike};
use std::fmt::Write;

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFormat {
    /// The pattern as written, for plans and errors.
    source: String,
    items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Literal(String),
    /// A field zero-padded to `width` digits.
    Field {
        field: Field,
        width: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// The year of the era (as Java prints it).
    Year,
    /// The year's last two digits (`yy`).
    YearOfCentury,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

/// Why a pattern does not compile: what, and where (in characters from the
/// pattern's start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub offset: usize,
    pub message: String,
}

impl DateFormat {
    /// Compiles `pattern` (see the module documentation).
    pub fn compile(pattern: &str) -> Result<DateFormat, FormatError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut items = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                let open = i;
                i += 1;
                loop {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => {
                            return Err(FormatError {
                                offset: open,
                                message: "DATE_FORMAT pattern has an unclosed quote".into(),
                            })
                        }
                        (Some('\''), Some('\'')) => {
                            literal.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => {
                            i += 1;
                            break;
                        }
                        (Some(&c), _) => {
                            literal.push(c);
                            i += 1;
                        }
                    }
                }
                continue;
            }
            if !c.is_ascii_alphabetic() {
                literal.push(c);
                i += 1;
                continue;
            }
            let width = chars[i..].iter().take_while(|&&x| x == c).count();
            let field = field_of(c, width).map_err(|message| FormatError { offset: i, message })?;
            if !literal.is_empty() {
                items.push(Item::Literal(std::mem::take(&mut literal)));
            }
            items.push(Item::Field { field, width });
            i += width;
        }
        if !literal.is_empty() {
            items.push(Item::Literal(literal));
        }
        Ok(DateFormat {
            source: pattern.to_owned(),
            items,
        })
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Appends `ms` (epoch milliseconds) formatted, in UTC, to `out`; `false`
    /// (and `out` unchanged) when the time is outside the calendar's range.
    pub fn format_into(&self, ms: i64, out: &mut String) -> bool {
        let Some(t) = chrono::DateTime::from_timestamp_millis(ms).map(|t| t.naive_utc()) else {
            return false;
        };
        for item in &self.items {
            match item {
                Item::Literal(s) => out.push_str(s),
                Item::Field { field, width } => {
                    let v = match field {
                        Field::Year => t.year_ce().1,
                        Field::YearOfCentury => t.year_ce().1 % 100,
                        Field::Month => t.month(),
                        Field::Day => t.day(),
                        Field::Hour => t.hour(),
                        Field::Minute => t.minute(),
                        Field::Second => t.second(),
                        Field::Millisecond => t.nanosecond() / 1_000_000 % 1000,
                    };
                    let _ = write!(out, "{v:0width$}");
                }
            }
        }
        true
    }

    /// `ms` formatted, in UTC; `None` outside the calendar's range.
    pub fn format(&self, ms: i64) -> Option<String> {
        let mut out = String::new();
        self.format_into(ms, &mut out).then_some(out)
    }
}

/// The field a run of `width` letters `c` stands for, or why none.
fn field_of(c: char, width: usize) -> Result<Field, String> {
    let at_most_two = |field| {
        if width <= 2 {
            Ok(field)
        } else {
            Err(format!(
                "DATE_FORMAT pattern letter '{c}' takes one or two letters, found {width}"
            ))
        }
    };
    match c {
        'y' if width == 2 => Ok(Field::YearOfCentury),
        'y' => Ok(Field::Year),
        'M' => at_most_two(Field::Month),
        'd' => at_most_two(Field::Day),
        'H' => at_most_two(Field::Hour),
        'm' => at_most_two(Field::Minute),
        's' => at_most_two(Field::Second),
        'S' if width == 3 => Ok(Field::Millisecond),
        'S' => Err(format!(
            "DATE_FORMAT milliseconds are written SSS, found {width} 'S'"
        )),
        _ => Err(format!(
            "DATE_FORMAT pattern letter '{c}' is not supported; use yyyy, yy, MM, dd, HH, mm, ss, \
             SSS, and quote literal letters ('T')"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-02-29T13:05:07.045Z.
    const T: i64 = 1_709_211_907_045;

    fn fmt(pattern: &str, ms: i64) -> String {
        DateFormat::compile(pattern).unwrap().format(ms).unwrap()
    }

    fn refused(pattern: &str) -> FormatError {
        DateFormat::compile(pattern).unwrap_err()
    }

    #[test]
    fn flink_patterns() {
        assert_eq!(fmt("yyyy-MM-dd", T), "2024-02-29");
        assert_eq!(fmt("HH:mm", T), "13:05");
        assert_eq!(fmt("yyyy-MM-dd HH:mm:ss.SSS", T), "2024-02-29 13:05:07.045");
        assert_eq!(fmt("yyyyMMddHHmmss", T), "20240229130507");
        assert_eq!(fmt("yy/M/d H:m:s", T), "24/2/29 13:5:7");
        assert_eq!(fmt("y", T), "2024");
        assert_eq!(fmt("yyyyyy", T), "002024");
        assert_eq!(fmt("", T), "");
    }

    #[test]
    fn quotes_and_literals() {
        assert_eq!(fmt("yyyy-MM-dd'T'HH:mm:ss'Z'", T), "2024-02-29T13:05:07Z");
        assert_eq!(fmt("'day' dd", T), "day 29");
        assert_eq!(fmt("HH''mm", T), "13'05");
        assert_eq!(fmt("'it''s' HH", T), "it's 13");
        assert_eq!(fmt("dd/MM → é", T), "29/02 → é");
    }

    #[test]
    fn utc_before_the_epoch_and_out_of_range() {
        assert_eq!(
            fmt("yyyy-MM-dd HH:mm:ss.SSS", -1),
            "1969-12-31 23:59:59.999"
        );
        assert_eq!(fmt("yyyy-MM-dd HH:mm:ss.SSS", 0), "1970-01-01 00:00:00.000");
        let f = DateFormat::compile("yyyy").unwrap();
        assert_eq!(f.format(i64::MAX), None);
        assert_eq!(f.format(i64::MIN), None);
        let mut out = String::from("kept");
        assert!(!f.format_into(i64::MAX, &mut out));
        assert_eq!(out, "kept");
    }

    #[test]
    fn unsupported_letters_are_refused_where_they_stand() {
        let e = refused("yyyy-MM-dd hh:mm");
        assert_eq!(e.offset, 11);
        assert!(e.message.contains("'h' is not supported"), "{}", e.message);
        assert_eq!(refused("dd MMM").offset, 3);
        assert!(refused("dd MMM").message.contains("one or two"));
        assert_eq!(refused("ss.S").offset, 3);
        assert!(refused("ss.SSSS").message.contains("SSS"));
        assert_eq!(refused("é T").offset, 2);
        let e = refused("HH 'oops");
        assert_eq!(e.offset, 3);
        assert!(e.message.contains("unclosed quote"));
    }

    #[test]
    fn the_source_is_kept() {
        assert_eq!(DateFormat::compile("HH:mm").unwrap().source(), "HH:mm");
    }
}
