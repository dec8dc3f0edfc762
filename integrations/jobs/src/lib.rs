//! Background job metrics for fiko-metrics — the Celery worker's role, for apalis.
//!
//! [`JobMetrics`] declares (namespace `fiko`, subsystem `jobs`):
//!
//! | series | kind | labels |
//! |---|---|---|
//! | `fiko_jobs_task_executions_total` | counter | `task`, `state` = `started`, `succeeded`, `failed`, `retried` |
//! | `fiko_jobs_task_duration_seconds` | histogram | `task` |
//! | `fiko_jobs_tasks_running` | gauge | `task` |
//! | `fiko_jobs_queue_length` | gauge, read from the queue backend at scrape time | `queue` |
//! | `fiko_jobs_queue_read_errors_total` | counter | |
//! | `fiko_jobs_worker_up` | gauge, 1 running / 0 stopped | `worker` |
//! | `fiko_jobs_worker_last_heartbeat_timestamp_seconds` | gauge, Unix time | `worker` |
//!
//! # With apalis
//!
//! [`Jobs::layer`] is a tower layer for apalis workers (their task functions are tower
//! services); [`RedisQueues`] reads queue lengths from apalis' Redis storage, and
//! `PostgresQueues` (feature `postgres`) from its PostgreSQL storage.
//!
//! ```no_run
//! use apalis::layers::retry::RetryPolicy;
//! use apalis::prelude::*;
//! use apalis_redis::{Config, RedisStorage};
//! use fiko_metrics::Registry;
//! use fiko_metrics_jobs::{Jobs, RedisQueues};
//!
//! #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
//! struct Email { to: String }
//!
//! async fn send_email(email: Email) -> Result<(), BoxDynError> {
//!     Ok(())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::new();
//! let jobs = Jobs::register(&registry)?;
//!
//! let conn = apalis_redis::connect("redis://127.0.0.1/").await?;
//! let storage = RedisStorage::<Email>::new(conn.clone()).with_config(Config::default().queue("emails"));
//! // Queue lengths come from Redis itself, at every scrape.
//! jobs.watch_queues(RedisQueues::new(conn, ["emails"]))?;
//!
//! let worker = WorkerBuilder::new("mailer-1")
//!     .backend(storage)
//!     .retry(RetryPolicy::retries(3))
//!     .layer(jobs.layer("mailer-1")) // after `.retry`: below it, times each attempt
//!     .build(send_email);
//! worker.run().await?;
//! # Ok(()) }
//! ```
//!
//! # Without a framework
//!
//! ```
//! use fiko_metrics::{Format, Registry};
//! use fiko_metrics_jobs::Jobs;
//!
//! let registry = Registry::new();
//! let jobs = Jobs::register(&registry)?;
//! let worker = jobs.worker("reports-1"); // up while this handle lives
//!
//! let run = jobs.start_task("build_report");
//! // ... the work ...
//! run.succeeded();
//!
//! let text = registry.encode(Format::Prometheus);
//! assert!(text.contains(r#"fiko_jobs_task_executions_total{task="build_report",state="succeeded"} 1"#));
//! assert!(text.contains(r#"fiko_jobs_worker_up{worker="reports-1"} 1"#));
//! drop(worker);
//! assert!(registry.encode(Format::Prometheus).contains(r#"fiko_jobs_worker_up{worker="reports-1"} 0"#));
//! # Ok::<(), fiko_metrics::RegistryError>(())
//! ```
//!
//! # Alerting on a worker that is down
//!
//! A worker's own series vanish when its process dies (Prometheus marks them stale at the
//! first failed scrape), so an alert on `fiko_jobs_worker_up == 0` alone would never fire
//! for a crash. WorkerDown therefore combines three signals:
//!
//! ```text
//! fiko_jobs_worker_up == 0                                  # stopped, process still serving
//! or time() - max_over_time(
//!      fiko_jobs_worker_last_heartbeat_timestamp_seconds[10m]) > 120   # silent: crashed, hung, gone
//! ```
//!
//! plus `up{job="<workers' scrape job>"} == 0` on the worker processes' scrape target.
//! `max_over_time` over a range still sees the samples from before the series went stale,
//! so the heartbeat expression fires for ten minutes after a crash; the target's `up` keeps
//! firing after that. The heartbeat is stamped at scrape time while the worker runs, so a
//! live worker's age is at most one scrape interval; 120 s suits scrape intervals up to
//! 60 s.

