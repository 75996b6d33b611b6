//! What happens to late records: rows behind the watermark by more than the
//! allowed lateness, which no window will ever count.
//!
//! Either way they are counted (`late` in the summary, so the accounting
//! identity holds); with [`LatePolicy::SideOutput`] each shard also writes
//! them to its own file `late-<shard>.csv` in the given directory: a header
//! line naming the input's columns, then each late record as it was read
//! (see [`keeps_text`]); from JSON lines, `late-<shard>.jsonl`, the lines as
//! read and no header.

use super::source::Source;
use crate::data::column::ColumnData;
use crate::data::{Batch, DataType, Field, Schema};
use crate::sql::plan::{PlanBody, QueryPlan};
use std::path::{Path, PathBuf};

/// The late-record policy of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LatePolicy {
    /// Count late records and drop them.
    #[default]
    Drop,
    /// Count them and write them to `DIR/late-<shard>.csv`.
    SideOutput(PathBuf),
}

/// Shard `shard`'s late-record file in `dir`: `late-<shard>.csv`, or
/// `late-<shard>.jsonl` for records kept as JSON lines text.
pub fn late_file(dir: &Path, shard: usize, text: Option<RecordText>) -> PathBuf {
    match text {
        Some(RecordText::Json) => dir.join(format!("late-{shard}.jsonl")),
        _ => dir.join(format!("late-{shard}.csv")),
    }
}

/// Whether a run of `plan` with [`LatePolicy::SideOutput`] asks its sources
/// for each record's text ([`Source::keep_text`]): when its first stage is a
/// windowed aggregate over one input, the only operator that sets rows aside
/// as late.
///
/// # How the late file gets the record as read
/// A source asked to keep the text appends one more column (VARCHAR, last,
/// after the schema's) to every batch: each row's record as read, without
/// its line end. Routers, rings and the filter carry it like any column, and
/// nothing reads it but the late-record writer, which writes it as it is.
/// The cost is paid only with `--late side-output` on such a query: the
/// text's copy per row, and for CSV the record path for every line (the
/// simple-line fast path, which never copies a line, is off). A source that
/// has no text (the generator, pushed rows) declines, and its late rows are
/// written as CSV of their values.
pub fn keeps_text(plan: &QueryPlan) -> bool {
    plan.join.is_none()
        && plan.union.is_none()
        && plan.upstream.is_none()
        && matches!(&plan.body, PlanBody::Aggregate(agg) if agg.window.is_some())
}

/// What kind of record text a source keeps (see [`keeps_text`]), which
/// decides the late file: `late-<shard>.csv` with a header line for CSV,
/// `late-<shard>.jsonl` without one for JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordText {
    Csv,
    Json,
}

/// The schema of the batches `source` returns: its schema, and the record
/// text column when it keeps the text (see [`keeps_text`]).
pub fn batch_schema(source: &dyn Source) -> Schema {
    match source.keeps_text() {
        Some(_) => with_text(source.schema()),
        None => source.schema().clone(),
    }
}

/// `schema` and the record text column after its columns.
pub fn with_text(schema: &Schema) -> Schema {
    let mut schema = schema.clone();
    schema.fields.push(Field::new(TEXT_COLUMN, DataType::Utf8));
    schema
}

/// The name of the record text column in a [`batch_schema`] (never bound by
/// a query: the plan is made from the source's own schema).
pub const TEXT_COLUMN: &str = "corestream.record_text";

/// Appends `record`, one record's bytes as read, to the text column of
/// `batch` (its last): without the line end (LF, CRLF or CR), and with any
/// byte that is not UTF-8 replaced (a record with one is malformed, so never
/// reaches here but through a non-ASCII delimiter).
pub fn push_record_text(batch: &mut Batch, record: &[u8]) {
    let record = record.strip_suffix(b"\n").unwrap_or(record);
    let record = record.strip_suffix(b"\r").unwrap_or(record);
    let text = batch.columns.last_mut().map(|c| &mut c.data);
    let pushed = match text {
        Some(ColumnData::Utf8(column)) => {
            column.push(&String::from_utf8_lossy(record));
            true
        }
        _ => false,
    };
    debug_assert!(pushed, "the batch has no text column");
}

/// Whether `batch` of an input typed by `input_schema` carries the record
/// text column (see [`keeps_text`]).
pub fn has_text(batch: &Batch, input_schema: &Schema) -> bool {
    batch.columns.len() == input_schema.len() + 1
}
