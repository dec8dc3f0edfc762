//! Faults under load: the demo binary on a real PostgreSQL and Redis (test kit), a client
//! loop running against it all along, and PostgreSQL killed (SIGKILL) and restarted, then
//! Redis, then both at once. Checked through the app's own `/api/v1/metrics` and health
//! endpoint: it keeps serving what it can, fails what it cannot with a quick 503, counts
//! every error by class while the dependency is away and no more once it is back, its
//! pool recovers, nothing panics and no in-flight gauge stays up.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::load::{AI, Endpoints, Load, ME, METRICS, WORKFLOWS, server_errors, start_demo};
use common::sum;

/// The pool's acquire timeout the app is started with: what bounds a request that needs
/// the dead database.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// No request, during any outage, may take longer than this.
const REQUEST_BOUND: Duration = Duration::from_millis(2500);
/// While only Redis is down, no request may take longer than this: a refused connection
/// fails at once and the value comes from PostgreSQL.
const REDIS_DOWN_BOUND: Duration = Duration::from_millis(500);
/// Concurrent client loops.
const CLIENTS: usize = 4;
const WHOLE_TEST_BOUND: Duration = Duration::from_secs(90);
/// Every gauge of something in progress, which must be back at 0 once the load stopped.
const IN_FLIGHT_GAUGES: [(&str, &[(&str, &str)]); 7] = [
    ("http_server_active_requests", &[]),
    ("fiko_redis_commands_in_flight", &[]),
    ("function_calls_in_flight", &[]),
    ("fiko_db_pool_connections", &[("state", "in_use")]),
    ("fiko_workflow_executions_running", &[]),
    ("fiko_jobs_tasks_running", &[]),
    ("websocket_active_connections", &[]),
];

/// Health and metrics probes during one phase.
#[derive(Debug, Default)]
struct Probes {
    /// Health status and the health of each check (`database`, `cache`).
    health: Vec<(u16, BTreeMap<String, String>)>,
    /// Metrics status and latency.
    metrics: Vec<(u16, Duration)>,
    slowest_health: Duration,
}

/// How long each phase took, printed as it ends and listed at the end.
struct Timings {
    started: Instant,
    phases: Vec<(String, Duration)>,
}

impl Timings {
    fn mark(&mut self, phase: &str, since: Instant) {
        let took = since.elapsed();
        eprintln!(
            "[{:>6.2}s] {phase}: {took:.2?}",
            self.started.elapsed().as_secs_f64()
        );
        self.phases.push((phase.to_owned(), took));
    }
}

