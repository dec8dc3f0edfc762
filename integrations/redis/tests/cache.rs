//! `Cache` against a real redis-server: exact hits and misses, TTL, compute errors, and
//! falling back to compute while Redis is killed, then caching again after a restart.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fiko_metrics::{Format, MetricSet, Registry};
use fiko_metrics_redis::{
    Cache, CacheLabels, CacheMetrics, CacheOperation, CacheOperationLabels, Command, CommandLabels,
    Instrumented, RedisMetrics,
};
use fiko_testkit::Redis;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

const TTL: Duration = Duration::from_secs(60);

fn hits(metrics: &CacheMetrics, cache: &str) -> u64 {
    metrics
        .hits
        .get_or_create(&CacheLabels {
            cache: cache.into(),
        })
        .get()
}

fn misses(metrics: &CacheMetrics, cache: &str) -> u64 {
    metrics
        .misses
        .get_or_create(&CacheLabels {
            cache: cache.into(),
        })
        .get()
}

fn op_labels(cache: &str, operation: CacheOperation) -> CacheOperationLabels {
    CacheOperationLabels {
        cache: cache.into(),
        operation,
    }
}

fn errors(metrics: &CacheMetrics, cache: &str, operation: CacheOperation) -> u64 {
    metrics
        .errors
        .get_or_create(&op_labels(cache, operation))
        .get()
}

fn timed(metrics: &CacheMetrics, cache: &str, operation: CacheOperation) -> u64 {
    metrics
        .operation_duration_seconds
        .get_or_create(&op_labels(cache, operation))
        .count()
}

async fn manager(redis: &Redis) -> ConnectionManager {
    let client = redis::Client::open(redis.url()).unwrap();
    ConnectionManager::new(client).await.unwrap()
}

#[tokio::test]
async fn hits_and_misses_are_exact() {
    let redis = Redis::start().unwrap();
    let registry = Registry::new();
    let cache_metrics = CacheMetrics::register(&registry).unwrap();
    let redis_metrics = RedisMetrics::register(&registry).unwrap();
    let conn = Instrumented::with_metrics(manager(&redis).await, redis_metrics.clone());
    let cache = Cache::with_metrics(conn.clone(), cache_metrics.clone()).named("users");
    let computed = AtomicU64::new(0);

    for round in 0..4 {
        for id in 0..3 {
            let name = cache
                .get_or_compute(&format!("user:{id}"), TTL, || async {
                    computed.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(format!("user {id}"))
                })
                .await
                .unwrap();
            assert_eq!(name, format!("user {id}"), "round {round}");
        }
    }

    assert_eq!(computed.load(Ordering::SeqCst), 3);
    assert_eq!(misses(&cache_metrics, "users"), 3);
    assert_eq!(hits(&cache_metrics, "users"), 9);
    assert_eq!(timed(&cache_metrics, "users", CacheOperation::Get), 12);
    assert_eq!(timed(&cache_metrics, "users", CacheOperation::Set), 3);
    assert_eq!(timed(&cache_metrics, "users", CacheOperation::Compute), 3);
    for op in [CacheOperation::Get, CacheOperation::Set] {
        assert_eq!(errors(&cache_metrics, "users", op), 0);
    }
    // Another cache name is its own series.
    assert_eq!(hits(&cache_metrics, "default"), 0);
    // Through an instrumented connection the cache's commands show up as Redis commands.
    let get = redis_metrics
        .commands
        .get_or_create(&CommandLabels::new(Command::Get));
    assert_eq!(get.get(), 12);

    // The TTL was set.
    let mut conn = conn;
    let pttl: i64 = conn.pttl("user:0").await.unwrap();
    assert!(pttl > 50_000 && pttl <= 60_000, "{pttl}");

    let text = registry.encode(Format::Prometheus);
    assert!(
        text.contains("fiko_cache_hits_total{cache=\"users\"} 9\n"),
        "{text}"
    );
    assert!(text.contains("fiko_cache_misses_total{cache=\"users\"} 3\n"));
    assert!(text.contains(
        "fiko_cache_operation_duration_seconds_count{cache=\"users\",operation=\"compute\"} 3\n"
    ));
}

