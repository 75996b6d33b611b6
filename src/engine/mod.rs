//! The engine: a query, a core set, a source and a sink, run to completion.
//!
//! # Threading
//! The calling thread is the router; each shard runs on its own pinned
//! executor thread. A file read in parallel ([`EngineBuilder::readers`]) has
//! one router thread per byte range instead, pinned to the shard cores in
//! turn, while the calling thread waits for them. With
//! [`Engine::run_observed`], one more (unpinned) thread wakes every interval
//! to read the shards' relaxed counters and hand a [`Progress`] to the
//! observer; it touches nothing on the data path.
//!
//! [`Engine::spawn`] runs the same router on a thread of its own and hands
//! back a [`RunningEngine`] to stop and join it: the shape for embedding,
//! with input pushed through [`io::push`](crate::io::push) and results
//! taken per shard by callback or ring ([`OutputSpec`]).
//!
//! # Stopping
//! [`Engine::run_until`] stops reading the input once its `stop` condition is
//! true (checked at least every [`STOP_CHECK`](crate::runtime::router::STOP_CHECK)),
//! then finishes as at end of input: rings drain, shards emit what they hold
//! and flush their sinks, and the summary says `stopped`.
//!
//! # Failing
//! A run that fails once its shards have started (a source error, a
//! malformed record under `--on-error fail`, a shard or sink that failed)
//! still drains, flushes and closes every sink, but writes no result that
//! only the end of the input would release: no `EMIT FINAL` rows, no windows
//! closed by the end of input (see [`crate::runtime::shard`], A failed run).
//! Rows written before the failure (closed windows, `EMIT CHANGES`
//! updates) stay. [`Engine::run_reporting`] hands back the summary of such a
//! run with the error ([`RunFailure`]), the summary saying it failed
//! ([`RunSummary::failed`]); the other `run` methods return the error alone.

use crate::data::{Batch, Schema};
use crate::error::Error;
use crate::exec::partial_agg;
use crate::io::late::{self, LatePolicy};
use crate::io::sink::{write_stdout_line, OutputSpec};
use crate::io::source::{self, Source};
use crate::io::split;
use crate::running::RunningEngine;
use crate::runtime::cores::CoreSet;
use crate::runtime::doorbell::Doorbell;
use crate::runtime::exchange::{self, ExchangeOut};
use crate::runtime::inputs::{route_inputs, RunRouting};
use crate::runtime::message::Message;
use crate::runtime::metrics::{Latencies, Progress, RoutedCounter, RunSummary, ShardCounters};
use crate::runtime::metrics_http::{LiveView, MetricsEndpoint};
use crate::runtime::ring::{ring, Consumer, Producer};
use crate::runtime::router::{Batching, Lane};
use crate::runtime::shard::{self, IdlePolicy, ShardSpec, StartGate};
use crate::sql::plan::{port_of, QueryPlan};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod builder;
mod checkpointing;
pub mod collect_check;

pub use builder::EngineBuilder;

/// The default query: per trader and symbol, trades, average price, volume and value.
pub const DEFAULT_SQL: &str =
    "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, \
SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value \
FROM trades GROUP BY trader_id, symbol EMIT FINAL";

/// The default input: a million generated trades.
pub const DEFAULT_INPUT: &str = "gen:trades?records=1000000&traders=20&symbols=10&seed=7";

/// Messages (batches and control) each router-to-shard ring holds before the
/// router waits. With the push channel's and any result ring's capacity, it
/// bounds the batches in flight in an embedded engine.
pub const RING_CAPACITY: usize = 64;

/// Per exchange between two stages of `plan`, each shard's ends of it.
fn exchange_meshes(
    plan: &QueryPlan,
    doorbells: &[crate::sync::Arc<Doorbell>],
    batch_size: usize,
    capacity: usize,
) -> Vec<std::vec::IntoIter<(ExchangeOut, Vec<Consumer<Message>>)>> {
    let stages = plan.stages();
    plan.stage_links()
        .iter()
        .filter_map(|link| {
            let port = link.feeds?;
            let reader = stages[port / 2];
            Some(
                exchange::mesh(
                    &reader.inputs[port % 2].partitioning,
                    &link.plan.output_schema,
                    batch_size,
                    doorbells,
                    capacity,
                )
                .into_iter(),
            )
        })
        .collect()
}

