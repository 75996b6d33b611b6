//! The manifest: the commit point of a checkpoint.
//!
//! `manifest-<epoch>.json` is the JSON of a [`Manifest`] followed by a line
//! `crc32 <hex>` over that JSON. It is written to a temporary name, fsynced,
//! renamed and the directory fsynced ([`Manifest::commit`]), so a crash
//! leaves either the whole manifest or none; a torn or edited one fails its
//! checksum and is skipped ([`latest`]).

use crate::io::split::Part;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped when the manifest's meaning changes incompatibly.
pub const MANIFEST_VERSION: u32 = 1;

/// Where one reader resumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourcePosition {
    /// A byte range of a file: the rest, `[start, end)`, is still to read;
    /// `start` is at a record boundary.
    File {
        path: PathBuf,
        start: u64,
        end: u64,
        /// The file's last range (its end is the end of the input).
        last: bool,
    },
    /// The trades generator: its next record's number and random state.
    Trades {
        next: u64,
        rng: rand_xoshiro::Xoshiro256PlusPlus,
    },
    /// A Nexmark stream: its next event's number (every event is a
    /// function of the seed and its number).
    Nexmark { next: u64 },
    /// A Kafka topic (see [`crate::io::kafka::source`]).
    Kafka(KafkaPosition),
}

/// Where a Kafka input resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaPosition {
    /// Per partition, the offset of the next record to read: every record
    /// before it has been routed.
    pub offsets: BTreeMap<i32, i64>,
    /// `stop=end`: each partition's end offset when the first run started,
    /// so a resumed run stops where the uninterrupted one would.
    pub ends: Option<BTreeMap<i32, i64>>,
    /// Per partition, the largest event time read (its watermark goes on
    /// from there).
    pub max_seen: BTreeMap<i32, i64>,
}

impl KafkaPosition {
    /// The position of several readers of one topic, for each of them to
    /// resume from (partitions may have moved between them): per partition
    /// the furthest offset and the largest event time any of them had.
    pub fn merge<'a>(positions: impl IntoIterator<Item = &'a KafkaPosition>) -> KafkaPosition {
        let mut merged = KafkaPosition::default();
        for p in positions {
            for (&partition, &offset) in &p.offsets {
                let o = merged.offsets.entry(partition).or_insert(offset);
                *o = (*o).max(offset);
            }
            for (&partition, &seen) in &p.max_seen {
                let t = merged.max_seen.entry(partition).or_insert(seen);
                *t = (*t).max(seen);
            }
            if merged.ends.is_none() {
                merged.ends = p.ends.clone();
            }
        }
        merged
    }
}

impl SourcePosition {
    /// The rest of `part` after its first `consumed` bytes.
    pub fn resumed(part: &Part, consumed: u64) -> SourcePosition {
        SourcePosition::File {
            path: part.path.clone(),
            start: part.start + consumed,
            end: part.end,
            last: part.last,
        }
    }
}

/// One reader's entry in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderState {
    pub position: SourcePosition,
    /// The largest event time the reader had seen (`i64::MIN`: none), from
    /// which its watermark goes on.
    pub max_event_time: i64,
}

/// A committed checkpoint (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub epoch: u64,
    /// [`HASH_ID`](crate::exec::hash::HASH_ID) of the build that wrote it.
    pub hash_id: String,
    /// The plan's fingerprint ([`super::support::fingerprint`]).
    pub fingerprint: String,
    pub shards: usize,
    /// Per run input, its readers.
    pub inputs: Vec<Vec<ReaderState>>,
    /// Per shard, the state file's name in the directory.
    pub states: Vec<String>,
    /// Per part file, its committed length (`None`: the output is not a
    /// directory): one per shard, and after them those of a run on more
    /// shards before, which stay part of the output.
    pub parts: Vec<Option<u64>>,
    /// The run finished: the next one starts from the beginning.
    pub finished: bool,
}

/// A manifest's file name.
pub fn file_name(epoch: u64) -> String {
    format!("manifest-{epoch:010}.json")
}

