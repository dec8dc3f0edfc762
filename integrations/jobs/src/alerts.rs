//! The PromQL of the alerts this crate's metrics are made for.
//!
//! Typed dashboards and alerts live in `fiko-dashboards`; these strings are what they
//! render to, kept here so the WorkerDown design is stated (and tested against a real
//! Prometheus) next to the metrics it relies on.

use std::time::Duration;

use fiko_metrics::MetricSet;

use crate::JobMetrics;

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
///     fiko_metrics_jobs::alerts::worker_down_expr(Duration::from_secs(120), Duration::from_secs(600)),
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
