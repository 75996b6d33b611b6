//! The CPUs this process may run on: the online CPUs its affinity allows.
//!
//! A container's or cgroup's cpuset (and `taskset`) can allow fewer CPUs than
//! the machine has online. A shard pinned outside that set cannot be placed
//! (the kernel refuses `sched_setaffinity` with `EINVAL`), so the default core
//! set is the allowed set, a core set naming a CPU outside it is refused
//! before any thread starts ([`check_allowed`]), and a shard that still cannot
//! be placed says why ([`placement_cause`]).
//!
//! # Threading
//! Control plane only. The affinity read is the calling thread's, so call
//! these at start-up, before any thread narrows its own set (the router's
//! [`OffCores`](super::affinity::OffCores) restores it when done).

use super::affinity;
use super::cores::{format_list, CoreSet, CoreSetError};

/// The online CPUs the calling thread may run on, sorted. Where the affinity
/// cannot be read (a sandbox), every online CPU.
pub fn allowed_cpus() -> Result<Vec<usize>, CoreSetError> {
    let online = CoreSet::online_cpus()?;
    let affinity = affinity::allowed_cpus();
    if affinity.is_empty() {
        return Ok(online);
    }
    let allowed: Vec<usize> = online
        .into_iter()
        .filter(|c| affinity.binary_search(c).is_ok())
        .collect();
    if allowed.is_empty() {
        return Err(CoreSetError::Sys(format!(
            "the CPUs this process may run on ({}) are none of the online CPUs",
            format_list(&affinity)
        )));
    }
    Ok(allowed)
}

/// The default core set: every CPU of [`allowed_cpus`].
pub fn all_allowed() -> Result<CoreSet, CoreSetError> {
    let allowed = allowed_cpus()?;
    CoreSet::from_list(&format_list(&allowed), &allowed)
}

/// Refuses a core set with a CPU outside `allowed` (as [`allowed_cpus`]
/// gives it), naming the first such CPU and the allowed set.
pub fn check_allowed(set: &CoreSet, allowed: &[usize]) -> Result<(), CoreSetError> {
    match set.cores().iter().find(|c| !allowed.contains(c)) {
        Some(&core) => Err(CoreSetError::NotAllowed {
            core,
            allowed: allowed.to_vec(),
        }),
        None => Ok(()),
    }
}

/// Why a thread pinned to `core` could not be placed, when the reason is
/// that the process may not run there: `None` when `core` is allowed (or the
/// affinity cannot be read), so the cause is elsewhere.
pub fn placement_cause(core: usize) -> Option<String> {
    let allowed = affinity::allowed_cpus();
    (!allowed.is_empty() && !allowed.contains(&core)).then(|| {
        format!(
            "CPU {core} is not among the CPUs this process may run on ({}): a container's \
             or cgroup's cpuset, or taskset, allows only those; choose cores among them \
             with --cores",
            format_list(&allowed)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_outside_the_allowed_set_is_refused_naming_the_set() {
        let set = CoreSet::from_list("0-2", &[0, 1, 2, 3]).unwrap();
        assert!(check_allowed(&set, &[0, 1, 2]).is_ok());
        let e = check_allowed(&set, &[0, 2, 3]).unwrap_err();
        assert_eq!(
            e,
            CoreSetError::NotAllowed {
                core: 1,
                allowed: vec![0, 2, 3]
            }
        );
        let text = e.to_string();
        assert!(text.contains("core 1") && text.contains("0,2-3"), "{text}");
    }

    #[test]
    fn the_allowed_cpus_are_online_and_the_default_set() {
        let allowed = allowed_cpus().unwrap();
        let online = CoreSet::online_cpus().unwrap();
        assert!(allowed.iter().all(|c| online.contains(c)));
        assert_eq!(all_allowed().unwrap().cores(), allowed.as_slice());
    }
}
