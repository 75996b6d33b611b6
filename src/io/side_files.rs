//! The files a run writes, checked before anything is opened: no file the run
//! writes may be its input or another file it writes.
//!
//! A run writes its part files (`--output DIR`) and side files: the
//! dead-letter file (`--on-error dead-letter[=PATH]`), the metrics JSON
//! (`--metrics-json FILE`) and the late-record files (`--late side-output`,
//! `late-<shard>.csv` or `.jsonl` in `--late-dir`). Each is created or truncated, so one
//! named after the input would destroy it (`--on-error dead-letter=in.csv`
//! truncated the input to zero bytes), and one named after another would
//! overwrite results while the summary says the identity holds.
//! [`check`] refuses such a run up front, as a usage error (exit 2) that
//! names both files.
//!
//! Two names are the same file when they have the same device and inode
//! (so hard links, symlinks and `./` spellings are caught); a file that does
//! not exist yet is compared by its canonical path (the canonical parent
//! directory, else the absolute path with `.` and `..` resolved).

use super::late::{late_file, LatePolicy, RecordText};
use super::reject::OnError;
use super::sink::OutputSpec;
use super::source::file_path;
use crate::error::Error;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// What a run reads and writes, as the CLI flags name them.
#[derive(Debug, Clone)]
pub struct RunFiles<'a> {
    /// The `--input` specs, without their `NAME=` (only a file path names
    /// a file).
    pub inputs: &'a [&'a str],
    pub output: &'a OutputSpec,
    /// Shards: one part file and one late file each.
    pub shards: usize,
    /// The `--on-error` policy, before [`OnError::resolve`].
    pub on_error: &'a OnError,
    pub metrics_json: Option<&'a Path>,
    pub late: &'a LatePolicy,
    /// `--checkpoint-dir` is given: the part files a checkpoint committed
    /// are the run's own, which the engine checks against the checkpoint
    /// it resumes from (`Engine::run`), not this check.
    pub checkpointed: bool,
}

/// One file of a run, with the role it plays, for messages.
struct Named {
    role: String,
    path: PathBuf,
    id: FileId,
}

/// The identity of a file: its device and inode when it exists, else its
/// canonical path.
#[derive(Debug, PartialEq, Eq)]
enum FileId {
    Inode(u64, u64),
    Path(PathBuf),
}

impl FileId {
    fn of(path: &Path) -> FileId {
        match std::fs::metadata(path) {
            Ok(m) => FileId::Inode(m.dev(), m.ino()),
            Err(_) => FileId::Path(canonical(path)),
        }
    }
}

/// `path` made absolute: its parent canonicalised when it exists, else the
/// path joined to the working directory with `.` and `..` resolved by name.
fn canonical(path: &Path) -> PathBuf {
    if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(dir) = parent.canonicalize() {
            return dir.join(name);
        }
    }
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Named {
    fn new(role: String, path: PathBuf) -> Named {
        let id = FileId::of(&path);
        Named { role, path, id }
    }
}

/// Refuses a run in which a file it writes is its input or another file it
/// writes, whose `--output` is an existing file rather than a directory, or
/// whose `--output` directory holds part files the run would not write
/// ([`super::stale_parts`]).
/// Returns a [`Error::Config`] (exit 2) naming both files.
pub fn check(run: &RunFiles<'_>) -> Result<(), Error> {
    if let Some(dir) = run.output.directory() {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::Config(format!(
                "--output {}: is a file, not a directory; give a directory for the part \
                 files, or - for stdout",
                dir.display()
            )));
        }
    }
    if !run.checkpointed {
        super::stale_parts::check(run.output, run.shards)?;
    }
    let inputs: Vec<Named> = run
        .inputs
        .iter()
        .filter_map(|spec| file_path(spec))
        .map(|p| Named::new(format!("the input {p}"), p.into()))
        .collect();
    let mut written: Vec<Named> = Vec::new();
    if run.output.directory().is_some() {
        for shard in 0..run.shards {
            written.push(Named::new(
                format!("the part file of shard {shard}"),
                run.output.describe(shard).into(),
            ));
        }
    }
    if let OnError::DeadLetter(Some(path)) = run.on_error.clone().resolve(run.output.directory()) {
        written.push(Named::new("the dead-letter file (--on-error)".into(), path));
    }
    if let Some(path) = run.metrics_json {
        written.push(Named::new(
            "the metrics file (--metrics-json)".into(),
            path.into(),
        ));
    }
    if let LatePolicy::SideOutput(dir) = run.late {
        // Either name: which one depends on the input's format.
        for shard in 0..run.shards {
            for text in [RecordText::Csv, RecordText::Json] {
                written.push(Named::new(
                    format!("the late-record file of shard {shard}"),
                    late_file(dir, shard, Some(text)),
                ));
            }
        }
    }
    for (i, w) in written.iter().enumerate() {
        let mut earlier = inputs.iter().chain(&written[..i]);
        if let Some(other) = earlier.find(|o| o.id == w.id) {
            return Err(Error::Config(format!(
                "{} {} and {} {} are the same file; refusing to overwrite it: give {} another path",
                w.role,
                w.path.display(),
                other.role,
                other.path.display(),
                w.role,
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_resolve_dots_without_the_file() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            canonical(Path::new("no-such-dir/./x/../y.txt")),
            cwd.join("no-such-dir/y.txt")
        );
        assert_eq!(
            FileId::of(Path::new("not-here.txt")),
            FileId::of(Path::new("./not-here.txt"))
        );
    }
}
