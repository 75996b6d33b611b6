//! Per-shard sinks: each shard writes its own results, with no merge.
//!
//! - stdout: every shard writes whole lines with its own `write(2)` calls of at
//!   most `PIPE_BUF` bytes that end on a line boundary, so lines from different
//!   shards never interleave mid-line (writes of that size are atomic on pipes,
//!   and on regular files Linux serialises writes to one file description).
//! - a directory: shard `i` writes `DIR/part-<i>.csv`, with a header, through
//!   glommio's io_uring file I/O.
//! - JSON lines, to stdout or a directory (`DIR/part-<i>.jsonl`): one object per
//!   row, keys in the output schema's order. BIGINT and DOUBLE are numbers (a
//!   NaN or infinite DOUBLE is `null`), DECIMAL a number written exactly,
//!   BOOLEAN `true`/`false`, VARCHAR a string, TIMESTAMP an ISO 8601 UTC string
//!   (`"2026-01-01T00:00:00.000Z"`), NULL `null`. No header line.
//! - collect: batches are kept in memory and handed back at the end (tests and
//!   embedding).
//! - discard: rows are counted, not formatted (benchmarks).
//! - callback (embedding): every result batch is handed to an application
//!   function, called on the shard's own thread; see [`ResultCallback`].
//! - rings (embedding): every result batch is pushed on the shard's own SPSC
//!   ring, whose [`Consumer`] the application holds; see
//!   [`OutputSpec::Rings`].
//! - a Kafka topic (`kafka://HOST:PORT/TOPIC?...`): a producer per shard; see
//!   [`super::kafka::sink`].
//!
//! # Backpressure of the embedding sinks
//! Both run on the shard's core and wait rather than drop: a slow callback,
//! or a full result ring (the shard then spins with backoff and yields its
//! core until there is room), stops that shard from popping its inbound
//! ring; the router then waits on that ring, and a pushing application on
//! its push ring (`io::push`). Memory stays bounded by the rings' capacities.

use super::kafka::sink::KafkaShardSink;
use super::kafka::KafkaOutput;
use crate::data::column::ColumnData;
use crate::data::{Batch, Schema, Value};
use crate::runtime::ring::{Consumer, Producer, PushError};
use crossbeam::utils::Backoff;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// What a result callback returns on failure; the shard stops with it.
pub type CallbackError = Box<dyn std::error::Error + Send + Sync>;

/// The function behind [`OutputSpec::Callback`]: `(shard, batch)`.
pub type CallbackFn = dyn Fn(usize, Batch) -> Result<(), CallbackError> + Send + Sync;

/// A function called with every result batch, on the shard's own thread.
///
/// # Threading
/// Each shard calls it from its own pinned core, so calls for different
/// shards run at the same time (hence `Sync`); calls for one shard are in
/// order. It runs on the data path: it must not block on a lock shared
/// between shards if per-core scaling matters, and a slow callback
/// backpressures its shard, and through the shard's ring the router and the
/// pusher (nothing is dropped). Returning an error stops the shard; the run
/// then ends with [`Error::Sink`](crate::Error::Sink) naming the shard. A
/// panic also stops the run, with [`Error::Shard`](crate::Error::Shard).
///
/// Equality is identity (the same `Arc`), so that [`OutputSpec`] stays `Eq`.
#[derive(Clone)]
pub struct ResultCallback(pub Arc<CallbackFn>);

impl ResultCallback {
    pub fn new(
        f: impl Fn(usize, Batch) -> Result<(), CallbackError> + Send + Sync + 'static,
    ) -> Self {
        ResultCallback(Arc::new(f))
    }
}

impl fmt::Debug for ResultCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResultCallback(..)")
    }
}

