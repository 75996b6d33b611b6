//! LIKE and ILIKE patterns, compiled once when the query is bound.
//!
//! `%` matches any run of characters (including none), `_` exactly one
//! character; every other character matches itself. An escape character
//! (backslash unless the query says `ESCAPE '...'`, as in PostgreSQL; `ESCAPE ''`
//! turns escaping off) makes the next character literal. Matching counts
//! characters, not bytes, so `_` matches one `é`.
//!
//! The common shapes (`abc`, `abc%`, `%abc`, `%abc%`) compile to plain string
//! tests; the rest run the classic wildcard matcher that backtracks only to the
//! last `%` seen, so it is linear in practice and never exponential.

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// The pattern ends with the escape character, which escapes nothing.
    TrailingEscape,
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatternError::TrailingEscape => {
                f.write_str("a LIKE pattern must not end with the escape character")
            }
        }
    }
}

/// One element of a general pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Char(char),
    /// `_`
    One,
    /// `%`
    Many,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    General(Vec<Elem>),
}

/// A compiled LIKE (or, with `case_insensitive`, ILIKE) pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePattern {
    shape: Shape,
    case_insensitive: bool,
}

impl LikePattern {
    /// Compiles `pattern`; `escape` is the escape character, `None` for none.
    pub fn compile(
        pattern: &str,
        escape: Option<char>,
        case_insensitive: bool,
    ) -> Result<LikePattern, PatternError> {
        let folded;
        let pattern = if case_insensitive {
            folded = fold(pattern);
            folded.as_str()
        } else {
            pattern
        };
        let mut elems = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            elems.push(match c {
                c if Some(c) == escape => {
                    Elem::Char(chars.next().ok_or(PatternError::TrailingEscape)?)
                }
                '%' => Elem::Many,
                '_' => Elem::One,
                c => Elem::Char(c),
            });
        }
        // `%%` matches what `%` matches.
        elems.dedup_by(|a, b| *a == Elem::Many && *b == Elem::Many);
        Ok(LikePattern {
            shape: shape_of(elems),
            case_insensitive,
        })
    }

    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        if self.case_insensitive {
            self.matches_folded(&fold(text))
        } else {
            self.matches_folded(text)
        }
    }

    /// Whether `text` matches, reusing `buf` to case-fold it for ILIKE (no
    /// allocation per row once `buf` has grown).
    pub fn matches_with(&self, text: &str, buf: &mut String) -> bool {
        if self.case_insensitive {
            buf.clear();
            buf.extend(text.chars().flat_map(char::to_lowercase));
            self.matches_folded(buf)
        } else {
            self.matches_folded(text)
        }
    }

    fn matches_folded(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Exact(s) => text == s,
            Shape::Prefix(s) => text.starts_with(s.as_str()),
            Shape::Suffix(s) => text.ends_with(s.as_str()),
            Shape::Contains(s) => text.contains(s.as_str()),
            Shape::General(p) => matches_general(p, text),
        }
    }
}

fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// The cheapest shape that matches what `elems` matches.
fn shape_of(elems: Vec<Elem>) -> Shape {
    let literal = |e: &[Elem]| -> Option<String> {
        e.iter()
            .map(|x| match x {
                Elem::Char(c) => Some(*c),
                _ => None,
            })
            .collect()
    };
    let n = elems.len();
    let starts = elems.first() == Some(&Elem::Many);
    let ends = n > 1 && elems.last() == Some(&Elem::Many);
    let inner = &elems[starts as usize..n - ends as usize];
    match (starts, ends, literal(inner)) {
        (false, false, Some(s)) => Shape::Exact(s),
        (false, true, Some(s)) => Shape::Prefix(s),
        (true, false, Some(s)) => Shape::Suffix(s),
        (true, true, Some(s)) => Shape::Contains(s),
        _ => Shape::General(elems),
    }
}

