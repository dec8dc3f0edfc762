//! Every name in the output is the application's: rule groups, Grafana folder, provider
//! file, dashboard uid, title and tag, job names; nothing says "fiko" unless the
//! application is called so. Custom units map to Grafana's.

use fiko_dashboards::monitoring::ScrapeTargets;
use fiko_dashboards_gen::{Error, Generator};
use fiko_metrics::{Counter, Histogram, MetricSet};
use fiko_metrics_axum::HttpServerMetrics;
use fiko_metrics_redis::RedisExporter;

fn shop(name: &str) -> Generator {
    Generator::new(name)
        .runbook_base("https://runbooks.example/")
        .observe::<HttpServerMetrics>()
        .observe::<RedisExporter>()
        .observe::<ScrapeTargets>()
        .scrape_app("web", "/metrics", &["web:8080"])
        .scrape_app("worker", "/metrics", &["worker:9100"])
}

#[test]
fn an_application_named_shop_gets_its_own_names_everywhere() {
    let artefacts = shop("shop").generate().expect("generate");
    let paths: Vec<&str> = artefacts.paths().collect();
    assert!(
        paths.contains(&"grafana/provisioning/dashboards/shop.yml"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"grafana/dashboards/shop-overview.json"),
        "{paths:?}"
    );
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    for group in ["shop.app", "shop.redis"] {
        assert!(alerts.contains(&format!("- name: \"{group}@")), "{alerts}");
    }
    let recording = artefacts
        .get("prometheus/recording.yml")
        .expect("recording");
    assert!(
        recording.contains("- name: \"shop.recording@"),
        "{recording}"
    );
    let provider = artefacts
        .get("grafana/provisioning/dashboards/shop.yml")
        .expect("provider");
    assert!(provider.contains("- name: \"shop\""), "{provider}");
    assert!(provider.contains("folder: \"Shop\""), "{provider}");
    let dashboard: serde_json::Value = serde_json::from_str(
        artefacts
            .get("grafana/dashboards/shop-overview.json")
            .expect("dashboard"),
    )
    .expect("json");
    assert_eq!(dashboard["uid"], "shop-overview");
    assert_eq!(dashboard["title"], "Shop overview");
    assert_eq!(dashboard["tags"], serde_json::json!(["shop", "generated"]));
    let config = artefacts.get("prometheus/prometheus.yml").expect("config");
    assert!(config.contains("job_name: \"shop-web\""), "{config}");
    assert!(config.contains("job_name: \"shop-worker\""), "{config}");
    for path in artefacts.paths() {
        let text = artefacts
            .get(path)
            .expect("file")
            .replace("fiko-metrics", "");
        assert!(
            !text.to_lowercase().contains("fiko"),
            "{path} names fiko:\n{text}"
        );
    }
}

#[test]
fn names_follow_a_rename_and_explicit_settings() {
    let mut generator = shop("shop").rename("my-store");
    let artefacts = generator.generate().expect("generate");
    let provider = artefacts
        .get("grafana/provisioning/dashboards/my-store.yml")
        .expect("provider");
    assert!(provider.contains("folder: \"My Store\""), "{provider}");
    let dashboard = artefacts
        .get("grafana/dashboards/my-store-overview.json")
        .expect("dashboard");
    assert!(dashboard.contains("\"title\": \"My Store overview\""));
    let config = artefacts.get("prometheus/prometheus.yml").expect("config");
    assert!(config.contains("job_name: \"my-store-web\""), "{config}");
    assert!(!config.contains("shop-web"), "{config}");

    let settings = generator.settings_mut();
    settings.dashboard_uid = Some("store-main".to_owned());
    settings.dashboard_title = Some("Store".to_owned());
    settings.grafana_folder = Some("Operations".to_owned());
    let artefacts = generator.generate().expect("generate");
    let dashboard = artefacts
        .get("grafana/dashboards/store-main.json")
        .expect("dashboard");
    assert!(dashboard.contains("\"title\": \"Store\""));
    let provider = artefacts
        .get("grafana/provisioning/dashboards/my-store.yml")
        .expect("provider");
    assert!(provider.contains("folder: \"Operations\""), "{provider}");
}

#[test]
fn a_malformed_name_or_uid_is_a_problem() {
    for name in ["", "Shop", "my shop", "9lives", &"x".repeat(32)] {
        match Generator::new(name)
            .runbook_base("https://runbooks.example/")
            .generate()
        {
            Err(Error::Invalid(problems)) => {
                assert_eq!(problems.len(), 1, "{problems:?}");
                assert!(
                    problems[0].starts_with(&format!("application name `{name}`")),
                    "{problems:?}"
                );
            }
            other => panic!("{name:?}: {other:?}"),
        }
    }
    let mut generator = Generator::new("shop").runbook_base("https://runbooks.example/");
    generator.settings_mut().dashboard_uid = Some("a uid with spaces".to_owned());
    let Err(Error::Invalid(problems)) = generator.generate() else {
        panic!("a bad uid generated");
    };
    assert!(
        problems[0].starts_with("dashboard uid `a uid with spaces`"),
        "{problems:?}"
    );
}

