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

use crate::catalog::{self, same_columns, NamedInput, TimeFlags};
use crate::data::{Batch, Schema};
use crate::error::Error;
use crate::exec::partial_agg;
use crate::io::late::LatePolicy;
use crate::io::sink::{result_rings, write_stdout_line, OutputSpec};
use crate::io::source::{self, Source};
use crate::io::split;
use crate::io::text::{OnError, TextOptions};
use crate::running::RunningEngine;
use crate::runtime::cores::CoreSet;
use crate::runtime::doorbell::Doorbell;
use crate::runtime::inputs::route_inputs;
use crate::runtime::metrics::{Latencies, Progress, RunSummary, ShardCounters};
use crate::runtime::ring::{ring, Consumer, Producer};
use crate::runtime::router::{Batching, Lane};
use crate::runtime::shard::{self, IdlePolicy, ShardSpec, StartGate};
use crate::sql::plan::QueryPlan;
use crate::sql::{PlanOptions, StreamDecl};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

/// Builds an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    sql: String,
    input: String,
    /// `--input NAME=SPEC`, in order; when given, `input` is not read.
    named_inputs: Vec<(String, String)>,
    cores: Option<CoreSet>,
    output: OutputSpec,
    batching: Batching,
    idle: IdlePolicy,
    text: TextOptions,
    late: LatePolicy,
    plan_options: PlanOptions,
    /// Readers of a file input (`None`: the engine chooses).
    readers: Option<usize>,
    /// Whether routers may fold rows into partial groups (see [`Self::partial_aggregation`]).
    partial_aggregation: bool,
    /// How long a named input may be quiet before it stops holding back a
    /// join, unless its declaration says (`None`: never).
    idle_timeout: Option<Duration>,
    /// Whether the watermark bound and the lateness were set here (they then
    /// win over a `CREATE STREAM` declaration).
    out_of_orderness_set: bool,
    lateness_set: bool,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            sql: DEFAULT_SQL.to_owned(),
            input: DEFAULT_INPUT.to_owned(),
            named_inputs: Vec::new(),
            cores: None,
            output: OutputSpec::Stdout,
            batching: Batching::default(),
            idle: IdlePolicy::default(),
            text: TextOptions::default(),
            late: LatePolicy::default(),
            plan_options: PlanOptions::default(),
            readers: None,
            partial_aggregation: true,
            idle_timeout: None,
            out_of_orderness_set: false,
            lateness_set: false,
        }
    }
}

impl EngineBuilder {
    /// The query text.
    pub fn sql(mut self, sql: impl Into<String>) -> Self {
        self.sql = sql.into();
        self
    }

    /// The input spec: `gen:trades?...`, a CSV path, or `-` for stdin.
    pub fn input(mut self, spec: impl Into<String>) -> Self {
        self.input = spec.into();
        self
    }

    /// A named input (`--input NAME=SPEC`), for a query over several inputs:
    /// FROM and JOIN name it, and a `CREATE STREAM` or `CREATE TABLE` of
    /// that name declares its columns, kind, event time and text options
    /// (see [`crate::catalog`]). Once one is given, [`input`](Self::input)
    /// is not read.
    pub fn named_input(mut self, name: impl Into<String>, spec: impl Into<String>) -> Self {
        self.named_inputs.push((name.into(), spec.into()));
        self
    }

    /// One shard per core of `cores`; all online cores when not set.
    pub fn cores(mut self, cores: CoreSet) -> Self {
        self.cores = Some(cores);
        self
    }

    pub fn output(mut self, output: OutputSpec) -> Self {
        self.output = output;
        self
    }

    /// How many readers read a file input at once, each its own byte range
    /// with its own router (see [`split`]). Unset, a file
    /// gets one reader per shard when it is large enough (at least
    /// [`MIN_BYTES_PER_READER`](split::MIN_BYTES_PER_READER) each) and the
    /// query does not depend on arrival order; otherwise one.
    pub fn readers(mut self, readers: usize) -> Self {
        self.readers = Some(readers);
        self
    }

    /// Whether the routers may aggregate their own rows and hand partial
    /// groups to the shards (default true; see [`crate::exec::partial_agg`]).
    /// They do so for a grouped `EMIT FINAL` query without a window over a
    /// file read by several readers, at least as many as shards; `false`
    /// always sends rows, which gives the same results (up to the order a
    /// DOUBLE sum adds in, which several readers already make vary).
    pub fn partial_aggregation(mut self, allowed: bool) -> Self {
        self.partial_aggregation = allowed;
        self
    }

