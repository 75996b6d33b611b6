//! Typed, columnar data: types and schemas, scalar values, columns and batches.

mod batch;
pub mod batch_pool;
pub mod column;
mod types;
pub mod value;

pub use batch::Batch;
pub use batch_pool::BatchPool;
pub use column::{Column, Utf8Column};
pub use types::{DataType, Field, Schema};
pub use value::Value;
