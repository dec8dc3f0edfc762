//! Prometheus' standard `process_*` metrics for a fiko-metrics registry, read from the OS at
//! every scrape.
//!
//! ```
//! use fiko_metrics::{Format, Registry};
//!
//! let registry = Registry::new();
//! fiko_metrics_process::register(&registry)?;
//!
//! let text = registry.encode(Format::Prometheus);
//! assert!(text.contains("# TYPE process_cpu_seconds_total counter"));
//! assert!(text.contains("# TYPE process_resident_memory_bytes gauge"));
//! # Ok::<(), fiko_metrics::RegistryError>(())
//! ```
//!
//! # Metrics
//!
//! Named exactly like the Go and Python clients' process collectors, so the usual
//! dashboards and alerts (`rate(process_cpu_seconds_total[5m])`,
//! `process_resident_memory_bytes`) work unchanged:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `process_cpu_seconds_total` | counter | user + system CPU time |
//! | `process_resident_memory_bytes` | gauge | resident set size |
//! | `process_virtual_memory_bytes` | gauge | virtual memory size |
//! | `process_open_fds` | gauge | open file descriptors |
//! | `process_max_fds` | gauge | the soft `RLIMIT_NOFILE` (-1 when unlimited) |
//! | `process_threads` | gauge | OS threads of the process |
//! | `process_start_time_seconds` | gauge | start time, seconds since the Unix epoch |
//!
//! [`ProcessMetrics`] implements `fiko_dashboards::Observe`: a "Process" row (memory
//! RSS/VMS, CPU usage, open/max fds) and the alerts HighCPUUsage (above 80 % of a core,
//! warning) and HighMemoryUsage (RSS above 1500 MiB, warning).
//!
//! Values come from `/proc/self` through the [`procfs`](https://docs.rs/procfs) crate.
//! On other systems the metrics are exposed but stay at zero. A failed read keeps the
//! previous values (a scrape never fails because `/proc` could not be read).

mod dashboards;

use std::sync::Arc;

use fiko_metrics::{Counter, Gauge, MetricSet, Refreshing, Registry, RegistryError};

/// The standard process metrics of the running process.
///
/// Register it with [`register`] (or [`register_global`]) so it is refreshed at every
/// scrape; [`ProcessMetrics::refresh`] reads the OS once, on demand.
#[derive(MetricSet)]
pub struct ProcessMetrics {
    /// Total user and system CPU time spent in seconds.
    pub process_cpu_seconds: Counter<f64>,
    /// Resident memory size in bytes.
    pub process_resident_memory_bytes: Gauge,
    /// Virtual memory size in bytes.
    pub process_virtual_memory_bytes: Gauge,
    /// Number of open file descriptors.
    pub process_open_fds: Gauge,
    /// Maximum number of open file descriptors (-1 when unlimited).
    pub process_max_fds: Gauge,
    /// Number of OS threads in the process.
    pub process_threads: Gauge,
    /// Start time of the process since unix epoch in seconds.
    pub process_start_time_seconds: Gauge<f64>,
}

/// Why reading the process' statistics failed.
#[derive(Debug)]
pub struct ReadError(String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot read process statistics: {}", self.0)
    }
}

impl std::error::Error for ReadError {}

impl ProcessMetrics {
    /// Reads the OS now and updates every metric.
    ///
    /// ```
    /// use fiko_metrics::MetricSet;
    /// use fiko_metrics_process::ProcessMetrics;
    ///
    /// let process = ProcessMetrics::new();
    /// process.refresh()?;
    /// # #[cfg(target_os = "linux")]
    /// assert!(process.process_resident_memory_bytes.get() > 0);
    /// # Ok::<(), fiko_metrics_process::ReadError>(())
    /// ```
    pub fn refresh(&self) -> Result<(), ReadError> {
        imp::refresh(self)
    }
}

/// Registers the process metrics in `registry`, refreshed at every scrape.
pub fn register(registry: &Registry) -> Result<Arc<ProcessMetrics>, RegistryError> {
    let metrics = Arc::new(ProcessMetrics::new());
    registry.register_collector(Arc::new(Refreshing::new(
        metrics.clone(),
        |metrics: &ProcessMetrics| {
            // A failed read keeps the last values; the scrape goes on.
            let _ = metrics.refresh();
        },
    )))?;
    Ok(metrics)
}

/// Registers the process metrics in [`fiko_metrics::default_registry`].
pub fn register_global() -> Result<Arc<ProcessMetrics>, RegistryError> {
    register(fiko_metrics::default_registry())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use procfs::process::{LimitValue, Process};

    use super::{ProcessMetrics, ReadError};

    fn clamp(value: u64) -> i64 {
        i64::try_from(value).unwrap_or(i64::MAX)
    }

    pub(super) fn refresh(metrics: &ProcessMetrics) -> Result<(), ReadError> {
        let fail = |error: procfs::ProcError| ReadError(error.to_string());
        let process = Process::myself().map_err(fail)?;
        let stat = process.stat().map_err(fail)?;
        let ticks = procfs::ticks_per_second() as f64;
        metrics
            .process_cpu_seconds
            .set_total(stat.utime.saturating_add(stat.stime) as f64 / ticks);
        metrics
            .process_resident_memory_bytes
            .set(clamp(stat.rss.saturating_mul(procfs::page_size())));
        metrics.process_virtual_memory_bytes.set(clamp(stat.vsize));
        metrics.process_threads.set(stat.num_threads);
        if let Ok(boot) = procfs::boot_time_secs() {
            metrics
                .process_start_time_seconds
                .set(boot as f64 + stat.starttime as f64 / ticks);
        }
        metrics
            .process_open_fds
            .set(clamp(process.fd_count().map_err(fail)? as u64));
        let limits = process.limits().map_err(fail)?;
        metrics
            .process_max_fds
            .set(match limits.max_open_files.soft_limit {
                LimitValue::Value(max) => clamp(max),
                LimitValue::Unlimited => -1,
            });
        Ok(())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod imp {
    use super::{ProcessMetrics, ReadError};

    pub(super) fn refresh(_: &ProcessMetrics) -> Result<(), ReadError> {
        Err(ReadError("only Linux is supported".to_owned()))
    }
}

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
