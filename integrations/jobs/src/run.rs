//! Recording one task execution, framework-neutral.

use std::sync::Arc;
use std::time::Instant;

use fiko_metrics::exemplar::{self, ExemplarLabels};

use crate::metrics::{JobMetrics, TaskLabels, TaskState, TaskStateLabels};

/// One task attempt in progress; made by [`Jobs::start_task`](crate::Jobs::start_task).
///
/// Counts `started` (and `retried` for a retry) when made, keeps the task in
/// `fiko_jobs_tasks_running` while alive, and records the outcome and the duration when
/// finished. Every attempt is counted, so `started = succeeded + failed + running` and a
/// task that fails twice before succeeding counts `failed 2`, `retried 2`, `succeeded 1`. Dropped without [`succeeded`](Self::succeeded) or [`failed`](Self::failed) — a
/// panic unwinding through it, a cancelled future — it counts as `failed`, so nothing stays
/// running.
#[must_use = "a task run records its outcome when finished or dropped"]
pub struct TaskRun {
    metrics: Arc<JobMetrics>,
    task: &'static str,
    start: Instant,
    done: bool,
    // The installed exemplar source's labels as the attempt started (its trace), if the
    // task metrics record exemplars; the source is not asked otherwise.
    exemplar: Option<ExemplarLabels>,
}

impl std::fmt::Debug for TaskRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRun")
            .field("task", &self.task)
            .field("elapsed", &self.start.elapsed())
            .finish()
    }
}

impl TaskRun {
    pub(crate) fn start(metrics: Arc<JobMetrics>, task: &'static str, is_retry: bool) -> Self {
        let exemplar = if metrics.task_executions.records_exemplars()
            || metrics.task_duration_seconds.records_exemplars()
        {
            exemplar::from_source()
        } else {
            None
        };
        let labels = exemplar.as_ref();
        count(&metrics, task, TaskState::Started, 1, labels);
        if is_retry {
            count(&metrics, task, TaskState::Retried, 1, labels);
        }
        metrics
            .tasks_running
            .get_or_create(&TaskLabels { task })
            .inc();
        Self {
            metrics,
            task,
            start: Instant::now(),
            done: false,
            exemplar,
        }
    }

    /// Records `n` earlier attempts that ran and failed inside this execution, each followed
    /// by a retry (a retry middleware below the one recording): each counts as `started`,
    /// `failed` and, for the attempt after it, `retried`.
    pub fn failed_and_retried(&self, n: u64) {
        if n > 0 {
            let labels = self.exemplar.as_ref();
            count(&self.metrics, self.task, TaskState::Started, n, labels);
            count(&self.metrics, self.task, TaskState::Failed, n, labels);
            count(&self.metrics, self.task, TaskState::Retried, n, labels);
        }
    }

    /// The attempt succeeded.
    pub fn succeeded(mut self) {
        self.finish(TaskState::Succeeded);
    }

    /// The attempt failed (whether or not it will be retried).
    pub fn failed(mut self) {
        self.finish(TaskState::Failed);
    }

    fn finish(&mut self, state: TaskState) {
        if self.done {
            return;
        }
        self.done = true;
        count(&self.metrics, self.task, state, 1, self.exemplar.as_ref());
        let labels = TaskLabels { task: self.task };
        let duration = self.metrics.task_duration_seconds.get_or_create(&labels);
        let seconds = self.start.elapsed().as_secs_f64();
        match &self.exemplar {
            Some(exemplar) => duration.observe_with_exemplar(seconds, exemplar),
            None => duration.observe(seconds),
        }
        self.metrics.tasks_running.get_or_create(&labels).dec();
    }
}

impl Drop for TaskRun {
    fn drop(&mut self) {
        self.finish(TaskState::Failed);
    }
}

fn count(
    metrics: &JobMetrics,
    task: &'static str,
    state: TaskState,
    n: u64,
    exemplar: Option<&ExemplarLabels>,
) {
    let counter = metrics
        .task_executions
        .get_or_create(&TaskStateLabels { task, state });
    match exemplar {
        Some(labels) => counter.inc_by_with_exemplar(n, labels),
        None => counter.inc_by(n),
    }
}
