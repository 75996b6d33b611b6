//! Building an [`Engine`]: the query, its inputs (one, or several named),
//! the cores and the run's settings, checked and planned.

use super::checkpointing::InputSpec;
use super::{collect_check, Engine, DEFAULT_INPUT, DEFAULT_SQL};
use crate::catalog::{self, same_columns, NamedInput, TimeFlags};
use crate::checkpoint::CheckpointConfig;
use crate::data::Schema;
use crate::error::Error;
use crate::io::late::LatePolicy;
use crate::io::nexmark;
use crate::io::sink::{result_rings, OutputSpec};
use crate::io::source::{self, Source};
use crate::io::split;
use crate::io::text::{OnError, TextOptions};
use crate::runtime::cores::CoreSet;
use crate::runtime::exchange::EXCHANGE_CAPACITY;
use crate::runtime::metrics_http::MetricsEndpoint;
use crate::runtime::router::Batching;
use crate::runtime::shard::IdlePolicy;
use crate::sql::plan::QueryPlan;
use crate::sql::{PlanOptions, StreamDecl};
use std::time::Duration;

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
    /// Messages each exchange ring between two stages holds.
    exchange_capacity: usize,
    /// Whether the watermark bound and the lateness were set here (they then
    /// win over a `CREATE STREAM` declaration).
    out_of_orderness_set: bool,
    lateness_set: bool,
    /// Checkpoints (see [`crate::checkpoint`]); `None`: none.
    checkpoint: Option<CheckpointConfig>,
    /// Where live metrics are served (see [`Self::metrics_addr`]).
    metrics_addr: Option<String>,
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
            exchange_capacity: EXCHANGE_CAPACITY,
            out_of_orderness_set: false,
            lateness_set: false,
            checkpoint: None,
            metrics_addr: None,
        }
    }
}

/// An input opened again for a second stage that reads it (`None`: it
/// cannot be read again).
type Reopened = Result<Option<Box<dyn Source>>, Error>;

impl EngineBuilder {
    /// The query text.
    pub fn sql(mut self, sql: impl Into<String>) -> Self {
        self.sql = sql.into();
        self
    }

    /// The input spec: `gen:trades?...`, a CSV path, or `-` for stdin.
    /// `gen:nexmark?...` (without `stream=`) gives the named inputs
    /// `person`, `auction`, `bid` and `side_input`: the query reads those
    /// it names.
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

    /// One shard per core of `cores`; when not set, every online core this
    /// process may run on ([`crate::runtime::allowed::all_allowed`]).
    pub fn cores(mut self, cores: CoreSet) -> Self {
        self.cores = Some(cores);
        self
    }

    /// Where results go. [`OutputSpec::Collect`] with an input spec that
    /// never ends by itself is refused by [`build`](Self::build) (see
    /// [`collect_check`]).
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

    /// How much event time a join of two streams without a time bound
    /// keeps each row for (`--state-ttl`): it joins rows at most this far
    /// apart, and frees a row once the watermarks pass it by this much.
    pub fn state_ttl(mut self, ttl: Duration) -> Self {
        self.plan_options.state_ttl = Some(ttl.as_millis() as i64);
        self
    }

    /// Checkpoints every `config.interval` into `config.dir`, and resumes
    /// from the latest one there (see [`crate::checkpoint`] for what they
    /// cover; anything else is refused at build).
    pub fn checkpoints(mut self, config: CheckpointConfig) -> Self {
        self.checkpoint = Some(config);
        self
    }

    /// Serves the run's live metrics over HTTP at `addr` (`HOST:PORT`; port 0
    /// picks a free one, see [`Engine::metrics_addr`]) in the Prometheus
    /// text format while the run goes on (see
    /// [`crate::runtime::metrics_http`]); the address is bound at build.
    pub fn metrics_addr(mut self, addr: &str) -> Self {
        self.metrics_addr = Some(addr.to_owned());
        self
    }

    /// How long an input may send nothing before it stops holding back the
    /// watermark of a join (as Flink's `withIdleness`), and a Kafka input's
    /// partition its input's watermark, for inputs whose declaration sets no
    /// `idle_timeout`. Default: never.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Messages each ring of an exchange between two stages holds (default
    /// [`EXCHANGE_CAPACITY`]); a small one makes the shards exercise
    /// backpressure (tests), a larger one absorbs bursts.
    pub fn exchange_capacity(mut self, messages: usize) -> Self {
        self.exchange_capacity = messages.max(1);
        self
    }

