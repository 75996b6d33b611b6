//! corestream: a lock-free, thread-per-core streaming SQL engine.
//!
//! Each core of a [`CoreSet`](runtime::cores::CoreSet) runs one shard: a pinned
//! glommio executor that owns its slice of the query state. A router decodes the
//! input into columnar [`Batch`](data::Batch)es, hashes each row's key to the shard
//! that owns it, and publishes whole batches on that shard's SPSC
//! [`ring`](runtime::ring). Each shard writes to its own sink; there is no merge.
//!
//! # Invariants
//! - No locks on the data path (clippy bans them; see `clippy.toml`).
//! - Nothing is lost silently: records in = processed + filtered + late +
//!   malformed, reported by [`RunSummary`](runtime::metrics::RunSummary).
//! - Per-key order is preserved from source to sink, so results are the same for
//!   any core count and batch size.
//! - Rings are bounded: a full ring makes the router wait, never drop.
//! - A watermark never moves backwards; a window emits its FINAL row once.
//!
//! # Example
//! ```
//! use corestream::io::sink::OutputSpec;
//! use corestream::runtime::cores::CoreSet;
//! use corestream::Engine;
//!
//! let out = Engine::builder()
//!     .sql("SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol EMIT FINAL")
//!     .input("gen:trades?records=10000&symbols=4")
//!     .cores(CoreSet::all_online()?)
//!     .output(OutputSpec::Collect)
//!     .build()?
//!     .run()?;
//! let rows: usize = out.collected.iter().flatten().map(|b| b.len).sum();
//! assert_eq!(rows, 4); // one row per symbol, each from the shard that owns it
//! assert!(out.summary.identity_holds());
//! # Ok::<(), corestream::Error>(())
//! ```

pub mod data;
pub mod engine;
pub mod error;
pub mod exec;
pub mod io;
pub mod running;
pub mod runtime;
pub mod sql;
pub(crate) mod sync;

pub use engine::{Engine, EngineBuilder, RunOutput};
pub use error::{Error, SqlError, SqlErrorKind};
pub use running::RunningEngine;
