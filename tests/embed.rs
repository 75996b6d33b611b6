//! The embedding API: input pushed from an application thread, the engine
//! run in the background, results taken per shard by callback or ring.
//!
//! Covers: results of a GROUP BY and a tumbling window fed by `push_row` and
//! `push`; stopping an endless push; bounded memory under a slow consumer
//! (batches in flight never exceed what the rings hold); a shard whose
//! callback fails or panics; schema checks on push; where the router runs
//! (off the shards' cores, the caller's CPUs restored after); and a shard
//! that keeps polling while its router is held up mid-stream.

use corestream::data::{Batch, DataType, Field, Schema, Value};
use corestream::io::push::{self, PushError, RowError};
use corestream::io::sink::OutputSpec;
use corestream::io::source::{Poll, Source};
use corestream::runtime::affinity::allowed_cpus;
use corestream::runtime::cores::CoreSet;
use corestream::runtime::router::Batching;
use corestream::runtime::shard::IdlePolicy;
use corestream::{Engine, Error, RunningEngine};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SHARDS: usize = 2;

fn cores() -> CoreSet {
    CoreSet::from_list("0-1", &CoreSet::online_cpus().unwrap()).unwrap()
}

fn schema() -> Schema {
    Schema::new(vec![
        Field::new("ts", DataType::Timestamp),
        Field::new("sym", DataType::Utf8),
        Field::new("qty", DataType::Int64),
    ])
}

/// Record `i` of the test stream: ordered event times 7 ms apart from a
/// round second, 37 symbols, quantities 0..100.
fn record(i: u64) -> (i64, String, i64) {
    (
        1_700_000_000_000 + 7 * i as i64,
        format!("s{}", i % 37),
        (i % 100) as i64,
    )
}

fn values(i: u64) -> [Value; 3] {
    let (ts, sym, qty) = record(i);
    [Value::Timestamp(ts), Value::Utf8(sym), Value::Int64(qty)]
}

/// Records `from .. to` as one batch.
fn batch(from: u64, to: u64) -> Batch {
    let mut b = Batch::with_capacity(&schema(), (to - from) as usize);
    for i in from..to {
        for (c, v) in b.columns.iter_mut().zip(values(i)) {
            assert!(c.push_value(&v));
        }
        b.len += 1;
    }
    b
}

fn builder(sql: &str) -> corestream::EngineBuilder {
    Engine::builder()
        .sql(sql)
        .cores(cores())
        .batching(Batching {
            batch_size: 512,
            linger: Duration::from_millis(2),
        })
}

fn rows(b: &Batch) -> Vec<Vec<Value>> {
    (0..b.len)
        .map(|i| b.columns.iter().map(|c| c.value(i)).collect())
        .collect()
}

/// One result batch as the callback saw it: its shard and its rows.
type ShardRows = (usize, Vec<Vec<Value>>);

/// A callback output that sends `(shard, rows)` down a channel.
fn channel_output() -> (OutputSpec, mpsc::Receiver<ShardRows>) {
    let (tx, rx) = mpsc::channel();
    let out = OutputSpec::callback(move |shard, batch| {
        tx.send((shard, rows(&batch)))?;
        Ok(())
    });
    (out, rx)
}

#[test]
fn group_by_over_pushed_rows_and_batches_through_a_callback() {
    let (mut pusher, source) = push::channel(schema(), 8);
    let (output, results) = channel_output();
    let running =
        builder("SELECT sym, COUNT(*) AS n, SUM(qty) AS q FROM orders GROUP BY sym EMIT FINAL")
            .output(output)
            .build_with_source(Box::new(source))
            .unwrap()
            .spawn()
            .unwrap();
    const N: u64 = 10_000;
    for i in 0..N / 2 {
        pusher.push_row(&values(i)).unwrap();
    }
    pusher.flush().unwrap();
    for from in (N / 2..N).step_by(250) {
        pusher.push(batch(from, from + 250)).unwrap();
    }
    pusher.finish().unwrap();
    let out = running.join().unwrap();
    assert!(out.summary.identity_holds(), "{}", out.summary.render());
    assert_eq!(out.summary.records_read, N);

    let mut expected: HashMap<String, (i64, i64)> = HashMap::new();
    for i in 0..N {
        let (_, sym, qty) = record(i);
        let e = expected.entry(sym).or_default();
        e.0 += 1;
        e.1 += qty;
    }
    let mut got = HashMap::new();
    let mut shards_with_rows = [false; SHARDS];
    for (shard, rows) in results.try_iter() {
        shards_with_rows[shard] = true;
        for row in rows {
            let [Value::Utf8(sym), Value::Int64(n), Value::Int64(q)] = &row[..] else {
                panic!("unexpected row {row:?}");
            };
            assert!(got.insert(sym.clone(), (*n, *q)).is_none(), "{sym} twice");
        }
    }
    assert_eq!(got, expected);
    assert_eq!(shards_with_rows, [true; SHARDS], "both shards own keys");
}

