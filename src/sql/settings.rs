//! `SET name = 'value';` statements before the query: settings of the query
//! itself, as Flink SQL scripts write them.
//!
//! Known: `state_ttl` (or Flink's `table.exec.state.ttl`), the state
//! time-to-live of a join of two streams without a time bound, in event
//! time, as `--state-ttl` gives it (the flag wins when both are given).

use crate::error::{SqlError, SqlErrorKind};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan};

/// What a query's `SET` statements say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuerySettings {
    /// Milliseconds of event time a join of two streams without a time
    /// bound keeps each row for.
    pub state_ttl: Option<i64>,
}

/// The settings `SET` knows, for errors.
const KNOWN: &str = "state_ttl (or table.exec.state.ttl)";

/// Whether `tokens` (one statement) is a `SET`.
pub(super) fn is_set(tokens: &[TokenWithSpan]) -> bool {
    words(tokens).next().is_some_and(|t| match &t.token {
        Token::Word(w) => w.keyword == Keyword::SET,
        _ => false,
    })
}

/// The tokens of a statement but whitespace.
fn words(tokens: &[TokenWithSpan]) -> impl Iterator<Item = &TokenWithSpan> {
    tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
}

/// Reads one `SET name = value` statement (without its `;`) into `settings`.
pub(super) fn parse_set(
    tokens: &[TokenWithSpan],
    settings: &mut QuerySettings,
) -> Result<(), SqlError> {
    let mut rest = words(tokens).skip(1).peekable();
    let error = |at: &TokenWithSpan, message: String| {
        SqlError::new(
            SqlErrorKind::Syntax,
            message,
            at.span.start.line as usize,
            at.span.start.column as usize,
        )
    };
    let first = rest
        .peek()
        .copied()
        .ok_or_else(|| error(&tokens[0], format!("SET needs a setting: {KNOWN}")))?;
    // The name: a quoted string, or words joined by dots.
    let mut name = String::new();
    while let Some(t) = rest.peek() {
        match &t.token {
            Token::SingleQuotedString(s) if name.is_empty() => name.push_str(s),
            Token::Word(w) if w.keyword != Keyword::TO => name.push_str(&w.value),
            Token::Period => name.push('.'),
            _ => break,
        }
        rest.next();
    }
    match rest.next().map(|t| &t.token) {
        Some(Token::Eq) => {}
        Some(Token::Word(w)) if w.keyword == Keyword::TO => {}
        _ => return Err(error(first, format!("write SET {name} = 'value'"))),
    }
    let value = match rest.next() {
        Some(TokenWithSpan {
            token: Token::SingleQuotedString(s) | Token::Number(s, _),
            ..
        }) => s.clone(),
        _ => return Err(error(first, format!("write SET {name} = 'value'"))),
    };
    if let Some(extra) = rest.next() {
        return Err(error(
            extra,
            format!("unexpected `{}` after SET's value", extra.token),
        ));
    }
    match name.to_ascii_lowercase().as_str() {
        "state_ttl" | "table.exec.state.ttl" => {
            let ms = super::duration::parse_duration_ms(&value)
                .filter(|&ms| ms > 0)
                .ok_or_else(|| {
                    error(
                        first,
                        format!("SET {name}: `{value}` is not a duration like '10s' or '1 h'"),
                    )
                })?;
            settings.state_ttl = Some(ms);
            Ok(())
        }
        _ => Err(error(
            first,
            format!("unknown setting `{name}`; known: {KNOWN}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::GenericDialect;
    use sqlparser::tokenizer::Tokenizer;

    fn set(sql: &str) -> Result<QuerySettings, SqlError> {
        let tokens = Tokenizer::new(&GenericDialect {}, sql)
            .tokenize_with_location()
            .unwrap();
        assert!(is_set(&tokens));
        let mut settings = QuerySettings::default();
        parse_set(&tokens, &mut settings).map(|()| settings)
    }

    #[test]
    fn state_ttl_in_both_spellings() {
        assert_eq!(
            set("SET state_ttl = '10s'").unwrap().state_ttl,
            Some(10_000)
        );
        assert_eq!(
            set("SET 'table.exec.state.ttl' = '1 h'").unwrap().state_ttl,
            Some(3_600_000)
        );
        assert_eq!(
            set("SET table.exec.state.ttl TO '500 ms'")
                .unwrap()
                .state_ttl,
            Some(500)
        );
    }

    #[test]
    fn unknown_settings_and_bad_values_are_refused_with_their_place() {
        let e = set("SET parallelism = '4'").unwrap_err();
        assert!(
            e.to_string().contains("unknown setting `parallelism`"),
            "{e}"
        );
        assert_eq!(e.column, 5);
        let e = set("SET state_ttl = 'soon'").unwrap_err();
        assert!(e.to_string().contains("not a duration"), "{e}");
        assert!(set("SET state_ttl").is_err());
    }
}