impl Endpoints {
    /// Probes health and metrics every 250 ms for `length`.
    async fn probe_for(&self, length: Duration) -> Probes {
        let until = Instant::now() + length;
        let mut probes = Probes::default();
        while Instant::now() < until {
            let (status, checks, took) = self.health().await;
            probes.health.push((status, checks));
            probes.slowest_health = probes.slowest_health.max(took);
            let started = Instant::now();
            let response = self.get(METRICS).await;
            let status = response.status().as_u16();
            let _ = response.bytes().await;
            probes.metrics.push((status, started.elapsed()));
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        probes
    }

    /// Waits (bounded) until the health endpoint answers 200.
    async fn wait_healthy(&self, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let (status, checks, _) = self.health().await;
            if status == 200 {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "not healthy {limit:?} after the restart: {checks:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Successful queries: every query counted minus the failed ones.
fn ok_queries(text: &str, query: &str) -> f64 {
    sum(text, "fiko_db_queries_total", &[("query", query)])
        - sum(text, "fiko_db_query_errors_total", &[("query", query)])
}

fn check_outage_probes(what: &str, probes: &Probes, down: &[&str], up: &[&str]) {
    assert!(!probes.health.is_empty());
    // The first probe may come before the app noticed; every later one must say so.
    for (status, checks) in probes.health.iter().skip(1) {
        assert_eq!(*status, 503, "{what}: health {checks:?}");
        for name in down {
            assert_eq!(checks[*name], "unhealthy", "{what}: {checks:?}");
        }
        for name in up {
            assert_eq!(checks[*name], "healthy", "{what}: {checks:?}");
        }
    }
    // Health checks have a 2 s timeout each, run concurrently.
    assert!(
        probes.slowest_health < Duration::from_millis(2500),
        "{what}: health took {:?}",
        probes.slowest_health
    );
    for (status, took) in &probes.metrics {
        assert_eq!(*status, 200, "{what}: metrics");
        assert!(
            *took < Duration::from_secs(1),
            "{what}: metrics took {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_redis_killed_mid_load_then_restarted() {
    let started = Instant::now();
    let acquire = ACQUIRE_TIMEOUT.as_secs_f64().to_string();
    let (mut postgres, mut redis, mut app, h, _logs) =
        start_demo(&[("DATABASE_ACQUIRE_TIMEOUT_SECS", &acquire)]);
    let mut timings = Timings {
        started,
        phases: Vec::new(),
    };
    timings.mark("servers and app started", started);

    // Users with sessions, their sessions and profiles cached in Redis (`GET me`).
    let tokens = h.sign_in("fault", "Fault", CLIENTS).await;

    // Baseline.
    let phase = Instant::now();
    let load = Load::start(&h.client, &h.base, &tokens);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let baseline = load.take();
    let before_pg = h.scrape().await;
    baseline.assert_all_served("baseline");
    timings.mark("baseline load", phase);

    // PostgreSQL killed: sessions and profiles still come from Redis, workflow creations
    // fail with 503 within the acquire timeout.
    let phase = Instant::now();
    tokio::task::block_in_place(|| postgres.stop());
    let probes = h.probe_for(Duration::from_secs(4)).await;
    let during = load.take();
    let after_pg = h.scrape().await;
    check_outage_probes("postgres down", &probes, &["database"], &["cache"]);
    for route in [ME, AI] {
        assert!(during.total(route) > 0, "{during:?}");
        assert_eq!(
            during.count(route, |s| s == 200),
            during.total(route),
            "postgres down: {route} is served from the Redis cache: {during:?}"
        );
    }
    assert!(during.total(WORKFLOWS) > 0, "{during:?}");
    assert_eq!(
        during.count(WORKFLOWS, |s| s == 503 || (200..300).contains(&s)),
        during.total(WORKFLOWS),
        "postgres down: workflows fail with a clean 503 (or succeeded before the kill): {during:?}\n{}",
        app.log()
    );
    assert!(during.count(WORKFLOWS, |s| s == 503) > 0, "{during:?}");
    assert!(
        during.slowest() < REQUEST_BOUND,
        "postgres down: slowest request {:?}: {during:?}",
        during.slowest()
    );
    let db_errors = |text: &str, kind: &str| {
        sum(
            text,
            "fiko_db_query_errors_total",
            &[("pool", "main"), ("kind", kind)],
        )
    };
    assert!(
        db_errors(&after_pg, "pool_timeout") > db_errors(&before_pg, "pool_timeout"),
        "pool timeouts counted"
    );
    assert!(server_errors(&after_pg, WORKFLOWS) > server_errors(&before_pg, WORKFLOWS));
    for route in [ME, AI] {
        assert_eq!(
            server_errors(&after_pg, route),
            server_errors(&before_pg, route)
        );
    }
    let errors_by_kind: BTreeMap<String, f64> = ["pool_timeout", "io", "database", "other"]
        .iter()
        .map(|kind| {
            (
                (*kind).to_owned(),
                db_errors(&after_pg, kind) - db_errors(&before_pg, kind),
            )
        })
        .collect();
    eprintln!(
        "postgres down: {} requests ({} workflow 503s, slowest {:.2?}); db errors by kind {errors_by_kind:?}",
        during.statuses.values().sum::<u64>(),
        during.count(WORKFLOWS, |s| s == 503),
        during.slowest()
    );
    timings.mark("postgres down", phase);

    // PostgreSQL back: the pool reconnects, queries succeed again, errors stop.
    let phase = Instant::now();
    tokio::task::block_in_place(|| postgres.restart()).unwrap();
    let healthy_after = h.wait_healthy(Duration::from_secs(15)).await;
    let (recovered, later) = h.served_again(&load, "after postgres restart").await;
    assert_eq!(
        sum(&later, "fiko_db_query_errors_total", &[]),
        sum(&recovered, "fiko_db_query_errors_total", &[]),
        "db errors stop once PostgreSQL is back"
    );
    assert_eq!(
        server_errors(&later, WORKFLOWS),
        server_errors(&recovered, WORKFLOWS)
    );
    assert!(ok_queries(&later, "create_workflow") > ok_queries(&recovered, "create_workflow"));
    let pool_open = sum(&later, "fiko_db_pool_connections", &[("pool", "main")]);
    let pool_idle = sum(
        &later,
        "fiko_db_pool_connections",
        &[("pool", "main"), ("state", "idle")],
    );
    assert!(
        pool_open > 0.0 && pool_idle > 0.0,
        "pool: {pool_open} open, {pool_idle} idle"
    );
    eprintln!(
        "postgres back: healthy {healthy_after:.2?} after the restart; pool {pool_open} open ({pool_idle} idle)"
    );
    timings.mark("postgres restarted and recovered", phase);

    // Redis killed: everything is served from PostgreSQL; cache lookups fail (counted) and
    // fall back to the database.
    let phase = Instant::now();
    let before_redis = h.scrape().await;
    tokio::task::block_in_place(|| redis.stop());
    let probes = h.probe_for(Duration::from_secs(4)).await;
    let during = load.take();
    let after_redis = h.scrape().await;
    check_outage_probes("redis down", &probes, &["cache"], &["database"]);
    during.assert_all_served("redis down: served from PostgreSQL");
    for route in [ME, AI, WORKFLOWS] {
        assert_eq!(
            server_errors(&after_redis, route),
            server_errors(&before_redis, route)
        );
    }
    assert!(
        during.slowest() < REDIS_DOWN_BOUND,
        "redis down: slowest request {:?}: {during:?}",
        during.slowest()
    );
    let redis_errors = |text: &str| sum(text, "fiko_redis_errors_total", &[]);
    let cache_errors = |text: &str| sum(text, "fiko_cache_errors_total", &[("cache", "app")]);
    let cache_misses = |text: &str| sum(text, "fiko_cache_misses_total", &[("cache", "app")]);
    let cache_hits = |text: &str| sum(text, "fiko_cache_hits_total", &[("cache", "app")]);
    assert!(redis_errors(&after_redis) > redis_errors(&before_redis));
    assert!(cache_errors(&after_redis) > cache_errors(&before_redis));
    assert!(cache_misses(&after_redis) > cache_misses(&before_redis));
    // Only lookups already under way when Redis was killed may still hit.
    assert!(
        cache_hits(&after_redis) - cache_hits(&before_redis) <= 2.0 * CLIENTS as f64,
        "no hits without Redis: {} -> {}",
        cache_hits(&before_redis),
        cache_hits(&after_redis)
    );
    // What failed while Redis was away, by kind (apalis' first EVALSHA is a `no_script`
    // before the outage, for instance).
    let by_kind = |text: &str| {
        common::samples(text, "fiko_redis_errors_total")
            .into_iter()
            .fold(
                BTreeMap::<String, f64>::new(),
                |mut by_kind, (labels, value)| {
                    *by_kind.entry(labels["kind"].clone()).or_default() += value;
                    by_kind
                },
            )
    };
    let (kinds_before, kinds_after) = (by_kind(&before_redis), by_kind(&after_redis));
    let redis_errors_by_kind: BTreeMap<String, f64> = kinds_after
        .iter()
        .map(|(kind, n)| {
            (
                kind.clone(),
                n - kinds_before.get(kind).copied().unwrap_or(0.0),
            )
        })
        .filter(|(_, n)| *n > 0.0)
        .collect();
    assert!(
        redis_errors_by_kind
            .keys()
            .all(|kind| ["io", "timeout"].contains(&kind.as_str())),
        "{redis_errors_by_kind:?}"
    );
    eprintln!(
        "redis down: {} requests, all served (slowest {:.2?}); redis errors by kind {redis_errors_by_kind:?}; cache errors +{}, misses (fallbacks) +{}",
        during.statuses.values().sum::<u64>(),
        during.slowest(),
        cache_errors(&after_redis) - cache_errors(&before_redis),
        cache_misses(&after_redis) - cache_misses(&before_redis)
    );
    timings.mark("redis down", phase);

    // Redis back: the connection manager reconnects, the cache fills and hits again.
    let phase = Instant::now();
    tokio::task::block_in_place(|| redis.restart()).unwrap();
    let healthy_after = h.wait_healthy(Duration::from_secs(15)).await;
    let (recovered, later) = h.served_again(&load, "after redis restart").await;
    assert_eq!(redis_errors(&later), redis_errors(&recovered));
    assert_eq!(cache_errors(&later), cache_errors(&recovered));
    assert!(
        cache_hits(&later) > cache_hits(&recovered),
        "the cache hits again"
    );
    eprintln!("redis back: healthy {healthy_after:.2?} after the restart");
    timings.mark("redis restarted and recovered", phase);

    // Both killed: nothing but the metrics and health endpoints can answer, quickly.
    let phase = Instant::now();
    let before_both = h.scrape().await;
    tokio::task::block_in_place(|| {
        postgres.stop();
        redis.stop();
    });
    let probes = h.probe_for(Duration::from_secs(3)).await;
    let during = load.take();
    let after_both = h.scrape().await;
    check_outage_probes("both down", &probes, &["database", "cache"], &[]);
    for route in [ME, AI, WORKFLOWS] {
        assert!(during.count(route, |s| s == 503) > 0, "{during:?}");
        assert_eq!(
            during.count(route, |s| s == 503 || (200..300).contains(&s)),
            during.total(route),
            "both down: {during:?}\n{}",
            app.log()
        );
        assert!(server_errors(&after_both, route) > server_errors(&before_both, route));
    }
    assert!(
        during.slowest() < REQUEST_BOUND,
        "both down: slowest request {:?}: {during:?}",
        during.slowest()
    );
    timings.mark("postgres and redis down", phase);

    let phase = Instant::now();
    tokio::task::block_in_place(|| -> Result<(), fiko_testkit::TestkitError> {
        postgres.restart()?;
        redis.restart()
    })
    .unwrap();
    h.wait_healthy(Duration::from_secs(15)).await;
    // Sessions were only in the lost Redis cache and in PostgreSQL, which kept them.
    let (recovered, later) = h.served_again(&load, "after both restarts").await;
    load.stop().await;
    for route in [ME, AI, WORKFLOWS] {
        assert_eq!(
            server_errors(&later, route),
            server_errors(&recovered, route)
        );
    }
    assert_eq!(
        sum(&later, "fiko_db_query_errors_total", &[]),
        sum(&recovered, "fiko_db_query_errors_total", &[])
    );
    assert_eq!(redis_errors(&later), redis_errors(&recovered));
    timings.mark("both restarted and recovered, load stopped", phase);

    // Load stopped: nothing in flight, nothing panicked, the process lives. (The pool's
    // `in_use` may be 1 for a moment: the active-sessions gauge queries every 2 s.)
    let final_scrape = h.assert_idle(&IN_FLIGHT_GAUGES).await;
    for gauge in [
        "http_server_active_requests",
        "fiko_redis_commands_in_flight",
    ] {
        assert!(
            !common::samples(&final_scrape, gauge).is_empty(),
            "{gauge} is exposed"
        );
    }
    assert_eq!(
        sum(
            &final_scrape,
            "function_calls_total",
            &[("outcome", "panic")]
        ),
        0.0
    );
    assert!(app.exited().is_none(), "the app died:\n{}", app.log());
    assert!(!app.log().contains("panicked"), "{}", app.log());

    eprintln!(
        "phase timings: {:?}",
        timings
            .phases
            .iter()
            .map(|(name, took)| format!("{name} {took:.2?}"))
            .collect::<Vec<_>>()
    );
    assert!(
        started.elapsed() < WHOLE_TEST_BOUND,
        "took {:?}",
        started.elapsed()
    );
    eprintln!("fault test took {:.2?}", started.elapsed());
}
