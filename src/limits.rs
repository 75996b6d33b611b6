//! Limits that no real use needs, refused up front.
//!
//! Past one of these a run would not do more useful work, only exhaust memory
//! (an allocation abort, or tens of GB for one window state): a batch of a
//! billion rows, a hopping window that puts each row into millions of
//! windows. They are checked before anything runs, as usage errors (exit 2)
//! that name the limit, so a user hears what to change instead of seeing the
//! process die.
//!
//! The CLI checks them; a library caller may call [`check_batch_size`] and
//! [`check_plan`] before running.

use crate::error::Error;
use crate::sql::plan::{PlanBody, QueryPlan, WindowKind};

/// The most rows per batch from the router to a shard (`--batch-size`):
/// 1,048,576. Batches are preallocated per shard and per pool slot, so the
/// memory a run holds grows with this; the benchmarks gain nothing past a few
/// thousand rows.
pub const MAX_BATCH_SIZE: usize = 1 << 20;

/// The most windows one row may fall into: 10,000, the `size / advance` of a
/// hopping window (`SLIDING(t, 10000s, 1s)`). Each row is folded into each of
/// its windows and each key keeps a slot per window, so time and memory grow
/// with this; `SLIDING(t, 1000h, 1ms)` (3.6 billion windows per row) would
/// allocate tens of GB before the first row.
pub const MAX_WINDOWS_PER_ROW: u64 = 10_000;

/// Refuses a batch size of 0 or over [`MAX_BATCH_SIZE`].
pub fn check_batch_size(batch_size: usize) -> Result<(), Error> {
    if batch_size == 0 || batch_size > MAX_BATCH_SIZE {
        return Err(Error::Config(format!(
            "--batch-size {batch_size}: must be from 1 to {MAX_BATCH_SIZE} rows \
             (the limit on rows per batch)"
        )));
    }
    Ok(())
}

/// Refuses a plan whose hopping window puts a row into more than
/// [`MAX_WINDOWS_PER_ROW`] windows.
pub fn check_plan(plan: &QueryPlan) -> Result<(), Error> {
    plan.stages().into_iter().try_for_each(check_stage)
}

fn check_stage(plan: &QueryPlan) -> Result<(), Error> {
    let PlanBody::Aggregate(agg) = &plan.body else {
        return Ok(());
    };
    let Some(WindowKind::Hopping { size, advance }) = agg.window.map(|w| w.kind) else {
        return Ok(());
    };
    // The planner makes `size` a whole multiple of `advance` (> 0).
    let per_row = (size / advance.max(1)).unsigned_abs();
    if per_row > MAX_WINDOWS_PER_ROW {
        return Err(Error::Config(format!(
            "a hopping window of size {} and advance {} puts each row into {per_row} windows; \
             at most {MAX_WINDOWS_PER_ROW} are allowed (size / advance <= {MAX_WINDOWS_PER_ROW}): \
             use a larger advance or a smaller size",
            crate::sql::format_duration_ms(size),
            crate::sql::format_duration_ms(advance),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes_from_one_to_the_limit_pass() {
        assert!(check_batch_size(1).is_ok());
        assert!(check_batch_size(MAX_BATCH_SIZE).is_ok());
        for bad in [0, MAX_BATCH_SIZE + 1, usize::MAX] {
            let e = check_batch_size(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("1048576"), "{e}");
        }
    }
}
