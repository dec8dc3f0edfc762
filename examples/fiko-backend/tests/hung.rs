//! A hung dependency, not a dead one: the demo binary on a real PostgreSQL and Redis (test
//! kit) under a client load, with every process of PostgreSQL (postmaster and backends),
//! then of Redis, stopped with SIGSTOP — connections stay open, nothing answers — and
//! continued with SIGCONT. Requests that need the hung server fail within their timeouts
//! (pool acquire 1 s, query 1 s; cache operations 250 ms), errors are counted by kind,
//! the rest keep being served, no in-flight gauge stays up, and the time from SIGCONT to
//! the first success is measured.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::load::{AI, Endpoints, Load, ME, WORKFLOWS, json_body, server_errors, start_demo};
use common::{samples, sum};
use serde_json::json;

/// The pool's acquire timeout and the query timeout the app is started with.
const ACQUIRE_TIMEOUT: &str = "1";
const QUERY_TIMEOUT: &str = "1";
/// No request may take longer than this while a dependency hangs: a request needing the
/// hung PostgreSQL waits at most the acquire timeout plus the query timeout (2 s); one
/// going through the hung cache waits 250 ms per cache operation before falling back.
const REQUEST_BOUND: Duration = Duration::from_millis(2500);
/// How long each dependency stays hung.
const HUNG_FOR: Duration = Duration::from_secs(4);
const CLIENTS: usize = 4;
const WHOLE_TEST_BOUND: Duration = Duration::from_secs(90);
/// Every gauge of something in progress, which must be back at 0 once the load stopped.
const IN_FLIGHT_GAUGES: [(&str, &[(&str, &str)]); 5] = [
    ("http_server_active_requests", &[]),
    ("fiko_redis_commands_in_flight", &[]),
    ("function_calls_in_flight", &[]),
    ("fiko_db_pool_connections", &[("state", "in_use")]),
    ("fiko_workflow_executions_running", &[]),
];

