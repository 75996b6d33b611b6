//! The source contract, and opening a source from its `--input` spec.

use super::generator::TradesGenerator;
use super::json::JsonSource;
use super::late::RecordText;
use super::lines::Input;
use super::tcp::TcpSource;
use super::text::{InputFormat, TextOptions, TextSource};
use crate::data::{Batch, Schema};
use crate::error::Error;
use std::time::{Duration, Instant};

/// What a poll of a source produced.
#[derive(Debug)]
pub enum Poll {
    /// Up to the requested number of rows (never zero).
    Batch(Batch),
    /// Nothing arrived before the deadline; poll again.
    Idle,
    /// The input is exhausted; every row has been returned.
    End,
}

/// An input's event time and watermark settings, for a source that
/// computes its watermark itself ([`Source::track_watermark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTime {
    /// The event-time column (BIGINT ms or TIMESTAMP), over the source's schema.
    pub column: usize,
    /// A watermark trails the largest event time seen by this much (ms).
    pub max_out_of_orderness: i64,
    /// How long a part of the input may send nothing before it stops
    /// holding the watermark back (`None`: never).
    pub idle_timeout: Option<Duration>,
}

/// Records arriving from outside, decoded into typed batches.
///
/// # Contract
/// Every record read is either returned in a batch or counted by
/// [`Source::malformed`]: nothing is dropped silently.
pub trait Source: Send {
    fn schema(&self) -> &Schema;

    /// Reads up to `max_rows` rows. With a `deadline`, returns by then with
    /// what has arrived (possibly [`Poll::Idle`]).
    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error>;

    /// Records that could not be decoded and were skipped.
    fn malformed(&self) -> u64;

    /// Hands back a batch this source returned, once the engine is done
    /// with it (its rows are discarded): a source may fill it again instead
    /// of allocating another (see [`BatchPool`](crate::data::BatchPool)).
    /// The default frees it.
    fn reuse(&mut self, batch: Batch) {
        drop(batch);
    }

    /// Whether the source holds records it has taken from a stream that
    /// cannot give them again (a pipe) and no poll has returned yet: whole
    /// lines in its read buffer, rows sampled to infer its types. After a
    /// stop the router polls, without waiting, while this holds (for at
    /// most [`STOP_CHECK`](crate::runtime::router::STOP_CHECK) more), so
    /// that such records are processed. The default says no.
    fn has_read_ahead(&self) -> bool {
        false
    }

    /// A short name for messages, e.g. `gen:trades` or a file path.
    fn describe(&self) -> String;

    /// Whether the source ends by itself (a file, a fixed set of rows): a
    /// table from such a source is read completely before rows are joined
    /// against it. The default says no; the engine also knows the input
    /// specs it opens itself (a file, `gen:` with a count) to be bounded.
    fn bounded(&self) -> bool {
        false
    }

    /// A new source that reads the same records again from the start, for
    /// a query that reads this input twice (joined to a subquery over it);
    /// `None` (the default) when it cannot. The engine opens the inputs it
    /// opened itself (files, generators) again by their spec.
    fn reopen(&self) -> Option<Box<dyn Source>> {
        None
    }

    /// Where the source stands, for a checkpoint: every record before it
    /// has been returned, none after it. `None` (the default) when the
    /// source cannot be read again from a position (stdin, a socket), or is
    /// not at a record boundary now (the router asks again after its next
    /// poll). See [`crate::checkpoint`].
    fn position(&self) -> Option<crate::checkpoint::SourcePosition> {
        None
    }

    /// Called once, on the engine's thread before the run starts, when the
    /// run takes checkpoints; `resume` is the position to go on from when
    /// the run resumes a checkpoint and the source resumes itself (a Kafka
    /// input: files and generators are opened anew at their position). The
    /// default does nothing.
    fn take_checkpoints(
        &mut self,
        resume: Option<&crate::checkpoint::SourcePosition>,
    ) -> Result<(), Error> {
        let _ = resume;
        Ok(())
    }

