//! The job metrics declaration: `fiko_jobs_*`.

use std::sync::Arc;

use fiko_metrics::{
    Counter, CounterWithExemplar, Family, Gauge, Histogram, LabelSet, LabelValue, MetricSet,
};

/// Background job metrics, the Celery worker's: executions by task and state, run time,
/// tasks running, queue length read from the queue backend, and worker liveness.
///
/// Register it with [`Jobs::register`](crate::Jobs::register), which also refreshes worker
/// liveness and queue lengths at every scrape; `JobMetrics::register`/`global` alone would
/// expose those as never updated.
///
/// Executions and run times record exemplars (a `CounterWithExemplar` family;
/// `#[metric(exemplars)]` on the histogram): with an exemplar source installed
/// ([`fiko_metrics::exemplar::set_source`]), each keeps the trace the attempt started in.
#[derive(MetricSet)]
#[metric_set(namespace = "fiko", subsystem = "jobs")]
pub struct JobMetrics {
    /// Task executions, by task and state: every attempt counts as `started` and ends
    /// `succeeded` or `failed`; attempts after the first also count as `retried`.
    pub task_executions: Family<TaskStateLabels, CounterWithExemplar>,
    /// Task attempt run time, by task.
    #[metric(exemplars, buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0])]
    pub task_duration_seconds: Family<TaskLabels, Histogram>,
    /// Tasks running now, by task.
    pub tasks_running: Family<TaskLabels, Gauge>,
    /// Tasks waiting in the queue backend, by queue, read from the backend at scrape time.
    pub queue_length: Family<QueueLabels, Gauge>,
    /// Failed or timed-out reads of queue lengths from the queue backend.
    pub queue_read_errors: Counter,
    /// 1 while the worker runs, 0 once it has stopped or was dropped.
    pub worker_up: Family<WorkerLabels, Gauge>,
    /// Unix time of the worker's last heartbeat; frozen once the worker stops.
    pub worker_last_heartbeat_timestamp_seconds: Family<WorkerLabels, Gauge<f64>>,
}

/// Labels of per-task metrics.
#[derive(Clone, Debug, LabelSet)]
pub struct TaskLabels {
    /// The task name (bounded by the metric's series limit).
    pub task: &'static str,
}

/// Labels of [`JobMetrics::task_executions`].
#[derive(Clone, Debug, LabelSet)]
pub struct TaskStateLabels {
    /// The task name.
    pub task: &'static str,
    /// What happened.
    pub state: TaskState,
}

/// The states a task execution is counted in, Celery's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, LabelValue)]
pub enum TaskState {
    /// An attempt started (every attempt, retries included).
    Started,
    /// An attempt finished successfully.
    Succeeded,
    /// An attempt finished with an error, panicked or was cancelled.
    Failed,
    /// An attempt after the first started: the task is being retried.
    Retried,
}

/// Labels of [`JobMetrics::queue_length`].
#[derive(Clone, Debug, LabelSet)]
pub struct QueueLabels {
    /// The queue name, as the backend knows it.
    pub queue: String,
}

/// Labels of the worker liveness metrics.
#[derive(Clone, Debug, LabelSet)]
pub struct WorkerLabels {
    /// The worker name.
    pub worker: Arc<str>,
}