    pub fn batching(mut self, batching: Batching) -> Self {
        self.batching = batching;
        self
    }

    pub fn idle(mut self, idle: IdlePolicy) -> Self {
        self.idle = idle;
        self
    }

    /// What to do with a malformed input record (the `on_error` of the text options).
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.text.on_error = on_error;
        self
    }

    /// What happens to late records: counted and dropped (the default), or
    /// also written unchanged to a per-shard side output.
    pub fn late(mut self, late: LatePolicy) -> Self {
        self.late = late;
        self
    }

    /// How a text input is read: header, declared schema, delimiter, error
    /// policy, record bound.
    pub fn text_options(mut self, options: TextOptions) -> Self {
        self.text = options;
        self
    }

    /// The declared input columns (`--schema`, `CREATE STREAM`): their types
    /// win over inference, and a header must name them.
    pub fn schema(mut self, schema: Schema) -> Self {
        self.text.schema = Some(schema);
        self
    }

    /// Whether the text input starts with a header row (default true).
    pub fn header(mut self, header: bool) -> Self {
        self.text.header = header;
        self
    }

    /// The text options as set so far.
    pub fn current_text_options(&self) -> &TextOptions {
        &self.text
    }

    /// The event-time column; windows use processing time without one.
    pub fn event_time(mut self, column: impl Into<String>) -> Self {
        self.plan_options.event_time = Some(column.into());
        self
    }

    /// How far the watermark trails the largest event time seen.
    pub fn max_out_of_orderness(mut self, bound: Duration) -> Self {
        self.plan_options.max_out_of_orderness = bound.as_millis() as i64;
        self.out_of_orderness_set = true;
        self
    }

    /// How far behind the watermark a record may be and still count; windows
    /// close this long after the watermark passes their end.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.plan_options.allowed_lateness = lateness.as_millis() as i64;
        self.lateness_set = true;
        self
    }

    /// How long a named input may send nothing before it stops holding
    /// back the watermark of a join (as Flink's `withIdleness`), for inputs
    /// whose declaration sets no `idle_timeout`. Default: never.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Checks the configuration, opens the input and plans the query.
    pub fn build(self) -> Result<Engine, Error> {
        if self.batching.batch_size == 0 {
            return Err(Error::Config("--batch-size must be at least 1".into()));
        }
        let parsed = crate::sql::parse(&self.sql)?;
        if !self.named_inputs.is_empty() {
            let mut text = self.text.clone();
            text.on_error = text.on_error.resolve(self.output.directory());
            if self.named_inputs.len() > 1 && matches!(text.on_error, OnError::DeadLetter(_)) {
                return Err(Error::Config(
                    "--on-error dead-letter takes a single input for now; use skip or fail".into(),
                ));
            }
            let inputs =
                catalog::open_named(&parsed, &self.named_inputs, &text, &self.time_flags())?;
            return self.finish_named(parsed, inputs);
        }
        let mut text = self.text.clone();
        text.on_error = text.on_error.resolve(self.output.directory());
        if let Some(decl) = declared_stream(&parsed)? {
            match &text.schema {
                None => text.schema = Some(decl.schema.clone()),
                Some(flag) if same_columns(flag, &decl.schema) => {}
                Some(_) => {
                    return Err(Error::Config(format!(
                        "--schema and CREATE STREAM {} declare different columns",
                        decl.name
                    )))
                }
            }
        }
        let source = source::open(&self.input, &text)?;
        let (input, readers) = (self.input.clone(), self.readers);
        let mut engine = self.finish(parsed, source)?;
        let readers = engine.readers_for(&input, readers)?;
        if readers > 1 {
            let schema = engine.inputs[0][0].schema().clone();
            engine.inputs[0] = split::open_parts(&input, &text, &schema, readers)?;
        }
        Ok(engine)
    }

    /// Like [`build`](Self::build), reading from named sources the
    /// application opened (each as [`named_input`](Self::named_input) names it).
    pub fn build_with_sources(
        self,
        sources: Vec<(String, Box<dyn Source>)>,
    ) -> Result<Engine, Error> {
        let parsed = crate::sql::parse(&self.sql)?;
        let inputs = catalog::from_sources(&parsed, sources, &self.time_flags())?;
        self.finish_named(parsed, inputs)
    }

    fn time_flags(&self) -> TimeFlags {
        TimeFlags {
            options: self.plan_options.clone(),
            out_of_orderness_set: self.out_of_orderness_set,
            lateness_set: self.lateness_set,
            idle_timeout: self.idle_timeout.map(|d| d.as_millis() as i64),
        }
    }

    /// Plans `parsed` over named inputs; each input the query reads gets
    /// one reader.
    fn finish_named(
        self,
        parsed: crate::sql::ParsedQuery,
        inputs: Vec<NamedInput>,
    ) -> Result<Engine, Error> {
        if self.readers.is_some_and(|r| r != 1) {
            return Err(Error::Config(
                "--readers: named inputs are read by one reader each for now".into(),
            ));
        }
        let catalog: Vec<_> = inputs.iter().map(|i| i.catalog.clone()).collect();
        let plan = crate::sql::plan_inputs(&parsed, &catalog)?;
        if plan.join.is_some() && matches!(self.late, LatePolicy::SideOutput(_)) {
            return Err(Error::Config(
                "--late side-output is not supported with a join yet; use --late drop".into(),
            ));
        }
        let mut by_name: Vec<Option<Box<dyn Source>>> =
            inputs.into_iter().map(|i| Some(i.source)).collect();
        let mut sources = Vec::new();
        for input in &plan.inputs {
            let i = catalog
                .iter()
                .position(|c| {
                    c.name
                        .as_ref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&input.name))
                })
                .expect("the planner resolved every input in the catalog");
            sources.push(vec![by_name[i].take().expect("an input is joined once")]);
        }
        if let Some(i) = by_name.iter().position(Option::is_some) {
            let name = catalog[i].name.clone().unwrap_or_default();
            return Err(Error::Config(format!(
                "--input {name}=... is not used by the query; remove it or name it in FROM or JOIN"
            )));
        }
        self.into_engine(plan, sources)
    }
    pub fn build_with_source(self, source: Box<dyn Source>) -> Result<Engine, Error> {
        if self.readers.is_some_and(|r| r != 1) {
            return Err(Error::Config(
                "readers: a source given to the builder is read by one reader".into(),
            ));
        }
        let parsed = crate::sql::parse(&self.sql)?;
        self.finish(parsed, source)
    }

    /// Plans `parsed` over `source`, with a `CREATE STREAM` declaration's
    /// settings where the builder left them unset.
    fn finish(
        self,
        parsed: crate::sql::ParsedQuery,
        source: Box<dyn Source>,
    ) -> Result<Engine, Error> {
        let mut options = self.plan_options.clone();
        let decl = declared_stream(&parsed)?;
        if let Some(decl) = decl {
            if !same_columns(source.schema(), &decl.schema) {
                return Err(Error::Config(format!(
                    "CREATE STREAM {} declares ({}) but the input {} has ({})",
                    decl.name,
                    decl.schema.describe(),
                    source.describe(),
                    source.schema().describe()
                )));
            }
            if options.event_time.is_none() {
                options.event_time = decl.event_time.clone();
            }
            if !self.out_of_orderness_set {
                options.max_out_of_orderness = decl.max_out_of_orderness.unwrap_or(0);
            }
            if !self.lateness_set {
                options.allowed_lateness = decl.allowed_lateness.unwrap_or(0);
            }
        }
        let input_name = decl.map(|d| d.name.as_str());
        let plan = crate::sql::plan_query_with(&parsed, input_name, source.schema(), &options)?;
        self.into_engine(plan, vec![vec![source]])
    }

    /// The engine for `plan`, with each plan input's sources.
    fn into_engine(
        self,
        plan: QueryPlan,
        inputs: Vec<Vec<Box<dyn Source>>>,
    ) -> Result<Engine, Error> {
        let cores = match self.cores {
            Some(c) => c,
            None => CoreSet::all_online()?,
        };
        if let OutputSpec::Kafka(kafka) = &self.output {
            kafka.prepare(cores.len(), &plan)?;
        }
        let (result_producers, result_consumers) = match self.output {
            OutputSpec::Rings { capacity } => result_rings(cores.len(), capacity),
            _ => (Vec::new(), Vec::new()),
        };
        Ok(Engine {
            result_producers,
            result_consumers,
            plan,
            cores,
            inputs,
            output: self.output,
            late: self.late,
            batching: self.batching,
            partial_aggregation: self.partial_aggregation,
            idle: self.idle,
        })
    }
}

