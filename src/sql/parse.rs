//! Parsing: sqlparser for standard SQL, plus the streaming clauses around it.
//!
//! The streaming clauses (`EMIT CHANGES`, `EMIT FINAL`) are not SQL that
//! sqlparser knows, so they are found in the token stream at nesting depth 0,
//! removed, and recorded; the remaining tokens, still carrying their original
//! line and column, go to sqlparser. Whatever sqlparser does not consume is an
//! error: trailing garbage is never ignored.

use super::ddl::{is_declaration, parse_create_stream, StreamDecl};
use super::settings::QuerySettings;
use crate::error::{SqlError, SqlErrorKind};
use sqlparser::ast::Query;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// When a streaming query emits its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitMode {
    /// An updated result row for every input record that changes it.
    Changes,
    /// One row per group when its window closes (or at end of input).
    Final,
}

/// The predecessor's window clause after GROUP BY: `WINDOW TUMBLING(1m)`,
/// `WINDOW SLIDING(event_time, 5m, 1m)`, `WINDOW SESSION(30s)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowClause {
    /// `TUMBLING`, `SLIDING` (or `HOPPING`) or `SESSION`, upper-cased.
    pub kind: String,
    /// The arguments' text, one per comma-separated argument.
    pub args: Vec<String>,
    /// Where the clause starts, for errors.
    pub line: usize,
    pub column: usize,
}

/// A parsed query with its streaming clauses.
#[derive(Debug, Clone)]
pub struct ParsedQuery {
    pub query: Box<Query>,
    /// The `EMIT` clause, if the query had one.
    pub emit: Option<EmitMode>,
    /// The `WINDOW` clause, if the query had one.
    pub window: Option<WindowClause>,
    /// `CREATE STREAM` and `CREATE TABLE` declarations before the query.
    pub streams: Vec<StreamDecl>,
    /// ASOF and temporal join spellings taken out before parsing.
    pub joins: super::join_syntax::JoinHints,
    /// What `SET` statements before the query say.
    pub settings: QuerySettings,
    /// The query text, for rendering errors.
    pub sql: String,
    /// Whether an enclosing query reads this one's final rows (it says
    /// `EMIT FINAL`), so a Top-N here may rank at end of input.
    pub final_rows: bool,
}

/// Parses one streaming query, on a thread with a stack of its own
/// ([`deep_stack`](super::deep_stack)), so that how deep the query nests
/// cannot overflow the caller's.
pub fn parse(sql: &str) -> Result<ParsedQuery, SqlError> {
    super::deep_stack::run(|| parse_here(sql))
}

/// [`parse`] on the calling thread.
fn parse_here(sql: &str) -> Result<ParsedQuery, SqlError> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| {
            SqlError::new(
                SqlErrorKind::Syntax,
                e.message,
                e.location.line as usize,
                e.location.column as usize,
            )
            .in_sql(sql)
        })?;
    check_operator_count(&tokens).map_err(|e| e.in_sql(sql))?;
    let (declarations, tokens) = split_declarations(tokens).map_err(|e| e.in_sql(sql))?;
    let mut streams = Vec::new();
    let mut settings = QuerySettings::default();
    for d in declarations {
        match super::settings::is_set(&d) {
            true => super::settings::parse_set(&d, &mut settings),
            false => parse_create_stream(d, |e| from_parser_error(e, sql)).map(|s| streams.push(s)),
        }
        .map_err(|e| e.in_sql(sql))?;
    }
    let (tokens, emit) = take_emit_clause(tokens).map_err(|e| e.in_sql(sql))?;
    let (tokens, window) = take_window_clause(tokens).map_err(|e| e.in_sql(sql))?;
    let tokens = rewrite_buffer_frames(tokens).map_err(|e| e.in_sql(sql))?;
    let (tokens, joins) = super::join_syntax::take_join_hints(tokens).map_err(|e| e.in_sql(sql))?;

    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(MAX_NESTING)
        .with_tokens_with_locations(tokens);
    let query = parser
        .parse_query()
        .map_err(|e| from_parser_error(e, sql))?;
    while parser.consume_token(&Token::SemiColon) {}
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(at(
            &next,
            SqlErrorKind::Syntax,
            format!("unexpected `{}` after the end of the query", next.token),
        )
        .in_sql(sql));
    }
    Ok(ParsedQuery {
        query,
        emit,
        window,
        streams,
        joins,
        settings,
        sql: sql.to_owned(),
        final_rows: false,
    })
}

/// An error located at `token`.
fn at(token: &TokenWithSpan, kind: SqlErrorKind, message: String) -> SqlError {
    SqlError::new(
        kind,
        message,
        token.span.start.line as usize,
        token.span.start.column as usize,
    )
}

