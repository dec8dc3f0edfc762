//! The scale-out deployment: Prometheus replicas remote-writing into a shared store, rules
//! for its central ruler, checked by the real tools for every store preset, and the
//! rules' reduction over the replica label proven by `promtool test rules`.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

mod common;

use common::expr;

use fiko_dashboards::monitoring::{PrometheusServer, ScrapeTargets};
use fiko_dashboards_gen::{Artefacts, Error, Generator, ObservedSet, ScaleOut};
use fiko_metrics::{Histogram, MetricSet};
use fiko_metrics_axum::HttpServerMetrics;
use fiko_metrics_process::ProcessMetrics;
use fiko_testkit::{promtool, run_tool};

fn shop(scale_out: ScaleOut) -> Generator {
    Generator::new("shop")
        .runbook_base("https://wiki.example/runbooks")
        .observe::<HttpServerMetrics>()
        .observe::<ProcessMetrics>()
        .observe::<PrometheusServer>()
        .observe::<ScrapeTargets>()
        .scrape_app("web", "/metrics", &["web-1:8080", "web-2:8080"])
        .scrape("prometheus", "/metrics", &["localhost:9090"])
        .serves::<PrometheusServer>("prometheus")
        .scale_out(scale_out.replica_job("prometheus", &["prom-a:9090", "prom-b:9090"]))
}

fn presets() -> [(&'static str, ScaleOut); 4] {
    [
        ("mimir", ScaleOut::mimir("http://mimir:8080", "shop")),
        (
            "thanos",
            ScaleOut::thanos("http://receive:19291", "http://query:9090", "shop"),
        ),
        (
            "victoria-metrics",
            ScaleOut::victoria_metrics("http://vm:8428"),
        ),
        (
            "victoria-metrics cluster",
            ScaleOut::victoria_metrics_cluster("http://vminsert:8480", "http://vmselect:8481", "7"),
        ),
    ]
}

fn file<'a>(artefacts: &'a Artefacts, path: &str) -> &'a str {
    artefacts
        .get(path)
        .unwrap_or_else(|| panic!("{path} not generated"))
}

#[test]
fn every_preset_writes_replicas_and_rules_the_real_tools_accept() {
    for (preset, scale_out) in presets() {
        let artefacts = shop(scale_out).generate().expect("generate");
        let dir = tempfile::tempdir().expect("temp dir");
        artefacts.write_to(dir.path()).expect("write");
        let scale_out = dir.path().join("scale-out");
        for replica in ["a", "b"] {
            let config = format!("prometheus/{replica}.yml");
            for agent in [false, true] {
                let mut args = vec!["check", "config"];
                if agent {
                    args.push("--agent");
                }
                args.push(&config);
                let report = promtool::run_in(&scale_out, &args).expect("promtool");
                assert!(
                    report.success,
                    "{preset} {config} (agent: {agent}): {}",
                    report.text()
                );
            }
        }
        for rules in ["alerts.yml", "recording.yml"] {
            let path = format!("rules/{rules}");
            let report =
                promtool::run_in(&scale_out, &["check", "rules", &path]).expect("promtool");
            assert!(report.success, "{preset} {path}: {}", report.text());
            let report = run_tool(
                "vmalert",
                "victoria-metrics",
                &scale_out,
                &["-dryRun", &format!("-rule={path}")],
            )
            .expect("vmalert");
            assert!(report.success, "{preset} vmalert {path}: {}", report.text());
        }
    }
}

