//! The checkpoint coordinator: asks for checkpoints, gathers what the
//! routers and shards report, and commits each checkpoint (see the module
//! docs of [`crate::checkpoint`]).
//!
//! # Threading
//! Runs on a thread of its own (control plane), never on a shard's core:
//! the state files and fsyncs happen here. Routers read the requested
//! checkpoint from one atomic counter; everyone reports over a channel.

use super::manifest::{self, Manifest, ReaderState, MANIFEST_VERSION};
use super::state_file::{self, Header};
use super::{CheckpointConfig, CheckpointStats};
use crate::error::Error;
use crate::exec::hash::HASH_ID;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Instant;

/// What a router or a shard tells the coordinator.
#[derive(Debug)]
pub enum Report {
    /// Router `reader` of input `input` sent checkpoint `epoch`'s barrier
    /// with its source at `state`.
    Router {
        epoch: u64,
        input: usize,
        reader: usize,
        state: ReaderState,
    },
    /// The router has read all its input (or stopped) at `state`.
    RouterDone {
        input: usize,
        reader: usize,
        state: ReaderState,
    },
    /// Shard `shard` aligned on checkpoint `epoch`: its operators' state
    /// (one section per stage), and its part file's length then.
    Shard {
        epoch: u64,
        shard: usize,
        sections: Vec<Vec<u8>>,
        part_len: Option<u64>,
    },
}

/// A router's end: the requested checkpoint, and where to report.
#[derive(Debug, Clone)]
pub struct RouterHandle {
    requested: Arc<AtomicU64>,
    committed: Arc<AtomicU64>,
    reports: Sender<Report>,
    pub input: usize,
    pub reader: usize,
}

impl RouterHandle {
    /// The checkpoint asked for (0: none yet). One relaxed load: the value
    /// carries no data (the router reports over the channel).
    #[inline]
    pub fn requested(&self) -> u64 {
        self.requested.load(Ordering::Relaxed)
    }

    /// The last checkpoint committed (the run's, or the one it resumed).
    /// One relaxed load: the router keeps what the checkpoint held.
    #[inline]
    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::Relaxed)
    }

    /// Tells the coordinator; a coordinator that has gone is not an error
    /// of the data path (the run reports the coordinator's failure).
    pub fn report(&self, report: Report) {
        let _ = self.reports.send(report);
    }
}

/// Every router's end of a run with checkpoints, by run input and reader.
#[derive(Debug)]
pub struct RouterCheckpoints {
    pub handles: Vec<Vec<RouterHandle>>,
    /// Where each reader's largest event time resumes (`i64::MIN`: fresh).
    pub max_seen: Vec<Vec<i64>>,
}

/// Gathers reports and commits checkpoints.
pub struct Coordinator {
    config: CheckpointConfig,
    fingerprint: String,
    shards: usize,
    readers: Vec<usize>,
    /// Per shard, its part file (an output directory only).
    parts: Option<Vec<PathBuf>>,
    /// The committed lengths of part files beyond this run's shards (of a
    /// run on more shards before it): they stay part of the output.
    carried: Vec<Option<u64>>,
    requested: Arc<AtomicU64>,
    reports: Sender<Report>,
    receiver: Receiver<Report>,
    /// The last committed epoch.
    committed: u64,
    /// The same, for the routers.
    committed_shared: Arc<AtomicU64>,
    failed: Arc<AtomicBool>,
    stats: CheckpointStats,
}

/// The checkpoint being gathered.
struct InFlight {
    epoch: u64,
    asked: Instant,
    routers: Vec<Vec<Option<ReaderState>>>,
    shards: Vec<Option<ShardState>>,
}

/// One shard's part of a checkpoint.
#[derive(Clone)]
struct ShardState {
    sections: Vec<Vec<u8>>,
    part_len: Option<u64>,
}

impl Coordinator {
    /// A coordinator whose next checkpoint is `after + 1` (the checkpoint
    /// the run resumed from, or 0).
    pub fn new(
        config: CheckpointConfig,
        fingerprint: String,
        shards: usize,
        readers: Vec<usize>,
        parts: Option<Vec<PathBuf>>,
        resumed: Option<&Manifest>,
    ) -> Coordinator {
        let after = resumed.map_or(0, |m| m.epoch);
        let carried = resumed.map_or(Vec::new(), |m| m.parts.clone());
        let (reports, receiver) = channel();
        Coordinator {
            config,
            fingerprint,
            shards,
            readers,
            parts,
            carried,
            requested: Arc::new(AtomicU64::new(0)),
            reports,
            receiver,
            committed: after,
            committed_shared: Arc::new(AtomicU64::new(after)),
            failed: Arc::new(AtomicBool::new(false)),
            stats: CheckpointStats {
                resumed_from: resumed.map(|m| m.epoch),
                ..CheckpointStats::default()
            },
        }
    }

    pub fn router_handle(&self, input: usize, reader: usize) -> RouterHandle {
        RouterHandle {
            requested: self.requested.clone(),
            committed: self.committed_shared.clone(),
            reports: self.reports.clone(),
            input,
            reader,
        }
    }

    pub fn shard_sender(&self) -> Sender<Report> {
        self.reports.clone()
    }

    /// Set when a checkpoint could not be written: the run should stop.
    pub fn failed_flag(&self) -> Arc<AtomicBool> {
        self.failed.clone()
    }