/// The run's one declared input stream, if the SQL declares one.
fn declared_stream(parsed: &crate::sql::ParsedQuery) -> Result<Option<&StreamDecl>, Error> {
    match parsed.streams.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        [first, second, ..] => Err(Error::Config(format!(
            "{} and {} declare two inputs: give each one as --input NAME=SPEC \
             ({}=..., {}=...)",
            first.name, second.name, first.name, second.name
        ))),
    }
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
    /// With [`OutputSpec::Rings`], one ring per shard: the shards' ends ...
    result_producers: Vec<Producer<Batch>>,
    /// ... and the application's, until it takes them.
    result_consumers: Vec<Consumer<Batch>>,
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
        let ordered = self.plan.needs_arrival_order();
        match requested {
            Some(0) => Err(Error::Config("--readers must be at least 1".into())),
            Some(1) => Ok(1),
            Some(n) if file_len.is_none() => Err(Error::Config(format!(
                "--readers {n}: only a regular file can be read by several readers; {input} is not one"
            ))),
            Some(n) if ordered => Err(Error::Config(format!(
                "--readers {n}: this query's results depend on the order rows arrive in \
                 (row windows, or FIRST_VALUE/LAST_VALUE without an event time), and \
                 readers of several byte ranges have no one order; use --readers 1"
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
        self.run_inner(stop, None)
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
    }

    fn run_inner(
        mut self,
        stop: &(dyn Fn() -> bool + Sync),
        observer: Option<(Duration, &mut Observer<'_>)>,
    ) -> Result<RunOutput, Error> {
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
        if let Some(dir) = self.output.directory() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                what: format!("cannot create output directory {}", dir.display()),
                source,
            })?;
        }
        if let LatePolicy::SideOutput(dir) = &self.late {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                what: format!("cannot create the late-record directory {}", dir.display()),
                source,
            })?;
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
        let schemas: Vec<Schema> = self.inputs.iter().map(|i| i[0].schema().clone()).collect();
        let ports: Vec<usize> = readers
            .iter()
            .enumerate()
            .flat_map(|(port, &r)| std::iter::repeat_n(port, r))
            .collect();
        let table_first = self.plan.join.as_ref().is_some_and(|j| j.right_first);
        for (index, &core) in self.cores.cores().iter().enumerate() {
            let (producers, consumers): (Vec<_>, Vec<_>) =
                ports.iter().map(|_| ring(RING_CAPACITY)).unzip();
            // And back: spent batches from the shard to each router.
            let (returns, returned): (Vec<_>, Vec<_>) =
                ports.iter().map(|_| ring(RING_CAPACITY)).unzip();
            let doorbell = Doorbell::new();
            let shard_counters = ShardCounters::new();
            let spec = ShardSpec {
                index,
                core,
                plan: self.plan.clone(),
                output: self.output.clone(),
                late: self.late.clone(),
                idle: self.idle,
                consumers,
                ports: ports.clone(),
                table_first,
                returns,
                doorbell: doorbell.clone(),
                counters: shard_counters.clone(),
                results: result_producers.next(),
                ready: start_gate.ready_sender(),
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
        // The run is over (routed and joined): the observer thread stops. The
        // flag carries no data, so Relaxed suffices; `unpark` wakes the
        // observer if it is parked, and it re-reads the flag on waking.
        let done = AtomicBool::new(false);
        let ((routed, routed_stats), joined) = std::thread::scope(|scope| {
            let observer = observer.map(|(every, observe)| {
                let (done, routed_counters, counters) = (&done, &routed_counters, &counters);
                scope.spawn(move || {
                    observe_until(done, started, every, observe, |elapsed| {
                        Progress::read(elapsed, routed_counters, counters)
                    })
                })
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
                    &self.plan,
                    self.batching,
                    partial,
                    std::mem::take(&mut lanes),
                    stop,
                    self.cores.cores(),
                ),
            };
            drop(lanes);
            let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
            done.store(true, Ordering::Relaxed);
            if let Some(o) = &observer {
                o.thread().unpark();
            }
            (routed, joined)
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
                        ) => format!("panicked: {}", panic_message(payload.as_ref())),
                        glommio::GlommioError::BuilderError(_) => e.to_string(),
                        other => shard::startup_hint(&other.to_string()),
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
        if let Some(e) = shard_error {
            return Err(e);
        }
        routed?;
        Ok(RunOutput {
            summary,
            schema,
            collected,
        })
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
