//! tokio runtime metrics for a fiko-metrics registry, read from tokio's
//! [`RuntimeMetrics`](tokio::runtime::RuntimeMetrics) at every scrape.
//!
//! ```
//! use fiko_metrics::{Format, Registry};
//!
//! let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
//! let registry = Registry::new();
//! fiko_metrics_tokio::register(&registry, "main", runtime.handle().clone())?;
//!
//! let text = registry.encode(Format::Prometheus);
//! assert!(text.contains(r#"tokio_workers{runtime="main"} 2"#));
//! assert!(text.contains(r#"tokio_worker_busy_seconds_total{runtime="main",worker="1"}"#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Metrics
//!
//! From tokio's stable metrics API (every series has a `runtime` label, the name given at
//! registration; per-worker series also a `worker` label, `0..workers`):
//!
//! | metric | type | tokio source |
//! |---|---|---|
//! | `tokio_workers` | gauge | `num_workers` |
//! | `tokio_alive_tasks` | gauge | `num_alive_tasks` |
//! | `tokio_global_queue_depth` | gauge | `global_queue_depth` (the injection queue) |
//! | `tokio_worker_busy_seconds_total` | counter | `worker_total_busy_duration` |
//! | `tokio_worker_parks_total` | counter | `worker_park_count` |
//! | `tokio_worker_park_unparks_total` | counter | `worker_park_unpark_count` |
//!
//! The busy ratio of a worker is `rate(tokio_worker_busy_seconds_total[5m])`: seconds busy
//! per second. It is left to PromQL, not computed here, so it is right for any number of
//! scrapers and any scrape interval.
//!
//! When the application is built with `RUSTFLAGS="--cfg tokio_unstable"`,
//! [`register`] also registers [`TokioUnstableMetrics`] (blocking threads, spawned tasks,
//! remote schedules, steals, polls, local queues, ...); without that cfg the set does not
//! exist.
//!
//! # Reading at scrape time
//!
//! Every value is an atomic load tokio keeps anyway; reading them takes no lock of the
//! runtime, runs no task on it and does not wait for a worker, so a scrape never blocks a
//! saturated runtime and a saturated runtime never delays a scrape served from elsewhere.
//!
//! [`TokioMetrics`] implements `fiko_dashboards::Observe`: a "tokio runtime" row and the
//! alerts TokioWorkersSaturated (average busy ratio above 90 % for 10 minutes) and
//! TokioGlobalQueueBacklog (more than 1000 tasks waiting in the global queue for 5 minutes).

mod dashboards;

use std::sync::Arc;

use fiko_metrics::{
    Counter, Family, Gauge, LabelSet, MetricSet, Refreshing, Registry, RegistryError,
};
use tokio::runtime::{Handle, RuntimeMetrics};

/// The runtime a series belongs to.
#[derive(LabelSet, Clone, Debug)]
pub struct RuntimeLabels {
    /// The name the runtime was registered under.
    pub runtime: Arc<str>,
}

/// One worker thread of a runtime.
#[derive(LabelSet, Clone, Debug)]
pub struct WorkerLabels {
    /// The name the runtime was registered under.
    pub runtime: Arc<str>,
    /// The worker's index, `0..workers`.
    pub worker: usize,
}

/// tokio's stable runtime metrics.
#[derive(MetricSet)]
#[metric_set(namespace = "tokio")]
pub struct TokioMetrics {
    /// Worker threads of the runtime.
    pub workers: Family<RuntimeLabels, Gauge>,
    /// Tasks alive in the runtime: spawned and not yet completed.
    pub alive_tasks: Family<RuntimeLabels, Gauge>,
    /// Tasks waiting in the runtime's global (injection) queue for a worker to take them.
    pub global_queue_depth: Family<RuntimeLabels, Gauge>,
    /// Time the worker spent busy (polling tasks, not parked).
    pub worker_busy_seconds: Family<WorkerLabels, Counter<f64>>,
    /// Times the worker parked (ran out of work and went to sleep).
    pub worker_parks: Family<WorkerLabels, Counter>,
    /// Times the worker parked and was woken again.
    pub worker_park_unparks: Family<WorkerLabels, Counter>,
}

