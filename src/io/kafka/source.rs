//! A Kafka topic as a [`Source`]: `--input 'kafka://HOST:PORT/TOPIC?...'`.
//!
//! A message value holds one record: a CSV record without a header in the
//! declared columns (`--schema`, with `--delimiter`), or one JSON object.
//! A null or malformed value goes to the `--on-error` policy, named by topic,
//! partition and offset (in the dead-letter file, the source is
//! `kafka://HOST:PORT/TOPIC partition P` and the line field holds the offset).
//!
//! With `key_column=NAME` the message key (UTF-8 text; a key that is not is
//! a malformed record) is a VARCHAR column `NAME` after the value's columns,
//! NULL for a message without a key. With `timestamp_column=NAME` the
//! message timestamp (ms since the epoch, the producer's create time or the
//! broker's append time, as the topic says) is a TIMESTAMP column `NAME`
//! after the value's columns, NULL for a message without one. Each is
//! appended to the declared columns, or is a declared column when the
//! declared columns end with it (a `CREATE STREAM` declares them so).
//!
//! # Watermark
//! With an event time, the source computes the input's watermark itself,
//! per partition ([`super::watermark`]); the router asks for it after every
//! poll.
//!
//! Messages arrive from the consumer's own thread ([`super::consumer`]) in
//! chunks; this source decodes them into batches on the router thread.
//!
//! # Offsets
//! The router routes every batch a poll returned before it polls again, so
//! at each poll the records of the previous batch have been read and
//! routed: their offsets are reported to the consumer thread then, which
//! stores them for the group's commits (at least once). When the source
//! ends (`stop=end`: its partitions read to their ends) or is dropped (a
//! stop, an error) it reports the last batch too, and the consumer thread
//! commits and leaves the group. Leaving at the end, not when the run ends,
//! matters: the group's members still reading can only be given partitions
//! once every member has answered the rebalance, and a member that has
//! ended no longer polls.
//!
//! # Checkpoints
//! The source's [`position`](Source::position) is, per partition, the offset
//! after the last record it returned, the `stop=end` end offsets, and each
//! partition's largest event time. A run with checkpoints commits a
//! checkpoint's offsets to the group once the checkpoint is committed
//! ([`Source::checkpoint_committed`]), never before; a resumed run reads
//! every partition from its checkpoint's offset, with the watermark where
//! it was (see [`super::consumer`]).
//!
//! # Threading
//! Runs on the router thread; blocks only in a bounded channel receive, up
//! to the router's deadline.

use super::consumer::{self, Chunk, Command, ConsumerThread, Event, Resume, Share};
use super::url::{KafkaUrl, ValueFormat};
use super::watermark::PartitionWatermarks;
use crate::checkpoint::manifest::KafkaPosition;
use crate::checkpoint::SourcePosition;
use crate::data::{Batch, BatchPool, DataType, Field, Schema, Value};
use crate::error::Error;
use crate::io::reject::{OnError, Rejects};
use crate::io::source::{EventTime, LiveGauge, LiveGauges, Poll, Source};
use crate::io::tcp::LineDecoder;
use crate::io::text::{InputFormat, TextOptions};
use crossbeam::channel::{RecvTimeoutError, TryRecvError};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// A Kafka topic read by a consumer (in a group, or every partition).
pub struct KafkaSource {
    url: KafkaUrl,
    name: String,
    schema: Schema,
    pool: BatchPool,
    decoder: LineDecoder,
    rejects: Rejects,
    /// `--on-error fail`: a malformed record stops the run, named by offset.
    fail: bool,
    client: ConsumerThread,
    /// The chunk being decoded, and the next record in it.
    chunk: Chunk,
    next: usize,
    /// Per partition, the offset after the last record handed out since the
    /// last report (reported as routed at the next poll).
    unreported: BTreeMap<i32, i64>,
    /// The last record handed out, not yet in `unreported` (records come in
    /// runs of one partition: one map insert per run, not per record).
    last: Option<(i32, i64)>,
    ended: bool,
    /// `key_column=`, `timestamp_column=`: the columns of the message's key
    /// and timestamp.
    columns: MessageColumns,
    /// The per-partition watermarks, when the router asked for them.
    watermarks: Option<PartitionWatermarks>,
    /// When the current chunk reached this source (for idle partitions).
    chunk_arrived: Instant,
    /// The partitions assigned, as the consumer thread last said.
    assigned: Vec<i32>,
    /// The consumer thread was told to start.
    started: bool,
    /// The run takes checkpoints (told at the start).
    checkpoints: bool,
    /// Per partition, the offset after the last record handed out (from
    /// the checkpoint the run resumed, then as read).
    offsets: BTreeMap<i32, i64>,
    /// `stop=end`: each partition's end offset.
    ends: Option<BTreeMap<i32, i64>>,
    /// Per partition, the largest event time of the checkpoint resumed.
    resumed_max_seen: BTreeMap<i32, i64>,
}