#[test]
fn tumbling_window_over_pushed_rows_through_result_rings() {
    let (mut pusher, source) = push::channel(schema(), 4);
    let mut running = builder(
        "SELECT sym, window_start, COUNT(*) AS n, SUM(qty) AS q FROM orders \
         GROUP BY sym WINDOW TUMBLING(ts, INTERVAL '1' SECOND) EMIT FINAL",
    )
    .event_time("ts")
    .output(OutputSpec::Rings { capacity: 2 })
    .build_with_source(Box::new(source))
    .unwrap()
    .spawn()
    .unwrap();
    let rings = running.take_result_rings();
    assert_eq!(rings.len(), SHARDS);
    let readers: Vec<_> = rings
        .into_iter()
        .map(|mut ring| {
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    match ring.pop() {
                        Some(b) => got.extend(rows(&b)),
                        None if ring.is_abandoned() && ring.is_empty() => return got,
                        None => std::thread::yield_now(),
                    }
                }
            })
        })
        .collect();
    const N: u64 = 20_000;
    pusher.set_rows_per_batch(300);
    for i in 0..N {
        pusher.push_row(&values(i)).unwrap();
    }
    pusher.finish().unwrap();
    let out = running.join().unwrap();
    assert!(out.summary.identity_holds(), "{}", out.summary.render());
    assert_eq!(out.summary.total().late, 0);

    let mut expected: HashMap<(String, i64), (i64, i64)> = HashMap::new();
    for i in 0..N {
        let (ts, sym, qty) = record(i);
        let e = expected.entry((sym, ts - ts.rem_euclid(1000))).or_default();
        e.0 += 1;
        e.1 += qty;
    }
    let mut got = HashMap::new();
    for reader in readers {
        for row in reader.join().unwrap() {
            let [Value::Utf8(sym), Value::Timestamp(start), Value::Int64(n), Value::Int64(q)] =
                &row[..]
            else {
                panic!("unexpected row {row:?}");
            };
            let key = (sym.clone(), *start);
            assert!(got.insert(key, (*n, *q)).is_none(), "{sym} {start} twice");
        }
    }
    assert_eq!(got, expected);
}

/// Pushes rows until the engine stops reading; returns how many were sent.
fn push_until_closed(mut pusher: push::Pusher) -> u64 {
    let mut sent = 0;
    for i in 0.. {
        match pusher.push_row(&values(i)) {
            Ok(()) => sent += 1,
            Err(RowError::Closed(unsent)) => return sent - (unsent.len as u64 - 1),
            Err(e) => panic!("{e}"),
        }
    }
    unreachable!()
}

/// Waits (yielding) until `cond` holds, for at most a minute.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn stop_ends_an_endless_push() {
    let (pusher, source) = push::channel(schema(), 8);
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    let running = builder("SELECT sym, qty FROM orders WHERE qty >= 0")
        .output(OutputSpec::callback(move |_, b| {
            counter.fetch_add(b.len as u64, Ordering::Relaxed);
            Ok(())
        }))
        .build_with_source(Box::new(source))
        .unwrap()
        .spawn()
        .unwrap();
    let pushing = std::thread::spawn(move || push_until_closed(pusher));
    wait_for("results", || seen.load(Ordering::Relaxed) > 20_000);
    running.stop();
    let out = running.join().unwrap();
    let sent = pushing.join().unwrap();
    assert!(out.summary.stopped);
    assert!(out.summary.identity_holds(), "{}", out.summary.render());
    // Every row the router read reached the callback; the rest were pushed
    // before the stop and are counted by the pusher, not lost silently.
    assert_eq!(seen.load(Ordering::Relaxed), out.summary.records_read);
    assert!(sent >= out.summary.records_read);
}

