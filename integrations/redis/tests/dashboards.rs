//! The default panels: well-formed, and their PromQL answers correctly in a real Prometheus
//! scraping a real application's metrics.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use fiko_dashboards::prelude::*;
use fiko_dashboards::{Expr, Row};
use fiko_metrics::{Format, MetricSet, Registry};
use fiko_metrics_redis::{Cache, CacheMetrics, Instrumented, RedisMetrics};
use fiko_testkit::{Prometheus, Redis, ScrapeTarget};

fn panel_expr<'a>(rows: &'a [Row], title: &str) -> &'a Expr {
    let panel = rows
        .iter()
        .flat_map(|row| &row.panels)
        .find(|panel| panel.title == title)
        .unwrap_or_else(|| panic!("no panel {title:?}"));
    &panel.targets[0].expr
}

#[test]
fn the_panels_are_well_formed() {
    for rows in [RedisMetrics::rows(), CacheMetrics::rows()] {
        assert!(!rows.is_empty());
        for panel in rows.iter().flat_map(|row| &row.panels) {
            assert!(!panel.targets.is_empty(), "{}", panel.title);
            for target in &panel.targets {
                assert_eq!(
                    target.expr.problems(),
                    Vec::<String>::new(),
                    "{}",
                    panel.title
                );
            }
        }
    }
    let redis = RedisMetrics::rows();
    let dashboard = Context::dashboard();
    assert_eq!(
        panel_expr(&redis, "Redis commands by command").render(&dashboard),
        r#"sum by (command) (rate(fiko_redis_commands_total{job=~"$job", instance=~"$instance"}[$__rate_interval]))"#
    );
    let p95 = panel_expr(&redis, "Redis command latency p95 by command").render(&dashboard);
    assert!(p95.starts_with("histogram_quantile(0.95, sum by (le, command) (rate(fiko_redis_command_duration_seconds_bucket"), "{p95}");
    let cache = CacheMetrics::rows();
    assert_eq!(cache[0].panels[0].unit, "percentunit");
    assert_eq!(RedisMetrics::service(), "redis");
    assert_eq!(CacheMetrics::service(), "cache");
}

/// Serves `registry` at `/metrics` on a loopback port, on a background thread.
fn serve(registry: Arc<Registry>) -> ScrapeTarget {
    ScrapeTarget::serve(move |_| {
        let body = registry.encode(Format::Prometheus).into_bytes();
        (Format::Prometheus.content_type().to_owned(), body)
    })
    .unwrap()
}

/// The value of an instant query, if it returned exactly one sample.
fn single_value(prometheus: &Prometheus, promql: &str) -> Option<f64> {
    let json = prometheus.query(promql).unwrap();
    if json.matches(r#""value":["#).count() != 1 {
        return None;
    }
    first_value(&json)
}

/// The first sample's value in a `/api/v1/query` answer.
fn first_value(json: &str) -> Option<f64> {
    let (_, after) = json.split_once(r#""value":["#)?;
    let (_, value) = after.split_once(",\"")?;
    value.split('"').next()?.parse().ok()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The number of samples Prometheus holds for `series` over the last minute.
fn samples(prometheus: &Prometheus, series: &str) -> usize {
    let count = single_value(prometheus, &format!("count_over_time({series}[1m])"));
    count.map_or(0, |v| v as usize)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hit_ratio_and_command_rate_panels_answer_in_prometheus() {
    let redis = Redis::start().unwrap();
    let registry = Arc::new(Registry::new());
    let redis_metrics = RedisMetrics::register(&registry).unwrap();
    let cache_metrics = CacheMetrics::register(&registry).unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let conn = redis::aio::ConnectionManager::new(client).await.unwrap();
    let conn = Instrumented::with_metrics(conn, redis_metrics);
    let cache = Cache::with_metrics(conn, cache_metrics).named("pages");
    let ttl = Duration::from_secs(60);

    // 1 miss + 3 hits, then (after a scrape) 2 misses + 6 hits: the hit ratio over any
    // window is 0.75, whatever Prometheus' extrapolation.
    let lookups = |key: String, hits: usize| {
        let cache = &cache;
        async move {
            for _ in 0..=hits {
                let value = cache
                    .get_or_compute(&key, ttl, || async { Ok::<_, std::io::Error>(1_i64) })
                    .await
                    .unwrap();
                assert_eq!(value, 1);
            }
        }
    };
    lookups("a".into(), 3).await;

    let target = serve(registry.clone());
    let port = target.port();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: app\n  static_configs:\n  - targets: ['127.0.0.1:{port}']\n"
    );
    let prometheus = Prometheus::start(&config, &[]).unwrap();
    let hits_series = r#"fiko_cache_hits_total{cache="pages"}"#;
    wait_for("a first scrape", || samples(&prometheus, hits_series) >= 1);

    lookups("b".into(), 3).await;
    lookups("c".into(), 3).await;
    wait_for("scrapes after the traffic", || {
        single_value(&prometheus, &format!("max_over_time({hits_series}[1m])")) == Some(9.0)
            && samples(&prometheus, hits_series) >= 3
    });

    let rules = Context::rules(minutes(1));
    let cache_rows = CacheMetrics::rows();
    let hit_ratio = panel_expr(&cache_rows, "Cache hit ratio by cache").render(&rules);
    let ratio =
        single_value(&prometheus, &hit_ratio).unwrap_or_else(|| panic!("no value for {hit_ratio}"));
    assert!((ratio - 0.75).abs() < 1e-9, "{hit_ratio} = {ratio}");

    let redis_rows = RedisMetrics::rows();
    let by_command = panel_expr(&redis_rows, "Redis commands by command").render(&rules);
    let json = prometheus.query(&by_command).unwrap();
    assert!(json.contains(r#""command":"get""#), "{by_command}: {json}");
    assert!(json.contains(r#""command":"set""#), "{by_command}: {json}");
    let p95 = panel_expr(&redis_rows, "Redis command latency p95 by command").render(&rules);
    let json = prometheus.query(&p95).unwrap();
    assert!(json.contains(r#""command":"get""#), "{p95}: {json}");
}

#[test]
fn the_reconnect_alert_counts_reconnects_over_a_quarter_hour() {
    let alerts = RedisMetrics::alerts();
    let names: Vec<&str> = alerts.iter().map(|alert| alert.name.as_str()).collect();
    assert_eq!(names, ["RedisClientReconnecting"]);
    let alert = &alerts[0];
    assert_eq!(alert.problems(), Vec::<String>::new());
    assert_eq!(
        alert.condition.expr.render(&Context::rules(minutes(5))),
        "sum by (job, instance) (increase(fiko_redis_reconnects_total[15m]))"
    );
    assert_eq!(
        alert.condition.threshold,
        fiko_metrics_redis::RECONNECTS_THRESHOLD
    );
    let rows = RedisMetrics::rows();
    let states =
        panel_expr(&rows, "Redis client connections by state").render(&Context::dashboard());
    assert!(
        states.starts_with("sum by (state) (fiko_redis_connections{"),
        "{states}"
    );
}
