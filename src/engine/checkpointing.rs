//! The engine's side of checkpoints: preparing a run to take them and to
//! resume from one (see [`crate::checkpoint`]).

use super::Engine;
use crate::checkpoint::coordinator::{Coordinator, RouterCheckpoints};
use crate::checkpoint::manifest::{KafkaPosition, ReaderState, SourcePosition};
use crate::checkpoint::restore::{self, Restored, ShardRestore};
use crate::checkpoint::{support, CheckpointConfig};
use crate::error::Error;
use crate::io::generator::TradesGenerator;
use crate::io::sink::{json_part_name, part_name, OutputFormat};
use crate::io::source::Source;
use crate::io::split::{self, Part};
use crate::io::text::TextOptions;
use std::path::PathBuf;

/// A run's checkpoint settings, and the checkpoint it resumes from.
pub struct CheckpointRun {
    pub config: CheckpointConfig,
    pub fingerprint: String,
    pub restored: Option<Restored>,
    /// Checkpoints skipped or cleared while looking for one, and why.
    pub notes: Vec<String>,
}

/// A run input as given, to open it again where a checkpoint left it.
pub struct InputSpec {
    pub spec: String,
    pub text: TextOptions,
}

impl Engine {
    /// Checks that checkpoints cover this run, finds the checkpoint to
    /// resume from, and if there is one, opens each run input's readers
    /// (`inputs[i]` gives run input `i`) where it left them.
    pub(super) fn prepare_checkpoints(
        &mut self,
        config: CheckpointConfig,
        inputs: &[InputSpec],
    ) -> Result<(), Error> {
        for input in inputs {
            support::check_input(&input.spec)?;
        }
        std::fs::create_dir_all(&config.dir).map_err(|source| Error::Io {
            what: format!(
                "cannot create checkpoint directory {}",
                config.dir.display()
            ),
            source,
        })?;
        let fingerprint = support::fingerprint(&self.plan);
        let found = restore::latest(&config, &fingerprint)?;
        if let Some(r) = &found.restored {
            let shards = self.cores.cores().len();
            if r.manifest.shards != shards && !support::splits_by_key(&self.plan) {
                return Err(Error::Config(format!(
                    "--checkpoint-dir: the checkpoint was taken on {} shards and this \
                     query's state cannot be split onto {shards}; run it on {} cores",
                    r.manifest.shards, r.manifest.shards
                )));
            }
            if r.manifest.inputs.len() != inputs.len() {
                return Err(Error::Checkpoint(
                    "the checkpoint has another number of inputs".into(),
                ));
            }
            for ((readers, input), sources) in
                (r.manifest.inputs.iter().zip(inputs)).zip(self.inputs.iter_mut())
            {
                let kafka: Option<Vec<&KafkaPosition>> = (readers.iter())
                    .map(|r| match &r.position {
                        SourcePosition::Kafka(k) => Some(k),
                        _ => None,
                    })
                    .collect();
                if let Some(positions) = kafka {
                    // A Kafka input goes on by itself (its clients are up),
                    // each reader from where any reader had got.
                    let merged = SourcePosition::Kafka(KafkaPosition::merge(positions));
                    for source in sources.iter_mut() {
                        source.take_checkpoints(Some(&merged))?;
                    }
                    continue;
                }
                let schema = sources[0].schema().clone();
                *sources = readers
                    .iter()
                    .map(|reader| open_at(&input.spec, &reader.position, &input.text, &schema))
                    .collect::<Result<_, _>>()?;
                for source in sources.iter_mut() {
                    source.take_checkpoints(None)?;
                }
            }
        } else {
            for source in self.inputs.iter_mut().flatten() {
                source.take_checkpoints(None)?;
            }
        }
        self.checkpoint = Some(CheckpointRun {
            config,
            fingerprint,
            restored: found.restored,
            notes: found.notes,
        });
        Ok(())
    }

