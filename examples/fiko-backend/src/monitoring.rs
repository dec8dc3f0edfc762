//! The demo's dashboards and alerts, written against the metric declarations.
//!
//! The demo's own sets implement [`Observe`]. The integration crates' sets
//! (`HttpServerMetrics`, `DbMetrics`, `DbPoolMetrics`, `JobMetrics`, `ProcessMetrics`,
//! `WebSocketMetrics`, `fiko-metrics-redis`' `CacheMetrics` and `RedisMetrics`) get their
//! rows and alerts from plain functions here — the orphan rule keeps the demo from
//! implementing a foreign trait for a foreign type — listed by [`observed`] with every
//! other set in the overview's order. `dashboards-gen`
//! turns that list into the artefacts under `deploy/`.
//!
//! The overview's first rows hold the twelve panels of the seed's dashboard: request
//! rate, requests by route, responses by status class, latency p50/p95/p99, DB queries by
//! operation, Redis memory used vs max, jobs by task and state, queue length, Postgres
//! connections, process memory, AI requests by model and status, workflow executions by
//! status.

use fiko_dashboards::exporters::{PostgresExporter, RedisExporter, ScrapeTargets};
use fiko_dashboards::prelude::*;
use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics::{Family, Gauge, LabelSet, MetricSet, SetDescriptor};
use fiko_metrics_axum::{
    ErrorLabels, HttpServerMetrics, MessageLabels, RequestLabels, WebSocketMetrics,
};
use fiko_metrics_jobs::{JobMetrics, QueueLabels, TaskLabels, TaskStateLabels, WorkerLabels};
use fiko_metrics_process::ProcessMetrics;
use fiko_metrics_redis::{
    CacheLabels, CacheMetrics, CacheOperationLabels, CommandLabels,
    ErrorLabels as RedisErrorLabels, RedisMetrics,
};
use fiko_metrics_sqlx::{DbMetrics, DbPoolMetrics, PoolStateLabels, QueryLabels};

use crate::metrics::{
    AcademyMetrics, ActionLabels, ActivityLabels, AiLabels, AiMetrics, AuthMetrics, BillingMetrics,
    CourseLabels, EnqueueLabels, EnqueueMetrics, ExecutionLabels, InstagramCallLabels,
    InstagramMetrics, LoginFailureLabels, ModelLabels, RegistrationLabels, RevenueLabels,
    TokenLabels, TransactionLabels, UserMetrics, WorkflowMetrics,
};

/// The scrape job of the demo's web instances.
pub const APP_JOB: &str = "fiko-app";
/// The scrape job of the job workers; WorkerDown fires when one of its targets is down.
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
        Observed::new::<HttpServerMetrics>("http", http_rows(), http_alerts()),
        Observed::new::<DbMetrics>("database", db_rows(), Vec::new()),
        Observed::new::<DbPoolMetrics>("database", db_pool_rows(), Vec::new()),
        Observed::of::<RedisExporter>(),
        Observed::new::<JobMetrics>("jobs", jobs_rows(), jobs_alerts()),
        Observed::of::<WorkerTargets>(),
        Observed::of::<PostgresExporter>(),
        Observed::new::<ProcessMetrics>("process", process_rows(), process_alerts()),
        Observed::of::<AiMetrics>(),
        Observed::of::<WorkflowMetrics>(),
        Observed::of::<AuthMetrics>(),
        Observed::of::<UserMetrics>(),
        Observed::of::<BillingMetrics>(),
        Observed::of::<AcademyMetrics>(),
        Observed::of::<InstagramMetrics>(),
        Observed::new::<CacheMetrics>("cache", cache_rows(), Vec::new()),
        Observed::new::<RedisMetrics>("redis", redis_client_rows(), Vec::new()),
        Observed::of::<EnqueueMetrics>(),
        Observed::new::<WebSocketMetrics>("websocket", websocket_rows(), Vec::new()),
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

/// HighErrorRate, HighResponseTime, HighRequestRate.
pub fn http_alerts() -> Vec<Alert> {
    type H = HttpServerMetrics;
    let server_errors = H::HTTP_SERVER_REQUESTS
        .rate()
        .filter(RequestLabels::HTTP_RESPONSE_STATUS_CLASS, "5xx");
    vec![
        Alert::critical(
            "HighErrorRate",
            ratio(server_errors, H::HTTP_SERVER_REQUESTS.rate()).above(Percent(5.0)),
        )
        .for_(minutes(5))
        .summary("High HTTP error rate on {{ $labels.instance }}")
        .description("More than {threshold} of the requests to {{ $labels.instance }} failed with a 5xx status for {for}."),
        Alert::warning(
            "HighResponseTime",
            H::HTTP_SERVER_REQUEST_DURATION_SECONDS
                .quantile(0.95)
                .above(Seconds(2.0)),
        )
        .for_(minutes(5))
        .summary("Slow responses on {{ $labels.instance }}")
        .description("The p95 latency of {{ $labels.instance }} has been above {threshold} for {for}."),
        Alert::warning(
            "HighRequestRate",
            H::HTTP_SERVER_REQUESTS.rate().above(PerSecond(1000.0)),
        )
        .for_(minutes(5))
        .summary("Unusually high request rate on {{ $labels.instance }}")
        .description("{{ $labels.instance }} has served more than {threshold} for {for}; check for a traffic spike or a client loop."),
    ]
}

