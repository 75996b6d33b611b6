//! The idle/wake protocol of a shard thread: park when all its rings are empty, be woken by a push.
//!
//! One [`Doorbell`] belongs to one consumer thread (a shard) and is shared,
//! through an `Arc`, with every producer that pushes into that shard's rings.
//! The consumer calls [`Doorbell::park_unless`] when it has run out of work;
//! each producer calls [`Doorbell::ring`] after every push. How long to spin
//! before parking is the idle policy's business, not the doorbell's.
//!
//! ```
//! use corestream::runtime::{doorbell::Doorbell, ring::ring};
//!
//! let bell = Doorbell::new();
//! let (mut tx, mut rx) = ring::<u64>(64);
//! let producer_bell = bell.clone();
//! let producer = std::thread::spawn(move || {
//!     for i in 0..1000 {
//!         while tx.push(i).is_err() {
//!             std::hint::spin_loop();
//!         }
//!         producer_bell.ring();
//!     }
//!     drop(tx);
//!     producer_bell.ring(); // wake the consumer to see the end of the stream
//! });
//! bell.register_current_thread();
//! let mut sum = 0;
//! loop {
//!     while let Some(v) = rx.pop() {
//!         sum += v;
//!     }
//!     if rx.is_abandoned() && rx.is_empty() {
//!         break;
//!     }
//!     bell.park_unless(|| !rx.is_empty() || rx.is_abandoned());
//! }
//! producer.join().unwrap();
//! assert_eq!(sum, 999 * 1000 / 2);
//! ```
//!
//! # Threading
//!
//! - [`Doorbell::register_current_thread`] and [`Doorbell::park_unless`]: only
//!   the one consumer thread (the first thread to call either owns the
//!   doorbell).
//! - [`Doorbell::ring`]: any thread, any number of producers, at any time.
//! - [`Doorbell::set_flowing`] and [`Doorbell::is_flowing`]: see below.
//!
//! # Flow hint
//!
//! A producer may also say that its input is flowing ([`Doorbell::set_flowing`]):
//! its source returned data at its last read, so more is due soon, and a gap now
//! is the producer being held up (off its CPU), not an idle input. The
//! consumer's idle policy reads it ([`Doorbell::is_flowing`]) to decide how long
//! to spin before it parks. It is a hint: nothing is ordered by it, and a stale
//! value costs only an early park or a longer spin, never a missed push.
//!
//! # Why a push is never missed
//!
//! This is Dekker's mutual-exclusion handshake with the two flags being
//! `sleeping` and the ring's `tail`. Each side writes its own flag, issues a
//! `SeqCst` fence, then reads the other side's flag:
//!
//! ```text
//! consumer (park_unless)                producer (push, then ring)
//!   sleeping := true                      tail := tail + 1   (Release, in push)
//!   fence(SeqCst)                         fence(SeqCst)
//!   if has_work() { don't park }          if sleeping { unpark(consumer) }
//!   else park()
//! ```
//!
//! All `SeqCst` fences are in one total order, so one of the two fences comes
//! first (C++20 [atomics.order], which Rust follows):
//!
//! - the consumer's fence first: the producer's load of `sleeping`, after its
//!   own fence, reads `true` or a later value. If `true`, it unparks the
//!   consumer; `unpark` before `park` leaves a token that makes the `park`
//!   return at once, and `unpark` synchronizes-with the `park` it ends, so the
//!   re-check after waking sees the push. If it reads a later `false`, the
//!   consumer has already left this `park_unless` awake, and its next
//!   `park_unless` fence comes after the producer's fence: that is the next
//!   case.
//! - the producer's fence first: the consumer's `has_work()`, after its own
//!   fence, sees the new `tail` (or a later one) and does not park.
//!
//! Either way the consumer is awake after the push. Without the fences each
//! side could read the other's stale flag (store-load reordering is allowed
//! even on x86), the consumer would sleep on a non-empty ring and the producer
//! would not wake it. `tests/loom_ring.rs` checks the protocol with loom.
//!
//! Spurious wake-ups are harmless: `park_unless` re-checks `has_work()` after
//! every return from `park` and only leaves when there is work. A stale
//! `sleeping == true` only costs a producer an unnecessary `unpark` (and the
//! consumer, later, one extra trip round the loop).
//!
//! # Rules for callers
//!
//! - Producers call [`Doorbell::ring`] after *every* push (or at least after
//!   the last push before the producer itself might wait or stop); a push that
//!   is never rung for may sleep until the next ring.
//! - Anything else `has_work` looks at (a stop flag, an abandoned ring) must
//!   also be followed by a `ring()`: dropping a `Producer` does not ring by
//!   itself.
//! - `has_work` must check every ring the consumer serves, and must not be
//!   satisfied by the consumer's stale view: `Consumer::is_empty` reloads the
//!   producer's counter when its cache says empty, which is what is needed.
//!
//! # Cost
//!
//! `ring()` is a `SeqCst` fence (a locked instruction on x86, tens of cycles)
//! plus a load of a line that is only written when the consumer goes idle, so
//! it stays shared in the producer's cache; `unpark` (a system call) happens
//! only when the consumer is asleep or about to be.

