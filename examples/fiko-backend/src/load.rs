//! The load generator: simulated users running a realistic scenario against running
//! instances (round-robin), bounded in users and time, loopback only. It counts every
//! request it sent by method, route template and status, which is exactly what the
//! instances' `http_server_requests_total` must add up to.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Requests and WebSocket exchanges give up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Every route: register, log in (once with a wrong password), profile reads, AI,
    /// workflows, billing, academy, Instagram, the notifications socket, log out.
    Full,
    /// Register and log in, then alternate Instagram media and profile reads ten times.
    Instagram,
}

/// A run's settings.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Base URLs of the instances (`http://127.0.0.1:PORT`), loopback only.
    pub targets: Vec<String>,
    /// Simulated users; each runs the scenario once.
    pub users: u32,
    /// Users running at the same time.
    pub concurrency: u32,
    /// No user starts after this long.
    pub max_duration: Duration,
    /// The scenario.
    pub scenario: Scenario,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No target given.
    #[error("no --target given")]
    NoTargets,
    /// A target is not a loopback `http://` URL.
    #[error(
        "target {0} is not an http:// URL on a loopback address (127.0.0.0/8, [::1], localhost)"
    )]
    NotLoopback(String),
}

/// One kind of request: method, route template and status (`0` when no response came).
pub type RequestKey = (String, String, u16);

/// What a run sent.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Requests by method, route template and status.
    pub sent: BTreeMap<RequestKey, u64>,
    /// Users that ran.
    pub users: u32,
    /// How long the run took.
    pub elapsed: Duration,
}

impl Report {
    /// All requests.
    pub fn total(&self) -> u64 {
        self.sent.values().sum()
    }

    /// Requests that got no response.
    pub fn without_response(&self) -> u64 {
        self.sent
            .iter()
            .filter(|((_, _, status), _)| *status == 0)
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests answered with a 5xx status.
    pub fn server_errors(&self) -> u64 {
        self.sent
            .iter()
            .filter(|((_, _, status), _)| *status >= 500)
            .map(|(_, n)| n)
            .sum()
    }

    /// The printed report: a summary line, then one `sent<TAB>METHOD<TAB>ROUTE<TAB>STATUS<TAB>COUNT`
    /// line per kind of request, then `total<TAB>N`.
    pub fn render(&self) -> String {
        let seconds = self.elapsed.as_secs_f64();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "fiko-backend load: {} users, {} requests in {seconds:.1}s ({:.1} req/s), {} without response, {} server errors",
            self.users,
            self.total(),
            self.total() as f64 / seconds.max(0.001),
            self.without_response(),
            self.server_errors(),
        );
        for ((method, route, status), count) in &self.sent {
            let _ = writeln!(out, "sent\t{method}\t{route}\t{status}\t{count}");
        }
        let _ = writeln!(out, "total\t{}", self.total());
        out
    }

    /// Parses [`render`](Self::render)'s `sent` lines back.
    pub fn parse(text: &str) -> BTreeMap<RequestKey, u64> {
        text.lines()
            .filter_map(|line| {
                let mut fields = line.strip_prefix("sent\t")?.split('\t');
                let method = fields.next()?.to_owned();
                let route = fields.next()?.to_owned();
                let status = fields.next()?.parse().ok()?;
                let count = fields.next()?.parse().ok()?;
                Some(((method, route, status), count))
            })
            .collect()
    }
}

/// Whether `url` is an `http://` URL on a loopback host.
pub fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

struct Run {
    http: reqwest::Client,
    targets: Vec<String>,
    next: AtomicUsize,
    sent: Mutex<BTreeMap<RequestKey, u64>>,
    tag: String,
}

impl Run {
    fn target(&self) -> &str {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.targets.len();
        self.targets.get(i).map_or("", String::as_str)
    }

    fn count(&self, method: &str, route: &str, status: u16) {
        *self
            .sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
    }