#[tokio::test]
async fn values_expire_after_their_ttl() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(CacheMetrics::new());
    let cache = Cache::with_metrics(manager(&redis).await, metrics.clone());
    let ttl = Duration::from_millis(300);
    let load = || async { Ok::<_, std::io::Error>(7_i64) };
    assert_eq!(cache.get_or_compute("n", ttl, load).await.unwrap(), 7);
    assert_eq!(cache.get_or_compute("n", ttl, load).await.unwrap(), 7);
    assert_eq!(
        (hits(&metrics, "default"), misses(&metrics, "default")),
        (1, 1)
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(cache.get::<i64>("n").await.unwrap(), None);
    assert_eq!(
        (hits(&metrics, "default"), misses(&metrics, "default")),
        (1, 2)
    );
    // A zero TTL is stored for the 1 ms minimum rather than refused by Redis.
    cache.set("zero", &1_i64, Duration::ZERO).await.unwrap();
    assert_eq!(errors(&metrics, "default", CacheOperation::Set), 0);
}

#[tokio::test]
async fn compute_errors_are_returned_and_not_cached() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(CacheMetrics::new());
    let cache = Cache::with_metrics(manager(&redis).await, metrics.clone()).named("flaky");
    let result = cache
        .get_or_compute("k", TTL, || async { Err::<String, _>("backend down") })
        .await;
    assert_eq!(result.unwrap_err(), "backend down");
    assert_eq!(
        timed(&metrics, "flaky", CacheOperation::Set),
        0,
        "nothing stored"
    );
    let value = cache
        .get_or_compute("k", TTL, || async { Ok::<_, &str>(String::from("ok")) })
        .await
        .unwrap();
    assert_eq!(value, "ok");
    assert_eq!(misses(&metrics, "flaky"), 2);
    assert_eq!(timed(&metrics, "flaky", CacheOperation::Compute), 2);
    assert!(cache.delete("k").await.unwrap());
    assert!(!cache.delete("k").await.unwrap());
    assert_eq!(timed(&metrics, "flaky", CacheOperation::Delete), 2);
}

#[tokio::test]
async fn undecodable_values_are_misses_and_errors() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(CacheMetrics::new());
    let mut conn = manager(&redis).await;
    let _: () = conn.set("n", "not a number").await.unwrap();
    let cache = Cache::with_metrics(conn, metrics.clone());
    let value = cache
        .get_or_compute("n", TTL, || async { Ok::<_, std::io::Error>(5_i64) })
        .await
        .unwrap();
    assert_eq!(value, 5);
    assert_eq!(misses(&metrics, "default"), 1);
    assert_eq!(errors(&metrics, "default", CacheOperation::Get), 1);
    // The computed value replaced the bad one.
    assert_eq!(cache.get::<i64>("n").await.unwrap(), Some(5));
}

