//! A real Prometheus (Debian's 2.42, `--enable-feature=exemplar-storage`) scrapes
//! exemplars from an axum app: every trace id `/api/v1/query_exemplars` returns is one a
//! request carried, and each bucket's (and the counter's) latest request's id is there.
//! Once through OpenMetrics text (what Prometheus asks for with exemplar storage alone),
//! once through protobuf (what it asks for with native histograms enabled too).

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use common::{Server, bounded, client};
use fiko_metrics::exemplar::ExemplarLabels;
use fiko_metrics::{CounterWithExemplar, Histogram, MetricSet, Registry};
use fiko_metrics_axum::MetricsEndpoints;
use fiko_testkit::Prometheus;

#[derive(MetricSet)]
#[metric_set(namespace = "demo")]
struct Checkout {
    /// Orders placed.
    orders: CounterWithExemplar,
    /// Checkout latency.
    #[metric(exemplars, buckets = [0.1, 0.5, 1.0])]
    checkout_duration_seconds: Histogram,
}

/// The bucket bounds, and their `le` as Prometheus stores it (a float with a dot, as the
/// text format writes it and Prometheus' protobuf parser formats it).
const BOUNDS: [(f64, &str); 3] = [(0.1, "0.1"), (0.5, "0.5"), (1.0, "1.0")];

/// One request: its trace id and the latency it records.
fn requests(round: u32) -> Vec<(String, f64)> {
    (0..12u32)
        .map(|i| {
            let trace = format!("{round:02}{i:02}{:028x}", u128::from(i) * 7919 + 17);
            let latency = [0.03, 0.2, 0.7, 2.5][(i % 4) as usize] + f64::from(i) * 0.001;
            (trace, latency)
        })
        .collect()
}

/// The `le` of the bucket `value` falls in.
fn bucket(value: f64) -> String {
    BOUNDS
        .iter()
        .find(|(bound, _)| value <= *bound)
        .map_or("+Inf", |(_, le)| le)
        .to_owned()
}

/// `series labels → trace ids` from `/api/v1/query_exemplars` over the last 10 minutes.
async fn exemplars(prometheus: &Prometheus, query: &str) -> BTreeMap<String, Vec<String>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let response = client()
        .get(format!("{}/api/v1/query_exemplars", prometheus.url()))
        .query(&[
            ("query", query.to_owned()),
            ("start", (now - 600).to_string()),
            ("end", (now + 60).to_string()),
        ])
        .send()
        .await
        .expect("query_exemplars");
    let body = response.text().await.expect("body");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["status"], "success", "{json}");
    let mut found = BTreeMap::new();
    for series in json["data"].as_array().expect("data") {
        let le = series["seriesLabels"]["le"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let ids: Vec<String> = series["exemplars"]
            .as_array()
            .expect("exemplars")
            .iter()
            .map(|e| {
                e["labels"]["trace_id"]
                    .as_str()
                    .expect("trace_id")
                    .to_owned()
            })
            .collect();
        found.entry(le).or_insert_with(Vec::new).extend(ids);
    }
    found
}

