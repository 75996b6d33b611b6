//! A bounded single-producer single-consumer ring: how messages cross from one core to another.
//!
//! [`ring`] returns the two ends, a [`Producer`] and a [`Consumer`]. The engine
//! sends whole batches through it, one message per [`Producer::push`].
//!
//! ```
//! use corestream::runtime::ring::{ring, PushError};
//!
//! let (mut tx, mut rx) = ring::<u32>(2);
//! assert_eq!(tx.push(1), Ok(()));
//! assert_eq!(tx.push(2), Ok(()));
//! assert_eq!(tx.push(3), Err(PushError::Full(3)));
//! assert_eq!(rx.pop(), Some(1));
//! drop(tx);
//! assert!(rx.is_abandoned());
//! assert_eq!(rx.pop(), Some(2));
//! assert_eq!(rx.pop(), None);
//! ```
//!
//! # Threading
//!
//! Each end is `Send` (when `T: Send`) and may be moved to another thread, but
//! neither is `Sync` nor `Clone`: exactly one thread pushes and exactly one
//! thread pops, and that is what makes the algorithm correct. Nothing blocks:
//! `push` on a full ring hands the value back, `pop` on an empty ring returns
//! `None`; waiting is the caller's policy (see `runtime::doorbell`).
//!
//! # Invariants
//!
//! - `head` (next slot to pop) and `tail` (next slot to push) are free-running
//!   counters that wrap at `usize::MAX + 1`; a counter `c` lives in slot
//!   `c & mask`. Because the capacity is a power of two, wrapping keeps that
//!   mapping continuous.
//! - `tail.wrapping_sub(head)` is in `0..=capacity`.
//! - Slots for counters `head .. tail` hold initialised values owned by the
//!   ring (the consumer may read them); all other slots are uninitialised and
//!   belong to the producer (it may write them).
//! - Each end's cached copy of the opposite counter is never ahead of the real
//!   one, so a cached "not full" / "not empty" is always true; only a cached
//!   "full" / "empty" has to be checked against the shared counter.
//! - A push is exactly one `Release` store (of `tail`), a pop is exactly one
//!   `Release` store (of `head`); the opposite counter is loaded (`Acquire`)
//!   only when the cached copy says full/empty.
//!
//! # Algorithm
//!
//! Lamport's single-producer single-consumer ring ("Specifying Concurrent
//! Program Modules", ACM TOPLAS 1983, <https://doi.org/10.1145/69624.357207>),
//! with each side caching the other's index so the shared counters' cache lines
//! only bounce when a side runs out of room or items (the idea behind
//! MCRingBuffer, Lee, Bu and Chandramohan, IPDPS 2010). The shape of the API and
//! of the safety arguments follows rtrb (<https://docs.rs/rtrb>); the code here
//! is our own.

use std::cell::Cell;
use std::fmt;
use std::mem::MaybeUninit;

use crossbeam::utils::CachePadded;

use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering, UnsafeCell};

/// Creates a ring holding up to `capacity` messages, rounded up to a power of two.
///
/// # Panics
///
/// Panics if `capacity` is 0, or if rounding it up to a power of two
/// overflows `usize` (such a ring could not be allocated anyway).
pub fn ring<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    ring_starting_at(capacity, 0)
}

/// [`ring`] with both counters starting at `start` instead of 0. Only tests
/// use a non-zero start, to exercise the wrap-around of the counters.
fn ring_starting_at<T>(capacity: usize, start: usize) -> (Producer<T>, Consumer<T>) {
    assert!(capacity > 0, "ring capacity must be at least 1");
    let capacity = capacity
        .checked_next_power_of_two()
        .expect("ring capacity overflows usize when rounded up to a power of two");
    let slots: Box<[UnsafeCell<MaybeUninit<T>>]> = (0..capacity)
        .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
        .collect();
    let shared = Arc::new(Shared {
        head: CachePadded::new(AtomicUsize::new(start)),
        tail: CachePadded::new(AtomicUsize::new(start)),
        producer_gone: AtomicBool::new(false),
        consumer_gone: AtomicBool::new(false),
        mask: capacity - 1,
        slots,
    });
    let producer = Producer {
        shared: Arc::clone(&shared),
        mask: capacity - 1,
        tail: start,
        cached_head: Cell::new(start),
    };
    let consumer = Consumer {
        shared,
        mask: capacity - 1,
        head: start,
        cached_tail: Cell::new(start),
    };
    (producer, consumer)
}