#[test]
fn each_preset_writes_its_store_s_endpoints_tenant_and_replica_label() {
    let [mimir, thanos, vm, vm_cluster] = presets().map(|(_, scale_out)| {
        shop(scale_out.cluster("eu-1"))
            .generate()
            .expect("generate")
    });
    let replica_a =
        |artefacts: &Artefacts| file(artefacts, "scale-out/prometheus/a.yml").to_owned();

    let config = replica_a(&mimir);
    assert!(
        config.contains("  external_labels:\n    cluster: \"eu-1\"\n    __replica__: \"a\"\n"),
        "{config}"
    );
    assert!(
        config.contains("  - url: \"http://mimir:8080/api/v1/push\"\n    headers:\n      X-Scope-OrgID: \"shop\"\n"),
        "{config}"
    );
    assert!(!config.contains("write_relabel_configs"), "{config}");
    let datasource = file(
        &mimir,
        "scale-out/grafana/provisioning/datasources/prometheus.yml",
    );
    assert!(
        datasource.contains("url: \"http://mimir:8080/prometheus\""),
        "{datasource}"
    );
    assert!(
        datasource.contains("httpHeaderName1: \"X-Scope-OrgID\"")
            && datasource.contains("httpHeaderValue1: \"shop\""),
        "{datasource}"
    );

    let config = replica_a(&thanos);
    assert!(config.contains("    replica: \"a\"\n"), "{config}");
    assert!(
        config.contains("  - url: \"http://receive:19291/api/v1/receive\"\n    headers:\n      THANOS-TENANT: \"shop\"\n"),
        "{config}"
    );

    // VictoriaMetrics: the replica's name is dropped on the way out, so both copies are
    // one series, which the store deduplicates.
    let config = replica_a(&vm);
    assert!(config.contains("    replica: \"a\"\n"), "{config}");
    assert!(
        config.contains("  - url: \"http://vm:8428/api/v1/write\"\n    write_relabel_configs:\n      - action: \"labeldrop\"\n        regex: \"replica\"\n"),
        "{config}"
    );
    assert!(!config.contains("headers:"), "{config}");
    let config = replica_a(&vm_cluster);
    assert!(
        config.contains("http://vminsert:8480/insert/7/prometheus/api/v1/write"),
        "{config}"
    );
    let datasource = file(
        &vm_cluster,
        "scale-out/grafana/provisioning/datasources/prometheus.yml",
    );
    assert!(
        datasource.contains("url: \"http://vmselect:8481/select/7/prometheus\""),
        "{datasource}"
    );
    let readme = file(&vm, "scale-out/README.md");
    assert!(
        readme.contains("victoria-metrics -dedup.minScrapeInterval=15s"),
        "{readme}"
    );
    assert!(
        readme.contains("-datasource.url=http://vm:8428 -remoteWrite.url=http://vm:8428 "),
        "{readme}"
    );

    for artefacts in [&mimir, &thanos, &vm, &vm_cluster] {
        for replica in ["a", "b"] {
            let config = file(artefacts, &format!("scale-out/prometheus/{replica}.yml"));
            // The replicas only scrape and ship: the ruler has the rules and Alertmanager.
            assert!(!config.contains("rule_files"), "{config}");
            assert!(!config.contains("alerting:"), "{config}");
            // Each scrapes every replica, so a dead one is reported by the other.
            assert!(
                config.contains("  - job_name: \"prometheus\"\n    metrics_path: \"/metrics\"\n    static_configs:\n      - targets:\n          - \"prom-a:9090\"\n          - \"prom-b:9090\"\n"),
                "{config}"
            );
            assert!(config.contains("          - \"web-1:8080\"\n          - \"web-2:8080\"\n"));
        }
    }
    // The single Prometheus keeps its own job as declared.
    let single = file(&vm, "prometheus/prometheus.yml");
    assert!(
        single.contains("          - \"localhost:9090\"\n"),
        "{single}"
    );
}

#[test]
fn the_ruler_s_rules_reduce_every_series_over_the_replica_label() {
    let vm = shop(ScaleOut::victoria_metrics("http://vm:8428"))
        .generate()
        .expect("generate");
    let single = file(&vm, "prometheus/alerts.yml");
    let central = file(&vm, "scale-out/rules/alerts.yml");
    assert_eq!(
        expr(single, "HighMemoryUsage"),
        "sum by (job, instance) (process_resident_memory_bytes{job=~\"shop-web\"}) > 1572864000"
    );
    assert_eq!(
        expr(central, "HighMemoryUsage"),
        "sum by (job, instance) (max without (replica) (process_resident_memory_bytes{job=~\"shop-web\"})) > 1572864000"
    );
    let recording = file(&vm, "scale-out/rules/recording.yml");
    assert!(
        recording.contains("(max without (replica) (rate("),
        "{recording}"
    );
    let mimir = shop(ScaleOut::mimir("http://mimir:8080", "shop"))
        .generate()
        .expect("generate");
    assert!(
        expr(
            file(&mimir, "scale-out/rules/alerts.yml"),
            "HighMemoryUsage"
        )
        .contains("max without (__replica__) (")
    );
}

