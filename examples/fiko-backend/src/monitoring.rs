//! The demo's dashboards and alerts, written against the metric declarations.
//!
//! The demo's own sets implement [`Observe`] here; the integration crates' sets and the
//! exporters' external sets bring their own rows and alerts (HTTP, WebSockets, process,
//! jobs, database pool, cache, Redis client, redis_exporter, postgres_exporter). The rows
//! of HTTP, process and database queries are the demo's (see [`http_rows`],
//! [`process_rows`], [`db_rows`]). [`observed`] lists them all in
//! the overview's order; `dashboards-gen` turns the list into the artefacts under
//! `deploy/`.
//!
//! The overview's first rows hold the twelve panels of the seed's dashboard: request
//! rate, requests by route, responses by status class, latency p50/p95/p99, DB queries by
//! operation, Redis memory used vs max, jobs by task and state, queue length, Postgres
//! connections, process memory, AI requests by model and status, workflow executions by
//! status.

use fiko_dashboards::exporters::{PostgresExporter, RedisExporter, ScrapeTargets};
use fiko_dashboards::prelude::*;
use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics::{MetricSet, SetDescriptor};
use fiko_metrics_axum::{ErrorLabels, HttpServerMetrics, RequestLabels, WebSocketMetrics};
use fiko_metrics_jobs::JobMetrics;
use fiko_metrics_process::ProcessMetrics;
use fiko_metrics_redis::{CacheMetrics, RedisMetrics};
use fiko_metrics_sqlx::{DbMetrics, DbPoolMetrics, QueryLabels};

use crate::metrics::{
    AcademyMetrics, ActionLabels, ActivityLabels, AiLabels, AiMetrics, AuthMetrics, BillingMetrics,
    CourseLabels, EnqueueLabels, EnqueueMetrics, ExecutionLabels, InstagramCallLabels,
    InstagramMetrics, LoginFailureLabels, ModelLabels, RegistrationLabels, RevenueLabels,
    TokenLabels, TransactionLabels, UserMetrics, WorkflowMetrics,
};

/// The scrape job of the demo's web instances.
pub const APP_JOB: &str = "fiko-app";
/// The scrape job of the job workers.
pub const WORKER_JOB: &str = "fiko-worker";

/// One metric set as the generator reads it: its declaration, the `service` label of its
/// alerts, its dashboard rows and its alerts.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The declaration.
    pub descriptor: &'static SetDescriptor,
    /// The `service` label of its alerts.
    pub service: &'static str,
    /// Dashboard rows.
    pub rows: Vec<Row>,
    /// Alerts.
    pub alerts: Vec<Alert>,
}

impl Observed {
    fn of<S: Observe>() -> Self {
        Self::new::<S>(S::service(), S::rows(), S::alerts())
    }

    fn new<S: MetricSet>(service: &'static str, rows: Vec<Row>, alerts: Vec<Alert>) -> Self {
        Self {
            descriptor: S::DESCRIPTOR,
            service,
            rows,
            alerts,
        }
    }
}

/// Every set the demo's processes and its exporters expose, with its rows and alerts, in
/// the overview dashboard's order.
pub fn observed() -> Vec<Observed> {
    vec![
        // The integrations' alerts with the demo's rows, which keep the seed dashboard's
        // panel titles (`Latency p50 / p95 / p99`, `Process memory (RSS / VMS)`).
        Observed::new::<HttpServerMetrics>(
            HttpServerMetrics::service(),
            http_rows(),
            HttpServerMetrics::alerts(),
        ),
        // The integration's DbMetrics rows also chart slow queries and deadlocks, which a
        // healthy demo never has: these rows keep to what it records, and deadlocks are
        // charted and alerted on from postgres_exporter's counter.
        Observed::new::<DbMetrics>("database", db_rows(), Vec::new()),
        Observed::of::<DbPoolMetrics>(),
        Observed::of::<RedisExporter>(),
        Observed::of::<JobMetrics>(),
        Observed::of::<PostgresExporter>(),
        Observed::new::<ProcessMetrics>(
            ProcessMetrics::service(),
            process_rows(),
            ProcessMetrics::alerts(),
        ),
        Observed::of::<AiMetrics>(),
        Observed::of::<WorkflowMetrics>(),
        Observed::of::<AuthMetrics>(),
        Observed::of::<UserMetrics>(),
        Observed::of::<BillingMetrics>(),
        Observed::of::<AcademyMetrics>(),
        Observed::of::<InstagramMetrics>(),
        Observed::of::<CacheMetrics>(),
        Observed::of::<RedisMetrics>(),
        Observed::of::<EnqueueMetrics>(),
        Observed::of::<WebSocketMetrics>(),
        Observed::of::<FunctionMetrics>(),
        Observed::of::<ScrapeTargets>(),
    ]
}