/// The error of [`Producer::push`]: the ring was full. It hands the value back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PushError<T> {
    /// The ring had no free slot; here is the value that was not pushed.
    Full(T),
}

impl<T> PushError<T> {
    /// Returns the value that could not be pushed.
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(value) => value,
        }
    }
}

// Written by hand so that `PushError<T>` is `Debug` (and so `Result::unwrap`
// works) for any `T`, without printing a possibly huge batch.
impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("Full(..)"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("ring is full"),
        }
    }
}

impl<T> std::error::Error for PushError<T> {}

/// The state both ends point to. Dropped when both ends are gone, and then it
/// drops the messages still in the ring.
struct Shared<T> {
    /// Counter of the next slot to pop. Written only by the consumer (one
    /// `Release` store per pop); read by the producer when its cached copy says
    /// the ring is full. Any `usize`, wrapping; `tail - head` (wrapping) is in
    /// `0..=capacity`.
    head: CachePadded<AtomicUsize>,
    /// Counter of the next slot to push. Written only by the producer (one
    /// `Release` store per push); read by the consumer when its cached copy
    /// says the ring is empty, and by [`Consumer::len`]. Any `usize`, wrapping;
    /// `tail - head` (wrapping) is in `0..=capacity`.
    tail: CachePadded<AtomicUsize>,
    /// Set to `true` once, by `Producer::drop`; never cleared. Read by
    /// [`Consumer::is_abandoned`].
    producer_gone: AtomicBool,
    /// Set to `true` once, by `Consumer::drop`; never cleared. Read by
    /// [`Producer::is_abandoned`].
    consumer_gone: AtomicBool,
    /// `capacity - 1`; the capacity is a power of two. Immutable.
    mask: usize,
    /// `capacity` slots; slot `c & mask` holds counter `c`. Which slots are
    /// initialised is given by the invariants in the module docs.
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

impl<T> Shared<T> {
    /// The slot that holds counter `counter`.
    #[inline(always)]
    fn slot(&self, counter: usize) -> &UnsafeCell<MaybeUninit<T>> {
        let index = counter & self.mask;
        debug_assert!(index < self.slots.len());
        // SAFETY: `slots.len() == mask + 1` (set in `ring_starting_at`, never
        // changed), so `counter & mask <= mask < slots.len()`.
        unsafe { self.slots.get_unchecked(index) }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        // Relaxed is enough: we are in the last `Arc`'s drop, which
        // happens-after every other `Arc` drop (Arc's own Release decrement and
        // Acquire fence), and so after every push and pop.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        debug_assert!(tail.wrapping_sub(head) <= self.mask + 1);
        let mut counter = head;
        while counter != tail {
            // SAFETY: counters `head .. tail` hold initialised values (module
            // invariant) that nobody else can reach any more: both ends are
            // gone. Each is dropped exactly once, as `counter` visits it once.
            // If a drop panics, the rest leak, which is safe.
            self.slot(counter)
                .with_mut(|slot| unsafe { (*slot).assume_init_drop() });
            counter = counter.wrapping_add(1);
        }
    }
}

/// The sending end of a [`ring`]. `Send`, not `Sync`, not `Clone`: one thread pushes.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    /// Copy of `shared.mask`, kept here to save a pointer chase per push.
    mask: usize,
    /// The producer's own copy of `shared.tail`. Exact, since only the producer
    /// writes `tail`.
    tail: usize,
    /// Last value of `shared.head` this producer loaded: never ahead of the
    /// real head. Reloaded only when it says the ring is full. A `Cell` so that
    /// `is_full(&self)` can refresh it.
    cached_head: Cell<usize>,
}

