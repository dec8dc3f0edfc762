//! Shared by the demo's tests: a local stand-in for the Instagram Graph API, child
//! processes killed on drop, and exposition parsing.
#![allow(dead_code, unreachable_pub)]
// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::expect_used
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use fiko_metrics::testing::{self, Sample};

pub mod load;
pub mod servers;

/// A local HTTP server answering `GET /me/media` like the Instagram Graph API, or with
/// 500 while `failing` is set.
pub struct FakeInstagram {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Answer 500 to every call.
    pub failing: Arc<AtomicBool>,
    /// Calls received.
    pub calls: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeInstagram {
    pub async fn start() -> FakeInstagram {
        let failing = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(AtomicU64::new(0));
        let (fail, count) = (failing.clone(), calls.clone());
        let app = Router::new().route(
            "/me/media",
            get(move || {
                let (fail, count) = (fail.clone(), count.clone());
                async move {
                    count.fetch_add(1, Ordering::Relaxed);
                    if fail.load(Ordering::Relaxed) {
                        return (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded")
                            .into_response();
                    }
                    Json(serde_json::json!({
                        "data": [
                            { "id": "17895695668004550", "caption": "Launch day" },
                            { "id": "17899305451014820", "caption": "Behind the scenes" }
                        ]
                    }))
                    .into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeInstagram {
            url: format!("http://{address}"),
            failing,
            calls,
            task,
        }
    }
}

impl Drop for FakeInstagram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Sign-in rate limits high enough for the load generator, which signs every simulated
/// user in from one address (the tests' own `env` may set others).
pub const GENEROUS_AUTH_ENV: [(&str, &str); 2] = [
    ("AUTH_RATE_PER_MINUTE", "1000000"),
    ("AUTH_RATE_BURST", "1000000"),
];

/// Serves `app` on a free loopback port; returns its base URL.
pub async fn serve(app: fiko_backend::App) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(app.serve(listener, std::future::pending()));
    url
}

/// [`GENEROUS_AUTH_ENV`] for an application built in the test's process.
pub fn generous_auth_limits(config: &mut fiko_backend::Config) {
    config.auth.rate.per_minute = 1_000_000;
    config.auth.rate.burst = 1_000_000;
}

/// A child process of the demo's binary, killed and reaped on drop; its output goes to
/// `log`.
pub struct Proc {
    child: Child,
    pub name: String,
    log: std::path::PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, args: &[&str], env: &[(&str, &str)], log: &Path) -> Proc {
        let out = std::fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_fiko-backend"));
        command
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("INSTAGRAM_BASE_URL")
            .envs(GENEROUS_AUTH_ENV)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().unwrap();
        Proc {
            child,
            name: name.to_owned(),
            log: log.to_owned(),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The demo binary serving (`serve`) on a free loopback port, with its data (SQLite, no
/// Redis) and its log (`app.log`) in `data` and `env` added to its environment; and the
/// port. Not awaited: the caller waits for what it needs to answer.
pub fn spawn_demo(data: &Path, env: &[(&str, &str)]) -> (Proc, u16) {
    let port = fiko_testkit::free_port();
    let bind = format!("127.0.0.1:{port}");
    let data_dir = data.display().to_string();
    let mut all = vec![("BIND", bind.as_str()), ("DATA_DIR", data_dir.as_str())];
    all.extend_from_slice(env);
    let app = Proc::spawn("app", &["serve"], &all, &data.join("app.log"));
    (app, port)
}

/// Polls `url` until it answers 200, for at most `limit`.
pub fn wait_http_ok(url: &str, limit: Duration, proc: &mut Proc) {
    let deadline = Instant::now() + limit;
    loop {
        if fiko_testkit::http_get(url).is_ok_and(|r| r.status == 200) {
            return;
        }
        if let Some(status) = proc.exited() {
            panic!(
                "{} exited with {status} before {url} answered:\n{}",
                proc.name,
                proc.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer 200 within {limit:?}:\n{}",
            proc.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every sample of a text exposition, read by the runtime's test parser.
fn read(exposition: &str) -> Vec<Sample> {
    testing::samples(exposition).unwrap_or_else(|error| panic!("{error}\n{exposition}"))
}

/// `http_server_requests_total` samples by (method, route, status), summed over the other
/// labels.
pub fn requests_by_route(exposition: &str) -> BTreeMap<(String, String, u16), u64> {
    let mut out = BTreeMap::new();
    for sample in testing::find(&read(exposition), "http_server_requests_total", &[]) {
        let label = |name: &str| sample.label(name).unwrap_or_default().to_owned();
        let status: u16 = label("http_response_status_code").parse().unwrap_or(0);
        *out.entry((label("http_request_method"), label("http_route"), status))
            .or_default() += sample.value as u64;
    }
    out.retain(|_, v| *v > 0);
    out
}

/// The value of the exposed sample `series` (name and labels exactly as exposed).
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    testing::series_value(exposition, series)
        .unwrap_or_else(|error| panic!("{error}\n{exposition}"))
}

/// Every sample of metric `name` in a text exposition: its labels and value.
pub fn samples(exposition: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    testing::find(&read(exposition), name, &[])
        .into_iter()
        .map(|sample| (sample.labels.iter().cloned().collect(), sample.value))
        .collect()
}

/// The sum of the samples of `name` whose labels include every `(label, value)` of `filter`.
pub fn sum(exposition: &str, name: &str, filter: &[(&str, &str)]) -> f64 {
    testing::sum(&read(exposition), name, filter)
}

impl Proc {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (through `kill -TERM`).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {}", self.child.id());
    }

    /// Waits at most `limit` for the process to exit; its status, or `None` if it still runs.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