pub mod dashboards;
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
mod layer;
mod metrics;
#[cfg(feature = "postgres")]
mod postgres;
mod queue;
#[cfg(feature = "redis")]
mod redis;
mod run;
mod workers;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use fiko_metrics::{MetricSet, Refreshing, Registry, RegistryError};

pub use layer::{JobMetricsLayer, JobMetricsService, ResponseFuture};
pub use metrics::{JobMetrics, QueueLabels, TaskLabels, TaskState, TaskStateLabels, WorkerLabels};
#[cfg(feature = "postgres")]
pub use postgres::PostgresQueues;
pub use queue::{BoxError, QueueLengths, QueueSource};
#[cfg(feature = "redis")]
pub use redis::RedisQueues;
pub use run::TaskRun;
pub use workers::WorkerHandle;

use queue::QueueWatch;
use workers::Workers;

/// How long a scrape waits for queue lengths by default.
pub const DEFAULT_QUEUE_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Job metrics registered in a registry, with their scrape-time sources: the handle to
/// record tasks, make worker layers and watch queues. Cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    shared: Arc<Shared>,
}

struct Shared {
    metrics: Arc<JobMetrics>,
    workers: Workers,
    queues: Mutex<Vec<QueueWatch>>,
    read_timeout_ms: AtomicU64,
    // The series of the tasks started by name, so an attempt records by `SeriesId`; the
    // lock is only written the first time a name shows up.
    tasks: RwLock<HashMap<TaskName, Arc<run::TaskSeries>, foldhash::fast::RandomState>>,
}

/// How many task names [`Jobs::start_task`] keeps the series of; past them, an attempt of
/// another task looks its series up by its labels.
const NAMED_TASKS: usize = 256;

/// A task name by its address and length: names are `&'static str`, so a name is hashed
/// without reading it (the same name at two addresses takes two entries, which record
/// into the same series).
type TaskName = (usize, usize);

impl fmt::Debug for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jobs")
            .field("queue_sources", &self.queue_watches().len())
            .field("queue_read_timeout", &self.queue_read_timeout())
            .finish_non_exhaustive()
    }
}

impl Jobs {
    /// Registers [`JobMetrics`] in `registry`, refreshed at every scrape (worker liveness,
    /// queue lengths).
    pub fn register(registry: &Registry) -> Result<Self, RegistryError> {
        let shared = Arc::new(Shared {
            metrics: Arc::new(JobMetrics::new()),
            workers: Workers::default(),
            queues: Mutex::new(Vec::new()),
            read_timeout_ms: AtomicU64::new(millis(DEFAULT_QUEUE_READ_TIMEOUT)),
            tasks: RwLock::default(),
        });
        let jobs = Self { shared };
        let refreshed = jobs.clone();
        registry.register_collector(Arc::new(Refreshing::new(
            jobs.shared.metrics.clone(),
            move |metrics: &JobMetrics| {
                refreshed.shared.workers.refresh(metrics);
                queue::refresh(
                    &refreshed.queue_watches(),
                    &refreshed.shared.metrics,
                    refreshed.queue_read_timeout(),
                );
            },
        )))?;
        Ok(jobs)
    }

    /// The metrics, to read or record directly.
    pub fn metrics(&self) -> &Arc<JobMetrics> {
        &self.shared.metrics
    }

    // The series of a task named by the caller: kept for the first `NAMED_TASKS` names,
    // looked up for this attempt only past them.
    fn task_series(&self, task: &'static str) -> Arc<run::TaskSeries> {
        let key = (task.as_ptr() as usize, task.len());
        let tasks = &self.shared.tasks;
        let known = tasks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        known.unwrap_or_else(|| {
            let make = || Arc::new(run::TaskSeries::new(self.shared.metrics.clone(), task));
            let mut tasks = tasks.write().unwrap_or_else(PoisonError::into_inner);
            if tasks.len() >= NAMED_TASKS && !tasks.contains_key(&key) {
                return make();
            }
            tasks.entry(key).or_insert_with(make).clone()
        })
    }

    /// A tower layer recording the tasks of the apalis worker `worker` and its liveness.
    pub fn layer(&self, worker: impl Into<Arc<str>>) -> JobMetricsLayer {
        JobMetricsLayer {
            jobs: self.clone(),
            worker: worker.into(),
            task: None,
        }
    }

    /// Starts recording one execution of `task` (first attempt), for code outside apalis.
    pub fn start_task(&self, task: &'static str) -> TaskRun {
        TaskRun::start(self.task_series(task), false)
    }