// SAFETY: a `Producer` only touches the slots the producer owns (module
// invariants), and only one `Producer` exists per ring (not `Clone`). Moving it
// to another thread moves `T` values into the ring, which is fine for
// `T: Send`. The `Cell` field is not shared: `Producer` stays `!Sync`.
unsafe impl<T: Send> Send for Producer<T> {}

impl<T> Producer<T> {
    /// Appends `value`, or hands it back in [`PushError::Full`] if the ring is full.
    ///
    /// Never blocks. One `Release` store on success; loads the consumer's
    /// counter only when the cached copy says the ring is full.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        let tail = self.tail;
        if self.is_full_at(tail) {
            return Err(PushError::Full(value));
        }
        // SAFETY: `tail - head < capacity` (checked just above against a head
        // that is never ahead of the real one), so slot `tail` is outside
        // `head .. tail`: it is uninitialised or holds a value the consumer has
        // already moved out, and the consumer has finished with it (its
        // `Release` store of head, read by our `Acquire` load, came after its
        // read). No one else writes it: this is the only `Producer`, and we
        // hold `&mut self`.
        self.shared
            .slot(tail)
            .with_mut(|slot| unsafe { slot.write(MaybeUninit::new(value)) });
        let next = tail.wrapping_add(1);
        // ORDERING: Release publishes the slot write above; pairs with the
        // Acquire load of `tail` in `Consumer::is_empty_at` (used by `pop`,
        // `is_empty`).
        self.shared.tail.store(next, Ordering::Release);
        self.tail = next;
        Ok(())
    }

    /// Whether a push would fail right now. The consumer may pop at any moment,
    /// so `true` can be stale; `false` stays true until this producer pushes.
    pub fn is_full(&self) -> bool {
        self.is_full_at(self.tail)
    }

    /// Whether at least `n` pushed messages are not yet popped. Reloads the
    /// consumer's head only when the cached copy says so: while the
    /// consumer keeps up, about once every `n` pushes.
    pub fn holds_at_least(&self, n: usize) -> bool {
        if self.tail.wrapping_sub(self.cached_head.get()) < n {
            return false;
        }
        // ORDERING: Acquire, as in `is_full_at` (pairs with the Release store
        // of `head` in `Consumer::pop`); the answer orders nothing else.
        let head = self.shared.head.load(Ordering::Acquire);
        self.cached_head.set(head);
        self.tail.wrapping_sub(head) >= n
    }

    /// The number of messages the ring holds when full (a power of two).
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Whether the [`Consumer`] has been dropped: nothing pushed from now on
    /// will ever be read.
    pub fn is_abandoned(&self) -> bool {
        // ORDERING: Acquire pairs with the Release store in `Consumer::drop`.
        // Not needed for memory safety (we touch no data the consumer wrote);
        // it makes "the consumer is gone" an ordered fact for the caller.
        self.shared.consumer_gone.load(Ordering::Acquire)
    }

    /// Whether the ring is full for a push of counter `tail`. Reloads the
    /// consumer's head only if the cached copy says full.
    #[inline(always)]
    fn is_full_at(&self, tail: usize) -> bool {
        let capacity = self.mask + 1;
        let used = tail.wrapping_sub(self.cached_head.get());
        debug_assert!(used <= capacity);
        if used < capacity {
            return false;
        }
        // ORDERING: Acquire pairs with the Release store of `head` in
        // `Consumer::pop`: the consumer's read of the slot we may now reuse
        // happens-before our write to it.
        let head = self.shared.head.load(Ordering::Acquire);
        debug_assert!(tail.wrapping_sub(head) <= capacity);
        self.cached_head.set(head);
        tail.wrapping_sub(head) == capacity
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // ORDERING: Release pairs with the Acquire load in
        // `Consumer::is_abandoned`: every push happens-before a `true` answer,
        // so the consumer can drain the ring and know it has seen everything.
        self.shared.producer_gone.store(true, Ordering::Release);
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.capacity())
            .field("is_abandoned", &self.is_abandoned())
            .finish_non_exhaustive()
    }
}