impl PartialEq for ResultCallback {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ResultCallback {}

/// Where results go, as chosen by `--output` and `--output-format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// CSV with a header line, on stdout.
    Stdout,
    /// CSV part files with a header, `DIR/part-<shard>.csv`.
    Directory(PathBuf),
    /// JSON lines on stdout.
    StdoutJson,
    /// JSON lines part files, `DIR/part-<shard>.jsonl`.
    DirectoryJson(PathBuf),
    /// Every result batch kept in memory, per shard, and handed back in
    /// [`RunOutput::collected`](crate::RunOutput::collected) when the run
    /// ends: for inputs that end. Over an input spec that never ends the
    /// engine's builder refuses it (see
    /// [`collect_check`](crate::engine::collect_check)); over a source the
    /// application ends, it holds every result until then.
    Collect,
    Discard,
    /// Every result batch to a function, on the shard's thread (embedding).
    Callback(ResultCallback),
    /// Every result batch on the shard's own SPSC ring of `capacity` batches
    /// (rounded up to a power of two); the application takes one
    /// [`Consumer`] per shard from the engine
    /// ([`Engine::take_result_rings`](crate::Engine::take_result_rings)) and
    /// must drain them until the run ends: a full ring makes its shard wait.
    /// A consumer dropped before the run ends stops its shard with an error.
    Rings {
        capacity: usize,
    },
    /// A Kafka topic, a producer per shard ([`super::kafka::sink`]).
    Kafka(KafkaOutput),
}

impl OutputSpec {
    /// [`OutputSpec::Callback`] calling `f(shard, batch)` for every result batch.
    pub fn callback(
        f: impl Fn(usize, Batch) -> Result<(), CallbackError> + Send + Sync + 'static,
    ) -> OutputSpec {
        OutputSpec::Callback(ResultCallback::new(f))
    }
}

/// How result rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// CSV with a header line.
    #[default]
    Csv,
    /// One JSON object per line.
    Json,
}

impl OutputFormat {
    /// Parses `csv` or `json` (also `jsonl`, `ndjson`).
    pub fn parse(text: &str) -> Option<OutputFormat> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Some(OutputFormat::Csv),
            "json" | "jsonl" | "ndjson" => Some(OutputFormat::Json),
            _ => None,
        }
    }
}

impl OutputSpec {
    /// `-` is stdout; anything else is a directory for part files (CSV).
    pub fn parse(spec: &str) -> OutputSpec {
        OutputSpec::parse_as(spec, OutputFormat::Csv)
    }

    /// `-` is stdout; anything else is a directory for part files, in `format`.
    pub fn parse_as(spec: &str, format: OutputFormat) -> OutputSpec {
        if spec.starts_with("kafka://") {
            return OutputSpec::Kafka(KafkaOutput::new(spec, format));
        }
        match (spec, format) {
            ("-", OutputFormat::Csv) => OutputSpec::Stdout,
            ("-", OutputFormat::Json) => OutputSpec::StdoutJson,
            (d, OutputFormat::Csv) => OutputSpec::Directory(PathBuf::from(d)),
            (d, OutputFormat::Json) => OutputSpec::DirectoryJson(PathBuf::from(d)),
        }
    }

    /// The directory of part files, if the output is one.
    pub fn directory(&self) -> Option<&std::path::Path> {
        match self {
            OutputSpec::Directory(d) | OutputSpec::DirectoryJson(d) => Some(d),
            _ => None,
        }
    }

    /// The row format of stdout and part files.
    pub fn format(&self) -> OutputFormat {
        match self {
            OutputSpec::StdoutJson | OutputSpec::DirectoryJson(_) => OutputFormat::Json,
            OutputSpec::Kafka(k) => k.format(),
            _ => OutputFormat::Csv,
        }
    }

    /// A human name for messages: `stdout` or the part file path.
    pub fn describe(&self, shard: usize) -> String {
        match self {
            OutputSpec::Stdout | OutputSpec::StdoutJson => "stdout".into(),
            OutputSpec::Directory(d) => d.join(part_name(shard)).display().to_string(),
            OutputSpec::DirectoryJson(d) => d.join(json_part_name(shard)).display().to_string(),
            OutputSpec::Collect => "memory".into(),
            OutputSpec::Discard => "discard".into(),
            OutputSpec::Callback(_) => "the result callback".into(),
            OutputSpec::Rings { .. } => format!("result ring {shard}"),
            OutputSpec::Kafka(k) => k.describe(),
        }
    }
}