impl KafkaSource {
    /// Connects to the broker of `spec` (`kafka://...`) and starts reading;
    /// fails (within the URL's `timeout`) when the broker does not answer or
    /// the topic does not exist.
    ///
    /// # Threading
    /// Call it from a thread that is not pinned to a shard core (the
    /// engine builder's): the consumer thread, and librdkafka's threads,
    /// inherit its CPU set.
    pub fn open(spec: &str, options: &TextOptions) -> Result<KafkaSource, Error> {
        KafkaSource::open_share(spec, options, Share::ALL)
    }

    /// `readers` sources over the topic of `spec` (fewer when the topic has
    /// fewer partitions), each read by a router of its own: with a group,
    /// each is a member and the group shares the partitions out; without
    /// one, each reads every `readers`-th partition.
    ///
    /// # Threading
    /// As [`open`](Self::open).
    pub fn open_readers(
        spec: &str,
        options: &TextOptions,
        readers: usize,
    ) -> Result<Vec<Box<dyn Source>>, Error> {
        let first = KafkaSource::open_share(spec, options, Share::ALL)?;
        let of = readers.clamp(1, first.client.partitions().max(1));
        if of == 1 {
            return Ok(vec![Box::new(first)]);
        }
        // It has not started: dropping it only disconnects.
        drop(first);
        (0..of)
            .map(|index| {
                let source = KafkaSource::open_share(spec, options, Share { index, of })?;
                Ok(Box::new(source) as Box<dyn Source>)
            })
            .collect()
    }

    fn open_share(spec: &str, options: &TextOptions, share: Share) -> Result<KafkaSource, Error> {
        let url = KafkaUrl::parse(spec, "--input")?;
        url.check_for_input("--input")?;
        let name = url.describe();
        let Some(declared) = options.schema.clone() else {
            return Err(Error::Config(format!(
                "input {name}: declare the columns (--schema 'name TYPE, ...'); a Kafka message has no header"
            )));
        };
        let (schema, values, columns) = with_message_columns(declared, &url)?;
        let json = match url.format {
            Some(f) => f == ValueFormat::Json,
            None => options.format == InputFormat::Json,
        };
        let fail = options.on_error == OnError::Fail;
        let rejects = Rejects::new(
            match fail {
                true => &OnError::Skip,
                false => &options.on_error,
            },
            None,
        )?;
        let client = consumer::spawn(&url, share)?;
        Ok(KafkaSource {
            started: false,
            checkpoints: false,
            offsets: BTreeMap::new(),
            ends: client.ends.clone(),
            resumed_max_seen: BTreeMap::new(),
            name,
            pool: BatchPool::new(&schema),
            // Decodes the value's columns into the first columns of a batch
            // of `schema` (both decoders fill the columns they know).
            decoder: LineDecoder::new(&values, json, options),
            schema,
            rejects,
            fail,
            client,
            chunk: Chunk::default(),
            next: 0,
            unreported: BTreeMap::new(),
            last: None,
            ended: false,
            columns,
            watermarks: None,
            chunk_arrived: Instant::now(),
            assigned: Vec::new(),
            url,
        })
    }