/// The receiving end of a [`ring`]. `Send`, not `Sync`, not `Clone`: one thread pops.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    /// Copy of `shared.mask`, kept here to save a pointer chase per pop.
    mask: usize,
    /// The consumer's own copy of `shared.head`. Exact, since only the consumer
    /// writes `head`.
    head: usize,
    /// Last value of `shared.tail` this consumer loaded with `Acquire`: never
    /// ahead of the real tail. Reloaded only when it says the ring is empty.
    /// A `Cell` so that `is_empty(&self)` can refresh it.
    cached_tail: Cell<usize>,
}

// SAFETY: a `Consumer` only touches the slots the consumer owns (module
// invariants), and only one `Consumer` exists per ring (not `Clone`). Moving it
// to another thread moves `T` values out of the ring on that thread, which is
// fine for `T: Send`. The `Cell` field is not shared: `Consumer` stays `!Sync`.
unsafe impl<T: Send> Send for Consumer<T> {}

impl<T> Consumer<T> {
    /// Removes and returns the oldest message, or `None` if the ring is empty.
    ///
    /// Never blocks. One `Release` store on success; loads the producer's
    /// counter only when the cached copy says the ring is empty.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let head = self.head;
        if self.is_empty_at(head) {
            return None;
        }
        // SAFETY: `head != tail` for a tail we loaded with Acquire (or an older
        // one), so slot `head` is in `head .. tail` and initialised: the
        // producer's write to it happens-before its Release store of that tail.
        // The producer does not touch it again until we publish `head + 1`
        // below, and after this read we treat it as uninitialised, so the value
        // is moved out exactly once.
        let value = self
            .shared
            .slot(head)
            .with(|slot| unsafe { slot.read().assume_init() });
        let next = head.wrapping_add(1);
        // ORDERING: Release orders the read above before the slot is handed
        // back; pairs with the Acquire load of `head` in
        // `Producer::is_full_at` (used by `push`, `is_full`).
        self.shared.head.store(next, Ordering::Release);
        self.head = next;
        Some(value)
    }

    /// Whether a pop would return `None` right now. The producer may push at
    /// any moment, so `true` can be stale; `false` stays true until this
    /// consumer pops.
    pub fn is_empty(&self) -> bool {
        self.is_empty_at(self.head)
    }

    /// The number of messages waiting, for metrics. A snapshot: the producer
    /// may push more at any moment. Always in `0..=capacity`.
    pub fn len(&self) -> usize {
        // Relaxed: the value is only reported, never used to read a slot, and
        // it does not refresh `cached_tail` (which must come from an Acquire).
        let tail = self.shared.tail.load(Ordering::Relaxed);
        let len = tail.wrapping_sub(self.head);
        debug_assert!(len <= self.capacity());
        len
    }

    /// The number of messages the ring holds when full (a power of two).
    pub fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Whether the [`Producer`] has been dropped. Once this returns `true`,
    /// every message it pushed is visible: pop until `None` and the stream is
    /// complete.
    pub fn is_abandoned(&self) -> bool {
        // ORDERING: Acquire pairs with the Release store in `Producer::drop`,
        // so every push happens-before a `true` answer.
        self.shared.producer_gone.load(Ordering::Acquire)
    }

    /// Whether the ring is empty for a pop of counter `head`. Reloads the
    /// producer's tail only if the cached copy says empty.
    #[inline(always)]
    fn is_empty_at(&self, head: usize) -> bool {
        if self.cached_tail.get() != head {
            debug_assert!(self.cached_tail.get().wrapping_sub(head) <= self.capacity());
            return false;
        }
        // ORDERING: Acquire pairs with the Release store of `tail` in
        // `Producer::push`: the producer's slot writes before that store
        // happen-before our reads of those slots.
        let tail = self.shared.tail.load(Ordering::Acquire);
        debug_assert!(tail.wrapping_sub(head) <= self.capacity());
        self.cached_tail.set(tail);
        tail == head
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // ORDERING: Release pairs with the Acquire load in
        // `Producer::is_abandoned`.
        self.shared.consumer_gone.store(true, Ordering::Release);
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.capacity())
            .field("len", &self.len())
            .field("is_abandoned", &self.is_abandoned())
            .finish_non_exhaustive()
    }
}

