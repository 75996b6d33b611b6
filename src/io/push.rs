//! Push input: an application thread hands rows or batches to the engine through an SPSC ring.
//!
//! [`channel`] returns the two ends: a [`Pusher`] for the application and a
//! [`PushSource`] for the engine (pass it to
//! [`EngineBuilder::build_with_source`](crate::EngineBuilder::build_with_source)).
//! Between them is the crate's own bounded [`ring`](crate::runtime::ring) of
//! batches, and the router's [`Doorbell`], so an idle router parks instead of
//! spinning and a push wakes it.
//!
//! ```
//! use corestream::data::{DataType, Field, Schema, Value};
//! use corestream::io::push;
//! use corestream::io::source::{Poll, Source};
//!
//! let schema = Schema::new(vec![Field::new("n", DataType::Int64)]);
//! let (mut pusher, mut source) = push::channel(schema, 4);
//! pusher.push_row(&[Value::Int64(7)])?;
//! pusher.push_row(&[Value::Utf8("seven".into())]).unwrap_err(); // wrong type: refused
//! pusher.finish()?; // sends the buffered row, then end of input
//! assert!(matches!(source.poll(100, None)?, Poll::Batch(b) if b.len == 1));
//! assert!(matches!(source.poll(100, None)?, Poll::End));
//! # Ok::<(), corestream::Error>(())
//! ```
//!
//! # Threading
//! The [`Pusher`] is `Send` but neither `Sync` nor `Clone`: one application
//! thread pushes (several producers would need several rings; use one engine
//! input per producer thread, or funnel them before the pusher). The
//! [`PushSource`] is polled by the router thread only.
//!
//! # Backpressure
//! The ring holds `capacity` batches (rounded up to a power of two). When it
//! is full, [`Pusher::try_push`] hands the batch back in [`PushError::Full`],
//! and [`Pusher::push`] waits for room (spinning with `crossbeam`'s
//! `Backoff`, then yielding its core; no lock, no sleep). The ring fills when
//! the router waits on a full shard ring, which happens when a shard (or its
//! sink: a slow result callback, a result ring the application does not
//! drain) falls behind: memory stays bounded by the rings' capacities from
//! the pusher to the sinks.
//!
//! # End of input
//! [`Pusher::finish`], or dropping the pusher, sends the rows buffered by
//! [`Pusher::push_row`] and then ends the input: the source returns
//! [`Poll::End`] once it has returned every pushed row. If the engine stops
//! reading first (it was stopped, it failed, or it finished), pushes fail with
//! `Closed` and hand the batch back: nothing is dropped without the pusher
//! knowing.
//!
//! # Batch reuse
//! A batch the engine is done with comes back to the pusher, emptied, on a
//! return ring: [`Pusher::push_row`] gathers its next rows into it, and
//! [`Pusher::empty_batch`] hands one out to fill and [`push`](Pusher::push),
//! so a steady stream allocates no batches (see
//! [`BatchPool`](crate::data::BatchPool)).
//!
//! # Validation
//! Every batch is checked against the channel's schema on push (column count,
//! column types, column lengths), and every row's values against the column
//! types, so a malformed batch is an error for the pusher, never a panic in
//! the router or a shard.

use super::source::{Poll, Source};
use crate::data::{Batch, Schema, Value};
use crate::error::Error;
use crate::runtime::doorbell::Doorbell;
use crate::runtime::ring::{ring, Consumer, Producer, PushError as RingFull};
use crate::sync::Arc;
use crossbeam::utils::Backoff;
use std::fmt;
use std::time::Instant;

/// Rows [`Pusher::push_row`] gathers into one batch before sending it.
pub const ROWS_PER_BATCH: usize = 1024;

/// Makes a push channel for rows of `schema`, holding up to `capacity`
/// batches (at least 1, rounded up to a power of two) between the pusher and
/// the router.
pub fn channel(schema: Schema, capacity: usize) -> (Pusher, PushSource) {
    let (producer, consumer) = ring(capacity.max(1));
    // Room for every batch that can be in flight to one shard and back (the
    // push ring's, a shard's ring's and its return ring's), which the router
    // may hand back in one go: a batch that finds this ring full is freed,
    // and the pusher then allocates another.
    let (returns, returned) = ring(capacity.max(1) + 2 * crate::engine::RING_CAPACITY);
    let doorbell = Doorbell::new();
    let pusher = Pusher {
        returned,
        rows: Batch::with_capacity(&schema, ROWS_PER_BATCH),
        row: Batch::with_capacity(&schema, 1),
        rows_per_batch: ROWS_PER_BATCH,
        schema: schema.clone(),
        producer: Some(producer),
        doorbell: Arc::clone(&doorbell),
    };
    let source = PushSource {
        schema,
        consumer,
        returns,
        doorbell,
        partial: None,
        pushed_rows: 0,
    };
    (pusher, source)
}

