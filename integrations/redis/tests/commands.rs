//! `Instrumented` against a real redis-server: exact counts by command, errors by kind,
//! pipelines, cancellation, and Redis killed and restarted under a `ConnectionManager`.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use fiko_metrics::{Format, LabelSet, LabelValue, MetricSet, Registry};
use fiko_metrics_redis::{
    Command, CommandLabels, ConnectionState, ConnectionStateLabels, ErrorKind, ErrorLabels,
    Instrumented, RedisMetrics,
};
use fiko_testkit::Redis;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};

fn commands(metrics: &RedisMetrics, command: Command) -> u64 {
    metrics
        .commands
        .get_or_create(&CommandLabels::new(command))
        .get()
}

fn durations(metrics: &RedisMetrics, command: Command) -> u64 {
    metrics
        .command_duration_seconds
        .get_or_create(&CommandLabels::new(command))
        .count()
}

fn errors(metrics: &RedisMetrics, command: Command, kind: ErrorKind) -> u64 {
    metrics
        .errors
        .get_or_create(&ErrorLabels::new(command, kind))
        .get()
}

const ALL_KINDS: [ErrorKind; 15] = [
    ErrorKind::Io,
    ErrorKind::Timeout,
    ErrorKind::Cancelled,
    ErrorKind::Response,
    ErrorKind::WrongType,
    ErrorKind::Oom,
    ErrorKind::NoScript,
    ErrorKind::Loading,
    ErrorKind::ReadOnly,
    ErrorKind::ExecAbort,
    ErrorKind::Auth,
    ErrorKind::Cluster,
    ErrorKind::Parse,
    ErrorKind::Client,
    ErrorKind::Other,
];

fn all_errors(metrics: &RedisMetrics, command: Command) -> u64 {
    ALL_KINDS
        .iter()
        .map(|&kind| errors(metrics, command, kind))
        .sum()
}

async fn multiplexed(
    redis: &Redis,
    metrics: &Arc<RedisMetrics>,
) -> Instrumented<MultiplexedConnection> {
    let client = redis::Client::open(redis.url()).unwrap();
    let conn = client.get_multiplexed_async_connection().await.unwrap();
    Instrumented::with_metrics(conn, metrics.clone())
}

