//! What happens to late records: rows behind the watermark by more than the
//! allowed lateness, which no window will ever count.
//!
//! Either way they are counted (`late` in the summary, so the accounting
//! identity holds); with [`LatePolicy::SideOutput`] each shard also writes
//! them, unchanged (every input column, as CSV with a header), to its own
//! file `late-<shard>.csv` in the given directory.

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

/// Shard `shard`'s late-record file in `dir`.
pub fn late_file(dir: &Path, shard: usize) -> PathBuf {
    dir.join(format!("late-{shard}.csv"))
}
