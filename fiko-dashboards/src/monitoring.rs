//! The monitoring stack's own metrics, declared so panels and alerts name them by
//! declaration: Prometheus' per-target `up`, Prometheus' rule evaluation, notification and
//! ingestion metrics, and Alertmanager's notification metrics. They live here, not in an
//! integration, because no integration owns Prometheus or Alertmanager: the generator
//! writes their configurations and charts `up` for every target it scrapes.

use fiko_metrics::{Counter, Family, Gauge, LabelSet, MetricSet};

use crate::prelude::*;

/// Prometheus' own per-target metric: `up` is 1 when the last scrape of a target succeeded.
#[derive(MetricSet)]
#[metric_set(external)]
pub struct ScrapeTargets {
    /// 1 if the target's last scrape succeeded, 0 otherwise (written by Prometheus).
    pub up: Gauge,
}

impl Observe for ScrapeTargets {
    fn service() -> &'static str {
        "prometheus"
    }

    fn rows() -> Vec<Row> {
        vec![Row::new("Targets").panel(
            Panel::table("Scrape targets up").query(ScrapeTargets::UP.value().by_target().max()),
        )]
    }
}

/// Prometheus' own metrics that say whether the monitoring works: rule evaluation,
/// notification delivery to Alertmanager, ingestion. Scrape Prometheus as a job (bind it
/// with `Generator::serves`) for its alerts to see them.
#[derive(MetricSet)]
#[metric_set(namespace = "prometheus", external)]
pub struct PrometheusServer {
    /// The total number of rule evaluation failures.
    pub rule_evaluation_failures_total: Family<RuleGroupLabels, Counter>,
    /// The total number of rule group evaluations missed due to slow rule group evaluation.
    pub rule_group_iterations_missed_total: Family<RuleGroupLabels, Counter>,
    /// Total number of errors sending alert notifications.
    pub notifications_errors_total: Family<AlertmanagerUrlLabels, Counter>,
    /// Total number of alerts sent.
    pub notifications_sent_total: Family<AlertmanagerUrlLabels, Counter>,
    /// Total number of alerts dropped due to errors when sending to Alertmanager.
    pub notifications_dropped_total: Counter,
    /// Total number of appended samples.
    pub tsdb_head_samples_appended_total: Counter,
    /// Whether the last configuration reload attempt was successful.
    pub config_last_reload_successful: Gauge,
}

impl PrometheusServer {
    /// The series a Prometheus exposes only where it evaluates rules and sends alerts:
    /// one that only scrapes and remote-writes (a scale-out replica, an agent) has none of
    /// them, so a central ruler's rules leave out the alerts that read them.
    pub const RULE_ENGINE_SERIES: [&'static str; 3] = [
        "prometheus_rule_evaluation_failures_total",
        "prometheus_rule_group_iterations_missed_total",
        "prometheus_notifications_errors_total",
    ];
}

/// The `rule_group` label of Prometheus' rule-evaluation metrics (`FILE;GROUP`).
#[derive(LabelSet)]
pub struct RuleGroupLabels {
    /// The rule file and group, `alerts.yml;fiko.app@0a0cbeae`.
    pub rule_group: String,
}

/// The `alertmanager` label of Prometheus' notification metrics (the Alertmanager's URL).
#[derive(LabelSet)]
pub struct AlertmanagerUrlLabels {
    /// The Alertmanager's API URL.
    pub alertmanager: String,
}

