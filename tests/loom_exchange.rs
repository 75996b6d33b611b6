//! Loom model checks of the shard-to-shard exchange (`runtime::exchange`).
//!
//! Run with `cargo test --features loom --release --test loom_exchange`. Two
//! loom threads play two shards joined by the real [`mesh`]: the real
//! [`ExchangeOut`] (lanes, outboxes, pending batches, doorbell rings) over
//! the real SPSC rings, with ring capacity 1 and (mostly) batch size 1, so
//! that a ring is full after every push and the outboxes fill. loom
//! runs each model under every interleaving of the ring and doorbell atomics
//! and fails on a data race, a leak, a deadlock (every thread parked) or a
//! livelock (a model that yields without end exceeds loom's branch limit).
//! The runs are bounded: see [`PREEMPTIONS`]. Each model also counts that it
//! took the path it is about (a shard blocked, a shard parked).
//!
//! - `rows_arrive_once_in_order_under_full_rings`: a shard sends rows,
//!   a watermark and end of input while it drains its inbound ring and its
//!   own kept rows; it stops taking its input while its outbox is blocked
//!   and yields when it can do nothing. Every row arrives exactly once, at
//!   the shard that owns its key, in its sender's order, control after the
//!   rows sent before it, and both shards finish.
//! - `pending_rows_go_before_the_control_after_them`: the same at batch
//!   size 2, where a watermark first sends the row pending before it, and
//!   two messages wait in one outbox.
//! - `the_stage_rule_never_deadlocks`: each shard runs the loop of
//!   `runtime::shard` over the real [`Inputs`] (stage 0 reads a port-0
//!   feed, stage 1 reads the exchange on port 2 and its own kept rows),
//!   blocking port 0 while the exchange's outbox is blocked, and parking on
//!   its real [`Doorbell`] when it has nothing to read. Both shards start
//!   with more to send each other than the rings hold; both finish with
//!   every row. A shard that also stopped reading the exchange while
//!   blocked would livelock here.
//! - `single_partitioning_funnels_into_shard_0`: `Partitioning::Single`,
//!   where one shard only sends and the other only receives and keeps.
//!
//! Not covered: `runtime::shard`'s loop and `StageRunner` themselves (their
//! glommio executor, pipelines and sinks; the models follow the loop's
//! structure, a stage here forwards or records its rows), the routers (a
//! shard's stage-0 input is a local feed), the spin-then-park timing of the
//! idle policy (a shard here parks as soon as a flush of its pending rows
//! finds nothing more to do), idle timeouts and `park_unless_until` (loom
//! has no `park_timeout`), a shard that fails (abandoned rings), flush,
//! copy and partial messages, round-robin and broadcast partitioning, and
//! more than two shards or stages.
//!
//! Checked against broken exchanges: without the doorbell ring after an
//! outbox drain, the stage-rule model deadlocks (a shard parks for good);
//! with an outbox that re-queues a message at its back instead of its
//! front, the batch-size-2 model sees a watermark overtake a row.
#![cfg(feature = "loom")]

use std::sync::atomic::{AtomicUsize, Ordering};

use corestream::data::column::ColumnData;
use corestream::data::{Batch, Column, DataType, Field, Schema};
use corestream::exec::expr::Expr;
use corestream::exec::hash::{hash_rows, shard_of};
use corestream::runtime::doorbell::Doorbell;
use corestream::runtime::exchange::{mesh, ExchangeOut};
use corestream::runtime::message::Message;
use corestream::runtime::ring::Consumer;
use corestream::runtime::shard_inputs::Inputs;
use corestream::sql::plan::Partitioning;
use loom::sync::Arc;
use loom::thread;

/// The preemption bound, unless `LOOM_MAX_PREEMPTIONS` sets another.
///
/// Unbounded, loom would explore every schedule of two threads that each
/// spin (and yield) round their loop dozens of times: none of these models
/// finishes in minutes. Bounding the number of times a thread is switched
/// away from while it could still run (not counting yields, parks and
/// thread ends) is loom's documented way to keep such models tractable;
/// most concurrency bugs need only two or three preemptions to show.
///
/// At 2 the file takes about a minute in a debug build and 8 s in release
/// (`tools/test`); `LOOM_MAX_PREEMPTIONS=3` passes too, in about 3.5
/// minutes in release (two shared cores).
const PREEMPTIONS: usize = 2;

