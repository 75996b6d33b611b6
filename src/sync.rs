//! Synchronization primitives the lock-free runtime code is written against.
//!
//! With the `loom` feature these are loom's model-checked versions, so
//! `tests/loom_ring.rs` can explore every interleaving of the ring and the
//! doorbell; otherwise they are the `std` types, at zero cost. Code in
//! `runtime::ring` and `runtime::doorbell` must import its atomics, `Arc`,
//! `thread` and `UnsafeCell` from here, never from `std` directly, or loom
//! cannot see those operations.
//!
//! A cargo feature (not `RUSTFLAGS="--cfg loom"`) selects loom, so turning it on
//! does not rebuild the dependencies.
//!
//! # `UnsafeCell`
//!
//! loom's `UnsafeCell` checks every access for data races, but it has a
//! closure-based API (`with` / `with_mut`) instead of `get()`. The `std` side
//! gets a thin wrapper with the same API that compiles to a plain pointer.

#[cfg(feature = "loom")]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(feature = "loom")]
pub(crate) use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(feature = "loom")]
pub(crate) use loom::sync::Arc;
#[cfg(feature = "loom")]
pub(crate) use loom::thread;

#[cfg(not(feature = "loom"))]
pub(crate) use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
#[cfg(not(feature = "loom"))]
pub(crate) use std::sync::Arc;
#[cfg(not(feature = "loom"))]
pub(crate) use std::thread;

/// `std::cell::UnsafeCell` with loom's closure-based access API.
///
/// The closures receive the raw pointer; dereferencing it is the caller's
/// `unsafe` responsibility, exactly as with `std::cell::UnsafeCell::get`.
#[cfg(not(feature = "loom"))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(feature = "loom"))]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    #[inline(always)]
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a shared-access pointer to the contents.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with an exclusive-access pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