    /// Sends one request; `route` is the template it is counted under, `path` the real one.
    async fn call(
        &self,
        method: Method,
        route: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.target());
        let mut request = self.http.request(method.clone(), url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let (status, value) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        };
        self.count(method.as_str(), route, status);
        (status, value)
    }

    /// Opens the notifications socket, exchanges a ping, closes; counted as one `GET`
    /// (101 when upgraded).
    async fn socket(&self, token: &str) -> bool {
        let base = self.target().replacen("http://", "ws://", 1);
        let url = format!("{base}/api/v1/notifications/ws?token={token}");
        let route = "/api/v1/notifications/ws";
        let exchange = async {
            let (mut socket, response) = match tokio_tungstenite::connect_async(url.as_str()).await
            {
                Ok(connected) => connected,
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    self.count("GET", route, response.status().as_u16());
                    return false;
                }
                Err(_) => {
                    self.count("GET", route, 0);
                    return false;
                }
            };
            self.count("GET", route, response.status().as_u16());
            // The server greets first, then answers the ping.
            let mut greeted = false;
            let mut ponged = false;
            if socket.send(Message::text("ping")).await.is_err() {
                return false;
            }
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    if text.as_str() == "pong" {
                        ponged = true;
                    } else if text.as_str().contains("\"connected\"") {
                        greeted = true;
                    }
                }
                if greeted && ponged {
                    break;
                }
            }
            let _ = socket.close(None).await;
            // Read until the server's close frame, so the server sees a clean close.
            while let Some(Ok(_)) = socket.next().await {}
            greeted && ponged
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or(false)
    }

    async fn user(&self, index: u32, scenario: Scenario) {
        let domain = if index % 10 == 9 {
            "bounce.example"
        } else {
            "example.com"
        };
        let email = format!("load-{}-{index}@{domain}", self.tag);
        let password = format!("correct horse {index}");
        let register =
            json!({ "email": email, "name": format!("Load user {index}"), "password": password });
        let (status, _) = self
            .call(
                Method::POST,
                "/api/v1/auth/register",
                "/api/v1/auth/register",
                None,
                Some(register.clone()),
            )
            .await;
        if status != 201 {
            return;
        }
        if scenario == Scenario::Full && index % 5 == 1 {
            // Registering twice: 409.
            self.call(
                Method::POST,
                "/api/v1/auth/register",
                "/api/v1/auth/register",
                None,
                Some(register),
            )
            .await;
        }
        if scenario == Scenario::Full && index % 4 == 2 {
            // A typo first: 401.
            self.call(
                Method::POST,
                "/api/v1/auth/login",
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": email, "password": "wrong password" })),
            )
            .await;
        }
        let (status, session) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": email, "password": password })),
            )
            .await;
        let (Some(token), Some(user_id)) = (
            session
                .get("token")
                .and_then(Value::as_str)
                .map(str::to_owned),
            session.get("user_id").and_then(Value::as_i64),
        ) else {
            return;
        };
        if status != 200 {
            return;
        }
        let token = token.as_str();
        let profile = format!("/api/v1/users/{user_id}");
        if scenario == Scenario::Instagram {
            for _ in 0..10 {
                self.call(
                    Method::GET,
                    "/api/v1/instagram/media",
                    "/api/v1/instagram/media",
                    Some(token),
                    None,
                )
                .await;
                self.call(
                    Method::GET,
                    "/api/v1/users/{id}",
                    &profile,
                    Some(token),
                    None,
                )
                .await;
            }
            return;
        }
        self.call(
            Method::GET,
            "/api/v1/auth/me",
            "/api/v1/auth/me",
            Some(token),
            None,
        )
        .await;
        for _ in 0..2 {
            // The first read fills the cache, the second hits it.
            self.call(
                Method::GET,
                "/api/v1/users/{id}",
                &profile,
                Some(token),
                None,
            )
            .await;
        }
        if index % 7 == 3 {
            self.call(
                Method::GET,
                "/api/v1/users/{id}",
                "/api/v1/users/999999999",
                Some(token),
                None,
            )
            .await;
        }
        let (model, prompt) = if index % 10 == 4 {
            // Longer than local-small's context: 422.
            ("local-small", "word ".repeat(600))
        } else if index.is_multiple_of(2) {
            (
                "local-small",
                format!("write a friendly reply to customer {index} about their order"),
            )
        } else {
            (
                "local-large",
                format!("summarise the conversation with customer {index} in three sentences"),
            )
        };
        self.call(
            Method::POST,
            "/api/v1/ai/completions",
            "/api/v1/ai/completions",
            Some(token),
            Some(json!({ "model": model, "prompt": prompt })),
        )
        .await;
        let (_, workflow) = self
            .call(
                Method::POST,
                "/api/v1/workflows",
                "/api/v1/workflows",
                Some(token),
                Some(json!({
                    "name": format!("welcome flow {index}"),
                    "actions": ["send_message", "tag_contact", "ai_reply", "delay"],
                })),
            )
            .await;
        if let Some(id) = workflow.get("id").and_then(Value::as_i64) {
            self.call(
                Method::POST,
                "/api/v1/workflows/{id}/executions",
                &format!("/api/v1/workflows/{id}/executions"),
                Some(token),
                None,
            )
            .await;
        }
        let plans = ["starter", "pro", "business"];
        let card = if index % 6 == 5 {
            "4000000000000002"
        } else {
            "4242424242424242"
        };
        self.call(
            Method::POST,
            "/api/v1/billing/transactions",
            "/api/v1/billing/transactions",
            Some(token),
            Some(json!({
                "plan": plans.get(index as usize % plans.len()),
                "currency": if index.is_multiple_of(3) { "eur" } else { "usd" },
                "card_number": card,
            })),
        )
        .await;
        let video = 1 + (index * 37) % 299;
        self.call(
            Method::POST,
            "/api/v1/academy/videos/{id}/views",
            &format!("/api/v1/academy/videos/{video}/views"),
            Some(token),
            Some(json!({ "seconds": 30 + index % 300 })),
        )
        .await;
        self.call(
            Method::GET,
            "/api/v1/instagram/media",
            "/api/v1/instagram/media",
            Some(token),
            None,
        )
        .await;
        self.socket(token).await;
        self.call(
            Method::POST,
            "/api/v1/auth/logout",
            "/api/v1/auth/logout",
            Some(token),
            None,
        )
        .await;
    }
}

