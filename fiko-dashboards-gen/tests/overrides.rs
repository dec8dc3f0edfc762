//! Per-set overrides: an application replaces, adds and drops rows, panels and alerts of
//! a set and tunes its thresholds, instead of re-typing the set's rows; an edit naming
//! something the set lacks is a problem naming the set.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use fiko_dashboards::prelude::*;
use fiko_dashboards_gen::{Error, Generator};
use fiko_metrics_axum::{HttpServerMetrics, RequestLabels};
use fiko_metrics_redis::RedisExporter;
use fiko_metrics_sqlx::PostgresExporter;

/// The titles of the rows and panels of every set's own dashboard (the overview holds the
/// overview panels only), a collapsed row's panels after its title.
fn panel_titles(generator: Generator) -> Vec<String> {
    let artefacts = generator.generate().expect("generate");
    let mut titles = Vec::new();
    for path in artefacts.paths() {
        if !path.starts_with("grafana/dashboards/") || path.ends_with("-overview.json") {
            continue;
        }
        let dashboard: serde_json::Value =
            serde_json::from_str(artefacts.get(path).expect("dashboard")).expect("json");
        for panel in dashboard["panels"].as_array().expect("panels") {
            titles.push(panel["title"].as_str().expect("title").to_owned());
            for nested in panel["panels"].as_array().into_iter().flatten() {
                titles.push(nested["title"].as_str().expect("title").to_owned());
            }
        }
    }
    titles
}

fn alerts(generator: Generator) -> String {
    generator
        .generate()
        .expect("generate")
        .get("prometheus/alerts.yml")
        .expect("alerts")
        .to_owned()
}

fn problems(generator: Generator) -> Vec<String> {
    match generator.generate() {
        Err(Error::Invalid(problems)) => problems,
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("generation should have failed"),
    }
}

fn http() -> Generator {
    Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe::<HttpServerMetrics>()
}

#[test]
fn panels_are_replaced_in_place_dropped_and_added() {
    let defaults = panel_titles(http());
    assert_eq!(defaults[0], "HTTP");
    assert!(defaults.contains(&"Request latency".to_owned()));
    let edited = panel_titles(http().customize::<HttpServerMetrics>(|set| {
        set.replace_panel(
            "HTTP",
            "Request latency",
            Panel::timeseries("Latency p99")
                .query(HttpServerMetrics::HTTP_SERVER_REQUEST_DURATION_SECONDS.quantile(0.99)),
        )
        .drop_panel("HTTP", "Request errors by type")
        .add_panel(
            "HTTP",
            Panel::timeseries("Requests by method").query(
                HttpServerMetrics::HTTP_SERVER_REQUESTS
                    .rate()
                    .by([RequestLabels::HTTP_REQUEST_METHOD]),
            ),
        )
    }));
    let position = |titles: &[String], title: &str| titles.iter().position(|t| t == title);
    assert_eq!(
        position(&edited, "Latency p99"),
        position(&defaults, "Request latency"),
        "{edited:?}"
    );
    assert!(!edited.contains(&"Request latency".to_owned()));
    assert!(!edited.contains(&"Request errors by type".to_owned()));
    assert_eq!(
        edited.last().map(String::as_str),
        Some("Requests by method")
    );
    assert_eq!(edited.len(), defaults.len());
}

#[test]
fn rows_are_replaced_added_and_dropped() {
    let row = || {
        Row::new("Traffic")
            .panel(Panel::stat("Requests").query(HttpServerMetrics::HTTP_SERVER_REQUESTS.rate()))
    };
    let replaced =
        panel_titles(http().customize::<HttpServerMetrics>(|set| set.replace_row("HTTP", row())));
    assert_eq!(replaced, ["Traffic", "Requests"]);
    let added = panel_titles(http().customize::<HttpServerMetrics>(|set| set.add_row(row())));
    assert_eq!(added[0], "HTTP");
    assert_eq!(&added[added.len() - 2..], ["Traffic", "Requests"]);
    let all =
        panel_titles(http().customize::<HttpServerMetrics>(|set| set.rows(vec![row(), row()])));
    assert_eq!(all, ["Traffic", "Requests", "Traffic", "Requests"]);
    let dropped = panel_titles(
        Generator::new("shop")
            .runbook_base("https://runbooks.example/")
            .observe::<HttpServerMetrics>()
            .observe::<RedisExporter>()
            .customize::<HttpServerMetrics>(|set| set.drop_row("HTTP")),
    );
    assert!(!dropped.contains(&"HTTP".to_owned()), "{dropped:?}");
    assert!(dropped.contains(&"Redis".to_owned()), "{dropped:?}");
}

