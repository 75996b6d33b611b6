//! Per-shard sinks: each shard writes its own results, with no merge.
//!
//! - stdout: every shard writes whole lines with its own `write(2)` calls of at
//!   most `PIPE_BUF` bytes that end on a line boundary, so lines from different
//!   shards never interleave mid-line (writes of that size are atomic on pipes,
//!   and on regular files Linux serialises writes to one file description).
//! - a directory: shard `i` writes `DIR/part-<i>.csv`, with a header, through
//!   glommio's io_uring file I/O.
//! - collect: batches are kept in memory and handed back at the end (tests and
//!   embedding).
//! - discard: rows are counted, not formatted (benchmarks).

use crate::data::{Batch, Schema};
use std::io;
use std::path::PathBuf;

/// Where results go, as chosen by `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    Stdout,
    Directory(PathBuf),
    Collect,
    Discard,
}

impl OutputSpec {
    /// `-` is stdout; anything else is a directory for part files.
    pub fn parse(spec: &str) -> OutputSpec {
        if spec == "-" {
            OutputSpec::Stdout
        } else {
            OutputSpec::Directory(PathBuf::from(spec))
        }
    }

    /// A human name for messages: `stdout` or the part file path.
    pub fn describe(&self, shard: usize) -> String {
        match self {
            OutputSpec::Stdout => "stdout".into(),
            OutputSpec::Directory(d) => d.join(part_name(shard)).display().to_string(),
            OutputSpec::Collect => "memory".into(),
            OutputSpec::Discard => "discard".into(),
        }
    }
}

/// The file name of shard `shard`'s output part.
pub fn part_name(shard: usize) -> String {
    format!("part-{shard}.csv")
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
    },
    File {
        file: glommio::io::BufferedFile,
        pos: u64,
        buf: Vec<u8>,
    },
    Collect(Vec<Batch>),
    Discard,
}

impl ShardSink {
    /// Opens shard `shard`'s sink; a part file starts with the header line.
    pub async fn open(spec: &OutputSpec, shard: usize, schema: &Schema) -> io::Result<ShardSink> {
        Ok(match spec {
            OutputSpec::Stdout => ShardSink::Stdout {
                buf: Vec::with_capacity(FLUSH_BYTES * 2),
            },
            OutputSpec::Directory(dir) => {
                ShardSink::create_file(&dir.join(part_name(shard)), schema).await?
            }
            OutputSpec::Collect => ShardSink::Collect(Vec::new()),
            OutputSpec::Discard => ShardSink::Discard,
        })
    }

    /// A CSV file sink at `path` (created or truncated), starting with the header line.
    pub async fn create_file(path: &std::path::Path, schema: &Schema) -> io::Result<ShardSink> {
        let file = glommio::io::BufferedFile::create(path)
            .await
            .map_err(io::Error::from)?;
        let mut buf = Vec::with_capacity(FLUSH_BYTES * 2);
        buf.extend_from_slice(schema.header().as_bytes());
        buf.push(b'\n');
        Ok(ShardSink::File { file, pos: 0, buf })
    }

    /// Accepts a batch of result rows; may buffer them.
    pub async fn write(&mut self, batch: Batch) -> io::Result<()> {
        match self {
            ShardSink::Stdout { buf } => {
                batch.write_csv(buf);
                if buf.len() >= FLUSH_BYTES {
                    write_stdout_lines(buf)?;
                }
            }
            ShardSink::File { buf, .. } => {
                batch.write_csv(buf);
                if buf.len() >= FLUSH_BYTES {
                    self.flush().await?;
                }
            }
            ShardSink::Collect(batches) => batches.push(batch),
            ShardSink::Discard => {}
        }
        Ok(())
    }

    /// Writes out everything buffered.
    pub async fn flush(&mut self) -> io::Result<()> {
        match self {
            ShardSink::Stdout { buf } => write_stdout_lines(buf),
            ShardSink::File { file, pos, buf } => {
                let mut data = std::mem::take(buf);
                while !data.is_empty() {
                    let n = file
                        .write_at(data.clone(), *pos)
                        .await
                        .map_err(io::Error::from)?;
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
            ShardSink::Collect(_) | ShardSink::Discard => Ok(()),
        }
    }

    /// Flushes and closes; returns the collected batches for a collect sink.
    pub async fn close(mut self) -> io::Result<Vec<Batch>> {
        self.flush().await?;
        match self {
            ShardSink::File { file, .. } => {
                file.close().await.map_err(io::Error::from)?;
                Ok(Vec::new())
            }
            ShardSink::Collect(batches) => Ok(batches),
            _ => Ok(Vec::new()),
        }
    }
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
