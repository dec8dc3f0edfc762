//! A real Prometheus (Debian's, with `--enable-feature=native-histograms`) scrapes a
//! native histogram from an axum app: content negotiation picks protobuf, Prometheus
//! stores the native series, and `histogram_quantile` over it agrees with the quantiles of
//! the recorded observations within the schema's bucket width.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use common::{Server, bounded, client, values, wait_for};
use fiko_metrics::histogram::NativeConfig;
use fiko_metrics::{Histogram, MetricSet, Registry};
use fiko_metrics_axum::MetricsEndpoints;
use fiko_testkit::Prometheus;

#[derive(MetricSet)]
#[metric_set(namespace = "demo")]
struct Work {
    /// How long a unit of work took.
    #[metric(native)]
    work_duration_seconds: Histogram,
    /// The same, with classic buckets only.
    #[metric(buckets = [0.01, 0.1, 1.0])]
    classic_duration_seconds: Histogram,
}

/// The observations: 600 latencies from 0.2 ms to about 8 s, spread unevenly (a dense
/// body and a long tail), none on a bucket boundary of schema 3.
fn observations() -> Vec<f64> {
    (0..600u32)
        .map(|i| {
            let x = f64::from(i) / 600.0;
            0.000_2 * (1.0 + 40_000.0 * x.powi(4)) * (1.0 + 0.013 * f64::from(i % 7))
        })
        .collect()
}

/// The `q` quantile as Prometheus ranks it: the observation at rank `ceil(q * n)`.
fn true_quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_histogram_quantile_over_a_native_histogram_matches_the_observations() {
    let registry = Arc::new(Registry::new());
    let work = Work::register(&registry).expect("register");
    let app = Router::new()
        .route(
            "/work/{nanos}",
            get(
                |State(work): State<Arc<Work>>, Path(nanos): Path<u64>| async move {
                    let seconds = nanos as f64 / 1e9;
                    work.work_duration_seconds.observe(seconds);
                    work.classic_duration_seconds.observe(seconds);
                    "done"
                },
            ),
        )
        .with_state(work.clone())
        .merge(MetricsEndpoints::new(registry.clone()).into_router());
    let server = Server::start(app).await;

    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: app\n  metrics_path: /api/v1/metrics\n  static_configs:\n  - targets: ['{}']\n",
        server.addr
    );
    let prometheus = tokio::task::spawn_blocking(move || {
        Prometheus::start_with_flags(
            &config,
            &[],
            &["--enable-feature=exemplar-storage,native-histograms"],
        )
    })
    .await
    .expect("start task")
    .expect("start prometheus");
    let prometheus = Arc::new(prometheus);

    // `histogram_count` only answers for native histograms: the scrape was protobuf. A
    // first sample with no observations, so that `rate` below sees them all arrive.
    let empty = wait_for(
        &prometheus,
        "histogram_count(demo_work_duration_seconds)".to_owned(),
        |v| v == [0.0],
    )
    .await;
    assert_eq!(empty, [0.0], "{}", prometheus.log_tail());

    let observed = observations();
    let http = client();
    bounded(async {
        for value in &observed {
            let nanos = (value * 1e9).round() as u64;
            let response = server.get(&http, &format!("/work/{nanos}")).await;
            assert!(response.status().is_success());
        }
    })
    .await;
    let mut sorted: Vec<f64> = observed.iter().map(|v| (v * 1e9).round() / 1e9).collect();
    sorted.sort_by(f64::total_cmp);

    let n = observed.len() as f64;
    let count = wait_for(
        &prometheus,
        "histogram_count(demo_work_duration_seconds)".to_owned(),
        |v| v == [n],
    )
    .await;
    assert_eq!(count, [n], "{}", prometheus.log_tail());
    let sum = values(&prometheus, "histogram_sum(demo_work_duration_seconds)");
    let expected_sum: f64 = sorted.iter().sum();
    assert!(
        sum.len() == 1 && (sum[0] - expected_sum).abs() <= 1e-9 * expected_sum,
        "{sum:?} vs {expected_sum}"
    );

    // Prometheus 2.42 interpolates linearly inside the bucket holding the rank, so the
    // estimate and the true quantile share a bucket of schema 3: they differ by at most
    // the bucket's relative width, 2^(1/8) - 1 (about 9%).
    let width = 2f64.powf(1.0 / 8.0) - 1.0;
    for q in [0.1, 0.5, 0.9, 0.95, 0.99] {
        let estimate = values(
            &prometheus,
            &format!("histogram_quantile({q}, demo_work_duration_seconds)"),
        );
        let truth = true_quantile(&sorted, q);
        assert_eq!(estimate.len(), 1, "q={q}: {estimate:?}");
        let error = (estimate[0] - truth).abs() / truth;
        assert!(
            error <= width,
            "q={q}: Prometheus says {}, the observations say {truth} (relative error {error:.4} > {width:.4})",
            estimate[0]
        );
    }
    // What a dashboard asks: the quantile of the rate over a window, a histogram too.
    // Every observation arrived within the last minute, after the empty first sample, so
    // the rate's buckets are the recorded ones, scaled alike: the same quantiles.
    for q in [0.5, 0.9, 0.99] {
        let estimate = values(
            &prometheus,
            &format!("histogram_quantile({q}, rate(demo_work_duration_seconds[1m]))"),
        );
        let truth = true_quantile(&sorted, q);
        assert_eq!(estimate.len(), 1, "q={q} over rate: {estimate:?}");
        let error = (estimate[0] - truth).abs() / truth;
        assert!(
            error <= width,
            "q={q} over rate: Prometheus says {}, the observations say {truth} (relative error {error:.4} > {width:.4})",
            estimate[0]
        );
    }
    // The classic histogram arrives in the same protobuf scrape, as classic series.
    let classic = values(
        &prometheus,
        r#"demo_classic_duration_seconds_bucket{le="0.01"}"#,
    );
    let below = sorted.iter().filter(|v| **v <= 0.01).count() as f64;
    assert_eq!(classic, [below]);
    assert!(
        NativeConfig::DEFAULT.schema() == 3,
        "the bound above assumes the default schema"
    );
}