/// HTTP: the overview's first four panels, then in-flight requests, errors and sizes.
pub fn http_rows() -> Vec<Row> {
    type H = HttpServerMetrics;
    vec![
        Row::new("HTTP")
            .panel(Panel::stat("Request rate").query(H::HTTP_SERVER_REQUESTS.rate()))
            .panel(
                Panel::timeseries("HTTP request rate by route").query(
                    H::HTTP_SERVER_REQUESTS
                        .rate()
                        .by([RequestLabels::HTTP_ROUTE]),
                ),
            )
            .panel(
                Panel::timeseries("Responses by status class")
                    .query(
                        H::HTTP_SERVER_REQUESTS
                            .rate()
                            .by([RequestLabels::HTTP_RESPONSE_STATUS_CLASS]),
                    )
                    .stacked(),
            )
            .panel(
                Panel::timeseries("Latency p50 / p95 / p99")
                    .query_as("p50", H::HTTP_SERVER_REQUEST_DURATION_SECONDS.quantile(0.5))
                    .query_as(
                        "p95",
                        H::HTTP_SERVER_REQUEST_DURATION_SECONDS.quantile(0.95),
                    )
                    .query_as(
                        "p99",
                        H::HTTP_SERVER_REQUEST_DURATION_SECONDS.quantile(0.99),
                    ),
            )
            .panel(
                Panel::timeseries("Requests in flight")
                    .query(H::HTTP_SERVER_ACTIVE_REQUESTS.value()),
            )
            .panel(
                Panel::timeseries("Request errors by type")
                    .query(
                        H::HTTP_SERVER_REQUEST_ERRORS
                            .rate()
                            .by([ErrorLabels::ERROR_TYPE]),
                    )
                    .stacked(),
            )
            .panel(
                Panel::timeseries("Response size p95")
                    .query(H::HTTP_SERVER_RESPONSE_BODY_SIZE_BYTES.quantile(0.95)),
            ),
    ]
}

/// Process: memory RSS/VMS (overview), CPU, open fds.
pub fn process_rows() -> Vec<Row> {
    type P = ProcessMetrics;
    vec![
        Row::new("Process")
            .panel(
                Panel::timeseries("Process memory (RSS / VMS)")
                    .query_as(
                        "RSS",
                        P::PROCESS_RESIDENT_MEMORY_BYTES.value().by_instance(),
                    )
                    .query_as("VMS", P::PROCESS_VIRTUAL_MEMORY_BYTES.value().by_instance()),
            )
            .panel(
                Panel::timeseries("CPU usage").query(P::PROCESS_CPU_SECONDS.rate().by_instance()),
            )
            .panel(
                Panel::timeseries("Open file descriptors")
                    .query(P::PROCESS_OPEN_FDS.value().by_instance()),
            ),
    ]
}

/// Database queries: rate by operation (overview), latency by operation, errors — the
/// integration's rows without its slow-query and deadlock panels, which a healthy demo
/// leaves empty.
pub fn db_rows() -> Vec<Row> {
    vec![
        Row::new("Database")
            .panel(
                Panel::timeseries("DB query rate by operation")
                    .query(DbMetrics::QUERIES.rate().by([QueryLabels::OPERATION]))
                    .stacked(),
            )
            .panel(
                Panel::timeseries("DB query latency p95 by operation").query(
                    DbMetrics::QUERY_DURATION_SECONDS
                        .quantile(0.95)
                        .by([QueryLabels::OPERATION]),
                ),
            )
            .panel(Panel::timeseries("DB query errors").query(DbMetrics::QUERY_ERRORS.rate())),
    ]
}

impl Observe for AiMetrics {
    fn service() -> &'static str {
        "ai"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("AI")
                .panel(
                    Panel::timeseries("AI request rate by model and status").query(
                        Self::REQUESTS
                            .rate()
                            .by([AiLabels::MODEL, AiLabels::STATUS]),
                    ),
                )
                .panel(
                    Panel::timeseries("Tokens per second by model and kind")
                        .query(
                            Self::TOKENS
                                .rate()
                                .by([TokenLabels::MODEL, TokenLabels::KIND]),
                        )
                        .stacked(),
                )
                .panel(
                    Panel::stat("AI cost in the last hour (USD)")
                        .query(Self::COST.increase().by([ModelLabels::MODEL])),
                )
                .panel(
                    Panel::timeseries("AI latency p95 by model").query(
                        Self::REQUEST_DURATION_SECONDS
                            .quantile(0.95)
                            .by([ModelLabels::MODEL]),
                    ),
                ),
        ]
    }
}

