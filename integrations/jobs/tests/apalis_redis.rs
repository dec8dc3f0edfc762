//! apalis workers on a real Redis (apalis-redis storage): task states, durations, queue
//! lengths read from Redis at scrape time, and worker liveness.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::panic)]
#![cfg(feature = "redis")]

use std::future::Future;
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_redis::{Config, RedisStorage};
use fiko_metrics::{Format, Registry, testing};
use fiko_metrics_jobs::{Jobs, RedisQueues};
use fiko_testkit::Redis;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Report {
    id: u32,
}

/// Fails its first `fail_times` attempts, then succeeds.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Flaky {
    fail_times: usize,
}

async fn build_report(_report: Report) -> Result<(), BoxDynError> {
    tokio::time::sleep(Duration::from_millis(30)).await;
    Ok(())
}

async fn flaky(job: Flaky, attempt: Attempt) -> Result<(), BoxDynError> {
    // apalis counts this attempt before the task function runs: the first attempt reads 1.
    if attempt.current() <= job.fail_times {
        Err(format!("attempt {} failed on purpose", attempt.current()).into())
    } else {
        Ok(())
    }
}

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    testing::series_value(text, series).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

fn scrape(registry: &Registry) -> String {
    registry.encode(Format::Prometheus)
}

/// Scrapes until `series` satisfies `done`, for at most `limit`.
async fn wait_until(
    registry: &Registry,
    series: &str,
    limit: Duration,
    done: impl Fn(f64) -> bool,
) -> Result<f64, String> {
    let deadline = Instant::now() + limit;
    loop {
        let text = scrape(registry);
        if let Some(value) = sample(&text, series)
            && done(value)
        {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "timed out waiting for {series}; last scrape:\n{text}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `worker` until the returned sender is used (or dropped).
fn spawn_until_stopped<F>(
    run: impl FnOnce(oneshot::Receiver<()>) -> F,
) -> (oneshot::Sender<()>, JoinHandle<F::Output>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (stop, stopped) = oneshot::channel();
    (stop, tokio::spawn(run(stopped)))
}

async fn stop_signal(stopped: oneshot::Receiver<()>) -> Result<(), std::io::Error> {
    let _ = stopped.await;
    Ok(())
}

/// An idle apalis-redis worker wakes (and picks up rescheduled retries) once per heartbeat
/// interval, 30 s by default: wake every second so the tests run in seconds.
fn fast_config(queue: &str) -> Config {
    Config::default()
        .queue(queue)
        .heartbeat_interval(Duration::from_secs(1))
}

/// Redis' own count of the tasks waiting in an apalis-redis queue: ready plus scheduled.
async fn redis_waiting(url: &str, queue: &str) -> Result<u64, redis::RedisError> {
    let mut conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let ready: u64 = redis::cmd("LLEN")
        .arg(format!("{queue}:active"))
        .query_async(&mut conn)
        .await?;
    let scheduled: u64 = redis::cmd("ZCARD")
        .arg(format!("{queue}:scheduled"))
        .query_async(&mut conn)
        .await?;
    Ok(ready + scheduled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_are_counted_by_state_through_middleware_and_backend_retries() -> TestResult {
    let redis = Redis::start()?;
    let conn = apalis_redis::connect(redis.url()).await?;
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;

    let mut reports =
        RedisStorage::<Report>::new(conn.clone()).with_config(Config::default().queue("reports"));
    let mut flakies = RedisStorage::<Flaky>::new(conn.clone()).with_config(fast_config("flaky"));
    reports.push(Report { id: 1 }).await?;
    reports.push(Report { id: 2 }).await?;
    // Attempt 1 fails and apalis' retry middleware runs attempt 2 at once; that fails too,
    // so the task goes back to Redis, which redelivers it for attempt 3, which succeeds.
    flakies.push(Flaky { fail_times: 2 }).await?;
    // The same, with the layer above the retry middleware instead of below it.
    let mut outer_flakies =
        RedisStorage::<Flaky>::new(conn.clone()).with_config(fast_config("flaky-outer"));
    outer_flakies.push(Flaky { fail_times: 2 }).await?;

    let report_worker = WorkerBuilder::new("reports-1")
        .backend(reports)
        .retry(RetryPolicy::retries(1))
        .layer(jobs.layer("reports-1").task_name("build_report"))
        .build(build_report);
    let flaky_worker = WorkerBuilder::new("flaky-1")
        .backend(flakies)
        .retry(RetryPolicy::retries(1))
        .layer(jobs.layer("flaky-1").task_name("flaky"))
        .build(flaky);
    let outer_worker = WorkerBuilder::new("flaky-outer-1")
        .backend(outer_flakies)
        .layer(jobs.layer("flaky-outer-1").task_name("flaky_outer"))
        .retry(RetryPolicy::retries(1))
        .build(flaky);
    let (stop_outer, outer_done) =
        spawn_until_stopped(|stopped| outer_worker.run_until(stop_signal(stopped)));
    let (stop_reports, reports_done) =
        spawn_until_stopped(|stopped| report_worker.run_until(stop_signal(stopped)));
    let (stop_flaky, flaky_done) =
        spawn_until_stopped(|stopped| flaky_worker.run_until(stop_signal(stopped)));

    let limit = Duration::from_secs(30);
    wait_until(
        &registry,
        r#"fiko_jobs_task_executions_total{task="build_report",state="succeeded"}"#,
        limit,
        |n| n >= 2.0,
    )
    .await?;
    wait_until(
        &registry,
        r#"fiko_jobs_task_executions_total{task="flaky",state="succeeded"}"#,
        limit,
        |n| n >= 1.0,
    )
    .await?;
    // Nothing more may arrive: give a stray redelivery time to show up before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = stop_reports.send(());
    let _ = stop_flaky.send(());
    let _ = stop_outer.send(());
    reports_done.await??;
    flaky_done.await??;
    outer_done.await??;

    let text = scrape(&registry);
    let count = |task: &str, state: &str| {
        sample(
            &text,
            &format!(r#"fiko_jobs_task_executions_total{{task="{task}",state="{state}"}}"#),
        )
        .unwrap_or(0.0)
    };
    assert_eq!(
        [
            count("build_report", "started"),
            count("build_report", "succeeded"),
            count("build_report", "failed"),
            count("build_report", "retried")
        ],
        [2.0, 2.0, 0.0, 0.0],
        "{text}"
    );
    assert_eq!(
        [
            count("flaky", "started"),
            count("flaky", "succeeded"),
            count("flaky", "failed"),
            count("flaky", "retried")
        ],
        [3.0, 1.0, 2.0, 2.0],
        "{text}"
    );

    // Above the retry middleware the layer sees two calls (attempts 1+2, then attempt 3)
    // but still counts every attempt, from apalis' attempt counter.
    assert_eq!(
        [
            count("flaky_outer", "started"),
            count("flaky_outer", "succeeded"),
            count("flaky_outer", "failed"),
            count("flaky_outer", "retried")
        ],
        [3.0, 1.0, 2.0, 2.0],
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"fiko_jobs_task_duration_seconds_count{task="flaky_outer"}"#
        ),
        Some(2.0)
    );

    // One duration per attempt; each report sleeps 30 ms.
    assert_eq!(
        sample(
            &text,
            r#"fiko_jobs_task_duration_seconds_count{task="build_report"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"fiko_jobs_task_duration_seconds_count{task="flaky"}"#
        ),
        Some(3.0)
    );
    let report_seconds = sample(
        &text,
        r#"fiko_jobs_task_duration_seconds_sum{task="build_report"}"#,
    )
    .unwrap_or(0.0);
    assert!((0.06..5.0).contains(&report_seconds), "{report_seconds}");
    assert_eq!(
        sample(
            &text,
            r#"fiko_jobs_task_duration_seconds_bucket{task="build_report",le="0.025"}"#
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"fiko_jobs_task_duration_seconds_bucket{task="build_report",le="+Inf"}"#
        ),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, r#"fiko_jobs_tasks_running{task="build_report"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, r#"fiko_jobs_tasks_running{task="flaky"}"#),
        Some(0.0)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_length_is_read_from_redis_at_every_scrape() -> TestResult {
    let mut redis = Redis::start()?;
    let conn = apalis_redis::connect(redis.url()).await?;
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    jobs.watch_queues(RedisQueues::new(conn.clone(), ["backlog", "idle"]))?;

    let mut backlog =
        RedisStorage::<Report>::new(conn.clone()).with_config(Config::default().queue("backlog"));
    for id in 0..7 {
        backlog.push(Report { id }).await?;
    }
    let text = scrape(&registry);
    let redis_count = redis_waiting(&redis.url(), "backlog").await?;
    assert_eq!(redis_count, 7);
    assert_eq!(
        sample(&text, r#"fiko_jobs_queue_length{queue="backlog"}"#),
        Some(7.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"fiko_jobs_queue_length{queue="idle"}"#),
        Some(0.0),
        "{text}"
    );

    // Read at scrape time: the next scrape sees tasks pushed since.
    for id in 7..10 {
        backlog.push(Report { id }).await?;
    }
    let text = scrape(&registry);
    assert_eq!(
        sample(&text, r#"fiko_jobs_queue_length{queue="backlog"}"#),
        Some(10.0),
        "{text}"
    );

    // A worker drains the queue; the gauge follows Redis down to 0.
    let worker = WorkerBuilder::new("drainer")
        .backend(backlog)
        .layer(jobs.layer("drainer").task_name("build_report"))
        .build(build_report);
    let (stop, done) = spawn_until_stopped(|stopped| worker.run_until(stop_signal(stopped)));
    wait_until(
        &registry,
        r#"fiko_jobs_task_executions_total{task="build_report",state="succeeded"}"#,
        Duration::from_secs(30),
        |n| n >= 10.0,
    )
    .await?;
    let text = scrape(&registry);
    assert_eq!(redis_waiting(&redis.url(), "backlog").await?, 0);
    assert_eq!(
        sample(&text, r#"fiko_jobs_queue_length{queue="backlog"}"#),
        Some(0.0),
        "{text}"
    );
    let _ = stop.send(());
    done.await??;
    assert_eq!(
        sample(&text, "fiko_jobs_queue_read_errors_total"),
        Some(0.0),
        "{text}"
    );

    // Redis goes away: scrapes stay bounded by the read timeout, count the failure, and keep
    // the last value.
    jobs.set_queue_read_timeout(Duration::from_millis(500));
    redis.stop();
    let started = Instant::now();
    let text = scrape(&registry);
    let first = started.elapsed();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let text2 = scrape(&registry);
    assert!(first < Duration::from_secs(2), "scrape took {first:?}");
    assert!(
        sample(&text2, "fiko_jobs_queue_read_errors_total").unwrap_or(0.0) >= 1.0,
        "{text}\n{text2}"
    );
    assert_eq!(
        sample(&text2, r#"fiko_jobs_queue_length{queue="backlog"}"#),
        Some(0.0)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_is_up_with_a_fresh_heartbeat_while_running_and_its_heartbeat_stops_when_it_stops()
-> TestResult {
    let redis = Redis::start()?;
    let conn = apalis_redis::connect(redis.url()).await?;
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    let up = r#"fiko_jobs_worker_up{worker="mailer-1"}"#;
    let heartbeat = r#"fiko_jobs_worker_last_heartbeat_timestamp_seconds{worker="mailer-1"}"#;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };

    // The worker loop wakes at least once per backend heartbeat interval, idle or not, and
    // each wake-up is a heartbeat.
    let config = Config::default()
        .queue("mail")
        .heartbeat_interval(Duration::from_secs(1));
    let storage = RedisStorage::<Report>::new(conn.clone()).with_config(config);
    let worker = WorkerBuilder::new("mailer-1")
        .backend(storage)
        .layer(jobs.layer("mailer-1"))
        .build(build_report);
    let (stop, done) = spawn_until_stopped(|stopped| worker.run_until(stop_signal(stopped)));

    wait_until(&registry, up, Duration::from_secs(10), |v| v == 1.0).await?;
    let first = sample(&scrape(&registry), heartbeat).unwrap_or(0.0);
    assert!(
        now() - first < 2.5,
        "heartbeat {first} is not fresh at {}",
        now()
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let second = sample(&scrape(&registry), heartbeat).unwrap_or(0.0);
    assert!(
        second >= first + 1.0,
        "an idle worker's heartbeat did not advance: {first} -> {second}"
    );
    assert!(
        now() - second < 2.5,
        "heartbeat {second} is not fresh at {}",
        now()
    );

    let _ = stop.send(());
    done.await??;
    let text = scrape(&registry);
    assert_eq!(sample(&text, up), Some(0.0), "{text}");
    let stopped_at = sample(&text, heartbeat).unwrap_or(0.0);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let text = scrape(&registry);
    assert_eq!(
        sample(&text, heartbeat),
        Some(stopped_at),
        "the heartbeat went on after the stop"
    );
    assert_eq!(sample(&text, up), Some(0.0));

    // A worker whose task is aborted (no orderly stop) is down too.
    let storage = RedisStorage::<Report>::new(conn).with_config(Config::default().queue("mail2"));
    let worker = WorkerBuilder::new("mailer-2")
        .backend(storage)
        .layer(jobs.layer("mailer-2"))
        .build(build_report);
    let handle = tokio::spawn(worker.run());
    let mailer_2 = r#"fiko_jobs_worker_up{worker="mailer-2"}"#;
    wait_until(&registry, mailer_2, Duration::from_secs(10), |v| v == 1.0).await?;
    handle.abort();
    let _ = handle.await;
    wait_until(&registry, mailer_2, Duration::from_secs(5), |v| v == 0.0).await?;
    Ok(())
}

/// On a current-thread runtime a scrape cannot wait for the read without stalling the
/// runtime that runs it: it returns at once, and the read lands for the next scrape.
#[tokio::test(flavor = "current_thread")]
async fn current_thread_runtime_scrapes_do_not_block_and_show_the_read_next_time() -> TestResult {
    let redis = Redis::start()?;
    let conn = apalis_redis::connect(redis.url()).await?;
    let registry = Registry::new();
    let jobs = Jobs::register(&registry)?;
    jobs.watch_queues(RedisQueues::new(conn.clone(), ["cq"]))?;
    let mut storage = RedisStorage::<Report>::new(conn).with_config(Config::default().queue("cq"));
    for id in 0..4 {
        storage.push(Report { id }).await?;
    }
    let started = Instant::now();
    let _ = scrape(&registry);
    assert!(started.elapsed() < Duration::from_millis(500));
    let value = wait_until(
        &registry,
        r#"fiko_jobs_queue_length{queue="cq"}"#,
        Duration::from_secs(5),
        |v| v == 4.0,
    )
    .await?;
    assert_eq!(value, 4.0);
    Ok(())
}

/// How fiko-metrics-axum serves scrapes: `registry.encode` on a `spawn_blocking` thread of
/// a multi-thread runtime. The scrape waits for the read and shows the exact count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_on_a_blocking_thread_shows_the_count_read_for_it() -> TestResult {
    let redis = Redis::start()?;
    let conn = apalis_redis::connect(redis.url()).await?;
    let registry = std::sync::Arc::new(Registry::new());
    let jobs = Jobs::register(&registry)?;
    jobs.watch_queues(RedisQueues::new(conn.clone(), ["blocking"]))?;
    let mut storage =
        RedisStorage::<Report>::new(conn).with_config(Config::default().queue("blocking"));
    for round in 1..=3u32 {
        storage.push(Report { id: round }).await?;
        let registry = registry.clone();
        let text = tokio::task::spawn_blocking(move || scrape(&registry)).await?;
        assert_eq!(
            sample(&text, r#"fiko_jobs_queue_length{queue="blocking"}"#),
            Some(f64::from(round)),
            "{text}"
        );
    }
    assert_eq!(redis_waiting(&redis.url(), "blocking").await?, 3);
    Ok(())
}