/// A progress observer: called from the observer thread every interval.
pub type Observer<'a> = dyn FnMut(&Progress) + Send + 'a;

/// A planned query, ready to run.
pub struct Engine {
    plan: QueryPlan,
    cores: CoreSet,
    /// Per plan input (`plan.inputs`), one source per reader: a single
    /// source, or the byte ranges of a file.
    inputs: Vec<Vec<Box<dyn Source>>>,
    output: OutputSpec,
    late: LatePolicy,
    batching: Batching,
    partial_aggregation: bool,
    idle: IdlePolicy,
    exchange_capacity: usize,
    /// With [`OutputSpec::Rings`], one ring per shard: the shards' ends ...
    result_producers: Vec<Producer<Batch>>,
    /// ... and the application's, until it takes them.
    result_consumers: Vec<Consumer<Batch>>,
    /// Checkpoints, when the run takes them.
    checkpoint: Option<checkpointing::CheckpointRun>,
    /// Where live metrics are served, when asked for.
    metrics: Option<MetricsEndpoint>,
}

/// A run that failed: the error, and what the run did before it (`None`
/// when it failed before its shards started).
#[derive(Debug)]
pub struct RunFailure {
    pub error: Error,
    /// The summary (with [`RunSummary::failed`] set) and results so far.
    pub output: Option<Box<RunOutput>>,
}

impl From<Error> for RunFailure {
    fn from(error: Error) -> Self {
        RunFailure {
            error,
            output: None,
        }
    }
}

/// The outcome of a run.
#[derive(Debug)]
pub struct RunOutput {
    pub summary: RunSummary,
    /// The result columns.
    pub schema: Schema,
    /// Per shard, the result batches (with [`OutputSpec::Collect`] only).
    pub collected: Vec<Vec<Batch>>,
}

impl Engine {
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    pub fn plan(&self) -> &QueryPlan {
        &self.plan
    }

    pub fn cores(&self) -> &CoreSet {
        &self.cores
    }

    /// How many routers read the input (more than one for a file read in parallel).
    pub fn readers(&self) -> usize {
        self.inputs[0].len()
    }

    /// Whether the routers fold rows into partial groups in this run: the
    /// builder allows it, the plan can be split so, and the input is read by
    /// several readers, at least one per shard.
    pub fn partial_aggregation(&self) -> bool {
        self.partial_aggregation
            && self.readers() > 1
            && self.readers() >= self.cores.len()
            && partial_agg::splits(&self.plan)
    }

    /// The readers for `input`: as `requested` when that is possible, else
    /// (unset) as [`EngineBuilder::readers`] describes.
    fn readers_for(&self, input: &str, requested: Option<usize>) -> Result<usize, Error> {
        let file_len = source::file_path(input)
            .and_then(|path| std::fs::metadata(path).ok())
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let ordered = self.plan.first_stage().needs_arrival_order();
        match requested {
            Some(0) => Err(Error::Config("--readers must be at least 1".into())),
            Some(1) => Ok(1),
            Some(n) if file_len.is_none() && !input.starts_with("kafka://") => {
                Err(Error::Config(format!(
                    "--readers {n}: only a regular file or a Kafka topic can be read by several \
                     readers; {input} is not one"
                )))
            }
            Some(n) if ordered => Err(Error::Config(format!(
                "--readers {n}: this query's results depend on the order rows arrive in \
                 (row windows, or FIRST_VALUE/LAST_VALUE without an event time), and \
                 several readers (of byte ranges, of partitions) have no one order; use \
                 --readers 1"
            ))),
            Some(n) => Ok(n),
            None if ordered => Ok(1),
            None => Ok(file_len.map_or(1, |len| split::auto_readers(len, self.cores.len()))),
        }
    }