/// The file name of shard `shard`'s CSV output part.
pub fn part_name(shard: usize) -> String {
    format!("part-{shard}.csv")
}

/// The file name of shard `shard`'s JSON lines output part.
pub fn json_part_name(shard: usize) -> String {
    format!("part-{shard}.jsonl")
}

/// Writes rows as JSON lines: the keys are escaped once, up front.
#[derive(Debug, Clone)]
pub struct JsonRows {
    /// `{"name":` for the first column, `,"name":` for the others.
    keys: Vec<Vec<u8>>,
}

impl JsonRows {
    pub fn new(schema: &Schema) -> JsonRows {
        let keys = schema
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut k = vec![if i == 0 { b'{' } else { b',' }];
                json_string(&f.name, &mut k);
                k.push(b':');
                k
            })
            .collect();
        JsonRows { keys }
    }

    /// Appends each row of `batch` as one JSON object and a newline.
    pub fn write(&self, batch: &Batch, out: &mut Vec<u8>) {
        use crate::data::column::ColumnData;
        use std::io::Write;
        for row in 0..batch.len {
            if self.keys.is_empty() {
                out.push(b'{');
            }
            for (key, c) in self.keys.iter().zip(&batch.columns) {
                out.extend_from_slice(key);
                if !c.is_valid(row) {
                    out.extend_from_slice(b"null");
                    continue;
                }
                match &c.data {
                    ColumnData::Int64(v) => {
                        out.extend_from_slice(itoa::Buffer::new().format(v[row]).as_bytes())
                    }
                    ColumnData::Float64(v) if v[row].is_finite() => {
                        let _ = write!(out, "{}", v[row]);
                    }
                    ColumnData::Float64(_) => out.extend_from_slice(b"null"),
                    ColumnData::Bool(v) => {
                        out.extend_from_slice(if v[row] { b"true" } else { b"false" })
                    }
                    ColumnData::Utf8(v) => json_string(v.get(row), out),
                    ColumnData::Timestamp(v) => {
                        json_string(&crate::data::column::format_timestamp(v[row]), out)
                    }
                    ColumnData::Decimal { values, scale, .. } => {
                        // A decimal's text is a valid JSON number: digits, a
                        // leading minus, and a point with digits on both sides.
                        let _ = write!(
                            out,
                            "{}",
                            Value::Decimal {
                                value: values[row],
                                scale: *scale,
                            }
                        );
                    }
                }
            }
            out.extend_from_slice(b"}\n");
        }
    }
}

/// Appends `s` as a JSON string literal.
fn json_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b if b < 0x20 || b == 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            b => out.push(b),
        }
    }
    out.push(b'"');
}

/// Bytes buffered before a sink writes.
const FLUSH_BYTES: usize = 1 << 16;

/// One shard's sink.
///
/// # Threading
/// Lives on its shard's executor and is used only there.
pub enum ShardSink {
    Stdout {
        buf: Vec<u8>,
        /// `Some` for JSON lines, `None` for CSV.
        json: Option<JsonRows>,
    },
    File {
        file: glommio::io::BufferedFile,
        pos: u64,
        buf: Vec<u8>,
        /// `Some` for JSON lines, `None` for CSV.
        json: Option<JsonRows>,
    },
    Collect(Vec<Batch>),
    Discard,
    Callback {
        shard: usize,
        callback: ResultCallback,
    },
    Ring(Producer<Batch>),
    Kafka(Box<KafkaShardSink>),
}

/// glommio's error as a plain `io::Error`: for an I/O failure, the OS error
/// itself (`Permission denied (os error 13)`), not glommio's debug text
/// (`..., op: Opening path: Some("...") with fd: None`). The caller's error
/// ([`Error::Sink`](crate::Error::Sink)) names the file.
fn plain_io_error<T>(e: glommio::GlommioError<T>) -> io::Error {
    match e {
        glommio::GlommioError::IoError(source)
        | glommio::GlommioError::EnhancedIoError { source, .. } => source,
        other => io::Error::from(other),
    }
}

