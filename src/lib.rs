//! corestream: a lock-free, thread-per-core streaming SQL engine.

pub mod data;
pub mod engine;
pub mod error;
pub mod exec;
pub mod io;
pub mod runtime;
pub mod sql;
pub(crate) mod sync;

pub use engine::{Engine, EngineBuilder, RunOutput};
pub use error::{Error, SqlError, SqlErrorKind};
