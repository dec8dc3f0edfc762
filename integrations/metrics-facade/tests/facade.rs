//! `metrics` facade calls — from a real third-party library (tokio-metrics' runtime
//! reporter) and from direct macro calls — exposed by a fiko-metrics registry.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::panic)]

use std::sync::Arc;

use fiko_metrics::histogram::Buckets;
use fiko_metrics::{Format, MetricSet, Registry, testing};
use fiko_metrics_facade::discovered::{DiscoveredKind, DiscoveredMetrics};
use fiko_metrics_facade::{FacadeRecorder, NamePattern, Reason};

/// Runs the real `promtool check metrics` on `text`: (passed, everything it said).
fn promtool_check(text: &str) -> (bool, String) {
    let report =
        fiko_testkit::promtool::check_metrics(text).unwrap_or_else(|error| panic!("{error}"));
    (report.success, report.text())
}

/// promtool's lint also flags style (units in names, counters without `_total`); only
/// real errors — the ones it reports as "error while linting" — fail.
fn assert_promtool_accepts(text: &str) {
    let (ok, report) = promtool_check(text);
    assert!(
        ok || !report.contains("error while linting"),
        "promtool check metrics failed:\n{report}\n--- exposition ---\n{text}"
    );
}

/// The value of the sample `series` (name and labels exactly as exposed) in a scrape.
fn sample(text: &str, series: &str) -> f64 {
    testing::series_value(text, series)
        .unwrap_or_else(|error| panic!("{error}\n{text}"))
        .unwrap_or_else(|| panic!("no sample `{series}` in:\n{text}"))
}

fn lines_starting(text: &str, prefix: &str) -> usize {
    text.lines().filter(|line| line.starts_with(prefix)).count()
}

#[test]
fn a_third_party_library_records_through_the_facade_beside_declared_sets() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let registry = Arc::new(Registry::new());
    // A declared set that also exposes `tokio_global_queue_depth`: registered first, it
    // keeps the name.
    fiko_metrics_tokio::register(&registry, "main", runtime.handle().clone()).expect("registers");
    let recorder = FacadeRecorder::new(registry.clone()).expect("builds");
    let handle = recorder.handle();

    metrics::with_local_recorder(&recorder, || {
        let _entered = runtime.enter();
        let mut reporter = tokio_metrics::RuntimeMetricsReporterBuilder::default()
            .describe()
            .build();
        runtime.block_on(async {
            tokio::spawn(async {}).await.expect("a task runs");
        });
        reporter.run_once();
        reporter.run_once();
    });

    let text = registry.encode(Format::Prometheus);
    assert_eq!(sample(&text, "tokio_workers_count"), 2.0, "{text}");
    assert!(
        text.contains(
            "# HELP tokio_workers_count The number of worker threads used by the runtime\n"
        ),
        "describe_gauge! gives HELP:\n{text}"
    );
    assert!(
        text.contains("# TYPE tokio_total_busy_duration_total counter\n"),
        "a facade counter is a counter:\n{text}"
    );
    assert!(
        text.contains("# HELP tokio_total_busy_duration_total The amount of time worker threads were busy (unit: microseconds)\n"),
        "a unit that is not the name's suffix stays in HELP:\n{text}"
    );

    // The name conflict: exposed once, by the declared set; the facade's calls counted.
    assert_eq!(
        lines_starting(&text, "# TYPE tokio_global_queue_depth "),
        1,
        "{text}"
    );
    assert_eq!(
        lines_starting(&text, "tokio_global_queue_depth{"),
        1,
        "{text}"
    );
    assert_eq!(
        lines_starting(&text, "tokio_global_queue_depth "),
        0,
        "{text}"
    );
    assert!(
        handle
            .refused()
            .contains(&("tokio_global_queue_depth".to_owned(), Reason::Conflict)),
        "{:?}",
        handle.refused()
    );
    assert!(
        sample(
            &text,
            r#"fiko_metrics_facade_rejected_calls_total{metric="tokio_global_queue_depth",reason="conflict"}"#
        ) >= 1.0
    );
    assert_promtool_accepts(&text);
    let (_, report) = promtool_check(&text);
    assert!(!report.contains("error"), "{report}");
}