impl Observe for WorkflowMetrics {
    fn service() -> &'static str {
        "workflows"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Workflows")
                .panel(
                    Panel::timeseries("Workflow execution rate by status")
                        .query(Self::EXECUTIONS.rate().by([ExecutionLabels::STATUS]))
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Workflow actions by action and status").query(
                        Self::ACTIONS
                            .rate()
                            .by([ActionLabels::ACTION, ActionLabels::STATUS]),
                    ),
                )
                .panel(
                    Panel::timeseries("Workflow execution time p95")
                        .query(Self::EXECUTION_DURATION_SECONDS.quantile(0.95)),
                ),
        ]
    }
}

impl Observe for AuthMetrics {
    fn service() -> &'static str {
        "auth"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Authentication")
                .panel(
                    Panel::timeseries("Login attempts and failures")
                        .query_as("attempts", Self::LOGIN_ATTEMPTS.rate())
                        .query(Self::LOGIN_FAILURES.rate().by([LoginFailureLabels::REASON])),
                )
                .panel(Panel::stat("Active sessions").query(Self::ACTIVE_SESSIONS.value().max()))
                .panel(
                    Panel::timeseries("Password hashing p95")
                        .query(Self::PASSWORD_HASH_DURATION_SECONDS.quantile(0.95)),
                ),
        ]
    }
}

impl Observe for UserMetrics {
    fn service() -> &'static str {
        "users"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Users")
                .panel(
                    Panel::timeseries("Registrations by outcome")
                        .query(Self::REGISTRATIONS.rate().by([RegistrationLabels::OUTCOME]))
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("User activity by action")
                        .query(Self::ACTIVITY.rate().by([ActivityLabels::ACTION]))
                        .stacked(),
                ),
        ]
    }
}

impl Observe for BillingMetrics {
    fn service() -> &'static str {
        "billing"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Billing")
                .panel(
                    Panel::timeseries("Transactions by plan and status").query(
                        Self::TRANSACTIONS
                            .rate()
                            .by([TransactionLabels::PLAN, TransactionLabels::STATUS]),
                    ),
                )
                .panel(
                    Panel::stat("Revenue in the last hour by currency")
                        .query(Self::REVENUE.increase().by([RevenueLabels::CURRENCY])),
                ),
        ]
    }
}

impl Observe for AcademyMetrics {
    fn service() -> &'static str {
        "academy"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Academy")
                .panel(
                    Panel::timeseries("Video views by course")
                        .query(Self::VIDEO_VIEWS.rate().by([CourseLabels::COURSE]))
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Watch time by course")
                        .query(Self::WATCH_SECONDS.rate().by([CourseLabels::COURSE])),
                ),
        ]
    }
}

impl Observe for InstagramMetrics {
    fn service() -> &'static str {
        "instagram"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Instagram")
                .panel(
                    Panel::timeseries("Instagram API calls by result")
                        .query(Self::API_CALLS.rate().by([InstagramCallLabels::RESULT]))
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Instagram API latency p95")
                        .query(Self::API_CALL_DURATION_SECONDS.quantile(0.95)),
                ),
        ]
    }
}

impl Observe for EnqueueMetrics {
    fn service() -> &'static str {
        "jobs"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Job enqueueing").panel(
                Panel::timeseries("Jobs enqueued by task and outcome").query(
                    Self::ENQUEUED
                        .rate()
                        .by([EnqueueLabels::TASK, EnqueueLabels::OUTCOME]),
                ),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alert_and_panel_is_valid_and_the_seed_alerts_are_all_there() {
        let sets = observed();
        let alerts: Vec<&Alert> = sets.iter().flat_map(|s| &s.alerts).collect();
        for alert in &alerts {
            assert!(
                alert.problems().is_empty(),
                "{}: {:?}",
                alert.name,
                alert.problems()
            );
        }
        let mut names: Vec<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "DbPoolAcquireTimeouts",
                "DbPoolSaturated",
                "HighCPUUsage",
                "HighErrorRate",
                "HighMemoryUsage",
                "HighRequestRate",
                "HighResponseTime",
                "PostgresDeadlocks",
                "PostgresDown",
                "PostgresHighConnections",
                "QueueBacklog",
                "RedisClientReconnecting",
                "RedisDown",
                "RedisHighMemoryUsage",
                "RedisRejectedConnections",
                "TaskFailureRate",
                "WorkerDown",
            ]
        );
    }

    #[test]
    fn the_overview_starts_with_the_seed_dashboards_twelve_panels() {
        let titles: Vec<String> = observed()
            .iter()
            .flat_map(|s| s.rows.iter())
            .flat_map(|r| r.panels.iter())
            .map(|p| p.title.clone())
            .collect();
        for wanted in [
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
        ] {
            assert!(
                titles.iter().any(|t| t == wanted),
                "missing panel {wanted}: {titles:?}"
            );
        }
    }
}