impl ShardSink {
    /// Opens shard `shard`'s sink; a part file starts with the header line.
    /// With `resume` (a checkpoint's committed length, see
    /// [`crate::checkpoint`]), the part file is kept, already cut back to
    /// that length, and written on after it (no second header).
    pub async fn open(
        spec: &OutputSpec,
        shard: usize,
        schema: &Schema,
        resume: Option<u64>,
    ) -> io::Result<ShardSink> {
        let json = (spec.format() == OutputFormat::Json).then(|| JsonRows::new(schema));
        Ok(match spec {
            OutputSpec::Stdout | OutputSpec::StdoutJson => ShardSink::Stdout {
                buf: Vec::with_capacity(FLUSH_BYTES * 2),
                json,
            },
            OutputSpec::Directory(dir) | OutputSpec::DirectoryJson(dir) => {
                let name = match json {
                    Some(_) => json_part_name(shard),
                    None => part_name(shard),
                };
                let path = dir.join(name);
                let file = match resume {
                    Some(_) => glommio::io::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .buffered_open(&path)
                        .await
                        .map_err(plain_io_error)?,
                    None => glommio::io::BufferedFile::create(&path)
                        .await
                        .map_err(plain_io_error)?,
                };
                let pos = resume.unwrap_or(0);
                let mut buf = Vec::with_capacity(FLUSH_BYTES * 2);
                if json.is_none() && pos == 0 {
                    buf.extend_from_slice(schema.header().as_bytes());
                    buf.push(b'\n');
                }
                ShardSink::File {
                    file,
                    pos,
                    buf,
                    json,
                }
            }
            OutputSpec::Collect => ShardSink::Collect(Vec::new()),
            OutputSpec::Discard => ShardSink::Discard,
            OutputSpec::Callback(callback) => ShardSink::Callback {
                shard,
                callback: callback.clone(),
            },
            OutputSpec::Kafka(k) => ShardSink::Kafka(Box::new(k.take(shard, schema)?)),
            OutputSpec::Rings { .. } => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "no result ring was made for this shard",
                ))
            }
        })
    }

    /// A CSV file sink at `path` (created or truncated), starting with the
    /// header line of `header`, if given.
    pub async fn create_file(
        path: &std::path::Path,
        header: Option<&Schema>,
    ) -> io::Result<ShardSink> {
        let file = glommio::io::BufferedFile::create(path)
            .await
            .map_err(plain_io_error)?;
        let mut buf = Vec::with_capacity(FLUSH_BYTES * 2);
        if let Some(schema) = header {
            buf.extend_from_slice(schema.header().as_bytes());
            buf.push(b'\n');
        }
        Ok(ShardSink::File {
            file,
            pos: 0,
            buf,
            json: None,
        })
    }

    /// Accepts a batch of result rows; may buffer them.
    pub async fn write(&mut self, batch: Batch) -> io::Result<()> {
        match self {
            ShardSink::Stdout { buf, json } => {
                match json {
                    Some(j) => j.write(&batch, buf),
                    None => batch.write_csv(buf),
                }
                if buf.len() >= FLUSH_BYTES {
                    write_stdout_lines(buf)?;
                }
            }
            ShardSink::File { buf, json, .. } => {
                match json {
                    Some(j) => j.write(&batch, buf),
                    None => batch.write_csv(buf),
                }
                if buf.len() >= FLUSH_BYTES {
                    self.flush().await?;
                }
            }
            ShardSink::Collect(batches) => batches.push(batch),
            ShardSink::Discard => {}
            ShardSink::Callback { shard, callback } => {
                (callback.0)(*shard, batch).map_err(io::Error::other)?
            }
            ShardSink::Ring(producer) => push_waiting(producer, batch)?,
            ShardSink::Kafka(k) => k.write(&batch)?,
        }
        Ok(())
    }

    /// Writes the last column of `batch`, text, one line per row (a late
    /// record as read, see [`late::keeps_text`](super::late::keeps_text)):
    /// to a file or stdout; other sinks take the batch as it is.
    pub async fn write_text(&mut self, batch: &Batch) -> io::Result<()> {
        let Some(ColumnData::Utf8(text)) = batch.columns.last().map(|c| &c.data) else {
            return self.write(batch.clone()).await;
        };
        let (ShardSink::Stdout { buf, .. } | ShardSink::File { buf, .. }) = self else {
            return self.write(batch.clone()).await;
        };
        for i in 0..batch.len {
            buf.extend_from_slice(text.get_bytes(i));
            buf.push(b'\n');
        }
        if buf.len() >= FLUSH_BYTES {
            match self {
                ShardSink::Stdout { buf, .. } => write_stdout_lines(buf)?,
                _ => self.flush().await?,
            }
        }
        Ok(())
    }

    /// Writes out everything buffered.
    pub async fn flush(&mut self) -> io::Result<()> {
        match self {
            ShardSink::Stdout { buf, .. } => write_stdout_lines(buf),
            ShardSink::File { file, pos, buf, .. } => {
                let mut data = std::mem::take(buf);
                while !data.is_empty() {
                    let n = file
                        .write_at(data.clone(), *pos)
                        .await
                        .map_err(plain_io_error)?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "the file accepted no bytes",
                        ));
                    }
                    *pos += n as u64;
                    data.drain(..n);
                }
                *buf = data;
                Ok(())
            }
            ShardSink::Collect(_)
            | ShardSink::Discard
            | ShardSink::Callback { .. }
            | ShardSink::Ring(_)
            | ShardSink::Kafka(_) => Ok(()),
        }
    }

    /// The bytes written to the part file so far (after a
    /// [`flush`](Self::flush), all of them); `None` for other sinks.
    pub fn written(&self) -> Option<u64> {
        match self {
            ShardSink::File { pos, .. } => Some(*pos),
            _ => None,
        }
    }

    /// Flushes and closes; returns the collected batches for a collect sink.
    pub async fn close(mut self) -> io::Result<Vec<Batch>> {
        self.flush().await?;
        match self {
            ShardSink::File { file, .. } => {
                file.close().await.map_err(plain_io_error)?;
                Ok(Vec::new())
            }
            ShardSink::Collect(batches) => Ok(batches),
            ShardSink::Kafka(k) => k.close().map(|()| Vec::new()),
            _ => Ok(Vec::new()),
        }
    }
}

