//! Throughput of our SPSC ring against rtrb and crossbeam's `ArrayQueue`, core to core.
//!
//! `cargo bench --bench ring`. One producer thread pinned to the first core,
//! one consumer pinned to the second (unpinned, with a note, if the machine has
//! fewer than two), both waiting with `crossbeam::utils::Backoff` when the queue
//! is full or empty. Two workloads:
//!
//! - `batch=1024`: `Vec<u64>` batches of 1024 records through a 32-slot ring;
//!   the consumer sums each batch and sends the `Vec` back through a second
//!   ring of the same kind, so the timed loop allocates nothing;
//! - `batch=1`: single `u64` messages through a 64-slot ring: the per-message
//!   cost of the queue itself.
//!
//! Every trial moves about 20M records (10M single messages) and checks the
//! sum; one untimed
//! checking run per queue comes first. Trials of the three queues are
//! interleaved (ours, rtrb, ArrayQueue, ours, ...) so drift in the machine's
//! speed hits all three alike; the median of 5 is reported, with the range.
//!
//! Without `--bench` (as under `cargo test --benches`) it only runs the small
//! checking runs.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam::queue::ArrayQueue;
use crossbeam::utils::Backoff;

/// Records per timed trial of the batch workload.
const BATCH_RECORDS_PER_TRIAL: u64 = 20_000_000;
/// Records (= messages) per timed trial of the single-message workload: half
/// the batch figure, because `ArrayQueue` moves only a few million messages a
/// second here and the whole run has to stay under a minute.
const MESSAGE_RECORDS_PER_TRIAL: u64 = 10_000_000;
/// Records per untimed checking run.
const RECORDS_PER_CHECK: u64 = 1_000_000;
/// Timed trials per queue and workload; the median is reported.
const TRIALS: usize = 5;
/// Records per batch in the batch workload.
const BATCH: usize = 1024;
/// Slots of the batch ring, and batches in circulation.
const BATCH_RING: usize = 32;
/// Slots of the single-message ring.
const MESSAGE_RING: usize = 64;

/// The three queues behind one interface, so both workloads are the same code
/// for each of them.
trait Spsc {
    const NAME: &'static str;
    type Tx<T: Send + 'static>: Send + 'static;
    type Rx<T: Send + 'static>: Send + 'static;
    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Tx<T>, Self::Rx<T>);
    fn push<T: Send + 'static>(tx: &mut Self::Tx<T>, value: T) -> Result<(), T>;
    fn pop<T: Send + 'static>(rx: &mut Self::Rx<T>) -> Option<T>;
}

/// `corestream::runtime::ring`.
struct Ours;

impl Spsc for Ours {
    const NAME: &'static str = "corestream";
    type Tx<T: Send + 'static> = corestream::runtime::ring::Producer<T>;
    type Rx<T: Send + 'static> = corestream::runtime::ring::Consumer<T>;

    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Tx<T>, Self::Rx<T>) {
        corestream::runtime::ring::ring(capacity)
    }
    #[inline(always)]
    fn push<T: Send + 'static>(tx: &mut Self::Tx<T>, value: T) -> Result<(), T> {
        tx.push(value).map_err(|e| e.into_inner())
    }
    #[inline(always)]
    fn pop<T: Send + 'static>(rx: &mut Self::Rx<T>) -> Option<T> {
        rx.pop()
    }
}

/// `rtrb::RingBuffer` (0.3).
struct Rtrb;

impl Spsc for Rtrb {
    const NAME: &'static str = "rtrb";
    type Tx<T: Send + 'static> = rtrb::Producer<T>;
    type Rx<T: Send + 'static> = rtrb::Consumer<T>;

    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Tx<T>, Self::Rx<T>) {
        rtrb::RingBuffer::new(capacity)
    }
    #[inline(always)]
    fn push<T: Send + 'static>(tx: &mut Self::Tx<T>, value: T) -> Result<(), T> {
        tx.push(value).map_err(|rtrb::PushError::Full(v)| v)
    }
    #[inline(always)]
    fn pop<T: Send + 'static>(rx: &mut Self::Rx<T>) -> Option<T> {
        rx.pop().ok()
    }
}

/// `crossbeam::queue::ArrayQueue`, an MPMC queue used here as SPSC.
struct CrossbeamArrayQueue;

impl Spsc for CrossbeamArrayQueue {
    const NAME: &'static str = "ArrayQueue";
    type Tx<T: Send + 'static> = Arc<ArrayQueue<T>>;
    type Rx<T: Send + 'static> = Arc<ArrayQueue<T>>;

    fn channel<T: Send + 'static>(capacity: usize) -> (Self::Tx<T>, Self::Rx<T>) {
        let queue = Arc::new(ArrayQueue::new(capacity));
        (Arc::clone(&queue), queue)
    }
    #[inline(always)]
    fn push<T: Send + 'static>(tx: &mut Self::Tx<T>, value: T) -> Result<(), T> {
        tx.push(value)
    }
    #[inline(always)]
    fn pop<T: Send + 'static>(rx: &mut Self::Rx<T>) -> Option<T> {
        rx.pop()
    }
}

