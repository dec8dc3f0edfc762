//! Recording one task execution, framework-neutral.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use fiko_metrics::exemplar::{self, ExemplarLabels};
use fiko_metrics::labels::closed_len;
use fiko_metrics::{CounterWithExemplar, Family, Gauge, Histogram, LabelValue, Metric, SeriesId};

use crate::metrics::{JobMetrics, TaskLabels, TaskState, TaskStateLabels};

const STATES: usize = closed_len::<TaskState>();

/// The series of one task in its metrics, each looked up on its first use and then
/// recorded by [`SeriesId`]: a worker's service keeps one for its task, so an attempt
/// records without rendering or hashing the task name.
pub(crate) struct TaskSeries {
    metrics: Arc<JobMetrics>,
    task: &'static str,
    running: OnceLock<SeriesId<TaskLabels, Gauge>>,
    duration: OnceLock<SeriesId<TaskLabels, Histogram>>,
    executions: [OnceLock<SeriesId<TaskStateLabels, CounterWithExemplar>>; STATES],
}

impl TaskSeries {
    pub(crate) fn new(metrics: Arc<JobMetrics>, task: &'static str) -> Self {
        Self {
            metrics,
            task,
            running: OnceLock::new(),
            duration: OnceLock::new(),
            executions: Default::default(),
        }
    }

    /// The task name.
    pub(crate) fn task(&self) -> &'static str {
        self.task
    }

    /// The metrics the series are in.
    pub(crate) fn metrics(&self) -> &Arc<JobMetrics> {
        &self.metrics
    }

    fn by_task<'a, M: Metric>(
        &self,
        family: &'a Family<TaskLabels, M>,
        id: &OnceLock<SeriesId<TaskLabels, M>>,
    ) -> &'a M {
        family.series(*id.get_or_init(|| family.series_id(&TaskLabels { task: self.task })))
    }

    fn running(&self) -> &Gauge {
        self.by_task(&self.metrics.tasks_running, &self.running)
    }

    fn duration(&self) -> &Histogram {
        self.by_task(&self.metrics.task_duration_seconds, &self.duration)
    }

    fn executions(&self, state: TaskState) -> &CounterWithExemplar {
        let family = &self.metrics.task_executions;
        let lookup = || {
            family.series_id(&TaskStateLabels {
                task: self.task,
                state,
            })
        };
        // Every state has a slot (the array has one per value).
        match self.executions.get(state.index()) {
            Some(id) => family.series(*id.get_or_init(lookup)),
            None => family.series(lookup()),
        }
    }
}

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
    series: Arc<TaskSeries>,
    start: Instant,
    done: bool,
    // The installed exemplar source's labels as the attempt started (its trace), if the
    // task metrics record exemplars; the source is not asked otherwise.
    exemplar: Option<ExemplarLabels>,
}

impl std::fmt::Debug for TaskRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRun")
            .field("task", &self.series.task)
            .field("elapsed", &self.start.elapsed())
            .finish()
    }
}

impl TaskRun {
    pub(crate) fn start(series: Arc<TaskSeries>, is_retry: bool) -> Self {
        let metrics = series.metrics();
        let exemplar = if metrics.task_executions.records_exemplars()
            || metrics.task_duration_seconds.records_exemplars()
        {
            exemplar::from_source()
        } else {
            None
        };
        let labels = exemplar.as_ref();
        series
            .executions(TaskState::Started)
            .inc_with_exemplar(labels);
        if is_retry {
            series
                .executions(TaskState::Retried)
                .inc_with_exemplar(labels);
        }
        series.running().inc();
        Self {
            series,
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
            self.series
                .executions(TaskState::Started)
                .inc_by_with_exemplar(n, labels);
            self.series
                .executions(TaskState::Failed)
                .inc_by_with_exemplar(n, labels);
            self.series
                .executions(TaskState::Retried)
                .inc_by_with_exemplar(n, labels);
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
        self.series
            .executions(state)
            .inc_with_exemplar(self.exemplar.as_ref());
        self.series
            .duration()
            .observe_with_exemplar(self.start.elapsed().as_secs_f64(), self.exemplar.as_ref());
        self.series.running().dec();
    }
}

impl Drop for TaskRun {
    fn drop(&mut self) {
        self.finish(TaskState::Failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fiko_metrics::MetricSet;

    /// A task's series are looked up once per `TaskSeries` (a worker service keeps one),
    /// then recorded by `SeriesId`: past the families' series limit, a new task folds into
    /// the overflow series once per series however many attempts run; a fresh
    /// `TaskSeries` per attempt (a task started by name past `NAMED_TASKS` names) looks
    /// its series up per attempt.
    #[test]
    fn a_task_looks_its_series_up_once() {
        let metrics = Arc::new(JobMetrics::new());
        for i in 0..fiko_metrics::family::DEFAULT_MAX_SERIES {
            let task: &'static str = Box::leak(format!("task{i}").into_boxed_str());
            metrics.tasks_running.get_or_create(&TaskLabels { task });
            metrics
                .task_duration_seconds
                .get_or_create(&TaskLabels { task });
            metrics.task_executions.get_or_create(&TaskStateLabels {
                task,
                state: TaskState::Started,
            });
        }
        let series = Arc::new(TaskSeries::new(metrics.clone(), "late"));
        for _ in 0..10 {
            TaskRun::start(series.clone(), false).succeeded();
        }
        let other = TaskLabels { task: "other" };
        assert_eq!(
            metrics.task_duration_seconds.get_or_create(&other).count(),
            10
        );
        assert_eq!(metrics.tasks_running.get_or_create(&other).get(), 0);
        let started = TaskStateLabels {
            task: "other",
            state: TaskState::Started,
        };
        assert_eq!(metrics.task_executions.get_or_create(&started).get(), 10);
        assert_eq!(metrics.tasks_running.folded(), 1);
        assert_eq!(metrics.task_duration_seconds.folded(), 1);
        assert_eq!(metrics.task_executions.folded(), 2); // started, succeeded

        // A fresh `TaskSeries` per attempt: a lookup per attempt.
        for _ in 0..10 {
            TaskRun::start(Arc::new(TaskSeries::new(metrics.clone(), "late")), false).succeeded();
        }
        assert_eq!(
            metrics.task_duration_seconds.get_or_create(&other).count(),
            20
        );
        assert_eq!(metrics.task_duration_seconds.folded(), 11);
    }
}