#[test]
fn counts_are_exact_under_two_threads() {
    let registry = Arc::new(Registry::new());
    let recorder = FacadeRecorder::builder()
        .buckets(
            NamePattern::Suffix("_seconds".into()),
            Buckets::new(vec![0.001, 0.01, 0.1]).expect("buckets"),
        )
        .build(registry.clone())
        .expect("builds");
    const CALLS: u64 = 100_000;
    std::thread::scope(|scope| {
        for queue in ["mail", "sms"] {
            let recorder = &recorder;
            scope.spawn(move || {
                metrics::with_local_recorder(recorder, || {
                    // A handle kept across calls, as instrumented libraries do...
                    let shared = metrics::counter!("jobs.done", "queue" => "all");
                    for i in 0..CALLS {
                        shared.increment(1);
                        // ...and a macro call every time, labels in either order.
                        if i % 2 == 0 {
                            metrics::counter!("jobs.done", "queue" => queue, "kind" => "x")
                                .increment(1);
                        } else {
                            metrics::counter!("jobs.done", "kind" => "x", "queue" => queue)
                                .increment(1);
                        }
                        metrics::histogram!("job.duration_seconds").record(0.005);
                        metrics::gauge!("jobs.in_flight").increment(1.0);
                        metrics::gauge!("jobs.in_flight").decrement(1.0);
                    }
                });
            });
        }
    });
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(&text, r#"jobs_done_total{queue="all"}"#),
        2.0 * CALLS as f64
    );
    for queue in ["mail", "sms"] {
        assert_eq!(
            sample(
                &text,
                &format!(r#"jobs_done_total{{kind="x",queue="{queue}"}}"#)
            ),
            CALLS as f64,
            "{text}"
        );
    }
    assert_eq!(lines_starting(&text, "jobs_done_total{"), 3, "{text}");
    assert_eq!(
        sample(&text, "job_duration_seconds_count"),
        2.0 * CALLS as f64
    );
    assert_eq!(
        sample(&text, r#"job_duration_seconds_bucket{le="+Inf"}"#),
        2.0 * CALLS as f64
    );
    assert_eq!(
        sample(&text, r#"job_duration_seconds_bucket{le="0.001"}"#),
        0.0
    );
    assert_eq!(
        sample(&text, r#"job_duration_seconds_bucket{le="0.01"}"#),
        2.0 * CALLS as f64
    );
    assert_eq!(sample(&text, "jobs_in_flight"), 0.0);
    assert_promtool_accepts(&text);
}

#[test]
fn cardinality_is_bounded_by_series_and_metric_limits() {
    let registry = Arc::new(Registry::new());
    let recorder = FacadeRecorder::builder()
        .max_series(10)
        .max_metrics(5)
        .build(registry.clone())
        .expect("builds");
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        for user in 0..1000 {
            metrics::counter!("logins", "user" => user.to_string()).increment(1);
        }
        for metric in 0..20 {
            metrics::gauge!(format!("scratch_{metric}")).set(1.0);
        }
    });
    let text = registry.encode(Format::Prometheus);
    // Ten values, then everything else in `other`; no login lost, every fold counted.
    assert_eq!(lines_starting(&text, "logins_total{"), 11, "{text}");
    assert_eq!(sample(&text, r#"logins_total{user="other"}"#), 990.0);
    let samples = testing::samples(&text).expect("a valid scrape");
    assert_eq!(testing::sum(&samples, "logins_total", &[]), 1000.0);
    assert_eq!(
        sample(
            &text,
            r#"fiko_metrics_label_overflow_total{metric="logins"}"#
        ),
        990.0
    );
    // `logins` and four gauges: the limit of five names.
    assert_eq!(lines_starting(&text, "scratch_"), 4, "{text}");
    let refused: f64 = (4..20)
        .map(|metric| {
            sample(
                &text,
                &format!(
                    r#"fiko_metrics_facade_rejected_calls_total{{metric="scratch_{metric}",reason="too_many_metrics"}}"#
                ),
            )
        })
        .sum();
    assert_eq!(refused, 16.0);
    assert!(
        handle.refused().is_empty(),
        "names past the limit are not remembered"
    );
    assert_promtool_accepts(&text);
}

#[test]
fn histogram_buckets_follow_name_patterns() {
    let registry = Arc::new(Registry::new());
    let buckets = |bounds: &[f64]| Buckets::new(bounds.to_vec()).expect("buckets");
    let recorder = FacadeRecorder::builder()
        .buckets(
            NamePattern::Suffix("_bytes".into()),
            buckets(&[100.0, 1000.0]),
        )
        .buckets(NamePattern::Prefix("db.".into()), buckets(&[0.5]))
        .buckets(NamePattern::Prefix("db_".into()), buckets(&[0.25]))
        .buckets(
            NamePattern::Exact("db_query_seconds".into()),
            buckets(&[7.0]),
        )
        .build(registry.clone())
        .expect("builds");
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("body_bytes").record(500.0);
        metrics::histogram!("db.pool.wait_seconds").record(0.1);
        metrics::histogram!("db.query_seconds").record(0.1);
        metrics::histogram!("other_seconds").record(0.1);
    });
    let text = registry.encode(Format::Prometheus);
    let samples = testing::samples(&text).expect("a valid scrape");
    let bounds = |name: &str| -> Vec<String> {
        testing::find(&samples, &format!("{name}_bucket"), &[])
            .iter()
            .filter_map(|sample| sample.label("le"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(bounds("body_bytes"), ["100.0", "1000.0", "+Inf"]);
    // Patterns match the exposed name (`.` is `_` by then): `db.` matches nothing.
    assert_eq!(bounds("db_pool_wait_seconds"), ["0.25", "+Inf"]);
    assert_eq!(
        bounds("db_query_seconds"),
        ["7.0", "+Inf"],
        "exact beats prefix"
    );
    assert_eq!(
        bounds("other_seconds").len(),
        12,
        "the runtime's defaults and +Inf"
    );
    assert_eq!(sample(&text, r#"body_bytes_bucket{le="1000.0"}"#), 1.0);
    assert_eq!(sample(&text, r#"body_bytes_bucket{le="100.0"}"#), 0.0);
}

#[test]
fn describe_gives_help_and_unit_even_after_first_use() {
    let registry = Arc::new(Registry::new());
    let recorder = FacadeRecorder::new(registry.clone()).expect("builds");
    metrics::with_local_recorder(&recorder, || {
        metrics::histogram!("rpc.latency_seconds").record(0.2);
        metrics::describe_histogram!(
            "rpc.latency_seconds",
            metrics::Unit::Seconds,
            "RPC latency.\nSecond line with a \\ backslash."
        );
        metrics::describe_histogram!("rpc.latency_seconds", "A later description is ignored.");
        metrics::gauge!("undescribed").set(1.0);
    });
    let om = registry.encode(Format::OpenMetrics);
    assert!(
        om.contains(
            "# HELP rpc_latency_seconds RPC latency.\\nSecond line with a \\\\ backslash.\n"
        ),
        "{om}"
    );
    assert!(om.contains("# UNIT rpc_latency_seconds seconds\n"), "{om}");
    assert!(
        om.contains("# HELP undescribed Recorded through the `metrics` facade; not declared and not described.\n"),
        "{om}"
    );
    let text = registry.encode(Format::Prometheus);
    assert_promtool_accepts(&text);
}

#[test]
fn hostile_names_and_values_are_escaped_and_valid() {
    let registry = Arc::new(Registry::new());
    let recorder = FacadeRecorder::new(registry.clone()).expect("builds");
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        for value in [
            "quote \" backslash \\ newline \n end",
            "ünïcödé ✓",
            "",
            "{}=,",
        ] {
            metrics::counter!("http.requests-total", "path" => value.to_owned(), "le" => "x", "9x" => "y")
                .increment(1);
        }
        metrics::gauge!("odd", "v" => "1").set(f64::NAN);
        metrics::gauge!("odd", "v" => "2").set(f64::INFINITY);
        metrics::gauge!("odd", "v" => "3").set(-0.0);
        metrics::counter!("").increment(1);
        metrics::counter!("__reserved").increment(1);
        // The same name as another kind: the first kind keeps it.
        metrics::gauge!("http.requests-total").set(5.0);
    });
    let text = registry.encode(Format::Prometheus);
    assert!(
        text.contains(
            r#"http_requests_total{_9x="y",exported_le="x",path="quote \" backslash \\ newline \n end"} 1"#
        ),
        "{text}"
    );
    // `-total` became `_total`, which the runtime adds back: one `_total`, not two.
    assert_eq!(lines_starting(&text, "http_requests_total{"), 4, "{text}");
    assert_promtool_accepts(&text);
    assert_eq!(
        handle.refused(),
        [
            (String::new(), Reason::InvalidName),
            ("__reserved".to_owned(), Reason::InvalidName),
        ]
    );
    assert_eq!(
        sample(
            &text,
            r#"fiko_metrics_facade_rejected_calls_total{metric="http.requests-total",reason="kind_mismatch"}"#
        ),
        1.0
    );
}

#[test]
fn a_declared_set_registered_after_the_facade_claimed_its_name_is_refused() {
    #[derive(MetricSet)]
    struct Late {
        /// Declared after the facade used the name.
        late_jobs: fiko_metrics::Counter,
    }
    let registry = Arc::new(Registry::new());
    let recorder = FacadeRecorder::new(registry.clone()).expect("builds");
    metrics::with_local_recorder(&recorder, || metrics::counter!("late_jobs").increment(1));
    let Err(error) = Late::register(&registry) else {
        panic!("the facade has the name `late_jobs`");
    };
    assert_eq!(
        error.to_string(),
        "a metric named `late_jobs` is registered already"
    );
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        lines_starting(&text, "# TYPE late_jobs_total "),
        1,
        "{text}"
    );
    // A second recorder on the same registry is refused too.
    assert!(FacadeRecorder::new(registry.clone()).is_err());
}

#[test]
fn discovered_metrics_become_a_row_marked_not_declared() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let registry = Arc::new(Registry::new());
    fiko_metrics_tokio::register(&registry, "main", runtime.handle().clone()).expect("registers");
    let recorder = FacadeRecorder::new(registry.clone()).expect("builds");
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("cache.hits", "cache" => "users").increment(1);
        metrics::histogram!("query_seconds", "op" => "select").record(0.1);
        metrics::gauge!("pool.size_bytes").set(10.0);
    });
    // What an application commits beside its code: a scrape of its endpoint.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scrape.prom");
    std::fs::write(&path, registry.encode(Format::Prometheus)).expect("writes");
    let scrape = std::fs::read_to_string(&path).expect("reads");

    let declared = registry.metrics();
    let found = DiscoveredMetrics::parse(&scrape)
        .expect("parses")
        .without_declared(&declared);
    let seen: Vec<(&str, DiscoveredKind)> = found
        .metrics
        .iter()
        .map(|metric| (metric.name.as_str(), metric.kind))
        .collect();
    assert_eq!(
        seen,
        [
            ("cache_hits_total", DiscoveredKind::Counter),
            ("pool_size_bytes", DiscoveredKind::Gauge),
            ("query_seconds", DiscoveredKind::Histogram),
        ]
    );
    let row = found.row("scrape.prom").expect("a row");
    assert_eq!(row.title, "Discovered metrics (not declared)");
    let cx = fiko_dashboards::Context::dashboard();
    let panel = &row.panels[0];
    assert_eq!(panel.title, "cache_hits_total (discovered, not declared)");
    assert_eq!(panel.unit, "ops");
    assert!(panel.description.as_deref().is_some_and(|text| {
        text.starts_with("Not declared: a counter seen in scrape.prom, labels cache")
    }));
    assert_eq!(
        panel.targets[0].expr.render(&cx),
        r#"sum by (cache) (rate(cache_hits_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))"#
    );
    assert_eq!(row.panels[1].unit, "bytes");
    let latency = &row.panels[2];
    assert_eq!(latency.unit, "s");
    assert_eq!(
        latency.targets[1].expr.render(&cx),
        r#"histogram_quantile(0.95, sum by (le, op) (rate(query_seconds_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval])))"#
    );
    // Every query parses as PromQL.
    for panel in &row.panels {
        for target in &panel.targets {
            let text =
                target
                    .expr
                    .render(&fiko_dashboards::Context::rules(fiko_dashboards::minutes(
                        5,
                    )));
            assert!(promql_parser::parser::parse(&text).is_ok(), "{text}");
        }
    }

    // The generator takes the row with the names its queries use: the application's
    // dashboard gets it after the declared rows, and only then may it name them.
    let generator = || {
        fiko_dashboards_gen::Generator::new("shop")
            .runbook_base("https://runbooks.example/")
            .observe_registered(&registry)
    };
    let artefacts = generator()
        .discovered(row.clone(), found.series_names())
        .generate()
        .expect("generates with the discovered row");
    let dashboard = artefacts
        .get("grafana/dashboards/shop-overview.json")
        .expect("dashboard");
    assert!(dashboard.contains(r#""title": "Discovered metrics (not declared)""#));
    assert!(dashboard.contains("rate(cache_hits_total{"));
    let Err(fiko_dashboards_gen::Error::Invalid(problems)) =
        generator().discovered(row, []).generate()
    else {
        panic!("undeclared names without the discovered series are a problem");
    };
    assert!(
        problems
            .iter()
            .any(|p| p.contains("names `cache_hits_total`, which no listed metric set declares")),
        "{problems:?}"
    );
}

#[test]
fn a_recorder_on_the_default_registry_is_exposed_there() {
    // The default registry is an `Arc<Registry>` like any other: the recorder takes a clone.
    let recorder = FacadeRecorder::new(fiko_metrics::default_registry().clone()).expect("builds");
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("global.facade.calls").increment(2);
    });
    let text = fiko_metrics::default_registry().encode(Format::Prometheus);
    assert!(text.contains("\nglobal_facade_calls_total 2\n"), "{text}");
    // One recorder per registry, the default one included.
    assert!(FacadeRecorder::new(fiko_metrics::default_registry().clone()).is_err());
}
