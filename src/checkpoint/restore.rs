//! Finding the checkpoint to resume from, and handing each shard its state.

use super::manifest::{self, Manifest};
use super::snapshot;
use super::state_file;
use super::support::StateRouting;
use super::CheckpointConfig;
use crate::data::Column;
use crate::error::Error;
use crate::exec::hash::{hash_rows, shard_of, HASH_ID};
use crate::exec::pipeline::Pipeline;
use std::path::Path;
use std::sync::Arc;

/// A whole checkpoint: its manifest and every shard's state file.
pub struct Restored {
    pub manifest: Manifest,
    /// Per shard of the checkpoint, its state file's bytes (checked).
    pub files: Arc<Vec<Vec<u8>>>,
}

/// What [`latest`] found.
pub struct Found {
    /// The checkpoint to resume from; `None`: start from the beginning.
    pub restored: Option<Restored>,
    /// What was skipped or cleared, and why, for the user.
    pub notes: Vec<String>,
}

/// The newest whole checkpoint of this query in `config.dir` (see the
/// module docs of [`crate::checkpoint`]). Damaged ones are skipped with a
/// note; a finished run's, or any with `config.fresh`, are cleared, and the
/// run starts from the beginning. A checkpoint of another query (or hash
/// function) is refused.
pub fn latest(config: &CheckpointConfig, fingerprint: &str) -> Result<Found, Error> {
    let dir = &config.dir;
    let io = |e: std::io::Error| {
        Error::Checkpoint(format!("cannot read checkpoints in {}: {e}", dir.display()))
    };
    let mut notes = Vec::new();
    for epoch in manifest::epochs(dir).map_err(io)? {
        let name = manifest::file_name(epoch);
        let checked = std::fs::read_to_string(dir.join(&name))
            .map_err(|e| e.to_string())
            .and_then(|text| Manifest::parse(&text));
        let m = match checked {
            Ok(m) => m,
            Err(why) => {
                notes.push(format!("skipped checkpoint {epoch} ({name}: {why})"));
                continue;
            }
        };
        if m.finished || config.fresh {
            let why = match m.finished {
                true => "the run it belongs to finished",
                false => "--checkpoint-fresh",
            };
            clear(dir).map_err(io)?;
            notes.push(format!(
                "starting from the beginning: cleared the checkpoints in {} ({why})",
                dir.display()
            ));
            return Ok(Found {
                restored: None,
                notes,
            });
        }
        if m.hash_id != HASH_ID || m.fingerprint != fingerprint {
            return Err(Error::Config(format!(
                "--checkpoint-dir {}: its checkpoints belong to another query (or a build \
                 that plans or hashes it differently); use another directory, or add \
                 --checkpoint-fresh to discard them and start from the beginning",
                dir.display()
            )));
        }
        match read_states(dir, &m) {
            Ok(files) => {
                return Ok(Found {
                    restored: Some(Restored {
                        manifest: m,
                        files: Arc::new(files),
                    }),
                    notes,
                })
            }
            Err(why) => notes.push(format!("skipped checkpoint {epoch}: {why}")),
        }
    }
    if !notes.is_empty() {
        notes.push("no whole checkpoint: starting from the beginning".into());
    }
    Ok(Found {
        restored: None,
        notes,
    })
}

/// Every state file of `m`, each checked whole and of this checkpoint.
fn read_states(dir: &Path, m: &Manifest) -> Result<Vec<Vec<u8>>, String> {
    if m.states.len() != m.shards {
        return Err("the manifest lists a state file per shard".into());
    }
    m.states
        .iter()
        .enumerate()
        .map(|(shard, name)| {
            let bytes = std::fs::read(dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
            let (header, _) = state_file::decode(&bytes).map_err(|e| format!("{name}: {e}"))?;
            if header.shard != shard || header.epoch != m.epoch {
                return Err(format!("{name} belongs to another checkpoint"));
            }
            Ok(bytes)
        })
        .collect()
}

/// Removes every manifest and state file in `dir`.
fn clear(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("manifest-") || name.starts_with("state-") {
            std::fs::remove_file(entry.path())?;
        }
    }
    manifest::sync_dir(dir)
}

/// Cuts each part file back to the length checkpoint `m` committed, before
/// any shard opens it; `part_path(s)` names shard `s`'s.
pub fn truncate_parts(
    m: &Manifest,
    part_path: impl Fn(usize) -> std::path::PathBuf,
) -> Result<(), Error> {
    for (shard, len) in m.parts.iter().enumerate() {
        let Some(len) = *len else { continue };
        let path = part_path(shard);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| {
                f.set_len(len)?;
                f.sync_all()
            })
            .map_err(|e| {
                Error::Checkpoint(format!(
                    "cannot cut {} back to its committed {len} bytes: {e}",
                    path.display()
                ))
            })?;
        super::fault::point("truncating", m.epoch);
    }
    Ok(())
}

/// What one shard of the resumed run restores.
pub struct ShardRestore {
    pub files: Arc<Vec<Vec<u8>>>,
    /// Per shard of the checkpoint, its part file's committed length.
    pub parts: Vec<Option<u64>>,
    /// Shards of the resumed run.
    pub shards: usize,
    /// Per stage, how its state is owned by key.
    pub routing: Vec<StateRouting>,
}

impl ShardRestore {
    /// Shard `shard`'s part file's committed length: it writes on from there.
    pub fn part_len(&self, shard: usize) -> Option<u64> {
        self.parts.get(shard).copied().flatten()
    }

    /// Restores shard `shard`'s state into its `pipelines`: on as many
    /// shards as the checkpoint had, its own file; otherwise the groups it
    /// owns (by the routing hash of their keys) from every file.
    pub fn restore(&self, pipelines: &mut [Pipeline], shard: usize) -> Result<(), String> {
        let same = self.files.len() == self.shards;
        let files: Vec<&Vec<u8>> = match same {
            true => vec![&self.files[shard]],
            false => self.files.iter().collect(),
        };
        for bytes in files {
            let (_, sections) = state_file::decode(bytes)?;
            if sections.len() != pipelines.len() {
                return Err("the checkpoint has another number of stages".into());
            }
            let stages = sections.into_iter().zip(pipelines.iter_mut());
            for (k, (section, pipeline)) in stages.enumerate() {
                let state = snapshot::decode(section)?;
                let owner = |keys: &[Column], n: usize| -> Vec<u32> {
                    match keys {
                        _ if same => vec![shard as u32; n],
                        // No key: the one global group, shard 0's.
                        [] => vec![0; n],
                        _ => {
                            let refs: Vec<&Column> = keys.iter().collect();
                            let mut hashes = Vec::new();
                            hash_rows(&refs, n, &mut hashes);
                            hashes
                                .iter()
                                .map(|&h| shard_of(h, self.shards) as u32)
                                .collect()
                        }
                    }
                };
                let routing = self.routing.get(k).copied().unwrap_or_default();
                state.restore_into(pipeline, &owner, routing, shard)?;
            }
        }
        Ok(())
    }
}
