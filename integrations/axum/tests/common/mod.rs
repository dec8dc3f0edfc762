//! What the integration tests share: a real axum server on a loopback port, and scrapes
//! read back with the runtime's test parser.

#![allow(dead_code, unreachable_pub)]
// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;

/// An axum server on `127.0.0.1:<free port>`, shut down when dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Serves `app` (with the peer address as `ConnectInfo`).
    pub async fn start(app: Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, service).await;
        });
        Server { addr, task }
    }

    /// Serves `app` without `ConnectInfo`.
    pub async fn start_without_connect_info(app: Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server { addr, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The response to `GET path` sent with `http` (a request that fails panics).
    pub async fn get(&self, http: &reqwest::Client, path: &str) -> reqwest::Response {
        http.get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A plain HTTP/1 client with a bounded timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

// Each test binary compiles this module and uses a part of it.
#[allow(unused_imports)]
pub use fiko_metrics::testing::{Sample, find, sum};

/// The samples of a Prometheus text scrape, read by the runtime's own test parser.
pub fn parse(text: &str) -> Vec<Sample> {
    fiko_metrics::testing::samples(text).unwrap_or_else(|error| panic!("{error}\n{text}"))
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `future` with a hard time bound, so a hanging test fails instead of blocking CI.
pub async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .expect("test step timed out after 60 s")
}

/// The values of an instant query's vector result (none when the query fails).
pub fn values(prometheus: &fiko_testkit::Prometheus, promql: &str) -> Vec<f64> {
    let Ok(json) = prometheus.query(promql) else {
        return Vec::new();
    };
    let json: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
    json["data"]["result"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .filter_map(|r| r["value"][1].as_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `promql` (blocking calls on the blocking pool) until `accept` holds, for 30 s;
/// the last values.
pub async fn wait_for(
    prometheus: &std::sync::Arc<fiko_testkit::Prometheus>,
    promql: impl Into<String>,
    accept: impl Fn(&[f64]) -> bool,
) -> Vec<f64> {
    let promql = promql.into();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (prometheus, query) = (prometheus.clone(), promql.clone());
        let found = tokio::task::spawn_blocking(move || values(&prometheus, &query))
            .await
            .expect("query task");
        if accept(&found) || Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
