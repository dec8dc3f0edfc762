//! A client load against the demo, for the fault tests: loops sending `GET me`, AI
//! completions and workflow creations, recording every status and the slowest request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Served from the Redis cache or PostgreSQL.
pub const ME: &str = "/api/v1/auth/me";
/// Needs only the session (Redis cache or PostgreSQL).
pub const AI: &str = "/api/v1/ai/completions";
/// Needs PostgreSQL.
pub const WORKFLOWS: &str = "/api/v1/workflows";

/// `request` with a JSON body (the demo's reqwest is built without its `json` feature).
pub fn json_body(request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    request
        .header("content-type", "application/json")
        .body(body.to_string())
}

pub async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// What the client loops saw since the last [`Load::take`].
#[derive(Default, Debug)]
pub struct Seen {
    /// Requests by (route, status); status 0 = no response.
    pub statuses: BTreeMap<(&'static str, u16), u64>,
    /// The slowest request, by route.
    pub slowest: BTreeMap<&'static str, Duration>,
}

impl Seen {
    pub fn count(&self, route: &str, ok: impl Fn(u16) -> bool) -> u64 {
        self.statuses
            .iter()
            .filter(|((r, status), _)| *r == route && ok(*status))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn total(&self, route: &str) -> u64 {
        self.count(route, |_| true)
    }

    pub fn slowest(&self) -> Duration {
        self.slowest.values().copied().max().unwrap_or_default()
    }

    /// Asserts that every route was requested and every request answered 2xx.
    pub fn assert_all_served(&self, what: &str) {
        for route in [ME, AI, WORKFLOWS] {
            assert!(self.total(route) > 0, "{what}: {self:?}");
            assert_eq!(
                self.count(route, |s| (200..300).contains(&s)),
                self.total(route),
                "{what}: {route}: {self:?}"
            );
        }
    }
}

/// One loop per session token sending `GET me` (served from the Redis cache or PostgreSQL), an AI
/// completion (needs only the session: Redis cache or PostgreSQL) and a workflow creation
/// (needs PostgreSQL), until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    pub fn start(client: &reqwest::Client, base: &str, tokens: &[String]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let tasks = (0..tokens.len())
            .map(|i| {
                let (client, base, token) = (
                    client.clone(),
                    base.to_owned(),
                    tokens[i % tokens.len()].clone(),
                );
                let (stop, seen) = (stop.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut n = 0_u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let (route, request) = match n % 3 {
                            0 => (ME, client.get(format!("{base}{ME}"))),
                            1 => (
                                AI,
                                json_body(
                                    client.post(format!("{base}{AI}")),
                                    &json!({"model": "local-small", "prompt": "faults under load"}),
                                ),
                            ),
                            _ => (
                                WORKFLOWS,
                                json_body(
                                    client.post(format!("{base}{WORKFLOWS}")),
                                    &json!({"name": format!("w{n}"), "actions": ["tag_contact"]}),
                                ),
                            ),
                        };
                        let started = Instant::now();
                        let status = match request.bearer_auth(&token).send().await {
                            Ok(response) => {
                                let status = response.status().as_u16();
                                // Read the body: the request ends with it.
                                let _ = response.bytes().await;
                                status
                            }
                            Err(_) => 0,
                        };
                        let took = started.elapsed();
                        {
                            let mut seen = seen.lock().unwrap();
                            *seen.statuses.entry((route, status)).or_default() += 1;
                            let slowest = seen.slowest.entry(route).or_default();
                            *slowest = (*slowest).max(took);
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            })
            .collect();
        Load { stop, seen, tasks }
    }

    /// What was seen since the last call, and forgets it.
    pub fn take(&self) -> Seen {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }

    pub async fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// The demo's metrics endpoint.
pub const METRICS: &str = "/api/v1/metrics";
/// The demo's health endpoint.
pub const HEALTH: &str = "/api/v1/metrics/health";

/// The demo's metrics and health endpoints, and the client the tests talk to it with.
pub struct Endpoints {
    /// A client with a 10 s timeout.
    pub client: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// A real PostgreSQL and Redis (test kit) and the demo binary serving on them, with `env`
/// added to its environment; returned once its health endpoint answers 200. The app logs
/// into the returned directory.
pub fn start_demo(
    env: &[(&str, &str)],
) -> (
    fiko_testkit::Postgres,
    fiko_testkit::Redis,
    super::Proc,
    Endpoints,
    tempfile::TempDir,
) {
    let logs = tempfile::tempdir().unwrap();
    let postgres = fiko_testkit::Postgres::start().unwrap();
    let redis = fiko_testkit::Redis::start().unwrap();
    let port = fiko_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let (postgres_url, redis_url, bind) =
        (postgres.url(), redis.url(), format!("127.0.0.1:{port}"));
    let mut environment = vec![
        ("DATABASE_URL", postgres_url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("BIND", bind.as_str()),
        ("FIKO_FINAL_SCRAPE_SECS", "0"),
    ];
    environment.extend_from_slice(env);
    let mut app = super::Proc::spawn(
        "app",
        &["serve"],
        &environment,
        &logs.path().join("app.log"),
    );
    super::wait_http_ok(
        &format!("{base}{HEALTH}"),
        Duration::from_secs(30),
        &mut app,
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    (postgres, redis, app, Endpoints { client, base }, logs)
}

impl Endpoints {
    /// The answer to `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.client.get(url).send().await.unwrap()
    }

    /// A scrape of the metrics endpoint, which must answer 200.
    pub async fn scrape(&self) -> String {
        let response = self.get(METRICS).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Health status, the status of each check, and how long the probe took.
    pub async fn health(&self) -> (u16, BTreeMap<String, String>, Duration) {
        let started = Instant::now();
        let response = self.get(HEALTH).await;
        let status = response.status().as_u16();
        let body = json_of(response).await;
        let checks = body["checks"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, check)| (name.clone(), check["status"].as_str().unwrap().to_owned()))
            .collect();
        (status, checks, started.elapsed())
    }

    /// `count` users (`{prefix}{i}@example.com`) registered and signed in, each session
    /// and profile cached in Redis by a `GET me`; their session tokens.
    pub async fn sign_in(&self, prefix: &str, name: &str, count: usize) -> Vec<String> {
        let base = &self.base;
        let mut tokens = Vec::new();
        for i in 0..count {
            let email = format!("{prefix}{i}@example.com");
            let response = json_body(
                self.client.post(format!("{base}/api/v1/auth/register")),
                &json!({"email": email, "name": name, "password": "correct horse"}),
            )
            .send()
            .await
            .unwrap();
            assert_eq!(response.status(), 201);
            let session = json_of(
                json_body(
                    self.client.post(format!("{base}/api/v1/auth/login")),
                    &json!({"email": email, "password": "correct horse"}),
                )
                .send()
                .await
                .unwrap(),
            )
            .await;
            let token = session["token"].as_str().unwrap().to_owned();
            let me = self
                .client
                .get(format!("{base}{ME}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(me.status(), 200);
            tokens.push(token);
        }
        tokens
    }

    /// After a recovery: lets the load settle for 0.5 s, then runs it for 2 s more,
    /// asserting every route was requested and answered 2xx all along; returns the
    /// scrapes from the start and the end of those 2 s.
    pub async fn served_again(&self, load: &Load, what: &str) -> (String, String) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = load.take();
        let recovered = self.scrape().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = load.take();
        let later = self.scrape().await;
        after.assert_all_served(what);
        (recovered, later)
    }

    /// Once the load stopped: scrapes (for at most 5 s) until every gauge of something in
    /// progress reads 0, asserts they all do and that no request panicked; the last scrape.
    pub async fn assert_idle(&self, in_flight_gauges: &[(&str, &[(&str, &str)])]) -> String {
        let in_flight = |text: &str| -> BTreeMap<String, f64> {
            in_flight_gauges
                .iter()
                .map(|(name, filter)| ((*name).to_owned(), super::sum(text, name, filter)))
                .collect()
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let last = loop {
            let text = self.scrape().await;
            if in_flight(&text).values().all(|v| *v == 0.0) || Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let stuck = in_flight(&last);
        assert!(stuck.values().all(|v| *v == 0.0), "stuck: {stuck:?}");
        assert_eq!(
            super::sum(
                &last,
                "http_server_request_errors_total",
                &[("error_type", "panic")]
            ),
            0.0
        );
        last
    }
}

/// The 5xx answers of `route` counted in a scrape.
pub fn server_errors(text: &str, route: &str) -> f64 {
    super::sum(
        text,
        "http_server_requests_total",
        &[("http_route", route), ("http_response_status_class", "5xx")],
    )
}
