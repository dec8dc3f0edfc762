//! The demo's dashboards and alerts, written against the metric declarations.
//!
//! The demo's own sets implement [`Observe`] here; the integration crates' sets and the
//! exporters' external sets bring their own rows and alerts (HTTP, WebSockets, process,
//! jobs, database pool, cache, Redis client, redis_exporter, postgres_exporter).
//! [`deployment::generator`](crate::deployment::generator) lists them all in the
//! overview's order, with the demo's differences from the integrations' defaults, and
//! `dashboards-gen` turns it into the artefacts under `deploy/`.
//!
//! The overview's first rows hold the twelve panels of the seed's dashboard: request
//! rate, requests by route, responses by status class, latency p50/p95/p99, DB queries by
//! operation, Redis memory used vs max, jobs by task and state, queue length, Postgres
//! connections, process memory, AI requests by model and status, workflow executions by
//! status.

use fiko_dashboards::prelude::*;

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

impl Observe for AiMetrics {
    fn service() -> &'static str {
        "ai"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("AI")
                .panel(
                    Panel::timeseries("AI request rate by model and status").overview().query(
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
                        .description("What the AI model calls of the last hour cost, by model, in US dollars. Bad: a model's cost jumping above its usual hourly spend (a loop or an abusive user).")
                        .query(Self::COST.increase_over(hours(1)).by([ModelLabels::MODEL])),
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
                        .overview()
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
                        .description("Revenue of the transactions that succeeded in the last hour, one value per currency in that currency. Bad: zero for an hour when sales are expected (checkout broken).")
                        .query(
                            Self::REVENUE
                                .increase_over(hours(1))
                                .by([RevenueLabels::CURRENCY]),
                        ),
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
                    Panel::timeseries("Watch time by course in the last hour")
                        .description("Seconds of video watched in the last hour, by course. Bad: a course falling to zero while others keep their audience (its videos fail to play).")
                        .query(
                            Self::WATCH_SECONDS
                                .increase_over(hours(1))
                                .by([CourseLabels::COURSE]),
                        ),
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
