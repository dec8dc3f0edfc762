//! Against the real programs: the external declarations match what redis_exporter and
//! postgres_exporter expose, and the generated rules run in a real Prometheus.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fiko_dashboards::monitoring::ScrapeTargets;
use fiko_dashboards::seconds;
use fiko_dashboards_gen::Generator;
use fiko_metrics::{MetricSet, SetDescriptor};
use fiko_metrics_redis::RedisExporter;
use fiko_metrics_sqlx::PostgresExporter;
use fiko_testkit::{Postgres, Prometheus, Redis, http_get};
use serde_json::Value;

/// `# TYPE` of each family, and the label names of its samples.
fn exposition(text: &str) -> (BTreeMap<String, String>, BTreeMap<String, BTreeSet<String>>) {
    let mut types = BTreeMap::new();
    let mut labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                types.insert(name.to_owned(), kind.to_owned());
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = &line[..name_end];
            let mut names = BTreeSet::new();
            if line[name_end..].starts_with('{') {
                // label="value",... up to the closing brace; values may hold commas.
                let body = &line[name_end + 1..line.rfind('}').unwrap_or(line.len())];
                let mut rest = body;
                while let Some(eq) = rest.find("=\"") {
                    names.insert(rest[..eq].trim_start_matches(',').to_owned());
                    let mut end = eq + 2;
                    let bytes = rest.as_bytes();
                    while end < bytes.len() && !(bytes[end] == b'"' && bytes[end - 1] != b'\\') {
                        end += 1;
                    }
                    rest = &rest[(end + 1).min(rest.len())..];
                }
            }
            labels.entry(name.to_owned()).or_default().extend(names);
        }
    }
    (types, labels)
}

fn assert_declared_as_exposed(set: &SetDescriptor, text: &str) {
    let (types, labels) = exposition(text);
    for metric in set.metrics {
        let exposed_type = types.get(metric.name).unwrap_or_else(|| {
            panic!(
                "{} is not exposed; exposed: {:?}",
                metric.name,
                types.keys()
            )
        });
        assert_eq!(exposed_type, metric.kind.as_str(), "{}", metric.name);
        let declared: BTreeSet<String> = metric.labels.iter().map(|l| l.name.to_owned()).collect();
        let seen = labels
            .get(metric.name)
            .unwrap_or_else(|| panic!("{} has no samples", metric.name));
        assert_eq!(seen, &declared, "labels of {}", metric.name);
    }
}

#[test]
fn redis_exporter_exposes_what_redis_exporter_set_declares() {
    let redis = Redis::start().expect("redis-server");
    let exporter = fiko_testkit::RedisExporter::start(&redis.url()).expect("redis_exporter");
    let text = http_get(&exporter.metrics_url()).expect("scrape").body;
    assert!(text.contains("redis_up 1"), "{text}");
    assert!(text.contains("redis_memory_max_bytes 0"), "{text}");
    assert_declared_as_exposed(RedisExporter::DESCRIPTOR, &text);
}

#[test]
fn postgres_exporter_exposes_what_postgres_exporter_set_declares() {
    let postgres = Postgres::start().expect("postgres");
    let exporter =
        fiko_testkit::PostgresExporter::start(&postgres.url()).expect("postgres_exporter");
    let text = http_get(&exporter.metrics_url()).expect("scrape").body;
    assert!(text.contains("pg_up 1"), "{text}");
    assert_declared_as_exposed(PostgresExporter::DESCRIPTOR, &text);
}

fn result(prometheus: &Prometheus, promql: &str) -> Vec<Value> {
    let body = prometheus
        .query(promql)
        .unwrap_or_else(|e| panic!("{promql}: {e}"));
    let json: Value = serde_json::from_str(&body).expect("json");
    json["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn wait_for(prometheus: &Prometheus, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; prometheus log:\n{}",
            prometheus.log_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Generated config, alert and recording rules loaded into a real Prometheus scraping a
/// real redis_exporter: with no maxmemory the memory alert's ratio is empty (no division
/// by zero), recording rules produce series, and stopping Redis fires RedisDown.
#[test]
fn generated_rules_run_in_prometheus_against_a_real_exporter() {
    let mut redis = Redis::start().expect("redis-server");
    let exporter = fiko_testkit::RedisExporter::start(&redis.url()).expect("redis_exporter");
    let target = exporter
        .metrics_url()
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let mut generator = Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe::<RedisExporter>()
        .observe::<ScrapeTargets>()
        .interval(seconds(1))
        .scrape("redis", "/metrics", &[&target])
        .tune("RedisDown", |alert| {
            alert.set_for(seconds(0));
        });
    generator.settings_mut().alertmanagers.clear();
    let artefacts = generator.generate().expect("generate");
    let file = |path: &str| artefacts.get(path).expect(path).to_owned();
    let prometheus = Prometheus::start(
        &file("prometheus/prometheus.yml"),
        &[
            ("alerts.yml", &file("prometheus/alerts.yml")),
            ("recording.yml", &file("prometheus/recording.yml")),
        ],
    )
    .expect("prometheus");

    wait_for(&prometheus, "redis_up == 1", || {
        !result(&prometheus, "redis_up == 1").is_empty()
    });
    wait_for(&prometheus, "a recorded rate", || {
        !result(&prometheus, "job_instance:redis_keyspace_hits:rate5m").is_empty()
    });
    // No maxmemory: redis_memory_max_bytes is 0 and the ratio has no result at all.
    assert_eq!(
        result(&prometheus, "redis_memory_max_bytes")[0]["value"][1],
        "0"
    );
    let alerts = file("prometheus/alerts.yml");
    let memory_expr = alerts
        .lines()
        .skip_while(|line| !line.contains("RedisHighMemoryUsage"))
        .find_map(|line| line.trim().strip_prefix("expr: "))
        .map(|quoted| serde_json::from_str::<String>(quoted).expect("quoted"))
        .expect("memory alert expr");
    let ratio_only = memory_expr.trim_end_matches(" > 0.9");
    assert!(result(&prometheus, ratio_only).is_empty(), "{ratio_only}");
    // Only the Watchdog, which always fires by design.
    assert!(result(&prometheus, r#"ALERTS{alertname!="Watchdog"}"#).is_empty());

    redis.stop();
    wait_for(&prometheus, "RedisDown firing", || {
        result(
            &prometheus,
            r#"ALERTS{alertname="RedisDown", alertstate="firing"}"#,
        )
        .first()
        .is_some_and(|alert| {
            alert["metric"]["severity"] == "critical" && alert["metric"]["service"] == "redis"
        })
    });
}
