//! The `corestream` command line: flags become library calls, nothing more.
//! `run`, `explain` and `topology`, and `gen nexmark` to write Nexmark's
//! streams to files.
//!
//! # Signals
//! During `run`, the first SIGINT or SIGTERM only sets a flag (signal-hook's
//! flag handlers: an atomic store, nothing else in the handler). The router
//! sees it within `STOP_CHECK`, stops reading, and the run finishes as at end
//! of input: rings drain, sinks flush, the summary is printed, and the exit
//! code is 128 + the signal (130 for SIGINT, 143 for SIGTERM). A second
//! signal exits at once with the code of that signal.

use clap::{Args, Parser, Subcommand};
use corestream::engine::{DEFAULT_INPUT, DEFAULT_SQL};
use corestream::io::late::LatePolicy;
use corestream::io::lines::StopFlag;
use corestream::io::sink::{OutputFormat, OutputSpec};
use corestream::io::text::{parse_delimiter, parse_schema, InputFormat, OnError, TextOptions};
use corestream::runtime::cores::CoreSet;
use corestream::runtime::router::Batching;
use corestream::runtime::shard::IdlePolicy;
use corestream::runtime::topology::{render, Topology};
use corestream::sql::duration::parse_duration_ms;
use corestream::{Engine, Error, RunFailure};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "corestream",
    version,
    about = "A lock-free, thread-per-core streaming SQL engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a streaming query until its input ends (or SIGINT/SIGTERM).
    Run(Box<RunArgs>),
    /// Print the plan of a query: partitioning, operators, emit mode, watermark, output schema.
    Explain(Box<ExplainArgs>),
    /// Print the machine's CPUs and NUMA nodes, and where shards would run.
    Topology(CoreArgs),
    /// Write generated data to files.
    Gen(GenArgs),
}

#[derive(Args)]
struct GenArgs {
    #[command(subcommand)]
    what: GenCommand,
}

#[derive(Subcommand)]
enum GenCommand {
    /// Nexmark's three streams as DIR/person.csv, DIR/auction.csv and DIR/bid.csv,
    /// and q13's side input as DIR/side_input.csv (never overwriting a file).
    Nexmark(NexmarkArgs),
}

#[derive(Args)]
struct NexmarkArgs {
    /// Events over the three streams: of every 50, 1 person, 3 auctions and 46 bids.
    #[arg(long)]
    events: u64,
    /// Every event is a function of the seed and its number.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Events per second of event time, over the three streams.
    #[arg(long, default_value_t = corestream::io::nexmark::options::DEFAULT_EVENT_RATE)]
    event_rate: u64,
    /// The first event's time: ISO 8601 UTC or epoch milliseconds.
    #[arg(long, default_value = "2026-01-01T00:00:00Z")]
    base_time: String,
    /// The directory for the four files (created if missing).
    #[arg(long, value_name = "DIR")]
    out: std::path::PathBuf,
}

#[derive(Args)]
struct CoreArgs {
    /// Cores as a hex mask, as taskset takes it (e.g. 0x3c).
    #[arg(long, conflicts_with = "cores")]
    core_mask: Option<String>,
    /// Cores as a list, as taskset -c takes it (e.g. 0-1 or 0,2-5).
    #[arg(long)]
    cores: Option<String>,
}

impl CoreArgs {
    /// The chosen cores; when neither flag is given, every online core this
    /// process may run on. A core outside that set is refused (exit 2).
    fn core_set(&self) -> Result<CoreSet, Error> {
        use corestream::runtime::allowed;
        let online = CoreSet::online_cpus()?;
        let set = match (&self.core_mask, &self.cores) {
            (Some(mask), _) => CoreSet::from_mask(mask, &online)?,
            (None, Some(list)) => CoreSet::from_list(list, &online)?,
            (None, None) => return Ok(allowed::all_allowed()?),
        };
        allowed::check_allowed(&set, &allowed::allowed_cpus()?)?;
        Ok(set)
    }
}