impl TokioMetrics {
    /// Reads `metrics` (of the runtime registered as `runtime`) into the set now.
    ///
    /// ```
    /// use fiko_metrics::MetricSet;
    /// use fiko_metrics_tokio::{RuntimeLabels, TokioMetrics};
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    /// let set = TokioMetrics::new();
    /// set.refresh("main".into(), &runtime.metrics());
    /// let main = RuntimeLabels { runtime: "main".into() };
    /// assert_eq!(set.workers.get_or_create(&main).get(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn refresh(&self, runtime: Arc<str>, metrics: &RuntimeMetrics) {
        let labels = RuntimeLabels {
            runtime: runtime.clone(),
        };
        let workers = metrics.num_workers();
        self.workers.get_or_create(&labels).set(clamp(workers));
        self.alive_tasks
            .get_or_create(&labels)
            .set(clamp(metrics.num_alive_tasks()));
        self.global_queue_depth
            .get_or_create(&labels)
            .set(clamp(metrics.global_queue_depth()));
        for worker in 0..workers {
            let labels = WorkerLabels {
                runtime: runtime.clone(),
                worker,
            };
            self.worker_busy_seconds
                .get_or_create(&labels)
                .set_total(metrics.worker_total_busy_duration(worker).as_secs_f64());
            self.worker_parks
                .get_or_create(&labels)
                .set_total(metrics.worker_park_count(worker));
            self.worker_park_unparks
                .get_or_create(&labels)
                .set_total(metrics.worker_park_unpark_count(worker));
        }
    }
}

