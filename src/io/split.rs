//! Reading one file in parallel: byte ranges that start at line boundaries,
//! one source (and one router) per range.
//!
//! The file is cut into `n` ranges of about equal size; each cut is moved
//! forward to just after the next newline, so every range holds whole lines.
//! Cuts that fall together (a line longer than a range, or a file with fewer
//! lines than readers) make one cut: no range is empty (but the only range of
//! an empty file), so a file may get fewer readers than asked, and the range
//! that ends at the file's end is always the last one. The first range keeps
//! the header; the others are read with the first one's schema and no header.
//!
//! # What a split changes
//! - **Order.** Each range is read in order, but the ranges are read at once,
//!   so rows of different ranges reach a shard interleaved. Plans whose results
//!   depend on arrival order ([`QueryPlan::needs_arrival_order`]) are never
//!   split. Event time still works: each router has its own watermark and a
//!   shard follows the smallest of them, so a split never makes a row late
//!   that reading in order would not.
//! - **Line numbers** in errors and the dead-letter file stay the file's
//!   lines: a range's first line number is found, when it is first needed, by
//!   counting the newlines before it ([`lines_before`]).
//! - **Quoted line breaks.** A CSV field may hold a newline inside quotes; a
//!   cut can then fall inside a record. The range before such a cut ends in
//!   an open quoted field, and its reader stops the run with an error that
//!   says to read the file with one reader (`--readers 1`). JSON lines cannot
//!   hold a raw newline, so they always split cleanly.
//!
//! [`QueryPlan::needs_arrival_order`]: crate::sql::plan::QueryPlan::needs_arrival_order

use super::json::JsonSource;
use super::lines::Input;
use super::source::Source;
use super::text::{InputFormat, TextOptions, TextSource};
use crate::data::Schema;
use crate::error::Error;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A file smaller than this per extra reader is read by one reader when the
/// number of readers is left to the engine: splitting it would gain less
/// than the threads cost.
pub const MIN_BYTES_PER_READER: u64 = 16 << 20;

/// One byte range of a file read by several readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub path: PathBuf,
    /// The first byte: 0, or just after a newline.
    pub start: u64,
    /// One past the last byte: the next part's start, or the file's length.
    pub end: u64,
    /// Whether this is the file's last part (its end is the end of the input).
    pub last: bool,
}

impl Part {
    /// An input that reads this part's bytes, named by the file's path.
    pub fn open(&self) -> Result<Input, Error> {
        let mut file = File::open(&self.path).map_err(|source| Error::Io {
            what: format!("cannot open input {}", self.path.display()),
            source,
        })?;
        file.seek(SeekFrom::Start(self.start))
            .map_err(|source| Error::Io {
                what: format!(
                    "cannot seek to byte {} of input {}",
                    self.start,
                    self.path.display()
                ),
                source,
            })?;
        let mut input = Input::from_reader(
            self.path.display().to_string(),
            Box::new(file.take(self.end - self.start)),
        );
        input.part = Some(self.clone());
        Ok(input)
    }
}

/// How many readers a file of `len` bytes gets when the engine chooses: one
/// per shard, but none with less than [`MIN_BYTES_PER_READER`].
pub fn auto_readers(len: u64, shards: usize) -> usize {
    let by_size = (len / MIN_BYTES_PER_READER).max(1);
    (shards as u64).min(by_size).max(1) as usize
}

/// Cuts the file at `path` into at most `n` parts of whole lines, none empty
/// unless the file is (see the module docs).
pub fn parts(path: &Path, n: usize) -> io::Result<Vec<Part>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let n = n.max(1) as u64;
    let mut starts = vec![0u64];
    for k in 1..n {
        let target = len * k / n;
        let prev = *starts.last().unwrap_or(&0);
        let cut = if target <= prev {
            prev
        } else {
            line_start_at_or_after(&file, target, len)?
        };
        starts.push(cut.max(prev));
    }
    // No empty range: an empty range before the last would end where the
    // next starts, at the file's end or on a start it shares; and two ranges
    // starting at 0 would both read the header.
    starts.dedup();
    if starts.len() > 1 && starts.last() == Some(&len) {
        starts.pop();
    }
    let parts = starts
        .iter()
        .enumerate()
        .map(|(k, &start)| {
            let end = starts.get(k + 1).copied().unwrap_or(len);
            Part {
                path: path.to_owned(),
                start,
                end,
                last: k + 1 == starts.len(),
            }
        })
        .collect();
    Ok(parts)
}

/// The first line start at or after `at` (0 < `at` <= `len`): the byte after
/// the first newline at `at - 1` or later, or `len` when there is none.
fn line_start_at_or_after(file: &File, at: u64, len: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = at - 1;
    while pos < len {
        let n = file.read_at(&mut buf, pos)?;
        if n == 0 {
            break;
        }
        if let Some(i) = buf[..n].iter().position(|&b| b == b'\n') {
            return Ok(pos + i as u64 + 1);
        }
        pos += n as u64;
    }
    Ok(len)
}

