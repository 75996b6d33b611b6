//! The recursive front end (sqlparser's parser, then the binder) run on a
//! thread with a stack of its own, so that how deep a query nests cannot
//! overflow the caller's stack (a test thread's 2 MiB, or an async runtime
//! worker's), which would abort the process instead of returning an error.
//!
//! Both recurse several calls per nesting level, with frames of tens of KiB
//! in a debug build; [`MAX_NESTING`](super::parse::MAX_NESTING) levels fit
//! [`STACK`] with room to spare in either build (`tests/hostile.rs` plans the
//! deepest query allowed from a 2 MiB thread). The stack is address space,
//! touched only as deep as the query goes.

/// The stack size of the front end's thread: 64 MiB.
pub(super) const STACK: usize = 64 << 20;

/// Runs `f` on a thread with a [`STACK`]-sized stack and returns its result
/// (a panic in `f` is resumed here); on the calling thread when no thread can
/// be started.
pub(super) fn run<T: Send>(f: impl Fn() -> T + Sync) -> T {
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("corestream-sql".into())
            .stack_size(STACK)
            .spawn_scoped(scope, &f);
        match thread {
            Ok(t) => t
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => f(),
        }
    })
}