fn clamp(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// tokio's unstable runtime metrics: only with `RUSTFLAGS="--cfg tokio_unstable"`.
#[cfg(tokio_unstable)]
#[derive(MetricSet)]
#[metric_set(namespace = "tokio")]
pub struct TokioUnstableMetrics {
    /// Threads the runtime started for blocking work.
    pub blocking_threads: Family<RuntimeLabels, Gauge>,
    /// Blocking threads idle, waiting for work.
    pub idle_blocking_threads: Family<RuntimeLabels, Gauge>,
    /// Tasks waiting for a blocking thread.
    pub blocking_queue_depth: Family<RuntimeLabels, Gauge>,
    /// Tasks spawned on the runtime.
    pub spawned_tasks: Family<RuntimeLabels, Counter>,
    /// Tasks scheduled from outside the runtime.
    pub remote_schedules: Family<RuntimeLabels, Counter>,
    /// Times a task was forced to yield because it used up its budget.
    pub budget_forced_yields: Family<RuntimeLabels, Counter>,
    /// Tasks the worker polled.
    pub worker_polls: Family<WorkerLabels, Counter>,
    /// Tasks the worker stole from other workers.
    pub worker_steals: Family<WorkerLabels, Counter>,
    /// Times the worker stole from other workers.
    pub worker_steal_operations: Family<WorkerLabels, Counter>,
    /// Times the worker woke up and found no work.
    pub worker_noops: Family<WorkerLabels, Counter>,
    /// Tasks the worker scheduled onto its own local queue.
    pub worker_local_schedules: Family<WorkerLabels, Counter>,
    /// Times the worker's local queue overflowed into the global queue.
    pub worker_overflows: Family<WorkerLabels, Counter>,
    /// Tasks waiting in the worker's local queue.
    pub worker_local_queue_depth: Family<WorkerLabels, Gauge>,
}

#[cfg(tokio_unstable)]
impl TokioUnstableMetrics {
    /// Reads `metrics` (of the runtime registered as `runtime`) into the set now.
    pub fn refresh(&self, runtime: Arc<str>, metrics: &RuntimeMetrics) {
        let labels = RuntimeLabels {
            runtime: runtime.clone(),
        };
        self.blocking_threads
            .get_or_create(&labels)
            .set(clamp(metrics.num_blocking_threads()));
        self.idle_blocking_threads
            .get_or_create(&labels)
            .set(clamp(metrics.num_idle_blocking_threads()));
        self.blocking_queue_depth
            .get_or_create(&labels)
            .set(clamp(metrics.blocking_queue_depth()));
        self.spawned_tasks
            .get_or_create(&labels)
            .set_total(metrics.spawned_tasks_count());
        self.remote_schedules
            .get_or_create(&labels)
            .set_total(metrics.remote_schedule_count());
        self.budget_forced_yields
            .get_or_create(&labels)
            .set_total(metrics.budget_forced_yield_count());
        for worker in 0..metrics.num_workers() {
            let labels = WorkerLabels {
                runtime: runtime.clone(),
                worker,
            };
            self.worker_polls
                .get_or_create(&labels)
                .set_total(metrics.worker_poll_count(worker));
            self.worker_steals
                .get_or_create(&labels)
                .set_total(metrics.worker_steal_count(worker));
            self.worker_steal_operations
                .get_or_create(&labels)
                .set_total(metrics.worker_steal_operations(worker));
            self.worker_noops
                .get_or_create(&labels)
                .set_total(metrics.worker_noop_count(worker));
            self.worker_local_schedules
                .get_or_create(&labels)
                .set_total(metrics.worker_local_schedule_count(worker));
            self.worker_overflows
                .get_or_create(&labels)
                .set_total(metrics.worker_overflow_count(worker));
            self.worker_local_queue_depth
                .get_or_create(&labels)
                .set(clamp(metrics.worker_local_queue_depth(worker)));
        }
    }
}

/// The runtimes a registration reads, each under its name.
type Runtimes = Vec<(Arc<str>, Handle)>;

/// Registers the metrics of one runtime, named `runtime` in the `runtime` label, in
/// `registry`; they are read at every scrape.
pub fn register(
    registry: &Registry,
    runtime: &str,
    handle: Handle,
) -> Result<Arc<TokioMetrics>, RegistryError> {
    register_runtimes(registry, [(runtime, handle)])
}

/// Registers the metrics of several runtimes (an application with a separate runtime for
/// blocking or background work), each under its name. One registration per registry: the
/// set is registered once.
///
/// ```
/// use fiko_metrics::Registry;
///
/// let web = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build()?;
/// let jobs = tokio::runtime::Builder::new_current_thread().build()?;
/// let registry = Registry::new();
/// fiko_metrics_tokio::register_runtimes(
///     &registry,
///     [("web", web.handle().clone()), ("jobs", jobs.handle().clone())],
/// )?;
/// let text = registry.encode(Default::default());
/// assert!(text.contains(r#"tokio_workers{runtime="web"} 2"#));
/// assert!(text.contains(r#"tokio_workers{runtime="jobs"} 1"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn register_runtimes<'a>(
    registry: &Registry,
    runtimes: impl IntoIterator<Item = (&'a str, Handle)>,
) -> Result<Arc<TokioMetrics>, RegistryError> {
    let runtimes: Arc<Runtimes> = Arc::new(
        runtimes
            .into_iter()
            .map(|(name, handle)| (Arc::from(name), handle))
            .collect(),
    );
    let set = Arc::new(TokioMetrics::new());
    let read = runtimes.clone();
    registry.register_collector(Arc::new(Refreshing::new(
        set.clone(),
        move |set: &TokioMetrics| {
            for (name, handle) in read.iter() {
                set.refresh(name.clone(), &handle.metrics());
            }
        },
    )))?;
    #[cfg(tokio_unstable)]
    registry.register_collector(Arc::new(Refreshing::new(
        Arc::new(TokioUnstableMetrics::new()),
        move |set: &TokioUnstableMetrics| {
            for (name, handle) in runtimes.iter() {
                set.refresh(name.clone(), &handle.metrics());
            }
        },
    )))?;
    #[cfg(not(tokio_unstable))]
    drop(runtimes);
    Ok(set)
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