/// Lines that end before byte `offset` of the file at `path`: the number of
/// the line at `offset`, less one. Used only when an error must name a line.
pub fn lines_before(path: &Path, offset: u64) -> io::Result<u64> {
    let mut file = File::open(path)?.take(offset);
    let mut buf = vec![0u8; 256 * 1024];
    let mut lines = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(lines),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

/// One source per part of the file at `path`, all typed by `schema` (the
/// schema a source over the whole file found): the first part reads the
/// header if `options` say there is one, the others have none.
pub fn open_parts(
    path: &str,
    options: &TextOptions,
    schema: &Schema,
    readers: usize,
) -> Result<Vec<Box<dyn Source>>, Error> {
    let parts = parts(Path::new(path), readers).map_err(|source| Error::Io {
        what: format!("cannot split input {path} into {readers} byte ranges"),
        source,
    })?;
    parts
        .iter()
        .map(|part| open_part(part, options, schema))
        .collect()
}

/// A source over one part, with the file's `schema`; only a part at the
/// file's start reads the header.
pub fn open_part(
    part: &Part,
    options: &TextOptions,
    schema: &Schema,
) -> Result<Box<dyn Source>, Error> {
    let options = TextOptions {
        header: options.header && part.start == 0,
        schema: Some(schema.clone()),
        ..options.clone()
    };
    let input = part.open()?;
    let path = part.path.to_string_lossy();
    Ok(match options.format.for_path(&path) {
        InputFormat::Json => Box::new(JsonSource::open(input, &options)?) as Box<dyn Source>,
        InputFormat::Csv | InputFormat::Auto => Box::new(TextSource::open(input, &options)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file removed on drop.
    struct TempFile(PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn file_with(text: &str) -> (TempFile, PathBuf) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "corestream-split-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        (TempFile(path.clone()), path)
    }

    fn texts(path: &Path, parts: &[Part]) -> Vec<String> {
        let all = std::fs::read(path).unwrap();
        parts
            .iter()
            .map(|p| String::from_utf8(all[p.start as usize..p.end as usize].to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn parts_hold_whole_lines_and_cover_the_file() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let (_t, path) = file_with(&text);
        for n in 1..12 {
            let ps = parts(&path, n).unwrap();
            assert_eq!(ps.len(), n, "100 lines give {n} parts");
            assert_eq!(texts(&path, &ps).concat(), text, "{n} parts cover the file");
            for p in &texts(&path, &ps) {
                assert!(
                    !p.is_empty() && p.ends_with('\n'),
                    "{n}: {p:?} is whole lines"
                );
            }
            assert!(ps.last().unwrap().last);
            assert!(ps[..n - 1].iter().all(|p| !p.last));
        }
    }

    #[test]
    fn a_line_longer_than_a_part_makes_fewer_parts_none_empty() {
        let text = format!("{}\nshort\n", "x".repeat(1000));
        let (_t, path) = file_with(&text);
        let ps = parts(&path, 4).unwrap();
        assert_eq!(texts(&path, &ps).concat(), text);
        assert_eq!(ps.len(), 2);
        assert!(texts(&path, &ps).iter().all(|t| !t.is_empty()));
    }

    #[test]
    fn a_last_line_without_a_newline_is_kept() {
        let (_t, path) = file_with("a\nb\nc\nlast");
        let ps = parts(&path, 3).unwrap();
        assert_eq!(texts(&path, &ps).concat(), "a\nb\nc\nlast");
    }

    #[test]
    fn more_readers_than_lines_give_one_part_per_line_the_last_last() {
        for text in ["h\n1\n2\n3", "h\n1\n2\n3\n", ""] {
            let (_t, path) = file_with(text);
            for n in 1..40 {
                let ps = parts(&path, n).unwrap();
                assert_eq!(texts(&path, &ps).concat(), text, "{n} parts cover {text:?}");
                assert!(ps.len() <= n.min(4), "{n} parts of {text:?}: {ps:?}");
                assert_eq!(ps.iter().filter(|p| p.start == 0).count(), 1);
                assert!(ps.iter().all(|p| p.start < p.end || text.is_empty()));
                assert!(ps.last().unwrap().last && ps.last().unwrap().end == text.len() as u64);
            }
        }
    }

    #[test]
    fn lines_before_counts_newlines() {
        let (_t, path) = file_with("a\nbb\nccc\n");
        assert_eq!(lines_before(&path, 0).unwrap(), 0);
        assert_eq!(lines_before(&path, 2).unwrap(), 1);
        assert_eq!(lines_before(&path, 5).unwrap(), 2);
        assert_eq!(lines_before(&path, 9).unwrap(), 3);
    }

    #[test]
    fn auto_readers_needs_enough_bytes_per_reader() {
        assert_eq!(auto_readers(1000, 8), 1);
        assert_eq!(auto_readers(3 * MIN_BYTES_PER_READER, 8), 3);
        assert_eq!(auto_readers(100 * MIN_BYTES_PER_READER, 8), 8);
        assert_eq!(auto_readers(100 * MIN_BYTES_PER_READER, 1), 1);
    }
}
