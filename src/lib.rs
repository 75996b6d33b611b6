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
//! use corestream::runtime::allowed;
//! use corestream::Engine;
//!
//! let out = Engine::builder()
//!     .sql("SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol EMIT FINAL")
//!     .input("gen:trades?records=10000&symbols=4")
//!     .cores(allowed::all_allowed()?)
//!     .output(OutputSpec::Collect)
//!     .build()?
//!     .run()?;
//! let rows: usize = out.collected.iter().flatten().map(|b| b.len).sum();
//! assert_eq!(rows, 4); // one row per symbol, each from the shard that owns it
//! assert!(out.summary.identity_holds());
//! # Ok::<(), corestream::Error>(())
//! ```
//!
//! # Embedding: push records in, take results per shard
//! A service pushes rows or batches through [`io::push`] (an SPSC ring to the
//! router, with backpressure), runs the engine in the background with
//! [`Engine::spawn`], and takes each shard's results on that shard's own
//! thread with [`OutputSpec::Callback`](io::sink::OutputSpec::Callback) (or
//! on a per-shard ring with [`OutputSpec::Rings`](io::sink::OutputSpec::Rings)).
//! The callback runs on the shard's core: a slow one backpressures that shard,
//! and through the rings the router and the pusher; nothing is dropped and
//! memory stays bounded.
//!
//! ```
//! use corestream::data::{DataType, Field, Schema, Value};
//! use corestream::io::{push, sink::OutputSpec};
//! use corestream::runtime::allowed;
//! use corestream::Engine;
//! use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
//! use std::sync::Arc;
//!
//! let schema = Schema::new(vec![
//!     Field::new("symbol", DataType::Utf8),
//!     Field::new("qty", DataType::Int64),
//! ]);
//! let (mut pusher, source) = push::channel(schema, 16);
//! let total = Arc::new(AtomicU64::new(0));
//! let seen = Arc::clone(&total);
//! let running = Engine::builder()
//!     .sql("SELECT symbol, SUM(qty) AS q FROM orders GROUP BY symbol EMIT FINAL")
//!     .cores(allowed::all_allowed()?)
//!     .output(OutputSpec::callback(move |_shard, batch| {
//!         // On the shard's own thread; an Err stops the run, naming the shard.
//!         for row in 0..batch.len {
//!             seen.fetch_add(batch.columns[1].value(row).as_i64().unwrap_or(0) as u64, Relaxed);
//!         }
//!         Ok(())
//!     }))
//!     .build_with_source(Box::new(source))?
//!     .spawn()?;
//! for i in 0..1000 {
//!     pusher.push_row(&[Value::Utf8(format!("s{}", i % 8)), Value::Int64(2)])?;
//! }
//! pusher.finish()?; // the buffered rows, then end of input
//! let out = running.join()?;
//! assert_eq!(total.load(Relaxed), 2000);
//! assert_eq!(out.summary.records_read, 1000);
//! # Ok::<(), corestream::Error>(())
//! ```

pub mod catalog;
pub mod checkpoint;
pub mod data;
pub mod engine;
pub mod error;
pub mod exec;
pub mod io;
pub mod limits;
pub mod running;
pub mod runtime;
pub mod sql;
pub(crate) mod sync;

pub use engine::{Engine, EngineBuilder, RunFailure, RunOutput};
pub use error::{Error, SqlError, SqlErrorKind};
pub use running::RunningEngine;
