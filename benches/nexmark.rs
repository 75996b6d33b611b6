//! The Nexmark benchmark: each query of `benches/nexmark/qN.sql` through the
//! whole engine (routers, rings, shards, exchanges; rows counted by a
//! Discard sink, not formatted), on 1 core and on every core.
//!
//! The events are generated before timing (`gen:nexmark`, seed 7), into
//! batches held in memory: generation is not what is measured. A timed run
//! starts when the engine is built and ends when its last shard has
//! finished. Figures are events per second over all three streams (the
//! Nexmark convention: a query that reads only bids still counts every
//! event the generator made), per core, and the scaling efficiency from 1
//! to all cores. Beside them, the published per-core figures of Flink 1.13
//! and Feldera, measured on other machines, and corestream's ratio to them.
//!
//! q0 also runs a bare loop over the same bid batches (a sum of two of its
//! columns) in the same process: the ratio is what the engine's routing and
//! shard work cost over only touching the rows.
//!
//! `CORESTREAM_BENCH_RECORDS` sets the events (default 4M),
//! `CORESTREAM_BENCH_TRIALS` the trials (median shown), `CORESTREAM_NEXMARK`
//! a comma-separated list of queries (e.g. `q0,q5`; default all).

mod support;

use corestream::data::column::ColumnData;
use corestream::data::{Batch, Schema};
use corestream::io::sink::OutputSpec;
use corestream::io::source::{self, Poll, Source};
use corestream::io::text::TextOptions;
use corestream::runtime::cores::CoreSet;
use corestream::Engine;
use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Instant;
use support::{median, records, trials};

/// The three streams, and q13's side input (10,000 rows, not events).
const STREAMS: [&str; 4] = ["person", "auction", "bid", "side_input"];

/// Published per-core figures, thousands of events/s: (query, Flink 1.13,
/// Feldera with 16 workers), as the Nexmark issue quotes them.
const PUBLISHED: &[(&str, f64, f64)] = &[
    ("q0", 155.0, 436.0),
    ("q4", 34.0, 265.0),
    ("q9", 14.0, 57.0),
    ("q20", 19.0, 85.0),
];

/// A stream's pre-generated batches, handed out in order.
struct Memory {
    name: &'static str,
    schema: Schema,
    batches: VecDeque<Batch>,
}

impl Memory {
    fn generate(name: &'static str, events: u64) -> Memory {
        let spec = format!("gen:nexmark?events={events}&seed=7&stream={name}");
        let mut generator = source::open(&spec, &TextOptions::default()).expect("gen:nexmark");
        let mut batches = VecDeque::new();
        while let Poll::Batch(batch) = generator.poll(4096, None).expect("generates") {
            batches.push_back(batch);
        }
        Memory {
            name,
            schema: generator.schema().clone(),
            batches,
        }
    }

    fn copy(&self) -> Memory {
        Memory {
            name: self.name,
            schema: self.schema.clone(),
            batches: self.batches.clone(),
        }
    }
}

impl Source for Memory {
    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn poll(
        &mut self,
        _max_rows: usize,
        _deadline: Option<Instant>,
    ) -> Result<Poll, corestream::Error> {
        Ok(self.batches.pop_front().map_or(Poll::End, Poll::Batch))
    }

    fn malformed(&self) -> u64 {
        0
    }

    fn describe(&self) -> String {
        format!("nexmark {} in memory", self.name)
    }

    fn bounded(&self) -> bool {
        true
    }

    fn reopen(&self) -> Option<Box<dyn Source>> {
        Some(Box::new(self.copy()))
    }
}