    /// Tells the consumer thread to start polling (once).
    fn start(&mut self, checkpoints: bool, resume: Option<Resume>) {
        if !self.started {
            self.started = true;
            self.checkpoints = checkpoints;
            self.command(Command::Start {
                checkpoints,
                resume,
            });
        }
    }

    fn command(&self, command: Command) {
        if let Some(tx) = &self.client.commands {
            // The consumer thread gone means the run is failing already.
            let _ = tx.send(command);
        }
    }

    /// Reports the offsets handed out since the last report as routed.
    fn report_routed(&mut self) {
        if let Some((p, next)) = self.last.take() {
            self.unreported.insert(p, next);
        }
        if self.unreported.is_empty() {
            return;
        }
        let offsets = std::mem::take(&mut self.unreported);
        self.offsets.extend(&offsets);
        self.command(Command::Routed(offsets));
    }

    /// Decodes records of the current chunk into `batch`, up to `max_rows`.
    fn decode(&mut self, batch: &mut Batch, max_rows: usize) -> Result<(), Error> {
        while batch.len < max_rows && self.next < self.chunk.records.len() {
            let meta = self.chunk.records[self.next];
            self.next += 1;
            match &mut self.last {
                Some((p, next)) if *p == meta.partition => *next = meta.offset + 1,
                last => {
                    if let Some((p, next)) = last.replace((meta.partition, meta.offset + 1)) {
                        self.unreported.insert(p, next);
                    }
                }
            }
            let key = meta
                .key
                .map(|(s, e)| &self.chunk.bytes[s as usize..e as usize]);
            let key = key.map(|k| std::str::from_utf8(k).map_err(|_| k));
            let result = match (meta.value, key) {
                (_, Some(Err(raw))) => Err(("the message key is not UTF-8 text".to_string(), raw)),
                (Some((start, end)), _) => {
                    let value = &self.chunk.bytes[start as usize..end as usize];
                    let line = value.strip_suffix(b"\n").unwrap_or(value);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if batch.len == 0 {
                        batch.ingest_time = Instant::now();
                    }
                    self.decoder.decode(line, batch).map_err(|r| (r, line))
                }
                (None, _) => Err(("the message has no value (null)".to_string(), &[][..])),
            };
            if result.is_ok() {
                if let Some(i) = self.columns.timestamp {
                    // Int64 fits a TIMESTAMP column and a BIGINT one.
                    let ms = meta.timestamp.map_or(Value::Null, Value::Int64);
                    batch.columns[i].push_value(&ms);
                }
                if let Some(i) = self.columns.key {
                    let text = key.and_then(Result::ok);
                    let text = text.map_or(Value::Null, |k| Value::Utf8(k.to_string()));
                    batch.columns[i].push_value(&text);
                }
            }
            if let Some(w) = self.watermarks.as_mut() {
                // A decoded record is the batch's last row.
                let decoded = result.is_ok().then(|| (&*batch, batch.len - 1));
                w.observe(meta.partition, decoded, self.chunk_arrived);
            }
            if let Err((reason, raw)) = result {
                if self.fail {
                    return Err(Error::Kafka {
                        what: format!(
                            "malformed record in {} partition {} at offset {}",
                            self.name, meta.partition, meta.offset
                        ),
                        reason,
                    });
                }
                let source = format!("{} partition {}", self.name, meta.partition);
                self.rejects
                    .reject(&source, meta.offset as u64, reason, raw)?;
            }
        }
        Ok(())
    }
}

