//! A run in the background: the router on a thread of its own, and the handle that stops and joins it.
//!
//! # Threading
//! [`Engine::spawn`](crate::Engine::spawn) moves the engine to a new thread
//! named `corestream-router`, which routes the input and starts and joins the
//! shards exactly as [`Engine::run`](crate::Engine::run) does. The
//! [`RunningEngine`] stays with the application: any thread holding it (or a
//! reference) may call [`stop`](RunningEngine::stop); one joins.
//!
//! # Stopping
//! `stop()` is a request, like the CLI's signal: the router sees it within
//! [`STOP_CHECK`](crate::runtime::router::STOP_CHECK), stops reading, sends
//! what it holds and end of input, and the shards drain, emit and flush. A
//! pusher still pushing then gets `Closed` (see [`io::push`](crate::io::push)).
//! Dropping the handle without joining stops the run, drops any result rings
//! not taken, and waits for the run to end.

use crate::data::Batch;
use crate::engine::{panic_message, Engine, RunOutput};
use crate::error::Error;
use crate::runtime::ring::Consumer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// An engine running on its own thread.
#[derive(Debug)]
pub struct RunningEngine {
    /// Set once by `stop` (never cleared); read by the router's stop check.
    /// It carries no data, so both sides use Relaxed: the router re-reads it
    /// at least every `STOP_CHECK`, and whatever it then does is ordered by
    /// the rings, not by this flag.
    stop: Arc<AtomicBool>,
    /// `None` once joined.
    thread: Option<JoinHandle<Result<RunOutput, Error>>>,
    /// With `OutputSpec::Rings`, the rings the application has not taken yet.
    results: Vec<Consumer<Batch>>,
}

impl RunningEngine {
    pub(crate) fn start(mut engine: Engine) -> Result<RunningEngine, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let results = engine.take_result_rings();
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("corestream-router".into())
            // ORDERING: Relaxed; see the `stop` field.
            .spawn(move || engine.run_until(&|| flag.load(Ordering::Relaxed)))
            .map_err(|source| Error::Io {
                what: "cannot start the router thread".into(),
                source,
            })?;
        Ok(RunningEngine {
            stop,
            thread: Some(thread),
            results,
        })
    }

    /// Asks the run to stop reading its input and finish (see the module
    /// docs). Returns at once; [`join`](Self::join) waits for the end.
    pub fn stop(&self) {
        // ORDERING: Relaxed; see the `stop` field.
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether the run has ended (so [`join`](Self::join) returns at once).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// With [`OutputSpec::Rings`](crate::io::sink::OutputSpec::Rings), each
    /// shard's result ring (index = shard), once; empty otherwise. Drain
    /// them until the run ends: a full ring makes its shard wait, and a
    /// dropped one makes its shard fail.
    pub fn take_result_rings(&mut self) -> Vec<Consumer<Batch>> {
        std::mem::take(&mut self.results)
    }

    /// Waits for the run to end and returns its outcome, as
    /// [`Engine::run`](crate::Engine::run) does: the summary, or the first
    /// shard's error (a shard that panicked is an
    /// [`Error::Shard`] with the panic message). Result rings not taken are
    /// dropped first, so they cannot hold the run up.
    ///
    /// # Panics
    /// Re-raises a panic of the router thread itself (a bug).
    pub fn join(mut self) -> Result<RunOutput, Error> {
        self.results.clear();
        let thread = self
            .thread
            .take()
            .expect("joined only once (join takes self)");
        match thread.join() {
            Ok(outcome) => outcome,
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                std::panic::resume_unwind(Box::new(format!(
                    "the corestream router thread panicked: {message}"
                )))
            }
        }
    }
}

impl Drop for RunningEngine {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.results.clear();
            self.stop();
            let _ = thread.join();
        }
    }
}
