//! Error types: what went wrong, where, and what was expected.

use crate::runtime::cores::CoreSetError;
use std::fmt;

/// The family of a SQL error, for callers that react to the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlErrorKind {
    Syntax,
    UnknownColumn,
    UnknownFunction,
    UnknownStream,
    TypeMismatch,
    Unsupported,
}

/// An error in the query text, located at a line and column (both 1-based),
/// or, for an error in a setting that goes with the query (`--event-time`),
/// at none ([`SqlError::unplaced`]: line and column 0): its message then
/// names the setting, and it renders without a caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub kind: SqlErrorKind,
    pub message: String,
    pub line: usize,
    pub column: usize,
    /// The whole query text, to render the offending line with a caret.
    pub sql: String,
}

impl SqlError {
    pub fn new(kind: SqlErrorKind, message: impl Into<String>, line: usize, column: usize) -> Self {
        SqlError {
            kind,
            message: message.into(),
            line: line.max(1),
            column: column.max(1),
            sql: String::new(),
        }
    }

    /// An error of a setting that goes with the query, not of its text
    /// (line and column 0): the message names the setting.
    pub fn unplaced(kind: SqlErrorKind, message: impl Into<String>) -> Self {
        SqlError {
            kind,
            message: message.into(),
            line: 0,
            column: 0,
            sql: String::new(),
        }
    }

    /// Attaches the query text the location refers to.
    pub fn in_sql(mut self, sql: &str) -> Self {
        self.sql = sql.to_owned();
        self
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // Not in the query text: the message names the setting.
            return f.write_str(&self.message);
        }
        let what = match self.kind {
            SqlErrorKind::Syntax => "syntax error",
            SqlErrorKind::UnknownColumn => "unknown column",
            SqlErrorKind::UnknownFunction => "unknown function",
            SqlErrorKind::UnknownStream => "unknown stream",
            SqlErrorKind::TypeMismatch => "type mismatch",
            SqlErrorKind::Unsupported => "unsupported SQL",
        };
        write!(
            f,
            "{what} at line {}, column {}: {}",
            self.line, self.column, self.message
        )?;
        // Split at every `\n` (not `lines()`), so that the empty line after a
        // final newline, where an error at the end of the text points, exists.
        let line = self.sql.split('\n').nth(self.line - 1);
        if let Some(text) = line.map(|l| l.strip_suffix('\r').unwrap_or(l)) {
            let gutter = self.line.to_string();
            let pad = " ".repeat(gutter.len());
            // Columns count characters; tabs keep their width in the caret line.
            let lead: String = text
                .chars()
                .take(self.column - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n{pad} |\n{gutter} | {text}\n{pad} | {lead}^")?;
        }
        Ok(())
    }
}

impl std::error::Error for SqlError {}

/// Every error the engine reports to its caller.
#[derive(Debug)]
pub enum Error {
    /// The query is invalid or not supported.
    Sql(SqlError),
    /// The core mask or list is invalid for this machine.
    Cores(CoreSetError),
    /// A flag or option has an invalid value.
    Config(String),
    /// A malformed input record under `--on-error fail`.
    Input {
        source: String,
        line: u64,
        reason: String,
    },
    /// Opening or reading an input failed.
    Io {
        what: String,
        source: std::io::Error,
    },
    /// A shard executor could not start.
    Startup { shard: usize, reason: String },
    /// A shard stopped with an error; the run was stopped.
    Shard { shard: usize, reason: String },
    /// A router (a reader of one byte range) stopped unexpectedly.
    Router { router: usize, reason: String },
    /// Pushing input to an embedded engine failed (see `io::push`).
    Push(String),
    /// Opening an input was stopped (a signal, see
    /// [`StopFlag`](crate::io::lines::StopFlag)) before what it waited for
    /// arrived (`waiting_for`: "the header row"); nothing was read.
    Stopped { input: String, waiting_for: String },
    /// A Kafka client failed, or a Kafka record was malformed under
    /// `--on-error fail` (`what` names the topic, and partition and offset
    /// or shard where they apply).
    Kafka { what: String, reason: String },
    /// Writing or restoring a checkpoint failed (see `checkpoint`).
    Checkpoint(String),
    /// Writing results failed.
    Sink {
        output: String,
        shard: usize,
        source: std::io::Error,
    },
}

impl Error {
    /// The process exit code for this error: 2 for invalid usage (query, cores,
    /// flags), 1 for failures while running.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Sql(_) | Error::Cores(_) | Error::Config(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sql(e) => write!(f, "{e}"),
            Error::Cores(e) => write!(f, "{e}"),
            Error::Config(m) => f.write_str(m),
            Error::Input {
                source,
                line,
                reason,
            } => write!(f, "malformed record in {source} at line {line}: {reason}"),
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::Startup { shard, reason } => {
                write!(f, "shard {shard} could not start: {reason}")
            }
            Error::Shard { shard, reason } => write!(f, "shard {shard} failed: {reason}"),
            Error::Router { router, reason } => write!(f, "router {router} failed: {reason}"),
            Error::Push(reason) => f.write_str(reason),
            Error::Stopped { input, waiting_for } => write!(
                f,
                "input {input}: stopped before {waiting_for} arrived; nothing was read"
            ),
            Error::Kafka { what, reason } => write!(f, "{what}: {reason}"),
            Error::Checkpoint(reason) => write!(f, "checkpoint: {reason}"),
            Error::Sink {
                output,
                shard,
                source,
            } => write!(f, "shard {shard} could not write to {output}: {source}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<SqlError> for Error {
    fn from(e: SqlError) -> Self {
        Error::Sql(e)
    }
}

impl From<CoreSetError> for Error {
    fn from(e: CoreSetError) -> Self {
        Error::Cores(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_at_the_end_of_the_text_renders_a_caret() {
        // Found by tests/fuzz.rs: after a final newline the end of the text is
        // on a line `str::lines` does not return, and the caret was left out.
        let e = SqlError::new(SqlErrorKind::Syntax, "unexpected end", 2, 1).in_sql("/*\n");
        assert_eq!(
            e.to_string(),
            "syntax error at line 2, column 1: unexpected end\n  |\n2 | \n  | ^"
        );
        let e = SqlError::new(SqlErrorKind::Syntax, "x", 1, 3).in_sql("ab\r\ncd");
        assert!(e.to_string().ends_with("1 | ab\n  |   ^"), "{e}");
    }
}
