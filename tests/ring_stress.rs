//! Stress tests of the SPSC ring and the doorbell across two real threads.
//!
//! The producer is pinned to the first core and the consumer to the second
//! (when the machine has at least two; otherwise neither is pinned). No test
//! sleeps or assumes anything about timing: waiting is done with
//! `crossbeam::utils::Backoff` or with the doorbell, and every check is on the
//! data that arrived. Counts shrink 100x under Miri.
#![cfg(not(feature = "loom"))] // loom's atomics only work inside `loom::model`

use std::thread;

use corestream::runtime::doorbell::Doorbell;
use corestream::runtime::ring::{ring, Consumer, Producer, PushError};
use crossbeam::utils::Backoff;

/// Scales a count down 100x under Miri.
const fn scaled(n: u64) -> u64 {
    if cfg!(miri) {
        n / 100
    } else {
        n
    }
}

/// Which of the two test threads to pin.
#[derive(Clone, Copy)]
enum Side {
    Producer,
    Consumer,
}

/// Pins the calling thread: the producer to the first available core, the
/// consumer to the second. Does nothing if there are fewer than two.
fn pin(side: Side) {
    let Some(cores) = core_affinity::get_core_ids() else {
        return;
    };
    if cores.len() < 2 {
        return;
    }
    let core = match side {
        Side::Producer => cores[0],
        Side::Consumer => cores[1],
    };
    // Best effort: an unpinned thread still tests correctness.
    let _ = core_affinity::set_for_current(core);
}

/// Pushes `value`, backing off while the ring is full.
fn push_blocking<T>(tx: &mut Producer<T>, mut value: T) {
    let backoff = Backoff::new();
    loop {
        match tx.push(value) {
            Ok(()) => return,
            Err(PushError::Full(back)) => {
                value = back;
                backoff.snooze();
            }
        }
    }
}

/// Pops a value, backing off while the ring is empty.
fn pop_blocking<T>(rx: &mut Consumer<T>) -> T {
    let backoff = Backoff::new();
    loop {
        if let Some(value) = rx.pop() {
            return value;
        }
        backoff.snooze();
    }
}

/// Runs `producer` and `consumer` on two pinned threads and returns what the
/// consumer returns.
fn run_pair<R: Send + 'static>(
    producer: impl FnOnce() + Send + 'static,
    consumer: impl FnOnce() -> R + Send + 'static,
) -> R {
    let producer = thread::Builder::new()
        .name("ring-producer".into())
        .spawn(move || {
            pin(Side::Producer);
            producer();
        })
        .unwrap();
    let consumer = thread::Builder::new()
        .name("ring-consumer".into())
        .spawn(move || {
            pin(Side::Consumer);
            consumer()
        })
        .unwrap();
    producer.join().unwrap();
    consumer.join().unwrap()
}

#[test]
fn a_million_u64_arrive_once_in_order() {
    let n = scaled(1_000_000);
    let (mut tx, mut rx) = ring::<u64>(64);
    let received = run_pair(
        move || {
            for i in 0..n {
                push_blocking(&mut tx, i);
            }
        },
        move || {
            for expected in 0..n {
                let got = pop_blocking(&mut rx);
                assert_eq!(got, expected, "out of order or duplicated");
            }
            // Everything has arrived; nothing more may.
            let backoff = Backoff::new();
            while !rx.is_abandoned() {
                backoff.snooze();
            }
            assert_eq!(rx.pop(), None, "more values than were pushed");
            n
        },
    );
    assert_eq!(received, n);
}

#[test]
fn batches_of_256_keep_their_sum() {
    const BATCH: u64 = 256;
    let batches = scaled(1_000_000) / BATCH;
    let n = batches * BATCH;
    let (mut tx, mut rx) = ring::<Vec<u64>>(64);
    let (count, sum) = run_pair(
        move || {
            for b in 0..batches {
                let batch: Vec<u64> = (b * BATCH..(b + 1) * BATCH).collect();
                push_blocking(&mut tx, batch);
            }
        },
        move || {
            let mut count = 0u64;
            let mut sum = 0u64;
            let mut next_first = 0;
            let backoff = Backoff::new();
            loop {
                match rx.pop() {
                    Some(batch) => {
                        assert_eq!(batch.len() as u64, BATCH);
                        assert_eq!(batch[0], next_first, "batches out of order");
                        next_first += BATCH;
                        count += batch.len() as u64;
                        sum += batch.iter().sum::<u64>();
                        backoff.reset();
                    }
                    // Abandoned is checked before emptiness: once it is
                    // true, every push is visible, so an empty ring then
                    // means the stream is over.
                    None if rx.is_abandoned() && rx.is_empty() => break,
                    None => backoff.snooze(),
                }
            }
            (count, sum)
        },
    );
    assert_eq!(count, n);
    assert_eq!(sum, n * (n - 1) / 2);
}

/// The consumer parks on a doorbell whenever its ring is empty; the producer
/// pushes bursts of 1 to 150 values (some bigger than the ring) and after each
/// burst waits for the consumer's acknowledgement on a second ring, so the
/// consumer runs dry and parks between bursts. Every value must arrive, in
/// order; a lost wake-up would hang the test. (How often the consumer really
/// parks depends on timing, so it is not asserted.)
#[test]
fn doorbell_consumer_parks_between_bursts() {
    let bursts = scaled(2_000);
    let burst_len = |k: u64| 1 + (k * 7919) % 150;
    let total: u64 = (0..bursts).map(burst_len).sum();

    let bell = Doorbell::new();
    let (mut tx, mut rx) = ring::<u64>(64);
    // One acknowledgement is outstanding at most, so capacity 1 never fills.
    let (mut ack_tx, mut ack_rx) = ring::<u64>(1);
    let producer_bell = bell.clone();
    let consumer_bell = bell;

    let received = run_pair(
        move || {
            let mut value = 0;
            for k in 0..bursts {
                for _ in 0..burst_len(k) {
                    push_blocking(&mut tx, value);
                    producer_bell.ring();
                    value += 1;
                }
                // Pause until the consumer has taken the whole burst.
                assert_eq!(pop_blocking(&mut ack_rx), k);
            }
            assert_eq!(value, total);
            drop(tx);
            producer_bell.ring();
        },
        move || {
            consumer_bell.register_current_thread();
            let mut expected = 0;
            let mut burst = 0;
            let mut burst_end = burst_len(0);
            loop {
                while let Some(v) = rx.pop() {
                    assert_eq!(v, expected, "out of order or duplicated");
                    expected += 1;
                    if expected == burst_end {
                        assert!(ack_tx.push(burst).is_ok(), "two acks outstanding");
                        burst += 1;
                        burst_end += burst_len(burst);
                    }
                }
                if rx.is_abandoned() && rx.is_empty() {
                    break;
                }
                consumer_bell.park_unless(|| !rx.is_empty() || rx.is_abandoned());
            }
            expected
        },
    );
    assert_eq!(received, total);
}
