//! What `cargo run -p dashboards-gen` generates: the Fiko Backend demo's metric sets —
//! which include the integrations' sets (HTTP, database, jobs, process, WebSockets), the
//! exporters' external sets, Prometheus' `up` and the runtime's `FunctionMetrics`, each
//! with its rows and alerts (`fiko_backend::monitoring::observed`) — and the scrape jobs
//! of its deployment.

use fiko_backend::monitoring::{APP_JOB, WORKER_JOB, observed};

use crate::{Generator, ObservedSet};

/// The generator for this repository's demo deployment: the web app at `app:8000`
/// (`/api/v1/metrics`), a job worker at `worker:9100`, redis_exporter, postgres_exporter
/// and Prometheus itself.
pub fn generator() -> Generator {
    observed()
        .into_iter()
        .fold(Generator::new(), |generator, set| {
            generator.observe_set(ObservedSet {
                descriptor: set.descriptor,
                service: set.service,
                rows: set.rows,
                alerts: set.alerts,
            })
        })
        .scrape(APP_JOB, "/api/v1/metrics", &["app:8000"])
        .scrape(WORKER_JOB, "/metrics", &["worker:9100"])
        .scrape("redis", "/metrics", &["redis-exporter:9121"])
        .scrape("postgres", "/metrics", &["postgres-exporter:9187"])
        .scrape("prometheus", "/metrics", &["localhost:9090"])
}