use std::fmt;
use std::sync::OnceLock;

use crate::sync::{fence, thread, Arc, AtomicBool, AtomicUsize, Ordering};

/// Wakes one parked consumer thread when a producer pushes into one of its rings.
pub struct Doorbell {
    /// `true` from just before the consumer re-checks for work until it leaves
    /// `park_unless`. Written only by the consumer thread (in `park_unless`);
    /// read by every producer in `ring`.
    sleeping: AtomicBool,
    /// The consumer thread, set once by `register_current_thread` or the first
    /// `park_unless`, before `sleeping` is ever `true`.
    consumer: OnceLock<thread::Thread>,
    /// Producers whose input is flowing (the flow hint). Changed only by
    /// producers, when their input starts or stops flowing; read by the
    /// consumer when it has been idle for a while.
    flowing: AtomicUsize,
}

impl Doorbell {
    /// A doorbell with no consumer registered yet, in an `Arc` because it is
    /// always shared between the consumer and its producers.
    pub fn new() -> Arc<Self> {
        Arc::new(Doorbell {
            sleeping: AtomicBool::new(false),
            consumer: OnceLock::new(),
            flowing: AtomicUsize::new(0),
        })
    }

    /// Makes the calling thread the doorbell's consumer. Optional (the first
    /// `park_unless` does it too), but doing it at shard start-up keeps the
    /// first park cheap.
    ///
    /// # Panics
    ///
    /// Panics if another thread is already registered: a doorbell serves
    /// exactly one consumer thread.
    pub fn register_current_thread(&self) {
        self.registered_consumer();
    }

    /// Consumer side: parks the calling thread unless `has_work()` says there
    /// is something to do, and returns once there is.
    ///
    /// Announces the intent to sleep, fences, then re-checks `has_work()`
    /// (see the module docs for why that order makes a missed push
    /// impossible); parks only if it still finds nothing, and re-checks after
    /// every wake-up, so spurious wake-ups never make it return early. It
    /// returns only after a `has_work()` call returned `true`: `true` if the
    /// thread parked before that, `false` if it found work at once.
    ///
    /// `has_work` must look at every ring this thread consumes (with
    /// `Consumer::is_empty`) and at anything else that needs attention (stop
    /// flags, abandoned rings); it is called at least once.
    ///
    /// # Panics
    ///
    /// Panics if a different thread is registered as the consumer.
    pub fn park_unless(&self, mut has_work: impl FnMut() -> bool) -> bool {
        self.registered_consumer();
        // ORDERING: Release pairs with the Acquire load in `ring`: a producer
        // that sees `true` also sees the registered `consumer` thread handle.
        self.sleeping.store(true, Ordering::Release);
        // ORDERING: SeqCst fence pairs with the SeqCst fence in `ring` (the
        // Dekker handshake in the module docs): either that producer sees
        // `sleeping == true`, or the `has_work()` below sees its push.
        fence(Ordering::SeqCst);
        let mut parked = false;
        while !has_work() {
            // `unpark` synchronizes-with the `park` it ends, so the re-check
            // sees everything the waking producer pushed.
            thread::park();
            parked = true;
        }
        // Relaxed: clearing the flag only saves producers useless unparks; a
        // producer that still sees `true` causes one spurious wake-up.
        self.sleeping.store(false, Ordering::Relaxed);
        parked
    }

    /// Like [`park_unless`](Self::park_unless), but returns by `deadline`
    /// even when there is no work: `true` if `has_work()` said there is,
    /// `false` if the deadline passed first. Same protocol, with
    /// `park_timeout` for `park` (a wake-up after the deadline is the
    /// timeout, not a missed push: `has_work` is checked once more first).
    ///
    /// Not modelled under loom (it has no `park_timeout`); the handshake is
    /// the one `park_unless` is checked with.
    ///
    /// # Panics
    ///
    /// Panics if a different thread is registered as the consumer.
    #[cfg(not(feature = "loom"))]
    pub fn park_unless_until(
        &self,
        deadline: std::time::Instant,
        mut has_work: impl FnMut() -> bool,
    ) -> bool {
        self.registered_consumer();
        // ORDERING: as in `park_unless`: Release pairs with the Acquire load
        // in `ring`, and the SeqCst fence with the SeqCst fence in `ring`.
        self.sleeping.store(true, Ordering::Release);
        fence(Ordering::SeqCst);
        let ready = loop {
            if has_work() {
                break true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                break false;
            }
            std::thread::park_timeout(deadline - now);
        };
        // Relaxed: as in `park_unless`.
        self.sleeping.store(false, Ordering::Relaxed);
        ready
    }