/// Spins (no sleep) for `d`.
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// The slow-consumer run: a stateless query (one result batch per pushed
/// batch, spread over the shards), `BATCHES` batches of `ROWS` rows pushed
/// through a ring of `PUSH_RING` batches, and a consumer that takes
/// `slow` per batch. Returns (rows pushed, rows consumed, most rows in
/// flight seen by the pusher, pushes that found the ring full).
const ROWS: u64 = 64;
const BATCHES: u64 = 1_500;
const PUSH_RING: usize = 8;

/// Rows that can be in flight between a completed push and the consumer:
/// the push ring; the batch just pushed (the pusher's load of the consumed
/// count may be ordered before its push is visible); the batch the router
/// holds; and per shard its inbound ring, the batch it is processing (or
/// handing to the callback), and `per_shard` more (a result ring and the
/// batch its reader holds).
fn in_flight_bound(per_shard: usize) -> u64 {
    let per_shard = corestream::engine::RING_CAPACITY as u64 + 1 + per_shard as u64;
    ROWS * (PUSH_RING as u64 + 2 + SHARDS as u64 * per_shard)
}

struct Slow {
    pushed: u64,
    consumed: u64,
    max_in_flight: u64,
    full: u64,
}

/// Pushes every batch, trying first and then waiting; after each push,
/// records the rows in flight (pushed minus consumed).
fn push_counting(mut pusher: push::Pusher, consumed: &AtomicU64) -> (u64, u64, u64) {
    let (mut pushed, mut max_in_flight, mut full) = (0, 0, 0);
    for n in 0..BATCHES {
        let b = batch(n * ROWS, (n + 1) * ROWS);
        match pusher.try_push(b) {
            Ok(()) => {}
            Err(PushError::Full(b)) => {
                full += 1;
                pusher.push(b).unwrap();
            }
            Err(e) => panic!("{e}"),
        }
        pushed += ROWS;
        // ORDERING: Acquire pairs with the consumer's Release increment, so
        // the count is no older than the consumer's progress it reports.
        max_in_flight = max_in_flight.max(pushed - consumed.load(Ordering::Acquire));
    }
    pusher.finish().unwrap();
    (pushed, max_in_flight, full)
}

fn slow_run(output: impl FnOnce(Arc<AtomicU64>) -> OutputSpec, drain: bool) -> Slow {
    let consumed = Arc::new(AtomicU64::new(0));
    let (pusher, source) = push::channel(schema(), PUSH_RING);
    let mut running: RunningEngine = builder("SELECT ts, sym, qty * 2 AS q2 FROM orders")
        .output(output(Arc::clone(&consumed)))
        .build_with_source(Box::new(source))
        .unwrap()
        .spawn()
        .unwrap();
    let readers: Vec<_> = running
        .take_result_rings()
        .into_iter()
        .filter(|_| drain)
        .map(|mut ring| {
            let consumed = Arc::clone(&consumed);
            std::thread::spawn(move || loop {
                match ring.pop() {
                    Some(b) => {
                        spin_for(Duration::from_micros(300));
                        consumed.fetch_add(b.len as u64, Ordering::Release);
                    }
                    None if ring.is_abandoned() && ring.is_empty() => return,
                    None => std::thread::yield_now(),
                }
            })
        })
        .collect();
    let (pushed, max_in_flight, full) = push_counting(pusher, &consumed);
    let out = running.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    assert!(out.summary.identity_holds(), "{}", out.summary.render());
    Slow {
        pushed,
        consumed: consumed.load(Ordering::Acquire),
        max_in_flight,
        full,
    }
}

fn check_bounded(run: &Slow, bound: u64) {
    eprintln!(
        "pushed {} rows, at most {} in flight (bound {bound}), {} pushes found the ring full",
        run.pushed, run.max_in_flight, run.full
    );
    assert_eq!(run.pushed, ROWS * BATCHES);
    assert_eq!(
        run.consumed, run.pushed,
        "everything is consumed in the end"
    );
    assert!(
        run.pushed > 4 * bound,
        "the test pushes far more than the rings hold"
    );
    assert!(
        run.max_in_flight <= bound,
        "{} rows in flight, more than the rings hold ({bound})",
        run.max_in_flight
    );
    assert!(run.full > 0, "backpressure reached the pusher");
}

