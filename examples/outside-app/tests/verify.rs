//! `monitoring --verify` against a real Prometheus scraping the shop's real router: a
//! healthy deployment reports no problem; then each problem is made for real — a job's
//! target not running, the application's job renamed in the scrape config, a rule file
//! from an older declaration loaded, an old label value written by an older build of a
//! set — and the report names exactly that problem, in both formats, with the exit code;
//! also through VictoriaMetrics, vmalert and vmauth, and with a server refusing queries.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fiko_dashboards::monitoring::ScrapeTargets;
use fiko_dashboards_gen::Generator;
use fiko_metrics::{Counter, Family, Format, LabelSet, LabelValue, MetricSet, Registry};
use fiko_metrics_axum::HttpServerMetrics;

use common::{
    APP_ALERTS, Child, PANEL_QUERIES, QUERIES, RECORDING_RULES, Shop, assert_report,
    assert_report_at, generated, generated_alerts, monitoring, post, prometheus, prometheus_of,
    read, serve, start_server, text, verify_until,
};

/// The shop's metrics as an older build declared them: orders could also be declined.
mod old_build {
    use super::*;

    /// Orders and checkouts.
    #[derive(MetricSet)]
    #[metric_set(namespace = "shop")]
    pub(crate) struct ShopMetrics {
        /// Orders, by outcome.
        pub(crate) orders: Family<OrderLabels, Counter>,
    }

    /// The labels of [`ShopMetrics::orders`].
    #[derive(LabelSet)]
    pub(crate) struct OrderLabels {
        /// How the order ended.
        pub(crate) outcome: Outcome,
    }

    /// How an order ended.
    #[derive(LabelValue)]
    pub(crate) enum Outcome {
        /// Paid.
        Paid,
        /// Payment refused.
        Failed,
        /// Refused before payment (no longer declared).
        Declined,
    }
}

/// The shop as an older build ran it: only its old `ShopMetrics`.
fn old_build() -> SocketAddr {
    let registry = Arc::new(Registry::new());
    old_build::ShopMetrics::register(&registry).unwrap();
    let router = axum::Router::new().route(
        "/api/v1/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move { registry.encode(Format::Prometheus) }
        }),
    );
    serve(router)
}

#[test]
fn a_refused_payment_is_a_502() {
    let shop = Shop::start(true);
    assert_eq!(
        post(shop.address, "/checkout", "0").unwrap(),
        "HTTP/1.0 502 Bad Gateway"
    );
    assert_eq!(
        post(shop.address, "/checkout", "").unwrap(),
        "HTTP/1.0 200 OK"
    );
}

#[test]
fn a_healthy_deployment_reports_no_problem() {
    let shop = Shop::start(true);
    let (dir, alerts) = generated_alerts();
    let prometheus = prometheus_of(dir.path(), &[shop.address.to_string()], &alerts);
    assert_report(&prometheus, &[], 0);
    // The JSON has every job and group, as found.
    let output = verify_until(&prometheus.url(), &["--format", "json"], &|_| true);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        document["jobs"],
        serde_json::json!([
            { "job": "shop-web", "targets": 1, "down": [] },
            { "job": "prometheus", "targets": 1, "down": [] },
        ])
    );
    let groups = document["groups"].as_array().unwrap();
    let names: Vec<&str> = groups
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["shop.app", "shop.prometheus", "shop.shop", "shop.recording"]
    );
    for group in groups {
        assert_eq!(group["loaded"], serde_json::json!([group["fingerprint"]]));
        assert_eq!(group["interval_seconds"], 1.0);
        let took = group["evaluation_seconds"].as_f64().unwrap();
        assert!(took > 0.0 && took < 1.0, "{group}");
    }
}

