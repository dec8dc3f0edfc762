//! What `cargo run -p dashboards-gen` generates: the Fiko Backend demo's metric sets —
//! which include the integrations' sets (HTTP, database, jobs, process, tokio runtime,
//! WebSockets), the
//! exporters' external sets, Prometheus' `up` and the runtime's `FunctionMetrics`, each
//! with its rows and alerts — and the scrape jobs of its deployment.
//!
//! Where the demo's dashboard differs from an integration's defaults it says so through
//! [`Generator::customize`]: it keeps the seed dashboard's panel titles (`Latency p50 /
//! p95 / p99`, `Process memory (RSS / VMS)`), and leaves out the slow-query and deadlock
//! panels of the database row, which a healthy demo never fills (deadlocks are charted
//! and alerted on from postgres_exporter's counter). Its HTTP API declares an availability
//! SLO, whose burn-rate alerts page, so HighErrorRate is tuned down to a warning.

use fiko_dashboards::RuntimeSelfMetrics;
use fiko_dashboards::monitoring::{AlertmanagerServer, PrometheusServer, ScrapeTargets};
use fiko_dashboards::prelude::*;
use fiko_dashboards_gen::{Generator, ScaleOut};
use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics_axum::RequestLabels;
use fiko_metrics_axum::{EndpointMetrics, HttpServerMetrics, WebSocketMetrics};
use fiko_metrics_jobs::JobMetrics;
use fiko_metrics_jobs::TaskStateLabels;
use fiko_metrics_process::ProcessMetrics;
use fiko_metrics_redis::RedisExporter;
use fiko_metrics_redis::{CacheMetrics, RedisMetrics};
use fiko_metrics_sqlx::PostgresExporter;
use fiko_metrics_sqlx::{DbMetrics, DbPoolMetrics};
use fiko_metrics_tokio::TokioMetrics;

use crate::metrics::{
    AcademyMetrics, AiMetrics, AuthMetrics, BillingMetrics, EnqueueMetrics, InstagramMetrics,
    UserMetrics, WorkflowMetrics,
};
use crate::monitoring::{APP_JOB, WORKER_JOB};

/// The application's name in the output: rule groups `fiko.*`, Grafana folder "Fiko",
/// dashboard `fiko-overview`, jobs `fiko-app` and `fiko-worker`.
pub const NAME: &str = "fiko";

/// Where the repository publishes the generated `deploy/RUNBOOKS.md`: every alert's
/// `runbook_url` is this absolute URL and `#alertname`.
pub const RUNBOOK_BASE: &str = "https://github.com/fiko/fiko-metrics/blob/main/deploy/RUNBOOKS.md";

/// The Grafana of the demo deployment (`docker compose` publishes it on port 3000).
pub const GRAFANA_URL: &str = "http://localhost:3000";

/// The titles of the twelve panels of the original Fiko Backend's dashboard, which the
/// generated overview keeps (the tests look for each of them in it).
pub const SEED_PANELS: [&str; 12] = [
    "Request rate",
    "HTTP request rate by route",
    "Responses by status class",
    "Latency p50 / p95 / p99",
    "DB query rate by operation",
    "Redis memory used vs max",
    "Job rate by task and state",
    "Queue length",
    "Postgres connections",
    "Process memory (RSS / VMS)",
    "AI request rate by model and status",
    "Workflow execution rate by status",
];
/// The demo's service level objectives: the HTTP API answers without a server error
/// (99.9% over 30 days), answers within half a second (99% over 30 days), and background
/// jobs finish successfully (99% of attempts over 30 days).
pub fn slos() -> Vec<Slo> {
    type H = HttpServerMetrics;
    vec![
        Slo::availability(
            "HttpAvailability",
            H::HTTP_SERVER_REQUESTS.rate(),
            RequestLabels::HTTP_RESPONSE_STATUS_CLASS,
            &["5xx"],
        )
        .objective(Percent(99.9))
        .over(days(30))
        .description("99.9% of HTTP API requests get a response other than a 5xx")
        .service("app"),
        Slo::latency(
            "HttpLatency",
            H::HTTP_SERVER_REQUEST_DURATION_SECONDS,
            Seconds(0.5),
        )
        .objective(Percent(99.0))
        .over(days(30))
        .description("99% of HTTP API requests are answered within 500 ms")
        .service("app"),
        Slo::availability(
            "JobSuccess",
            JobMetrics::TASK_EXECUTIONS
                .rate()
                .filter_regex(TaskStateLabels::STATE, "succeeded|failed"),
            TaskStateLabels::STATE,
            &["failed"],
        )
        .objective(Percent(99.0))
        .over(days(30))
        .description("99% of background job attempts succeed")
        .service("jobs"),
    ]
}