impl Observe for PrometheusServer {
    fn service() -> &'static str {
        "prometheus"
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::critical(
                "PrometheusRuleEvaluationFailures",
                Self::RULE_EVALUATION_FAILURES_TOTAL
                    .increase()
                    .by([RuleGroupLabels::RULE_GROUP])
                    .above(Count(0.0)),
            )
            .for_(minutes(5))
            .summary("Prometheus fails to evaluate rule group {{ $labels.rule_group }}")
            .description("Rules of {{ $labels.rule_group }} failed to evaluate in the last 5 minutes, for {for}: their alerts cannot fire and their recordings have holes.")
            .diagnosis("A rule whose query errors (a many-to-many match, a changed label) fails on every evaluation; Prometheus' log and its rules page show the error.")
            .mitigation("Fix or revert the rule named on Prometheus' rules page and reload its configuration."),
            Alert::warning(
                "PrometheusMissedRuleEvaluations",
                Self::RULE_GROUP_ITERATIONS_MISSED_TOTAL
                    .increase()
                    .by([RuleGroupLabels::RULE_GROUP])
                    .above(Count(0.0)),
            )
            .for_(minutes(15))
            .summary("Prometheus misses evaluations of {{ $labels.rule_group }}")
            .description("An evaluation of {{ $labels.rule_group }} took longer than its interval, so the next one was skipped, for {for}: its alerts react late.")
            .diagnosis("An expensive query in the group, or an overloaded Prometheus, stretches each evaluation past the interval.")
            .mitigation("Record the expensive part of the slow rules, lengthen the group's interval, or give Prometheus more CPU."),
            Alert::warning(
                "PrometheusNotificationErrors",
                Self::NOTIFICATIONS_ERRORS_TOTAL
                    .increase()
                    .by([AlertmanagerUrlLabels::ALERTMANAGER])
                    .above(Count(0.0)),
            )
            .for_(minutes(10))
            .summary("Prometheus cannot send alerts to {{ $labels.alertmanager }}")
            .description("Sending alerts from Prometheus to the Alertmanager at {{ $labels.alertmanager }} failed in the last 5 minutes, for {for}: alerts may never reach anyone.")
            .diagnosis("The Alertmanager is down or unreachable from Prometheus, or its address in `alerting.alertmanagers` is wrong.")
            .mitigation("Bring the Alertmanager back, or correct its address in prometheus.yml and reload."),
            Alert::warning(
                "PrometheusNotificationsDropped",
                Self::NOTIFICATIONS_DROPPED_TOTAL.increase().above(Count(0.0)),
            )
            .for_(minutes(10))
            .summary("Prometheus drops alerts it cannot deliver")
            .description("Prometheus on {{ $labels.instance }} dropped alert notifications in the last 5 minutes, for {for}, after failing to deliver them: those alerts are lost.")
            .diagnosis("Every configured Alertmanager failed, or the notification queue overflowed during a storm of alerts.")
            .mitigation("Restore the Alertmanagers, then look at Prometheus' alerts page for what was firing meanwhile."),
            Alert::critical(
                "PrometheusNotIngesting",
                Self::TSDB_HEAD_SAMPLES_APPENDED_TOTAL
                    .rate()
                    .below(PerSecond(0.001)),
            )
            .for_(minutes(10))
            .summary("Prometheus on {{ $labels.instance }} stores no samples")
            .description("Prometheus on {{ $labels.instance }} has appended almost no samples for {for}: scrapes fail or its storage is stuck, and every alert on application metrics is blind.")
            .diagnosis("A full disk, a corrupted head block or a configuration without reachable targets stop ingestion; Prometheus' log says which.")
            .mitigation("Free the storage volume or restart Prometheus; check its targets page once it is back."),
            Alert::warning(
                "PrometheusConfigReloadFailed",
                Self::CONFIG_LAST_RELOAD_SUCCESSFUL.value().equals(Count(0.0)),
            )
            .for_(minutes(10))
            .summary("Prometheus on {{ $labels.instance }} could not load its configuration")
            .description("The last configuration reload of Prometheus on {{ $labels.instance }} failed, for {for}: it still runs the previous rules and scrape jobs.")
            .diagnosis("The new prometheus.yml or a rule file does not parse; `promtool check config` names the line.")
            .mitigation("Correct the file `promtool check config` reports and reload again."),
        ]
    }
}

/// Alertmanager's own metrics: whether notifications reach their receivers.
#[derive(MetricSet)]
#[metric_set(namespace = "alertmanager", external)]
pub struct AlertmanagerServer {
    /// The total number of failed notifications.
    pub notifications_failed_total: Family<IntegrationLabels, Counter>,
    /// The total number of attempted notifications.
    pub notifications_total: Family<IntegrationLabels, Counter>,
    /// Whether the last configuration reload attempt was successful.
    pub config_last_reload_successful: Gauge,
}

/// The `integration` label of Alertmanager's notification metrics.
#[derive(LabelSet)]
pub struct IntegrationLabels {
    /// The receiver integration: `webhook`, `slack`, `pagerduty`, `email`...
    pub integration: String,
}

impl Observe for AlertmanagerServer {
    fn service() -> &'static str {
        "alertmanager"
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::critical(
                "AlertmanagerNotificationsFailing",
                Self::NOTIFICATIONS_FAILED_TOTAL
                    .increase()
                    .by([IntegrationLabels::INTEGRATION])
                    .above(Count(0.0)),
            )
            .for_(minutes(5))
            .summary("Alertmanager fails to deliver {{ $labels.integration }} notifications")
            .description("Alertmanager on {{ $labels.instance }} failed to deliver notifications through {{ $labels.integration }} in the last 5 minutes, for {for}: people are not told about firing alerts.")
            .diagnosis("An expired token or webhook credential, a receiver service outage or blocked egress makes every attempt through the integration fail; Alertmanager's log has the receiver's answer.")
            .mitigation("Renew the integration's secret file or restore the route to the receiver; meanwhile watch Alertmanager's UI for what is firing."),
            Alert::warning(
                "AlertmanagerConfigReloadFailed",
                Self::CONFIG_LAST_RELOAD_SUCCESSFUL.value().equals(Count(0.0)),
            )
            .for_(minutes(10))
            .summary("Alertmanager on {{ $labels.instance }} could not load its configuration")
            .description("The last configuration reload of Alertmanager on {{ $labels.instance }} failed, for {for}: it routes with the previous receivers and inhibitions.")
            .diagnosis("The new alertmanager.yml or a template does not parse; `amtool check-config` names the mistake.")
            .mitigation("Correct what `amtool check-config` reports and reload Alertmanager."),
        ]
    }
}
