//! Part files of an earlier run that this run would not write.
//!
//! A run into `--output DIR` writes `DIR/part-<i>.<ext>` for each of its
//! shards `i` (`csv`, or `jsonl` with `--output-format json`), creating or
//! truncating each. Any other part file of that scheme already in `DIR` (a
//! shard number at or above this run's shard count, left by an earlier run
//! on more cores, or the other format's extension) would stay there and be
//! read with this run's results as if it were one of them. [`check`]
//! refuses such a run before anything is opened or written, as a usage
//! error (exit 2) that lists the files; it never deletes them (they are the
//! user's). Part files this run writes are overwritten as before.

use super::sink::{json_part_name, part_name, OutputFormat, OutputSpec};
use crate::error::Error;
use std::path::{Path, PathBuf};

/// How many stale files a message lists by name before it says "and N more".
const LISTED: usize = 8;

/// The shard number of a part file's name, `part-<n>.csv` or
/// `part-<n>.jsonl` (digits only, as the sinks write them), or `None`.
pub fn part_shard(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("part-")?;
    let digits = rest
        .strip_suffix(".csv")
        .or_else(|| rest.strip_suffix(".jsonl"))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The part files in `dir` that a run of `shards` shards writing `format`
/// would not write, sorted by name; empty when `dir` does not exist.
pub fn stale_parts(dir: &Path, shards: usize, format: OutputFormat) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut stale: Vec<(usize, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let shard = part_shard(&name)?;
            let written = shard < shards
                && name
                    == match format {
                        OutputFormat::Csv => part_name(shard),
                        OutputFormat::Json => json_part_name(shard),
                    };
            (!written).then(|| (shard, entry.path()))
        })
        .collect();
    stale.sort();
    stale.into_iter().map(|(_, path)| path).collect()
}

/// Refuses (with [`Error::Config`], exit 2) a run of `shards` shards into
/// `output` when its directory holds part files the run would not write
/// (see the module docs); does nothing for other outputs.
pub fn check(output: &OutputSpec, shards: usize) -> Result<(), Error> {
    let Some(dir) = output.directory() else {
        return Ok(());
    };
    let stale = stale_parts(dir, shards, output.format());
    if stale.is_empty() {
        return Ok(());
    }
    let mut listed: Vec<String> = stale
        .iter()
        .take(LISTED)
        .map(|p| p.display().to_string())
        .collect();
    if stale.len() > LISTED {
        listed.push(format!("and {} more", stale.len() - LISTED));
    }
    let (first, ext) = match output.format() {
        OutputFormat::Csv => (part_name(0), "csv"),
        OutputFormat::Json => (json_part_name(0), "jsonl"),
    };
    let last = shards.saturating_sub(1);
    Err(Error::Config(format!(
        "--output {}: it holds part files this run would not write ({}); they are from an \
         earlier run (on more shards, or in another --output-format) and would be read as \
         this run's results. This run writes {first} to part-{last}.{ext} ({shards} shards). \
         Move or remove the stale files, or give another --output directory",
        dir.display(),
        listed.join(", "),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sinks_own_names_are_part_files() {
        assert_eq!(part_shard("part-0.csv"), Some(0));
        assert_eq!(part_shard("part-12.jsonl"), Some(12));
        for other in [
            "part-.csv",
            "part-1.txt",
            "part-x.csv",
            "part--1.csv",
            "late-1.csv",
        ] {
            assert_eq!(part_shard(other), None, "{other}");
        }
    }
}