#[test]
fn a_job_whose_target_is_not_running_is_down() {
    let shop = Shop::start(true);
    let (dir, alerts) = generated_alerts();
    // Prometheus' own job scrapes an address where nothing runs.
    let prometheus = prometheus(
        dir.path(),
        &[shop.address.to_string()],
        |config| config.replace("\"localhost:9090\"", "\"127.0.0.1:1\""),
        &alerts,
    );
    assert_report(
        &prometheus,
        &[(
            "job-down",
            "job `prometheus`",
            "1 of 1 target(s) down: 127.0.0.1:1",
        )],
        1,
    );
}

#[test]
fn a_job_renamed_in_the_scrape_config_is_absent() {
    let shop = Shop::start(true);
    let (dir, alerts) = generated_alerts();
    let prometheus = prometheus(
        dir.path(),
        &[shop.address.to_string()],
        |config| config.replace("job_name: \"shop-web\"", "job_name: \"shop-frontend\""),
        &alerts,
    );
    // The alerts select the shop's job, so they have no data either (reported, not
    // failing).
    let no_data = |alert| ("no-data", alert, "no data in the last 1m");
    let problems = [
        (
            "job-absent",
            "job `shop-web`",
            "no target of this job in `up` (jobs not generated: shop-frontend)",
        ),
        no_data("alert `CheckoutFailures`"),
        no_data("alert `HighErrorRate`"),
        no_data("alert `HighRequestRate`"),
        no_data("alert `HighResponseTime`"),
    ];
    assert_report(&prometheus, &problems, 1);
    // Not failing on it: reported, exit 0.
    let output = verify_until(&prometheus.url(), &["--fail-on", "none"], &|_| true);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        text(&output.stdout).ends_with("5 problem(s), 0 failing (--fail-on none)\n"),
        "{}",
        text(&output.stdout)
    );
}

