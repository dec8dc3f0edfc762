//! Writes (or checks, with `--check`) the shop's dashboards, rules, promtool tests and
//! configs: `cargo run --bin monitoring -- --out deploy`.

use std::process::ExitCode;

use fiko_dashboards::monitoring::ScrapeTargets;
use fiko_dashboards_gen::{Generator, cli};
use fiko_metrics_axum::HttpServerMetrics;

fn main() -> ExitCode {
    // The sets the application registers, read from its registry: nothing listed twice.
    outside_app::register_metrics();
    let generator = Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe_registered(fiko_metrics::default_registry())
        // Prometheus' own `up`, which no process of the shop registers.
        .observe::<ScrapeTargets>()
        // Where the shop differs from the HTTP integration's defaults.
        .customize::<HttpServerMetrics>(|set| {
            set.threshold("HighErrorRate", 0.1)
                .drop_panel("HTTP", "Response body size p95 by route")
        })
        .scrape_app("web", "/api/v1/metrics", &["web:8080"])
        .scrape("prometheus", "/metrics", &["localhost:9090"]);
    cli::run(generator)
}