// loom's atomics only work inside `loom::model`; the loom runs of this code are
// in `tests/loom_ring.rs`.
#[cfg(all(test, not(feature = "loom")))]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn holds_at_least_counts_what_the_consumer_has_not_popped() {
        let (mut tx, mut rx) = ring::<u32>(8);
        assert!(tx.holds_at_least(0));
        assert!(!tx.holds_at_least(1));
        for i in 0..3 {
            tx.push(i).unwrap();
        }
        assert!(tx.holds_at_least(3));
        assert!(!tx.holds_at_least(4));
        assert_eq!(rx.pop(), Some(0));
        assert!(!tx.holds_at_least(3), "a pop since the last look is seen");
        assert!(tx.holds_at_least(2));
    }

    /// Counts its drops in a shared counter.
    struct DropCounter(Rc<Cell<usize>>);

    impl Drop for DropCounter {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn capacity_rounds_up_to_a_power_of_two() {
        for (asked, got) in [(1, 1), (2, 2), (3, 4), (5, 8), (64, 64), (65, 128)] {
            let (tx, rx) = ring::<u64>(asked);
            assert_eq!(tx.capacity(), got, "asked {asked}");
            assert_eq!(rx.capacity(), got, "asked {asked}");
        }
    }

    #[test]
    #[should_panic(expected = "ring capacity must be at least 1")]
    fn zero_capacity_panics() {
        let _ = ring::<u64>(0);
    }

    #[test]
    fn fifo_order_across_many_wraps() {
        let (mut tx, mut rx) = ring::<u64>(4);
        let mut next_in = 0;
        let mut next_out = 0;
        // Uneven push/pop runs so that the slots wrap in every phase.
        for round in 0..100u64 {
            for _ in 0..(round % 4 + 1) {
                if tx.push(next_in).is_ok() {
                    next_in += 1;
                }
            }
            for _ in 0..(round % 3 + 1) {
                if let Some(v) = rx.pop() {
                    assert_eq!(v, next_out);
                    next_out += 1;
                }
            }
        }
        while let Some(v) = rx.pop() {
            assert_eq!(v, next_out);
            next_out += 1;
        }
        assert_eq!(next_in, next_out);
    }

    #[test]
    fn counters_wrap_around_usize_max() {
        let (mut tx, mut rx) = ring_starting_at::<usize>(4, usize::MAX - 5);
        for i in 0..20 {
            for j in 0..3 {
                tx.push(i * 3 + j).unwrap();
            }
            assert_eq!(rx.len(), 3);
            for j in 0..3 {
                assert_eq!(rx.pop(), Some(i * 3 + j));
            }
            assert!(rx.is_empty());
        }
    }

    #[test]
    fn full_and_empty() {
        let (mut tx, mut rx) = ring::<u32>(2);
        assert!(rx.is_empty());
        assert!(!tx.is_full());
        assert_eq!(rx.pop(), None);
        tx.push(1).unwrap();
        assert!(!rx.is_empty());
        assert!(!tx.is_full());
        tx.push(2).unwrap();
        assert!(tx.is_full());
        assert_eq!(rx.len(), 2);
        assert_eq!(tx.push(3), Err(PushError::Full(3)));
        assert_eq!(tx.push(4).unwrap_err().into_inner(), 4);
        assert_eq!(rx.pop(), Some(1));
        assert!(!tx.is_full());
        tx.push(3).unwrap();
        assert_eq!(rx.pop(), Some(2));
        assert_eq!(rx.pop(), Some(3));
        assert!(rx.is_empty());
        assert_eq!(rx.len(), 0);
        assert_eq!(rx.pop(), None);
    }

    #[test]
    fn capacity_one() {
        let (mut tx, mut rx) = ring::<u8>(1);
        for i in 0..10 {
            tx.push(i).unwrap();
            assert_eq!(tx.push(99), Err(PushError::Full(99)));
            assert_eq!(rx.pop(), Some(i));
            assert_eq!(rx.pop(), None);
        }
    }

    #[test]
    fn zero_sized_messages() {
        let (mut tx, mut rx) = ring::<()>(3);
        for _ in 0..4 {
            tx.push(()).unwrap();
        }
        assert_eq!(tx.push(()), Err(PushError::Full(())));
        assert_eq!(rx.len(), 4);
        for _ in 0..4 {
            assert_eq!(rx.pop(), Some(()));
        }
        assert_eq!(rx.pop(), None);
    }

    #[test]
    fn drop_of_the_ring_drops_remaining_items_once() {
        let drops = Rc::new(Cell::new(0));
        let (mut tx, mut rx) = ring::<DropCounter>(8);
        // Push 10 (2 are handed back and dropped here), pop 3, wrap a little.
        for _ in 0..10 {
            let _ = tx.push(DropCounter(Rc::clone(&drops)));
        }
        assert_eq!(drops.get(), 2);
        for _ in 0..3 {
            drop(rx.pop().unwrap());
        }
        assert_eq!(drops.get(), 5);
        tx.push(DropCounter(Rc::clone(&drops))).unwrap();
        // 6 remain in the ring. Dropping one end drops nothing.
        drop(tx);
        assert_eq!(drops.get(), 5);
        drop(rx);
        assert_eq!(drops.get(), 11);
        assert_eq!(Rc::strong_count(&drops), 1);
    }

    #[test]
    fn items_survive_the_producer() {
        let drops = Rc::new(Cell::new(0));
        let (mut tx, mut rx) = ring::<DropCounter>(4);
        tx.push(DropCounter(Rc::clone(&drops))).unwrap();
        tx.push(DropCounter(Rc::clone(&drops))).unwrap();
        drop(tx);
        assert!(rx.is_abandoned());
        assert!(rx.pop().is_some());
        assert_eq!(drops.get(), 1);
        drop(rx);
        assert_eq!(drops.get(), 2);
    }

    #[test]
    fn abandoned_detection() {
        let (tx, rx) = ring::<u8>(4);
        assert!(!tx.is_abandoned());
        assert!(!rx.is_abandoned());
        drop(rx);
        assert!(tx.is_abandoned());

        let (tx, rx) = ring::<u8>(4);
        drop(tx);
        assert!(rx.is_abandoned());
    }

    #[test]
    fn ends_are_send() {
        fn assert_send<S: Send>() {}
        assert_send::<Producer<Vec<u64>>>();
        assert_send::<Consumer<Vec<u64>>>();
    }

    #[test]
    fn ends_move_to_other_threads() {
        let (mut tx, mut rx) = ring::<u64>(8);
        let n = if cfg!(miri) { 100 } else { 10_000 };
        let producer = std::thread::spawn(move || {
            for i in 0..n {
                let mut v = i;
                while let Err(PushError::Full(back)) = tx.push(v) {
                    v = back;
                    std::hint::spin_loop();
                }
            }
        });
        let mut expected = 0;
        while expected < n {
            match rx.pop() {
                Some(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert!(rx.is_abandoned());
        assert_eq!(rx.pop(), None);
    }
}
