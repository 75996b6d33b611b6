//! Routing every input of a run at once.
//!
//! # Threading
//! A run with one input routes it on the calling thread (see
//! [`route_all`]). A run with several inputs (a join) routes each on a
//! thread of its own (`corestream-input-<i>`), so a table being read in full
//! and the stream waiting for it never wait on each other; when one input's
//! routers fail, the others stop reading (and end their lanes as failed:
//! their input was not finished either), and the first error is returned.

use super::metrics::RoutedCounter;
use super::router::{route_all, totals, Batching, Lane, RouterStats, Routing};
use crate::checkpoint::coordinator::RouterCheckpoints;
use crate::error::Error;
use crate::io::source::Source;
use crate::sql::plan::RunInput;
use crossbeam::utils::CachePadded;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What every router of a run does besides routing its rows.
#[derive(Debug, Clone, Copy)]
pub struct RunRouting<'a> {
    pub batching: Batching,
    /// Whether routers may fold rows into partial groups.
    pub partial: bool,
    /// With checkpoints: the routers' ends.
    pub checkpoints: Option<&'a RouterCheckpoints>,
    /// Per run input, per reader: where its malformed records are published.
    pub malformed: &'a [Vec<Arc<CachePadded<RoutedCounter>>>],
}

/// Routes `inputs[i]` (one source per reader) to `lanes[i]` (per reader,
/// one lane per shard) as `run_inputs[i]` says; returns the first error
/// and the routers' totals.
pub fn route_inputs(
    inputs: &mut [Vec<Box<dyn Source>>],
    run_inputs: &[RunInput<'_>],
    run: RunRouting<'_>,
    lanes: Vec<Vec<Vec<Lane>>>,
    stop: &(dyn Fn() -> bool + Sync),
    cores: &[usize],
) -> (Result<(), Error>, RouterStats) {
    let RunRouting {
        batching,
        partial,
        checkpoints,
        malformed,
    } = run;
    let routing = |i: usize| Routing {
        plan: run_inputs[i].stage,
        input: run_inputs[i].side,
        batching,
        partial,
        checkpoints: checkpoints.map(|c| (c, i)),
        reader: 0,
        malformed: malformed.get(i).map_or(&[], Vec::as_slice),
    };
    if let ([sources], [_]) = (&mut *inputs, lanes.as_slice()) {
        let lanes = lanes.into_iter().next().unwrap_or_default();
        return route_all(sources, routing(0), lanes, stop, &|| false, cores);
    }
    // Set when an input's routers fail; it carries no data, so Relaxed suffices.
    let failed = AtomicBool::new(false);
    let failed_elsewhere = || failed.load(Ordering::Relaxed);
    let stop_or_failed = || stop() || failed_elsewhere();
    let outcomes: Vec<(Result<(), Error>, RouterStats)> = std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .iter_mut()
            .zip(lanes)
            .enumerate()
            .map(|(i, (sources, lanes))| {
                let (failed, stop, routing) = (&failed, &stop_or_failed, &routing);
                let failed_elsewhere = &failed_elsewhere;
                std::thread::Builder::new()
                    .name(format!("corestream-input-{i}"))
                    .spawn_scoped(scope, move || {
                        let (result, stats) =
                            route_all(sources, routing(i), lanes, stop, failed_elsewhere, cores);
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        (result, stats)
                    })
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(i, h)| match h {
                Ok(h) => h.join().unwrap_or_else(|payload| {
                    let reason = crate::engine::panic_message(payload.as_ref());
                    let reason = format!("panicked: {reason}");
                    (
                        Err(Error::Router { router: i, reason }),
                        RouterStats::default(),
                    )
                }),
                Err(e) => (
                    Err(Error::Io {
                        what: format!("cannot start the routing thread of input {i}"),
                        source: e,
                    }),
                    RouterStats::default(),
                ),
            })
            .collect()
    });
    totals(outcomes)
}
