//! Keeping the router off its shards' cores.
//!
//! A shard spins on its core while it has work or has just had some. A router
//! the scheduler puts on the same core waits for its timeslice (milliseconds)
//! before it runs, and rows wait with it; the shard waits in turn for rows.
//! When the shards leave some of the calling thread's CPUs free, the router
//! runs on those for as long as it routes ([`OffCores`]); when they leave none
//! it stays where it was, and the shards' parking hands it a core.

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// The calling thread confined to the CPUs it could use minus some cores,
/// until this is dropped; then its CPU set is what it was.
///
/// Best effort, like pinning: where the CPU set cannot be read or set (a
/// sandbox) or the cores to avoid are all it has, nothing changes.
#[must_use = "the thread's CPU set is restored when this is dropped"]
pub struct OffCores {
    /// The thread's CPU set before, when it was changed.
    saved: Option<CpuSet>,
    /// The thread runs on none of the cores, now that it is confined (or
    /// because it already was).
    off: bool,
}

impl OffCores {
    /// Confines the calling thread to the CPUs it may run on now, minus `cores`.
    pub fn enter(cores: &[usize]) -> OffCores {
        let this_thread = Pid::from_raw(0);
        let Ok(saved) = sched_getaffinity(this_thread) else {
            return OffCores {
                saved: None,
                off: false,
            };
        };
        let mut free = saved;
        let mut left = 0;
        for cpu in 0..CpuSet::count() {
            if free.is_set(cpu) == Ok(true) {
                if cores.contains(&cpu) {
                    let _ = free.unset(cpu);
                } else {
                    left += 1;
                }
            }
        }
        let changed = left > 0 && free != saved && sched_setaffinity(this_thread, &free).is_ok();
        OffCores {
            saved: changed.then_some(saved),
            off: left > 0 && (changed || free == saved),
        }
    }

    /// Whether the thread now runs on none of the cores it was to avoid: a
    /// CPU of its own that the shards do not spin on.
    pub fn is_off(&self) -> bool {
        self.off
    }
}

impl Drop for OffCores {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            // Best effort: the set was accepted once, so this fails only if
            // the thread's cgroup shrank meanwhile.
            let _ = sched_setaffinity(Pid::from_raw(0), &saved);
        }
    }
}

/// The CPUs the calling thread may run on now, in order (empty where they
/// cannot be read).
pub fn allowed_cpus() -> Vec<usize> {
    let Ok(set) = sched_getaffinity(Pid::from_raw(0)) else {
        return Vec::new();
    };
    (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu) == Ok(true))
        .collect()
}