/// How a batch or row does not fit the channel's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaMismatch {
    /// The offending column (0-based) and its name; `None` when the number
    /// of columns or values is wrong.
    pub column: Option<(usize, String)>,
    /// What the schema asks for there.
    pub expected: String,
    /// What was given.
    pub found: String,
}

impl fmt::Display for SchemaMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some((i, name)) => write!(
                f,
                "column {i} ({name}): expected {}, found {}",
                self.expected, self.found
            ),
            None => write!(f, "expected {}, found {}", self.expected, self.found),
        }
    }
}

impl std::error::Error for SchemaMismatch {}

/// Why a batch was not pushed. Every variant hands the batch back.
pub enum PushError {
    /// The ring is full (from [`Pusher::try_push`] only): push it again later.
    Full(Batch),
    /// The engine no longer reads this input (it finished, was stopped, or
    /// failed: its `join` says which). Nothing pushed from now on is read.
    Closed(Batch),
    /// The batch does not match the channel's schema; nothing was pushed.
    Mismatch(Batch, Box<SchemaMismatch>),
}

impl PushError {
    /// The batch that was not pushed.
    pub fn into_inner(self) -> Batch {
        match self {
            PushError::Full(b) | PushError::Closed(b) | PushError::Mismatch(b, _) => b,
        }
    }
}

// By hand, so as not to print a possibly huge batch.
impl fmt::Debug for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(b) => write!(f, "Full({} rows)", b.len),
            PushError::Closed(b) => write!(f, "Closed({} rows)", b.len),
            PushError::Mismatch(b, m) => write!(f, "Mismatch({} rows, {m:?})", b.len),
        }
    }
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("the push ring is full"),
            PushError::Closed(b) => write!(
                f,
                "the engine no longer reads its pushed input ({} rows not sent)",
                b.len
            ),
            PushError::Mismatch(_, m) => write!(f, "pushed batch does not match the schema: {m}"),
        }
    }
}

impl std::error::Error for PushError {}

/// Why [`Pusher::push_row`] failed.
pub enum RowError {
    /// The values do not fit the schema; the row was not added.
    Mismatch(SchemaMismatch),
    /// The engine no longer reads this input; here are the buffered rows,
    /// this one included, that could not be sent.
    Closed(Batch),
}

impl fmt::Debug for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::Mismatch(m) => write!(f, "Mismatch({m:?})"),
            RowError::Closed(b) => write!(f, "Closed({} rows)", b.len),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowError::Mismatch(m) => write!(f, "pushed row does not match the schema: {m}"),
            RowError::Closed(b) => write!(
                f,
                "the engine no longer reads its pushed input ({} rows not sent)",
                b.len
            ),
        }
    }
}

impl std::error::Error for RowError {}

impl From<PushError> for Error {
    fn from(e: PushError) -> Self {
        Error::Push(e.to_string())
    }
}

impl From<RowError> for Error {
    fn from(e: RowError) -> Self {
        Error::Push(e.to_string())
    }
}

/// The application's end of a push channel.
///
/// # Threading
/// `Send`, not `Sync`, not `Clone`: one thread pushes.
pub struct Pusher {
    schema: Schema,
    /// `None` once the input has ended (in `finish` or `drop`).
    producer: Option<Producer<Batch>>,
    /// Batches the engine is done with, emptied, to be filled again.
    returned: Consumer<Batch>,
    /// The router's doorbell: rung after every push and at the end.
    doorbell: Arc<Doorbell>,
    /// Rows gathered by `push_row`, sent when `rows_per_batch` are in.
    rows: Batch,
    /// One row, checked here before it joins `rows` (so a bad value leaves
    /// `rows` as it was).
    row: Batch,
    rows_per_batch: usize,
}

impl Pusher {
    /// The schema every pushed batch and row must match.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Sets how many rows [`push_row`](Self::push_row) gathers before it
    /// sends them (default [`ROWS_PER_BATCH`]; at least 1). Fewer rows per
    /// batch cost more per row; [`flush`](Self::flush) sends early when
    /// latency matters.
    pub fn set_rows_per_batch(&mut self, rows: usize) {
        self.rows_per_batch = rows.max(1);
    }

    /// An empty batch of the channel's schema to fill and push: one the
    /// engine has handed back when there is one (its buffers already
    /// grown), else a new one sized for the rows per batch.
    pub fn empty_batch(&mut self) -> Batch {
        self.returned
            .pop()
            .unwrap_or_else(|| Batch::with_capacity(&self.schema, self.rows_per_batch))
    }

