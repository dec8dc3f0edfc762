//! End to end with a real Prometheus: PostgreSQL, Redis, redis_exporter, postgres_exporter,
//! three demo instances on PostgreSQL + Redis, one job worker, and Prometheus loaded with
//! the generated `prometheus.yml`, alert and recording rules (1 s scrape and evaluation
//! intervals, 15 s rule window, 2 s `for:`). The load generator runs against the
//! instances, then everything is checked through Prometheus' HTTP API, and three faults
//! are injected and recovered from.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::servers::{
    PromApi, Stack, host_port, point_at, run_load_binary, start_alertmanager, value_of, verify,
    wait_counted, wait_notified, webhook_sink,
};
use fiko_backend::load::{self, LoadConfig, Report, Scenario};
use fiko_dashboards::seconds;
use fiko_dashboards_gen::Notifications;
use fiko_dashboards_gen::verify::Class;
use fiko_testkit::Prometheus;
use serde_json::Value;

/// The alerts whose `for:` the test shortens (it waits for each to fire and resolve).
const FAULT_ALERTS: [&str; 3] = ["RedisDown", "WorkerDown", "HighErrorRate"];

async fn load(targets: &[String], users: u32, scenario: Scenario) -> Report {
    load::run(&LoadConfig {
        targets: targets.to_vec(),
        users,
        concurrency: 4,
        max_duration: Duration::from_secs(60),
        scenario,
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_a_worker_and_prometheus_with_the_generated_config() {
    let started = Instant::now();

    // Servers, three instances and a worker.
    let mut stack = Stack::start().await;
    let targets = stack.app_urls();

    // Prometheus with the generated configuration and rules, on short timings.
    // `cargo run -p dashboards-gen`'s generator, with this run's targets instead of the
    // deployment's host names, 1 s intervals (its `--interval 1`), a 15 s rule window,
    // notifications to a webhook this test runs, and 2 s `for:` on the alerts the faults
    // trigger.
    let (hook, notified) = webhook_sink().await;
    let mut generator = fiko_backend::deployment::generator()
        .interval(seconds(1))
        // SLO windows and `for` divided by 60: the page's 1h and 5m become 1m and 5s.
        .slo_time_scale(60);
    generator.settings_mut().rule_window = seconds(15);
    generator.settings_mut().notifications = Notifications::default();
    generator = generator.notify_webhook(&hook, None);
    for alert in FAULT_ALERTS {
        generator = generator.tune(alert, |alert| {
            alert.set_for(seconds(2));
        });
    }
    // A real Alertmanager with the generated routes, templates and inhibitions.
    let first = generator.generate().unwrap();
    let alertmanager = start_alertmanager(&first);
    let mut targets_of = |prometheus: &str| {
        let targets = stack.targets(&[prometheus.to_owned()], &alertmanager.address());
        point_at(&mut generator, &targets, &alertmanager.address());
        generator.generate().unwrap()
    };
    // Prometheus scrapes itself: started on a port of its own, then reloaded with it.
    let artefacts = targets_of("127.0.0.1:1");
    let files = ["alerts.yml", "recording.yml", "slo.yml"]
        .map(|file| (file, artefacts.get(&format!("prometheus/{file}")).unwrap()));
    let prometheus =
        Prometheus::start(artefacts.get("prometheus/prometheus.yml").unwrap(), &files).unwrap();
    let artefacts = targets_of(&host_port(&prometheus.url()));
    std::fs::write(
        prometheus.dir().join("prometheus.yml"),
        artefacts.get("prometheus/prometheus.yml").unwrap(),
    )
    .unwrap();
    prometheus.reload().unwrap();
    let prom = PromApi {
        url: prometheus.url(),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    };

    // Every target is up: three instances, the worker, both exporters, Prometheus itself
    // and Alertmanager.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let up = prom.query("up").await;
        if up.len() == 8 && up.iter().all(|s| value_of(s) == 1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "targets not all up: {up:?}\n{}",
            prometheus.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let rules = prom.get("/api/v1/rules", &[]).await;
    let rule_health: Vec<String> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| format!("{} {}", r["name"], r["health"]))
        .collect();
    assert!(rule_health.len() >= 14, "{rule_health:?}");
    assert!(
        !rule_health.iter().any(|r| r.ends_with("\"err\"")),
        "rules failing to evaluate: {rule_health:?}"
    );

    // Load: request counters summed over the three instances equal what was sent.
    let (sent, printed) = run_load_binary(&targets, 30, &stack.log("load"));
    let total: u64 = sent.values().sum();
    assert!(total > 30 * 12, "{printed}");
    assert!(
        !sent
            .keys()
            .any(|(_, _, status)| *status == 0 || *status >= 500),
        "{printed}"
    );
    let counted = wait_counted(&prom, &sent).await;
    assert_eq!(
        counted, sent,
        "Prometheus' sum over the instances vs the load generator:\n{printed}"
    );
    // All three instances served.
    let per_instance = prom
        .query(r#"sum by (instance) (http_server_requests_total{job="fiko-app"})"#)
        .await;
    assert_eq!(per_instance.len(), 3, "{per_instance:?}");
    assert!(per_instance.iter().all(|s| value_of(s) > 0.0));
    // The worker ran the jobs the instances enqueued.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = prom
            .query(r#"sum(fiko_jobs_task_executions_total{job="fiko-worker",state="succeeded"})"#)
            .await;
        if done.first().map(value_of) >= Some(30.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "worker did not run the jobs: {done:?}\n{}",
            stack.worker.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Fault 1: Redis stops. RedisDown fires; the instances keep serving from PostgreSQL.
    let fault = Instant::now();
    stack.redis.stop();
    let during = load(&targets, 4, Scenario::Full).await;
    assert_eq!(during.without_response(), 0, "{}", during.render());
    assert_eq!(during.server_errors(), 0, "{}", during.render());
    assert_eq!(
        during
            .sent
            .get(&("POST".to_owned(), "/api/v1/auth/login".to_owned(), 200)),
        Some(&4),
        "{}",
        during.render()
    );
    prom.wait_alert("RedisDown", true, Duration::from_secs(60))
        .await;
    let fired = fault.elapsed();
    let cache_errors = prom
        .query(r#"sum(fiko_cache_errors_total{job="fiko-app"})"#)
        .await;
    assert!(
        cache_errors.first().map(value_of) > Some(0.0),
        "{cache_errors:?}"
    );
    // Alertmanager routes it to the webhook (critical: after its 15 s group wait).
    let delivered = wait_notified(&notified, "RedisDown", Duration::from_secs(60)).await;
    stack.redis.restart().unwrap();
    let resolved = prom
        .wait_alert("RedisDown", false, Duration::from_secs(60))
        .await;
    eprintln!(
        "RedisDown fired {fired:?} after the stop, was delivered {delivered:?} later, resolved {resolved:?} after the restart"
    );

    // Fault 2: the worker is killed. WorkerDown fires; jobs wait in Redis meanwhile and
    // run once a new worker starts.
    let before = prom
        .query(r#"sum(fiko_jobs_task_executions_total{job="fiko-worker",state="started"})"#)
        .await
        .first()
        .map_or(0.0, value_of);
    // The worker's apalis workers stop while Redis is away, so WorkerDown may have fired;
    // it must have resolved before the kill.
    prom.wait_alert("WorkerDown", false, Duration::from_secs(60))
        .await;
    let fault = Instant::now();
    stack.worker.kill();
    // The worker's series vanish with it; WorkerDown fires once its last heartbeat is
    // older than fiko-metrics-jobs' two minutes.
    prom.wait_alert("WorkerDown", true, Duration::from_secs(200))
        .await;
    let fired = fault.elapsed();
    wait_notified(&notified, "WorkerDown", Duration::from_secs(60)).await;
    // `--verify` sees it too: the worker's job is down, and WorkerDown, which fires on
    // that job, is that problem rather than another one.
    let report = verify(&artefacts, &prom.url, None, 60).await;
    let down: Vec<&str> = report
        .problems
        .iter()
        .filter(|p| p.class == Class::JobDown)
        .map(|p| p.item.as_str())
        .collect();
    assert_eq!(down, ["job `fiko-worker`"], "{}", report.table(&[]));
    assert!(
        !report
            .problems
            .iter()
            .any(|p| p.class == Class::Firing && p.item == "alert `WorkerDown`"),
        "{}",
        report.table(&[])
    );
    let queued = load(&targets, 3, Scenario::Full).await;
    assert_eq!(queued.server_errors(), 0, "{}", queued.render());
    stack.worker = stack.start_worker();
    let resolved = prom
        .wait_alert("WorkerDown", false, Duration::from_secs(60))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The new worker's counters start at zero: it ran the three welcome emails and
        // the invoices enqueued while no worker ran.
        let started_now = prom
            .query(r#"sum(fiko_jobs_task_executions_total{job="fiko-worker",state="started"})"#)
            .await
            .first()
            .map_or(0.0, value_of);
        if started_now >= 3.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted worker ran nothing (before: {before})\n{}",
            stack.worker.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("WorkerDown fired {fired:?} after the kill, resolved {resolved:?} after the restart");

    // Fault 3: Instagram fails, so do at least 10% of requests. HighErrorRate fires and
    // resolves once Instagram is back.
    let fault = Instant::now();
    stack.instagram.failing.store(true, Ordering::Relaxed);
    let failing = Arc::new(AtomicBool::new(true));
    let background = {
        let (targets, failing) = (targets.clone(), failing.clone());
        tokio::spawn(async move {
            let mut sent = Report::default();
            while failing.load(Ordering::Relaxed) {
                let report = load(&targets, 4, Scenario::Instagram).await;
                for (key, n) in report.sent {
                    *sent.sent.entry(key).or_default() += n;
                }
            }
            sent
        })
    };
    prom.wait_alert("HighErrorRate", true, Duration::from_secs(60))
        .await;
    let fired = fault.elapsed();
    // The availability SLO's fastest page (14.4× the budget over 1h and 5m, scaled to 1m
    // and 5s) fires during the failure too.
    prom.wait_alert("HttpAvailabilityBurnRate1h", true, Duration::from_secs(60))
        .await;
    let slo_fired = fault.elapsed();
    failing.store(false, Ordering::Relaxed);
    let bad = background.await.unwrap();
    assert!(
        bad.server_errors() as f64 / bad.total() as f64 >= 0.10,
        "{}",
        bad.render()
    );
    stack.instagram.failing.store(false, Ordering::Relaxed);
    let resolved = prom
        .wait_alert("HighErrorRate", false, Duration::from_secs(90))
        .await;
    let slo_resolved = prom
        .wait_alert("HttpAvailabilityBurnRate1h", false, Duration::from_secs(60))
        .await;
    eprintln!(
        "HighErrorRate fired {fired:?} after Instagram began failing, resolved {resolved:?} after recovery; HttpAvailabilityBurnRate1h fired {slo_fired:?} after, resolved {slo_resolved:?} after recovery"
    );

    // Everything healthy again, with fresh traffic: every query of every generated panel
    // returns data, and every metric that panels and rules name is in the scrape.
    let healthy = load(&targets, 6, Scenario::Full).await;
    assert_eq!(healthy.server_errors(), 0, "{}", healthy.render());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let dashboard: Value = serde_json::from_str(
        artefacts
            .get("grafana/dashboards/fiko-overview.json")
            .unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, "", &mut exprs);
    assert!(exprs.len() >= 40, "{}", exprs.len());
    let mut empty = Vec::new();
    for (title, expr) in &exprs {
        let mut promql = expr
            .replace("$__rate_interval", "1m")
            .replace("$job", ".+")
            .replace("$instance", ".+");
        // Nothing fires now: the alert panels and annotations must have shown the faults.
        if promql.contains("ALERTS{") {
            promql = format!("max_over_time(({promql})[10m:1s])");
        }
        if prom.query(&promql).await.is_empty() {
            empty.push(format!("{title}: {promql}"));
        }
    }
    assert!(
        empty.is_empty(),
        "panel queries without data:\n{}",
        empty.join("\n")
    );
    let scraped: BTreeSet<String> = prom
        .get("/api/v1/label/__name__/values", &[])
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    let mut named = BTreeSet::new();
    for (_, expr) in &exprs {
        named.extend(fiko_dashboards_gen::promql::metric_names(expr).unwrap());
    }
    let rule_files = [
        artefacts.get("prometheus/alerts.yml").unwrap(),
        artefacts.get("prometheus/recording.yml").unwrap(),
        artefacts.get("prometheus/slo.yml").unwrap(),
    ];
    // Recording rules' own outputs are series Prometheus writes, not scraped ones.
    let recorded: BTreeSet<String> = rule_files[1..]
        .iter()
        .flat_map(|file| file.lines())
        .filter_map(|line| line.trim().strip_prefix("- record: "))
        .map(|name| name.trim_matches('"').to_owned())
        .collect();
    for line in rule_files.iter().flat_map(|file| file.lines()) {
        if let Some(expr) = line.trim().strip_prefix("expr: ") {
            let expr: String =
                serde_json::from_str(expr).unwrap_or_else(|_| expr.trim_matches('\'').to_owned());
            named.extend(fiko_dashboards_gen::promql::metric_names(&expr).unwrap());
        }
    }
    assert!(named.len() >= 40, "{named:?}");
    let missing: Vec<&String> = named
        .iter()
        .filter(|name| !scraped.contains(*name) && !recorded.contains(*name))
        .collect();
    assert!(
        missing.is_empty(),
        "named by panels or rules but never scraped: {missing:?}"
    );

    // `--verify` over the last minute finds nothing that fails a run: every generated job
    // up, every rule group loaded in this generation's version, no missing metric, no
    // undeclared closed label value in storage.
    let report = verify(&artefacts, &prom.url, None, 60).await;
    assert_eq!(
        report.failing(&Class::DEFAULT_FAIL_ON),
        0,
        "{}",
        report.table(&Class::DEFAULT_FAIL_ON)
    );
    eprint!("{}", report.table(&Class::DEFAULT_FAIL_ON));

    // Every alerting and recording rule evaluated without error all along.
    let rules = prom.get("/api/v1/rules", &[]).await;
    let failing: Vec<String> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter(|r| r["health"] != "ok")
        .map(|r| format!("{}: {} {}", r["name"], r["health"], r["lastError"]))
        .collect();
    assert!(failing.is_empty(), "{failing:?}");

    for app in &mut stack.apps {
        assert!(app.exited().is_none(), "{} died:\n{}", app.name, app.log());
    }
    eprintln!(
        "{} panel queries returned data; {} metrics named by panels and rules were scraped; {} requests counted exactly; end-to-end run took {:?}",
        exprs.len(),
        named.len(),
        total,
        started.elapsed()
    );
}

/// Every `expr` of the dashboard, with its panel's title.
fn collect_exprs(value: &Value, title: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            let title = map.get("title").and_then(Value::as_str).unwrap_or(title);
            if let Some(expr) = map.get("expr").and_then(Value::as_str) {
                out.push((title.to_owned(), expr.to_owned()));
            }
            for child in map.values() {
                collect_exprs(child, title, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_exprs(item, title, out);
            }
        }
        _ => {}
    }
}
