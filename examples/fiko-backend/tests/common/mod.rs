//! Shared by the demo's tests: a local stand-in for the Instagram Graph API, child
//! processes killed on drop, and exposition parsing.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

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

pub mod load;

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

/// `http_server_requests_total` samples by (method, route, status), summed over the other
/// labels.
pub fn requests_by_route(exposition: &str) -> BTreeMap<(String, String, u16), u64> {
    let mut out = BTreeMap::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix("http_server_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split("\",")
                .find_map(|pair| pair.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        let status: u16 = label("http_response_status_code").parse().unwrap_or(0);
        let value: f64 = value.parse().unwrap();
        *out.entry((label("http_request_method"), label("http_route"), status))
            .or_default() += value as u64;
    }
    out.retain(|_, v| *v > 0);
    out
}

/// The value of the exposed sample `series` (name and labels exactly as exposed).
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

/// Every sample of metric `name` in a text exposition: its labels and value.
pub fn samples(exposition: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = if let Some(rest) = rest.strip_prefix('{') {
                let (labels, end) = parse_labels(rest)?;
                (labels, rest.get(end..)?.strip_prefix(' ')?)
            } else {
                (BTreeMap::new(), rest.strip_prefix(' ')?)
            };
            let value = value.split(' ').next()?.parse().ok()?;
            Some((labels, value))
        })
        .collect()
}

/// The sum of the samples of `name` whose labels include every `(label, value)` of `filter`.
pub fn sum(exposition: &str, name: &str, filter: &[(&str, &str)]) -> f64 {
    samples(exposition, name)
        .iter()
        .filter(|(labels, _)| {
            filter
                .iter()
                .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, value)| value)
        .sum()
}

/// `a="x",b="y\"z"}` → the labels and the index just past the `}`.
fn parse_labels(text: &str) -> Option<(BTreeMap<String, String>, usize)> {
    let mut labels = BTreeMap::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        if *bytes.get(i)? == b'}' {
            return Some((labels, i + 1));
        }
        let eq = i + text.get(i..)?.find('=')?;
        let key = text.get(i..eq)?.trim_start_matches(',').to_owned();
        i = eq + 1;
        if *bytes.get(i)? != b'"' {
            return None;
        }
        i += 1;
        let mut value = String::new();
        loop {
            match *bytes.get(i)? {
                b'\\' => {
                    match *bytes.get(i + 1)? {
                        b'n' => value.push('\n'),
                        other => value.push(char::from(other)),
                    }
                    i += 2;
                }
                b'"' => {
                    i += 1;
                    break;
                }
                _ => {
                    let c = text.get(i..)?.chars().next()?;
                    value.push(c);
                    i += c.len_utf8();
                }
            }
        }
        labels.insert(key, value);
        if bytes.get(i) == Some(&b',') {
            i += 1;
        }
    }
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
