//! Loom model checks of the SPSC ring and the doorbell.
//!
//! Run with `cargo test --features loom --release --test loom_ring`. loom runs
//! each closure under every interleaving (and every permitted stale read) of
//! the atomics in `corestream::sync`, and fails on a data race on a ring slot,
//! a leak, or a deadlock (all threads parked). The models are kept tiny
//! (capacity 1–2, 2–3 messages) so that the whole file runs in seconds.
#![cfg(feature = "loom")]

use std::sync::atomic::{AtomicUsize, Ordering};

use corestream::runtime::doorbell::Doorbell;
use corestream::runtime::ring::{ring, Producer, PushError};
use loom::sync::Arc;
use loom::thread;

/// Pushes `value`, yielding to the other loom threads while the ring is full.
fn push_spinning<T>(tx: &mut Producer<T>, mut value: T) {
    loop {
        match tx.push(value) {
            Ok(()) => return,
            Err(PushError::Full(back)) => {
                value = back;
                thread::yield_now();
            }
        }
    }
}

/// (a) 3 messages through a capacity-2 ring arrive exactly once, in order,
/// whatever the interleaving; the third push has to wait for a pop.
#[test]
fn fifo_through_a_full_ring() {
    loom::model(|| {
        let (mut tx, mut rx) = ring::<usize>(2);
        let producer = thread::spawn(move || {
            for i in 0..3 {
                push_spinning(&mut tx, i);
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            match rx.pop() {
                Some(v) => got.push(v),
                None => thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(rx.pop(), None);
    });
}

/// A message that records its drop in a per-model bit set. The bookkeeping
/// uses std atomics: loom runs all model threads on one OS thread, and this is
/// test accounting, not part of what is being checked.
struct Tracked {
    id: usize,
    dropped: std::sync::Arc<AtomicUsize>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let bit = 1 << self.id;
        let before = self.dropped.fetch_or(bit, Ordering::SeqCst);
        assert_eq!(before & bit, 0, "message {} dropped twice", self.id);
    }
}

/// (b) Dropping both ends while messages are in flight drops every message
/// exactly once: the ones the consumer popped, the ones still in the ring, and
/// none twice, whichever end goes last.
#[test]
fn drop_with_messages_in_flight() {
    loom::model(|| {
        let dropped = std::sync::Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = ring::<Tracked>(2);
        let producer_dropped = std::sync::Arc::clone(&dropped);
        let producer = thread::spawn(move || {
            for id in 0..2 {
                let message = Tracked {
                    id,
                    dropped: std::sync::Arc::clone(&producer_dropped),
                };
                // Capacity 2, nothing else pushes: never full.
                assert!(tx.push(message).is_ok());
            }
            // `tx` is dropped here, possibly while the consumer still pops.
        });
        // Pop at most one; it may or may not have arrived yet.
        if let Some(message) = rx.pop() {
            assert_eq!(message.id, 0);
        }
        drop(rx);
        producer.join().unwrap();
        assert_eq!(dropped.load(Ordering::SeqCst), 0b11);
    });
}

/// (c) The doorbell: the consumer parks only when it finds no work, the
/// producer pushes and rings. If a push could be missed, the consumer would
/// stay parked forever and loom would report a deadlock.
#[test]
fn doorbell_never_misses_a_push() {
    loom::model(|| {
        let bell = Doorbell::new();
        let (mut tx, mut rx) = ring::<usize>(2);
        let producer_bell = Arc::clone(&bell);
        let producer = thread::spawn(move || {
            for i in 0..2 {
                push_spinning(&mut tx, i);
                producer_bell.ring();
            }
        });
        let consumer = spawn_consumer(bell, move |bell| {
            let mut got = Vec::new();
            while got.len() < 2 {
                while let Some(v) = rx.pop() {
                    got.push(v);
                }
                if got.len() < 2 {
                    bell.park_unless(|| !rx.is_empty());
                }
            }
            got
        });
        producer.join().unwrap();
        assert_eq!(consumer.join().unwrap(), [0, 1]);
    });
}

/// Runs the consumer side of a doorbell model on its own thread.
///
/// Not on the model's main thread because of a loom limitation
/// (<https://github.com/tokio-rs/loom/issues/249>): a thread blocked in
/// `JoinHandle::join` that receives a stray `unpark` aborts the model, where
/// std would just keep the token. A producer's `ring()` may legitimately
/// unpark the consumer after it has stopped parking, so the consumer must not
/// be the thread that joins.
fn spawn_consumer<R: 'static>(
    bell: Arc<Doorbell>,
    body: impl FnOnce(&Doorbell) -> R + 'static,
) -> thread::JoinHandle<R> {
    thread::spawn(move || {
        bell.register_current_thread();
        body(&bell)
    })
}

/// (d) Shutdown through the doorbell: the producer pushes, rings, drops its
/// end and rings again; the consumer, which waits for "abandoned and empty",
/// always wakes up, sees the message, and sees the end of the stream.
#[test]
fn doorbell_wakes_the_consumer_for_shutdown() {
    loom::model(|| {
        let bell = Doorbell::new();
        let (mut tx, mut rx) = ring::<usize>(1);
        let producer_bell = Arc::clone(&bell);
        let producer = thread::spawn(move || {
            assert!(tx.push(7).is_ok());
            producer_bell.ring();
            drop(tx);
            producer_bell.ring();
        });
        let consumer = spawn_consumer(bell, move |bell| {
            let mut got = Vec::new();
            loop {
                while let Some(v) = rx.pop() {
                    got.push(v);
                }
                if rx.is_abandoned() && rx.is_empty() {
                    break;
                }
                bell.park_unless(|| !rx.is_empty() || rx.is_abandoned());
            }
            got
        });
        producer.join().unwrap();
        assert_eq!(consumer.join().unwrap(), [7]);
    });
}