/// Two replicas' copies of one app's request counter, 1500 requests per second each:
/// the ruler's HighRequestRate query says 1500, where the single Prometheus' query,
/// reading the same store, would say 3000.
#[test]
fn promtool_counts_two_replicas_copies_once() {
    let artefacts = shop(ScaleOut::thanos(
        "http://receive:19291",
        "http://query:9090",
        "shop",
    ))
    .generate()
    .expect("generate");
    let input = "      - series: 'http_server_requests_total{job=\"shop-web\", instance=\"web-1:8080\", http_route=\"/\", replica=\"a\"}'\n        values: '0+90000x20'\n      - series: 'http_server_requests_total{job=\"shop-web\", instance=\"web-1:8080\", http_route=\"/\", replica=\"b\"}'\n        values: '0+90000x20'\n";
    for (rules, value) in [
        ("scale-out/rules/alerts.yml", 1500),
        ("prometheus/alerts.yml", 3000),
    ] {
        let query = expr(file(&artefacts, rules), "HighRequestRate");
        let test = format!(
            "rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    promql_expr_test:\n      - expr: {}\n        eval_time: 10m\n        exp_samples:\n          - labels: '{{instance=\"web-1:8080\", job=\"shop-web\"}}'\n            value: {value}\n",
            serde_json::to_string(&query).expect("quote")
        );
        let report = promtool::run(&["test", "rules", "test.yml"], &[("test.yml", &test)])
            .expect("promtool");
        assert!(
            report.success,
            "{rules}: {query}\n{test}\n{}",
            report.text()
        );
    }
}

#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct Checkout {
    /// Checkout latency, native and classic.
    #[metric(native, buckets = [0.1, 0.5, 1.0])]
    checkout_duration_seconds: Histogram,
}

#[test]
fn a_store_without_native_histograms_gets_classic_queries_and_its_own_dashboards() {
    use fiko_dashboards::prelude::*;
    let generator = |scale_out: ScaleOut| {
        let mut checkout = ObservedSet::declared(Checkout::DESCRIPTOR);
        checkout.rows.push(
            Row::new("Checkout").panel(
                Panel::timeseries("Checkout p95")
                    .query(Checkout::CHECKOUT_DURATION_SECONDS.quantile(0.95)),
            ),
        );
        Generator::new("shop")
            .runbook_base("https://wiki.example/runbooks")
            .observe_set(checkout)
            .scrape_app("web", "/metrics", &["web:8080"])
            .scale_out(scale_out)
            .generate()
            .expect("generate")
    };
    let vm = generator(ScaleOut::victoria_metrics("http://vm:8428"));
    let dashboards = |prefix: &str| -> Vec<String> {
        vm.paths()
            .filter(|path| path.starts_with(prefix))
            .map(|path| file(&vm, path).to_owned())
            .collect()
    };
    let single = dashboards("grafana/dashboards/").concat();
    assert!(
        single.contains("(rate(shop_checkout_duration_seconds{")
            && !single.contains("shop_checkout_duration_seconds_bucket"),
        "{single}"
    );
    let central = dashboards("scale-out/grafana/dashboards/").concat();
    assert!(
        central.contains("(rate(shop_checkout_duration_seconds_bucket{"),
        "{central}"
    );
    // Mimir reads native histograms: the dashboards are the single Prometheus' ones.
    let mimir = generator(ScaleOut::mimir("http://mimir:8080", "shop"));
    assert!(
        !mimir
            .paths()
            .any(|path| path.starts_with("scale-out/grafana/dashboards/")),
        "{:?}",
        mimir.paths().collect::<Vec<_>>()
    );
}

#[test]
fn a_mistaken_scale_out_is_one_line_each() {
    let problems = |scale_out: ScaleOut| match shop(scale_out).generate() {
        Err(Error::Invalid(problems)) => problems,
        other => panic!("expected problems, got {other:?}"),
    };
    let found = problems(
        ScaleOut::victoria_metrics("vm:8428")
            .replicas(&["a", "a", "b c"])
            .cluster(""),
    );
    for expected in [
        "scale-out write url `vm:8428/api/v1/write`: not an absolute http(s) URL",
        "scale-out query url `vm:8428`: not an absolute http(s) URL",
        "scale-out replica `a`: named twice",
        "scale-out replica `b c`: use ASCII letters, digits, `-`, `_` or `.` (it names a file)",
        "scale-out cluster ``: use ASCII letters, digits, `-`, `_` or `.`",
    ] {
        assert!(
            found.iter().any(|p| p == expected),
            "{expected}\nin {found:#?}"
        );
    }
    let found = problems(ScaleOut::mimir("http://mimir", "shop").replicas(&[]));
    assert!(
        found
            .iter()
            .any(|p| p == "scale-out: no replica; name at least one (two for HA)"),
        "{found:#?}"
    );
    let found = match Generator::new("shop")
        .runbook_base("https://wiki.example/runbooks")
        .scale_out(ScaleOut::mimir("http://mimir", "shop").replica_job("prom", &["p:9090"]))
        .generate()
    {
        Err(Error::Invalid(problems)) => problems,
        other => panic!("expected problems, got {other:?}"),
    };
    assert!(
        found.iter().any(
            |p| p == "scale-out replica job `prom`: no scrape job of that name (`scrape(...)`)"
        ),
        "{found:#?}"
    );
}
