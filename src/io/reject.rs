//! What happens to a record that does not decode: the `--on-error` policy.
//!
//! Every text source (CSV, JSON lines, TCP) hands its malformed records to one
//! [`Rejects`], which stops the run ([`OnError::Fail`]), counts them
//! ([`OnError::Skip`]), or counts them and writes them to a dead-letter file
//! ([`OnError::DeadLetter`]).
//!
//! # The dead-letter file
//! One line per malformed record, four fields separated by tabs:
//!
//! ```text
//! source<TAB>line<TAB>reason<TAB>raw
//! ```
//!
//! `line` is the record's first line in its source (1-based); `raw` is the
//! record's bytes without its final newline (for a record over the length
//! bound, only its first `max_line_bytes`). In `reason` and `raw`, a backslash,
//! tab, newline and carriage return are written `\\`, `\t`, `\n`, `\r`, and a
//! byte that is not UTF-8 as `\xNN`, so every record stays on one line. The
//! file is created (truncated) when the source opens, and written through
//! after every poll that rejected a record.
//!
//! # A file read in parallel
//! Each byte range's source has its own `Rejects` ([`Rejects::new`] with the
//! [`Part`]). They append to the one dead-letter file (opened `O_APPEND`; a
//! buffered write holds whole records, so records never interleave), and their
//! line numbers are the file's: the part's first line number is counted when
//! the first record is rejected.
//!
//! # Threading
//! Owned by the source, so used only on its router thread.

use super::split::{lines_before, Part};
use crate::error::Error;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The dead-letter file's name inside an output directory.
pub const DEAD_LETTER_IN_DIR: &str = "dead-letter.txt";
/// The dead-letter file when the output is not a directory (in the working directory).
pub const DEAD_LETTER_DEFAULT: &str = "corestream-dead-letter.txt";

/// What to do with a record that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop the run, naming the source, line and reason.
    Fail,
    /// Count it as malformed and go on.
    #[default]
    Skip,
    /// Count it and write it, with its reason, to a dead-letter file. `None`
    /// is the default place: `DIR/dead-letter.txt` when the output is a
    /// directory, else `./corestream-dead-letter.txt` (see
    /// [`OnError::resolve`]).
    DeadLetter(Option<PathBuf>),
}

impl OnError {
    /// Parses `fail`, `skip`, `dead-letter` or `dead-letter=PATH`.
    pub fn parse(text: &str) -> Result<OnError, Error> {
        match text {
            "fail" => Ok(OnError::Fail),
            "skip" => Ok(OnError::Skip),
            "dead-letter" => Ok(OnError::DeadLetter(None)),
            t => match t.strip_prefix("dead-letter=") {
                Some(p) if !p.is_empty() => Ok(OnError::DeadLetter(Some(PathBuf::from(p)))),
                _ => Err(Error::Config(format!(
                    "--on-error {text:?}: expected fail, skip, dead-letter or dead-letter=PATH"
                ))),
            },
        }
    }

    /// Fills in the default dead-letter path for an output directory (`None`: not a directory).
    pub fn resolve(self, output_dir: Option<&Path>) -> OnError {
        match self {
            OnError::DeadLetter(None) => OnError::DeadLetter(Some(match output_dir {
                Some(d) => d.join(DEAD_LETTER_IN_DIR),
                None => PathBuf::from(DEAD_LETTER_DEFAULT),
            })),
            other => other,
        }
    }
}

/// The malformed records of one source: counted, and handled by the policy.
#[derive(Debug)]
pub struct Rejects {
    fail: bool,
    count: u64,
    dead_letter: Option<(PathBuf, BufWriter<File>)>,
    /// Written since the last flush.
    dirty: bool,
    /// Lines of the file before the input's first line.
    line_base: LineBase,
}

/// Where an input's line 1 is in its file.
#[derive(Debug)]
enum LineBase {
    Known(u64),
    /// After the lines before this part's start; counted when first needed.
    Part(Part),
}