    /// loom has no `park_timeout`: under loom this polls `has_work`,
    /// yielding, until the deadline. Not a modelled path (see above).
    #[cfg(feature = "loom")]
    pub fn park_unless_until(
        &self,
        deadline: std::time::Instant,
        mut has_work: impl FnMut() -> bool,
    ) -> bool {
        loop {
            if has_work() {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            thread::yield_now();
        }
    }

    /// Producer side: call after each push into one of the consumer's rings.
    /// Wakes the consumer if it is parked or about to park; otherwise costs a
    /// fence and a load.
    pub fn ring(&self) {
        // ORDERING: SeqCst fence pairs with the SeqCst fence in `park_unless`
        // (the Dekker handshake in the module docs): it orders our push (the
        // ring's Release store of `tail`) before the load of `sleeping` below.
        fence(Ordering::SeqCst);
        // ORDERING: Acquire pairs with the Release store of `true` in
        // `park_unless`, so the `consumer` handle is visible when it is `true`.
        if self.sleeping.load(Ordering::Acquire) {
            let consumer = self.consumer.get();
            debug_assert!(
                consumer.is_some(),
                "sleeping is set only after registration"
            );
            if let Some(consumer) = consumer {
                consumer.unpark();
            }
        }
    }

    /// Producer side: says that this producer's input started (`true`) or
    /// stopped (`false`) flowing (see the module docs, Flow hint). Calls
    /// must alternate, starting with `true`, and a producer that started must
    /// stop before it goes away.
    pub fn set_flowing(&self, on: bool) {
        // Relaxed: a hint; nothing is published with it.
        if on {
            self.flowing.fetch_add(1, Ordering::Relaxed);
        } else {
            self.flowing.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Consumer side: whether any producer says its input is flowing.
    pub fn is_flowing(&self) -> bool {
        self.flowing.load(Ordering::Relaxed) > 0
    }

    /// Registers the calling thread if no thread is registered, and checks that
    /// the registered thread is the calling one.
    fn registered_consumer(&self) -> &thread::Thread {
        let me = thread::current();
        let registered = self.consumer.get_or_init(|| me.clone());
        assert!(
            registered.id() == me.id(),
            "Doorbell used by two consumer threads ({:?} and {:?})",
            registered.id(),
            me.id()
        );
        registered
    }
}

impl fmt::Debug for Doorbell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Doorbell")
            .field("sleeping", &self.sleeping.load(Ordering::Relaxed))
            .field("consumer", &self.consumer.get().map(|t| t.id()))
            .field("flowing", &self.flowing.load(Ordering::Relaxed))
            .finish()
    }
}

// loom's atomics only work inside `loom::model`; the loom runs of this code are
// in `tests/loom_ring.rs`.
#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;
    use crate::runtime::ring::ring;

    #[test]
    fn park_unless_returns_at_once_when_there_is_work() {
        let bell = Doorbell::new();
        let mut calls = 0;
        bell.park_unless(|| {
            calls += 1;
            true
        });
        assert_eq!(calls, 1);
        assert!(!bell.sleeping.load(Ordering::Relaxed));
    }

    #[test]
    fn ring_without_a_sleeper_is_a_no_op() {
        let bell = Doorbell::new();
        bell.ring();
        bell.register_current_thread();
        bell.ring();
        // The unpark token, if any, is consumed by a spurious wake-up: still fine.
        bell.park_unless(|| true);
    }

    #[test]
    fn a_second_consumer_thread_is_refused() {
        let bell = Doorbell::new();
        bell.register_current_thread();
        bell.register_current_thread(); // same thread: fine
        let other = Arc::clone(&bell);
        let result = std::thread::spawn(move || other.register_current_thread()).join();
        assert!(result.is_err());
    }

    #[test]
    fn parked_consumer_is_woken_by_a_push() {
        let bell = Doorbell::new();
        bell.register_current_thread();
        let (mut tx, mut rx) = ring::<u32>(4);
        let n = if cfg!(miri) { 20 } else { 2_000 };
        let producer_bell = Arc::clone(&bell);
        let producer = std::thread::spawn(move || {
            for i in 0..n {
                while tx.push(i).is_err() {
                    std::thread::yield_now();
                }
                producer_bell.ring();
            }
            drop(tx);
            producer_bell.ring();
        });
        let mut expected = 0;
        loop {
            while let Some(v) = rx.pop() {
                assert_eq!(v, expected);
                expected += 1;
            }
            if rx.is_abandoned() && rx.is_empty() {
                break;
            }
            bell.park_unless(|| !rx.is_empty() || rx.is_abandoned());
        }
        producer.join().unwrap();
        assert_eq!(expected, n);
    }
}
