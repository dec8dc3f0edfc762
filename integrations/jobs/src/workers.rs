//! Worker liveness: `fiko_jobs_worker_up` and the heartbeat timestamp.
//!
//! A worker is alive while a [`WorkerHandle`] (or an apalis worker built with
//! [`JobMetricsLayer`](crate::JobMetricsLayer)) exists and says it runs. Both metrics are
//! refreshed at scrape time: a live worker reads `up 1` and a heartbeat of "now"; a worker
//! that stopped or was dropped reads `up 0` and its heartbeat stays where it stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::metrics::{JobMetrics, WorkerLabels};

/// What the registry keeps of one worker: its name and whether it runs.
#[derive(Debug)]
pub(crate) struct WorkerToken {
    name: Arc<str>,
    running: AtomicBool,
}

impl WorkerToken {
    pub(crate) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }
}

/// Every worker ever seen, by weak reference so a dropped worker reads as down.
#[derive(Debug, Default)]
pub(crate) struct Workers {
    tokens: Mutex<Vec<(Arc<str>, Weak<WorkerToken>)>>,
}

impl Workers {
    pub(crate) fn token(&self, name: Arc<str>, running: bool) -> Arc<WorkerToken> {
        let token = Arc::new(WorkerToken {
            name: name.clone(),
            running: AtomicBool::new(running),
        });
        self.lock().push((name, Arc::downgrade(&token)));
        token
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<str>, Weak<WorkerToken>)>> {
        self.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets `up` and stamps heartbeats; called at every scrape.
    pub(crate) fn refresh(&self, metrics: &JobMetrics) {
        let now = unix_now();
        let mut tokens = self.lock();
        // Names with at least one live, running instance.
        let mut alive: Vec<Arc<str>> = Vec::new();
        let mut known: Vec<Arc<str>> = Vec::new();
        for (name, token) in tokens.iter() {
            if !known.contains(name) {
                known.push(name.clone());
            }
            if let Some(token) = token.upgrade() {
                if token.running.load(Ordering::Relaxed) && !alive.contains(&token.name) {
                    alive.push(token.name.clone());
                }
            }
        }
        for name in known {
            let labels = WorkerLabels {
                worker: name.clone(),
            };
            if alive.contains(&name) {
                metrics.worker_up.get_or_create(&labels).set(1);
                metrics
                    .worker_last_heartbeat_timestamp_seconds
                    .get_or_create(&labels)
                    .set(now);
            } else {
                metrics.worker_up.get_or_create(&labels).set(0);
            }
        }
        // Forget dropped instances, but keep one entry per name so it keeps reading `up 0`.
        let mut seen: Vec<Arc<str>> = Vec::new();
        tokens.retain(|(name, token)| {
            if token.strong_count() > 0 {
                return true;
            }
            if seen.contains(name) {
                false
            } else {
                seen.push(name.clone());
                true
            }
        });
    }
}

/// A worker's presence: the worker is up while this handle lives and
/// [`stop`](Self::stop) was not called; made by [`Jobs::worker`](crate::Jobs::worker).
#[derive(Debug)]
#[must_use = "the worker reads as down once its handle is dropped"]
pub struct WorkerHandle {
    pub(crate) token: Arc<WorkerToken>,
}

impl WorkerHandle {
    /// The worker name.
    pub fn name(&self) -> &str {
        &self.token.name
    }

    /// Marks the worker stopped (it reads `up 0` from the next scrape on).
    pub fn stop(&self) {
        self.token.set_running(false);
    }

    /// Marks the worker running again.
    pub fn resume(&self) {
        self.token.set_running(true);
    }
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}