#[tokio::test]
async fn n_commands_are_recorded_as_n_by_command() {
    let redis = Redis::start().unwrap();
    let registry = Registry::new();
    let metrics = RedisMetrics::register(&registry).unwrap();
    let mut conn = multiplexed(&redis, &metrics).await;

    for i in 0..7 {
        let _: () = conn.set(format!("key:{i}"), i).await.unwrap();
    }
    for i in 0..5 {
        let value: i64 = conn.get(format!("key:{i}")).await.unwrap();
        assert_eq!(value, i);
    }
    for field in ["a", "b", "c"] {
        let _: i64 = conn.hset("hash", field, 1).await.unwrap();
    }
    // Commands outside the closed set fold into `other`.
    for _ in 0..2 {
        let _: redis::Value = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg("key:0")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let _: () = redis::cmd("set")
        .arg("lower")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();

    assert_eq!(commands(&metrics, Command::Set), 8);
    assert_eq!(commands(&metrics, Command::Get), 5);
    assert_eq!(commands(&metrics, Command::HSet), 3);
    assert_eq!(commands(&metrics, Command::Other), 2);
    assert_eq!(commands(&metrics, Command::Del), 0);
    assert_eq!(durations(&metrics, Command::Set), 8);
    assert_eq!(durations(&metrics, Command::Get), 5);
    assert_eq!(durations(&metrics, Command::Other), 2);
    for command in [Command::Set, Command::Get, Command::HSet, Command::Other] {
        assert_eq!(all_errors(&metrics, command), 0);
    }
    assert_eq!(metrics.commands_in_flight.get(), 0);

    let text = registry.encode(Format::Prometheus);
    assert!(
        text.contains("fiko_redis_commands_total{command=\"set\"} 8\n"),
        "{text}"
    );
    assert!(text.contains("fiko_redis_commands_total{command=\"hset\"} 3\n"));
    assert!(text.contains("fiko_redis_command_duration_seconds_count{command=\"get\"} 5\n"));
    assert!(text.contains("# TYPE fiko_redis_errors_total counter"));
    assert!(text.contains("fiko_redis_commands_in_flight 0\n"));
    // Only what was recorded is exposed.
    assert!(!text.contains("command=\"zadd\""), "{text}");
    // (The connection gauge and reconnect counter, always exposed, aside.)
    let command_lines = text
        .lines()
        .filter(|line| {
            !line.contains("fiko_redis_connections") && !line.contains("fiko_redis_reconnects")
        })
        .count();
    assert!(command_lines < 150, "{command_lines} lines");
}

#[tokio::test]
async fn pipelines_count_each_command_and_one_round_trip() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(RedisMetrics::new());
    let mut conn = multiplexed(&redis, &metrics).await;

    let (a, b): (i64, i64) = redis::pipe()
        .set("a", 1)
        .ignore()
        .set("b", 2)
        .ignore()
        .incr("a", 10)
        .get("b")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!((a, b), (11, 2));
    let (x,): (i64,) = redis::pipe()
        .atomic()
        .set("x", 5)
        .ignore()
        .incr("x", 1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(x, 6);

    assert_eq!(commands(&metrics, Command::Set), 3);
    // `incr(key, n)` is sent as INCRBY.
    assert_eq!(commands(&metrics, Command::IncrBy), 2);
    assert_eq!(commands(&metrics, Command::Get), 1);
    assert_eq!(durations(&metrics, Command::Pipeline), 2);
    assert_eq!(
        durations(&metrics, Command::Set),
        0,
        "no per-command timing inside a pipeline"
    );
    assert_eq!(all_errors(&metrics, Command::Pipeline), 0);

    // A failing command inside a pipeline: one error for the pipeline, by kind.
    let result: redis::RedisResult<(i64, i64)> = redis::pipe()
        .incr("a", 1)
        .lpush("b", 1) // "b" holds a string
        .query_async(&mut conn)
        .await;
    assert!(result.is_err());
    assert_eq!(errors(&metrics, Command::Pipeline, ErrorKind::WrongType), 1);
    assert_eq!(all_errors(&metrics, Command::Pipeline), 1);
    assert_eq!(commands(&metrics, Command::LPush), 1);
}

#[tokio::test]
async fn errors_are_counted_by_command_and_kind() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(RedisMetrics::new());
    let mut conn = multiplexed(&redis, &metrics).await;

    let _: () = conn.set("text", "hello").await.unwrap();
    for _ in 0..3 {
        let result: redis::RedisResult<i64> = conn.lpush("text", "x").await;
        let error = result.unwrap_err();
        assert_eq!(error.code(), Some("WRONGTYPE"));
    }
    let result: redis::RedisResult<redis::Value> =
        redis::cmd("NOSUCHCOMMAND").query_async(&mut conn).await;
    assert!(result.is_err());
    let result: redis::RedisResult<redis::Value> = redis::cmd("EVALSHA")
        .arg("0000000000000000000000000000000000000000")
        .arg(0)
        .query_async(&mut conn)
        .await;
    assert!(result.is_err());
    let result: redis::RedisResult<redis::Value> =
        redis::cmd("INCR").arg("text").query_async(&mut conn).await;
    assert!(result.is_err());

    assert_eq!(errors(&metrics, Command::LPush, ErrorKind::WrongType), 3);
    assert_eq!(all_errors(&metrics, Command::LPush), 3);
    assert_eq!(errors(&metrics, Command::Other, ErrorKind::Response), 1);
    assert_eq!(errors(&metrics, Command::EvalSha, ErrorKind::NoScript), 1);
    assert_eq!(errors(&metrics, Command::Incr, ErrorKind::Response), 1);
    assert_eq!(all_errors(&metrics, Command::Set), 0);
    // Failed commands are commands too, and are timed.
    assert_eq!(commands(&metrics, Command::LPush), 3);
    assert_eq!(durations(&metrics, Command::LPush), 3);
}

#[tokio::test]
async fn out_of_memory_writes_are_counted_as_oom() {
    let redis =
        Redis::start_with(&[("maxmemory", "1"), ("maxmemory-policy", "noeviction")]).unwrap();
    let metrics = Arc::new(RedisMetrics::new());
    let mut conn = multiplexed(&redis, &metrics).await;
    let result: redis::RedisResult<()> = conn.set("k", "v").await;
    assert_eq!(result.unwrap_err().code(), Some("OOM"));
    assert_eq!(errors(&metrics, Command::Set, ErrorKind::Oom), 1);
    // Reads still work.
    let value: Option<String> = conn.get("k").await.unwrap();
    assert_eq!(value, None);
    assert_eq!(all_errors(&metrics, Command::Get), 0);
}

