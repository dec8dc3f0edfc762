//! Health checks and the health report.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// One named check the application registered.
#[derive(Clone)]
pub(crate) struct HealthCheck {
    pub(crate) name: String,
    timeout: Duration,
    run: Arc<dyn Fn() -> CheckFuture + Send + Sync>,
}

impl HealthCheck {
    pub(crate) fn new<F, Fut, E>(name: String, timeout: Duration, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + 'static,
    {
        let run = Arc::new(move || -> CheckFuture {
            let future = check();
            Box::pin(async move { future.await.map_err(|error| error.to_string()) })
        });
        Self { name, timeout, run }
    }
}

/// Runs every check concurrently; returns whether all passed, and the JSON report.
pub(crate) async fn report(
    checks: &[HealthCheck],
    version: &str,
    uptime: Duration,
) -> (bool, Value) {
    // Each check runs in its own task: a panicking check fails, it does not take the
    // endpoint down, and a check that ignores its timeout is aborted.
    let started: Vec<_> = checks
        .iter()
        .map(|check| {
            let start = Instant::now();
            (check, start, tokio::spawn((check.run)()))
        })
        .collect();
    let mut healthy = true;
    let mut results = Map::new();
    for (check, start, task) in started {
        let abort = task.abort_handle();
        let outcome =
            match tokio::time::timeout(check.timeout.saturating_sub(start.elapsed()), task).await {
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(error))) => Err(error),
                Ok(Err(_)) => Err("the check panicked".to_owned()),
                Err(_) => {
                    abort.abort();
                    Err(format!("timed out after {:?}", check.timeout))
                }
            };
        let duration = start.elapsed().as_secs_f64();
        let entry = match outcome {
            Ok(()) => json!({ "status": "healthy", "duration_seconds": duration }),
            Err(error) => {
                healthy = false;
                json!({ "status": "unhealthy", "duration_seconds": duration, "error": error })
            }
        };
        results.insert(check.name.clone(), entry);
    }
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "version": version,
        "uptime_seconds": uptime.as_secs_f64(),
        "checks": results,
    });
    (healthy, body)
}