    /// Checks the configuration, opens the input and plans the query.
    /// Refuses [`OutputSpec::Collect`] over an input that never ends
    /// ([`collect_check`]).
    pub fn build(self) -> Result<Engine, Error> {
        crate::limits::check_batch_size(self.batching.batch_size)?;
        // Before any input is opened (a TCP listener binds its port).
        match self.named_inputs.is_empty() {
            true => collect_check::check(&self.output, [(None, self.input.as_str())])?,
            false => collect_check::check(
                &self.output,
                (self.named_inputs.iter()).map(|(n, s)| (Some(n.as_str()), s.as_str())),
            )?,
        }
        let parsed = crate::sql::parse(&self.sql)?;
        // One unnamed spec that gives several named inputs (`gen:nexmark`):
        // the query reads those it names.
        let expanded = self
            .named_inputs
            .is_empty()
            .then(|| nexmark::expand(&self.input))
            .flatten();
        let named = expanded.as_ref().unwrap_or(&self.named_inputs);
        let checkpoint = self.checkpoint.clone();
        if !named.is_empty() {
            let mut text = self.text.clone();
            text.on_error = text.on_error.resolve(self.output.directory());
            if self.named_inputs.len() > 1 && matches!(text.on_error, OnError::DeadLetter(_)) {
                return Err(Error::Config(
                    "--on-error dead-letter takes a single input for now; use skip or fail".into(),
                ));
            }
            if checkpoint.is_some() {
                // Before the inputs are opened (stdin would wait for a header).
                for (_, spec) in named {
                    crate::checkpoint::support::check_input(spec)?;
                }
            }
            let inputs = catalog::open_named(&parsed, named, &text, &self.time_flags())?;
            let named = named.clone();
            let reopen = |name: &str| catalog::reopen(&parsed, &named, &text, name).map(Some);
            let mut engine =
                self.finish_named(parsed.clone(), inputs, expanded.is_some(), &reopen)?;
            if let Some(config) = checkpoint {
                let specs = (engine.plan.run_inputs().iter())
                    .map(|input| {
                        let name = &input.stage.inputs[input.side].name;
                        let (_, spec) = named
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(name))
                            .ok_or_else(|| Error::Config(format!("no input named {name}")))?;
                        Ok(InputSpec {
                            spec: nexmark::named_spec(name, spec)?.into_owned(),
                            text: catalog::input_text_options(&parsed, name, &text)?,
                        })
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                engine.prepare_checkpoints(config, &specs)?;
            }
            return Ok(engine);
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
        if checkpoint.is_some() {
            // Before the input is opened (stdin would wait for a header).
            crate::checkpoint::support::check_input(&self.input)?;
        }
        let source = source::open(&self.input, &text)?;
        let (input, readers) = (self.input.clone(), self.readers);
        let reopen = || match source::file_path(&input).is_some() || input.starts_with("gen:") {
            true => source::open(&input, &text).map(Some),
            false => Ok(None),
        };
        let mut engine = self.finish(parsed, source, &reopen)?;
        let readers = engine.readers_for(&input, readers)?;
        if readers > 1 && input.starts_with("kafka://") {
            engine.inputs[0] = crate::io::kafka::KafkaSource::open_readers(&input, &text, readers)?;
        } else if readers > 1 {
            let schema = engine.inputs[0][0].schema().clone();
            engine.inputs[0] = split::open_parts(&input, &text, &schema, readers)?;
        }
        if let Some(config) = checkpoint {
            engine.prepare_checkpoints(config, &[InputSpec { spec: input, text }])?;
        }
        Ok(engine)
    }

    /// Like [`build`](Self::build), reading from named sources the
    /// application opened (each as [`named_input`](Self::named_input) names it).
    pub fn build_with_sources(
        self,
        sources: Vec<(String, Box<dyn Source>)>,
    ) -> Result<Engine, Error> {
        if self.checkpoint.is_some() {
            return Err(Error::Config(
                "checkpoints take an input the engine opens itself (a file), not an \
                 application's source"
                    .into(),
            ));
        }
        let parsed = crate::sql::parse(&self.sql)?;
        let inputs = catalog::from_sources(&parsed, sources, &self.time_flags())?;
        self.finish_named(parsed, inputs, false, &|_| Ok(None))
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
    /// one reader. An input it does not read is an error, unless `unread_ok`
    /// (the inputs of one spec that gives several, as `gen:nexmark` does):
    /// then it is dropped unread. An input read by two stages is opened
    /// again with `reopen` (`None`: it cannot be).
    fn finish_named(
        self,
        parsed: crate::sql::ParsedQuery,
        inputs: Vec<NamedInput>,
        unread_ok: bool,
        reopen: &dyn Fn(&str) -> Reopened,
    ) -> Result<Engine, Error> {
        if self.readers.is_some_and(|r| r != 1) {
            return Err(Error::Config(
                "--readers: named inputs are read by one reader each for now".into(),
            ));
        }
        let catalog: Vec<_> = inputs.iter().map(|i| i.catalog.clone()).collect();
        let plan = crate::sql::plan_inputs(&parsed, &catalog)?;
        let joins = plan.stages().iter().any(|s| s.join.is_some());
        if joins && matches!(self.late, LatePolicy::SideOutput(_)) {
            return Err(Error::Config(
                "--late side-output is not supported with a join yet; use --late drop".into(),
            ));
        }
        let mut by_name: Vec<Option<Box<dyn Source>>> =
            inputs.into_iter().map(|i| Some(i.source)).collect();
        let mut sources: Vec<Vec<Box<dyn Source>>> = Vec::new();
        // Per catalog input, where its first read is in `sources`.
        let mut first_read = vec![0; catalog.len()];
        for input in plan.run_inputs() {
            let name = &input.stage.inputs[input.side].name;
            let i = catalog
                .iter()
                .position(|c| {
                    c.name
                        .as_ref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                .expect("the planner resolved every input in the catalog");
            let source = match by_name[i].take() {
                Some(source) => {
                    first_read[i] = sources.len();
                    source
                }
                // Read a second time (by a second stage): opened again.
                None => reopen(name)?
                    .or_else(|| sources[first_read[i]][0].reopen())
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "the query reads input {name} twice (in two subqueries, or joined to \
                         a subquery over it); a source the application opened can be read \
                         once: give it by spec, or read it once"
                        ))
                    })?,
            };
            sources.push(vec![source]);
        }
        let unread = by_name.iter().position(Option::is_some);
        if let Some(i) = unread.filter(|_| !unread_ok) {
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
        self.finish(parsed, source, &|| Ok(None))
    }

    /// Plans `parsed` over `source`, with a `CREATE STREAM` declaration's
    /// settings where the builder left them unset.
    /// A query that reads the input twice (joined to a subquery over it)
    /// reads it again from `reopen` (`None`: it cannot be read again).
    fn finish(
        self,
        parsed: crate::sql::ParsedQuery,
        source: Box<dyn Source>,
        reopen: &dyn Fn() -> Reopened,
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
        // `--idle-timeout`, or the declaration's: as for a named input (a
        // Kafka input's partitions go idle by it too).
        let mut input = crate::sql::CatalogInput::single(input_name, source.schema(), &options);
        input.idle_timeout = decl
            .and_then(|d| d.idle_timeout)
            .or(self.idle_timeout.map(|d| d.as_millis() as i64));
        let plan = crate::sql::plan_inputs(&parsed, &[input])?;
        let mut inputs = vec![vec![source]];
        for _ in 1..plan.run_inputs().len() {
            let again = reopen()?.or_else(|| inputs[0][0].reopen());
            let again = again.ok_or_else(|| {
                Error::Config(format!(
                    "the query reads its input twice (joined to a subquery over it), and {} \
                     can be read once: only a file or a generator can be read twice",
                    inputs[0][0].describe()
                ))
            })?;
            inputs.push(vec![again]);
        }
        self.into_engine(plan, inputs)
    }

    /// The engine for `plan`, with each plan input's sources.
    fn into_engine(
        self,
        plan: QueryPlan,
        inputs: Vec<Vec<Box<dyn Source>>>,
    ) -> Result<Engine, Error> {
        crate::limits::check_batch_size(self.batching.batch_size)?;
        crate::limits::check_plan(&plan)?;
        let cores = match self.cores {
            Some(c) => c,
            None => crate::runtime::allowed::all_allowed()?,
        };
        if let OutputSpec::Kafka(kafka) = &self.output {
            kafka.prepare(cores.len(), &plan)?;
        }
        let metrics = match &self.metrics_addr {
            Some(addr) => Some(MetricsEndpoint::bind(addr)?),
            None => None,
        };
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
            exchange_capacity: self.exchange_capacity,
            checkpoint: None,
            metrics,
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