/// Deepest nesting (parentheses, NOT, subexpressions) sqlparser accepts:
/// 256 levels of parentheses as humans write them, plus the few levels the
/// statement itself takes. Parsing and binding recurse per level, on the
/// front end's own stack ([`deep_stack`](super::deep_stack)).
pub(super) const MAX_NESTING: usize = 256 + NESTING_OVERHEAD;

/// Levels sqlparser counts for the statement around an expression.
const NESTING_OVERHEAD: usize = 4;

/// Most operators a statement may hold. A chain `a + b + ...` parses into a
/// tree as deep as it is long, and binding walks it recursively, so a bound
/// keeps the stack safe; real queries stay far below it.
const MAX_OPERATORS: usize = 500;

/// Refuses a statement with more than [`MAX_OPERATORS`] operators.
fn check_operator_count(tokens: &[TokenWithSpan]) -> Result<(), SqlError> {
    let mut count = 0;
    for t in tokens {
        let operator = match &t.token {
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq => true,
            Token::Word(w) => matches!(w.value.to_ascii_uppercase().as_str(), "AND" | "OR" | "NOT"),
            _ => false,
        };
        if operator {
            count += 1;
            if count > MAX_OPERATORS {
                return Err(at(
                    t,
                    SqlErrorKind::Unsupported,
                    format!(
                        "the query has more than {MAX_OPERATORS} operators; split the expression"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Splits the leading `CREATE ...;` statements off `tokens`; the rest is the query.
#[allow(clippy::type_complexity)] // (statements, rest) is clearest as a pair
fn split_declarations(
    mut tokens: Vec<TokenWithSpan>,
) -> Result<(Vec<Vec<TokenWithSpan>>, Vec<TokenWithSpan>), SqlError> {
    let mut declarations = Vec::new();
    while is_declaration(&tokens) {
        let mut depth = 0i32;
        let end = tokens.iter().position(|t| match t.token {
            Token::LParen => {
                depth += 1;
                false
            }
            Token::RParen => {
                depth -= 1;
                false
            }
            Token::SemiColon => depth == 0,
            _ => false,
        });
        let Some(end) = end else {
            let first = tokens
                .iter()
                .find(|t| !matches!(t.token, Token::Whitespace(_)))
                .expect("a declaration has a first token");
            return Err(at(
                first,
                SqlErrorKind::Syntax,
                "a CREATE STREAM declaration ends with `;` and is followed by the query".into(),
            ));
        };
        let rest = tokens.split_off(end + 1);
        tokens.pop(); // the `;`
        declarations.push(std::mem::replace(&mut tokens, rest));
    }
    Ok((declarations, tokens))
}

/// Removes a trailing `EMIT CHANGES | EMIT FINAL` at depth 0 from `tokens`.
fn take_emit_clause(
    mut tokens: Vec<TokenWithSpan>,
) -> Result<(Vec<TokenWithSpan>, Option<EmitMode>), SqlError> {
    let mut depth = 0i32;
    let mut emit_at = None;
    for (i, t) in tokens.iter().enumerate() {
        match &t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(w) if depth == 0 && w.value.eq_ignore_ascii_case("EMIT") => {
                emit_at = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(start) = emit_at else {
        return Ok((tokens, None));
    };
    let significant: Vec<usize> = (start + 1..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_) | Token::EOF))
        .collect();
    let mode = significant.first().map(|&i| &tokens[i]);
    let emit = match mode.map(|t| &t.token) {
        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("CHANGES") => EmitMode::Changes,
        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("FINAL") => EmitMode::Final,
        _ => {
            let found = mode.unwrap_or(&tokens[start]);
            return Err(at(
                found,
                SqlErrorKind::Syntax,
                "expected CHANGES or FINAL after EMIT".into(),
            ));
        }
    };
    if let Some(&extra) = significant
        .iter()
        .skip(1)
        .find(|&&i| tokens[i].token != Token::SemiColon)
    {
        return Err(at(
            &tokens[extra],
            SqlErrorKind::Syntax,
            format!(
                "unexpected `{}` after the EMIT clause (EMIT must end the query)",
                tokens[extra].token
            ),
        ));
    }
    tokens.truncate(start);
    Ok((tokens, Some(emit)))
}

/// Removes a `WINDOW TUMBLING|SLIDING|HOPPING|SESSION (args)` clause at depth 0.
fn take_window_clause(
    mut tokens: Vec<TokenWithSpan>,
) -> Result<(Vec<TokenWithSpan>, Option<WindowClause>), SqlError> {
    let significant = |tokens: &[TokenWithSpan], from: usize| {
        (from..tokens.len()).find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
    };
    let mut depth = 0i32;
    for i in 0..tokens.len() {
        match &tokens[i].token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Word(w) if depth == 0 && w.value.eq_ignore_ascii_case("WINDOW") => {
                let Some(k) = significant(&tokens, i + 1) else {
                    continue;
                };
                let kind = match &tokens[k].token {
                    Token::Word(w) => w.value.to_ascii_uppercase(),
                    _ => continue,
                };
                if !matches!(
                    kind.as_str(),
                    "TUMBLING" | "SLIDING" | "HOPPING" | "SESSION"
                ) {
                    continue;
                }
                let open = significant(&tokens, k + 1)
                    .filter(|&o| tokens[o].token == Token::LParen)
                    .ok_or_else(|| {
                        at(
                            &tokens[k],
                            SqlErrorKind::Syntax,
                            format!("expected ( after WINDOW {kind}"),
                        )
                    })?;
                let mut args = vec![String::new()];
                let mut d = 0i32;
                let mut close = None;
                for (j, t) in tokens.iter().enumerate().skip(open + 1) {
                    match &t.token {
                        Token::LParen => d += 1,
                        Token::RParen if d == 0 => {
                            close = Some(j);
                            break;
                        }
                        Token::RParen => d -= 1,
                        Token::Comma if d == 0 => {
                            args.push(String::new());
                            continue;
                        }
                        _ => {}
                    }
                    let text = match &t.token {
                        Token::Whitespace(_) => " ".to_owned(),
                        other => other.to_string(),
                    };
                    args.last_mut().expect("never empty").push_str(&text);
                }
                let close = close.ok_or_else(|| {
                    at(
                        &tokens[open],
                        SqlErrorKind::Syntax,
                        "unclosed ( in the WINDOW clause".into(),
                    )
                })?;
                let clause = WindowClause {
                    kind,
                    args: args.into_iter().map(|a| a.trim().to_owned()).collect(),
                    line: tokens[i].span.start.line as usize,
                    column: tokens[i].span.start.column as usize,
                };
                tokens.drain(i..=close);
                return Ok((tokens, Some(clause)));
            }
            _ => {}
        }
    }
    Ok((tokens, None))
}

/// Rewrites the predecessor's row-window form
/// `OVER (ROWS WINDOW BUFFER n ROWS PARTITION BY ... ORDER BY ...)` into the
/// standard `OVER (PARTITION BY ... ORDER BY ... ROWS BETWEEN n-1 PRECEDING
/// AND CURRENT ROW)`: a buffer of `n` rows is the current row and the `n - 1`
/// before it. The new tokens carry the location of `BUFFER`.
fn rewrite_buffer_frames(mut tokens: Vec<TokenWithSpan>) -> Result<Vec<TokenWithSpan>, SqlError> {
    let next = |tokens: &[TokenWithSpan], from: usize| {
        (from..tokens.len()).find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
    };
    let is_word = |t: &TokenWithSpan, word: &str| matches!(&t.token, Token::Word(w) if w.value.eq_ignore_ascii_case(word));
    let mut i = 0;
    while i < tokens.len() {
        if !is_word(&tokens[i], "OVER") {
            i += 1;
            continue;
        }
        let Some(open) = next(&tokens, i + 1).filter(|&o| tokens[o].token == Token::LParen) else {
            i += 1;
            continue;
        };
        // ROWS WINDOW BUFFER n ROWS, each the next significant token.
        let mut cursor = open;
        let mut parts = Vec::new();
        for _ in 0..5 {
            match next(&tokens, cursor + 1) {
                Some(j) => {
                    parts.push(j);
                    cursor = j;
                }
                None => break,
            }
        }
        let matches_form = parts.len() == 5
            && is_word(&tokens[parts[0]], "ROWS")
            && is_word(&tokens[parts[1]], "WINDOW")
            && is_word(&tokens[parts[2]], "BUFFER");
        if !matches_form {
            i += 1;
            continue;
        }
        let buffer = tokens[parts[2]].clone();
        let rows = match &tokens[parts[3]].token {
            Token::Number(n, _) => n.parse::<u64>().ok().filter(|&n| n > 0),
            _ => None,
        };
        let Some(rows) = rows else {
            return Err(at(
                &tokens[parts[3]],
                SqlErrorKind::Syntax,
                "expected a positive row count after ROWS WINDOW BUFFER".into(),
            ));
        };
        if !is_word(&tokens[parts[4]], "ROWS") {
            return Err(at(
                &tokens[parts[4]],
                SqlErrorKind::Syntax,
                format!("expected ROWS after BUFFER {rows}"),
            ));
        }
        let mut depth = 0i32;
        let close = (open + 1..tokens.len()).find(|&j| match tokens[j].token {
            Token::LParen => {
                depth += 1;
                false
            }
            Token::RParen if depth == 0 => true,
            Token::RParen => {
                depth -= 1;
                false
            }
            _ => false,
        });
        let Some(close) = close else {
            return Err(at(
                &tokens[open],
                SqlErrorKind::Syntax,
                "unclosed ( after OVER".into(),
            ));
        };
        let frame = format!(" ROWS BETWEEN {} PRECEDING AND CURRENT ROW ", rows - 1);
        let dialect = GenericDialect {};
        let inserted: Vec<TokenWithSpan> = Tokenizer::new(&dialect, &frame)
            .tokenize()
            .expect("the frame text is valid SQL")
            .into_iter()
            .map(|token| TokenWithSpan {
                token,
                span: buffer.span,
            })
            .collect();
        tokens.splice(close..close, inserted);
        tokens.drain(parts[0]..=parts[4]);
        i = open + 1;
    }
    Ok(tokens)
}

/// Turns sqlparser's message, which ends in "at Line: L, Column: C", into a
/// located error.
fn from_parser_error(e: ParserError, sql: &str) -> SqlError {
    let text = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => format!(
            "query nests too deeply: at most {} levels of parentheses, NOT or subqueries",
            MAX_NESTING - NESTING_OVERHEAD
        ),
    };
    let (message, line, column) = split_location(&text);
    SqlError::new(SqlErrorKind::Syntax, message, line, column).in_sql(sql)
}

fn split_location(text: &str) -> (String, usize, usize) {
    if let Some(pos) = text.rfind(" at Line: ") {
        let loc = &text[pos + " at Line: ".len()..];
        let mut parts = loc.split(", Column: ");
        let line = parts.next().and_then(|l| l.trim().parse().ok());
        let column = parts.next().and_then(|c| c.trim().parse().ok());
        if let (Some(line), Some(column)) = (line, column) {
            return (text[..pos].to_owned(), line, column);
        }
    }
    (text.to_owned(), 1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_emit_clause() {
        let q = parse("SELECT a FROM t GROUP BY a EMIT FINAL").unwrap();
        assert_eq!(q.emit, Some(EmitMode::Final));
        let q = parse("SELECT a FROM t EMIT CHANGES;").unwrap();
        assert_eq!(q.emit, Some(EmitMode::Changes));
        assert_eq!(parse("SELECT a FROM t").unwrap().emit, None);
    }

    #[test]
    fn finds_window_clause() {
        let q = parse("SELECT a, COUNT(*) FROM t GROUP BY a WINDOW TUMBLING(event_time, INTERVAL '1' MINUTE) EMIT FINAL").unwrap();
        let w = q.window.unwrap();
        assert_eq!(w.kind, "TUMBLING");
        assert_eq!(w.args, vec!["event_time", "INTERVAL '1' MINUTE"]);
        let q = parse("SELECT a FROM t GROUP BY a WINDOW SLIDING(5m, 1m)").unwrap();
        assert_eq!(q.window.unwrap().args, vec!["5m", "1m"]);
        assert!(parse("SELECT a FROM t GROUP BY a WINDOW TUMBLING 1m").is_err());
    }

    #[test]
    fn rewrites_the_buffer_form_of_a_row_window() {
        let q = parse(
            "SELECT AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY event_time) FROM trades",
        )
        .unwrap();
        let text = q.query.to_string();
        assert!(
            text.contains(
                "OVER (PARTITION BY symbol ORDER BY event_time ROWS BETWEEN 99 PRECEDING AND CURRENT ROW)"
            ),
            "{text}"
        );
        let err =
            parse("SELECT AVG(price) OVER (ROWS WINDOW BUFFER 0 ROWS) FROM trades").unwrap_err();
        assert_eq!((err.line, err.column), (1, 44), "{err}");
    }

    #[test]
    fn rejects_bad_emit_and_trailing_tokens() {
        let e = parse("SELECT a FROM t EMIT SOMETIMES").unwrap_err();
        assert_eq!((e.line, e.column), (1, 22));
        let e = parse("SELECT a FROM t EMIT FINAL extra").unwrap_err();
        assert_eq!((e.line, e.column), (1, 28));
        let e = parse("SELECT a FROM t; SELECT b FROM t").unwrap_err();
        assert_eq!((e.line, e.column), (1, 18));
    }

    #[test]
    fn syntax_errors_carry_location() {
        let e = parse("SELECT a\nFROM t WHERE )").unwrap_err();
        assert_eq!(e.kind, SqlErrorKind::Syntax);
        assert_eq!((e.line, e.column), (2, 14));
        assert!(e.to_string().contains("2 | FROM t WHERE )"), "{e}");
    }
}