/// The generator for this repository's demo deployment: every set the demo's processes
/// and its exporters expose, in the overview dashboard's order, the web app at
/// `app:8000` (`/api/v1/metrics`), a job worker at `worker:9100`, redis_exporter,
/// postgres_exporter and Prometheus itself, and the demo's [`slos`].
pub fn generator() -> Generator {
    type H = HttpServerMetrics;
    type P = ProcessMetrics;
    let latency = H::HTTP_SERVER_REQUEST_DURATION_SECONDS;
    Generator::new(NAME)
        .observe::<HttpServerMetrics>()
        .customize::<HttpServerMetrics>(|set| {
            set.replace_panel(
                "HTTP",
                "Request latency",
                Panel::timeseries("Latency p50 / p95 / p99")
                    .overview()
                    .query_as("p50", latency.quantile(0.5))
                    .query_as("p95", latency.quantile(0.95))
                    .query_as("p99", latency.quantile(0.99)),
            )
            .replace_panel(
                "HTTP",
                "Requests in flight by route",
                Panel::timeseries("Requests in flight")
                    .query(H::HTTP_SERVER_ACTIVE_REQUESTS.value()),
            )
            .replace_panel(
                "HTTP",
                "Response body size p95 by route",
                Panel::timeseries("Response size p95")
                    .query(H::HTTP_SERVER_RESPONSE_BODY_SIZE_BYTES.quantile(0.95)),
            )
            // The availability SLO's burn-rate alerts page for failing requests (one per
            // window pair, sized to the error budget); the 5% threshold stays as a
            // warning, a coarse early signal that would otherwise page a second time.
            .tune("HighErrorRate", |alert| alert.severity = Severity::Warning)
        })
        .observe::<DbMetrics>()
        .customize::<DbMetrics>(|set| {
            set.drop_panel("Database", "DB query latency")
                .replace_panel(
                    "Database",
                    "DB query errors by kind and class",
                    Panel::timeseries("DB query errors").query(DbMetrics::QUERY_ERRORS.rate()),
                )
                .drop_panel("Database", "Slow DB queries by query")
                .drop_panel("Database", "DB deadlocks by pool")
        })
        .observe::<DbPoolMetrics>()
        .observe::<RedisExporter>()
        .observe::<JobMetrics>()
        .observe::<PostgresExporter>()
        .observe::<ProcessMetrics>()
        .customize::<ProcessMetrics>(|set| {
            set.replace_panel(
                "Process",
                "Process memory",
                Panel::timeseries("Process memory (RSS / VMS)")
                    .overview()
                    .query_as(
                        "{{instance}} RSS",
                        P::PROCESS_RESIDENT_MEMORY_BYTES.value().by_instance(),
                    )
                    .query_as(
                        "{{instance}} VMS",
                        P::PROCESS_VIRTUAL_MEMORY_BYTES.value().by_instance(),
                    ),
            )
            .replace_panel(
                "Process",
                "Process CPU usage",
                Panel::timeseries("CPU usage").query(P::PROCESS_CPU_SECONDS.rate().by_instance()),
            )
            .replace_panel(
                "Process",
                "Open file descriptors",
                Panel::timeseries("Open file descriptors")
                    .query(P::PROCESS_OPEN_FDS.value().by_instance()),
            )
        })
        .observe::<AiMetrics>()
        .observe::<WorkflowMetrics>()
        .observe::<AuthMetrics>()
        .observe::<UserMetrics>()
        .observe::<BillingMetrics>()
        .observe::<AcademyMetrics>()
        .observe::<InstagramMetrics>()
        .observe::<CacheMetrics>()
        .observe::<RedisMetrics>()
        .observe::<EnqueueMetrics>()
        .observe::<WebSocketMetrics>()
        // Refused requests to the metrics and health endpoints (`MetricsEndpoints` records
        // them in the registry it serves).
        .observe::<EndpointMetrics>()
        .observe::<TokioMetrics>()
        .observe::<FunctionMetrics>()
        .observe::<RuntimeSelfMetrics>()
        .observe::<ScrapeTargets>()
        .observe::<PrometheusServer>()
        .observe::<AlertmanagerServer>()
        .slos(slos())
        .scrape(APP_JOB, "/api/v1/metrics", &["app:8000"])
        .scrape(WORKER_JOB, "/metrics", &["worker:9100"])
        .scrape("redis", "/metrics", &["redis-exporter:9121"])
        .scrape("postgres", "/metrics", &["postgres-exporter:9187"])
        .scrape("prometheus", "/metrics", &["localhost:9090"])
        .scrape("alertmanager", "/metrics", &["alertmanager:9093"])
        .serves::<RedisExporter>("redis")
        .serves::<PostgresExporter>("postgres")
        .serves::<PrometheusServer>("prometheus")
        .serves::<AlertmanagerServer>("alertmanager")
        .runbook_base(RUNBOOK_BASE)
        .grafana_url(GRAFANA_URL)
        // Secrets stay in files mounted beside Alertmanager, never in the generated config.
        .notify_webhook(
            "http://alert-receiver:8080/alerts",
            Some("/etc/alertmanager/secrets/webhook-token"),
        )
        .notify_slack("/etc/alertmanager/secrets/slack-api-url", "#fiko-alerts")
        .notify_pagerduty("/etc/alertmanager/secrets/pagerduty-routing-key")
        .notify_email(
            "oncall@fiko.example",
            "alertmanager@fiko.example",
            "smtp:587",
        )
        .dead_mans_switch("http://deadmansswitch:8080/ping")
        // Outgrown one Prometheus: two replicas writing into VictoriaMetrics, rules in
        // vmalert (`deploy/scale-out/`).
        .scale_out(
            ScaleOut::victoria_metrics("http://victoria-metrics:8428")
                .cluster(NAME)
                .replica_job("prometheus", &["prometheus-a:9090", "prometheus-b:9090"]),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artefacts() -> fiko_dashboards_gen::Artefacts {
        generator().generate().unwrap()
    }

    #[test]
    fn the_job_names_are_the_applications() {
        let settings = generator().settings().clone();
        assert_eq!(APP_JOB, settings.job_name("app"));
        assert_eq!(WORKER_JOB, settings.job_name("worker"));
    }

    #[test]
    fn every_alert_and_panel_is_valid_and_the_seed_alerts_are_all_there() {
        let artefacts = artefacts();
        let alerts = artefacts.get("prometheus/alerts.yml").unwrap();
        let mut names: Vec<&str> = alerts
            .lines()
            .filter_map(|line| line.trim().strip_prefix("- alert: "))
            .map(|name| name.trim_matches('"'))
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "AlertmanagerConfigReloadFailed",
                "AlertmanagerNotificationsFailing",
                "DbPoolAcquireTimeouts",
                "DbPoolSaturated",
                "HighCPUUsage",
                "HighErrorRate",
                "HighMemoryUsage",
                "HighRequestRate",
                "HighResponseTime",
                "LabelOverflow",
                "PostgresDeadlocks",
                "PostgresDown",
                "PostgresExporterDown",
                "PostgresHighConnections",
                "PrometheusConfigReloadFailed",
                "PrometheusMissedRuleEvaluations",
                "PrometheusNotIngesting",
                "PrometheusNotificationErrors",
                "PrometheusNotificationsDropped",
                "PrometheusRuleEvaluationFailures",
                "QueueBacklog",
                "RedisClientReconnecting",
                "RedisDown",
                "RedisExporterDown",
                "RedisHighMemoryUsage",
                "RedisRejectedConnections",
                "RefusedScrapes",
                "TargetDown",
                "TargetMissing",
                "TaskFailureRate",
                "TokioGlobalQueueBacklog",
                "TokioWorkersSaturated",
                "Watchdog",
                "WorkerDown",
            ]
        );
    }

    #[test]
    fn the_overview_starts_with_the_seed_dashboards_twelve_panels() {
        let artefacts = artefacts();
        let dashboard = artefacts
            .get("grafana/dashboards/fiko-overview.json")
            .unwrap();
        for wanted in crate::deployment::SEED_PANELS {
            assert!(
                dashboard.contains(&format!("\"title\": \"{wanted}\"")),
                "missing panel {wanted}"
            );
        }
        for dropped in ["Slow DB queries by query", "DB deadlocks by pool"] {
            assert!(!dashboard.contains(dropped), "{dropped}");
        }
    }
}