/// Pushes, backing off while full. The fast path does not touch the `Backoff`.
#[inline(always)]
fn send<Q: Spsc, T: Send + 'static>(tx: &mut Q::Tx<T>, value: T) {
    let Err(mut value) = Q::push(tx, value) else {
        return;
    };
    let backoff = Backoff::new();
    loop {
        backoff.snooze();
        match Q::push(tx, value) {
            Ok(()) => return,
            Err(back) => value = back,
        }
    }
}

/// Pops, backing off while empty. The fast path does not touch the `Backoff`.
#[inline(always)]
fn recv<Q: Spsc, T: Send + 'static>(rx: &mut Q::Rx<T>) -> T {
    if let Some(value) = Q::pop(rx) {
        return value;
    }
    let backoff = Backoff::new();
    loop {
        backoff.snooze();
        if let Some(value) = Q::pop(rx) {
            return value;
        }
    }
}

/// The two cores to pin the producer and the consumer to, if there are two.
fn cores() -> Option<(core_affinity::CoreId, core_affinity::CoreId)> {
    let cores = core_affinity::get_core_ids()?;
    (cores.len() >= 2).then(|| (cores[0], cores[1]))
}

/// Runs `producer` and `consumer` on the two pinned cores, starting them
/// together; returns the consumer's result and the time from the start until
/// the consumer finished.
fn run_pair<R: Send + 'static>(
    producer: impl FnOnce() + Send + 'static,
    consumer: impl FnOnce() -> R + Send + 'static,
) -> (R, Duration) {
    let pins = cores();
    // Both threads count in, then spin until both are in (no `Barrier`: the
    // crate's clippy config bans it, and a spin start is tighter anyway).
    let ready = Arc::new(AtomicUsize::new(0));
    let start_line = move |ready: &AtomicUsize| {
        ready.fetch_add(1, Ordering::AcqRel);
        while ready.load(Ordering::Acquire) < 2 {
            std::hint::spin_loop();
        }
    };
    let producer_ready = Arc::clone(&ready);
    let producer = thread::spawn(move || {
        if let Some((core, _)) = pins {
            core_affinity::set_for_current(core);
        }
        start_line(&producer_ready);
        producer();
    });
    let consumer = thread::spawn(move || {
        if let Some((_, core)) = pins {
            core_affinity::set_for_current(core);
        }
        start_line(&ready);
        let start = Instant::now();
        let result = consumer();
        (result, start.elapsed())
    });
    producer.join().expect("producer panicked");
    consumer.join().expect("consumer panicked")
}

/// The sum of `0..n`.
fn expected_sum(n: u64) -> u64 {
    n * (n - 1) / 2
}

/// `batches` batches of `BATCH` consecutive records, recycled through a return
/// ring. Returns the elapsed time after checking the sum.
fn batch_trial<Q: Spsc>(batches: u64) -> Duration {
    let (mut tx, mut rx) = Q::channel::<Vec<u64>>(BATCH_RING);
    let (mut back_tx, mut back_rx) = Q::channel::<Vec<u64>>(BATCH_RING);
    // Allocated before the clock starts; all of them fit in the return ring.
    let mut pool: Vec<Vec<u64>> = (0..BATCH_RING).map(|_| Vec::with_capacity(BATCH)).collect();
    let (sum, elapsed) = run_pair(
        move || {
            let mut next = 0u64;
            for _ in 0..batches {
                let mut batch = match pool.pop() {
                    Some(batch) => batch,
                    None => recv::<Q, _>(&mut back_rx),
                };
                batch.clear();
                batch.extend(next..next + BATCH as u64);
                next += BATCH as u64;
                send::<Q, _>(&mut tx, batch);
            }
        },
        move || {
            let mut sum = 0u64;
            for _ in 0..batches {
                let batch = recv::<Q, _>(&mut rx);
                sum = sum.wrapping_add(batch.iter().sum::<u64>());
                send::<Q, _>(&mut back_tx, batch);
            }
            sum
        },
    );
    let records = batches * BATCH as u64;
    assert_eq!(sum, expected_sum(records), "{}: wrong sum (batch)", Q::NAME);
    elapsed
}

/// `n` single `u64` messages. Returns the elapsed time after checking the sum.
fn message_trial<Q: Spsc>(n: u64) -> Duration {
    let (mut tx, mut rx) = Q::channel::<u64>(MESSAGE_RING);
    let (sum, elapsed) = run_pair(
        move || {
            for i in 0..n {
                send::<Q, _>(&mut tx, black_box(i));
            }
        },
        move || {
            let mut sum = 0u64;
            for _ in 0..n {
                sum = sum.wrapping_add(recv::<Q, _>(&mut rx));
            }
            sum
        },
    );
    assert_eq!(sum, expected_sum(n), "{}: wrong sum (batch=1)", Q::NAME);
    elapsed
}

