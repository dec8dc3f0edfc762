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
