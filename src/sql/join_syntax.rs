//! Join spellings sqlparser's generic dialect does not parse, taken out of
//! the token stream before parsing (locations kept), and remembered.
//!
//! - DuckDB's `ASOF [LEFT] JOIN q ON ... AND t.ts >= q.ts`: the `ASOF` word
//!   is blanked, leaving a plain `[LEFT] JOIN`, and the relation is noted as
//!   an ASOF join (inner unless `LEFT`). Snowflake's `ASOF JOIN q
//!   MATCH_CONDITION(...) ON ...` parses as it is.
//! - Flink's temporal join `JOIN r FOR SYSTEM_TIME AS OF t.ts [AS] alias`:
//!   the `FOR SYSTEM_TIME AS OF t.ts` words are blanked and the relation is
//!   noted with its time column.

use crate::error::{SqlError, SqlErrorKind};
use sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

/// The join spellings found in a query, by the name of the joined relation
/// (as written, compared ignoring case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinHints {
    /// DuckDB-style ASOF joins: relation, and whether it is `ASOF LEFT JOIN`.
    pub asof: Vec<(String, bool)>,
    /// Temporal joins: relation, and the left time column's identifiers
    /// (`t.event_time` is `["t", "event_time"]`).
    pub temporal: Vec<(String, Vec<String>)>,
}

impl JoinHints {
    /// Whether `relation` was written `ASOF [LEFT] JOIN relation ON ...`;
    /// `Some(true)` for the LEFT form.
    pub fn asof(&self, relation: &str) -> Option<bool> {
        self.asof
            .iter()
            .find(|(r, _)| r.eq_ignore_ascii_case(relation))
            .map(|(_, left)| *left)
    }

    /// The time column of a temporal join of `relation`.
    pub fn temporal(&self, relation: &str) -> Option<&[String]> {
        self.temporal
            .iter()
            .find(|(r, _)| r.eq_ignore_ascii_case(relation))
            .map(|(_, c)| c.as_slice())
    }
}

/// Index of the next token after `i` that is not whitespace.
fn next_significant(tokens: &[TokenWithSpan], i: usize) -> Option<usize> {
    (i + 1..tokens.len()).find(|&j| !matches!(tokens[j].token, Token::Whitespace(_)))
}

fn prev_significant(tokens: &[TokenWithSpan], i: usize) -> Option<usize> {
    (0..i)
        .rev()
        .find(|&j| !matches!(tokens[j].token, Token::Whitespace(_)))
}

fn is_word(tokens: &[TokenWithSpan], i: Option<usize>, word: &str) -> bool {
    i.is_some_and(
        |i| matches!(&tokens[i].token, Token::Word(w) if w.value.eq_ignore_ascii_case(word)),
    )
}

fn word_at(tokens: &[TokenWithSpan], i: usize) -> Option<String> {
    match &tokens[i].token {
        Token::Word(w) => Some(w.value.clone()),
        _ => None,
    }
}

fn blank(token: &mut TokenWithSpan) {
    token.token = Token::Whitespace(Whitespace::Space);
}

/// Rewrites the spellings above; returns the tokens and what was found.
pub fn take_join_hints(
    mut tokens: Vec<TokenWithSpan>,
) -> Result<(Vec<TokenWithSpan>, JoinHints), SqlError> {
    let mut hints = JoinHints::default();
    let mut i = 0;
    while i < tokens.len() {
        if is_word(&tokens, Some(i), "ASOF") {
            let next = next_significant(&tokens, i);
            let left = is_word(&tokens, next, "LEFT");
            let join = if left {
                next.and_then(|n| next_significant(&tokens, n))
            } else {
                next
            };
            if !is_word(&tokens, join, "JOIN") {
                return Err(error(
                    &tokens[i],
                    "ASOF must be followed by JOIN or LEFT JOIN",
                ));
            }
            let join = join.unwrap_or(i);
            let relation = next_significant(&tokens, join)
                .and_then(|r| word_at(&tokens, r))
                .ok_or_else(|| error(&tokens[join], "ASOF JOIN needs the relation to join"))?;
            if left || !match_condition_follows(&tokens, join) {
                blank(&mut tokens[i]);
                hints.asof.push((relation, left));
            }
        } else if is_word(&tokens, Some(i), "FOR")
            && is_word(&tokens, next_significant(&tokens, i), "SYSTEM_TIME")
        {
            let relation = prev_significant(&tokens, i)
                .and_then(|r| word_at(&tokens, r))
                .ok_or_else(|| error(&tokens[i], "FOR SYSTEM_TIME AS OF follows a relation"))?;
            let mut at = next_significant(&tokens, i);
            for word in ["AS", "OF"] {
                at = at.and_then(|a| next_significant(&tokens, a));
                if !is_word(&tokens, at, word) {
                    return Err(error(
                        &tokens[i],
                        "expected FOR SYSTEM_TIME AS OF <time column>",
                    ));
                }
            }
            let of = at.unwrap_or(i);
            let mut column = Vec::new();
            let mut end = of;
            let mut cursor = next_significant(&tokens, of);
            while let Some(c) = cursor {
                let Some(name) = word_at(&tokens, c) else {
                    break;
                };
                column.push(name);
                end = c;
                match next_significant(&tokens, c) {
                    Some(dot) if tokens[dot].token == Token::Period => {
                        cursor = next_significant(&tokens, dot)
                    }
                    _ => break,
                }
            }
            if column.is_empty() {
                return Err(error(
                    &tokens[of],
                    "FOR SYSTEM_TIME AS OF takes a time column",
                ));
            }
            for t in &mut tokens[i..=end] {
                blank(t);
            }
            hints.temporal.push((relation, column));
            i = end;
        }
        i += 1;
    }
    Ok((tokens, hints))
}

/// Whether `MATCH_CONDITION` comes after the `JOIN` at `join` before its
/// `ON` (Snowflake's spelling, which sqlparser parses).
fn match_condition_follows(tokens: &[TokenWithSpan], join: usize) -> bool {
    let mut depth = 0i32;
    for t in &tokens[join + 1..] {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(w) if depth == 0 => {
                if w.value.eq_ignore_ascii_case("MATCH_CONDITION") {
                    return true;
                }
                if w.value.eq_ignore_ascii_case("ON") || w.value.eq_ignore_ascii_case("JOIN") {
                    return false;
                }
            }
            _ => {}
        }
    }
    false
}

fn error(at: &TokenWithSpan, message: &str) -> SqlError {
    SqlError::new(
        SqlErrorKind::Syntax,
        message,
        at.span.start.line as usize,
        at.span.start.column as usize,
    )
}
