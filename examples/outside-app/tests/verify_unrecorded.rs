//! `monitoring --verify` on a shop that has refused no payment yet (its own process, so
//! its registry has no error recorded by another test): the metrics of errors are exposed
//! without samples, which the report tells apart from missing metrics, and which fail no
//! run by default.

mod common;

use common::{Shop, assert_report, generated_alerts, prometheus_of, verify_until};

#[test]
fn metrics_exposed_without_samples_are_not_recorded_not_missing() {
    let shop = Shop::start(false);
    let (dir, alerts) = generated_alerts();
    let prometheus = prometheus_of(dir.path(), &[shop.address.to_string()], &alerts);
    assert_report(
        &prometheus,
        &[
            (
                "not-recorded",
                "panel `Request errors by type`",
                "exposed without samples, nothing recorded in the last 1m: http_server_request_errors_total",
            ),
            (
                "no-data",
                "alert `HighErrorRate`",
                "no data in the last 1m; no series matches http_server_requests_total{http_response_status_class=\"5xx\"}",
            ),
            (
                "no-data",
                "panel `Function error ratio`",
                "no data in the last 1m",
            ),
            (
                "no-data",
                "panel `HTTP error ratio`",
                "no data in the last 1m; no series matches http_server_requests_total{http_response_status_class=\"5xx\"}",
            ),
        ],
        0,
    );
    // The JSON names the filter without series on the item.
    let output = verify_until(&prometheus.url(), &["--format", "json"], &|_| true);
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let item = document["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["item"] == "alert `HighErrorRate`")
        .unwrap();
    assert_eq!(item["data"], false);
    assert_eq!(
        item["missing_label_values"],
        serde_json::json!([r#"http_server_requests_total{http_response_status_class="5xx"}"#])
    );
}
