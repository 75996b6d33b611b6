//! `CREATE STREAM` and `CREATE TABLE`: declare an input's columns, its
//! event-time column and its watermark, ahead of the query.
//!
//! ```sql
//! CREATE STREAM trades (event_time TIMESTAMP, symbol VARCHAR, price DOUBLE)
//!   WITH (event_time = 'event_time', watermark = '5s', allowed_lateness = '0s');
//! SELECT symbol, COUNT(*) FROM trades GROUP BY symbol, TUMBLE(event_time, INTERVAL '1' MINUTE)
//! ```
//!
//! The options mean exactly what the flags `--event-time`,
//! `--max-out-of-orderness` and `--allowed-lateness` mean (`watermark` and
//! `max_out_of_orderness` are one option); a flag given explicitly wins.
//! sqlparser parses the statement as a `CREATE TABLE` (the `STREAM` keyword
//! is swapped for `TABLE` in the token stream, locations kept).
//!
//! `CREATE TABLE name (cols..., PRIMARY KEY (k, ...))` declares a table: a
//! changelog in which a later row replaces the earlier row with the same key.
//! Either kind also takes `idle_timeout` (an input quiet that long stops
//! holding back the watermark of operators fed by several inputs) and the
//! input's text options: `format` (`csv`, `json`), `header` (`true`,
//! `false`) and `delimiter`.

use super::bind::{error_at, span_error};
use super::duration::parse_duration_ms;
use crate::data::{DataType, Field, Schema};
use crate::error::{SqlError, SqlErrorKind};
use sqlparser::ast;
use sqlparser::dialect::GenericDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan, Word};

/// What a declared input is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InputKind {
    /// An append-only stream of rows.
    #[default]
    Stream,
    /// A changelog keyed by its primary key (declared column indices): a
    /// later row replaces the earlier one with the same key.
    Table { primary_key: Vec<usize> },
}

/// A declared input: a stream or a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDecl {
    pub name: String,
    pub kind: InputKind,
    /// The declared columns, in input order.
    pub schema: Schema,
    pub event_time: Option<String>,
    /// Milliseconds the watermark trails the largest event time.
    pub max_out_of_orderness: Option<i64>,
    /// Milliseconds a row may be behind the watermark and still count.
    pub allowed_lateness: Option<i64>,
    /// Milliseconds without a row after which the input stops holding back
    /// the watermark of operators with several inputs.
    pub idle_timeout: Option<i64>,
    /// `format`: `csv` or `json`, when declared.
    pub format: Option<String>,
    /// `header`: whether a CSV input starts with a header row, when declared.
    pub header: Option<bool>,
    /// `delimiter`: the CSV field delimiter, when declared.
    pub delimiter: Option<String>,
}

/// Whether `tokens` (one statement) starts with `CREATE`.
pub(super) fn is_declaration(tokens: &[TokenWithSpan]) -> bool {
    first_word(tokens, 0).is_some_and(|(_, w)| matches!(w.keyword, Keyword::CREATE | Keyword::SET))
}

fn first_word(tokens: &[TokenWithSpan], from: usize) -> Option<(usize, &Word)> {
    let i = (from..tokens.len()).find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))?;
    match &tokens[i].token {
        Token::Word(w) => Some((i, w)),
        _ => None,
    }
}

