//! `corestream gen nexmark`: the three streams written as CSV files,
//! `DIR/person.csv`, `DIR/auction.csv` and `DIR/bid.csv`, and q13's side
//! input as `DIR/side_input.csv`.
//!
//! Each has a header row and its stream's columns, written as the engine's
//! CSV sinks write rows ([`Batch::write_csv`]: timestamps ISO 8601 UTC with
//! milliseconds, strings quoted when CSV needs it), so reading a file back
//! gives the rows the generator gives. No file is ever overwritten.

use super::options::NexmarkOptions;
use super::side_input::{self, SideInput};
use super::source::NexmarkSource;
use super::stream::Stream;
use crate::data::Batch;
use crate::error::Error;
use crate::io::source::{Poll, Source};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Rows per batch while writing.
const BATCH_ROWS: usize = 4096;
/// Bytes formatted before each write.
const WRITE_BYTES: usize = 1 << 20;

/// One file written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The stream's name (or the side input's).
    pub name: &'static str,
    pub path: PathBuf,
    pub rows: u64,
}

/// The names of the files written: the streams', then the side input's.
fn names() -> impl Iterator<Item = &'static str> {
    (Stream::ALL.into_iter().map(Stream::name)).chain([side_input::NAME])
}

/// The path of the file of `name` (a stream's or the side input's) in `dir`.
pub fn path_of(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.csv"))
}

fn exists_error(path: &Path) -> Error {
    Error::Config(format!(
        "{} exists: corestream gen nexmark does not overwrite files; remove it or choose another --out",
        path.display()
    ))
}

/// Writes the three streams of `options` (which must give `events`) and
/// the side input into `dir`, creating it if missing. Refuses, before
/// writing anything, when any of the four files exists.
pub fn write_csv_files(options: &NexmarkOptions, dir: &Path) -> Result<Vec<Written>, Error> {
    if options.events.is_none() {
        return Err(Error::Config(
            "corestream gen nexmark needs --events: the streams never end without it".into(),
        ));
    }
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Config(format!(
            "--out {}: not a directory (gen nexmark writes four files into it)",
            dir.display()
        )));
    }
    for name in names() {
        let path = path_of(dir, name);
        // `symlink_metadata`: a dangling symlink is a file too.
        if path.symlink_metadata().is_ok() {
            return Err(exists_error(&path));
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        what: format!("cannot create the directory {}", dir.display()),
        source,
    })?;
    let unpaced = NexmarkOptions {
        rate: None,
        ..options.clone()
    };
    let mut written = Vec::new();
    for stream in Stream::ALL {
        let mut source = NexmarkSource::new(stream, unpaced.clone());
        written.push(write_source(&mut source, stream.name(), dir)?);
    }
    written.push(write_source(&mut SideInput::new(), side_input::NAME, dir)?);
    Ok(written)
}

/// Writes every row of `source` to `name`'s file in `dir`.
fn write_source(source: &mut dyn Source, name: &'static str, dir: &Path) -> Result<Written, Error> {
    let path = &path_of(dir, name);
    // `create_new`: a file made since the check above is still not overwritten.
    let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists_error(path)),
        Err(source) => {
            return Err(Error::Io {
                what: format!("cannot create {}", path.display()),
                source,
            })
        }
    };
    let mut out = Vec::with_capacity(WRITE_BYTES * 2);
    out.extend_from_slice(source.schema().header().as_bytes());
    out.push(b'\n');
    let mut rows = 0;
    loop {
        match source.poll(BATCH_ROWS, None)? {
            Poll::Batch(batch) => {
                rows += batch.len as u64;
                write_batch(&batch, &mut out, &mut file, path)?;
                source.reuse(batch);
            }
            Poll::End => break,
            // Unpaced, a poll always has rows until the end.
            Poll::Idle => {}
        }
    }
    write_out(&mut out, &mut file, path)?;
    Ok(Written {
        name,
        path: path.to_owned(),
        rows,
    })
}

fn write_batch(
    batch: &Batch,
    out: &mut Vec<u8>,
    file: &mut File,
    path: &Path,
) -> Result<(), Error> {
    batch.write_csv(out);
    if out.len() >= WRITE_BYTES {
        write_out(out, file, path)?;
    }
    Ok(())
}

fn write_out(out: &mut Vec<u8>, file: &mut File, path: &Path) -> Result<(), Error> {
    file.write_all(out).map_err(|source| Error::Io {
        what: format!("cannot write {}", path.display()),
        source,
    })?;
    out.clear();
    Ok(())
}