/// A set with custom units.
#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct Money {
    /// Money taken.
    #[metric(unit = "euros")]
    revenue: Counter,
    /// Tokens used.
    #[metric(unit = "tokens")]
    tokens: Counter,
    /// Basket value.
    #[metric(unit = "usd", buckets = [1.0, 10.0, 100.0])]
    basket: Histogram,
}

impl fiko_dashboards::Observe for Money {
    fn rows() -> Vec<fiko_dashboards::Row> {
        use fiko_dashboards::prelude::*;
        vec![
            Row::new("Money")
                .panel(Panel::stat("Revenue").query(Self::REVENUE.increase()))
                .panel(Panel::stat("Tokens").query(Self::TOKENS.increase()))
                .panel(Panel::timeseries("Basket p95").query(Self::BASKET.quantile(0.95)))
                .panel(Panel::timeseries("Revenue per second").query(Self::REVENUE.rate())),
        ]
    }
}

#[test]
fn custom_units_map_to_grafanas() {
    let artefacts = Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe::<Money>()
        .generate()
        .expect("generate");
    // The set's panels are on its own dashboard (the overview holds the overview panels),
    // in rows that may be collapsed.
    let mut units: Vec<(String, String)> = Vec::new();
    for path in artefacts.paths() {
        if !path.starts_with("grafana/dashboards/") || path.ends_with("-overview.json") {
            continue;
        }
        let dashboard: serde_json::Value =
            serde_json::from_str(artefacts.get(path).expect("dashboard")).expect("json");
        let panels = dashboard["panels"].as_array().expect("panels");
        let nested = panels
            .iter()
            .flat_map(|panel| panel["panels"].as_array().into_iter().flatten());
        for panel in panels.iter().chain(nested) {
            if panel["type"] == "row" {
                continue;
            }
            units.push((
                panel["title"].as_str().expect("title").to_owned(),
                panel["fieldConfig"]["defaults"]["unit"]
                    .as_str()
                    .expect("unit")
                    .to_owned(),
            ));
        }
    }
    let expected = [
        ("Revenue", "currencyEUR"),
        ("Tokens", "short"),
        ("Basket p95", "currencyUSD"),
        // The heatmap every charted histogram gets, in the histogram's unit.
        ("shop_basket_usd heatmap", "currencyUSD"),
        ("Revenue per second", "ops"),
    ];
    assert_eq!(
        units,
        expected.map(|(title, unit)| (title.to_owned(), unit.to_owned()))
    );
}

/// The name of each group in `file`, as `(name, fingerprint)`.
fn groups(file: &str) -> Vec<(String, String)> {
    file.lines()
        .filter_map(|line| line.strip_prefix("  - name: \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter_map(|name| name.split_once('@'))
        .map(|(name, fingerprint)| (name.to_owned(), fingerprint.to_owned()))
        .collect()
}

#[test]
fn each_rule_group_carries_the_fingerprint_of_its_rules() {
    let artefacts = shop("shop").generate().expect("generate");
    let alerts = groups(artefacts.get("prometheus/alerts.yml").expect("alerts"));
    let names: Vec<&str> = alerts.iter().map(|(name, _)| name.as_str()).collect();
    // `shop.prometheus`: the target-health alerts and the Watchdog of every generation.
    assert_eq!(names, ["shop.app", "shop.prometheus", "shop.redis"]);
    for (_, fingerprint) in &alerts {
        assert_eq!(fingerprint.len(), 8, "{fingerprint}");
        assert!(
            fingerprint.chars().all(|c| c.is_ascii_hexdigit()),
            "{fingerprint}"
        );
    }
    let recording = groups(
        artefacts
            .get("prometheus/recording.yml")
            .expect("recording"),
    );
    assert_eq!(recording.len(), 1);
    assert_eq!(recording[0].0, "shop.recording");

    // The same declarations give the same fingerprints.
    let again = shop("shop").generate().expect("generate");
    assert_eq!(
        groups(again.get("prometheus/alerts.yml").expect("alerts")),
        alerts
    );

    // Tuning one alert of the Redis group changes that group's fingerprint only.
    let tuned = shop("shop")
        .tune("RedisHighMemoryUsage", |alert| {
            alert.condition.threshold = 0.5
        })
        .generate()
        .expect("generate");
    let tuned = groups(tuned.get("prometheus/alerts.yml").expect("alerts"));
    assert_eq!(tuned[..2], alerts[..2]);
    assert_eq!(tuned[2].0, "shop.redis");
    assert_ne!(tuned[2].1, alerts[2].1);

    // A different evaluation interval changes every group's.
    let faster = shop("shop")
        .interval(fiko_dashboards::seconds(5))
        .generate()
        .expect("generate");
    let faster = groups(faster.get("prometheus/alerts.yml").expect("alerts"));
    for (before, after) in alerts.iter().zip(&faster) {
        assert_eq!(before.0, after.0);
        assert_ne!(before.1, after.1);
    }
}