/// A shard's state file name.
pub fn state_name(epoch: u64, shard: usize) -> String {
    format!("state-{epoch:010}-{shard}.bin")
}

impl Manifest {
    /// Writes the manifest into `dir` atomically (see the module docs).
    pub fn commit(&self, dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let text = format!("{json}\ncrc32 {:08x}\n", crc32fast::hash(json.as_bytes()));
        let name = file_name(self.epoch);
        let tmp = dir.join(format!("{name}.tmp"));
        let mut f = File::create(&tmp)?;
        let half = text.len() / 2;
        f.write_all(&text.as_bytes()[..half])?;
        super::fault::point("manifest-half", self.epoch);
        f.write_all(&text.as_bytes()[half..])?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, dir.join(&name))?;
        super::fault::point("manifest-renamed", self.epoch);
        sync_dir(dir)
    }

    /// Parses a manifest file's text; `Err` says what is wrong with it.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let (json, tail) = text
            .rsplit_once("\ncrc32 ")
            .ok_or("no checksum line (torn?)")?;
        let crc = u32::from_str_radix(tail.trim_end(), 16).map_err(|_| "bad checksum line")?;
        if crc32fast::hash(json.as_bytes()) != crc {
            return Err("checksum mismatch".into());
        }
        let m: Manifest = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if m.version != MANIFEST_VERSION {
            return Err(format!(
                "manifest version {}; this build reads version {MANIFEST_VERSION}",
                m.version
            ));
        }
        Ok(m)
    }
}

/// Fsyncs a directory, so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The epochs of the manifests in `dir`, newest first.
pub fn epochs(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut epochs: Vec<u64> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("manifest-")?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    Ok(epochs)
}

/// Removes the manifests and state files older than the newest `keep`
/// manifests, and temporary files left by a crash.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<()> {
    let epochs = epochs(dir)?;
    let Some(&oldest_kept) = epochs.get(keep.saturating_sub(1)) else {
        return Ok(());
    };
    for entry in fs::read_dir(dir)?.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let epoch = name
            .strip_prefix("manifest-")
            .or_else(|| name.strip_prefix("state-"))
            .and_then(|rest| rest.get(..10))
            .and_then(|digits| digits.parse::<u64>().ok());
        let stale = epoch.is_some_and(|e| e < oldest_kept) || name.ends_with(".tmp");
        if stale {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(epoch: u64) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            epoch,
            hash_id: "h".into(),
            fingerprint: "f".into(),
            shards: 2,
            inputs: vec![vec![ReaderState {
                position: SourcePosition::File {
                    path: "in.csv".into(),
                    start: 10,
                    end: 99,
                    last: true,
                },
                max_event_time: 5,
            }]],
            states: vec![state_name(epoch, 0), state_name(epoch, 1)],
            parts: vec![Some(3), None],
            finished: false,
        }
    }

    #[test]
    fn commits_atomically_parses_back_and_prunes() {
        let dir = std::env::temp_dir().join(format!("cs-manifest-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for e in 1..=4 {
            manifest(e).commit(&dir).unwrap();
            fs::write(dir.join(state_name(e, 0)), b"x").unwrap();
        }
        fs::write(dir.join("manifest-0000000005.json.tmp"), b"torn").unwrap();
        prune(&dir, 2).unwrap();
        assert_eq!(epochs(&dir).unwrap(), vec![4, 3]);
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "manifest-0000000003.json",
                "manifest-0000000004.json",
                "state-0000000003-0.bin",
                "state-0000000004-0.bin"
            ]
        );
        let text = fs::read_to_string(dir.join(file_name(4))).unwrap();
        assert_eq!(Manifest::parse(&text).unwrap(), manifest(4));
        // Torn anywhere, or edited: refused.
        for cut in [0, 10, text.len() / 2, text.len() - 3] {
            assert!(Manifest::parse(&text[..cut]).is_err(), "cut at {cut}");
        }
        let edited = text.replacen("\"start\": 10", "\"start\": 11", 1);
        assert!(Manifest::parse(&edited).unwrap_err().contains("checksum"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