/// `(name, fingerprint)` of each group of a rule file.
fn groups(file: &str) -> Vec<(String, String)> {
    file.lines()
        .filter_map(|line| line.strip_prefix("  - name: \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter_map(|name| name.split_once('@'))
        .map(|(name, fingerprint)| (name.to_owned(), fingerprint.to_owned()))
        .collect()
}

/// The shop's generator as `src/bin/monitoring.rs` builds it, evaluating every second:
/// the sets `outside_app::register_metrics` registers, read from a registry of their own
/// (this process' default registry also has what the served router registered).
fn shop_generator() -> Generator {
    let registry = Registry::new();
    registry.get_or_register::<outside_app::ShopMetrics>();
    registry.get_or_register::<outside_app::PaymentMetrics>();
    registry.get_or_register::<HttpServerMetrics>();
    registry.get_or_register::<fiko_metrics::calls::FunctionMetrics>();
    Generator::new("shop")
        .runbook_base("https://runbooks.example/")
        .observe_registered(&registry)
        .observe::<ScrapeTargets>()
        .customize::<HttpServerMetrics>(|set| {
            set.threshold("HighErrorRate", 0.1)
                .drop_panel("HTTP", "Response body size p95 by route")
        })
        .scrape_app("web", "/api/v1/metrics", &["web:8080"])
        .scrape("prometheus", "/metrics", &["localhost:9090"])
        .interval(fiko_dashboards::seconds(1))
}

#[test]
fn a_rule_file_from_an_older_declaration_is_stale() {
    let shop = Shop::start(true);
    let (dir, current) = generated_alerts();
    let same = shop_generator().generate().unwrap();
    assert_eq!(same.get("prometheus/alerts.yml"), Some(current.as_str()));
    // The rules of a build whose CheckoutFailures alert fired at 20%.
    let older = shop_generator()
        .tune("CheckoutFailures", |alert| alert.condition.threshold = 0.2)
        .generate()
        .unwrap();
    let older = older.get("prometheus/alerts.yml").unwrap().to_owned();
    let (now, then) = (groups(&current), groups(&older));
    assert_eq!(now[0], then[0], "only the shop group differs");
    assert_eq!(now[1], then[1], "only the shop group differs");
    assert_eq!(
        (now[2].0.as_str(), then[2].0.as_str()),
        ("shop.shop", "shop.shop")
    );
    let prometheus = prometheus_of(dir.path(), &[shop.address.to_string()], &older);
    let detail = format!(
        "loaded version {}, the declarations give {} (deploy the regenerated alerts.yml)",
        then[2].1, now[2].1
    );
    assert_report(
        &prometheus,
        &[("group-stale", "group `shop.shop`", &detail)],
        1,
    );
    let output = verify_until(&prometheus.url(), &["--format", "json"], &|_| true);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let shop = &document["groups"][2];
    assert_eq!(shop["group"], "shop.shop");
    assert_eq!(shop["fingerprint"], now[2].1.as_str());
    assert_eq!(shop["loaded"], serde_json::json!([then[2].1]));
    assert_eq!(shop["evaluation_seconds"], serde_json::Value::Null);
}

#[test]
fn an_old_label_value_written_by_an_older_build_is_label_drift() {
    let shop = Shop::start(true);
    let older = old_build();
    let (dir, alerts) = generated_alerts();
    // The older build still runs as a second instance of the shop's job.
    let prometheus = prometheus_of(
        dir.path(),
        &[shop.address.to_string(), older.to_string()],
        &alerts,
    );
    assert_report(
        &prometheus,
        &[(
            "label-drift",
            "label `outcome` of `shop_orders`",
            "stored series carry undeclared value(s) declined (declared: paid, failed)",
        )],
        1,
    );
}

#[test]
fn nothing_to_ask_is_exit_3_and_a_bad_option_exit_2() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let output = monitoring(&["--verify", &url]);
    assert_eq!(output.status.code(), Some(3));
    let error = text(&output.stderr);
    assert!(
        error.starts_with(&format!(
            "monitoring: cannot verify: {url}/api/v1/query: cannot connect: "
        )),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(output.stdout.is_empty());

    // A server that is not a Prometheus API.
    let shop = Shop::start(true);
    let output = monitoring(&["--verify", &format!("http://{}", shop.address)]);
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        text(&output.stderr),
        format!(
            "monitoring: cannot verify: http://{}/api/v1/query: status 404, not a Prometheus API answer: \"\"\n",
            shop.address
        )
    );

    let output = monitoring(&["--verify", &url, "--fail-on", "down"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr),
        "monitoring: invalid value 'down' for '--fail-on <CLASSES>': unknown problem class `down` (use job-absent, job-down, group-missing, group-stale, group-slow, missing-metric, not-recorded, no-data, query-error, label-drift, firing, all, none or default)\n"
    );
    let output = monitoring(&["--verify", &url, "--lookback", "5 minutes"]);
    assert_eq!(output.status.code(), Some(2));
    let output = monitoring(&["--lookback", "5m"]);
    assert_eq!(output.status.code(), Some(2), "--lookback needs --verify");
    let missing = monitoring(&[
        "--verify",
        &url,
        "--bearer-token-file",
        "/nonexistent/token",
    ]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(
        text(&missing.stderr)
            .starts_with("monitoring: /nonexistent/token: cannot read the token file: "),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn an_application_not_running_leaves_every_query_on_its_metrics_missing() {
    let (dir, alerts) = generated_alerts();
    // The shop's job scrapes an address where nothing runs: no target exposes its metrics.
    let prometheus = prometheus_of(dir.path(), &["127.0.0.1:1".to_owned()], &alerts);
    // Settled: both jobs scraped once (the shop's down, not merely not scraped yet),
    // Prometheus' own `up` stored.
    let settled = |out: &str| {
        let Ok(document) = serde_json::from_str::<serde_json::Value>(out) else {
            return false;
        };
        let problems = document["problems"].as_array().cloned().unwrap_or_default();
        let items: Vec<&str> = problems.iter().filter_map(|p| p["item"].as_str()).collect();
        problems
            .iter()
            .any(|p| p["item"] == "job `shop-web`" && p["class"] == "job-down")
            && !items.contains(&"job `prometheus`")
            && !items.contains(&"panel `Scrape targets up`")
    };
    let output = verify_until(&prometheus.url(), &["--format", "json"], &settled);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let problems = document["problems"].as_array().unwrap();
    let of = |class: &str| -> Vec<&str> {
        problems
            .iter()
            .filter(|p| p["class"] == class)
            .map(|p| p["item"].as_str().unwrap())
            .collect()
    };
    assert_eq!(of("job-down"), ["job `shop-web`"]);
    // Every query but the one on Prometheus' own `up` and the health alerts' names a
    // metric nobody exposes.
    let on_the_shop = PANEL_QUERIES - 1 + APP_ALERTS + RECORDING_RULES;
    assert_eq!(of("missing-metric").len(), on_the_shop, "{problems:#?}");
    assert!(!of("missing-metric").contains(&"panel `Scrape targets up`"));
    let orders = problems
        .iter()
        .find(|p| p["item"] == "panel `Orders by outcome`")
        .unwrap();
    assert_eq!(
        orders["detail"],
        "no series in the last 1m and no target exposes it: shop_orders_total"
    );
    assert_eq!(problems.len(), 1 + on_the_shop, "{problems:#?}");
}

/// VictoriaMetrics on a free port scraping with the generated config in `dir` (the shop's
/// job at `shop`, its own `prometheus` job at itself), its files in `dir/vm`, with `extra`
/// flags; the server, its address and its folder.
fn victoria_metrics(dir: &Path, shop: SocketAddr, extra: &[&str]) -> (Child, String, PathBuf) {
    let address = format!("127.0.0.1:{}", fiko_testkit::free_port());
    let config = read(dir, "prometheus/prometheus.yml")
        .replace("\"web:8080\"", &format!("\"{shop}\""))
        .replace("localhost:9090", &address);
    let files = dir.join("vm");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("prometheus.yml"), config).unwrap();
    let path = |name: &str| files.join(name).display().to_string();
    let mut args = vec![
        format!("-httpListenAddr={address}"),
        format!("-storageDataPath={}", path("data")),
        format!("-promscrape.config={}", path("prometheus.yml")),
        // The generated config also holds Prometheus' rule_files and alerting.
        "-promscrape.config.strictParse=false".to_owned(),
        // Query what was just scraped.
        "-search.latencyOffset=0s".to_owned(),
    ];
    args.extend(extra.iter().map(|flag| (*flag).to_owned()));
    let server = start_server(
        "victoria-metrics",
        &args,
        &address,
        &files.join("victoria.log"),
    );
    (server, address, files)
}

#[test]
fn victoriametrics_with_vmalert_and_vmauth_serve_the_same_checks() {
    let shop = Shop::start(true);
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), &[]);
    // VictoriaMetrics scraping with the generated config, vmalert evaluating rules of an
    // older declaration (the CheckoutFailures threshold was 20%) into it.
    let older = shop_generator()
        .tune("CheckoutFailures", |alert| alert.condition.threshold = 0.2)
        .generate()
        .unwrap();
    let (now, then) = (
        groups(&read(dir.path(), "prometheus/alerts.yml")),
        groups(older.get("prometheus/alerts.yml").unwrap()),
    );
    // VictoriaMetrics scrapes itself as the `prometheus` job.
    let (_victoria, vm_address, files) = victoria_metrics(dir.path(), shop.address, &[]);
    let path = |name: &str| files.join(name).display().to_string();
    std::fs::write(
        files.join("alerts.yml"),
        older.get("prometheus/alerts.yml").unwrap(),
    )
    .unwrap();
    std::fs::write(
        files.join("recording.yml"),
        read(dir.path(), "prometheus/recording.yml"),
    )
    .unwrap();
    let vmalert_address = format!("127.0.0.1:{}", fiko_testkit::free_port());
    let _vmalert = start_server(
        "vmalert",
        &[
            format!("-rule={}", path("alerts.yml")),
            format!("-rule={}", path("recording.yml")),
            format!("-datasource.url=http://{vm_address}"),
            format!("-remoteWrite.url=http://{vm_address}"),
            "-notifier.url=http://127.0.0.1:1".to_owned(),
            format!("-httpListenAddr={vmalert_address}"),
            "-evaluationInterval=1s".to_owned(),
        ],
        &vmalert_address,
        &files.join("vmalert.log"),
    );
    let detail = format!(
        "loaded version {}, the declarations give {} (deploy the regenerated alerts.yml)",
        then[2].1, now[2].1
    );
    assert_report_at(
        &format!("http://{vm_address}"),
        &format!("http://{vmalert_address}"),
        &[],
        &[("group-stale", "group `shop.shop`", &detail)],
        1,
    );

    // The same query API behind vmauth, which wants a bearer token.
    let token = "verify-token-0123456789abcdef";
    std::fs::write(path("token"), format!("{token}\n")).unwrap();
    std::fs::write(
        path("auth.yml"),
        format!("users:\n  - bearer_token: \"{token}\"\n    url_prefix: \"http://{vm_address}\"\n"),
    )
    .unwrap();
    let vmauth_address = format!("127.0.0.1:{}", fiko_testkit::free_port());
    let _vmauth = start_server(
        "vmauth",
        &[
            format!("-auth.config={}", path("auth.yml")),
            format!("-httpListenAddr={vmauth_address}"),
        ],
        &vmauth_address,
        &files.join("vmauth.log"),
    );
    let token_file = path("token");
    assert_report_at(
        &format!("http://{vmauth_address}"),
        &format!("http://{vmalert_address}"),
        &["--bearer-token-file", &token_file],
        &[("group-stale", "group `shop.shop`", &detail)],
        1,
    );
    let refused = monitoring(&[
        "--verify",
        &format!("http://{vmauth_address}"),
        "--rules-url",
        &format!("http://{vmalert_address}"),
    ]);
    assert_eq!(refused.status.code(), Some(3));
    let error = text(&refused.stderr);
    assert!(
        error.starts_with(&format!(
            "monitoring: cannot verify: http://{vmauth_address}/api/v1/query: status 401, not a Prometheus API answer: "
        )),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
}

#[test]
fn queries_the_server_refuses_are_query_errors() {
    let shop = Shop::start(true);
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), &[]);
    // A VictoriaMetrics that refuses range queries of more than 10 points a series; no
    // vmalert, so no rule group is loaded.
    let (_victoria, vm_address, _) = victoria_metrics(
        dir.path(),
        shop.address,
        &["-search.maxPointsPerTimeseries=10"],
    );
    let url = format!("http://{vm_address}");
    let classes = |out: &str| -> Vec<String> {
        serde_json::from_str::<serde_json::Value>(out)
            .ok()
            .and_then(|document| document["problems"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p["class"].as_str().map(str::to_owned))
            .collect()
    };
    // Settled: both jobs scraped (no job problem), every query refused.
    let settled = |out: &str| {
        let classes = classes(out);
        !classes.iter().any(|c| c.starts_with("job-"))
            && classes.iter().filter(|c| *c == "query-error").count() == QUERIES
    };
    let output = verify_until(&url, &["--format", "json"], &settled);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let out = text(&output.stdout);
    let mut counts = std::collections::BTreeMap::new();
    for class in classes(&out) {
        *counts.entry(class).or_insert(0) += 1;
    }
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [
            ("group-missing".to_owned(), 4),
            ("query-error".to_owned(), QUERIES)
        ],
        "{out}"
    );
    let document: serde_json::Value = serde_json::from_str(&out).unwrap();
    let problems = document["problems"].as_array().unwrap();
    let rate = problems
        .iter()
        .find(|p| p["item"] == "panel `Request rate`")
        .unwrap();
    let detail = rate["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("status 422: error when executing query=")
            && detail.ends_with("cannot exceed -search.maxPointsPerTimeseries=10"),
        "{detail}"
    );
    let app = problems
        .iter()
        .find(|p| p["item"] == "group `shop.app`")
        .unwrap();
    assert!(
        app["detail"]
            .as_str()
            .unwrap()
            .starts_with("not loaded (expected `shop.app@"),
        "{app}"
    );
}