    /// Pushes `batch`, or hands it back at once when the ring is full
    /// ([`PushError::Full`]), the engine no longer reads, or it does not match
    /// the schema. An empty batch is accepted and not sent.
    pub fn try_push(&mut self, mut batch: Batch) -> Result<(), PushError> {
        if let Err(m) = check_batch(&self.schema, &batch) {
            return Err(PushError::Mismatch(batch, Box::new(m)));
        }
        if batch.is_empty() {
            return Ok(());
        }
        batch.ingest_time = Instant::now();
        self.send(batch)
    }

    /// Pushes `batch`, waiting while the ring is full: it spins with
    /// backoff, then yields its core between tries. Fails only when the
    /// engine no longer reads or the batch does not match the schema.
    pub fn push(&mut self, mut batch: Batch) -> Result<(), PushError> {
        if let Err(m) = check_batch(&self.schema, &batch) {
            return Err(PushError::Mismatch(batch, Box::new(m)));
        }
        if batch.is_empty() {
            return Ok(());
        }
        batch.ingest_time = Instant::now();
        self.send_waiting(batch)
    }

    /// Appends one row (one value per column, converted where SQL allows:
    /// integers widen to floats and decimals) to the pusher's batch, and
    /// pushes that batch, waiting for room, once it holds the rows-per-batch.
    pub fn push_row(&mut self, values: &[Value]) -> Result<(), RowError> {
        if values.len() != self.schema.len() {
            return Err(RowError::Mismatch(SchemaMismatch {
                column: None,
                expected: format!("{} values ({})", self.schema.len(), self.schema.describe()),
                found: format!("{} values", values.len()),
            }));
        }
        self.row.clear();
        for (i, (column, value)) in self.row.columns.iter_mut().zip(values).enumerate() {
            if !column.push_value(value) {
                let field = &self.schema.fields[i];
                return Err(RowError::Mismatch(SchemaMismatch {
                    column: Some((i, field.name.clone())),
                    expected: field.data_type.to_string(),
                    found: format!("{value:?}"),
                }));
            }
        }
        self.row.len = 1;
        if self.rows.is_empty() {
            self.rows.ingest_time = Instant::now();
        }
        self.rows.push_row_from(&self.row, 0);
        if self.rows.len >= self.rows_per_batch {
            return self.flush().map_err(|e| RowError::Closed(e.into_inner()));
        }
        Ok(())
    }

    /// Pushes the rows gathered by [`push_row`](Self::push_row) now, waiting
    /// for room; does nothing when there are none.
    pub fn flush(&mut self) -> Result<(), PushError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let fresh = self.empty_batch();
        let batch = std::mem::replace(&mut self.rows, fresh);
        self.send_waiting(batch)
    }

    /// Whether the engine no longer reads this input.
    pub fn is_closed(&self) -> bool {
        self.producer.as_ref().is_none_or(Producer::is_abandoned)
    }

    /// Flushes the gathered rows, then ends the input. Dropping the pusher
    /// does the same, ignoring a failed flush.
    pub fn finish(mut self) -> Result<(), PushError> {
        let flushed = self.flush();
        self.end();
        flushed
    }

    /// Ends the input: drops the ring's producer, then rings, so a parked
    /// router wakes to see the end.
    fn end(&mut self) {
        if self.producer.take().is_some() {
            self.doorbell.ring();
        }
    }

    /// One push attempt of a checked, non-empty batch.
    fn send(&mut self, batch: Batch) -> Result<(), PushError> {
        let Some(producer) = self.producer.as_mut() else {
            return Err(PushError::Closed(batch));
        };
        if producer.is_abandoned() {
            return Err(PushError::Closed(batch));
        }
        match producer.push(batch) {
            Ok(()) => {
                self.doorbell.ring();
                Ok(())
            }
            Err(RingFull::Full(batch)) => {
                // A router parked with work waiting would be a bug in its
                // wait, but ringing costs little and rules it out.
                self.doorbell.ring();
                Err(PushError::Full(batch))
            }
        }
    }

    fn send_waiting(&mut self, mut batch: Batch) -> Result<(), PushError> {
        let backoff = Backoff::new();
        loop {
            match self.send(batch) {
                Err(PushError::Full(b)) => {
                    batch = b;
                    if backoff.is_completed() {
                        std::thread::yield_now();
                    } else {
                        backoff.snooze();
                    }
                }
                other => return other,
            }
        }
    }
}

impl Drop for Pusher {
    fn drop(&mut self) {
        let _ = self.flush();
        self.end();
    }
}

impl fmt::Debug for Pusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pusher")
            .field("schema", &self.schema.describe())
            .field("buffered_rows", &self.rows.len)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Checks `batch` against `schema`: column count, types and lengths.