#[test]
fn a_slow_callback_bounds_what_is_in_flight() {
    let run = slow_run(
        |consumed| {
            OutputSpec::callback(move |_, b| {
                spin_for(Duration::from_micros(300));
                // ORDERING: Release pairs with the pusher's Acquire load.
                consumed.fetch_add(b.len as u64, Ordering::Release);
                Ok(())
            })
        },
        true,
    );
    check_bounded(&run, in_flight_bound(0));
}

#[test]
fn slow_result_ring_readers_bound_what_is_in_flight() {
    let run = slow_run(|_| OutputSpec::Rings { capacity: 4 }, true);
    check_bounded(&run, in_flight_bound(4 + 1));
}

/// Runs a stateless query whose callback fails on shard 1, with a pusher
/// pushing for ever; returns the run's outcome.
fn run_failing(fail: impl Fn() -> Result<(), String> + Send + Sync + 'static) -> Error {
    let (pusher, source) = push::channel(schema(), 8);
    let running = builder("SELECT sym, qty FROM orders")
        .output(OutputSpec::callback(move |shard, _| {
            if shard == 1 {
                fail()?;
            }
            Ok(())
        }))
        .build_with_source(Box::new(source))
        .unwrap()
        .spawn()
        .unwrap();
    let pushing = std::thread::spawn(move || push_until_closed(pusher));
    let err = running.join().unwrap_err();
    pushing.join().unwrap();
    err
}