/// Database: queries by operation (overview), latency, pool connections, errors.
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

/// Database pool connections by state.
pub fn db_pool_rows() -> Vec<Row> {
    vec![
        Row::new("Database pool").panel(
            Panel::timeseries("DB pool connections")
                .query(
                    DbPoolMetrics::POOL_CONNECTIONS
                        .value()
                        .by([PoolStateLabels::STATE]),
                )
                .stacked(),
        ),
    ]
}

/// Jobs: executions by task and state, queue length (overview), duration, workers.
pub fn jobs_rows() -> Vec<Row> {
    vec![
        Row::new("Background jobs")
            .panel(
                Panel::timeseries("Job rate by task and state").query(
                    JobMetrics::TASK_EXECUTIONS
                        .rate()
                        .by([TaskStateLabels::TASK, TaskStateLabels::STATE]),
                ),
            )
            .panel(
                Panel::timeseries("Queue length").query(
                    JobMetrics::QUEUE_LENGTH
                        .value()
                        .by([QueueLabels::QUEUE])
                        .max(),
                ),
            )
            .panel(
                Panel::timeseries("Task duration p95 by task").query(
                    JobMetrics::TASK_DURATION_SECONDS
                        .quantile(0.95)
                        .by([TaskLabels::TASK]),
                ),
            )
            .panel(
                Panel::stat("Workers up")
                    .query(JobMetrics::WORKER_UP.value().by([WorkerLabels::WORKER])),
            ),
    ]
}

/// TaskFailureRate, QueueBacklog.
pub fn jobs_alerts() -> Vec<Alert> {
    let failed = JobMetrics::TASK_EXECUTIONS
        .rate()
        .filter(TaskStateLabels::STATE, "failed")
        .by([TaskStateLabels::TASK]);
    let started = JobMetrics::TASK_EXECUTIONS
        .rate()
        .filter(TaskStateLabels::STATE, "started")
        .by([TaskStateLabels::TASK]);
    vec![
        Alert::warning("TaskFailureRate", ratio(failed, started).above(Percent(10.0)))
            .for_(minutes(10))
            .summary("Task {{ $labels.task }} fails often on {{ $labels.instance }}")
            .description("More than {threshold} of the attempts of {{ $labels.task }} failed for {for}."),
        Alert::warning(
            "QueueBacklog",
            JobMetrics::QUEUE_LENGTH
                .value()
                .by([QueueLabels::QUEUE])
                .max()
                .above(Count(1000.0)),
        )
        .for_(minutes(10))
        .summary("Queue {{ $labels.queue }} is backing up")
        .description("More than {threshold} tasks have waited in {{ $labels.queue }} for {for}; add workers or look for a stuck one."),
    ]
}

/// Prometheus' `up` of the job workers' scrape job, labelled by `job`: a killed worker
/// takes its own metrics with it, so only its target's `up` can tell.
#[derive(MetricSet)]
#[metric_set(external)]
pub struct WorkerTargets {
    /// 1 when Prometheus' last scrape of the target succeeded, 0 otherwise.
    pub up: Family<ScrapeJobLabels, Gauge>,
}

/// The scrape job label.
#[derive(LabelSet)]
pub struct ScrapeJobLabels {
    /// The scrape job.
    pub job: String,
}

impl Observe for WorkerTargets {
    fn service() -> &'static str {
        "jobs"
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::critical(
                "WorkerDown",
                Self::UP
                    .value()
                    .filter(ScrapeJobLabels::JOB, WORKER_JOB)
                    .equals(Count(0.0)),
            )
            .for_(minutes(1))
            .summary("Job worker {{ $labels.instance }} is down")
            .description("Prometheus cannot scrape the job worker {{ $labels.instance }} (up == 0) for {for}: background jobs are not running."),
        ]
    }
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

