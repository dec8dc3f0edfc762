//! The set's default dashboard rows and alerts, for `fiko-dashboards` and
//! `fiko-dashboards-gen`, and the PromQL of WorkerDown on its own
//! ([`worker_down_expr`]), which the tests run against a real Prometheus.

use std::time::Duration;

use fiko_dashboards::prelude::*;
use fiko_metrics::MetricSet;

use crate::metrics::{JobMetrics, QueueLabels, TaskLabels, TaskStateLabels, WorkerLabels};

/// How old a heartbeat may get before WorkerDown fires: above apalis-redis' default
/// backend heartbeat interval (30 s), with room for a scrape interval of up to 60 s.
pub const WORKER_SILENT_FOR: Duration = Duration::from_secs(120);

/// How long after a crash the heartbeat half of WorkerDown keeps firing (the range of
/// `max_over_time`); the worker target's `up == 0` covers longer outages.
pub const WORKER_LOOKBACK: Duration = Duration::from_secs(600);

impl Observe for JobMetrics {
    fn service() -> &'static str {
        "jobs"
    }

    /// "Background jobs": job rate by task and state, queue length, task duration p95,
    /// tasks running, workers up.
    fn rows() -> Vec<Row> {
        vec![
            Row::new("Background jobs")
                .panel(
                    Panel::timeseries("Job rate by task and state")
                        .overview()
                        .query(
                            Self::TASK_EXECUTIONS
                                .rate()
                                .by([TaskStateLabels::TASK, TaskStateLabels::STATE]),
                        ),
                )
                .panel(
                    // Every instance that watches a queue reads the same backend: take the
                    // max, a sum would count the backlog once per instance.
                    Panel::timeseries("Queue length")
                        .overview()
                        .query(Self::QUEUE_LENGTH.value().by([QueueLabels::QUEUE]).max()),
                )
                .panel(
                    Panel::timeseries("Task duration p95 by task").query(
                        Self::TASK_DURATION_SECONDS
                            .quantile(0.95)
                            .by([TaskLabels::TASK]),
                    ),
                )
                .panel(
                    Panel::timeseries("Tasks running by task")
                        .query(Self::TASKS_RUNNING.value().by([TaskLabels::TASK])),
                )
                .panel(
                    Panel::stat("Workers up")
                        .query(Self::WORKER_UP.value().by([WorkerLabels::WORKER])),
                ),
        ]
    }

    /// WorkerDown (critical), TaskFailureRate > 10% and QueueBacklog > 1000 (warnings).
    fn alerts() -> Vec<Alert> {
        let failed = Self::TASK_EXECUTIONS
            .rate()
            .filter(TaskStateLabels::STATE, "failed")
            .by([TaskStateLabels::TASK]);
        let started = Self::TASK_EXECUTIONS
            .rate()
            .filter(TaskStateLabels::STATE, "started")
            .by([TaskStateLabels::TASK]);
        let worker = r#"job="fiko-worker",instance="worker:9000",worker="mailer-1""#;
        vec![
            Alert::critical(
                "WorkerDown",
                raw_condition(&worker_down_expr(WORKER_SILENT_FOR, WORKER_LOOKBACK)),
            )
            .for_(minutes(1))
            .summary("Job worker {{ $labels.worker }} is down on {{ $labels.instance }}")
            .description(
                "Worker {{ $labels.worker }} has stopped, or sent no heartbeat for more than two minutes (crashed, hung, or its process is gone): its queues are not being worked.",
            )
            .diagnosis("A panic in a task, a deadlock or a lost connection to the queue backend stops a worker; its logs around the last heartbeat say which.")
            .mitigation("Restart the worker process; when it stops again, disable the task that kills it.")
            .tested_with(
                AlertTest::new()
                    // Stopped: up 0, heartbeat frozen at the start.
                    .firing(&format!("fiko_jobs_worker_up{{{worker}}}"), "0x20")
                    .firing(
                        &format!("fiko_jobs_worker_last_heartbeat_timestamp_seconds{{{worker}}}"),
                        "0x20",
                    )
                    // Running: up 1, heartbeat keeping up with the clock.
                    .silent(&format!("fiko_jobs_worker_up{{{worker}}}"), "1x20")
                    .silent(
                        &format!("fiko_jobs_worker_last_heartbeat_timestamp_seconds{{{worker}}}"),
                        "0+60x20",
                    )
                    .label("job", "fiko-worker")
                    .label("instance", "worker:9000")
                    .label("worker", "mailer-1"),
            ),
            Alert::warning("TaskFailureRate", ratio(failed, started).above(Percent(10.0)))
                .for_(minutes(10))
                .summary("Task {{ $labels.task }} fails often on {{ $labels.instance }}")
                .description(
                    "More than {threshold} of the attempts of {{ $labels.task }} failed for {for}.",
                )
                .diagnosis("A bad input, an expired credential or a failing downstream service make one task fail repeatedly.")
                .mitigation("Fix the cause the task's error names, then retry the failed runs."),
            Alert::warning(
                "QueueBacklog",
                Self::QUEUE_LENGTH
                    .value()
                    .by([QueueLabels::QUEUE])
                    .max()
                    .above(Count(1000.0)),
            )
            // Every worker reports the same queue: one alert per queue, not per instance.
            .per_job()
            .for_(minutes(10))
            .summary("Queue {{ $labels.queue }} is backing up")
            .description(
                "More than {threshold} tasks have waited in {{ $labels.queue }} for {for}; add workers or look for a stuck one.",
            )
            .diagnosis("Producers enqueue faster than workers finish, or a worker is stuck on one task.")
            .mitigation("Add workers for the queue, or unblock the stuck one; pause the producer when the backlog threatens memory."),
        ]
    }
}

// Found by generators that read the application's registry
// (`Generator::observe_registered`), so applications need not list these sets again.
fiko_dashboards::observed!(JobMetrics);

/// WorkerDown: a worker that stopped (`fiko_jobs_worker_up == 0`) or whose heartbeat is
/// older than `silent_for` — including a worker whose series vanished because its process
/// died: `max_over_time(...[lookback])` still sees the samples from before the series went
/// stale, so the alert fires for `lookback` after a crash (pair it with the worker scrape
/// target's `up == 0` for longer outages).
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(
///     fiko_metrics_jobs::dashboards::worker_down_expr(Duration::from_secs(120), Duration::from_secs(600)),
///     "max by (job, instance, worker) (fiko_jobs_worker_up == 0 or time() - max_over_time(fiko_jobs_worker_last_heartbeat_timestamp_seconds[600s]) > 120)",
/// );
/// ```
pub fn worker_down_expr(silent_for: Duration, lookback: Duration) -> String {
    format!(
        "max by (job, instance, worker) ({up} == 0 or time() - max_over_time({heartbeat}[{lookback}s]) > {silent})",
        up = name("worker_up"),
        heartbeat = name("worker_last_heartbeat_timestamp_seconds"),
        lookback = lookback.as_secs().max(1),
        silent = silent_for.as_secs(),
    )
}

fn name(field: &str) -> &'static str {
    JobMetrics::DESCRIPTOR
        .metric(field)
        .map_or("", |metric| metric.name)
}
