//! `FIKO_INSTRUMENTATION=off`, the switch the cost benchmark (`scripts/bench-parts/demo-cost`)
//! compares against: the same request mix records nothing with it off, and is counted
//! with it on.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use fiko_backend::config::Instrumentation;
use fiko_backend::db::Table;
use fiko_backend::load::{self, LoadConfig, Report, Scenario};
use fiko_backend::{App, Config};
use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics::{Format, MetricSet, Registry};

use common::{requests_by_route, sum};

/// Serves an application built with `instrumentation` on a free loopback port and runs
/// the load generator's full scenario (every route, the WebSocket, the jobs) against it;
/// returns its scrape afterwards, the report and the application's video views in the
/// database.
async fn run_mix(instrumentation: Instrumentation) -> (String, Report, i64) {
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::local("127.0.0.1:0".parse().unwrap(), data.path());
    common::generous_auth_limits(&mut config);
    config.instrumentation = instrumentation;
    let app = App::build(&config).await.unwrap();
    let registry = app.registry.clone();
    let db = app.state.db.clone();
    let url = common::serve(app).await;
    let report = load::run(&LoadConfig {
        targets: vec![url],
        users: 4,
        concurrency: 2,
        max_duration: Duration::from_secs(60),
        scenario: Scenario::Full,
    })
    .await
    .unwrap();
    assert_eq!(report.without_response(), 0, "{}", report.render());
    assert_eq!(report.server_errors(), 0, "{}", report.render());
    let views = db.count(Table::VideoViews).await.unwrap();
    (registry.encode(Format::Prometheus), report, views)
}

/// The metric names a text exposition declares.
fn families(text: &str) -> BTreeSet<&str> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect()
}

/// Calls of the `#[timed]` function `function` so far, from the process-wide set.
fn timed_calls(function: &str) -> f64 {
    let registry = Registry::new();
    registry.register_shared(FunctionMetrics::shared()).unwrap();
    sum(
        &registry.encode(Format::Prometheus),
        "function_calls_total",
        &[("function", function)],
    )
}

/// Requests the report says were answered on `route` with `status`.
fn sent(report: &Report, route: &str, status: u16) -> f64 {
    report
        .sent
        .iter()
        .filter(|((_, r, s), _)| r == route && *s == status)
        .map(|(_, n)| *n as f64)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switched_off_the_request_mix_records_nothing_and_switched_on_it_is_counted() {
    // Off first: the `#[timed]` functions record into one process-wide set.
    let timed = ["execute_workflow", "hash_password", "verify_password"];
    let before: Vec<f64> = timed.iter().map(|f| timed_calls(f)).collect();
    let (off, report, views) = run_mix(Instrumentation::Off).await;
    let workflow_runs = sent(&report, "/api/v1/workflows/{id}/executions", 201);
    assert!(workflow_runs > 0.0, "{}", report.render());
    // The mix did its work: rows were written...
    assert_eq!(
        views as f64,
        sent(&report, "/api/v1/academy/videos/{id}/views", 201)
    );
    assert!(views > 0);
    // ... and nothing was recorded: the endpoint serves the process and runtime metrics
    // only (read at scrape time) besides the registry's own (`fiko_metrics_*`, scrape
    // refusals and label overflow), and no `#[timed]` call was counted.
    let names = families(&off);
    assert!(names.contains("process_resident_memory_bytes"), "{off}");
    let recorded: Vec<&&str> = names
        .iter()
        .filter(|name| {
            !["process_", "tokio_", "fiko_metrics_"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
        })
        .collect();
    assert!(
        recorded.is_empty(),
        "recorded with the instrumentation off: {recorded:?}"
    );
    let after: Vec<f64> = timed.iter().map(|f| timed_calls(f)).collect();
    assert_eq!(
        before, after,
        "#[timed] recorded with the instrumentation off"
    );

    // On: the same mix, counted by every part the switch turns off.
    let (on, report, _) = run_mix(Instrumentation::On).await;
    assert_eq!(requests_by_route(&on), report.sent, "{}", report.render());
    assert!(sum(&on, "fiko_db_queries_total", &[]) > 0.0, "{on}");
    assert!(sum(&on, "fiko_cache_hits_total", &[]) > 0.0, "{on}");
    assert_eq!(
        sum(&on, "fiko_academy_video_views_total", &[]),
        sent(&report, "/api/v1/academy/videos/{id}/views", 201)
    );
    assert_eq!(
        sum(&on, "fiko_workflow_executions_total", &[]),
        sent(&report, "/api/v1/workflows/{id}/executions", 201)
    );
    assert!(sum(&on, "websocket_connections_total", &[]) > 0.0, "{on}");
    assert_eq!(
        timed_calls("execute_workflow") - after[0],
        sent(&report, "/api/v1/workflows/{id}/executions", 201)
    );
    assert!(timed_calls("hash_password") > after[1]);
    assert!(timed_calls("verify_password") > after[2]);
    // What off left out is what on shows beyond the process and runtime metrics.
    let on_names = families(&on);
    assert!(names.is_subset(&on_names));
    for family in [
        "http_server_requests_total",
        "fiko_db_queries_total",
        "fiko_cache_hits_total",
        "fiko_jobs_task_executions_total",
        "function_calls_total",
        "fiko_users_activity_total",
    ] {
        assert!(on_names.contains(family), "{family} missing:\n{on}");
    }
}