#[test]
fn a_callback_error_stops_the_run_naming_the_shard() {
    let err = run_failing(|| Err("the downstream service refused".to_owned()));
    match &err {
        Error::Sink { shard: 1, .. } => {}
        other => panic!("expected a sink error of shard 1, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("shard 1"), "{text}");
    assert!(text.contains("the downstream service refused"), "{text}");
}

#[test]
fn a_panicking_callback_stops_the_run_naming_the_shard() {
    let err = run_failing(|| panic!("boom in the callback"));
    match &err {
        Error::Shard { shard: 1, reason } => {
            assert!(reason.contains("boom in the callback"), "{reason}")
        }
        other => panic!("expected shard 1 to fail, got {other:?}"),
    }
}

#[test]
fn a_dropped_result_ring_stops_its_shard() {
    let (mut pusher, source) = push::channel(schema(), 8);
    let mut running = builder("SELECT sym, qty FROM orders")
        .output(OutputSpec::Rings { capacity: 2 })
        .build_with_source(Box::new(source))
        .unwrap()
        .spawn()
        .unwrap();
    let mut rings = running.take_result_rings();
    drop(rings.remove(1));
    // Shard 0's ring is drained, so shard 0 finishes once the run stops.
    let mut ring0 = rings.remove(0);
    let reader = std::thread::spawn(move || loop {
        match ring0.pop() {
            Some(_) => {}
            None if ring0.is_abandoned() => return,
            None => std::thread::yield_now(),
        }
    });
    for i in 0..10_000 {
        if pusher.push_row(&values(i)).is_err() {
            break;
        }
    }
    drop(pusher);
    match running.join().unwrap_err() {
        Error::Sink { shard: 1, .. } => {}
        other => panic!("expected shard 1 to fail, got {other:?}"),
    }
    reader.join().unwrap();
}

#[test]
fn pushes_are_checked_against_the_schema() {
    let (mut pusher, _source) = push::channel(schema(), 2);
    // Wrong arity and wrong type: refused, and the buffered rows stay intact.
    pusher.push_row(&values(0)).unwrap();
    let e = pusher.push_row(&[Value::Int64(1)]).unwrap_err();
    assert!(e.to_string().contains("expected 3 values"), "{e}");
    let e = pusher
        .push_row(&[Value::Timestamp(0), Value::Int64(3), Value::Int64(4)])
        .unwrap_err();
    match &e {
        RowError::Mismatch(m) => assert_eq!(m.column, Some((1, "sym".to_owned()))),
        other => panic!("{other:?}"),
    }
    // Integers widen to timestamps; NULL fits anywhere.
    pusher
        .push_row(&[Value::Int64(5), Value::Null, Value::Int64(4)])
        .unwrap();

    // A batch with a column of the wrong type is handed back.
    let other = Schema::new(vec![
        Field::new("ts", DataType::Timestamp),
        Field::new("sym", DataType::Utf8),
        Field::new("qty", DataType::Float64),
    ]);
    let mut wrong = Batch::with_capacity(&other, 1);
    for (c, v) in wrong.columns.iter_mut().zip([
        Value::Timestamp(0),
        Value::Utf8("x".into()),
        Value::Float64(1.5),
    ]) {
        assert!(c.push_value(&v));
    }
    wrong.len = 1;
    match pusher.try_push(wrong) {
        Err(PushError::Mismatch(b, m)) => {
            assert_eq!(b.len, 1);
            assert_eq!(m.column, Some((2, "qty".to_owned())));
            assert!(m.to_string().contains("BIGINT"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    // A batch whose len disagrees with its columns, and one with too few columns.
    let mut short = batch(0, 3);
    short.len = 4;
    assert!(matches!(
        pusher.try_push(short),
        Err(PushError::Mismatch(..))
    ));
    let mut narrow = batch(0, 3);
    narrow.columns.pop();
    assert!(matches!(
        pusher.try_push(narrow),
        Err(PushError::Mismatch(..))
    ));
}

#[test]
fn the_push_source_honours_its_contract() {
    let (mut pusher, mut source) = push::channel(schema(), 2);
    // Nothing pushed: Idle by the deadline.
    let start = Instant::now();
    let deadline = start + Duration::from_millis(30);
    assert!(matches!(
        source.poll(100, Some(deadline)).unwrap(),
        Poll::Idle
    ));
    assert!(Instant::now() >= deadline);
    assert!(start.elapsed() < Duration::from_secs(5));

    // A full ring hands the batch back.
    pusher.try_push(batch(0, 10)).unwrap();
    pusher.try_push(batch(10, 12)).unwrap();
    match pusher.try_push(batch(12, 13)) {
        Err(PushError::Full(b)) => assert_eq!(b.len, 1),
        other => panic!("{other:?}"),
    }
    // A batch larger than asked for comes out in pieces, in order.
    let mut got = Vec::new();
    for expect in [4, 4, 2, 2] {
        match source.poll(4, None).unwrap() {
            Poll::Batch(b) => {
                assert_eq!(b.len, expect);
                got.extend(rows(&b));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, rows(&batch(0, 12)));

    // A push wakes a waiting poll; finish ends the input after the rows.
    let pushing = std::thread::spawn(move || {
        pusher.push_row(&values(12)).unwrap();
        pusher.finish().unwrap();
    });
    let far = Instant::now() + Duration::from_secs(60);
    match source.poll(100, Some(far)).unwrap() {
        Poll::Batch(b) => assert_eq!(rows(&b), rows(&batch(12, 13))),
        other => panic!("{other:?}"),
    }
    assert!(matches!(source.poll(100, Some(far)).unwrap(), Poll::End));
    assert!(Instant::now() < far);
    pushing.join().unwrap();
    assert_eq!(source.rows_read(), 13);
}

#[test]
fn pushing_after_the_engine_is_gone_is_closed() {
    let (mut pusher, source) = push::channel(schema(), 2);
    drop(source);
    assert!(pusher.is_closed());
    assert!(matches!(
        pusher.push(batch(0, 1)),
        Err(PushError::Closed(_))
    ));
    pusher.push_row(&values(0)).unwrap(); // buffered, not sent yet
    match pusher.finish() {
        Err(e @ PushError::Closed(_)) => {
            assert_eq!(e.into_inner().len, 1);
        }
        other => panic!("{other:?}"),
    }
}

/// Serves `batches` small batches, all but the first after `stall` of busy
/// work (a router held up mid-stream), then is idle for `quiet` (each poll
/// returns at once with nothing), then ends. Sends the CPUs its thread (the
/// router's) may run on at each batch.
struct SmallBatches {
    batches: u64,
    stall: Duration,
    quiet: Duration,
    served: u64,
    quiet_until: Option<Instant>,
    cpus: mpsc::Sender<Vec<usize>>,
}

impl SmallBatches {
    fn new(
        batches: u64,
        stall: Duration,
        quiet: Duration,
    ) -> (SmallBatches, mpsc::Receiver<Vec<usize>>) {
        let (cpus, rx) = mpsc::channel();
        let source = SmallBatches {
            batches,
            stall,
            quiet,
            served: 0,
            quiet_until: None,
            cpus,
        };
        (source, rx)
    }
}

impl Source for SmallBatches {
    fn schema(&self) -> &Schema {
        static SCHEMA: std::sync::OnceLock<Schema> = std::sync::OnceLock::new();
        SCHEMA.get_or_init(schema)
    }

    fn poll(&mut self, _max_rows: usize, _deadline: Option<Instant>) -> Result<Poll, Error> {
        if self.batches == 0 {
            let quiet_until = *self.quiet_until.get_or_insert(Instant::now() + self.quiet);
            return Ok(if Instant::now() < quiet_until {
                Poll::Idle
            } else {
                Poll::End
            });
        }
        let _ = self.cpus.send(allowed_cpus());
        if self.served > 0 {
            let until = Instant::now() + self.stall;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        self.served += 1;
        self.batches -= 1;
        Ok(Poll::Batch(batch(self.batches * 4, self.batches * 4 + 4)))
    }

    fn malformed(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        "where-routed".to_owned()
    }
}

/// One shard on the first of the test thread's CPUs.
fn one_shard_engine(source: SmallBatches, idle: IdlePolicy) -> Engine {
    let first = allowed_cpus()[0];
    Engine::builder()
        .sql("SELECT sym, COUNT(*) AS n FROM t GROUP BY sym")
        .cores(CoreSet::from_list(&first.to_string(), &CoreSet::online_cpus().unwrap()).unwrap())
        .output(OutputSpec::Discard)
        .idle(idle)
        .build_with_source(Box::new(source))
        .unwrap()
}

#[test]
fn the_router_keeps_off_the_shards_cores_and_the_caller_gets_its_cpus_back() {
    let before = allowed_cpus();
    assert!(!before.is_empty(), "the test thread's CPU set is readable");
    let shard_core = before[0];
    let (source, rx) = SmallBatches::new(20, Duration::ZERO, Duration::ZERO);
    let out = one_shard_engine(source, IdlePolicy::default())
        .run()
        .unwrap();
    assert!(out.summary.identity_holds(), "{}", out.summary.render());
    // With a CPU besides the shard's, the router keeps to the others; with
    // none it stays where it was.
    let others: Vec<usize> = before
        .iter()
        .copied()
        .filter(|&c| c != shard_core)
        .collect();
    let expected = if others.is_empty() { &before } else { &others };
    let seen: Vec<Vec<usize>> = rx.iter().collect();
    assert_eq!(seen.len(), 20);
    for cpus in &seen {
        assert_eq!(cpus, expected, "the router's CPUs while routing");
    }
    assert_eq!(
        allowed_cpus(),
        before,
        "the calling thread's CPUs after the run"
    );
}

#[test]
fn a_shard_keeps_polling_while_its_router_is_held_up_mid_stream() {
    const GAPS: u64 = 20;
    // Gaps far longer than the spins, so that on a loaded machine (a shard
    // descheduled for a few milliseconds) the shard still parks in most.
    let stall = Duration::from_millis(10);
    let parks = |stall_spin: Duration, quiet: Duration| {
        let (source, _cpus) = SmallBatches::new(GAPS + 1, stall, quiet);
        let idle = IdlePolicy {
            spin: Duration::from_micros(100),
            stall_spin,
        };
        let out = one_shard_engine(source, idle).run().unwrap();
        assert!(out.summary.identity_holds(), "{}", out.summary.render());
        out.summary.total().parks
    };
    // Every gap is longer than the idle spin and the stall spin: the shard
    // parks in (nearly) every one.
    let parked = parks(Duration::from_millis(1), Duration::ZERO);
    assert!(parked >= GAPS / 2, "parked {parked} times in {GAPS} gaps");
    let parked = parks(Duration::from_millis(500), Duration::ZERO);
    if allowed_cpus().len() == 1 {
        // No CPU of its own for the router: no flow hint, so the shard parks
        // as it would without the stall spin.
        assert!(parked >= GAPS / 2, "parked {parked} times in {GAPS} gaps");
        return;
    }
    // The router runs on a CPU of its own and says the input is flowing from
    // its first batch on: the shard keeps polling through every gap.
    assert!(parked <= 2, "parked {parked} times in {GAPS} gaps");
    // Once the source says it has nothing, the input is idle, not stalled:
    // the shard parks after the idle spin.
    let parked = parks(Duration::from_millis(500), Duration::from_millis(20));
    assert!(parked >= 1, "parked {parked} times with the input idle");
}