#[test]
fn alerts_are_dropped_replaced_added_and_tuned() {
    let defaults = alerts(http());
    assert!(defaults.contains("HighRequestRate"), "{defaults}");
    let busy = || {
        Alert::warning(
            "Busy",
            HttpServerMetrics::HTTP_SERVER_REQUESTS
                .rate()
                .above(PerSecond(5.0)),
        )
        .summary("Busy {{ $labels.instance }}")
        .description("More than {threshold}.")
    };
    let edited = alerts(http().customize::<HttpServerMetrics>(|set| {
        set.drop_alert("HighRequestRate")
            .add_alert(busy())
            .replace_alert(
                Alert::critical(
                    "HighResponseTime",
                    HttpServerMetrics::HTTP_SERVER_REQUEST_DURATION_SECONDS
                        .quantile(0.99)
                        .above(Seconds(2.5)),
                )
                .summary("Slow")
                .description("p99 above {threshold}."),
            )
            .threshold("HighErrorRate", 0.1)
            .tune("Busy", |alert| {
                alert.set_for(minutes(7));
            })
            .service("web")
    }));
    assert!(!edited.contains("HighRequestRate"), "{edited}");
    assert!(edited.contains("alert: \"Busy\""), "{edited}");
    assert!(edited.contains("for: \"7m\""), "{edited}");
    assert!(edited.contains("histogram_quantile(0.99"), "{edited}");
    assert!(edited.contains("\"p99 above 2.5s.\""), "{edited}");
    assert!(edited.contains("[5m])) > 0) > 0.1 and "), "{edited}");
    assert!(edited.contains("name: \"shop.web@"), "{edited}");
    assert!(!edited.contains("name: \"shop.app@"), "{edited}");
    let replaced_all =
        alerts(http().customize::<HttpServerMetrics>(|set| set.alerts(vec![busy()])));
    // The set's one alert, and the Watchdog every generation has.
    assert_eq!(
        replaced_all.matches("- alert:").count(),
        2,
        "{replaced_all}"
    );
    assert!(replaced_all.contains("- alert: \"Busy\""), "{replaced_all}");
    assert!(
        replaced_all.contains("- alert: \"Watchdog\""),
        "{replaced_all}"
    );
}

#[test]
fn every_edit_of_something_missing_is_reported_with_its_set() {
    let found = problems(
        Generator::new("shop")
            .runbook_base("https://runbooks.example/")
            .observe::<HttpServerMetrics>()
            .customize::<HttpServerMetrics>(|set| {
                set.drop_row("Nope")
                    .replace_row("Gone", Row::new("X"))
                    .drop_panel("HTTP", "Nope")
                    .replace_panel(
                        "Nope",
                        "Request latency",
                        Panel::stat("X").query(HttpServerMetrics::HTTP_SERVER_REQUESTS.rate()),
                    )
                    .add_panel(
                        "Nope",
                        Panel::stat("X").query(HttpServerMetrics::HTTP_SERVER_REQUESTS.rate()),
                    )
                    .drop_alert("NoSuchAlert")
                    .tune("NoSuchTune", |_| {})
                    .replace_alert(
                        Alert::warning(
                            "NoSuchReplace",
                            HttpServerMetrics::HTTP_SERVER_REQUESTS
                                .rate()
                                .above(PerSecond(1.0)),
                        )
                        .summary("s")
                        .description("d"),
                    )
            })
            .customize::<PostgresExporter>(|set| set.drop_alert("PostgresDown")),
    );
    for expected in [
        "HttpServerMetrics: customize: no row titled `Nope` to drop",
        "HttpServerMetrics: customize: no row titled `Gone` to replace",
        "HttpServerMetrics: customize: no panel `Nope` in row `HTTP` to drop",
        "HttpServerMetrics: customize: no panel `Request latency` in row `Nope` to replace",
        "HttpServerMetrics: customize: no row titled `Nope` to add a panel to",
        "HttpServerMetrics: customize: no alert named `NoSuchAlert` to drop",
        "HttpServerMetrics: customize: no alert named `NoSuchTune` to tune",
        "HttpServerMetrics: customize: no alert named `NoSuchReplace` to replace",
        "PostgresExporter: customized but not observed",
    ] {
        assert!(
            found.iter().any(|problem| problem.starts_with(expected)),
            "{expected} missing from {found:#?}"
        );
    }
    assert_eq!(found.len(), 9, "{found:#?}");
}