/// Parses one `CREATE STREAM` or `CREATE TABLE` statement (without its `;`).
pub(super) fn parse_create_stream(
    mut tokens: Vec<TokenWithSpan>,
    parse_error: impl Fn(sqlparser::parser::ParserError) -> SqlError,
) -> Result<StreamDecl, SqlError> {
    let (create, _) = first_word(&tokens, 0).expect("checked by is_declaration");
    let is_table = match first_word(&tokens, create + 1) {
        Some((i, w)) if w.value.eq_ignore_ascii_case("STREAM") => {
            tokens[i].token = Token::make_keyword("TABLE");
            false
        }
        Some((_, w)) if w.keyword == Keyword::TABLE => true,
        _ => {
            let at = &tokens[create];
            return Err(SqlError::new(
                SqlErrorKind::Unsupported,
                "only CREATE STREAM and CREATE TABLE declarations may come before the query",
                at.span.start.line as usize,
                at.span.start.column as usize,
            ));
        }
    };
    let what = if is_table {
        "CREATE TABLE"
    } else {
        "CREATE STREAM"
    };
    let statement = Parser::new(&GenericDialect {})
        .with_recursion_limit(super::parse::MAX_NESTING)
        .with_tokens_with_locations(tokens)
        .parse_statement()
        .map_err(parse_error)?;
    let ast::Statement::CreateTable(table) = statement else {
        unreachable!("a statement starting CREATE TABLE parses as one or fails");
    };
    if table.columns.is_empty() {
        return Err(error_at(
            &table.name,
            SqlErrorKind::Syntax,
            format!("{what} needs its columns: {what} name (column TYPE, ...)"),
        ));
    }
    let mut fields = Vec::new();
    let mut key_names: Vec<ast::Ident> = Vec::new();
    for c in &table.columns {
        let options = c.options.iter().filter(|o| {
            let primary = matches!(
                o.option,
                ast::ColumnOption::Unique {
                    is_primary: true,
                    ..
                }
            );
            if primary {
                key_names.push(c.name.clone());
            }
            !primary
        });
        if let Some(option) = options.into_iter().next() {
            return Err(error_at(
                &option.option,
                SqlErrorKind::Unsupported,
                format!("column option `{}` is not supported", option.option),
            ));
        }
        let data_type = DataType::parse(&c.data_type.to_string()).ok_or_else(|| {
            span_error(
                c.name.span,
                SqlErrorKind::Unsupported,
                format!(
                    "column `{}`: type {} is not supported (BIGINT, DOUBLE, VARCHAR, BOOLEAN, TIMESTAMP, DECIMAL(p,s))",
                    c.name.value, c.data_type
                ),
            )
        })?;
        fields.push(Field::new(c.name.value.clone(), data_type));
    }
    let schema = Schema::new(fields);
    for constraint in &table.constraints {
        match constraint {
            ast::TableConstraint::PrimaryKey { columns, .. } => key_names.extend(
                columns
                    .iter()
                    .map(|c| c.column.expr.clone())
                    .filter_map(|e| match e {
                        ast::Expr::Identifier(id) => Some(id),
                        _ => None,
                    }),
            ),
            other => {
                return Err(error_at(
                    other,
                    SqlErrorKind::Unsupported,
                    "only a PRIMARY KEY constraint is supported",
                ))
            }
        }
    }
    let kind = if is_table {
        if key_names.is_empty() {
            return Err(error_at(
                &table.name,
                SqlErrorKind::Syntax,
                "CREATE TABLE needs a PRIMARY KEY (k, ...): a table keeps the latest row per key",
            ));
        }
        let primary_key = key_names
            .iter()
            .map(|id| {
                schema.index_of(&id.value).ok_or_else(|| {
                    span_error(
                        id.span,
                        SqlErrorKind::UnknownColumn,
                        format!(
                            "the primary key column `{}` is not a declared column",
                            id.value
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        InputKind::Table { primary_key }
    } else {
        if let Some(id) = key_names.first() {
            return Err(span_error(
                id.span,
                SqlErrorKind::Unsupported,
                "a stream has no primary key; declare a keyed input with CREATE TABLE",
            ));
        }
        InputKind::Stream
    };
    let mut decl = StreamDecl {
        name: table.name.to_string(),
        kind,
        schema,
        event_time: None,
        max_out_of_orderness: None,
        allowed_lateness: None,
        idle_timeout: None,
        format: None,
        header: None,
        delimiter: None,
    };
    let options = match &table.table_options {
        ast::CreateTableOptions::None => &[][..],
        ast::CreateTableOptions::With(options) => options.as_slice(),
        _ => {
            return Err(error_at(
                &table.name,
                SqlErrorKind::Unsupported,
                format!("{what} takes its options as WITH (key = 'value', ...)"),
            ))
        }
    };
    for option in options {
        let ast::SqlOption::KeyValue { key, value } = option else {
            return Err(error_at(
                option,
                SqlErrorKind::Unsupported,
                format!("{what} options are key = 'value'"),
            ));
        };
        let text = match value {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => s.clone(),
                _ => v.value.to_string(),
            },
            ast::Expr::Identifier(id) => id.value.clone(),
            other => {
                return Err(error_at(
                    other,
                    SqlErrorKind::Unsupported,
                    "an option's value is a quoted string, e.g. '5s'",
                ))
            }
        };
        let duration = || {
            parse_duration_ms(&text)
                .filter(|ms| *ms >= 0)
                .ok_or_else(|| {
                    error_at(
                        value,
                        SqlErrorKind::Syntax,
                        format!("`{text}` is not a duration like 500ms, 30s, 5m, 1h"),
                    )
                })
        };
        match key.value.to_ascii_lowercase().as_str() {
            "event_time" | "timestamp" => {
                let Some(index) = decl.schema.index_of(&text) else {
                    return Err(error_at(
                        value,
                        SqlErrorKind::UnknownColumn,
                        format!("the event-time column `{text}` is not a declared column"),
                    ));
                };
                let t = decl.schema.fields[index].data_type;
                if !matches!(t, DataType::Int64 | DataType::Timestamp) {
                    return Err(error_at(
                        value,
                        SqlErrorKind::TypeMismatch,
                        format!("the event-time column `{text}` is {t}; it must be TIMESTAMP or BIGINT epoch milliseconds"),
                    ));
                }
                decl.event_time = Some(decl.schema.fields[index].name.clone());
            }
            "watermark" | "max_out_of_orderness" => decl.max_out_of_orderness = Some(duration()?),
            "allowed_lateness" => decl.allowed_lateness = Some(duration()?),
            "idle_timeout" => decl.idle_timeout = Some(duration()?),
            "format" if matches!(text.to_ascii_lowercase().as_str(), "csv" | "json") => {
                decl.format = Some(text.to_ascii_lowercase())
            }
            "header" if matches!(text.to_ascii_lowercase().as_str(), "true" | "false") => {
                decl.header = Some(text.eq_ignore_ascii_case("true"))
            }
            "delimiter" => decl.delimiter = Some(text),
            "format" | "header" => {
                return Err(error_at(
                    value,
                    SqlErrorKind::Syntax,
                    format!("`{text}` is not a value of `{}`: format is csv or json, header is true or false", key.value),
                ))
            }
            other => {
                return Err(span_error(
                    key.span,
                    SqlErrorKind::Unsupported,
                    format!("unknown {what} option `{other}`; known: event_time, watermark (max_out_of_orderness), allowed_lateness, idle_timeout, format, header, delimiter"),
                ))
            }
        }
    }
    Ok(decl)
}
