//! The set's default panels and alerts: sound by `fiko-dashboards`' checks, and the alerts
//! fire (and stay silent) as intended when promtool evaluates them.

use fiko_dashboards::Severity;
use fiko_dashboards::prelude::*;
use fiko_metrics_tokio::TokioMetrics;
use fiko_testkit::promtool::{self, AlertCase, AlertRule};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn rule_expr(alert: &Alert) -> String {
    alert.render(&Context::rules(minutes(5)))
}

#[test]
fn the_alerts_and_panels_are_declared_and_sound() {
    let alerts = TokioMetrics::alerts();
    let names: Vec<(&str, Severity)> = alerts
        .iter()
        .map(|alert| (alert.name.as_str(), alert.severity))
        .collect();
    assert_eq!(
        names,
        [
            ("TokioWorkersSaturated", Severity::Warning),
            ("TokioGlobalQueueBacklog", Severity::Warning),
        ]
    );
    for alert in &alerts {
        assert_eq!(alert.problems(), Vec::<String>::new(), "{}", alert.name);
    }
    assert_eq!(
        rule_expr(&alerts[0]),
        "avg by (job, instance, runtime) (rate(tokio_worker_busy_seconds_total[5m])) > 0.9"
    );
    assert_eq!(
        rule_expr(&alerts[1]),
        "max by (job, instance, runtime) (tokio_global_queue_depth) > 1000"
    );

    let rows = TokioMetrics::rows();
    let titles: Vec<&str> = rows[0]
        .panels
        .iter()
        .map(|panel| panel.title.as_str())
        .collect();
    assert_eq!(
        titles,
        [
            "Worker busy ratio",
            "Global queue depth",
            "Alive tasks",
            "Workers"
        ]
    );
    assert_eq!(
        rows[0].panels[0].targets[0]
            .expr
            .render(&Context::dashboard()),
        r#"sum by (runtime, worker) (rate(tokio_worker_busy_seconds_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))"#
    );
}

#[test]
fn promtool_fires_each_alert_on_bad_input_and_not_on_good_input() -> TestResult {
    let alerts = TokioMetrics::alerts();

    let rules = promtool::rules_file(
        "tokio",
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

    // Busy seconds per minute of each worker: 60 is a worker that never parks.
    let busy = |worker: &str| {
        format!(
            r#"tokio_worker_busy_seconds_total{{job="app",instance="app:1",runtime="main",worker="{worker}"}}"#
        )
    };
    let saturated = vec![
        ("job", "app"),
        ("instance", "app:1"),
        ("runtime", "main"),
        ("severity", "warning"),
    ];
    let mut cases = vec![
        AlertCase {
            name: "TokioWorkersSaturated fires when both workers are 97% busy for 10 minutes",
            alert: "TokioWorkersSaturated",
            series: vec![
                (busy("0"), "0+58x30".to_owned()),
                (busy("1"), "0+58x30".to_owned()),
            ],
            eval: "20m",
            fires_with: Some(saturated.clone()),
        },
        AlertCase {
            name: "TokioWorkersSaturated waits for its 10 minutes",
            alert: "TokioWorkersSaturated",
            series: vec![
                (busy("0"), "0+58x30".to_owned()),
                (busy("1"), "0+58x30".to_owned()),
            ],
            eval: "9m",
            fires_with: None,
        },
        AlertCase {
            name: "TokioWorkersSaturated stays silent when one of two workers is idle",
            alert: "TokioWorkersSaturated",
            series: vec![
                (busy("0"), "0+60x30".to_owned()),
                (busy("1"), "0+3x30".to_owned()),
            ],
            eval: "20m",
            fires_with: None,
        },
        AlertCase {
            name: "TokioWorkersSaturated stays silent at 50% busy",
            alert: "TokioWorkersSaturated",
            series: vec![
                (busy("0"), "0+30x30".to_owned()),
                (busy("1"), "0+30x30".to_owned()),
            ],
            eval: "20m",
            fires_with: None,
        },
    ];

    let queue = |instance: &str| {
        format!(r#"tokio_global_queue_depth{{job="app",instance="{instance}",runtime="main"}}"#)
    };
    cases.extend([
        AlertCase {
            name: "TokioGlobalQueueBacklog fires on a queue growing past 1000",
            alert: "TokioGlobalQueueBacklog",
            series: vec![(queue("app:1"), "0+200x30".to_owned())],
            eval: "15m",
            fires_with: Some(vec![
                ("job", "app"),
                ("instance", "app:1"),
                ("runtime", "main"),
                ("severity", "warning"),
            ]),
        },
        AlertCase {
            name: "TokioGlobalQueueBacklog stays silent on a short burst that drains",
            alert: "TokioGlobalQueueBacklog",
            series: vec![(
                queue("app:1"),
                "0 5000 5000 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0".to_owned(),
            )],
            eval: "10m",
            fires_with: None,
        },
        AlertCase {
            name: "TokioGlobalQueueBacklog stays silent at 600 queued on each of two instances",
            alert: "TokioGlobalQueueBacklog",
            series: vec![
                (queue("app:1"), "600x20".to_owned()),
                (queue("app:2"), "600x20".to_owned()),
            ],
            eval: "15m",
            fires_with: None,
        },
    ]);

    promtool::test_rules(&rules, &promtool::tests_file(&cases))?;
    Ok(())
}
