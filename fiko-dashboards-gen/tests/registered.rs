//! An application lists nothing twice: the generator reads the sets it registers from
//! its registry, with the rows and alerts `fiko_dashboards::observed!` recorded.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;

use fiko_dashboards::monitoring::ScrapeTargets;
use fiko_dashboards_gen::Generator;
use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics::{Counter, MetricSet, Registry};
use fiko_metrics_axum::HttpServerMetrics;
use fiko_metrics_sqlx::DbPoolMetrics;

/// A set with no `Observe` impl.
#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct Bare {
    /// Things counted.
    things: Counter,
}

fn rows_of(generator: &Generator) -> Vec<String> {
    let artefacts = generator.generate().expect("generate");
    let dashboard: serde_json::Value = serde_json::from_str(
        artefacts
            .get("grafana/dashboards/shop-overview.json")
            .expect("dashboard"),
    )
    .expect("json");
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter(|panel| panel["type"] == "row")
        .map(|panel| panel["title"].as_str().expect("title").to_owned())
        .collect()
}

#[test]
fn registered_sets_bring_their_rows_and_alerts_in_registration_order() {
    let registry = Arc::new(Registry::new());
    HttpServerMetrics::register(&registry).expect("http");
    fiko_metrics_process::register(&registry).expect("process");
    Bare::register(&registry).expect("bare");
    registry
        .register_collector(Arc::new(fiko_metrics::Refreshing::new(
            Arc::new(DbPoolMetrics::new()),
            |_: &DbPoolMetrics| {},
        )))
        .expect("pool");
    let names: Vec<&str> = registry.sets().iter().map(|set| set.type_name).collect();
    assert_eq!(
        names,
        [
            "HttpServerMetrics",
            "ProcessMetrics",
            "Bare",
            "DbPoolMetrics"
        ]
    );

    let generator = Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe::<FunctionMetrics>()
        .observe_registered(&registry)
        .observe::<ScrapeTargets>();
    assert_eq!(
        rows_of(&generator),
        // The overview's own section first, then the sets' rows in order.
        [
            "Overview",
            "Functions",
            "HTTP",
            "Process",
            "Database pool",
            "Targets"
        ]
    );
    // The bare set is declared: raw PromQL may name its metric.
    assert!(generator.declared_series().contains("shop_things_total"));
    let artefacts = generator.generate().expect("generate");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    for alert in ["HighErrorRate", "HighCPUUsage", "HighMemoryUsage"] {
        assert!(alerts.contains(alert), "{alert}: {alerts}");
    }
}

#[test]
fn a_set_listed_and_registered_is_observed_once() {
    let registry = Registry::new();
    HttpServerMetrics::register(&registry).expect("http");
    let generator = Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe::<HttpServerMetrics>()
        .observe_registered(&registry)
        .observe_registered(&registry);
    assert_eq!(rows_of(&generator), ["Overview", "HTTP"]);
    // Listing one twice by hand is a mistake, reported.
    let twice = Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe::<HttpServerMetrics>()
        .observe::<HttpServerMetrics>();
    let error = twice.generate().expect_err("observed twice");
    assert!(
        error
            .to_string()
            .contains("HttpServerMetrics: observed twice"),
        "{error}"
    );
}
