//! The set's default panels and alerts: sound by `fiko-dashboards`' checks, and the alerts
//! fire (and stay silent) as intended when promtool evaluates them.

use fiko_dashboards::Severity;
use fiko_dashboards::prelude::*;
use fiko_metrics_jobs::JobMetrics;
use fiko_testkit::promtool::{self, AlertCase, AlertRule};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn rule_expr(alert: &Alert) -> String {
    alert.render(&Context::rules(minutes(5)))
}

#[test]
fn the_seed_alerts_and_panels_are_declared_and_sound() {
    let alerts = JobMetrics::alerts();
    let names: Vec<(&str, Severity)> = alerts
        .iter()
        .map(|alert| (alert.name.as_str(), alert.severity))
        .collect();
    assert_eq!(
        names,
        [
            ("WorkerDown", Severity::Critical),
            ("TaskFailureRate", Severity::Warning),
            ("QueueBacklog", Severity::Warning),
        ]
    );
    for alert in &alerts {
        assert_eq!(alert.problems(), Vec::<String>::new(), "{}", alert.name);
    }
    assert_eq!(
        rule_expr(&alerts[1]),
        r#"(sum by (job, instance, task) (rate(fiko_jobs_task_executions_total{state="failed"}[5m]))) / (sum by (job, instance, task) (rate(fiko_jobs_task_executions_total{state="started"}[5m])) > 0) > 0.1"#
    );
    assert_eq!(
        rule_expr(&alerts[2]),
        "max by (job, instance, queue) (fiko_jobs_queue_length) > 1000"
    );

    let rows = JobMetrics::rows();
    let titles: Vec<&str> = rows[0]
        .panels
        .iter()
        .map(|panel| panel.title.as_str())
        .collect();
    assert!(titles.contains(&"Job rate by task and state"), "{titles:?}");
    assert!(titles.contains(&"Queue length"), "{titles:?}");
    let job_rate = &rows[0].panels[0];
    assert_eq!(
        job_rate.targets[0].expr.render(&Context::dashboard()),
        r#"sum by (task, state) (rate(fiko_jobs_task_executions_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))"#
    );
}

#[test]
fn promtool_fires_each_alert_on_bad_input_and_not_on_good_input() -> TestResult {
    let alerts = JobMetrics::alerts();

    let rules = promtool::rules_file(
        "jobs",
        &alerts
            .iter()
            .map(|alert| {
                AlertRule::new(
                    &alert.name,
                    rule_expr(alert),
                    alert.for_,
                    alert.severity.as_str(),
                )
            })
            .collect::<Vec<_>>(),
    );

    let mut cases = Vec::new();
    // WorkerDown, from the alert's own hand-written input.
    let test = alerts[0]
        .test
        .clone()
        .ok_or("WorkerDown has no test input")?;
    let worker_labels: Vec<(&str, &str)> = test
        .labels
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain([("severity", "critical")])
        .collect();
    cases.push(AlertCase {
        name: "WorkerDown fires for a stopped worker",
        alert: "WorkerDown",
        series: test.firing.clone(),
        eval: "5m",
        fires_with: Some(worker_labels.clone()),
    });
    cases.push(AlertCase {
        name: "WorkerDown stays silent for a running worker",
        alert: "WorkerDown",
        series: test.silent.clone(),
        eval: "15m",
        fires_with: None,
    });
    // A worker whose process died: its series stop after 3 minutes (no stale markers in
    // promtool input, so the heartbeat's age alone must fire once it passes 120 s).
    let heartbeat = r#"fiko_jobs_worker_last_heartbeat_timestamp_seconds{job="fiko-worker",instance="worker:9000",worker="mailer-1"}"#;
    cases.push(AlertCase {
        name: "WorkerDown fires once a vanished worker's heartbeat is older than 120 s",
        alert: "WorkerDown",
        series: vec![
            (heartbeat.to_owned(), "0+60x3".to_owned()),
            (
                r#"fiko_jobs_worker_up{job="fiko-worker",instance="worker:9000",worker="mailer-1"}"#
                    .to_owned(),
                "1x3".to_owned(),
            ),
        ],
        eval: "8m",
        fires_with: Some(worker_labels.clone()),
    });

    // TaskFailureRate: 3 of 10 attempts a minute fail (30%), or 0 of 10.
    let executions = |state: &str| {
        format!(
            r#"fiko_jobs_task_executions_total{{job="fiko-worker",instance="worker:9000",task="send_email",state="{state}"}}"#
        )
    };
    let task_labels = vec![
        ("job", "fiko-worker"),
        ("instance", "worker:9000"),
        ("task", "send_email"),
        ("severity", "warning"),
    ];
    cases.push(AlertCase {
        name: "TaskFailureRate fires at 30% failed attempts",
        alert: "TaskFailureRate",
        series: vec![
            (executions("started"), "0+10x30".to_owned()),
            (executions("failed"), "0+3x30".to_owned()),
        ],
        eval: "20m",
        fires_with: Some(task_labels.clone()),
    });
    cases.push(AlertCase {
        name: "TaskFailureRate stays silent at 5% failed attempts",
        alert: "TaskFailureRate",
        series: vec![
            (executions("started"), "0+20x30".to_owned()),
            (executions("failed"), "0+1x30".to_owned()),
        ],
        eval: "20m",
        fires_with: None,
    });
    cases.push(AlertCase {
        name: "TaskFailureRate stays silent with no tasks at all",
        alert: "TaskFailureRate",
        series: vec![
            (executions("started"), "0x30".to_owned()),
            (executions("failed"), "0x30".to_owned()),
        ],
        eval: "20m",
        fires_with: None,
    });

    // QueueBacklog: two app instances read the same queue; max, not sum, of the two.
    let queue = |instance: &str| {
        format!(r#"fiko_jobs_queue_length{{job="fiko-app",instance="{instance}",queue="emails"}}"#)
    };
    cases.push(AlertCase {
        name: "QueueBacklog fires above 1000 waiting tasks",
        alert: "QueueBacklog",
        series: vec![(queue("app:1"), "1500x20".to_owned())],
        eval: "15m",
        fires_with: Some(vec![
            ("job", "fiko-app"),
            ("instance", "app:1"),
            ("queue", "emails"),
            ("severity", "warning"),
        ]),
    });
    cases.push(AlertCase {
        name: "QueueBacklog stays silent at 600 tasks seen by two instances",
        alert: "QueueBacklog",
        series: vec![
            (queue("app:1"), "600x20".to_owned()),
            (queue("app:2"), "600x20".to_owned()),
        ],
        eval: "15m",
        fires_with: None,
    });
    cases.push(AlertCase {
        name: "QueueBacklog waits for its 10 minutes",
        alert: "QueueBacklog",
        series: vec![(queue("app:1"), "1500x20".to_owned())],
        eval: "8m",
        fires_with: None,
    });

    promtool::test_rules(&rules, &promtool::tests_file(&cases))?;
    Ok(())
}
