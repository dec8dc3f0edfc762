//! Queue lengths, read from the queue backend at scrape time.
//!
//! A scrape calls [`Collect::refresh`](fiko_metrics::Collect::refresh), which is
//! synchronous, while backends are asynchronous. Each source's read is spawned on the Tokio
//! runtime the source was added from, and the scrape waits for it, bounded by the read
//! timeout:
//!
//! - on a multi-thread runtime (`#[tokio::main]`'s default) it waits inside
//!   [`tokio::task::block_in_place`], so the runtime moves its other tasks to another
//!   worker thread meanwhile;
//! - outside any runtime (a scrape served from a plain thread) it simply waits;
//! - on a current-thread runtime it cannot tell the runtime's own thread (where waiting
//!   would stall the very runtime that must run the read) from a `spawn_blocking` thread,
//!   so it never waits: the scrape shows the previous read and this one lands for the
//!   next. Values then lag one scrape behind.
//!
//! A read that fails counts in `fiko_jobs_queue_read_errors_total` and leaves the last value
//! in place. A read that outlasts the timeout lands when it returns; a source whose read is
//! still running at the next scrape is not read again (that counts as an error too), so a
//! hung backend cannot pile up reads.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::metrics::{JobMetrics, QueueLabels};

/// An error from a queue backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future [`QueueSource::queue_lengths`] returns.
pub type QueueLengths = Pin<Box<dyn Future<Output = Result<Vec<(String, u64)>, BoxError>> + Send>>;

/// A queue backend that can count the tasks waiting in its queues.
///
/// ```
/// use fiko_metrics_jobs::{QueueLengths, QueueSource};
///
/// /// A backend with a fixed backlog, for the example.
/// struct Fixed(u64);
///
/// impl QueueSource for Fixed {
///     fn queue_lengths(&self) -> QueueLengths {
///         let n = self.0;
///         Box::pin(async move { Ok(vec![("emails".to_owned(), n)]) })
///     }
/// }
/// ```
pub trait QueueSource: Send + Sync + 'static {
    /// Counts the waiting tasks of each queue; `(queue name, length)` pairs.
    fn queue_lengths(&self) -> QueueLengths;
}

/// One source and where to run its reads.
#[derive(Clone)]
pub(crate) struct QueueWatch {
    pub(crate) source: Arc<dyn QueueSource>,
    pub(crate) runtime: Handle,
    pub(crate) busy: Arc<AtomicBool>,
}

/// Reads every source, waiting at most `timeout` in all (see the module docs).
pub(crate) fn refresh(watches: &[QueueWatch], metrics: &Arc<JobMetrics>, timeout: Duration) {
    let mut pending = Vec::with_capacity(watches.len());
    for watch in watches {
        if watch.busy.swap(true, Ordering::AcqRel) {
            // The previous read has not returned: the backend hangs or is very slow.
            metrics.queue_read_errors.inc();
            continue;
        }
        let (done, wait) = mpsc::sync_channel::<()>(1);
        let read = watch.source.queue_lengths();
        let metrics = metrics.clone();
        let busy = watch.busy.clone();
        watch.runtime.spawn(async move {
            match read.await {
                Ok(lengths) => {
                    for (queue, length) in lengths {
                        let length = i64::try_from(length).unwrap_or(i64::MAX);
                        metrics
                            .queue_length
                            .get_or_create(&QueueLabels { queue })
                            .set(length);
                    }
                }
                Err(_) => metrics.queue_read_errors.inc(),
            }
            busy.store(false, Ordering::Release);
            let _ = done.send(());
        });
        pending.push(wait);
    }
    if pending.is_empty() {
        return;
    }
    let wait_all = || {
        // `checked_add`: `Instant + Duration` panics on overflow, and the timeout is the
        // user's (up to `u64::MAX` ms); past the clock's range, each wait gets `timeout`.
        let deadline = Instant::now().checked_add(timeout);
        for wait in &pending {
            let left = deadline.map_or(timeout, |deadline| {
                deadline.saturating_duration_since(Instant::now())
            });
            // A read still running after the deadline lands later, or is counted as an
            // error by the next scrape if it still has not returned.
            let _ = wait.recv_timeout(left);
        }
    };
    match Handle::try_current().map(|runtime| runtime.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => {
            // `block_in_place` refuses (panics) only inside a `LocalSet` or a nested
            // `block_on` on this runtime; then the read simply lands for the next scrape.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                tokio::task::block_in_place(wait_all)
            }));
        }
        // A current-thread runtime (or another flavour) runs the read after this scrape.
        Ok(_) => {}
        Err(_) => wait_all(),
    }
}