#[tokio::test]
async fn slow_replies_are_timeouts_and_dropped_calls_are_cancelled() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(RedisMetrics::new());

    // redis' default response timeout is 500 ms; BLPOP blocks for 2 s.
    let mut conn = multiplexed(&redis, &metrics).await;
    let started = Instant::now();
    let result: redis::RedisResult<Option<(String, String)>> = conn.blpop("empty", 2.0).await;
    assert!(result.unwrap_err().is_timeout());
    assert!(started.elapsed() < Duration::from_millis(1900));
    assert_eq!(errors(&metrics, Command::BLPop, ErrorKind::Timeout), 1);

    // The caller gives up first: the future is dropped mid-flight.
    let mut conn = multiplexed(&redis, &metrics).await;
    let call = conn.blpop::<_, Option<(String, String)>>("empty", 1.0);
    assert!(
        tokio::time::timeout(Duration::from_millis(50), call)
            .await
            .is_err()
    );
    assert_eq!(errors(&metrics, Command::BLPop, ErrorKind::Cancelled), 1);
    assert_eq!(commands(&metrics, Command::BLPop), 2);
    assert_eq!(
        metrics.commands_in_flight.get(),
        0,
        "the gauge does not stick"
    );
}

#[tokio::test]
async fn redis_killed_mid_test_errors_are_counted_and_it_recovers() {
    let mut redis = Redis::start().unwrap();
    let metrics = Arc::new(RedisMetrics::new());
    let client = redis::Client::open(redis.url()).unwrap();
    // Fewer reconnect retries than the default 6, so a dead server fails calls quickly.
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_connection_timeout(Some(Duration::from_millis(500)));
    let conn = ConnectionManager::new_with_config(client, config)
        .await
        .unwrap();
    let mut conn = Instrumented::with_metrics(conn, metrics.clone());

    for i in 0..10 {
        let _: () = conn.set("counter", i).await.unwrap();
    }
    assert_eq!(all_errors(&metrics, Command::Set), 0);

    redis.stop();
    let started = Instant::now();
    for _ in 0..5 {
        let result: redis::RedisResult<Option<i64>> = conn.get("counter").await;
        assert!(result.is_err(), "Redis is down");
    }
    // Each failure is bounded by the connection's timeouts, not hung.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(commands(&metrics, Command::Get), 5);
    assert_eq!(
        all_errors(&metrics, Command::Get),
        5,
        "every failed GET counted once"
    );
    assert!(errors(&metrics, Command::Get, ErrorKind::Io) >= 1);
    assert_eq!(metrics.commands_in_flight.get(), 0);

    redis.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let recovered = loop {
        let result: redis::RedisResult<()> = conn.set("counter", 99).await;
        if result.is_ok() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(recovered, "the connection manager reconnects after restart");
    let value: i64 = conn.get("counter").await.unwrap();
    assert_eq!(value, 99);
    let failures_before = all_errors(&metrics, Command::Get);
    for _ in 0..3 {
        let _: i64 = conn.get("counter").await.unwrap();
    }
    assert_eq!(all_errors(&metrics, Command::Get), failures_before);
    assert_eq!(commands(&metrics, Command::Get), 5 + 1 + 3);
}

#[tokio::test]
async fn new_records_into_the_global_set() {
    let redis = Redis::start().unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = Instrumented::new(client.get_multiplexed_async_connection().await.unwrap());
    let before = commands(RedisMetrics::global(), Command::Echo);
    let echoed: String = redis::cmd("ECHO")
        .arg("hi")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(echoed, "hi");
    assert_eq!(commands(RedisMetrics::global(), Command::Echo), before + 1);
    assert!(Arc::ptr_eq(
        conn.metrics(),
        &fiko_metrics::default_registry().get_or_register::<RedisMetrics>()
    ));
    let text = fiko_metrics::default_registry().encode(Format::Prometheus);
    assert!(text.contains("fiko_redis_commands_total{command=\"echo\"}"));
}

#[test]
fn the_declared_names_follow_prometheus_conventions() {
    let names: Vec<_> = RedisMetrics::DESCRIPTOR
        .metrics
        .iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(
        names,
        [
            "fiko_redis_commands",
            "fiko_redis_command_duration_seconds",
            "fiko_redis_errors",
            "fiko_redis_commands_in_flight",
            "fiko_redis_connections",
            "fiko_redis_reconnects"
        ]
    );
    let duration = RedisMetrics::DESCRIPTOR
        .metric("command_duration_seconds")
        .unwrap();
    assert_eq!(duration.unit, Some("seconds"));
    let command = &duration.labels[0];
    assert_eq!(command.name, "command");
    // The closed `Command` set, declared sparse: every command is a known value, and
    // unused commands expose nothing (no thousands of zero series).
    assert_eq!(command.values, <Command as LabelValue>::VALUES);
    const { assert!(<CommandLabels as LabelSet>::SPARSE && <ErrorLabels as LabelSet>::SPARSE) };
    let metrics = RedisMetrics::new();
    let registry = Registry::new();
    let metrics = registry.register(metrics).unwrap();
    metrics
        .commands
        .get_or_create(&CommandLabels::new(Command::Get))
        .inc();
    let text = registry.encode(Format::Prometheus);
    let commands: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("fiko_redis_commands_total{"))
        .collect();
    assert_eq!(commands, ["fiko_redis_commands_total{command=\"get\"} 1"]);
    assert!(!text.contains("fiko_redis_errors_total{"), "{text}");
    assert!(
        !text.contains("fiko_redis_command_duration_seconds_count{"),
        "{text}"
    );
    let errors = RedisMetrics::DESCRIPTOR.metric("errors").unwrap();
    assert_eq!(errors.labels[1].name, "kind");
    assert!(errors.labels[1].values.unwrap().contains(&"wrong_type"));
}

