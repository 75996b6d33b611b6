//! How a text input is read: [`TextOptions`] (format, header, declared schema,
//! delimiter, error policy, record bound) and the parsers for the command
//! line's `--schema` and `--delimiter`.

use crate::data::{DataType, Field, Schema};
use crate::error::Error;
use crate::io::lines;
use crate::io::reject::OnError;

/// The default bound on one record's bytes: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// The format of a text input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// JSON lines for a path ending `.jsonl` or `.ndjson`, CSV otherwise.
    #[default]
    Auto,
    Csv,
    /// One JSON object per line ([`super::json`]).
    Json,
}

impl InputFormat {
    /// Parses `auto`, `csv` or `json` (also `jsonl`, `ndjson`).
    pub fn parse(text: &str) -> Result<InputFormat, Error> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(InputFormat::Auto),
            "csv" => Ok(InputFormat::Csv),
            "json" | "jsonl" | "ndjson" => Ok(InputFormat::Json),
            _ => Err(Error::Config(format!(
                "--input-format {text:?}: expected csv, json or auto"
            ))),
        }
    }

    /// The format for the input at `path` (`Auto` decided by its extension).
    pub fn for_path(self, path: &str) -> InputFormat {
        match self {
            InputFormat::Auto => {
                let lower = path.to_ascii_lowercase();
                if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
                    InputFormat::Json
                } else {
                    InputFormat::Csv
                }
            }
            f => f,
        }
    }
}

/// How to read a text input.
#[derive(Debug, Clone, PartialEq)]
pub struct TextOptions {
    /// CSV or JSON lines; default by the path's extension.
    pub format: InputFormat,
    /// The first record is a header naming the columns. Default true.
    pub header: bool,
    /// The declared columns (`--schema`, or a `CREATE STREAM`); `None` infers them.
    pub schema: Option<Schema>,
    /// The field delimiter. Default `,`.
    pub delimiter: u8,
    /// What to do with a malformed record.
    pub on_error: OnError,
    /// Longest record, in bytes; a longer one is malformed. Default 1 MiB.
    pub max_line_bytes: usize,
    /// Checked while a pipe's header or the records types are inferred from
    /// are awaited: once set, opening stops waiting (see [`lines::Sampling`]).
    pub stop: lines::StopFlag,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            format: InputFormat::Auto,
            header: true,
            schema: None,
            delimiter: b',',
            on_error: OnError::default(),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            stop: lines::StopFlag::default(),
        }
    }
}

/// Parses a declared schema: `name TYPE, name TYPE, ...`, types as
/// [`DataType::parse`] reads them (`DECIMAL(10,2)` keeps its comma). An error
/// names the bad item.
pub fn parse_schema(text: &str) -> Result<Schema, Error> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    let mut fields: Vec<Field> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let item = item.trim();
        let bad = |why: &str| {
            Error::Config(format!(
                "--schema: item {} {item:?}: {why}; expected `name TYPE, ...` (e.g. `station VARCHAR, temperature DOUBLE`)",
                n + 1
            ))
        };
        let Some((name, ty)) = item.split_once(char::is_whitespace) else {
            return Err(bad(if item.is_empty() { "empty" } else { "no type" }));
        };
        let Some(data_type) = DataType::parse(ty) else {
            return Err(bad(&format!("unknown type {:?}", ty.trim())));
        };
        if fields.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
            return Err(bad(&format!("column {name} is declared twice")));
        }
        fields.push(Field::new(name, data_type));
    }
    Ok(Schema::new(fields))
}

/// Parses a `--delimiter`: one byte, or `\t` / `tab` for a tab.
pub fn parse_delimiter(text: &str) -> Result<u8, Error> {
    match text {
        "\\t" | "tab" | "TAB" | "\t" => Ok(b'\t'),
        t if t.len() == 1 && !matches!(t.as_bytes()[0], b'"' | b'\n' | b'\r') => {
            Ok(t.as_bytes()[0])
        }
        _ => Err(Error::Config(format!(
            "--delimiter {text:?}: expected one byte (e.g. ';' or '|'), or \\t or tab; not a quote or newline"
        ))),
    }
}