/// HighCPUUsage, HighMemoryUsage.
pub fn process_alerts() -> Vec<Alert> {
    type P = ProcessMetrics;
    vec![
        Alert::warning(
            "HighCPUUsage",
            P::PROCESS_CPU_SECONDS.rate().above(Percent(80.0)),
        )
        .for_(minutes(10))
        .summary("High CPU usage on {{ $labels.instance }}")
        .description("{{ $labels.instance }} has used more than {threshold} of a CPU for {for}."),
        Alert::warning(
            "HighMemoryUsage",
            P::PROCESS_RESIDENT_MEMORY_BYTES
                .value()
                .above(Bytes::mib(1500)),
        )
        .for_(minutes(10))
        .summary("High memory usage on {{ $labels.instance }}")
        .description(
            "{{ $labels.instance }} has used more than {threshold} of resident memory for {for}.",
        ),
    ]
}

/// WebSockets: connections, messages, duration.
pub fn websocket_rows() -> Vec<Row> {
    type W = WebSocketMetrics;
    vec![
        Row::new("WebSockets")
            .panel(
                Panel::stat("Active WebSocket connections")
                    .query(W::WEBSOCKET_ACTIVE_CONNECTIONS.value()),
            )
            .panel(
                Panel::timeseries("WebSocket messages by direction")
                    .query(W::WEBSOCKET_MESSAGES.rate().by([MessageLabels::DIRECTION])),
            )
            .panel(
                Panel::timeseries("WebSocket bytes by direction").query(
                    W::WEBSOCKET_MESSAGE_BYTES
                        .rate()
                        .by([MessageLabels::DIRECTION]),
                ),
            )
            .panel(
                Panel::timeseries("WebSocket connection duration p95")
                    .query(W::WEBSOCKET_CONNECTION_DURATION_SECONDS.quantile(0.95)),
            ),
    ]
}

/// The cache (`fiko-metrics-redis`' set, recorded by both backends): hit ratio, hits and
/// misses, p95 operation time and errors.
pub fn cache_rows() -> Vec<Row> {
    let hits = || CacheMetrics::HITS.rate().by([CacheLabels::CACHE]);
    let misses = || CacheMetrics::MISSES.rate().by([CacheLabels::CACHE]);
    vec![
        Row::new("Cache")
            .panel(
                Panel::timeseries("Cache hit ratio by cache")
                    .query(ratio(hits(), hits().plus(misses()))),
            )
            .panel(
                Panel::timeseries("Cache hits and misses by cache")
                    .query_as("{{cache}} hits", hits())
                    .query_as("{{cache}} misses", misses()),
            )
            .panel(
                Panel::timeseries("Cache operation p95 by operation").query(
                    CacheMetrics::OPERATION_DURATION_SECONDS
                        .quantile(0.95)
                        .by([CacheOperationLabels::OPERATION]),
                ),
            )
            .panel(
                Panel::timeseries("Cache errors by operation")
                    .description("Failed cache operations; the value was computed instead.")
                    .query(
                        CacheMetrics::ERRORS
                            .rate()
                            .by([CacheOperationLabels::OPERATION]),
                    )
                    .stacked(),
            ),
    ]
}

/// The Redis client (`fiko-metrics-redis`' instrumented connection): commands, latency,
/// errors, in flight.
pub fn redis_client_rows() -> Vec<Row> {
    type R = RedisMetrics;
    vec![
        Row::new("Redis client")
            .panel(
                Panel::timeseries("Redis commands by command")
                    .query(R::COMMANDS.rate().by([CommandLabels::COMMAND]))
                    .stacked(),
            )
            .panel(
                Panel::timeseries("Redis command latency p95 by command").query(
                    R::COMMAND_DURATION_SECONDS
                        .quantile(0.95)
                        .by([CommandLabels::COMMAND]),
                ),
            )
            .panel(
                Panel::timeseries("Redis command latency")
                    .query_as("p50", R::COMMAND_DURATION_SECONDS.quantile(0.5))
                    .query_as("p95", R::COMMAND_DURATION_SECONDS.quantile(0.95))
                    .query_as("p99", R::COMMAND_DURATION_SECONDS.quantile(0.99)),
            )
            .panel(
                Panel::timeseries("Redis client errors by kind")
                    .query(R::ERRORS.rate().by([RedisErrorLabels::KIND]))
                    .stacked(),
            )
            .panel(
                Panel::timeseries("Redis commands in flight").query(R::COMMANDS_IN_FLIGHT.value()),
            ),
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
                "HighCPUUsage",
                "HighErrorRate",
                "HighMemoryUsage",
                "HighRequestRate",
                "HighResponseTime",
                "PostgresDeadlocks",
                "PostgresDown",
                "PostgresHighConnections",
                "QueueBacklog",
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
