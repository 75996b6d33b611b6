//! Fault injection for the crash tests: with
//! `CORESTREAM_CHECKPOINT_FAULT=STEP@EPOCH` in the environment, the process
//! aborts (stopping at once, as `kill -9` would) when checkpoint `EPOCH`
//! reaches `STEP`, so a test can check that recovery is exact after a
//! crash at each step of a commit. Steps: `state-written` (state files
//! written, no manifest yet), `manifest-half` (half the manifest's temporary
//! file written), `manifest-renamed` (the manifest in place, the directory
//! not yet fsynced nor old checkpoints pruned), and `truncating` (recovery
//! has cut the first part file back; `EPOCH` is then the checkpoint
//! resumed from). Unset, each point costs one comparison.

use std::sync::OnceLock;

fn planned() -> &'static Option<(String, u64)> {
    static FAULT: OnceLock<Option<(String, u64)>> = OnceLock::new();
    FAULT.get_or_init(|| {
        let text = std::env::var("CORESTREAM_CHECKPOINT_FAULT").ok()?;
        let (step, epoch) = text.split_once('@')?;
        Some((step.to_owned(), epoch.parse().ok()?))
    })
}

/// Aborts the process if the planned fault is `step` of checkpoint `epoch`.
pub fn point(step: &str, epoch: u64) {
    if let Some((s, e)) = planned() {
        if s == step && *e == epoch {
            std::process::abort();
        }
    }
}
