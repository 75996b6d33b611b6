//! A Kafka topic as a [`Source`]: `--input 'kafka://HOST:PORT/TOPIC?...'`.
//!
//! A message value holds one record: a CSV record without a header in the
//! declared columns (`--schema`, with `--delimiter`), or one JSON object.
//! A null or malformed value goes to the `--on-error` policy, named by topic,
//! partition and offset (in the dead-letter file, the source is
//! `kafka://HOST:PORT/TOPIC partition P` and the line field holds the offset).
//!
//! With `timestamp_column=NAME` the message timestamp (ms since the epoch,
//! the producer's create time or the broker's append time, as the topic
//! says) is a TIMESTAMP column `NAME` after the value's columns: appended to
//! the declared columns, or the last declared column when that is `NAME` (a
//! `CREATE STREAM` declares it so). A message without a timestamp gives
//! NULL there.
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
//! stores them for the group's commits (at least once). When the source is
//! dropped (end of input, a stop, an error) it reports the last batch too,
//! and the consumer thread commits and leaves the group.
//!
//! # Threading
//! Runs on the router thread; blocks only in a bounded channel receive, up
//! to the router's deadline.

use super::consumer::{self, Chunk, ConsumerThread, Event, Routed};
use super::url::{KafkaUrl, ValueFormat};
use super::watermark::PartitionWatermarks;
use crate::data::{Batch, BatchPool, DataType, Field, Schema, Value};
use crate::error::Error;
use crate::io::reject::{OnError, Rejects};
use crate::io::source::{EventTime, Poll, Source};
use crate::io::tcp::LineDecoder;
use crate::io::text::{InputFormat, TextOptions};
use crossbeam::channel::{RecvTimeoutError, TryRecvError};
use std::collections::BTreeMap;
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
    ended: bool,
    /// `timestamp_column=`: the last column holds the message timestamp.
    timestamp_column: bool,
    /// The per-partition watermarks, when the router asked for them.
    watermarks: Option<PartitionWatermarks>,
    /// When the current chunk reached this source (for idle partitions).
    chunk_arrived: Instant,
    /// The partitions assigned, as the consumer thread last said.
    assigned: Vec<i32>,
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
        let url = KafkaUrl::parse(spec, "--input")?;
        url.check_for_input("--input")?;
        let name = url.describe();
        let Some(declared) = options.schema.clone() else {
            return Err(Error::Config(format!(
                "input {name}: declare the columns (--schema 'name TYPE, ...'); a Kafka message has no header"
            )));
        };
        let (schema, values) = with_timestamp_column(declared, &url)?;
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
        let client = consumer::spawn(&url)?;
        Ok(KafkaSource {
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
            ended: false,
            timestamp_column: url.timestamp_column.is_some(),
            watermarks: None,
            chunk_arrived: Instant::now(),
            assigned: Vec::new(),
            url,
        })
    }

    /// Reports the offsets handed out since the last report as routed.
    fn report_routed(&mut self) {
        if self.unreported.is_empty() {
            return;
        }
        let offsets = std::mem::take(&mut self.unreported);
        if let Some(tx) = &self.client.routed {
            // The consumer thread gone means the run is failing already.
            let _ = tx.send(Routed(offsets));
        }
    }

    /// Decodes records of the current chunk into `batch`, up to `max_rows`.
    fn decode(&mut self, batch: &mut Batch, max_rows: usize) -> Result<(), Error> {
        while batch.len < max_rows && self.next < self.chunk.records.len() {
            let meta = self.chunk.records[self.next];
            self.next += 1;
            self.unreported.insert(meta.partition, meta.offset + 1);
            let result = match meta.value {
                Some((start, end)) => {
                    let value = &self.chunk.bytes[start as usize..end as usize];
                    let line = value.strip_suffix(b"\n").unwrap_or(value);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if batch.len == 0 {
                        batch.ingest_time = Instant::now();
                    }
                    self.decoder.decode(line, batch).map_err(|r| (r, line))
                }
                None => Err(("the message has no value (null)".to_string(), &[][..])),
            };
            if result.is_ok() && self.timestamp_column {
                let last = batch.columns.len() - 1;
                let column = &mut batch.columns[last];
                // Int64 fits a TIMESTAMP column and a BIGINT one.
                match meta.timestamp {
                    Some(ms) => column.push_value(&Value::Int64(ms)),
                    None => column.push_value(&Value::Null),
                };
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
        w.assigned(&self.assigned, Instant::now());
        self.watermarks = Some(w);
        true
    }

    fn watermark(&mut self) -> Option<i64> {
        self.watermarks.as_ref()?.watermark(Instant::now())
    }
}

/// The source's columns and the value's: with `timestamp_column=NAME`, the
/// declared columns and a TIMESTAMP column `NAME` after them (unless the
/// last declared column is `NAME`, BIGINT or TIMESTAMP: then that one).
fn with_timestamp_column(declared: Schema, url: &KafkaUrl) -> Result<(Schema, Schema), Error> {
    let Some(name) = &url.timestamp_column else {
        return Ok((declared.clone(), declared));
    };
    let bad = |why: String| {
        Err(Error::Config(format!(
            "input {}: timestamp_column={name}: {why}",
            url.describe()
        )))
    };
    let mut values = declared.clone();
    match declared.index_of(name) {
        Some(i) if i + 1 == declared.len() => {
            if !matches!(
                declared.fields[i].data_type,
                DataType::Timestamp | DataType::Int64
            ) {
                return bad(format!(
                    "the column is declared {}, not TIMESTAMP or BIGINT",
                    declared.fields[i].data_type
                ));
            }
            values.fields.pop();
            if values.is_empty() {
                return bad("the message value needs a column of its own too".into());
            }
            Ok((declared, values))
        }
        Some(_) => bad(
            "a declared column has that name: declare the message timestamp last, or leave it out (it is appended)".into(),
        ),
        None => {
            let mut schema = declared;
            schema
                .fields
                .push(Field::new(name.clone(), DataType::Timestamp));
            Ok((schema, values))
        }
    }
}

impl KafkaSource {
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
        self.report_routed();
        self.client.routed = None;
        if let Some(h) = self.client.handle.take() {
            let _ = h.join();
        }
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
    fn the_timestamp_column_is_appended_or_the_last_declared_one() {
        let declared = schema(&[("a", DataType::Int64)]);
        let (s, v) = with_timestamp_column(declared.clone(), &url("timestamp_column=ts")).unwrap();
        assert_eq!(s.describe(), "a BIGINT, ts TIMESTAMP");
        assert_eq!(v, declared);
        let last = schema(&[("a", DataType::Int64), ("TS", DataType::Int64)]);
        let (s, v) = with_timestamp_column(last.clone(), &url("timestamp_column=ts")).unwrap();
        assert_eq!((s, v), (last, declared.clone()));
        let (s, v) = with_timestamp_column(declared.clone(), &url("format=csv")).unwrap();
        assert_eq!((&s, &v), (&declared, &declared));
        for (fields, says) in [
            (
                vec![("ts", DataType::Int64), ("a", DataType::Int64)],
                "last",
            ),
            (
                vec![("a", DataType::Int64), ("ts", DataType::Utf8)],
                "not TIMESTAMP",
            ),
            (vec![("ts", DataType::Timestamp)], "column of its own"),
        ] {
            let e = with_timestamp_column(schema(&fields), &url("timestamp_column=ts"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn both_decoders_fill_the_value_columns_of_a_wider_batch() {
        let (s, v) = with_timestamp_column(
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
