//! Measures what instrumentation costs: the same GETs on a raw multiplexed connection and
//! on an `Instrumented` one, against a real redis-server, plus the in-process recording
//! cost alone. Run: `cargo run --release -p fiko-metrics-redis --example redis_overhead`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use fiko_metrics::MetricSet;
use fiko_metrics_redis::{Command, CommandLabels, Instrumented, RedisMetrics};
use redis::aio::ConnectionLike;

const ROUNDS: usize = 5;
const GETS: usize = 4000;
const RECORDS: u32 = 2_000_000;

async fn gets(conn: &mut impl ConnectionLike) -> Result<f64, redis::RedisError> {
    let mut get = redis::cmd("GET");
    get.arg("key");
    let start = Instant::now();
    for _ in 0..GETS {
        let _: Option<String> = get.query_async(conn).await?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / GETS as f64)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = fiko_testkit::Redis::start()?;
    let client = redis::Client::open(server.url())?;
    let mut raw = client.get_multiplexed_async_connection().await?;
    let metrics = Arc::new(RedisMetrics::new());
    let mut instrumented = Instrumented::with_metrics(raw.clone(), metrics.clone());
    gets(&mut raw).await?; // warm up

    let (mut best_raw, mut best_instrumented) = (f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        best_raw = best_raw.min(gets(&mut raw).await?);
        best_instrumented = best_instrumented.min(gets(&mut instrumented).await?);
    }
    println!(
        "GET round trip, best of {ROUNDS} x {GETS}: raw {best_raw:.2} µs, instrumented {best_instrumented:.2} µs"
    );

    // What one recorded command costs without the network: name lookup, count, timing.
    let cmd = redis::cmd("HGETALL");
    let start = Instant::now();
    for _ in 0..RECORDS {
        let command = Command::of(black_box(&cmd));
        let labels = CommandLabels::new(command);
        metrics.commands.get_or_create(&labels).inc();
        metrics
            .command_duration_seconds
            .get_or_create(&labels)
            .observe(black_box(0.0002));
    }
    let per_record = start.elapsed().as_secs_f64() * 1e9 / f64::from(RECORDS);
    println!("recording one command (classify + count + observe): {per_record:.0} ns");
    Ok(())
}