/// The query, its input and its event-time settings: what a plan depends on.
#[derive(Args)]
struct QueryArgs {
    /// The query text, or @FILE to read it from a file.
    #[arg(long, default_value = DEFAULT_SQL)]
    sql: String,
    /// gen:trades?records=N&traders=T&symbols=S&rate=R&seed=X&jitter=D&wait=spin|sleep, a CSV file, or - for stdin;
    /// NAME=SPEC names an input for FROM and JOIN (give one per input). One unnamed
    /// gen:nexmark?events=N&seed=S&rate=R&event_rate=E&base_time=T gives the inputs person, auction, bid and side_input.
    #[arg(long, value_name = "[NAME=]SPEC")]
    input: Vec<String>,
    /// csv, json (one object per line) or auto (json for .jsonl/.ndjson paths, else csv).
    #[arg(long, default_value = "auto")]
    input_format: String,
    /// The CSV input has no header row: --schema names the columns, else they are c1..cN.
    #[arg(long)]
    no_header: bool,
    /// The input columns, e.g. 'station VARCHAR, temperature DOUBLE'; their types win over inference, and a header must name them.
    #[arg(long, value_name = "'NAME TYPE, ...'")]
    schema: Option<String>,
    /// The CSV field delimiter: one byte (e.g. ';'), or \t or tab.
    #[arg(long, default_value = ",")]
    delimiter: String,
    /// The longest input record in bytes; a longer one is malformed (and not kept in memory).
    #[arg(long, default_value_t = corestream::io::text::DEFAULT_MAX_LINE_BYTES)]
    max_line_bytes: usize,
    /// The event-time column (TIMESTAMP or BIGINT epoch ms); windows use processing time without it.
    #[arg(long)]
    event_time: Option<String>,
    /// How far the watermark trails the largest event time seen (e.g. 5s;
    /// default 0s, or the CREATE STREAM watermark).
    #[arg(long)]
    max_out_of_orderness: Option<String>,
    /// How far behind the watermark a record may be and still count (e.g. 10s;
    /// default 0s, or the CREATE STREAM allowed_lateness).
    #[arg(long)]
    allowed_lateness: Option<String>,
    /// How long an input may send nothing before it stops holding back a
    /// join's watermark, and a Kafka partition its input's watermark (e.g.
    /// 5s; default never, or the declaration's idle_timeout).
    #[arg(long)]
    idle_timeout: Option<String>,
    /// How much event time a join of two streams without a time bound keeps
    /// each row for: it joins rows at most this far apart (e.g. 1h).
    #[arg(long)]
    state_ttl: Option<String>,
}

impl QueryArgs {
    /// A builder with the query, input and event-time settings applied.
    fn builder(&self) -> Result<corestream::EngineBuilder, Error> {
        let mut builder = Engine::builder();
        let mut text = TextOptions {
            format: InputFormat::parse(&self.input_format)?,
            header: !self.no_header,
            delimiter: parse_delimiter(&self.delimiter)?,
            max_line_bytes: self.max_line_bytes,
            ..TextOptions::default()
        };
        if let Some(schema) = &self.schema {
            text.schema = Some(parse_schema(schema)?);
        }
        builder = builder.text_options(text);
        if let Some(c) = &self.event_time {
            builder = builder.event_time(c);
        }
        if let Some(bound) = &self.max_out_of_orderness {
            builder = builder.max_out_of_orderness(duration("max-out-of-orderness", bound)?);
        }
        if let Some(lateness) = &self.allowed_lateness {
            builder = builder.allowed_lateness(duration("allowed-lateness", lateness)?);
        }
        if let Some(timeout) = &self.idle_timeout {
            builder = builder.idle_timeout(duration("idle-timeout", timeout)?);
        }
        if let Some(ttl) = &self.state_ttl {
            builder = builder.state_ttl(duration("state-ttl", ttl)?);
        }
        builder = builder.sql(read_sql(&self.sql)?);
        match self.input.as_slice() {
            [] => Ok(builder.input(DEFAULT_INPUT)),
            [one] if named_input(one).is_none() => Ok(builder.input(one.clone())),
            all => {
                for spec in all {
                    let Some((name, spec)) = named_input(spec) else {
                        return Err(Error::Config(format!(
                            "--input {spec}: with several inputs, name each one as NAME=SPEC"
                        )));
                    };
                    builder = builder.named_input(name, spec);
                }
                Ok(builder)
            }
        }
    }
}

/// `NAME=SPEC` split, when NAME is an identifier (a spec such as
/// `gen:trades?records=5` has its `=` after other characters).
fn named_input(text: &str) -> Option<(&str, &str)> {
    let (name, spec) = text.split_once('=')?;
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    identifier.then_some((name, spec))
}