    /// Asks for a checkpoint every interval and commits each one whole,
    /// until every router and shard has dropped its sender. Returns the
    /// readers' final states (for the finished manifest) or the first
    /// failure to write a checkpoint.
    pub fn run(mut self) -> Result<Finished, Error> {
        // Only the routers' and shards' senders keep the channel open.
        let (tx, rx) = channel();
        drop(std::mem::replace(&mut self.reports, tx));
        drop(rx);
        let mut done: Vec<Vec<Option<ReaderState>>> =
            self.readers.iter().map(|&r| vec![None; r]).collect();
        let mut flight: Option<InFlight> = None;
        let mut next_at = Instant::now() + self.config.interval;
        loop {
            let wait = next_at.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(wait) {
                Ok(Report::RouterDone {
                    input,
                    reader,
                    state,
                }) => done[input][reader] = Some(state),
                Ok(Report::Router {
                    epoch,
                    input,
                    reader,
                    state,
                }) => {
                    if let Some(f) = flight.as_mut().filter(|f| f.epoch == epoch) {
                        f.routers[input][reader] = Some(state);
                    }
                }
                Ok(Report::Shard {
                    epoch,
                    shard,
                    sections,
                    part_len,
                }) => {
                    if let Some(f) = flight.as_mut().filter(|f| f.epoch == epoch) {
                        f.shards[shard] = Some(ShardState { sections, part_len });
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if flight.is_none() {
                        let epoch = self.committed + 1;
                        flight = Some(InFlight {
                            epoch,
                            asked: Instant::now(),
                            routers: self.readers.iter().map(|&r| vec![None; r]).collect(),
                            shards: vec![None; self.shards],
                        });
                        self.requested.store(epoch, Ordering::Relaxed);
                    }
                    next_at = Instant::now() + self.config.interval;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let complete = flight.as_ref().is_some_and(|f| {
                f.shards.iter().all(Option::is_some)
                    && f.routers
                        .iter()
                        .zip(&done)
                        .all(|(rs, ds)| rs.iter().zip(ds).all(|(r, d)| r.is_some() || d.is_some()))
            });
            if complete {
                if let Some(f) = flight.take() {
                    if let Err(e) = self.commit(f, &done) {
                        self.failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
            }
        }
        Ok(Finished {
            readers: done,
            last: self.committed,
            stats: self.stats,
        })
    }

    fn commit(&mut self, f: InFlight, done: &[Vec<Option<ReaderState>>]) -> Result<(), Error> {
        let dir = &self.config.dir;
        let fail = |what: &str, e: std::io::Error| {
            Error::Checkpoint(format!("cannot write checkpoint {}: {what}: {e}", f.epoch))
        };
        let mut states = Vec::with_capacity(self.shards);
        let mut bytes_written = 0;
        let mut parts = Vec::with_capacity(self.shards);
        for (shard, s) in f.shards.iter().enumerate() {
            let ShardState { sections, part_len } = s.as_ref().expect("complete");
            let header = Header {
                hash_id: HASH_ID.into(),
                fingerprint: self.fingerprint.clone(),
                shard,
                epoch: f.epoch,
            };
            let name = manifest::state_name(f.epoch, shard);
            let bytes = state_file::encode(&header, sections);
            bytes_written += bytes.len() as u64;
            write_synced(&dir.join(&name), &bytes).map_err(|e| fail(&name, e))?;
            states.push(name);
            parts.push(*part_len);
        }
        parts.extend(self.carried.iter().skip(self.shards).copied());
        super::fault::point("state-written", f.epoch);
        for path in self.parts.iter().flatten() {
            File::open(path)
                .and_then(|f| f.sync_data())
                .map_err(|e| fail(&path.display().to_string(), e))?;
        }
        let inputs = f
            .routers
            .into_iter()
            .zip(done)
            .map(|(rs, ds)| {
                rs.into_iter()
                    .zip(ds)
                    .map(|(r, d)| r.or_else(|| d.clone()).expect("complete"))
                    .collect()
            })
            .collect();
        let m = Manifest {
            version: MANIFEST_VERSION,
            epoch: f.epoch,
            hash_id: HASH_ID.into(),
            fingerprint: self.fingerprint.clone(),
            shards: self.shards,
            inputs,
            states,
            parts,
            finished: false,
        };
        m.commit(dir).map_err(|e| fail("the manifest", e))?;
        manifest::prune(dir, 2).map_err(|e| fail("removing old checkpoints", e))?;
        self.committed = f.epoch;
        self.committed_shared.store(f.epoch, Ordering::Relaxed);
        let ms = f.asked.elapsed().as_secs_f64() * 1e3;
        self.stats.taken += 1;
        self.stats.last_ms = ms;
        self.stats.max_ms = self.stats.max_ms.max(ms);
        self.stats.last_bytes = bytes_written;
        Ok(())
    }
}

/// What the coordinator knows when the run is over.
pub struct Finished {
    pub readers: Vec<Vec<Option<ReaderState>>>,
    /// The last committed epoch.
    pub last: u64,
    pub stats: CheckpointStats,
}

/// Writes `bytes` to `path` and fsyncs it.
fn write_synced(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Marks the checkpoints in `config.dir` finished, after a run that read
/// all its input: the next run starts from the beginning.
pub fn mark_finished(
    config: &CheckpointConfig,
    fingerprint: &str,
    shards: usize,
    last: u64,
) -> Result<(), Error> {
    let m = Manifest {
        version: MANIFEST_VERSION,
        epoch: last + 1,
        hash_id: HASH_ID.into(),
        fingerprint: fingerprint.into(),
        shards,
        inputs: Vec::new(),
        states: Vec::new(),
        parts: Vec::new(),
        finished: true,
    };
    m.commit(&config.dir)
        .and_then(|()| manifest::prune(&config.dir, 1))
        .map_err(|e| Error::Checkpoint(format!("cannot mark the run finished: {e}")))
}
