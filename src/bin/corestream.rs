//! The `corestream` command line: flags become library calls, nothing more.

use clap::{Args, Parser, Subcommand};
use corestream::engine::{DEFAULT_INPUT, DEFAULT_SQL};
use corestream::io::sink::OutputSpec;
use corestream::io::text::OnError;
use corestream::runtime::cores::CoreSet;
use corestream::runtime::router::Batching;
use corestream::runtime::shard::IdlePolicy;
use corestream::runtime::topology::{render, Topology};
use corestream::sql::duration::parse_duration_ms;
use corestream::{Engine, Error};
use std::process::ExitCode;
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
    /// Run a streaming query until its input ends.
    Run(Box<RunArgs>),
    /// Print the machine's CPUs and NUMA nodes, and where shards would run.
    Topology(CoreArgs),
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
    /// The chosen cores; every online core when neither flag is given.
    fn core_set(&self) -> Result<CoreSet, Error> {
        let online = CoreSet::online_cpus()?;
        Ok(match (&self.core_mask, &self.cores) {
            (Some(mask), _) => CoreSet::from_mask(mask, &online)?,
            (None, Some(list)) => CoreSet::from_list(list, &online)?,
            (None, None) => CoreSet::all_online()?,
        })
    }
}

#[derive(Args)]
struct RunArgs {
    /// The query text, or @FILE to read it from a file.
    #[arg(long, default_value = DEFAULT_SQL)]
    sql: String,
    /// gen:trades?records=N&traders=T&symbols=S&rate=R&seed=X&jitter=D, a CSV file with a header, or - for stdin.
    #[arg(long, default_value = DEFAULT_INPUT)]
    input: String,
    /// A directory for part-<shard>.csv files, or - for stdout.
    #[arg(long, default_value = "-")]
    output: String,
    #[command(flatten)]
    cores: CoreArgs,
    /// Rows per batch sent from the router to a shard.
    #[arg(long, default_value_t = 4096)]
    batch_size: usize,
    /// Longest a row waits in the router before its batch is sent (e.g. 5ms).
    #[arg(long, default_value = "5ms")]
    linger: String,
    /// How long an idle shard polls before it parks (e.g. 100us, 1ms).
    #[arg(long, default_value = "100us")]
    idle_spin: String,
    /// The event-time column (TIMESTAMP or BIGINT epoch ms); windows use processing time without it.
    #[arg(long)]
    event_time: Option<String>,
    /// How far the watermark trails the largest event time seen (e.g. 5s).
    #[arg(long, default_value = "0s")]
    max_out_of_orderness: String,
    /// How far behind the watermark a record may be and still count (e.g. 10s).
    #[arg(long, default_value = "0s")]
    allowed_lateness: String,
    /// What to do with a malformed input record: fail (stop, exit 1) or skip (count it).
    #[arg(long, value_enum, default_value = "skip")]
    on_error: OnErrorArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OnErrorArg {
    Fail,
    Skip,
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

fn run(args: RunArgs) -> Result<(), Error> {
    let cores = args.cores.core_set()?;
    let mut builder = Engine::builder();
    if let Some(c) = &args.event_time {
        builder = builder.event_time(c);
    }
    let engine = builder
        .max_out_of_orderness(duration(
            "max-out-of-orderness",
            &args.max_out_of_orderness,
        )?)
        .allowed_lateness(duration("allowed-lateness", &args.allowed_lateness)?)
        .sql(read_sql(&args.sql)?)
        .input(args.input)
        .cores(cores)
        .output(OutputSpec::parse(&args.output))
        .batching(Batching {
            batch_size: args.batch_size,
            linger: duration("linger", &args.linger)?,
        })
        .idle(IdlePolicy {
            spin: duration("idle-spin", &args.idle_spin)?,
        })
        .on_error(match args.on_error {
            OnErrorArg::Fail => OnError::Fail,
            OnErrorArg::Skip => OnError::Skip,
        })
        .build()?;
    let out = engine.run()?;
    eprint!("{}", out.summary.render());
    Ok(())
}

fn topology(args: CoreArgs) -> Result<(), Error> {
    let cores = args.core_set()?;
    let topo = Topology::read().map_err(Error::Config)?;
    print!("{}", render(&topo, Some(&cores)));
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::Topology(args) => topology(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader of stdout that went away (`| head`) is not an error of ours.
        Err(Error::Sink { output, source, .. })
            if output == "stdout" && source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