    /// Starts recording a retry of `task` (an attempt after the first).
    pub fn start_retry(&self, task: &'static str) -> TaskRun {
        TaskRun::start(self.task_series(task), true)
    }

    /// Declares a running worker, for code outside apalis: it reads as up, with a fresh
    /// heartbeat at every scrape, until the handle is dropped or stopped.
    pub fn worker(&self, name: impl Into<Arc<str>>) -> WorkerHandle {
        WorkerHandle {
            token: self.shared.workers.token(name.into(), true),
        }
    }

    /// Reads queue lengths from `source` at every scrape, on the current Tokio runtime.
    ///
    /// A scrape (synchronous) spawns the read (asynchronous) and waits for it, at most
    /// [`queue_read_timeout`](Self::queue_read_timeout): inside
    /// [`tokio::task::block_in_place`] on a multi-thread runtime (from a worker or a
    /// `spawn_blocking` thread, where fiko-metrics-axum encodes), so the runtime moves its
    /// other tasks to another thread meanwhile, or plainly on a thread outside any runtime.
    /// On a current-thread runtime it never waits, since waiting could stall the very
    /// thread that must run the read: the values then lag one scrape. A failed read counts
    /// in `fiko_jobs_queue_read_errors_total` and keeps the last values; a read still
    /// running at the next scrape is not started again (and counts as an error), so a hung
    /// backend cannot pile up reads.
    pub fn watch_queues(&self, source: impl QueueSource) -> Result<(), JobsError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| JobsError::NoRuntime)?;
        self.shared
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(QueueWatch {
                source: Arc::new(source),
                runtime,
                busy: Arc::new(AtomicBool::new(false)),
            });
        Ok(())
    }

    /// How long a scrape waits for queue lengths ([`DEFAULT_QUEUE_READ_TIMEOUT`] unless
    /// set).
    pub fn queue_read_timeout(&self) -> Duration {
        Duration::from_millis(self.shared.read_timeout_ms.load(Ordering::Relaxed))
    }

    /// Sets how long a scrape waits for queue lengths; keep it under the scrape timeout.
    pub fn set_queue_read_timeout(&self, timeout: Duration) {
        self.shared
            .read_timeout_ms
            .store(millis(timeout), Ordering::Relaxed);
    }

    fn queue_watches(&self) -> Vec<QueueWatch> {
        self.shared
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Why a job metrics call was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobsError {
    /// [`Jobs::watch_queues`] was called outside a Tokio runtime, which its reads run on.
    NoRuntime,
}

impl fmt::Display for JobsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRuntime => f.write_str(
                "`Jobs::watch_queues` must be called inside a Tokio runtime: queue reads run on it",
            ),
        }
    }
}

impl std::error::Error for JobsError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::TaskLabels;

    fn leaked(name: String) -> &'static str {
        Box::leak(name.into_boxed_str())
    }

    /// A task started by name keeps its series: past the families' series limit, a new
    /// task folds into the overflow series once per series however many attempts run.
    /// Past `NAMED_TASKS` names, an attempt looks its series up (and folds) each time, and
    /// records as correctly.
    #[test]
    fn a_task_started_by_name_looks_its_series_up_once() {
        let registry = Registry::new();
        let jobs = Jobs::register(&registry).expect("registers");
        let durations = &jobs.metrics().task_duration_seconds;
        for i in 0..fiko_metrics::family::DEFAULT_MAX_SERIES {
            let task = leaked(format!("task{i}"));
            durations.get_or_create(&TaskLabels { task });
        }
        // One name, at one address.
        let late: &'static str = "late";
        for _ in 0..10 {
            jobs.start_task(late).succeeded();
        }
        jobs.start_retry(late).failed();
        let other = TaskLabels { task: "other" };
        assert_eq!(durations.get_or_create(&other).count(), 11);
        assert_eq!(durations.folded(), 1);

        for i in 0..NAMED_TASKS {
            jobs.start_task(leaked(format!("named{i}"))).succeeded();
        }
        assert_eq!(durations.folded(), 1 + NAMED_TASKS as u64);
        for _ in 0..10 {
            jobs.start_task("past the bound").succeeded();
        }
        assert_eq!(durations.folded(), 1 + NAMED_TASKS as u64 + 10);
        assert_eq!(
            durations.get_or_create(&other).count(),
            11 + NAMED_TASKS as u64 + 10
        );
        // The first names still record by their kept series.
        jobs.start_task(late).succeeded();
        assert_eq!(durations.folded(), 1 + NAMED_TASKS as u64 + 10);
    }
}
