//! The WorkerDown expression on a real Prometheus scraping a real HTTP endpoint: it fires
//! for a worker that stops while its process serves metrics, and for a worker whose
//! process dies, after its series have vanished.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fiko_metrics::{Format, Registry};
use fiko_metrics_jobs::Jobs;
use fiko_metrics_jobs::dashboards::worker_down_expr;
use fiko_testkit::{Prometheus, ScrapeTarget};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A `/metrics` endpoint on a plain thread; dropping it closes the port, as a dead process.
fn serve(registry: Arc<Registry>) -> Result<ScrapeTarget, fiko_testkit::TestkitError> {
    ScrapeTarget::serve(move |_| {
        let body = registry.encode(Format::Prometheus).into_bytes();
        (Format::Prometheus.content_type().to_owned(), body)
    })
}

/// Queries until the JSON answer satisfies `done`, for at most `limit`.
fn wait_for(
    prometheus: &Prometheus,
    promql: &str,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let deadline = Instant::now() + limit;
    loop {
        let answer = prometheus.query(promql).map_err(|e| e.to_string())?;
        if done(&answer) {
            return Ok(answer);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "timed out on {promql}: {answer}\n{}",
                prometheus.log_tail()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn worker_down_fires_for_a_stopped_worker_and_for_a_dead_process_whose_series_vanished()
-> TestResult {
    let registry = Arc::new(Registry::new());
    let jobs = Jobs::register(&registry)?;
    let stopping = jobs.worker("stopping-worker");
    let crashing = jobs.worker("crashing-worker");
    let endpoint = serve(registry.clone())?;

    // Short windows so the test runs in seconds; production uses 120 s and 10 m.
    let expr = worker_down_expr(Duration::from_secs(4), Duration::from_secs(600));
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nscrape_configs:\n  - job_name: fiko-jobs\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
        endpoint.port()
    );
    let rules = format!(
        "groups:\n  - name: jobs\n    rules:\n      - alert: WorkerDown\n        expr: '{expr}'\n        labels:\n          severity: critical\n"
    );
    let prometheus = Prometheus::start(&config, &[("rules.yml", &rules)])?;
    let limit = Duration::from_secs(20);

    // Both workers up: the expression is empty.
    wait_for(&prometheus, "count(fiko_jobs_worker_up == 1)", limit, |a| {
        a.contains(r#""2"]"#)
    })?;
    let answer = prometheus.query(&expr)?;
    assert!(answer.contains(r#""result":[]"#), "{answer}");

    // One worker stops while the process keeps serving: it is down, the other is not.
    drop(stopping);
    let answer = wait_for(&prometheus, &expr, limit, |a| a.contains("stopping-worker"))?;
    assert!(!answer.contains("crashing-worker"), "{answer}");

    // The process dies: its series vanish, yet the heartbeat age fires for every worker.
    drop(endpoint);
    wait_for(&prometheus, r#"up{job="fiko-jobs"}"#, limit, |a| {
        a.contains(r#""0"]"#)
    })?;
    let vanished = wait_for(&prometheus, "fiko_jobs_worker_up", limit, |a| {
        a.contains(r#""result":[]"#)
    })?;
    assert!(!vanished.contains("crashing-worker"));
    wait_for(&prometheus, &expr, limit, |a| a.contains("crashing-worker"))?;
    // And the rule built on it is firing.
    wait_for(
        &prometheus,
        r#"ALERTS{alertname="WorkerDown",alertstate="firing",worker="crashing-worker"}"#,
        limit,
        |a| a.contains("crashing-worker"),
    )?;
    drop(crashing);
    Ok(())
}