#[derive(Args)]
struct ExplainArgs {
    #[command(flatten)]
    query: QueryArgs,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    query: QueryArgs,
    /// A directory for part-<shard>.csv (or .jsonl) files, or - for stdout.
    #[arg(long, default_value = "-")]
    output: String,
    /// csv (with a header line) or json (one object per line, no header).
    #[arg(long, default_value = "csv")]
    output_format: String,
    #[command(flatten)]
    cores: CoreArgs,
    /// Rows per batch sent from the router to a shard.
    #[arg(long, default_value_t = 4096)]
    batch_size: usize,
    /// Longest a row waits in the router before its batch is sent (e.g. 5ms).
    #[arg(long, default_value = "5ms")]
    linger: String,
    /// Readers of a file input, each decoding and routing its own byte range
    /// (cut at line boundaries). Default: one per shard when the file has at
    /// least 16 MiB per reader and the query does not depend on arrival order;
    /// otherwise 1. Use 1 for a CSV file with line breaks inside quoted fields.
    #[arg(long, value_name = "N")]
    readers: Option<usize>,
    /// Always send rows to the shards. By default, for a grouped EMIT FINAL query without a
    /// window over a file read by several readers, at least one per shard, each reader aggregates its own rows and
    /// hands partial groups to the shards, which merge them.
    #[arg(long)]
    no_partial_aggregation: bool,
    /// How long an idle shard polls before it parks (e.g. 100us, 1ms).
    #[arg(long, default_value = "100us")]
    idle_spin: String,
    /// How long an idle shard polls before it parks while its input is still flowing and its
    /// router, on a CPU of its own, is late with the next rows (e.g. 10ms; 0 parks after
    /// --idle-spin).
    #[arg(long, default_value = "10ms")]
    stall_spin: String,
    /// A malformed input record: fail (stop, exit 1, naming file and line), skip (count it), or
    /// dead-letter[=PATH] (count it and write `source<TAB>line<TAB>reason<TAB>raw` to PATH;
    /// default DIR/dead-letter.txt with --output DIR, else ./corestream-dead-letter.txt).
    #[arg(
        long,
        default_value = "skip",
        value_name = "fail|skip|dead-letter[=PATH]"
    )]
    on_error: String,
    /// Print nothing on stderr but errors: no summary, no progress line.
    #[arg(long, short)]
    quiet: bool,
    /// Also write the final summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    metrics_json: Option<std::path::PathBuf>,
    /// Serve live metrics over HTTP at this address (HOST:PORT, port 0 for
    /// a free one) in the Prometheus text format while the run goes on;
    /// off by default.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Take checkpoints into this directory, and resume from the latest one
    /// there after a crash (see docs/checkpoints.md).
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<std::path::PathBuf>,
    /// How often to checkpoint (default 10s).
    #[arg(long, value_name = "DURATION", requires = "checkpoint_dir")]
    checkpoint_interval: Option<String>,
    /// Discard the checkpoints in --checkpoint-dir (of this or another
    /// query) and start from the beginning.
    #[arg(long, requires = "checkpoint_dir")]
    checkpoint_fresh: bool,
    /// Late records (behind the watermark by more than the allowed lateness):
    /// drop (count them) or side-output (count them and write them as read
    /// to late-<shard>.csv, or late-<shard>.jsonl from JSON lines, in --late-dir).
    #[arg(long, value_enum, default_value = "drop")]
    late: LateArg,
    /// The directory for the late-record files; default: the --output directory,
    /// or ./corestream-late when the output is stdout.
    #[arg(long, value_name = "DIR")]
    late_dir: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LateArg {
    Drop,
    SideOutput,
}

fn duration(flag: &str, text: &str) -> Result<Duration, Error> {
    if let Some(us) = text.strip_suffix("us") {
        if let Ok(n) = us.trim().parse::<u64>() {
            return Ok(Duration::from_micros(n));
        }
    }
    parse_duration_ms(text)
        .filter(|ms| *ms >= 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| {
            Error::Config(format!(
                "--{flag} {text}: expected a duration like 100us, 5ms, 1s"
            ))
        })
}

fn read_sql(arg: &str) -> Result<String, Error> {
    match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read query file {path}: {e}"))),
        None => Ok(arg.to_owned()),
    }
}

/// Writes to stderr; a closed or full stderr is not worth failing the run for.
fn to_stderr(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// The signal that asked the run to stop, 0 while none has.
///
/// Registered per signal, in this order: a conditional shutdown (exits with
/// 128 + the signal if `asked` is already set: the second signal), then the
/// flag (`asked`), then the signal number (`which`). The handlers only store
/// to atomics (or `_exit`), which is async-signal-safe.
///
/// Returns `which` and `asked`.
fn install_stop_signals() -> Result<(Arc<AtomicUsize>, Arc<AtomicBool>), Error> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    let asked = Arc::new(AtomicBool::new(false));
    let which = Arc::new(AtomicUsize::new(0));
    for sig in [SIGINT, SIGTERM] {
        flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&asked))
            .and_then(|_| flag::register(sig, Arc::clone(&asked)))
            .and_then(|_| flag::register_usize(sig, Arc::clone(&which), sig as usize))
            .map_err(|source| Error::Io {
                what: format!("cannot install a handler for signal {sig}"),
                source,
            })?;
    }
    Ok((which, asked))
}