/// The two workloads.
#[derive(Clone, Copy)]
enum Workload {
    Batch,
    Message,
}

impl Workload {
    fn label(self) -> &'static str {
        match self {
            Workload::Batch => "batch=1024",
            Workload::Message => "batch=1",
        }
    }

    fn records_per_trial(self) -> u64 {
        match self {
            Workload::Batch => BATCH_RECORDS_PER_TRIAL,
            Workload::Message => MESSAGE_RECORDS_PER_TRIAL,
        }
    }

    fn records_per_message(self) -> u64 {
        match self {
            Workload::Batch => BATCH as u64,
            Workload::Message => 1,
        }
    }

    /// Runs one trial of about `records` records; returns (records moved, time).
    fn trial<Q: Spsc>(self, records: u64) -> (u64, Duration) {
        match self {
            Workload::Batch => {
                let batches = records / BATCH as u64;
                (batches * BATCH as u64, batch_trial::<Q>(batches))
            }
            Workload::Message => (records, message_trial::<Q>(records)),
        }
    }
}

/// Median, min and max records/s of one queue on one workload.
struct Rates {
    median: f64,
    min: f64,
    max: f64,
}

fn rates(mut samples: Vec<f64>) -> Rates {
    samples.sort_by(f64::total_cmp);
    Rates {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
    }
}

/// Checks all three queues on `workload`, then (when `timed`) runs the
/// interleaved timed trials and prints the rows and the ratios.
fn run_workload(workload: Workload, timed: bool) {
    workload.trial::<Ours>(RECORDS_PER_CHECK);
    workload.trial::<Rtrb>(RECORDS_PER_CHECK);
    workload.trial::<CrossbeamArrayQueue>(RECORDS_PER_CHECK);
    if !timed {
        println!("{:<11} answers checked (not timed)", workload.label());
        return;
    }
    let mut samples: [Vec<f64>; 3] = Default::default();
    let records = workload.records_per_trial();
    for _ in 0..TRIALS {
        let runs = [
            workload.trial::<Ours>(records),
            workload.trial::<Rtrb>(records),
            workload.trial::<CrossbeamArrayQueue>(records),
        ];
        for (queue, (records, elapsed)) in runs.into_iter().enumerate() {
            samples[queue].push(records as f64 / elapsed.as_secs_f64());
        }
    }
    let names = [Ours::NAME, Rtrb::NAME, CrossbeamArrayQueue::NAME];
    let results: Vec<Rates> = samples.into_iter().map(rates).collect();
    let per_message = workload.records_per_message() as f64;
    for (name, r) in names.iter().zip(&results) {
        println!(
            "{:<11} {:<11} {:>11.1}M {:>11.3}M   ({:.1}M .. {:.1}M)",
            workload.label(),
            name,
            r.median / 1e6,
            r.median / per_message / 1e6,
            r.min / 1e6,
            r.max / 1e6,
        );
    }
    println!(
        "{:<11} ours/rtrb = {:.2}   ours/ArrayQueue = {:.2}",
        workload.label(),
        results[0].median / results[1].median,
        results[0].median / results[2].median,
    );
}

fn main() {
    let timed = std::env::args().any(|arg| arg == "--bench");
    if timed {
        println!(
            "SPSC ring throughput, 1 producer -> 1 consumer thread; median of {TRIALS} trials \
             of ~{}M records (batch=1024) / {}M messages (batch=1), range in brackets.",
            BATCH_RECORDS_PER_TRIAL / 1_000_000,
            MESSAGE_RECORDS_PER_TRIAL / 1_000_000,
        );
    } else {
        println!("SPSC ring bench in check mode: answers only, nothing timed (run `cargo bench`).");
    }
    println!(
        "Measures: sustained core-to-core transfer with both sides always busy, \
         spinning with Backoff when full/empty, batches recycled (no allocation). \
         Does not measure: latency, idle/park-wake cost, contention with other \
         work on those cores, or NUMA; a 2-core VM is noisy, so read ratios, not \
         absolute rates."
    );
    // Other processes on the two cores distort everything; say how busy the
    // machine was.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let one_minute = load.split_whitespace().next().unwrap_or("?");
        println!(
            "Load average at start: {one_minute} on {} CPUs.",
            thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    match cores() {
        Some((p, c)) => println!(
            "Producer pinned to core {}, consumer to core {}.",
            p.id, c.id
        ),
        None => println!("Fewer than 2 cores: threads are NOT pinned."),
    }
    println!();
    if timed {
        println!(
            "{:<11} {:<11} {:>12} {:>12}   records/s range",
            "workload", "queue", "records/s", "batches/s"
        );
    }
    run_workload(Workload::Batch, timed);
    run_workload(Workload::Message, timed);
}