/// Polls the instant value of `promql` until it is `expected`, for 30 s.
async fn wait_for(prometheus: &Arc<Prometheus>, promql: &'static str, expected: f64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let prometheus = prometheus.clone();
        let json = tokio::task::spawn_blocking(move || prometheus.query(promql))
            .await
            .expect("query task")
            .unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let value = json["data"]["result"][0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok());
        if value == Some(expected) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

async fn scrape_exemplars(flags: &'static str) {
    let registry = Arc::new(Registry::new());
    let checkout = Checkout::register(&registry).expect("register");
    let app = Router::new()
        .route(
            "/checkout/{trace}/{micros}",
            get(
                |State(checkout): State<Arc<Checkout>>,
                 Path((trace, micros)): Path<(String, u64)>| async move {
                    let trace = ExemplarLabels::new(&[("trace_id", &trace)]).expect("labels");
                    checkout.orders.inc_with_exemplar(&trace);
                    checkout
                        .checkout_duration_seconds
                        .observe_with_exemplar(micros as f64 / 1e6, &trace);
                    "ok"
                },
            ),
        )
        .with_state(checkout.clone())
        .merge(MetricsEndpoints::new(registry.clone()).into_router());
    let server = Server::start(app).await;
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: app\n  metrics_path: /api/v1/metrics\n  static_configs:\n  - targets: ['{}']\n",
        server.addr
    );
    let prometheus =
        tokio::task::spawn_blocking(move || Prometheus::start_with_flags(&config, &[], &[flags]))
            .await
            .expect("start task")
            .expect("start prometheus");

    let prometheus = Arc::new(prometheus);
    // Two rounds, each scraped before the next: Prometheus keeps what each scrape saw.
    let http = client();
    let mut sent = BTreeSet::new();
    let mut latest_per_bucket = BTreeMap::new();
    let mut latest = String::new();
    for round in 0..2 {
        for (trace, latency) in requests(round) {
            let micros = (latency * 1e6).round() as u64;
            let response = bounded(
                http.get(server.url(&format!("/checkout/{trace}/{micros}")))
                    .send(),
            )
            .await
            .expect("get");
            assert!(response.status().is_success());
            sent.insert(trace.clone());
            latest_per_bucket.insert(bucket(latency), trace.clone());
            latest = trace;
        }
        let total = 12.0 * f64::from(round + 1);
        let scraped = wait_for(&prometheus, "demo_orders_total", total).await;
        assert!(
            scraped,
            "round {round} never scraped\n{}",
            prometheus.log_tail()
        );
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let (counter, buckets) = loop {
        let counter = exemplars(&prometheus, "demo_orders_total").await;
        let buckets = exemplars(&prometheus, "demo_checkout_duration_seconds_bucket").await;
        let complete = counter.get("").is_some_and(|ids| ids.contains(&latest))
            && latest_per_bucket
                .iter()
                .all(|(le, id)| buckets.get(le).is_some_and(|ids| ids.contains(id)));
        if complete || Instant::now() >= deadline {
            break (counter, buckets);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        counter.get("").is_some_and(|ids| ids.contains(&latest)),
        "the counter's latest trace {latest} is missing: {counter:?}\n{}",
        prometheus.log_tail()
    );
    for (le, id) in &latest_per_bucket {
        assert!(
            buckets.get(le).is_some_and(|ids| ids.contains(id)),
            "bucket le={le}: its latest trace {id} is missing: {buckets:?}"
        );
    }
    // Every stored id is one a request carried, in the bucket its latency falls in.
    let by_trace: BTreeMap<String, String> = (0..2)
        .flat_map(requests)
        .map(|(trace, latency)| (trace, bucket(latency)))
        .collect();
    for id in counter.values().flatten() {
        assert!(sent.contains(id), "unknown trace {id}");
    }
    for (le, ids) in &buckets {
        for id in ids {
            assert_eq!(
                by_trace.get(id),
                Some(le),
                "trace {id} stored under le={le}"
            );
        }
    }
    // The first round's latest per bucket was scraped before the second round replaced it.
    let first_round: BTreeMap<String, String> = requests(0)
        .into_iter()
        .map(|(trace, latency)| (bucket(latency), trace))
        .collect();
    for (le, id) in &first_round {
        assert!(
            buckets.get(le).is_some_and(|ids| ids.contains(id)),
            "bucket le={le}: the first round's latest trace {id} is missing: {buckets:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_stores_the_exemplars_of_an_openmetrics_scrape() {
    scrape_exemplars("--enable-feature=exemplar-storage").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_stores_the_exemplars_of_a_protobuf_scrape() {
    scrape_exemplars("--enable-feature=exemplar-storage,native-histograms").await;
}