/// Wildcard matching that backtracks only to the most recent `%`: when a later
/// `%` matches, no earlier choice needs revisiting.
fn matches_general(p: &[Elem], text: &str) -> bool {
    let (mut pi, mut ti) = (0, 0);
    // After the last `%`: the pattern index after it, and the text index it
    // has absorbed up to.
    let mut star: Option<(usize, usize)> = None;
    while let Some(c) = text[ti..].chars().next() {
        let step = c.len_utf8();
        match p.get(pi) {
            Some(Elem::Many) => {
                star = Some((pi + 1, ti));
                pi += 1;
                continue;
            }
            Some(Elem::One) => {
                pi += 1;
                ti += step;
                continue;
            }
            Some(Elem::Char(x)) if *x == c => {
                pi += 1;
                ti += step;
                continue;
            }
            _ => {}
        }
        let Some((after, absorbed)) = star else {
            return false;
        };
        // Let the last `%` absorb one more character and retry.
        let next = absorbed + text[absorbed..].chars().next().map_or(0, char::len_utf8);
        star = Some((after, next));
        pi = after;
        ti = next;
    }
    p[pi..].iter().all(|e| *e == Elem::Many)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn like(p: &str, t: &str) -> bool {
        LikePattern::compile(p, Some('\\'), false)
            .unwrap()
            .matches(t)
    }

    #[test]
    fn shapes_are_recognised() {
        let shape = |p: &str| LikePattern::compile(p, Some('\\'), false).unwrap().shape;
        assert_eq!(shape("abc"), Shape::Exact("abc".into()));
        assert_eq!(shape("ab%"), Shape::Prefix("ab".into()));
        assert_eq!(shape("%ab"), Shape::Suffix("ab".into()));
        assert_eq!(shape("%ab%"), Shape::Contains("ab".into()));
        assert_eq!(shape("%%"), Shape::Suffix(String::new()));
        assert_eq!(shape("%"), Shape::Suffix(String::new()));
        assert_eq!(shape(""), Shape::Exact(String::new()));
        assert!(matches!(shape("a_c"), Shape::General(_)));
        assert_eq!(shape("50\\%"), Shape::Exact("50%".into()));
    }

    #[test]
    fn percent_and_underscore() {
        assert!(like("abc", "abc"));
        assert!(!like("abc", "abcd"));
        assert!(like("a%", "a"));
        assert!(like("a%", "abc"));
        assert!(!like("a%", "ba"));
        assert!(like("%c", "abc"));
        assert!(like("%b%", "abc"));
        assert!(!like("%d%", "abc"));
        assert!(like("a_c", "abc"));
        assert!(!like("a_c", "ac"));
        assert!(!like("a_c", "abbc"));
        assert!(like("a%c%e", "abcde"));
        assert!(like("a%c%e", "ace"));
        assert!(!like("a%c%e", "aced"));
        assert!(like("%a%b%a%", "xxaxxbxxaxx"));
        assert!(!like("%a%b%a%", "xxaxxbxx"));
        assert!(like("_%_", "ab"));
        assert!(!like("_%_", "a"));
        assert!(like("%", ""));
        assert!(!like("_", ""));
        assert!(like("", ""));
        assert!(!like("", "a"));
        assert!(like("%%a%%", "banana"));
    }

    #[test]
    fn underscore_is_one_character_not_one_byte() {
        assert!(like("caf_", "café"));
        assert!(like("_é_", "aéb"));
        assert!(!like("caf__", "café"));
        assert!(like("%é", "café"));
    }

    #[test]
    fn escapes() {
        assert!(like("50\\%", "50%"));
        assert!(!like("50\\%", "500"));
        assert!(like("a\\_c", "a_c"));
        assert!(!like("a\\_c", "abc"));
        assert!(like("%\\\\%", "a\\b"));
        let bang = LikePattern::compile("10!%%", Some('!'), false).unwrap();
        assert!(bang.matches("10% off"));
        assert!(!bang.matches("100 off"));
        let none = LikePattern::compile("a\\%", None, false).unwrap();
        assert!(none.matches("a\\bc"));
        assert_eq!(
            LikePattern::compile("ab\\", Some('\\'), false),
            Err(PatternError::TrailingEscape)
        );
    }

    #[test]
    fn ilike_folds_case() {
        let p = LikePattern::compile("%ApPl_", Some('\\'), true).unwrap();
        assert!(p.matches("XAPPLE"));
        assert!(p.matches("apple"));
        assert!(!p.matches("apples"));
        let mut buf = String::new();
        assert!(p.matches_with("PineAPPLE", &mut buf));
        assert!(!LikePattern::compile("%ApPl_", Some('\\'), false)
            .unwrap()
            .matches("apple"));
        assert!(LikePattern::compile("ÉT%", None, true)
            .unwrap()
            .matches("été"));
    }
}