impl Source for KafkaSource {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        self.start(false, None);
        // The router routed the previous batch before polling again.
        self.report_routed();
        let mut batch = self.pool.take(&self.schema, max_rows);
        loop {
            self.decode(&mut batch, max_rows)?;
            if batch.len >= max_rows || self.ended {
                break;
            }
            // The chunk is used up: take the next, waiting only while the
            // batch is empty.
            let event = match (batch.len, deadline) {
                (0, Some(d)) => match self.client.events.recv_deadline(d) {
                    Ok(e) => Some(e),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => return Err(self.gone()),
                },
                (0, None) => Some(self.client.events.recv().map_err(|_| self.gone())?),
                _ => match self.client.events.try_recv() {
                    Ok(e) => Some(e),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => return Err(self.gone()),
                },
            };
            match event {
                Some(Event::Records(chunk)) => {
                    self.chunk = chunk;
                    self.next = 0;
                    if self.watermarks.is_some() {
                        self.chunk_arrived = Instant::now();
                    }
                }
                Some(Event::Assigned(partitions)) => {
                    if let Some(w) = self.watermarks.as_mut() {
                        w.assigned(&partitions, Instant::now());
                    }
                    self.assigned = partitions;
                }
                Some(Event::End) => self.ended = true,
                Some(Event::Failed(e)) => return Err(e),
                None => break,
            }
        }
        self.rejects.flush()?;
        if batch.len > 0 {
            return Ok(Poll::Batch(batch));
        }
        self.pool.give(batch);
        match self.ended {
            true => {
                // Nothing more will be polled: what was handed out is routed.
                self.report_routed();
                if !self.checkpoints {
                    self.leave();
                }
                Ok(Poll::End)
            }
            false => Ok(Poll::Idle),
        }
    }

    fn malformed(&self) -> u64 {
        self.rejects.count()
    }

    fn reuse(&mut self, batch: Batch) {
        self.pool.give(batch);
    }

    fn describe(&self) -> String {
        self.name.clone()
    }

    /// The watermark is the smallest of the assigned partitions' (see
    /// [`super::watermark`]).
    fn track_watermark(&mut self, event_time: EventTime) -> bool {
        let mut w = PartitionWatermarks::new(event_time);
        w.resume(std::mem::take(&mut self.resumed_max_seen));
        w.assigned(&self.assigned, Instant::now());
        self.watermarks = Some(w);
        true
    }

    fn watermark(&mut self) -> Option<i64> {
        self.watermarks.as_ref()?.watermark(Instant::now())
    }

    /// Every record handed out has been routed when the router asks (it
    /// routes a poll's batch before it asks).
    fn position(&self) -> Option<SourcePosition> {
        let mut offsets = self.offsets.clone();
        offsets.extend(&self.unreported);
        offsets.extend(self.last);
        Some(SourcePosition::Kafka(KafkaPosition {
            offsets,
            ends: self.ends.clone(),
            max_seen: self
                .watermarks
                .as_ref()
                .map_or_else(|| self.resumed_max_seen.clone(), |w| w.max_seen()),
        }))
    }

    fn take_checkpoints(&mut self, resume: Option<&SourcePosition>) -> Result<(), Error> {
        let resume = match resume {
            None => None,
            Some(SourcePosition::Kafka(p)) => {
                self.offsets = p.offsets.clone();
                self.ends = p.ends.clone().or(self.ends.take());
                self.resumed_max_seen = p.max_seen.clone();
                Some(Resume {
                    offsets: p.offsets.clone(),
                    ends: p.ends.clone(),
                })
            }
            Some(other) => {
                return Err(Error::Checkpoint(format!(
                    "input {}: the checkpoint holds another kind of input ({other:?})",
                    self.name
                )))
            }
        };
        self.start(true, resume);
        Ok(())
    }

    fn live_gauges(&self) -> Option<LiveGauges> {
        let lags = self.client.lags.clone();
        Some(Arc::new(move || {
            (lags.lags.iter())
                .map(|(p, lag, _)| (p, lag.load(Ordering::Relaxed)))
                .filter(|&(_, lag)| lag >= 0)
                .map(|(p, value)| LiveGauge {
                    name: "kafka_lag_records",
                    help: "Records of a Kafka partition after the last one routed",
                    labels: vec![
                        ("topic".into(), lags.topic.clone()),
                        ("partition".into(), p.to_string()),
                    ],
                    value,
                })
                .collect()
        }))
    }

    fn checkpoint_committed(&mut self, position: &SourcePosition) {
        if let SourcePosition::Kafka(p) = position {
            self.command(Command::Commit(p.offsets.clone()));
        }
    }
}

