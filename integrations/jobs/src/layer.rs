//! The apalis adapter: a tower layer for apalis workers.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use apalis_core::task::Task;
use apalis_core::task::attempt::Attempt;
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::Jobs;
use crate::metrics::JobMetrics;
use crate::run::{TaskRun, TaskSeries};
use crate::workers::WorkerToken;

/// Records an apalis worker's tasks and liveness; made by [`Jobs::layer`].
///
/// Every attempt counts, however it is retried: by apalis' retry middleware
/// (`.retry(...)`) or by the backend redelivering a failed task (apalis-redis reschedules
/// failed tasks itself). Add the layer **after** `.retry(...)` so it sits below the retry
/// middleware and times each attempt; above it, it still counts each attempt (from apalis'
/// attempt counter) but times all attempts of a task as one.
///
/// The worker reads as up from its first readiness poll until the worker (and so this
/// service) is dropped, which `Worker::run` does when the worker stops.
#[derive(Clone, Debug)]
pub struct JobMetricsLayer {
    pub(crate) jobs: Jobs,
    pub(crate) worker: Arc<str>,
    pub(crate) task: Option<&'static str>,
}

impl JobMetricsLayer {
    /// Names the task in the `task` label; by default the last path segment of the task's
    /// argument type (`Email` for `my_app::jobs::Email`).
    pub fn task_name(mut self, name: &'static str) -> Self {
        self.task = Some(name);
        self
    }
}

impl<S> Layer<S> for JobMetricsLayer {
    type Service = JobMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JobMetricsService {
            inner,
            metrics: self.jobs.metrics().clone(),
            worker: self.jobs.shared.workers.token(self.worker.clone(), false),
            task: self.task,
            series: OnceLock::new(),
        }
    }
}

/// The service [`JobMetricsLayer`] wraps around a worker's task function.
#[derive(Clone)]
pub struct JobMetricsService<S> {
    inner: S,
    metrics: Arc<JobMetrics>,
    worker: Arc<WorkerToken>,
    task: Option<&'static str>,
    // The task's series, looked up at its first attempt.
    series: OnceLock<Arc<TaskSeries>>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for JobMetricsService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobMetricsService")
            .field("inner", &self.inner)
            .field("worker", &self.worker)
            .field("task", &self.task)
            .finish_non_exhaustive()
    }
}

impl<S, Args> Service<Task<Args>> for JobMetricsService<S>
where
    S: Service<Task<Args>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The worker loop polls readiness each time it wakes to take tasks: it runs, and
        // this is its heartbeat.
        self.worker.set_running(true);
        self.worker.beat();
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, task: Task<Args>) -> Self::Future {
        let attempt = task.raw_attempt().clone();
        let before = attempt.current();
        let name = self.task.unwrap_or_else(short_type_name::<Args>);
        // A task that already ran before this delivery (redelivered by the backend) is a
        // retry.
        let series = self
            .series
            .get_or_init(|| Arc::new(TaskSeries::new(self.metrics.clone(), name)));
        // One service serves one task type; should it serve another, that one's series
        // are looked up per attempt.
        let series = if series.task() == name {
            series.clone()
        } else {
            Arc::new(TaskSeries::new(self.metrics.clone(), name))
        };
        let run = TaskRun::start(series, before > 0);
        ResponseFuture {
            inner: self.inner.call(task),
            run: Some(run),
            attempt,
            before,
            _busy: Busy::new(self.worker.clone()),
        }
    }
}

pin_project! {
    /// The future of [`JobMetricsService`]: records the outcome when the task finishes.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        run: Option<TaskRun>,
        attempt: Attempt,
        before: usize,
        _busy: Busy,
    }
}

/// Keeps the worker's heartbeat fresh while one of its tasks runs.
struct Busy(Arc<WorkerToken>);

impl Busy {
    fn new(worker: Arc<WorkerToken>) -> Self {
        worker.task_started();
        Self(worker)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.task_ended();
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(cx));
        if let Some(run) = this.run.take() {
            // apalis counts an attempt each time the task function starts; more than one
            // since `call` means a retry middleware below us ran it again after failures.
            let attempts = this.attempt.current().saturating_sub(*this.before);
            run.failed_and_retried(u64::try_from(attempts.saturating_sub(1)).unwrap_or(u64::MAX));
            match &output {
                Ok(_) => run.succeeded(),
                Err(_) => run.failed(),
            }
        }
        Poll::Ready(output)
    }
}

/// `Email` for `my_app::jobs::Email`; generic types keep their full name.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    if full.contains('<') {
        return full;
    }
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    struct Email;

    #[test]
    fn short_names_drop_the_module_path_but_keep_generics() {
        assert_eq!(short_type_name::<Email>(), "Email");
        assert_eq!(short_type_name::<u32>(), "u32");
        assert_eq!(short_type_name::<Vec<u8>>(), "alloc::vec::Vec<u8>");
    }
}