/// `loom::model`, with the preemption bound of [`PREEMPTIONS`].
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound.get_or_insert(PREEMPTIONS);
    builder.check(f);
}

const SHARDS: usize = 2;
/// Every ring holds one message: the second push to a shard finds it full.
const CAPACITY: usize = 1;
/// Every row is sent at once, in a batch of its own.
const BATCH_SIZE: usize = 1;

/// Rows are `(key, sender, seq)`: `key` picks the shard, `sender` and `seq`
/// let the receiver check where a row came from and in what order.
fn schema() -> Schema {
    Schema::new(vec![
        Field::new("key", DataType::Int64),
        Field::new("sender", DataType::Int64),
        Field::new("seq", DataType::Int64),
    ])
}

fn by_key() -> Partitioning {
    Partitioning::ByKey(vec![Expr::Column {
        index: 0,
        data_type: DataType::Int64,
    }])
}

fn int64s(values: Vec<i64>) -> Column {
    Column::from_data(ColumnData::Int64(values))
}

fn ints(column: &Column) -> &[i64] {
    match &column.data {
        ColumnData::Int64(values) => values,
        other => panic!("not an Int64 column: {other:?}"),
    }
}

/// Counts, over every run of a model, how often something happened: test
/// accounting with std atomics (loom runs all model threads on one OS
/// thread; this is not part of what is checked), so that a model can show
/// it took the path it is about, not only that it passed.
struct Seen(AtomicUsize);

impl Seen {
    const fn new() -> Seen {
        Seen(AtomicUsize::new(0))
    }