#[tokio::test]
async fn redis_killed_while_commands_are_in_flight() {
    let mut redis = Redis::start().unwrap();
    let metrics = Arc::new(RedisMetrics::new());
    let conn = multiplexed(&redis, &metrics).await;

    // Four commands blocked in Redis (BLPOP for 0.4 s, under the 0.5 s response timeout).
    let mut blocked = Vec::new();
    for _ in 0..4 {
        let mut conn = conn.clone();
        blocked.push(tokio::spawn(async move {
            conn.blpop::<_, Option<(String, String)>>("empty", 0.4)
                .await
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics.commands_in_flight.get() < 4 {
        assert!(Instant::now() < deadline, "commands never got in flight");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    redis.stop();
    for call in blocked {
        let result = call.await.expect("no panic in the task");
        assert!(result.is_err(), "killed mid-command: {result:?}");
    }
    assert_eq!(commands(&metrics, Command::BLPop), 4);
    assert_eq!(all_errors(&metrics, Command::BLPop), 4);
    assert_eq!(errors(&metrics, Command::BLPop, ErrorKind::Io), 4);
    assert_eq!(durations(&metrics, Command::BLPop), 4);
    assert_eq!(metrics.commands_in_flight.get(), 0);
}

#[tokio::test]
async fn a_failing_command_inside_a_transaction_is_one_pipeline_error() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(RedisMetrics::new());
    let mut conn = multiplexed(&redis, &metrics).await;
    let _: () = conn.set("text", "hello").await.unwrap();
    // INCR of a string fails at EXEC time; the transaction's other commands still run.
    let result: redis::RedisResult<(i64, i64)> = redis::pipe()
        .atomic()
        .incr("counter", 1)
        .incr("text", 1)
        .query_async(&mut conn)
        .await;
    assert!(result.is_err());
    let counter: i64 = conn.get("counter").await.unwrap();
    assert_eq!(counter, 1);
    assert_eq!(errors(&metrics, Command::Pipeline, ErrorKind::Response), 1);
    assert_eq!(all_errors(&metrics, Command::Pipeline), 1);
    assert_eq!(commands(&metrics, Command::IncrBy), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commands_are_all_counted() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(RedisMetrics::new());
    let conn = multiplexed(&redis, &metrics).await;
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let mut conn = conn.clone();
            tokio::spawn(async move {
                for i in 0..250 {
                    let _: i64 = conn.incr(format!("task:{task}"), 1).await.unwrap();
                    let _: Option<i64> =
                        conn.get(format!("task:{}", (task + i) % 8)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(commands(&metrics, Command::IncrBy), 2000);
    assert_eq!(commands(&metrics, Command::Get), 2000);
    assert_eq!(durations(&metrics, Command::IncrBy), 2000);
    assert_eq!(durations(&metrics, Command::Get), 2000);
    assert_eq!(all_errors(&metrics, Command::Get), 0);
    assert_eq!(metrics.commands_in_flight.get(), 0);
    let mut conn = conn;
    let total: i64 = redis::cmd("EVAL")
        .arg("local s = 0 for i = 0, 7 do s = s + tonumber(redis.call('GET', 'task:' .. i)) end return s")
        .arg(0)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(total, 2000, "Redis agrees");
    assert_eq!(commands(&metrics, Command::Eval), 1);
}

fn connections(metrics: &RedisMetrics, state: ConnectionState) -> i64 {
    metrics
        .connections
        .get_or_create(&ConnectionStateLabels { state })
        .get()
}

/// A `ConnectionManager` that gives up quickly on a dead or hung server.
async fn manager(redis: &Redis, response_timeout: Duration) -> ConnectionManager {
    let client = redis::Client::open(redis.url()).unwrap();
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(response_timeout));
    ConnectionManager::new_with_config(client, config)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_killed_redis_shows_reconnecting_then_connected_and_counts_one_reconnect() {
    let mut redis = Redis::start().unwrap();
    let registry = Registry::new();
    let metrics = RedisMetrics::register(&registry).unwrap();
    let mut conn = Instrumented::with_metrics(
        manager(&redis, Duration::from_secs(2)).await,
        metrics.clone(),
    );
    let _: () = conn.set("k", 1).await.unwrap();
    // A clone is the same connection.
    let clone = conn.clone();
    assert_eq!(connections(&metrics, ConnectionState::Connected), 1);
    assert_eq!(connections(&metrics, ConnectionState::Reconnecting), 0);

    redis.stop();
    for _ in 0..3 {
        let result: redis::RedisResult<Option<i64>> = conn.get("k").await;
        assert!(result.is_err(), "Redis is down");
    }
    assert_eq!(connections(&metrics, ConnectionState::Connected), 0);
    assert_eq!(connections(&metrics, ConnectionState::Reconnecting), 1);
    assert_eq!(metrics.reconnects.get(), 0, "not back yet");
    let down = registry.encode(Format::Prometheus);
    assert!(
        down.contains("fiko_redis_connections{state=\"reconnecting\"} 1"),
        "{down}"
    );

    redis.restart().unwrap();
    let restarted = Instant::now();
    let deadline = restarted + Duration::from_secs(15);
    loop {
        let result: redis::RedisResult<()> = conn.set("k", 2).await;
        if result.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "no reconnect: {result:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reconnected_after = restarted.elapsed();
    assert_eq!(connections(&metrics, ConnectionState::Connected), 1);
    assert_eq!(connections(&metrics, ConnectionState::Reconnecting), 0);
    assert_eq!(metrics.reconnects.get(), 1);
    let _: i64 = conn.get("k").await.unwrap();
    assert_eq!(metrics.reconnects.get(), 1, "one outage, one reconnect");
    let up = registry.encode(Format::Prometheus);
    assert!(
        up.contains("fiko_redis_connections{state=\"connected\"} 1"),
        "{up}"
    );
    assert!(up.contains("fiko_redis_reconnects_total 1"), "{up}");

    // The connection leaves the gauge with its last clone.
    drop(conn);
    assert_eq!(connections(&metrics, ConnectionState::Connected), 1);
    drop(clone);
    assert_eq!(connections(&metrics, ConnectionState::Connected), 0);
    eprintln!(
        "killed Redis: reconnecting while down; connected again {reconnected_after:.2?} after the restart"
    );
}

#[tokio::test]
async fn a_hung_redis_times_commands_out_but_its_connection_stays_connected() {
    let mut redis = Redis::start().unwrap();
    let metrics = Arc::new(RedisMetrics::new());
    let mut conn = Instrumented::with_metrics(
        manager(&redis, Duration::from_millis(300)).await,
        metrics.clone(),
    );
    let _: () = conn.set("k", 1).await.unwrap();

    redis.pause().unwrap();
    let started = Instant::now();
    let result: redis::RedisResult<Option<i64>> = conn.get("k").await;
    let took = started.elapsed();
    assert!(result.is_err(), "a hung server answers nothing");
    assert!(
        took < Duration::from_secs(1),
        "bounded by the response timeout: {took:?}"
    );
    assert_eq!(errors(&metrics, Command::Get, ErrorKind::Timeout), 1);
    // A timeout is not a broken connection.
    assert_eq!(connections(&metrics, ConnectionState::Connected), 1);
    assert_eq!(connections(&metrics, ConnectionState::Reconnecting), 0);
    assert_eq!(metrics.commands_in_flight.get(), 0);

    redis.resume().unwrap();
    let value: i64 = conn.get("k").await.unwrap();
    assert_eq!(value, 1);
    assert_eq!(metrics.reconnects.get(), 0);
}