/// Where a message's key and timestamp go in the source's rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct MessageColumns {
    key: Option<usize>,
    timestamp: Option<usize>,
}

/// The source's columns, the value's, and where the key and timestamp go:
/// with `key_column=` / `timestamp_column=`, the declared columns and a
/// column for each after them (VARCHAR for the key, TIMESTAMP for the
/// timestamp), unless declared as the last columns (VARCHAR; TIMESTAMP or
/// BIGINT): then those.
fn with_message_columns(
    declared: Schema,
    url: &KafkaUrl,
) -> Result<(Schema, Schema, MessageColumns), Error> {
    let bad = |name: &str, why: String| {
        Err(Error::Config(format!(
            "input {}: {name}: {why}",
            url.describe()
        )))
    };
    let wanted: Vec<(&str, &str, bool)> = [
        (url.key_column.as_deref(), "key_column", true),
        (url.timestamp_column.as_deref(), "timestamp_column", false),
    ]
    .into_iter()
    .filter_map(|(name, option, key)| Some((name?, option, key)))
    .collect();
    if let [(a, ..), (b, ..)] = wanted[..] {
        if a.eq_ignore_ascii_case(b) {
            return bad("key_column=", format!("{a} is the timestamp column too"));
        }
    }
    let mut columns = MessageColumns::default();
    let mut values = declared.clone();
    let mut placed = [false; 2];
    // Declared last (in either order): the declared columns are theirs.
    while let Some(last) = values.fields.last() {
        let Some(w) =
            (0..wanted.len()).find(|&w| !placed[w] && wanted[w].0.eq_ignore_ascii_case(&last.name))
        else {
            break;
        };
        let (name, option, key) = wanted[w];
        let fits = match key {
            true => last.data_type == DataType::Utf8,
            false => matches!(last.data_type, DataType::Timestamp | DataType::Int64),
        };
        if !fits {
            let want = if key {
                "VARCHAR"
            } else {
                "TIMESTAMP or BIGINT"
            };
            let why = format!("{name} is declared {}, not {want}", last.data_type);
            return bad(&format!("{option}={name}"), why);
        }
        let index = Some(values.len() - 1);
        match key {
            true => columns.key = index,
            false => columns.timestamp = index,
        }
        placed[w] = true;
        values.fields.pop();
    }
    let mut schema = declared;
    for (w, &(name, option, key)) in wanted.iter().enumerate() {
        if placed[w] {
            continue;
        }
        if values.index_of(name).is_some() {
            return bad(
                &format!("{option}={name}"),
                "a declared column has that name: declare it among the last columns, \
                 after the value's, or leave it out (it is appended)"
                    .into(),
            );
        }
        let data_type = if key {
            DataType::Utf8
        } else {
            DataType::Timestamp
        };
        schema.fields.push(Field::new(name.to_string(), data_type));
        let index = Some(schema.len() - 1);
        match key {
            true => columns.key = index,
            false => columns.timestamp = index,
        }
    }
    if values.is_empty() {
        let (name, option, _) = wanted[0];
        return bad(
            &format!("{option}={name}"),
            "the message value needs a column of its own too".into(),
        );
    }
    Ok((schema, values, columns))
}

impl KafkaSource {
    /// Lets the consumer thread commit what was routed and leave the
    /// group, and waits for it: at `stop=end`, a member that has read its
    /// partitions to their ends leaves at once, so the group can hand
    /// partitions to the members still reading (a member that stayed in
    /// the group without polling would hold up every rebalance). With
    /// checkpoints it stays until the run ends, to commit the final
    /// checkpoint's offsets (see the module docs).
    fn leave(&mut self) {
        self.report_routed();
        self.client.commands = None;
        if let Some(h) = self.client.handle.take() {
            let _ = h.join();
        }
    }

    /// The error when the consumer thread ended without saying why.
    fn gone(&self) -> Error {
        Error::Kafka {
            what: format!("Kafka input {}", self.url.describe()),
            reason: "the consumer thread stopped".into(),
        }
    }
}