    /// A run with checkpoints read all its input and is marked finished:
    /// each source hears that its final position is committed (a Kafka
    /// group commits its end offsets, where the next run starts).
    pub(super) fn all_consumed(&mut self, readers: &[Vec<Option<ReaderState>>]) {
        for (sources, states) in self.inputs.iter_mut().zip(readers) {
            for (source, state) in sources.iter_mut().zip(states) {
                if let Some(state) = state {
                    source.checkpoint_committed(&state.position);
                }
            }
        }
    }

    /// Where live metrics are served (see
    /// [`EngineBuilder::metrics_addr`](super::EngineBuilder::metrics_addr)).
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref()?.local_addr()
    }

    /// What looking for a checkpoint skipped or cleared, for the user.
    pub fn checkpoint_notes(&self) -> &[String] {
        self.checkpoint.as_ref().map_or(&[], |c| &c.notes)
    }

    /// Shard `shard`'s part file, when the output is a directory.
    pub(super) fn part_path(&self, shard: usize) -> Option<PathBuf> {
        let dir = self.output.directory()?;
        Some(dir.join(match self.output.format() {
            OutputFormat::Json => json_part_name(shard),
            _ => part_name(shard),
        }))
    }
}

/// A source over input `spec` that goes on from `position`.
fn open_at(
    spec: &str,
    position: &SourcePosition,
    text: &TextOptions,
    schema: &crate::data::Schema,
) -> Result<Box<dyn Source>, Error> {
    let generator = spec.strip_prefix("gen:").unwrap_or_default();
    Ok(match position {
        SourcePosition::File {
            path,
            start,
            end,
            last,
        } => {
            let part = Part {
                path: path.clone(),
                start: *start,
                end: *end,
                last: *last,
            };
            split::open_part(&part, text, schema)?
        }
        SourcePosition::Trades { next, rng } => {
            let mut g = TradesGenerator::from_spec(generator)?;
            g.resume(*next, rng.clone());
            Box::new(g)
        }
        SourcePosition::Nexmark { next } => crate::io::nexmark::open(generator, Some(*next))?,
        SourcePosition::Kafka(_) => {
            return Err(Error::Checkpoint(format!(
                "the checkpoint mixes a Kafka position with others for input {spec}"
            )))
        }
    })
}

/// A run's checkpoint machinery, made before the shards start.
pub(super) struct Checkpointing {
    pub coordinator: Coordinator,
    pub routers: RouterCheckpoints,
    pub restore: Option<std::sync::Arc<ShardRestore>>,
}

/// Sets up checkpoints for `engine`'s run: cuts the part files back to
/// the restored checkpoint's lengths, and makes the coordinator and every
/// router's and shard's end.
pub(super) fn start(engine: &Engine, readers: &[usize]) -> Result<Option<Checkpointing>, Error> {
    let Some(run) = &engine.checkpoint else {
        return Ok(None);
    };
    let shards = engine.cores.cores().len();
    if let Some(r) = &run.restored {
        if engine.output.directory().is_some() {
            restore::truncate_parts(&r.manifest, |s| engine.part_path(s).unwrap_or_default())?;
        }
    }
    let parts = engine
        .output
        .directory()
        .map(|_| (0..shards).filter_map(|s| engine.part_path(s)).collect());
    let coordinator = Coordinator::new(
        run.config.clone(),
        run.fingerprint.clone(),
        shards,
        readers.to_vec(),
        parts,
        run.restored.as_ref().map(|r| &r.manifest),
    );
    let max_seen = readers
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            (0..n)
                .map(|r| {
                    let restored = run.restored.as_ref();
                    let reader = restored.and_then(|x| x.manifest.inputs.get(i)?.get(r));
                    reader.map_or(i64::MIN, |x| x.max_event_time)
                })
                .collect()
        })
        .collect();
    let handles = readers
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|r| coordinator.router_handle(i, r)).collect())
        .collect();
    let restore = run.restored.as_ref().map(|r| {
        std::sync::Arc::new(ShardRestore {
            files: r.files.clone(),
            parts: r.manifest.parts.clone(),
            shards,
            routing: support::state_routing(&engine.plan),
        })
    });
    Ok(Some(Checkpointing {
        coordinator,
        routers: RouterCheckpoints { handles, max_seen },
        restore,
    }))
}