/// Seconds and rows out of one run of `sql` over `streams` on `cores`.
fn run(sql: &str, streams: &[Memory], cores: &str) -> (f64, u64) {
    let sources = streams
        .iter()
        .filter(|m| sql.contains(&format!(" {} (", m.name)))
        .map(|m| (m.name.to_owned(), Box::new(m.copy()) as Box<dyn Source>))
        .collect();
    let started = Instant::now();
    let engine = Engine::builder()
        .sql(sql)
        .cores(CoreSet::from_list(cores, &CoreSet::online_cpus().unwrap()).unwrap())
        .output(OutputSpec::Discard)
        .build_with_sources(sources)
        .unwrap_or_else(|e| panic!("{e}"));
    let out = engine.run().unwrap_or_else(|e| panic!("{e}"));
    (
        started.elapsed().as_secs_f64(),
        out.summary.total().rows_out,
    )
}

/// Median seconds of a bare loop over the bid batches: a sum of the price
/// and auction columns.
fn bare_scan(bids: &Memory) -> f64 {
    let times = (0..trials())
        .map(|_| {
            let started = Instant::now();
            let mut sum = 0i64;
            for batch in &bids.batches {
                for c in [0, 2] {
                    if let ColumnData::Int64(v) = &batch.columns[c].data {
                        sum = sum.wrapping_add(v.iter().sum::<i64>());
                    }
                }
            }
            black_box(sum);
            started.elapsed().as_secs_f64()
        })
        .collect();
    median(times)
}

fn main() {
    let events = records(4_000_000);
    let wanted = std::env::var("CORESTREAM_NEXMARK").ok();
    let all_cores = CoreSet::online_cpus().unwrap().len();
    let generated = Instant::now();
    let streams: Vec<Memory> = STREAMS
        .iter()
        .map(|s| Memory::generate(s, events))
        .collect();
    println!(
        "nexmark: {events} events generated in {:.2} s (not timed below); {} trials, median; \
         1 core and {all_cores} cores",
        generated.elapsed().as_secs_f64(),
        trials()
    );
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/nexmark");
    let mut queries: Vec<(u32, String)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let n = name.strip_prefix('q')?.strip_suffix(".sql")?.parse().ok()?;
            Some((n, name))
        })
        .collect();
    queries.sort();
    println!(
        "{:<5} {:>12} {:>12} {:>12} {:>6} {:>12}   {:>14} {:>14}",
        "query",
        "1 core ev/s",
        "all ev/s",
        "per core",
        "eff",
        "rows out/s",
        "Flink (x)",
        "Feldera (x)"
    );
    for (n, file) in queries {
        let name = format!("q{n}");
        if wanted
            .as_ref()
            .is_some_and(|w| !w.split(',').any(|q| q == name))
        {
            continue;
        }
        let sql = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let measure = |cores: &str| {
            let runs: Vec<(f64, u64)> = (0..trials()).map(|_| run(&sql, &streams, cores)).collect();
            let rows = runs[0].1;
            (median(runs.iter().map(|r| r.0).collect()), rows)
        };
        let (one, rows) = measure("0");
        let every = if all_cores > 1 {
            measure(&format!("0-{}", all_cores - 1)).0
        } else {
            one
        };
        let rate = |s: f64| events as f64 / s;
        let per_core = rate(every) / all_cores as f64;
        let published = PUBLISHED.iter().find(|p| p.0 == name);
        let versus = |k: Option<f64>| match k {
            Some(k) => format!("{k:>5.0}K ({:>5.0}x)", per_core / (k * 1e3)),
            None => format!("{:>14}", "-"),
        };
        println!(
            "{name:<5} {:>12.0} {:>12.0} {:>12.0} {:>6.2} {:>12.0}   {} {}",
            rate(one),
            rate(every),
            per_core,
            rate(every) / (all_cores as f64 * rate(one)),
            rows as f64 / one,
            versus(published.map(|p| p.1)),
            versus(published.map(|p| p.2)),
        );
        if n == 0 {
            let bare = bare_scan(&streams[2]);
            println!(
                "      bare scan of the bids: {:.0} ev/s; the engine on 1 core takes x{:.1} its time",
                rate(bare),
                one / bare
            );
        }
    }
}