impl Endpoints {
    /// Probes health and metrics every 250 ms for `length`: health must say `down` is
    /// unhealthy (after the first probe) within its 2 s check timeout, metrics must
    /// answer within a second.
    async fn probe_outage(&self, length: Duration, down: &str) {
        let until = Instant::now() + length;
        let mut first = true;
        while Instant::now() < until {
            let (status, checks, took) = self.health().await;
            if !first {
                assert_eq!(status, 503, "{down} hung: health {checks:?}");
                assert_eq!(checks[down], "unhealthy", "{checks:?}");
            }
            first = false;
            assert!(took < Duration::from_millis(2500), "health took {took:?}");
            let started = Instant::now();
            let metrics = self.scrape().await;
            assert!(!metrics.is_empty());
            let took = started.elapsed();
            assert!(took < Duration::from_secs(1), "metrics took {took:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Sends `request` every 20 ms until it answers 2xx; how long that took.
    async fn time_to_success(
        &self,
        mut request: impl FnMut() -> reqwest::RequestBuilder,
    ) -> Duration {
        let started = Instant::now();
        loop {
            if let Ok(response) = request().send().await
                && response.status().is_success()
            {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no success within 15 s of SIGCONT"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The increase of each `kind` of `metric` between two scrapes.
fn by_kind(before: &str, after: &str, metric: &str) -> BTreeMap<String, f64> {
    let totals = |text: &str| {
        samples(text, metric).into_iter().fold(
            BTreeMap::<String, f64>::new(),
            |mut by_kind, (labels, value)| {
                *by_kind.entry(labels["kind"].clone()).or_default() += value;
                by_kind
            },
        )
    };
    let (before, after) = (totals(before), totals(after));
    after
        .into_iter()
        .map(|(kind, n)| {
            let increase = n - before.get(&kind).copied().unwrap_or(0.0);
            (kind, increase)
        })
        .filter(|(_, n)| *n > 0.0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_then_redis_hung_mid_load_then_continued() {
    let started = Instant::now();
    let (mut postgres, mut redis, mut app, h, _logs) = start_demo(&[
        ("DATABASE_ACQUIRE_TIMEOUT_SECS", ACQUIRE_TIMEOUT),
        ("DATABASE_QUERY_TIMEOUT_SECS", QUERY_TIMEOUT),
    ]);

    // Users with sessions, their sessions and profiles cached in Redis (`GET me`).
    let tokens = h.sign_in("hung", "Hung", CLIENTS).await;
    let workflow = |n: u32| {
        json_body(
            h.client.post(format!("{}{WORKFLOWS}", h.base)),
            &json!({"name": format!("probe{n}"), "actions": ["tag_contact"]}),
        )
        .bearer_auth(&tokens[0])
    };

    let load = Load::start(&h.client, &h.base, &tokens);
    tokio::time::sleep(Duration::from_secs(2)).await;
    load.take().assert_all_served("baseline");

    // PostgreSQL hung: sessions and profiles still come from Redis; workflow creations
    // fail with 503 within the acquire + query timeouts.
    let before_pg = h.scrape().await;
    let stopped = tokio::task::block_in_place(|| postgres.pause()).unwrap();
    h.probe_outage(HUNG_FOR, "database").await;
    let during = load.take();
    let after_pg = h.scrape().await;
    for route in [ME, AI] {
        assert!(during.total(route) > 0, "{during:?}");
        assert_eq!(
            during.count(route, |s| s == 200),
            during.total(route),
            "postgres hung: {route} is served from the Redis cache: {during:?}"
        );
    }
    assert!(during.count(WORKFLOWS, |s| s == 503) > 0, "{during:?}");
    assert_eq!(
        during.count(WORKFLOWS, |s| s == 503 || (200..300).contains(&s)),
        during.total(WORKFLOWS),
        "postgres hung: workflows fail with a clean 503: {during:?}\n{}",
        app.log()
    );
    let pg_slowest = during.slowest();
    assert!(
        pg_slowest < REQUEST_BOUND,
        "postgres hung: slowest request {pg_slowest:?}: {during:?}"
    );
    let db_errors = by_kind(&before_pg, &after_pg, "fiko_db_query_errors_total");
    assert!(
        db_errors
            .keys()
            .all(|kind| ["timeout", "pool_timeout"].contains(&kind.as_str()))
            && !db_errors.is_empty(),
        "db errors by kind: {db_errors:?}"
    );
    let acquire_errors = by_kind(&before_pg, &after_pg, "fiko_db_pool_acquire_errors_total");
    assert!(server_errors(&after_pg, WORKFLOWS) > server_errors(&before_pg, WORKFLOWS));
    for route in [ME, AI] {
        assert_eq!(
            server_errors(&after_pg, route),
            server_errors(&before_pg, route)
        );
    }
    eprintln!(
        "postgres hung ({stopped} processes stopped for {HUNG_FOR:?}): {} requests ({} workflow 503s), slowest {pg_slowest:.2?}; db errors by kind {db_errors:?}; acquire errors {acquire_errors:?}",
        during.statuses.values().sum::<u64>(),
        during.count(WORKFLOWS, |s| s == 503),
    );

    // Continued: the first workflow creation that succeeds, then everything.
    tokio::task::block_in_place(|| postgres.resume()).unwrap();
    let mut n = 0;
    let pg_recovery = h
        .time_to_success(|| {
            n += 1;
            workflow(n)
        })
        .await;
    let (recovered, later) = h.served_again(&load, "after postgres continued").await;
    assert_eq!(
        sum(&later, "fiko_db_query_errors_total", &[]),
        sum(&recovered, "fiko_db_query_errors_total", &[]),
        "db errors stop once PostgreSQL answers again"
    );
    eprintln!("postgres continued: first workflow created {pg_recovery:.2?} after SIGCONT");

    // Redis hung: everything is served from PostgreSQL; cache operations time out after
    // 250 ms (counted) and fall back to the database.
    let before_redis = h.scrape().await;
    let stopped = tokio::task::block_in_place(|| redis.pause()).unwrap();
    h.probe_outage(HUNG_FOR, "cache").await;
    let during = load.take();
    let after_redis = h.scrape().await;
    during.assert_all_served("redis hung: served from PostgreSQL");
    let redis_slowest = during.slowest();
    assert!(
        redis_slowest < REQUEST_BOUND,
        "redis hung: slowest request {redis_slowest:?}: {during:?}"
    );
    for route in [ME, AI, WORKFLOWS] {
        assert_eq!(
            server_errors(&after_redis, route),
            server_errors(&before_redis, route)
        );
    }
    let redis_errors = by_kind(&before_redis, &after_redis, "fiko_redis_errors_total");
    assert!(
        !redis_errors.is_empty()
            && redis_errors
                .keys()
                .all(|kind| ["timeout", "cancelled"].contains(&kind.as_str())),
        "a hung Redis times out, it does not refuse: {redis_errors:?}"
    );
    let cache_errors = |text: &str| sum(text, "fiko_cache_errors_total", &[("cache", "app")]);
    assert!(cache_errors(&after_redis) > cache_errors(&before_redis));
    // A hung Redis is not a broken connection: no reconnect.
    assert_eq!(
        sum(
            &after_redis,
            "fiko_redis_connections",
            &[("state", "reconnecting")]
        ),
        0.0
    );
    eprintln!(
        "redis hung ({stopped} process stopped for {HUNG_FOR:?}): {} requests, all served, slowest {redis_slowest:.2?}; redis errors by kind {redis_errors:?}; cache errors +{}",
        during.statuses.values().sum::<u64>(),
        cache_errors(&after_redis) - cache_errors(&before_redis)
    );

    // Continued: the first healthy probe (PING answered), then cache hits again.
    tokio::task::block_in_place(|| redis.resume()).unwrap();
    let continued = Instant::now();
    loop {
        if h.health().await.0 == 200 {
            break;
        }
        assert!(continued.elapsed() < Duration::from_secs(15), "not healthy");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let redis_recovery = continued.elapsed();
    let (recovered, later) = h.served_again(&load, "after redis continued").await;
    let cache_hits = |text: &str| sum(text, "fiko_cache_hits_total", &[("cache", "app")]);
    assert!(
        cache_hits(&later) > cache_hits(&recovered),
        "the cache hits again"
    );
    assert_eq!(cache_errors(&later), cache_errors(&recovered));
    eprintln!("redis continued: healthy {redis_recovery:.2?} after SIGCONT");

    // Load stopped: nothing in flight, nothing panicked.
    load.stop().await;
    h.assert_idle(&IN_FLIGHT_GAUGES).await;
    assert!(app.exited().is_none(), "the app died:\n{}", app.log());
    assert!(!app.log().contains("panicked"), "{}", app.log());
    assert!(
        started.elapsed() < WHOLE_TEST_BOUND,
        "took {:?}",
        started.elapsed()
    );
    eprintln!("hung-dependency test took {:.2?}", started.elapsed());
}