/// Runs the scenario for `config.users` users, at most `config.concurrency` at a time,
/// starting none after `config.max_duration`.
pub async fn run(config: &LoadConfig) -> Result<Report, LoadError> {
    if config.targets.is_empty() {
        return Err(LoadError::NoTargets);
    }
    if let Some(bad) = config.targets.iter().find(|t| !is_loopback_http(t)) {
        return Err(LoadError::NotLoopback(bad.clone()));
    }
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap_or_default();
    let tag = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let run = Arc::new(Run {
        http,
        targets: config
            .targets
            .iter()
            .map(|t| t.trim_end_matches('/').to_owned())
            .collect(),
        next: AtomicUsize::new(0),
        sent: Mutex::default(),
        tag,
    });
    let started = Instant::now();
    let permits = Arc::new(tokio::sync::Semaphore::new(
        config.concurrency.max(1) as usize
    ));
    let mut users = tokio::task::JoinSet::new();
    let mut ran = 0;
    for index in 0..config.users {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        if started.elapsed() >= config.max_duration {
            break;
        }
        ran += 1;
        let run = run.clone();
        let scenario = config.scenario;
        users.spawn(async move {
            run.user(index, scenario).await;
            drop(permit);
        });
    }
    while users.join_next().await.is_some() {}
    let sent = std::mem::take(&mut *run.sent.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(Report {
        sent,
        users: ran,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_targets_are_accepted() {
        assert!(is_loopback_http("http://127.0.0.1:8000"));
        assert!(is_loopback_http("http://127.1.2.3:8000/"));
        assert!(is_loopback_http("http://localhost:8000"));
        assert!(is_loopback_http("http://[::1]:8000"));
        assert!(!is_loopback_http("http://10.0.0.1:8000"));
        assert!(!is_loopback_http("http://example.com"));
        assert!(!is_loopback_http("https://127.0.0.1:8000"));
    }

    #[test]
    fn the_report_parses_back() {
        let mut report = Report::default();
        report
            .sent
            .insert(("GET".into(), "/api/v1/users/{id}".into(), 200), 3);
        report
            .sent
            .insert(("POST".into(), "/api/v1/auth/login".into(), 401), 1);
        report.elapsed = Duration::from_secs(1);
        assert_eq!(Report::parse(&report.render()), report.sent);
        assert!(report.render().ends_with("total\t4\n"));
    }
}
