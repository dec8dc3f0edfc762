//! Recording tasks without a framework: outcomes, panics, cancellation, running gauge.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::panic)]

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use fiko_metrics::{Format, Registry, testing};
use fiko_metrics_jobs::Jobs;

/// A source with no queues: only its type matters here.
struct NoQueues;

impl fiko_metrics_jobs::QueueSource for NoQueues {
    fn queue_lengths(&self) -> fiko_metrics_jobs::QueueLengths {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    testing::series_value(text, series).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

fn executions(registry: &Registry, task: &str, state: &str) -> f64 {
    let text = registry.encode(Format::Prometheus);
    sample(
        &text,
        &format!(r#"fiko_jobs_task_executions_total{{task="{task}",state="{state}"}}"#),
    )
    .unwrap_or(0.0)
}

#[test]
fn a_running_task_is_counted_started_and_running_until_it_ends()
-> Result<(), fiko_metrics::RegistryError> {
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    let run = jobs.start_task("export");
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(&text, r#"fiko_jobs_tasks_running{task="export"}"#),
        Some(1.0)
    );
    assert_eq!(executions(&registry, "export", "started"), 1.0);
    std::thread::sleep(Duration::from_millis(20));
    run.succeeded();
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(&text, r#"fiko_jobs_tasks_running{task="export"}"#),
        Some(0.0)
    );
    assert_eq!(executions(&registry, "export", "succeeded"), 1.0);
    assert_eq!(executions(&registry, "export", "failed"), 0.0);
    let seconds = sample(
        &text,
        r#"fiko_jobs_task_duration_seconds_sum{task="export"}"#,
    )
    .unwrap_or(0.0);
    assert!(seconds >= 0.02, "{seconds}");
    Ok(())
}

#[test]
fn a_retry_that_fails_counts_retried_and_failed() -> Result<(), fiko_metrics::RegistryError> {
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    jobs.start_task("sync").failed();
    jobs.start_retry("sync").failed();
    jobs.start_retry("sync").succeeded();
    assert_eq!(
        ["started", "retried", "failed", "succeeded"]
            .map(|state| executions(&registry, "sync", state)),
        [3.0, 2.0, 2.0, 1.0]
    );
    Ok(())
}

#[test]
fn a_panicking_task_counts_as_failed_and_does_not_stay_running()
-> Result<(), fiko_metrics::RegistryError> {
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _run = jobs.start_task("explode");
        panic!("task panicked on purpose");
    }));
    assert!(result.is_err());
    let text = registry.encode(Format::Prometheus);
    assert_eq!(executions(&registry, "explode", "failed"), 1.0);
    assert_eq!(
        sample(&text, r#"fiko_jobs_tasks_running{task="explode"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"fiko_jobs_task_duration_seconds_count{task="explode"}"#
        ),
        Some(1.0)
    );
    Ok(())
}

#[tokio::test]
async fn a_cancelled_task_future_counts_as_failed() -> Result<(), fiko_metrics::RegistryError> {
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    let slow = {
        let jobs = jobs.clone();
        async move {
            let run = jobs.start_task("slow");
            tokio::time::sleep(Duration::from_secs(60)).await;
            run.succeeded();
        }
    };
    let timed_out = tokio::time::timeout(Duration::from_millis(20), slow).await;
    assert!(timed_out.is_err());
    assert_eq!(executions(&registry, "slow", "failed"), 1.0);
    assert_eq!(executions(&registry, "slow", "succeeded"), 0.0);
    Ok(())
}

#[test]
fn watching_queues_outside_a_runtime_is_a_clear_error() -> Result<(), fiko_metrics::RegistryError> {
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    let error = jobs.watch_queues(NoQueues).err().map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("`Jobs::watch_queues` must be called inside a Tokio runtime: queue reads run on it")
    );
    Ok(())
}

#[test]
fn registering_twice_in_one_registry_is_refused() -> Result<(), fiko_metrics::RegistryError> {
    let registry = Registry::new();
    let _jobs = Jobs::register(&registry)?;
    assert!(Jobs::register(&registry).is_err());
    Ok(())
}

#[test]
fn a_worker_handle_beats_at_every_scrape_until_it_drives_its_own_heartbeat()
-> Result<(), fiko_metrics::RegistryError> {
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    let worker = jobs.worker("cron");
    let beat = |registry: &Registry| {
        let text = registry.encode(Format::Prometheus);
        sample(
            &text,
            r#"fiko_jobs_worker_last_heartbeat_timestamp_seconds{worker="cron"}"#,
        )
        .unwrap_or(0.0)
    };
    let first = beat(&registry);
    std::thread::sleep(Duration::from_millis(30));
    assert!(beat(&registry) > first, "not stamped at scrape time");

    // Driven by the worker's own loop: the heartbeat stays where the loop last beat.
    worker.beat();
    let driven = beat(&registry);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(beat(&registry), driven);
    std::thread::sleep(Duration::from_millis(5));
    worker.beat();
    assert!(beat(&registry) > driven);

    // Stopped: down; resumed: up.
    worker.stop();
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(&text, r#"fiko_jobs_worker_up{worker="cron"}"#),
        Some(0.0)
    );
    worker.resume();
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(&text, r#"fiko_jobs_worker_up{worker="cron"}"#),
        Some(1.0)
    );
    Ok(())
}

/// A source with one queue of a fixed length.
struct Fixed(u64);

impl fiko_metrics_jobs::QueueSource for Fixed {
    fn queue_lengths(&self) -> fiko_metrics_jobs::QueueLengths {
        let length = self.0;
        Box::pin(async move { Ok(vec![("emails".to_owned(), length)]) })
    }
}

#[test]
fn the_longest_queue_read_timeout_is_honoured_without_overflow()
-> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()?;
    {
        let _inside = runtime.enter();
        jobs.watch_queues(Fixed(7))?;
    }
    // Stored as u64::MAX milliseconds: a scrape's deadline is past what `Instant` can add.
    jobs.set_queue_read_timeout(Duration::MAX);
    assert_eq!(jobs.queue_read_timeout(), Duration::from_millis(u64::MAX));
    // Scraped from this thread, outside the runtime: the scrape waits for the read.
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(&text, r#"fiko_jobs_queue_length{queue="emails"}"#),
        Some(7.0)
    );
    assert_eq!(
        sample(&text, "fiko_jobs_queue_read_errors_total"),
        Some(0.0)
    );
    Ok(())
}