fn late_policy(args: &RunArgs) -> LatePolicy {
    match args.late {
        LateArg::Drop => LatePolicy::Drop,
        LateArg::SideOutput => {
            LatePolicy::SideOutput(match (&args.late_dir, args.output.as_str()) {
                (Some(dir), _) => dir.clone(),
                (None, "-") => "corestream-late".into(),
                (None, dir) => dir.into(),
            })
        }
    }
}

fn signal_name(sig: usize) -> &'static str {
    match sig as i32 {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// How often the progress line is refreshed, and after how long it first shows.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);
const PROGRESS_AFTER: Duration = Duration::from_secs(1);

/// Runs the query; returns the signal that stopped it (0 if none).
fn run(args: RunArgs) -> Result<usize, Error> {
    let cores = args.cores.core_set()?;
    let shards = cores.len();
    corestream::limits::check_batch_size(args.batch_size)?;
    // Installed before the build: opening a pipe's input waits for its header
    // and the records its types are inferred from, and a signal then stops
    // the wait (see `TextOptions::stop`), so the run drains what was read.
    let (which, asked) = install_stop_signals()?;
    let builder = args.query.builder()?;
    let text = TextOptions {
        stop: StopFlag::new(asked),
        ..builder.current_text_options().clone()
    };
    let mut builder = builder
        .text_options(text)
        .cores(cores)
        .partial_aggregation(!args.no_partial_aggregation);
    if let Some(n) = args.readers {
        builder = builder.readers(n);
    }
    if let Some(addr) = &args.metrics_addr {
        builder = builder.metrics_addr(addr);
    }
    if let Some(dir) = &args.checkpoint_dir {
        let interval = match &args.checkpoint_interval {
            Some(text) => duration("checkpoint-interval", text)?,
            None => corestream::checkpoint::DEFAULT_INTERVAL,
        };
        if interval.is_zero() {
            return Err(Error::Config(
                "--checkpoint-interval must be above 0".into(),
            ));
        }
        builder = builder.checkpoints(corestream::checkpoint::CheckpointConfig {
            dir: dir.clone(),
            interval,
            fresh: args.checkpoint_fresh,
        });
    }
    // Before the build, which opens (truncates) the dead-letter file.
    let format = OutputFormat::parse(&args.output_format).unwrap_or(OutputFormat::Csv);
    let specs: Vec<&str> = match args.query.input.as_slice() {
        [] => vec![DEFAULT_INPUT],
        given => given
            .iter()
            .map(|s| named_input(s).map_or(s.as_str(), |(_, spec)| spec))
            .collect(),
    };
    corestream::io::side_files::check(&corestream::io::side_files::RunFiles {
        inputs: &specs,
        output: &OutputSpec::parse_as(&args.output, format),
        shards,
        on_error: &OnError::parse(&args.on_error)?,
        metrics_json: args.metrics_json.as_deref(),
        late: &late_policy(&args),
        checkpointed: args.checkpoint_dir.is_some(),
    })?;
    let engine = builder
        .output(OutputSpec::parse_as(
            &args.output,
            OutputFormat::parse(&args.output_format).ok_or_else(|| {
                Error::Config(format!(
                    "--output-format {:?}: expected csv or json",
                    args.output_format
                ))
            })?,
        ))
        .batching(Batching {
            batch_size: args.batch_size,
            linger: duration("linger", &args.linger)?,
        })
        .idle(IdlePolicy {
            spin: duration("idle-spin", &args.idle_spin)?,
            stall_spin: duration("stall-spin", &args.stall_spin)?,
        })
        .on_error(OnError::parse(&args.on_error)?)
        .late(late_policy(&args))
        .build();
    let engine = match engine {
        Ok(engine) => engine,
        // Stopped while the input was opened, before anything could run:
        // nothing was read, so there is no summary; the exit code is the signal's.
        Err(e) if which.load(Ordering::Relaxed) != 0 => {
            let signal = which.load(Ordering::Relaxed);
            to_stderr(&format!("error: {e}\nstopped by {}\n", signal_name(signal)));
            return Ok(signal);
        }
        Err(e) => return Err(e),
    };
    if !args.quiet {
        for note in engine.checkpoint_notes() {
            to_stderr(&format!("checkpoint: {note}\n"));
        }
    }
    if let Some(addr) = engine.metrics_addr() {
        // Said even with -q: with port 0 it is the only way to learn it.
        to_stderr(&format!("metrics: http://{addr}/metrics\n"));
    }
    // ORDERING: Relaxed; the flag carries no data, the router only needs to
    // see it eventually (it re-reads it every STOP_CHECK).
    let stop = || which.load(Ordering::Relaxed) != 0;
    let result = if !args.quiet && std::io::stderr().is_terminal() {
        let mut shown = false;
        let mut last = corestream::runtime::metrics::Progress::default();
        let mut observe = |p: &corestream::runtime::metrics::Progress| {
            if p.elapsed >= PROGRESS_AFTER {
                to_stderr(&format!("\r{}\x1b[K", p.render_since(&last)));
                shown = true;
            }
            last = p.clone();
        };
        let out = engine.run_reporting(&stop, Some((PROGRESS_EVERY, &mut observe)));
        if shown {
            to_stderr("\r\x1b[K");
        }
        out
    } else {
        engine.run_reporting(&stop, None)
    };
    // A run that failed after its shards started still gets its summary and
    // metrics, saying it failed; then the error. A closed stdout stays quiet.
    let (out, failure) = match result {
        Ok(out) => (out, None),
        Err(RunFailure {
            error,
            output: Some(out),
        }) if !is_closed_stdout(&error) => (*out, Some(error)),
        Err(failure) => return Err(failure.error),
    };
    let signal = which.load(Ordering::Relaxed);
    if !args.quiet {
        to_stderr(&out.summary.render());
        if signal != 0 {
            to_stderr(&format!(
                "stopped by {}: the input was read up to here\n",
                signal_name(signal)
            ));
        }
    }
    if let Some(path) = &args.metrics_json {
        let mut json = out.summary.to_json();
        json.push('\n');
        std::fs::write(path, json).map_err(|source| Error::Io {
            what: format!("cannot write the metrics to {}", path.display()),
            source,
        })?;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(signal),
    }
}

/// Whether `e` is a reader of stdout that went away (`| head`): not an error
/// of ours, and the run ends quietly.
fn is_closed_stdout(e: &Error) -> bool {
    matches!(e, Error::Sink { output, source, .. }
        if output == "stdout" && source.kind() == std::io::ErrorKind::BrokenPipe)
}

fn explain(args: ExplainArgs) -> Result<(), Error> {
    let engine = args.query.builder()?.build()?;
    let mut text = engine.plan().explain();
    text.push_str(&format!("shards: {}\n", engine.cores().cores().len()));
    write_stdout(&text)
}

/// Writes to stdout; a full or failing stdout is an error naming it.
fn write_stdout(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|source| Error::Io {
            what: "cannot write to stdout".into(),
            source,
        })
}