#[tokio::test]
async fn falls_back_to_compute_while_redis_is_down_and_recovers() {
    let mut redis = Redis::start().unwrap();
    let metrics = Arc::new(CacheMetrics::new());
    let cache = Cache::with_metrics(manager(&redis).await, metrics.clone()).named("pages");
    let computed = AtomicU64::new(0);
    let load = || async {
        computed.fetch_add(1, Ordering::SeqCst);
        Ok::<_, std::io::Error>(String::from("page"))
    };

    assert_eq!(
        cache.get_or_compute("home", TTL, load).await.unwrap(),
        "page"
    );
    assert_eq!(
        cache.get_or_compute("home", TTL, load).await.unwrap(),
        "page"
    );
    assert_eq!((hits(&metrics, "pages"), misses(&metrics, "pages")), (1, 1));

    redis.stop();
    let started = Instant::now();
    for _ in 0..4 {
        assert_eq!(
            cache.get_or_compute("home", TTL, load).await.unwrap(),
            "page"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        computed.load(Ordering::SeqCst),
        1 + 4,
        "every call computed"
    );
    assert_eq!(misses(&metrics, "pages"), 1 + 4);
    assert_eq!(hits(&metrics, "pages"), 1);
    assert_eq!(errors(&metrics, "pages", CacheOperation::Get), 4);
    assert_eq!(errors(&metrics, "pages", CacheOperation::Set), 4);

    redis.restart().unwrap();
    // The connection manager reconnects on its own; until then calls keep falling back.
    let deadline = Instant::now() + Duration::from_secs(15);
    while cache.get::<String>("probe").await.is_err() {
        assert!(Instant::now() < deadline, "no reconnect after restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = (hits(&metrics, "pages"), misses(&metrics, "pages"));
    let computed_before = computed.load(Ordering::SeqCst);
    assert_eq!(
        cache.get_or_compute("home", TTL, load).await.unwrap(),
        "page"
    );
    assert_eq!(
        cache.get_or_compute("home", TTL, load).await.unwrap(),
        "page"
    );
    assert_eq!(
        computed.load(Ordering::SeqCst),
        computed_before + 1,
        "cached again"
    );
    assert_eq!(
        (hits(&metrics, "pages"), misses(&metrics, "pages")),
        (before.0 + 1, before.1 + 1)
    );
}

#[tokio::test]
async fn a_hung_redis_is_bounded_by_the_cache_timeout() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(CacheMetrics::new());
    let mut admin = manager(&redis).await;
    let cache = Cache::with_metrics(manager(&redis).await, metrics.clone())
        .named("slow")
        .timeout(Duration::from_millis(100));
    let load = || async { Ok::<_, std::io::Error>(String::from("fresh")) };
    assert_eq!(cache.get_or_compute("k", TTL, load).await.unwrap(), "fresh");

    // Redis stops answering every client for 1.5 s (it is alive, just not replying).
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(cache.get_or_compute("k", TTL, load).await.unwrap(), "fresh");
    let elapsed = started.elapsed();
    // GET and SET each give up after 100 ms instead of waiting for the pause.
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    assert_eq!(errors(&metrics, "slow", CacheOperation::Get), 1);
    assert_eq!(errors(&metrics, "slow", CacheOperation::Set), 1);
    assert_eq!((hits(&metrics, "slow"), misses(&metrics, "slow")), (0, 2));

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        cache.get::<String>("k").await.unwrap().as_deref(),
        Some("fresh")
    );
    assert_eq!(hits(&metrics, "slow"), 1);
}

/// A cache looks each of its series up once (then records by `SeriesId`): past the
/// families' series limit, a new cache name folds into the overflow series once per
/// series, however many operations it records.
#[tokio::test]
async fn a_cache_looks_its_series_up_once_per_name_and_operation() {
    let redis = Redis::start().unwrap();
    let metrics = Arc::new(CacheMetrics::new());
    // Fill the families to their limits (100 names; 400 name and operation pairs).
    for n in 0..100 {
        let cache: Arc<str> = Arc::from(format!("cache{n}"));
        let labels = CacheLabels {
            cache: cache.clone(),
        };
        metrics.hits.get_or_create(&labels);
        metrics.misses.get_or_create(&labels);
        for operation in [
            CacheOperation::Get,
            CacheOperation::Set,
            CacheOperation::Delete,
            CacheOperation::Compute,
        ] {
            metrics
                .operation_duration_seconds
                .get_or_create(&CacheOperationLabels {
                    cache: cache.clone(),
                    operation,
                });
        }
    }
    let cache = Cache::with_metrics(manager(&redis).await, metrics.clone()).named("late");
    for _ in 0..5 {
        let value = cache
            .get_or_compute("late:1", TTL, || async {
                Ok::<_, std::io::Error>(String::from("v"))
            })
            .await
            .unwrap();
        assert_eq!(value, "v");
    }
    // One miss (then compute and set), four hits, all in the overflow series.
    assert_eq!(misses(&metrics, "other"), 1);
    assert_eq!(hits(&metrics, "other"), 4);
    assert_eq!(timed(&metrics, "other", CacheOperation::Get), 5);
    // Each series was looked up once: per-operation lookups would fold 4 hits and 5 gets.
    assert_eq!((metrics.hits.folded(), metrics.misses.folded()), (1, 1));
    assert_eq!(metrics.operation_duration_seconds.folded(), 3); // get, compute, set
}

#[tokio::test]
async fn new_records_into_the_global_set() {
    // `Cache::new` holds `CacheMetrics::shared()`: the set `CacheMetrics::global()` reads
    // and the default registry exposes.
    let redis = Redis::start().unwrap();
    let cache = Cache::new(manager(&redis).await).named("global-pages");
    for _ in 0..2 {
        let page = cache
            .get_or_compute("page:/", TTL, || async {
                Ok::<_, std::io::Error>("<p>home</p>".to_owned())
            })
            .await
            .unwrap();
        assert_eq!(page, "<p>home</p>");
    }
    assert_eq!(misses(CacheMetrics::global(), "global-pages"), 1);
    assert_eq!(hits(CacheMetrics::global(), "global-pages"), 1);
    let text = fiko_metrics::default_registry().encode(Format::Prometheus);
    assert!(
        text.contains("fiko_cache_hits_total{cache=\"global-pages\"} 1\n"),
        "{text}"
    );
}
