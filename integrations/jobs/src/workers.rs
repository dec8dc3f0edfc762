//! Worker liveness: `fiko_jobs_worker_up` and the heartbeat timestamp.
//!
//! A worker is up while a [`WorkerHandle`] (or an apalis worker built with
//! [`JobMetricsLayer`](crate::JobMetricsLayer)) exists and says it runs; a worker that
//! stopped or was dropped reads `up 0` and its heartbeat stays where it stopped. Both
//! metrics are refreshed at scrape time.
//!
//! The heartbeat of an apalis worker comes from its own loop: the worker polls its service's
//! readiness every time it wakes to fetch tasks, at least once per backend heartbeat interval
//! (apalis-redis: `Config::heartbeat_interval`, 30 s by default) even when idle, and each
//! poll stamps the heartbeat; while one of its tasks runs it reads "now". A worker whose loop
//! is wedged stops beating while still reading `up 1`. A [`WorkerHandle`] beats at every
//! scrape unless the code calls [`WorkerHandle::beat`] itself (then it is driven by those
//! calls).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::metrics::{JobMetrics, WorkerLabels};

/// What the registry keeps of one worker: its name and whether it runs.
#[derive(Debug)]
pub(crate) struct WorkerToken {
    name: Arc<str>,
    running: AtomicBool,
    /// Whether the worker stamps its own heartbeats ([`beat`](Self::beat)); otherwise it
    /// beats at every scrape while it runs.
    driven: AtomicBool,
    /// Unix time of the last beat, in milliseconds.
    last_beat_ms: AtomicU64,
    /// Tasks of this worker running now.
    in_flight: AtomicUsize,
}

impl WorkerToken {
    pub(crate) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }

    /// A sign of life from the worker itself.
    pub(crate) fn beat(&self) {
        self.driven.store(true, Ordering::Relaxed);
        // Milliseconds since the epoch fit an f64 and a u64 for millions of years.
        let now_ms = (unix_now() * 1000.0) as u64;
        self.last_beat_ms.store(now_ms, Ordering::Relaxed);
    }

    pub(crate) fn task_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn task_ended(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.beat();
    }

    /// The heartbeat a scrape at `now` shows for a running worker.
    fn heartbeat(&self, now: f64) -> f64 {
        if !self.driven.load(Ordering::Relaxed) || self.in_flight.load(Ordering::Relaxed) > 0 {
            return now;
        }
        self.last_beat_ms.load(Ordering::Relaxed) as f64 / 1000.0
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
            driven: AtomicBool::new(false),
            last_beat_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
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
        // The newest heartbeat of each name's live, running instances.
        let mut alive: Vec<(Arc<str>, f64)> = Vec::new();
        let mut known: Vec<Arc<str>> = Vec::new();
        for (name, token) in tokens.iter() {
            if !known.contains(name) {
                known.push(name.clone());
            }
            let Some(token) = token.upgrade() else {
                continue;
            };
            if !token.running.load(Ordering::Relaxed) {
                continue;
            }
            let beat = token.heartbeat(now);
            match alive.iter_mut().find(|(alive, _)| *alive == token.name) {
                Some((_, newest)) => *newest = newest.max(beat),
                None => alive.push((token.name.clone(), beat)),
            }
        }
        for name in known {
            let labels = WorkerLabels {
                worker: name.clone(),
            };
            match alive.iter().find(|(alive, _)| *alive == name) {
                Some((_, beat)) => {
                    metrics.worker_up.get_or_create(&labels).set(1);
                    metrics
                        .worker_last_heartbeat_timestamp_seconds
                        .get_or_create(&labels)
                        .set(*beat);
                }
                None => metrics.worker_up.get_or_create(&labels).set(0),
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

    /// Stamps a heartbeat now. Once called, the heartbeat only moves when this is called
    /// (from the worker's own loop, so a wedged loop shows as a stale heartbeat); until
    /// then it is stamped at every scrape.
    pub fn beat(&self) {
        self.token.beat();
    }
}

pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}