fn topology(args: CoreArgs) -> Result<(), Error> {
    let cores = args.core_set()?;
    let topo = Topology::read().map_err(Error::Config)?;
    write_stdout(&render(&topo, Some(&cores)))
}

/// Writes the Nexmark files and prints what it wrote.
fn gen(args: GenArgs) -> Result<(), Error> {
    use corestream::io::nexmark::{files, NexmarkOptions};
    let GenCommand::Nexmark(args) = args.what;
    let options =
        NexmarkOptions::from_flags(args.events, args.seed, args.event_rate, &args.base_time)?;
    let started = std::time::Instant::now();
    let written = files::write_csv_files(&options, &args.out)?;
    let mut text = String::new();
    for w in &written {
        text.push_str(&format!("{}: {} rows\n", w.path.display(), w.rows));
    }
    text.push_str(&format!(
        "{} events in {:.3} s\n",
        args.events,
        started.elapsed().as_secs_f64()
    ));
    write_stdout(&text)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::Explain(args) => explain(*args).map(|()| 0),
        Command::Topology(args) => topology(args).map(|()| 0),
        Command::Gen(args) => gen(args).map(|()| 0),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(signal) => ExitCode::from(128 + signal as u8),
        // A reader of stdout that went away (`| head`) is not an error of ours.
        Err(e) if is_closed_stdout(&e) => ExitCode::SUCCESS,
        Err(e) => {
            to_stderr(&format!("error: {e}\n"));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