    /// The source's live figures for the metrics endpoint
    /// ([`crate::runtime::metrics_http`]), readable from another thread
    /// while the router polls the source: a Kafka input's lag per
    /// partition. Asked once, before the run. The default has none.
    fn live_gauges(&self) -> Option<LiveGauges> {
        None
    }

    /// A checkpoint holding `position` (one this source gave) is committed,
    /// or the run has read all its input at `position`: a source that
    /// tells its upstream what it consumed (a Kafka group's offsets) may
    /// do so now. The default does nothing.
    fn checkpoint_committed(&mut self, position: &crate::checkpoint::SourcePosition) {
        let _ = position;
    }

    /// Asked once, before the first poll, when the input's watermark
    /// follows an event time: returns true when the source computes the
    /// watermark itself (from then on the router asks
    /// [`watermark`](Self::watermark) after every poll instead of following
    /// the largest event time of the batches). A Kafka input does, as the
    /// smallest of its partitions' watermarks. The default says no.
    fn track_watermark(&mut self, event_time: EventTime) -> bool {
        let _ = event_time;
        false
    }

    /// The watermark now, of a source that computes its own (see
    /// [`track_watermark`](Self::track_watermark)); `None` while there is
    /// none. It may go backwards (the router sends only forward moves).
    fn watermark(&mut self) -> Option<i64> {
        None
    }

    /// Asked once, before the first poll, when late records are written as
    /// read ([`late::keeps_text`](super::late::keeps_text)): returns the
    /// kind of text when the source will append to every batch, after the
    /// schema's columns, a VARCHAR column holding each row's record as read
    /// (without its line end). The default says no (the source has no text).
    fn keep_text(&mut self) -> Option<RecordText> {
        None
    }

    /// What [`keep_text`](Self::keep_text) said, once asked; else `None`.
    fn keeps_text(&self) -> Option<RecordText> {
        None
    }
}

/// One live figure a source adds to the metrics endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveGauge {
    /// The metric's name, after the `corestream_` prefix.
    pub name: &'static str,
    pub help: &'static str,
    pub labels: Vec<(String, String)>,
    pub value: i64,
}

/// Reads a source's live figures from any thread (see
/// [`Source::live_gauges`]).
pub type LiveGauges = std::sync::Arc<dyn Fn() -> Vec<LiveGauge> + Send + Sync>;

/// The path an `--input` spec names when it names a file (as [`open`] reads
/// it): not the generator, a TCP listener or stdin.
pub fn file_path(spec: &str) -> Option<&str> {
    let stream = spec == "-"
        || spec.starts_with("gen:")
        || spec.starts_with("tcp://")
        || spec.starts_with("kafka://");
    (!stream).then_some(spec)
}

/// Opens the source named by an `--input` spec: `gen:trades?...`,
/// `gen:nexmark?...&stream=S` (one Nexmark stream), `-` for
/// stdin, `tcp://HOST:PORT` (a listener), `kafka://HOST:PORT/TOPIC?...` (see
/// [`super::kafka`]), or a path to a CSV or JSON lines file (read as `options` say; JSON
/// lines by default for `.jsonl` and `.ndjson`).
pub fn open(spec: &str, options: &TextOptions) -> Result<Box<dyn Source>, Error> {
    if let Some(rest) = spec.strip_prefix("gen:") {
        if rest == "nexmark" || rest.starts_with("nexmark?") {
            return super::nexmark::open(rest, None);
        }
        return Ok(Box::new(TradesGenerator::from_spec(rest)?));
    }
    if let Some(addr) = spec.strip_prefix("tcp://") {
        return Ok(Box::new(TcpSource::bind(addr, options)?));
    }
    if spec.starts_with("kafka://") {
        return Ok(Box::new(super::kafka::KafkaSource::open(spec, options)?));
    }
    let input = Input::open(spec)?;
    Ok(match options.format.for_path(spec) {
        InputFormat::Json => Box::new(JsonSource::open(input, options)?),
        InputFormat::Csv | InputFormat::Auto => Box::new(TextSource::open(input, options)?),
    })
}