impl Rejects {
    /// Opens the dead-letter file (creating its directory) if the policy has
    /// one: created afresh for a whole input, or for a `part` of a file (one
    /// of several, or the rest after a checkpoint) appended to.
    pub fn new(policy: &OnError, part: Option<&Part>) -> Result<Rejects, Error> {
        let dead_letter = match policy.clone().resolve(None) {
            OnError::DeadLetter(Some(path)) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                        what: format!("cannot create the directory of {}", path.display()),
                        source,
                    })?;
                }
                let file = match part {
                    Some(p) if p.start > 0 || !p.last => {
                        OpenOptions::new().create(true).append(true).open(&path)
                    }
                    _ => File::create(&path),
                };
                let file = file.map_err(|source| Error::Io {
                    what: format!("cannot create the dead-letter file {}", path.display()),
                    source,
                })?;
                Some((path, BufWriter::new(file)))
            }
            _ => None,
        };
        Ok(Rejects {
            fail: *policy == OnError::Fail,
            count: 0,
            dead_letter,
            dirty: false,
            line_base: match part {
                Some(p) if p.start > 0 => LineBase::Part(p.clone()),
                _ => LineBase::Known(0),
            },
        })
    }

    /// The number in the whole file of the input's line `line`.
    pub fn line_in_file(&mut self, line: u64) -> Result<u64, Error> {
        let before = match &self.line_base {
            LineBase::Known(before) => *before,
            LineBase::Part(part) => {
                let before = lines_before(&part.path, part.start).map_err(|source| Error::Io {
                    what: format!("cannot count the lines of {}", part.path.display()),
                    source,
                })?;
                self.line_base = LineBase::Known(before);
                before
            }
        };
        Ok(before + line)
    }

    /// Records rejected so far (not under [`OnError::Fail`], which stops).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Handles one malformed record from `source` starting at `line`: an
    /// error under [`OnError::Fail`], otherwise counted (and written to the
    /// dead-letter file).
    pub fn reject(
        &mut self,
        source: &str,
        line: u64,
        reason: String,
        raw: &[u8],
    ) -> Result<(), Error> {
        let line = self.line_in_file(line)?;
        if self.fail {
            return Err(Error::Input {
                source: source.to_owned(),
                line,
                reason,
            });
        }
        self.count += 1;
        if let Some((path, out)) = &mut self.dead_letter {
            let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let mut rec = Vec::with_capacity(raw.len() + reason.len() + source.len() + 32);
            escape(source.as_bytes(), &mut rec);
            rec.push(b'\t');
            rec.extend_from_slice(line.to_string().as_bytes());
            rec.push(b'\t');
            escape(reason.as_bytes(), &mut rec);
            rec.push(b'\t');
            escape(raw, &mut rec);
            rec.push(b'\n');
            out.write_all(&rec)
                .map_err(|e| dead_letter_error(path, e))?;
            self.dirty = true;
        }
        Ok(())
    }

    /// Writes out what was rejected since the last flush.
    pub fn flush(&mut self) -> Result<(), Error> {
        if let (true, Some((path, out))) = (self.dirty, &mut self.dead_letter) {
            out.flush().map_err(|e| dead_letter_error(path, e))?;
            self.dirty = false;
        }
        Ok(())
    }
}

fn dead_letter_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        what: format!("cannot write the dead-letter file {}", path.display()),
        source,
    }
}

/// Appends `bytes` escaped as the module doc says.
fn escape(bytes: &[u8], out: &mut Vec<u8>) {
    for chunk in bytes.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\t' => out.extend_from_slice(b"\\t"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b => out.push(b),
            }
        }
        for &b in chunk.invalid() {
            out.extend_from_slice(format!("\\x{b:02X}").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_keep_a_record_on_one_line() {
        let mut out = Vec::new();
        escape(b"a\tb\\c\nd\xffe", &mut out);
        assert_eq!(out, b"a\\tb\\\\c\\nd\\xFFe");
    }

    #[test]
    fn parses_the_policies() {
        assert_eq!(OnError::parse("fail").unwrap(), OnError::Fail);
        assert_eq!(
            OnError::parse("dead-letter=x.txt").unwrap(),
            OnError::DeadLetter(Some("x.txt".into()))
        );
        assert!(OnError::parse("dead-letter=").is_err());
        assert!(OnError::parse("ignore").is_err());
    }
}