fn check_batch(schema: &Schema, batch: &Batch) -> Result<(), SchemaMismatch> {
    if batch.columns.len() != schema.len() {
        return Err(SchemaMismatch {
            column: None,
            expected: format!("{} columns ({})", schema.len(), schema.describe()),
            found: format!("{} columns", batch.columns.len()),
        });
    }
    for (i, (field, column)) in schema.fields.iter().zip(&batch.columns).enumerate() {
        let at = || Some((i, field.name.clone()));
        if column.data_type() != field.data_type {
            return Err(SchemaMismatch {
                column: at(),
                expected: field.data_type.to_string(),
                found: column.data_type().to_string(),
            });
        }
        let validity = column.validity.as_ref().map_or(batch.len, Vec::len);
        if column.len() != batch.len || validity != batch.len {
            return Err(SchemaMismatch {
                column: at(),
                expected: format!("{} rows (the batch's len)", batch.len),
                found: format!("{} values and {validity} validity flags", column.len()),
            });
        }
    }
    Ok(())
}

/// The engine's end of a push channel: a [`Source`] polled by the router.
///
/// # Threading
/// Polled by one thread (the router); the first poll that waits makes that
/// thread the doorbell's consumer.
pub struct PushSource {
    schema: Schema,
    consumer: Consumer<Batch>,
    /// Where spent batches go back to the pusher.
    returns: Producer<Batch>,
    doorbell: Arc<Doorbell>,
    /// A pushed batch larger than a poll asked for, and how many of its rows
    /// have been returned.
    partial: Option<(Batch, usize)>,
    pushed_rows: u64,
}

impl PushSource {
    /// Up to `max_rows` rows that have arrived, without waiting.
    fn take(&mut self, max_rows: usize) -> Option<Batch> {
        let (batch, offset) = match self.partial.take() {
            Some(p) => p,
            None => (self.consumer.pop()?, 0),
        };
        debug_assert!(offset < batch.len);
        if offset == 0 && batch.len <= max_rows {
            self.pushed_rows += batch.len as u64;
            return Some(batch);
        }
        // Larger than asked for: return the next `max_rows` rows.
        let end = batch.len.min(offset + max_rows);
        let mut part = Batch::with_capacity(&self.schema, end - offset);
        for row in offset..end {
            part.push_row_from(&batch, row);
        }
        part.ingest_time = batch.ingest_time;
        if end < batch.len {
            self.partial = Some((batch, end));
        }
        self.pushed_rows += part.len as u64;
        Some(part)
    }

    /// Rows returned so far.
    pub fn rows_read(&self) -> u64 {
        self.pushed_rows
    }
}

impl Source for PushSource {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Returns what has been pushed (at most `max_rows` rows, splitting a
    /// larger pushed batch); waits for a push until `deadline` (spinning
    /// briefly, then parked on the doorbell), returning [`Poll::Idle`] by
    /// then; without a deadline, waits until a push or the end. Returns
    /// [`Poll::End`] once the pusher has finished and every row is returned.
    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        let max_rows = max_rows.max(1);
        let backoff = Backoff::new();
        loop {
            if let Some(batch) = self.take(max_rows) {
                return Ok(Poll::Batch(batch));
            }
            if self.consumer.is_abandoned() {
                // Every push happened-before the abandonment we just saw
                // (`Consumer::is_abandoned`), so one more look finds them all.
                return Ok(match self.take(max_rows) {
                    Some(batch) => Poll::Batch(batch),
                    None => Poll::End,
                });
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Poll::Idle);
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            let consumer = &self.consumer;
            let has_work = || !consumer.is_empty() || consumer.is_abandoned();
            match deadline {
                Some(d) => {
                    self.doorbell.park_unless_until(d, has_work);
                }
                None => {
                    self.doorbell.park_unless(has_work);
                }
            }
        }
    }

    /// Always 0: a batch that does not match is refused on push, and counted
    /// nowhere else.
    fn malformed(&self) -> u64 {
        0
    }

    /// Back to the pusher, emptied; freed if its return ring is full (a
    /// pusher that builds its own batches takes none back).
    fn reuse(&mut self, mut batch: Batch) {
        batch.clear();
        if check_batch(&self.schema, &batch).is_ok() {
            // A full ring hands the batch back, and it is dropped here.
            let _ = self.returns.push(batch);
        }
    }

    fn describe(&self) -> String {
        "push".to_owned()
    }
}

impl fmt::Debug for PushSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushSource")
            .field("schema", &self.schema.describe())
            .field("rows_read", &self.pushed_rows)
            .finish_non_exhaustive()
    }
}