    /// With [`OutputSpec::Rings`], the application's end of each shard's
    /// result ring (index = shard), to drain while the engine runs (from
    /// other threads with [`run`](Self::run), or after [`spawn`](Self::spawn));
    /// empty for other outputs and once taken. Rings not taken before the run
    /// starts are dropped, and a shard with results for one fails.
    pub fn take_result_rings(&mut self) -> Vec<Consumer<Batch>> {
        std::mem::take(&mut self.result_consumers)
    }

    /// Starts the run on a new thread (`corestream-router`), which routes
    /// the input as [`run`](Self::run) does; returns at once with a handle to
    /// stop it, join it, and take its result rings.
    pub fn spawn(self) -> Result<RunningEngine, Error> {
        RunningEngine::start(self)
    }

    /// Runs until the input ends (or `stop` returns true), then drains every
    /// ring, flushes every shard and returns the summary.
    pub fn run(self) -> Result<RunOutput, Error> {
        self.run_until(&|| false)
    }

    /// Like [`run`](Self::run); the router stops reading once `stop()` is true.
    pub fn run_until(self, stop: &(dyn Fn() -> bool + Sync)) -> Result<RunOutput, Error> {
        self.run_inner(stop, None).map_err(|f| f.error)
    }

    /// Like [`run_until`](Self::run_until), with `observe` as in
    /// [`run_observed`](Self::run_observed) when given; a run that fails
    /// hands back its summary with the error (see the module docs).
    pub fn run_reporting(
        self,
        stop: &(dyn Fn() -> bool + Sync),
        observe: Option<(Duration, &mut Observer<'_>)>,
    ) -> Result<RunOutput, RunFailure> {
        self.run_inner(stop, observe)
    }

    /// Like [`run_until`](Self::run_until), and calls `observe` with the run's
    /// [`Progress`] every `every`, from a thread of its own, until the run ends.
    pub fn run_observed(
        self,
        stop: &(dyn Fn() -> bool + Sync),
        every: Duration,
        observe: &mut Observer<'_>,
    ) -> Result<RunOutput, Error> {
        self.run_inner(stop, Some((every, observe)))
            .map_err(|f| f.error)
    }

    fn run_inner(
        mut self,
        stop: &(dyn Fn() -> bool + Sync),
        observer: Option<(Duration, &mut Observer<'_>)>,
    ) -> Result<RunOutput, RunFailure> {
        let started = Instant::now();
        let schema = self.plan.output_schema.clone();
        // Result rings nobody took: nobody can drain them, so dropping them
        // makes a shard with results fail instead of waiting for ever.
        drop(self.take_result_rings());
        let mut result_producers = std::mem::take(&mut self.result_producers).into_iter();
        if self.output == OutputSpec::Stdout {
            write_stdout_line(&schema.header()).map_err(|source| Error::Sink {
                output: "stdout".into(),
                shard: 0,
                source,
            })?;
        }
        // Before anything is written: stale part files would mix with ours.
        // Those a resumed checkpoint committed (of a run on more shards) are
        // ours.
        let restored = self.checkpoint.as_ref().and_then(|c| c.restored.as_ref());
        let parts = restored.map_or(0, |r| r.manifest.parts.len());
        crate::io::stale_parts::check(&self.output, self.cores.len().max(parts))?;
        if let Some(dir) = self.output.directory() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                what: format!("cannot create output directory {}", dir.display()),
                source,
            })?;
        }
        let mut late_text = None;
        if let LatePolicy::SideOutput(dir) = &self.late {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                what: format!("cannot create the late-record directory {}", dir.display()),
                source,
            })?;
            // Late records are written as read: their sources keep the text.
            if late::keeps_text(self.plan.first_stage()) {
                for source in self.inputs.iter_mut().flatten() {
                    late_text = source.keep_text();
                }
            }
        }
        let mut handles = Vec::new();
        let mut counters = Vec::new();
        let mut startup_error = None;
        let start_gate = StartGate::default();
        // The mesh: one ring from every router of every input to every
        // shard; `lanes[i][r][s]` is input i's router r's end of its ring to
        // shard s.
        let partial = self.partial_aggregation();
        let readers: Vec<usize> = self.inputs.iter().map(Vec::len).collect();
        let mut lanes: Vec<Vec<Vec<Lane>>> = readers
            .iter()
            .map(|&r| (0..r).map(|_| Vec::new()).collect())
            .collect();
        let schemas: Vec<Schema> = (self.inputs.iter())
            .map(|i| late::batch_schema(i[0].as_ref()))
            .collect();
        let run_inputs = self.plan.run_inputs();
        let ports: Vec<usize> = readers
            .iter()
            .zip(&run_inputs)
            .flat_map(|(&r, input)| std::iter::repeat_n(input.port, r))
            .collect();
        // The left ports of joins that read a bounded table first.
        let table_first: Vec<usize> = (self.plan.stages().iter().enumerate())
            .filter(|(_, s)| s.join.as_ref().is_some_and(|j| j.right_first))
            .map(|(k, _)| port_of(k, 0))
            .collect();
        let doorbells: Vec<_> = self.cores.cores().iter().map(|_| Doorbell::new()).collect();
        let checkpointing = checkpointing::start(&self, &readers)?;
        // Between each two stages, a mesh of rings among the shards.
        let mut meshes = exchange_meshes(
            &self.plan,
            &doorbells,
            self.batching.batch_size,
            self.exchange_capacity,
        );
        // The port each exchange feeds.
        let feeds: Vec<usize> = self
            .plan
            .stage_links()
            .iter()
            .filter_map(|l| l.feeds)
            .collect();
        for (index, &core) in self.cores.cores().iter().enumerate() {
            let (producers, mut consumers): (Vec<_>, Vec<_>) =
                ports.iter().map(|_| ring(RING_CAPACITY)).unzip();
            // And back: spent batches from the shard to each router.
            let (returns, returned): (Vec<_>, Vec<_>) =
                ports.iter().map(|_| ring(RING_CAPACITY)).unzip();
            let mut returns: Vec<_> = returns.into_iter().map(Some).collect();
            let mut ring_ports = ports.clone();
            let mut exchanges = Vec::new();
            for (mesh, &port) in meshes.iter_mut().zip(&feeds) {
                let (out, inbound) = mesh.next().expect("an exchange end per shard");
                ring_ports.extend(inbound.iter().map(|_| port));
                returns.extend(inbound.iter().map(|_| None));
                consumers.extend(inbound);
                exchanges.push(out);
            }
            let doorbell = doorbells[index].clone();
            let shard_counters = ShardCounters::new();
            let spec = ShardSpec {
                index,
                core,
                plan: self.plan.clone(),
                output: self.output.clone(),
                late: self.late.clone(),
                late_text,
                idle: self.idle,
                consumers,
                ports: ring_ports,
                table_first: table_first.clone(),
                returns,
                exchanges,
                doorbell: doorbell.clone(),
                counters: shard_counters.clone(),
                results: result_producers.next(),
                ready: start_gate.ready_sender(),
                checkpoint: checkpointing.as_ref().map(|c| shard::ShardCheckpoint {
                    reports: c.coordinator.shard_sender(),
                    restore: c.restore.clone(),
                }),
            };
            match shard::spawn(spec) {
                Ok(h) => handles.push(h),
                Err(e) => {
                    startup_error = Some(e);
                    break;
                }
            }
            counters.push(shard_counters);
            let mut rings = producers.into_iter().zip(returned);
            for (input, routers) in lanes.iter_mut().enumerate() {
                for router in routers.iter_mut() {
                    let (producer, returned) = rings.next().expect("a ring per router");
                    router.push(Lane::new(
                        producer,
                        returned,
                        doorbell.clone(),
                        &schemas[input],
                        self.batching.batch_size,
                    ));
                }
            }
        }
        // Per shard, every router's count of records sent to it.
        let routed_counters: Vec<Vec<_>> = (0..counters.len())
            .map(|s| {
                lanes
                    .iter()
                    .flatten()
                    .map(|router| router[s].routed_counter())
                    .collect()
            })
            .collect();
        // Per run input, per reader: its malformed records (live metrics).
        let malformed: Vec<Vec<_>> = (self.inputs.iter())
            .map(|readers| readers.iter().map(|_| RoutedCounter::new()).collect())
            .collect();
        let live = self.metrics.as_ref().map(|endpoint| {
            let view = LiveView {
                cores: self.cores.cores(),
                counters: &counters,
                routed: &routed_counters,
                inputs: (run_inputs.iter().zip(&malformed))
                    .map(|(r, m)| (r.stage.inputs[r.side].name.clone(), m.as_slice()))
                    .collect(),
                gauges: (self.inputs.iter().flatten())
                    .filter_map(|s| s.live_gauges())
                    .collect(),
            };
            (endpoint, view)
        });
        // The run is over (routed and joined): the observer thread stops. The
        // flag carries no data, so Relaxed suffices; `unpark` wakes the
        // observer if it is parked, and it re-reads the flag on waking.
        let done = AtomicBool::new(false);
        let (coordinator, router_checkpoints) = match checkpointing {
            Some(c) => (Some(c.coordinator), Some(c.routers)),
            None => (None, None),
        };
        let checkpoint_failed = coordinator.as_ref().map(|c| c.failed_flag());
        // A checkpoint that cannot be written stops the run; the flag carries
        // no data, so Relaxed suffices.
        let stop_or_failed = || {
            stop()
                || checkpoint_failed
                    .as_ref()
                    .is_some_and(|f| f.load(Ordering::Relaxed))
        };
        let stop = &stop_or_failed;
        let ((routed, routed_stats), joined, committed) = std::thread::scope(|scope| {
            let coordinator = coordinator.map(|c| {
                std::thread::Builder::new()
                    .name("corestream-checkpoints".into())
                    .spawn_scoped(scope, move || c.run())
            });
            let observer = observer.map(|(every, observe)| {
                let (done, routed_counters, counters) = (&done, &routed_counters, &counters);
                scope.spawn(move || {
                    observe_until(done, started, every, observe, |elapsed| {
                        Progress::read(elapsed, routed_counters, counters)
                    })
                })
            });
            // Scrapes are answered until the run is over (`done`).
            let _metrics = live.as_ref().map(|(endpoint, view)| {
                let done = &done;
                std::thread::Builder::new()
                    .name("corestream-metrics".into())
                    .spawn_scoped(scope, move || endpoint.serve(done, || view.render()))
            });
            // Routing starts when every shard is ready or has failed, and
            // only if none failed: the failure (reported below) may not have
            // closed the shard's ring yet, and the input must stay unread.
            let ready = start_gate.wait();
            let routed = match startup_error {
                Some(e) => (Err(e), Default::default()),
                None if ready < self.cores.cores().len() => (Ok(()), Default::default()),
                None => route_inputs(
                    &mut self.inputs,
                    &run_inputs,
                    RunRouting {
                        batching: self.batching,
                        partial,
                        checkpoints: router_checkpoints.as_ref(),
                        malformed: &malformed,
                    },
                    std::mem::take(&mut lanes),
                    stop,
                    self.cores.cores(),
                ),
            };
            // The routers' report senders: the coordinator ends once the
            // shards' are gone too.
            drop(router_checkpoints);
            drop(lanes);
            let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
            done.store(true, Ordering::Relaxed);
            if let Some(o) = &observer {
                o.thread().unpark();
            }
            let committed = coordinator.map(|c| match c {
                Ok(h) => h.join().unwrap_or_else(|payload| {
                    let reason = panic_message(payload.as_ref());
                    Err(Error::Checkpoint(format!(
                        "the coordinator panicked: {reason}"
                    )))
                }),
                Err(e) => Err(Error::Checkpoint(format!(
                    "cannot start the coordinator: {e}"
                ))),
            });
            (routed, joined, committed)
        });

        let mut shard_error = None;
        let mut summary = RunSummary::default();
        let mut collected = Vec::new();
        for (index, joined) in joined.into_iter().enumerate() {
            let core = self.cores.cores()[index];
            match joined {
                Ok(Ok(out)) => {
                    summary.shards.push((core, out.stats));
                    summary.latency.push(out.latency);
                    collected.push(out.collected);
                }
                Ok(Err(e)) => {
                    summary.shards.push((core, counters[index].read()));
                    summary.latency.push(Latencies::default());
                    shard_error.get_or_insert(e);
                }
                Err(e) => {
                    summary.shards.push((core, counters[index].read()));
                    summary.latency.push(Latencies::default());
                    let reason = match e {
                        glommio::GlommioError::BuilderError(
                            glommio::BuilderErrorKind::ThreadPanic(payload),
                        ) => {
                            let placement = crate::runtime::allowed::placement_cause(core)
                                .map_or(String::new(), |c| format!("; {c}"));
                            format!("panicked: {}{placement}", panic_message(payload.as_ref()))
                        }
                        glommio::GlommioError::BuilderError(_) => e.to_string(),
                        other => shard::startup_hint(core, &other.to_string()),
                    };
                    shard_error.get_or_insert(Error::Shard {
                        shard: index,
                        reason,
                    });
                }
            }
        }
        summary.elapsed = started.elapsed();
        summary.records_read = routed_stats.records_read;
        summary.malformed = routed_stats.malformed;
        summary.stopped = routed_stats.stopped;
        summary.readers = readers[0];
        summary.partial_aggregation = partial;
        // A shard's own error first: a router only saw that it stopped.
        let mut error = shard_error.or(routed.err());
        if let (Some(committed), Some(run)) = (committed, &self.checkpoint) {
            match committed {
                Ok(finished) => {
                    let last = finished.last;
                    summary.checkpoints = Some(finished.stats);
                    // Read to the end: the next run starts from the
                    // beginning. A run stopped early, or failed, keeps its
                    // checkpoints, to go on from them.
                    if !summary.stopped && error.is_none() {
                        let shards = self.cores.cores().len();
                        let marked = crate::checkpoint::coordinator::mark_finished(
                            &run.config,
                            &run.fingerprint,
                            shards,
                            last,
                        );
                        error = marked.err();
                        if error.is_none() {
                            self.all_consumed(&finished.readers);
                        }
                    }
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        summary.failed = error.as_ref().map(Error::to_string);
        let output = RunOutput {
            summary,
            schema,
            collected,
        };
        match error {
            Some(error) => Err(RunFailure {
                error,
                output: Some(Box::new(output)),
            }),
            None => Ok(output),
        }
    }
}

/// The text of a panic's payload (a `&str` or a `String` for `panic!` with
/// a message).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_owned(),
    }
}

/// The observer thread's loop: every `every` (first at `started + every`),
/// reads the progress and hands it to `observe`, until `done`.
///
/// A thread of its own rather than a check in the router's loop: it keeps
/// the router's loop as it was, and it still reports when the router is
/// waiting on a full ring (backpressure) or on a slow source, which is when a
/// progress line matters most. It parks between reports
/// (`park_timeout`, not a sleep), so the end of the run wakes it at once.
fn observe_until(
    done: &AtomicBool,
    started: Instant,
    every: Duration,
    observe: &mut Observer<'_>,
    read: impl Fn(Duration) -> Progress,
) {
    let every = every.max(Duration::from_millis(1));
    let mut next = started + every;
    // ORDERING: Relaxed; see where `done` is set in `run_inner`.
    while !done.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= next {
            observe(&read(now - started));
            next = now + every;
        } else {
            std::thread::park_timeout(next - now);
        }
    }
}
