//! Shared by the tests against real monitoring servers: a webhook receiving Alertmanager's
//! notifications, a Prometheus-compatible query API client, the load generator binary, and
//! `verify` off the runtime.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fiko_backend::load::{self, Report};
use fiko_dashboards_gen::verify::Options;
use serde_json::Value;

/// A webhook receiver on loopback for Alertmanager: its URL and every payload it got.
pub async fn webhook_sink() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(payload): axum::Json<Value>| async move {
            sink.lock().unwrap().push(payload);
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Waits until a firing `name` has been delivered to the webhook; how long that took.
pub async fn wait_notified(received: &Mutex<Vec<Value>>, name: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let delivered = received.lock().unwrap().iter().any(|payload| {
            payload["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|alert| alert["labels"]["alertname"] == name && alert["status"] == "firing")
        });
        if delivered {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "no firing {name} delivered within {limit:?}: {:?}",
            received.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `host:port` of an exporter's `http://host:port/metrics`.
pub fn host_port(metrics_url: &str) -> String {
    metrics_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

pub struct PromApi {
    pub url: String,
    pub http: reqwest::Client,
}

impl PromApi {
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .query(query)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "GET {path} {query:?}: {status}: {body}"
        );
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["status"], "success", "{body}");
        json["data"].clone()
    }

    /// The result vector of an instant query.
    pub async fn query(&self, promql: &str) -> Vec<Value> {
        self.get("/api/v1/query", &[("query", promql)]).await["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Active alerts named `name`, with their state (`pending` or `firing`).
    pub async fn alert_states(&self, name: &str) -> Vec<String> {
        let data = self.get("/api/v1/alerts", &[]).await;
        data["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|alert| alert["labels"]["alertname"] == name)
            .map(|alert| alert["state"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until `name` fires (`firing`) or has resolved (`!firing`: no active alert).
    pub async fn wait_alert(&self, name: &str, firing: bool, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let states = self.alert_states(name).await;
            let done = if firing {
                states.iter().any(|s| s == "firing")
            } else {
                states.is_empty()
            };
            if done {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "{name} did not {} within {limit:?}; states {states:?}",
                if firing { "fire" } else { "resolve" }
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

pub fn value_of(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .unwrap_or("NaN")
        .parse()
        .unwrap_or(f64::NAN)
}

/// Runs the load generator binary and parses what it printed.
pub fn run_load_binary(
    targets: &[String],
    users: u32,
    log: &std::path::Path,
) -> (BTreeMap<load::RequestKey, u64>, String) {
    let mut args = vec!["load".to_owned()];
    for target in targets {
        args.push("--target".to_owned());
        args.push(target.clone());
    }
    args.extend([
        "--users".to_owned(),
        users.to_string(),
        "--concurrency".to_owned(),
        "6".to_owned(),
        "--max-seconds".to_owned(),
        "90".to_owned(),
    ]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fiko-backend"))
        .args(&args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    std::fs::write(log, &stdout).unwrap();
    assert!(
        output.status.success(),
        "load failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    (Report::parse(&stdout), stdout)
}

/// `Artefacts::verify` against `url` over the last `lookback_seconds`, off the runtime;
/// with `ruler` (vmalert's URL, whose rules API serves the groups), the scale-out
/// deployment's `verify_scale_out` instead.
pub async fn verify(
    artefacts: &fiko_dashboards_gen::Artefacts,
    url: &str,
    ruler: Option<&str>,
    lookback_seconds: u64,
) -> fiko_dashboards_gen::verify::Report {
    let artefacts = artefacts.clone();
    let options = Options {
        url: url.to_owned(),
        rules_url: ruler.map(str::to_owned),
        lookback_seconds,
        bearer_token: None,
    };
    tokio::task::spawn_blocking(move || match options.rules_url {
        Some(_) => artefacts
            .verify_scale_out(&options)
            .expect("the generator declares a scale-out deployment"),
        None => artefacts.verify(&options),
    })
    .await
    .unwrap()
    .unwrap()
}