    fn hit(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Rows from `sender`, one per key, numbered from `seq`.
fn rows(keys: &[i64], sender: usize, seq: i64) -> Batch {
    let n = keys.len();
    Batch::new(
        vec![
            int64s(keys.to_vec()),
            int64s(vec![sender as i64; n]),
            int64s((seq..seq + n as i64).collect()),
        ],
        n,
    )
}

/// A one-row batch.
fn row(key: i64, sender: usize, seq: i64) -> Batch {
    rows(&[key], sender, seq)
}

/// The shard that owns `key` under [`by_key`], as the exchange computes it.
fn owner(key: i64) -> usize {
    let column = int64s(vec![key]);
    let mut hashes = Vec::new();
    hash_rows(&[&column], 1, &mut hashes);
    shard_of(hashes[0], SHARDS)
}

/// The smallest non-negative key each shard owns: `keys[s]` goes to shard `s`.
fn keys() -> [i64; SHARDS] {
    let mut keys = [None; SHARDS];
    for key in 0.. {
        keys[owner(key)].get_or_insert(key);
        if keys.iter().all(Option::is_some) {
            break;
        }
    }
    keys.map(Option::unwrap)
}

/// What a shard does, in order: send a row to a shard, or broadcast a
/// control message to every shard.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// A row for shard `to` (its key is one `to` owns).
    Row {
        to: usize,
    },
    Watermark(i64),
    End,
}

/// What one shard received from one sender (a feed): rows by `seq`, and
/// control in the order it came.
#[derive(Default, Debug, PartialEq)]
struct Feed {
    /// `Some(seq)` per row, `None` per watermark.
    events: Vec<Option<i64>>,
    ended: bool,
}

impl Feed {
    /// Records `message` from sender `from`: rows must be `from`'s, and
    /// nothing may follow end of input.
    fn record(&mut self, from: usize, message: Message) {
        assert!(
            !self.ended,
            "a message from shard {from} after its end of input"
        );
        match message {
            Message::Data(batch) => {
                assert!(batch.len > 0, "an empty batch");
                assert!(
                    ints(&batch.columns[1]).iter().all(|&s| s == from as i64),
                    "sender"
                );
                self.events
                    .extend(ints(&batch.columns[2]).iter().map(|&seq| Some(seq)));
            }
            Message::Watermark(_) => self.events.push(None),
            Message::EndOfInput => self.ended = true,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// What shard `to` must receive from a shard running `steps`: the
/// rows for it by `seq` and every watermark, in order, then end of input.
fn expected(steps: &[Step], to: usize) -> Feed {
    let mut events = Vec::new();
    for (seq, step) in steps.iter().enumerate() {
        match *step {
            Step::Row { to: t } if t == to => events.push(Some(seq as i64)),
            Step::Row { .. } => {}
            Step::Watermark(_) => events.push(None),
            Step::End => {}
        }
    }
    Feed {
        events,
        ended: true,
    }
}

/// Runs `steps` as shard `me`: the exchange's producer side, and the
/// consumer side of every ring into `me` and of `me`'s own kept rows.
///
/// Like a shard, it takes its next step (its input) only while the outbox
/// is not blocked, and keeps draining its inbound ring meanwhile; when it
/// can do nothing it yields, so a shard waiting for room spins in loom's
/// eyes, not forever. It returns once it has sent end of input, its outbox
/// is empty, and every feed (the other shard's ring and its own kept rows)
/// has ended.
fn spinning_shard(
    me: usize,
    keys: [i64; SHARDS],
    steps: Vec<Step>,
    mut out: ExchangeOut,
    mut inbound: Vec<Consumer<Message>>,
    blocked: &Seen,
) -> Vec<Feed> {
    let mut feeds: Vec<Feed> = (0..SHARDS).map(|_| Feed::default()).collect();
    // inbound[i] comes from the i-th shard other than `me`.
    let senders: Vec<usize> = (0..SHARDS).filter(|&s| s != me).collect();
    let mut steps = steps.into_iter().enumerate();
    let mut sent_end = false;
    loop {
        out.drain();
        let mut progress = false;
        if out.is_blocked() {
            blocked.hit();
        } else if !sent_end {
            match steps.next() {
                Some((seq, Step::Row { to })) => out.send(row(keys[to], me, seq as i64)),
                Some((_, Step::Watermark(w))) => out.broadcast(|| Message::Watermark(w)),
                Some((_, Step::End)) | None => {
                    out.broadcast(|| Message::EndOfInput);
                    sent_end = true;
                }
            }
            progress = true;
        }
        while let Some(message) = out.take_local() {
            feeds[me].record(me, message);
            progress = true;
        }
        for (consumer, &from) in inbound.iter_mut().zip(&senders) {
            if let Some(message) = consumer.pop() {
                feeds[from].record(from, message);
                progress = true;
            }
        }
        if sent_end && !out.is_blocked() && feeds.iter().all(|f| f.ended) {
            return feeds;
        }
        if !progress {
            thread::yield_now();
        }
    }
}

/// Runs the two shards of `steps[s]`, shard 0 on the model's own thread
/// (one thread fewer to interleave: nothing here parks), and checks what
/// each received from each.
/// `blocked` counts the turns a shard could not take its next step.
fn run_spinning(
    partitioning: Partitioning,
    batch_size: usize,
    keys: [i64; SHARDS],
    steps: [Vec<Step>; SHARDS],
    blocked: &'static Seen,
) {
    let doorbells: Vec<_> = (0..SHARDS).map(|_| Doorbell::new()).collect();
    let mut ends = mesh(&partitioning, &schema(), batch_size, &doorbells, CAPACITY);
    let (out, inbound) = ends.pop().unwrap();
    let steps_1 = steps[1].clone();
    let shard_1 = thread::spawn(move || spinning_shard(1, keys, steps_1, out, inbound, blocked));
    let (out, inbound) = ends.pop().unwrap();
    let received = [
        spinning_shard(0, keys, steps[0].clone(), out, inbound, blocked),
        shard_1.join().unwrap(),
    ];
    for (to, feeds) in received.into_iter().enumerate() {
        for (from, feed) in feeds.into_iter().enumerate() {
            assert_eq!(
                feed,
                expected(&steps[from], to),
                "what shard {to} received from shard {from}"
            );
        }
    }
}

/// (1) No loss, no duplicate, no reordering and no deadlock under full
/// rings: each shard sends a row to the other, keeps one, sends a
/// watermark, sends one more row to the other and ends. Three messages
/// cross each capacity-1 ring, so each outbox fills while the other shard
/// may be doing the same.
#[test]
fn rows_arrive_once_in_order_under_full_rings() {
    static BLOCKED: Seen = Seen::new();
    let keys = keys();
    model(move || {
        let steps = |me: usize| {
            let other = 1 - me;
            vec![
                Step::Row { to: other },
                Step::Row { to: me },
                Step::Watermark(1),
                Step::Row { to: other },
                Step::End,
            ]
        };
        run_spinning(by_key(), BATCH_SIZE, keys, [steps(0), steps(1)], &BLOCKED);
    });
    assert!(BLOCKED.count() > 0, "no shard was ever blocked");
}

/// (1b) Batch size 2: rows wait in a pending batch until it fills or
/// control follows them. Each shard sends the other two rows (a full
/// batch, which fills the ring), a third (pending), then a watermark,
/// which must send the pending row first: both wait in the outbox, and
/// must leave it in order. Then end of input.
#[test]
fn pending_rows_go_before_the_control_after_them() {
    static BLOCKED: Seen = Seen::new();
    let keys = keys();
    model(move || {
        let steps = |me: usize| {
            let other = 1 - me;
            vec![
                Step::Row { to: other },
                Step::Row { to: other },
                Step::Row { to: other },
                Step::Watermark(1),
                Step::End,
            ]
        };
        run_spinning(by_key(), 2, keys, [steps(0), steps(1)], &BLOCKED);
    });
    assert!(BLOCKED.count() > 0, "no shard was ever blocked");
}

/// (3) `Partitioning::Single`: every row goes to shard 0, whatever its
/// key. Shard 1 only sends (two rows and end of input through a capacity-1
/// ring), shard 0 only keeps and receives, and its own end of input must
/// not let it finish before shard 1's.
#[test]
fn single_partitioning_funnels_into_shard_0() {
    static BLOCKED: Seen = Seen::new();
    let keys = keys();
    model(move || {
        // Every key is one shard 1 owns under `ByKey`; `Single` ignores it.
        let steps = vec![Step::Row { to: 0 }, Step::Row { to: 0 }, Step::End];
        run_spinning(
            Partitioning::Single,
            BATCH_SIZE,
            [keys[1], keys[1]],
            [steps.clone(), steps],
            &BLOCKED,
        );
    });
    assert!(BLOCKED.count() > 0, "shard 1 was never blocked");
}

/// Runs shard `me` the way `runtime::shard` runs a two-stage query, over
/// the real [`Inputs`]: port 0 is stage 0's input (`input`, read through a
/// local feed: the router is not modelled), port 2 is stage 1's (the ring
/// from the other shard and `me`'s own kept rows).
///
/// Each turn: drain the outbox and block port 0 while it is blocked (as
/// `StageRunner::drain`), then take the next message, later stages first.
/// Stage 0 sends each row through the exchange, and broadcasts end of
/// input when its port ends (its watermark reaches `i64::MAX`); stage 1
/// records its rows. With nothing to read: spin (yield) while blocked,
/// else send pending rows once, then park on the doorbell until
/// `Inputs::has_work`. At end of input, wait for the outbox to empty.
fn staged_shard(
    me: usize,
    doorbell: Arc<Doorbell>,
    input: Vec<Batch>,
    mut out: ExchangeOut,
    inbound: Vec<Consumer<Message>>,
    seen: &Seen2,
) -> Vec<(usize, i64)> {
    doorbell.register_current_thread();
    let feeds = inbound.len();
    let mut inputs = Inputs::new(
        inbound,
        (0..feeds).map(|_| None).collect(),
        vec![2; feeds],
        Vec::new(),
        Vec::new(),
    );
    let stage0 = inputs.add_local(0);
    let kept = inputs.add_local(2);
    for batch in input {
        inputs.push_local(stage0, Message::Data(batch));
    }
    inputs.push_local(stage0, Message::EndOfInput);
    let hand_over = |out: &mut ExchangeOut, inputs: &mut Inputs| {
        while let Some(message) = out.take_local() {
            inputs.push_local(kept, message);
        }
    };
    let mut received = Vec::new();
    let mut idle = false;
    loop {
        out.drain();
        let blocked = out.is_blocked();
        inputs.set_blocked(0, blocked);
        match inputs.pop() {
            Some((0, Message::Data(batch))) => {
                assert!(!blocked, "a blocked port was read");
                idle = false;
                out.send(batch);
                hand_over(&mut out, &mut inputs);
            }
            Some((0, Message::Watermark(w))) => {
                idle = false;
                assert_eq!(w, i64::MAX, "port 0 carries no watermark but its end");
                out.broadcast(|| Message::EndOfInput);
                hand_over(&mut out, &mut inputs);
            }
            Some((2, Message::Data(batch))) => {
                idle = false;
                if blocked {
                    seen.drained_while_blocked.hit();
                }
                let senders = ints(&batch.columns[1]);
                let seqs = ints(&batch.columns[2]);
                received.extend(senders.iter().zip(seqs).map(|(&s, &q)| (s as usize, q)));
            }
            Some((2, Message::Watermark(w))) => {
                idle = false;
                assert_eq!(w, i64::MAX, "only end of input crosses this exchange");
            }
            Some((_, Message::EndOfInput)) => {
                while {
                    out.drain();
                    out.is_blocked()
                } {
                    thread::yield_now();
                }
                return received;
            }
            Some((port, other)) => panic!("shard {me}: unexpected {other:?} on port {port}"),
            None if blocked => {
                out.send_all_pending();
                hand_over(&mut out, &mut inputs);
                thread::yield_now();
            }
            None if !idle => {
                out.send_all_pending();
                hand_over(&mut out, &mut inputs);
                idle = true;
            }
            None => {
                if doorbell.park_unless(|| inputs.has_work()) {
                    seen.parked.hit();
                }
                idle = false;
            }
        }
    }
}

/// (2) The stage rule: a shard whose outbox is blocked takes no stage-0
/// input but still drains stage 1's inbound ring, and a shard with nothing
/// to read parks until a push rings its doorbell. Each shard has three
/// rows for the other (plus end of input: four messages for a capacity-1
/// ring), the first two in one input batch, and one for itself; both
/// finish, each with every row that is its own, each sender's in order.
///
/// The rule is needed: a variant that also stops reading port 2 while
/// blocked fails here (both shards take their first input before reading
/// the other's ring, both block, and neither drains: loom reports the
/// livelock).
#[test]
fn the_stage_rule_never_deadlocks() {
    static SEEN: Seen2 = Seen2 {
        drained_while_blocked: Seen::new(),
        parked: Seen::new(),
    };
    let keys = keys();
    model(move || {
        let doorbells: Vec<_> = (0..SHARDS).map(|_| Doorbell::new()).collect();
        let ends = mesh(&by_key(), &schema(), BATCH_SIZE, &doorbells, CAPACITY);
        // Shard `me`'s input, by target shard of each row: a batch of two
        // rows for the other shard (two messages at batch size 1, so one
        // input message alone fills the ring and the outbox), a row for
        // itself, one more for the other. Rows are numbered 0..4 in order.
        let input = |me: usize| [vec![1 - me, 1 - me], vec![me], vec![1 - me]];
        let targets = |me: usize| input(me).concat();
        let handles: Vec<_> = ends
            .into_iter()
            .enumerate()
            .map(|(me, (out, inbound))| {
                let mut seq = 0;
                let input = input(me)
                    .iter()
                    .map(|targets| {
                        let keys: Vec<i64> = targets.iter().map(|&to| keys[to]).collect();
                        seq += keys.len() as i64;
                        rows(&keys, me, seq - keys.len() as i64)
                    })
                    .collect();
                let doorbell = Arc::clone(&doorbells[me]);
                thread::spawn(move || staged_shard(me, doorbell, input, out, inbound, &SEEN))
            })
            .collect();
        for (to, handle) in handles.into_iter().enumerate() {
            let received = handle.join().unwrap();
            for from in 0..SHARDS {
                let got: Vec<i64> = received
                    .iter()
                    .filter(|(s, _)| *s == from)
                    .map(|(_, q)| *q)
                    .collect();
                let want: Vec<i64> = targets(from)
                    .iter()
                    .enumerate()
                    .filter(|(_, &t)| t == to)
                    .map(|(seq, _)| seq as i64)
                    .collect();
                assert_eq!(got, want, "rows shard {to} received from shard {from}");
            }
        }
    });
    let (drained, parked) = (SEEN.drained_while_blocked.count(), SEEN.parked.count());
    assert!(
        drained > 0,
        "no blocked shard ever drained its inbound ring"
    );
    assert!(parked > 0, "no shard ever parked");
}

/// What [`staged_shard`] was seen doing, over every run of the model.
struct Seen2 {
    /// It read stage 1's input while stage 0 was blocked.
    drained_while_blocked: Seen,
    /// It parked (and was woken).
    parked: Seen,
}