/// Pushes `batch` on a result ring, waiting (backoff, then yielding the
/// core) while it is full. Fails if the application dropped the consumer:
/// the results could never be read.
fn push_waiting(producer: &mut Producer<Batch>, mut batch: Batch) -> io::Result<()> {
    let backoff = Backoff::new();
    loop {
        if producer.is_abandoned() {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the application dropped the result ring's consumer",
            ));
        }
        match producer.push(batch) {
            Ok(()) => return Ok(()),
            Err(PushError::Full(b)) => {
                batch = b;
                if backoff.is_completed() {
                    std::thread::yield_now();
                } else {
                    backoff.snooze();
                }
            }
        }
    }
}

/// One result ring per shard: the producers for the shards, the consumers
/// for the application.
pub fn result_rings(
    shards: usize,
    capacity: usize,
) -> (Vec<Producer<Batch>>, Vec<Consumer<Batch>>) {
    (0..shards)
        .map(|_| crate::runtime::ring::ring(capacity.max(1)))
        .unzip()
}

/// Writes `buf`, which holds whole lines, to stdout in chunks of at most
/// `PIPE_BUF` bytes that end on a newline; leaves `buf` empty.
fn write_stdout_lines(buf: &mut Vec<u8>) -> io::Result<()> {
    let mut rest: &[u8] = buf;
    while !rest.is_empty() {
        let limit = rest.len().min(libc::PIPE_BUF);
        let end = if limit == rest.len() {
            limit
        } else {
            // The last newline within the limit; a longer line goes out whole.
            match rest[..limit].iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |p| p + 1),
            }
        };
        write_all_fd(1, &rest[..end])?;
        rest = &rest[end..];
    }
    buf.clear();
    Ok(())
}

fn write_all_fd(fd: i32, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        // SAFETY: `data` is a valid, initialised byte slice for the whole call
        // and the length passed is its length.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Writes one line to stdout in a single call (the header, before shards start).
pub fn write_stdout_line(line: &str) -> io::Result<()> {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    write_all_fd(1, &buf)
}
