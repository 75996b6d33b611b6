//! The router's hold-back rules, against a shard that never pops.

use super::*;
use crate::io::generator::{trades_schema, GeneratorOptions, TradesGenerator};
use crate::runtime::doorbell::Doorbell;
use crate::runtime::ring::ring;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A source that keeps up with its input: every batch it returns is
/// short (half of what is asked), however the threads are scheduled.
struct KeepingUp(TradesGenerator);

impl Source for KeepingUp {
    fn schema(&self) -> &Schema {
        self.0.schema()
    }

    fn poll(&mut self, max_rows: usize, deadline: Option<Instant>) -> Result<Poll, Error> {
        self.0.poll(max_rows / 2, deadline)
    }

    fn malformed(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        "keeping up".into()
    }
}

/// Routes an endless generator (whose every batch is short when
/// `keeping_up`, or as fast as it goes) in batches of 16 to one lane
/// whose shard never pops, until `stop` has been asked `checks` times;
/// returns the data messages sent.
fn batches_sent_to_a_stuck_shard(own_cpu: bool, keeping_up: bool, checks: usize) -> usize {
    let schema = trades_schema();
    let parsed = crate::sql::parse("SELECT * FROM trades").unwrap();
    let plan = crate::sql::plan_query(&parsed, None, &schema).unwrap();
    let routing = Routing {
        plan: &plan,
        input: 0,
        batching: Batching {
            batch_size: 16,
            linger: Duration::from_micros(10),
        },
        partial: false,
        checkpoints: None,
        reader: 0,
        malformed: &[],
    };
    let (producer, mut consumer) = ring(64);
    let (_returns, returned) = ring(64);
    let lane = Lane::new(producer, returned, Doorbell::new(), &schema, 16);
    let generator = TradesGenerator::new(GeneratorOptions::default());
    let mut source: Box<dyn Source> = match keeping_up {
        true => Box::new(KeepingUp(generator)),
        false => Box::new(generator),
    };
    let asked = AtomicUsize::new(0);
    let stop = || asked.fetch_add(1, Ordering::Relaxed) >= checks;
    let mut stats = RouterStats::default();
    route(
        source.as_mut(),
        routing,
        &mut [lane],
        &stop,
        &|| false,
        &mut stats,
        own_cpu,
    )
    .unwrap();
    let mut sent = 0;
    while let Some(message) = consumer.pop() {
        sent += usize::from(matches!(message, Message::Data(_)));
    }
    sent
}

// Each loop reads one batch unless it holds: asked twice as often as it
// may read, a router that never held would send twice as many.
const CHECKS: usize = 2 * QUEUED_BATCHES;

#[test]
fn a_router_on_its_own_cpu_stops_reading_while_its_shard_has_a_queue() {
    let sent = batches_sent_to_a_stuck_shard(true, true, CHECKS);
    assert_eq!(sent, QUEUED_BATCHES);
}

#[test]
fn a_source_that_fills_every_batch_reads_ahead_into_the_whole_ring() {
    assert_eq!(batches_sent_to_a_stuck_shard(true, false, CHECKS), CHECKS);
    // 63 batches fill a 64-slot ring but for the slot end of input needs.
    assert_eq!(batches_sent_to_a_stuck_shard(true, false, 63), 63);
}

#[test]
fn a_router_sharing_its_shards_cores_does_not_hold_back() {
    let sent = batches_sent_to_a_stuck_shard(false, true, CHECKS);
    assert_eq!(sent, CHECKS);
}
