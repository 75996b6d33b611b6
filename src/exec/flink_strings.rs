//! The string functions taken from Flink with its semantics: `SPLIT_INDEX`
//! and `REPLACE` (Java's `String.replace`).

use crate::data::Value;

/// `SPLIT_INDEX(s, delimiter, index)`: the `index`-th (0-based) piece of `s`
/// split at every occurrence of `delimiter`, keeping empty pieces; NULL when
/// `index` is negative or past the last piece. As Flink (Apache Commons'
/// `splitByWholeSeparatorPreserveAllTokens`): an empty `s` has no pieces,
/// and an empty delimiter splits at each whitespace character (Java's).
pub fn split_index(s: &str, delimiter: &str, index: i64) -> Value {
    let Ok(index) = usize::try_from(index) else {
        return Value::Null;
    };
    if s.is_empty() {
        return Value::Null;
    }
    let piece = if delimiter.is_empty() {
        s.split(java_whitespace).nth(index)
    } else {
        s.split(delimiter).nth(index)
    };
    piece.map_or(Value::Null, |p| Value::Utf8(p.to_owned()))
}

/// Java's `Character.isWhitespace`: Unicode spaces but the no-break ones,
/// and the ASCII controls from tab to carriage return and 0x1C to 0x1F.
fn java_whitespace(c: char) -> bool {
    matches!(c, '\u{1c}'..='\u{1f}')
        || (c.is_whitespace() && !matches!(c, '\u{85}' | '\u{a0}' | '\u{2007}' | '\u{202f}'))
}

/// `REPLACE(s, from, to)`: every non-overlapping occurrence of `from`, left
/// to right, replaced by `to`. An empty `from` matches between every two
/// characters and at both ends, as in Java.
pub fn replace(s: &str, from: &str, to: &str) -> Value {
    Value::Utf8(s.replace(from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Utf8(x.to_owned())
    }

    #[test]
    fn split_index_follows_flink() {
        let url = "https://www.nexmark.com/cz/item.htm?query=1";
        assert_eq!(split_index(url, "/", 3), s("cz"));
        assert_eq!(split_index(url, "/", 0), s("https:"));
        assert_eq!(split_index(url, "/", 1), s(""));
        assert_eq!(split_index(url, "/", 4), s("item.htm?query=1"));
        assert_eq!(split_index(url, "/", 5), Value::Null);
        assert_eq!(split_index(url, "/", -1), Value::Null);
        assert_eq!(split_index("a::b::", "::", 1), s("b"));
        assert_eq!(split_index("a::b::", "::", 2), s(""));
        assert_eq!(split_index("a::b::", "::", 3), Value::Null);
        assert_eq!(split_index("abc", "x", 0), s("abc"));
        assert_eq!(split_index("", "x", 0), Value::Null);
        assert_eq!(split_index("a b\tc", "", 2), s("c"));
        assert_eq!(split_index("a\u{a0}b c", "", 0), s("a\u{a0}b"));
        assert_eq!(split_index("é|ü", "|", 1), s("ü"));
    }

    #[test]
    fn replace_follows_java() {
        assert_eq!(replace("abcabc", "bc", "X"), s("aXaX"));
        assert_eq!(replace("aaa", "aa", "b"), s("ba"));
        assert_eq!(replace("cocoa", "c", ""), s("ooa"));
        assert_eq!(replace("abc", "", "-"), s("-a-b-c-"));
        assert_eq!(replace("abc", "z", "-"), s("abc"));
    }
}
