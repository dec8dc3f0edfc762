//! apalis workers on a real PostgreSQL (apalis-postgres storage): queue lengths read from
//! `apalis.jobs` at scrape time, and task states through a backend retry.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::panic)]

use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_postgres::{Config, PgPool, PostgresStorage};
use fiko_metrics::{Format, Registry, testing};
use fiko_metrics_jobs::{Jobs, PostgresQueues};
use fiko_testkit::Postgres;
use serde::{Deserialize, Serialize};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Invoice {
    id: u32,
    /// Attempts that fail before one succeeds.
    fail_times: usize,
}

async fn send_invoice(invoice: Invoice, attempt: Attempt) -> Result<(), BoxDynError> {
    if attempt.current() <= invoice.fail_times {
        Err(format!("invoice {} failed on purpose", invoice.id).into())
    } else {
        Ok(())
    }
}

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    testing::series_value(text, series).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

fn config(queue: &str) -> Config {
    // Wake every second (the default is 30 s), so redelivered retries run in seconds.
    Config::default()
        .queue(queue)
        .heartbeat_interval(Duration::from_secs(1))
}

/// PostgreSQL's own count of the tasks of `queue` still to run.
async fn waiting(pool: &PgPool, queue: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND status NOT IN ('Done', 'Running', 'Killed')",
    )
    .bind(queue)
    .fetch_one(pool)
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_length_and_task_states_on_apalis_postgres() -> TestResult {
    let postgres = Postgres::start()?;
    let pool = PgPool::connect(&postgres.url()).await?;
    PostgresStorage::<()>::setup(&pool).await?;
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    jobs.watch_queues(PostgresQueues::new(pool.clone(), ["invoices", "idle"]))?;

    let mut storage = PostgresStorage::<Invoice>::new(&pool).with_config(config("invoices"));
    for id in 0..5 {
        storage.push(Invoice { id, fail_times: 0 }).await?;
    }
    storage
        .push(Invoice {
            id: 5,
            fail_times: 1,
        })
        .await?;

    let text = registry.encode(Format::Prometheus);
    assert_eq!(waiting(&pool, "invoices").await?, 6);
    assert_eq!(
        sample(&text, r#"fiko_jobs_queue_length{queue="invoices"}"#),
        Some(6.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"fiko_jobs_queue_length{queue="idle"}"#),
        Some(0.0),
        "{text}"
    );

    let worker = WorkerBuilder::new("billing-1")
        .backend(storage)
        .layer(jobs.layer("billing-1").task_name("send_invoice"))
        .build(send_invoice);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
        Ok::<(), std::io::Error>(())
    }));

    let succeeded = r#"fiko_jobs_task_executions_total{task="send_invoice",state="succeeded"}"#;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = registry.encode(Format::Prometheus);
        if sample(&text, succeeded) == Some(6.0) {
            break;
        }
        assert!(Instant::now() < deadline, "timed out:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    running.await??;

    let text = registry.encode(Format::Prometheus);
    let count = |state: &str| {
        sample(
            &text,
            &format!(r#"fiko_jobs_task_executions_total{{task="send_invoice",state="{state}"}}"#),
        )
        .unwrap_or(0.0)
    };
    // Five succeed at once; one fails, is redelivered by PostgreSQL, and succeeds.
    assert_eq!(
        ["started", "succeeded", "failed", "retried"].map(count),
        [7.0, 6.0, 1.0, 1.0],
        "{text}"
    );
    assert_eq!(waiting(&pool, "invoices").await?, 0);
    assert_eq!(
        sample(&text, r#"fiko_jobs_queue_length{queue="invoices"}"#),
        Some(0.0),
        "{text}"
    );
    let done: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'invoices' AND status = 'Done'",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(done, 6);
    Ok(())
}
