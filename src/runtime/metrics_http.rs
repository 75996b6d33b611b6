//! `--metrics-addr HOST:PORT`: a run's live metrics over HTTP, in the
//! Prometheus text format (OpenMetrics, which Prometheus scrapes), for runs
//! that do not end (Kafka, TCP, an unbounded generator).
//!
//! Any `GET` (`/metrics` by convention) answers with, per shard (labels
//! `shard`, `core`): records in, processed, filtered, late, result rows
//! (counters), the backlog (records routed to the shard and not yet
//! processed) and the ingest-to-sink latency percentiles (gauges, us,
//! label `quantile`: `0.5`, `0.99`, `0.999`, `1`); per input (label
//! `input`): malformed records; and what each source adds
//! ([`Source::live_gauges`](crate::io::source::Source::live_gauges): a Kafka
//! input's lag per partition).
//!
//! # Threading
//! A thread of its own (`corestream-metrics`, not pinned) serves scrapes.
//! Each scrape reads the counters the shards and routers publish (relaxed
//! loads: the shards keep owning them, nothing on the data path waits) and
//! encodes them with `prometheus-client`. The listener is bound when the
//! engine is built, so a bad address fails before the run starts.

use super::metrics::{RoutedCounter, ShardCounters};
use crate::error::Error;
use crate::io::source::LiveGauges;
use crossbeam::utils::CachePadded;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest a scrape thread waits for a request before it looks whether the
/// run is over.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// The bound listener of `--metrics-addr`.
pub struct MetricsEndpoint {
    server: tiny_http::Server,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MetricsEndpoint({:?})", self.local_addr())
    }
}

impl MetricsEndpoint {
    /// Listens on `addr` (`HOST:PORT`; port 0 picks a free one).
    pub fn bind(addr: &str) -> Result<MetricsEndpoint, Error> {
        let server = tiny_http::Server::http(addr).map_err(|e| {
            Error::Config(format!("--metrics-addr {addr}: cannot listen there: {e}"))
        })?;
        Ok(MetricsEndpoint { server })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.server_addr().to_ip()
    }

    /// Answers every request with `render()` until `done` is set.
    pub fn serve(&self, done: &AtomicBool, render: impl Fn() -> String) {
        // The flag carries no data: Relaxed suffices.
        while !done.load(Ordering::Relaxed) {
            let Ok(Some(request)) = self.server.recv_timeout(STOP_CHECK) else {
                continue;
            };
            let content_type = tiny_http::Header::from_bytes(
                &b"Content-Type"[..],
                &b"application/openmetrics-text; version=1.0.0; charset=utf-8"[..],
            );
            let mut response = tiny_http::Response::from_string(render());
            if let Ok(h) = content_type {
                response = response.with_header(h);
            }
            // A scraper that went away is its own business.
            let _ = request.respond(response);
        }
    }
}

/// What a scrape reads: the counters of a running engine.
pub struct LiveView<'a> {
    /// Per shard, its core.
    pub cores: &'a [usize],
    pub counters: &'a [Arc<CachePadded<ShardCounters>>],
    /// Per shard, every router's count of records sent to it.
    pub routed: &'a [Vec<Arc<CachePadded<RoutedCounter>>>],
    /// Per run input: its name, and per reader its malformed records.
    pub inputs: Vec<(String, &'a [Arc<CachePadded<RoutedCounter>>])>,
    /// What the sources add.
    pub gauges: Vec<LiveGauges>,
}

type Labels = Vec<(String, String)>;

impl LiveView<'_> {
    /// The metrics now, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut registry = Registry::with_prefix("corestream");
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let family = Family::<Labels, Counter>::default();
            registry.register(name, help, family.clone());
            family
        };
        let records_in = counter(&mut registry, "records_in", "Records a shard took in");
        let processed = counter(&mut registry, "processed", "Records a shard processed");
        let filtered = counter(&mut registry, "filtered", "Records a shard's WHERE dropped");
        let late = counter(&mut registry, "late", "Records behind the watermark");
        let rows_out = counter(&mut registry, "rows_out", "Result rows a shard wrote");
        let malformed = counter(
            &mut registry,
            "malformed",
            "Malformed records an input read",
        );
        let backlog = Family::<Labels, Gauge>::default();
        registry.register(
            "backlog_records",
            "Records routed to a shard and not yet processed",
            backlog.clone(),
        );
        let latency = Family::<Labels, Gauge>::default();
        registry.register(
            "latency_us",
            "Ingest-to-sink latency of a shard's records so far, microseconds",
            latency.clone(),
        );
        for (shard, (c, routed)) in self.counters.iter().zip(self.routed).enumerate() {
            let labels = vec![
                ("shard".to_string(), shard.to_string()),
                ("core".to_string(), self.cores[shard].to_string()),
            ];
            let s = c.read();
            for (family, v) in [
                (&records_in, s.records_in),
                (&processed, s.processed),
                (&filtered, s.filtered),
                (&late, s.late),
                (&rows_out, s.rows_out),
            ] {
                family.get_or_create(&labels).inc_by(v);
            }
            let sent: u64 = routed.iter().map(|r| r.read()).sum();
            let waiting = sent.saturating_sub(s.records_in);
            backlog.get_or_create(&labels).set(waiting as i64);
            let p = c.latency();
            for (q, v) in [
                ("0.5", p.p50),
                ("0.99", p.p99),
                ("0.999", p.p999),
                ("1", p.max),
            ] {
                let mut l = labels.clone();
                l.push(("quantile".into(), q.into()));
                latency.get_or_create(&l).set(v as i64);
            }
        }
        for (name, readers) in &self.inputs {
            let n: u64 = readers.iter().map(|r| r.read()).sum();
            let labels = vec![("input".to_string(), name.clone())];
            malformed.get_or_create(&labels).inc_by(n);
        }
        let mut families: Vec<(&'static str, &'static str, Family<Labels, Gauge>)> = Vec::new();
        for gauges in &self.gauges {
            for g in gauges() {
                let family = match families.iter().find(|f| f.0 == g.name) {
                    Some(f) => f.2.clone(),
                    None => {
                        let family = Family::<Labels, Gauge>::default();
                        registry.register(g.name, g.help, family.clone());
                        families.push((g.name, g.help, family.clone()));
                        family
                    }
                };
                family.get_or_create(&g.labels).set(g.value);
            }
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &registry);
        text
    }
}
