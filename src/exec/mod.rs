//! Operators, one per file, and the per-shard pipeline that chains them.

pub mod accumulator;
pub mod asof_join;
mod case_mask;
pub mod date_format;
pub mod expr;
mod expr_columns;
pub mod filter;
pub mod flink_strings;
mod fused_float;
pub mod group_table;
pub mod hash;
pub mod hash_agg;
pub mod interval_join;
pub mod join_rows;
pub mod like;
pub mod lookup_join;
pub mod packed_index;
pub mod partial_agg;
pub mod pattern_fn;
pub mod pipeline;
pub mod project;
mod recent_windows;
pub mod row_window;
pub mod scalar;
pub mod top_n;
mod wide_sum;
pub mod window_agg;
