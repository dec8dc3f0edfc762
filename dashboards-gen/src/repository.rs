//! What `cargo run -p dashboards-gen` generates: this repository's metric sets and the
//! scrape jobs of its deployment.

use fiko_dashboards::exporters::{PostgresExporter, RedisExporter, ScrapeTargets};
use fiko_metrics::calls::FunctionMetrics;

use crate::Generator;

/// The generator for this repository: the runtime's `FunctionMetrics`, the exporters'
/// external sets and Prometheus' `up`, and the integration crates' sets that implement
/// `Observe`; scraping the app, the job workers and both exporters.
pub fn generator() -> Generator {
    Generator::new()
        .observe::<FunctionMetrics>()
        .observe::<RedisExporter>()
        .observe::<PostgresExporter>()
        .observe::<ScrapeTargets>()
        .scrape("fiko-app", "/api/v1/metrics", &["app:8000"])
        .scrape("fiko-worker", "/metrics", &["worker:9100"])
        .scrape("redis", "/metrics", &["redis-exporter:9121"])
        .scrape("postgres", "/metrics", &["postgres-exporter:9187"])
        .scrape("prometheus", "/metrics", &["localhost:9090"])
}
