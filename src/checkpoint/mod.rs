//! Checkpoints: a consistent snapshot of every shard's state and every
//! source's position, taken while the stream runs, and recovery from the
//! latest one after a crash (`--checkpoint-dir`, `--checkpoint-interval`).
//!
//! # Taking one (aligned barriers)
//! Every interval the [`Coordinator`] asks for checkpoint `n` by raising a
//! counter the routers read once per loop. A router that sees it hands over
//! its partial groups, sends its pending rows, notes its source's position
//! ([`Source::position`](crate::io::source::Source::position): taken only at
//! a record boundary, so it may wait a poll) and its largest event time,
//! sends [`Message::Barrier`](crate::runtime::message::Message::Barrier)`(n)`
//! to every shard, and tells the coordinator. A shard aligns each stage on
//! the rings that feed it (see [`crate::runtime::shard_inputs`]; a ring that
//! has ended counts as arrived: its rows all came before its end), so the
//! stage's state then holds exactly the rows before the barriers; it
//! encodes that state and sends the barrier on through the stage's
//! exchange. At the last stage the shard flushes its part file and hands
//! the states to the coordinator (which writes them off the shard's core).
//! No lock and no global pause.
//!
//! # Committing it
//! Once every shard and every router has reported checkpoint `n` (a router
//! that has ended reports its end position once), the coordinator writes
//! each shard's state file (`state-<n>-<shard>.bin`, fsynced), fsyncs the
//! part files, and writes the manifest (`manifest-<n>.json`: source
//! positions, part file lengths, state files) to a temporary file, fsyncs
//! it, renames it and fsyncs the directory. The manifest is the only commit
//! point; the last two are kept with their state files. Routers learn
//! that it is committed (one atomic counter) and tell their source
//! ([`Source::checkpoint_committed`](crate::io::source::Source::checkpoint_committed)):
//! a Kafka input commits the checkpoint's offsets to its group then.
//!
//! # Recovering
//! Running the same command again finds the latest manifest whose state
//! files are whole (a torn or corrupt one is skipped for the one before,
//! with a message), checks that it belongs to this query (the plan's
//! fingerprint) and hash function, truncates the part files back to their
//! committed lengths, restores each shard's state (split by key onto
//! another number of shards), and reads every file range (generator,
//! Kafka partition) on from its recorded position. Output rows after the checkpoint are produced again,
//! once. A run that finishes writes a last manifest marked finished: the
//! next run starts from the beginning.
//!
//! # What it covers
//! Every operator's state ([`snapshot`]) and every stage; inputs that can
//! be read again from a position ([`support::check_input`]: files, the
//! generators and Kafka topics); part files exactly once (stdout, Kafka
//! output and the embedding outputs at least once). See
//! docs/checkpoints.md.

pub mod coordinator;
pub mod fault;
pub mod manifest;
pub mod restore;
pub mod snapshot;
pub mod state_file;
pub mod support;

pub use coordinator::{Coordinator, Report};
pub use manifest::{Manifest, SourcePosition};

use std::path::PathBuf;
use std::time::Duration;

/// The checkpoint interval when a directory is given without one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// What a run's checkpoints took, for its summary.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CheckpointStats {
    /// Checkpoints committed by this run.
    pub taken: u64,
    /// The checkpoint this run resumed from.
    pub resumed_from: Option<u64>,
    /// From asking for the last checkpoint to its manifest's commit.
    pub last_ms: f64,
    /// The longest of them.
    pub max_ms: f64,
    /// The last checkpoint's state files, in bytes.
    pub last_bytes: u64,
}

impl CheckpointStats {
    /// The summary's line.
    pub fn render(&self) -> String {
        let resumed = self
            .resumed_from
            .map_or(String::new(), |n| format!("; resumed from checkpoint {n}"));
        match self.taken {
            0 => format!("checkpoints: none taken{resumed}"),
            n => format!(
                "checkpoints: {n} taken, the last in {:.1} ms with {} bytes of state, the longest {:.1} ms{resumed}",
                self.last_ms, self.last_bytes, self.max_ms
            ),
        }
    }
}

/// How a run checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// Where manifests and state files live.
    pub dir: PathBuf,
    pub interval: Duration,
    /// Ignore (and replace) checkpoints of another query instead of
    /// refusing to run.
    pub fresh: bool,
}