impl Drop for KafkaSource {
    /// Reports the last batch as routed (the router routes what it polled),
    /// then lets the consumer thread commit and leave the group, and waits
    /// for it.
    fn drop(&mut self) {
        self.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(options: &str) -> KafkaUrl {
        KafkaUrl::parse(&format!("kafka://h:1/t?{options}"), "--input").unwrap()
    }

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(fields.iter().map(|(n, t)| Field::new(*n, *t)).collect())
    }

    #[test]
    fn the_key_and_timestamp_columns_are_appended_or_the_last_declared_ones() {
        let declared = schema(&[("a", DataType::Int64)]);
        let ts = url("timestamp_column=ts");
        let (s, v, c) = with_message_columns(declared.clone(), &ts).unwrap();
        assert_eq!(s.describe(), "a BIGINT, ts TIMESTAMP");
        assert_eq!((v, c.timestamp, c.key), (declared.clone(), Some(1), None));
        let last = schema(&[("a", DataType::Int64), ("TS", DataType::Int64)]);
        let (s, v, c) = with_message_columns(last.clone(), &ts).unwrap();
        assert_eq!((s, v, c.timestamp), (last, declared.clone(), Some(1)));
        let (s, v, c) = with_message_columns(declared.clone(), &url("format=csv")).unwrap();
        assert_eq!(
            (&s, &v, c),
            (&declared, &declared, MessageColumns::default())
        );
        // Both: appended key first; or declared last in either order.
        let both = url("timestamp_column=ts&key_column=k");
        let (s, _, c) = with_message_columns(declared.clone(), &both).unwrap();
        assert_eq!(s.describe(), "a BIGINT, k VARCHAR, ts TIMESTAMP");
        assert_eq!((c.key, c.timestamp), (Some(1), Some(2)));
        let ends = schema(&[
            ("a", DataType::Int64),
            ("ts", DataType::Timestamp),
            ("k", DataType::Utf8),
        ]);
        let (s, v, c) = with_message_columns(ends.clone(), &both).unwrap();
        assert_eq!((s, v), (ends, declared.clone()));
        assert_eq!((c.key, c.timestamp), (Some(2), Some(1)));
        let key_declared = schema(&[("a", DataType::Int64), ("k", DataType::Utf8)]);
        let (s, _, c) = with_message_columns(key_declared, &both).unwrap();
        assert_eq!(s.describe(), "a BIGINT, k VARCHAR, ts TIMESTAMP");
        assert_eq!((c.key, c.timestamp), (Some(1), Some(2)));
        for (fields, options, says) in [
            (
                vec![("ts", DataType::Int64), ("a", DataType::Int64)],
                "timestamp_column=ts",
                "last",
            ),
            (
                vec![("a", DataType::Int64), ("ts", DataType::Utf8)],
                "timestamp_column=ts",
                "not TIMESTAMP",
            ),
            (
                vec![("a", DataType::Int64), ("k", DataType::Int64)],
                "key_column=k",
                "not VARCHAR",
            ),
            (
                vec![("ts", DataType::Timestamp)],
                "timestamp_column=ts",
                "column of its own",
            ),
            (
                vec![("a", DataType::Int64)],
                "timestamp_column=x&key_column=X",
                "timestamp column too",
            ),
        ] {
            let e = with_message_columns(schema(&fields), &url(options))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{options}: {e}");
        }
    }

    #[test]
    fn both_decoders_fill_the_value_columns_of_a_wider_batch() {
        let (s, v, _) = with_message_columns(
            schema(&[("a", DataType::Int64), ("b", DataType::Utf8)]),
            &url("timestamp_column=ts"),
        )
        .unwrap();
        for (json, line) in [(false, &b"1,x"[..]), (true, &br#"{"a":1,"b":"x"}"#[..])] {
            let mut decoder = LineDecoder::new(&v, json, &TextOptions::default());
            let mut batch = Batch::with_capacity(&s, 1);
            decoder.decode(line, &mut batch).unwrap();
            assert_eq!(batch.len, 1);
            assert_eq!(batch.columns[0].len(), 1);
            assert_eq!(batch.columns[2].len(), 0, "left for the timestamp");
        }
    }
}
