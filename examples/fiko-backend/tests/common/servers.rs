//! Shared by the tests against real monitoring servers: the demo's whole stack (PostgreSQL,
//! Redis, both exporters, three instances and a job worker), a webhook receiving
//! Alertmanager's notifications, a Prometheus-compatible query API client, the load
//! generator binary, and `verify` off the runtime.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fiko_backend::load::{self, Report};
use fiko_dashboards_gen::verify::Options;
use fiko_testkit::{Alertmanager, Postgres, PostgresExporter, Redis, RedisExporter};
use serde_json::Value;

use super::{FakeInstagram, Proc, wait_http_ok};

/// The demo's stack, every process answering: PostgreSQL, Redis, redis_exporter,
/// postgres_exporter, a stand-in Instagram, three instances (`app-0` to `app-2`) on
/// PostgreSQL and Redis, and a job worker (`worker-1`). Each process logs to a file of
/// its own ([`log`](Self::log)); all are stopped on drop, the demo's processes first.
pub struct Stack {
    pub apps: Vec<Proc>,
    pub worker: Proc,
    pub postgres: Postgres,
    pub redis: Redis,
    pub redis_exporter: RedisExporter,
    pub postgres_exporter: PostgresExporter,
    pub instagram: FakeInstagram,
    /// The instances' `127.0.0.1:PORT`.
    pub app_targets: Vec<String>,
    /// The worker's metrics and health address.
    pub worker_bind: String,
    launcher: Launcher,
}

/// Starts the demo's binary on the stack's PostgreSQL, Redis and Instagram, logging to a
/// file per process.
struct Launcher {
    env: Vec<(&'static str, String)>,
    logs: tempfile::TempDir,
}

impl Launcher {
    fn log(&self, name: &str) -> PathBuf {
        self.logs.path().join(format!("{name}.log"))
    }

    fn spawn(&self, name: &str, args: &[&str], extra: &[(&str, String)]) -> Proc {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .collect();
        Proc::spawn(name, args, &env, &self.log(name))
    }

    fn worker(&self, bind: &str) -> Proc {
        let mut worker = self.spawn(
            "worker",
            &["worker", "--bind", bind, "--name", "worker-1"],
            &[],
        );
        wait_http_ok(
            &format!("http://{bind}/health"),
            Duration::from_secs(30),
            &mut worker,
        );
        worker
    }
}

impl Stack {
    pub async fn start() -> Stack {
        let postgres = Postgres::start().unwrap();
        let redis = Redis::start().unwrap();
        let redis_exporter = RedisExporter::start(&redis.url()).unwrap();
        let postgres_exporter = PostgresExporter::start(&postgres.url()).unwrap();
        let instagram = FakeInstagram::start().await;
        let launcher = Launcher {
            env: vec![
                ("DATABASE_URL", postgres.url()),
                ("REDIS_URL", redis.url()),
                ("INSTAGRAM_BASE_URL", instagram.url.clone()),
            ],
            logs: tempfile::tempdir().unwrap(),
        };
        let app_targets: Vec<String> = (0..3)
            .map(|_| format!("127.0.0.1:{}", fiko_testkit::free_port()))
            .collect();
        let mut apps: Vec<Proc> = app_targets
            .iter()
            .enumerate()
            .map(|(i, bind)| {
                launcher.spawn(
                    &format!("app-{i}"),
                    &["serve"],
                    &[
                        ("BIND", bind.clone()),
                        ("INSTANCE_NAME", format!("app-{i}")),
                    ],
                )
            })
            .collect();
        for (app, target) in apps.iter_mut().zip(&app_targets) {
            wait_http_ok(
                &format!("http://{target}/api/v1/metrics/health"),
                Duration::from_secs(60),
                app,
            );
        }
        let worker_bind = format!("127.0.0.1:{}", fiko_testkit::free_port());
        let worker = launcher.worker(&worker_bind);
        Stack {
            apps,
            worker,
            postgres,
            redis,
            redis_exporter,
            postgres_exporter,
            instagram,
            app_targets,
            worker_bind,
            launcher,
        }
    }

    /// Where the process `name` logs (and where a test may put a log of its own).
    pub fn log(&self, name: &str) -> PathBuf {
        self.launcher.log(name)
    }

    /// The instances' base URLs.
    pub fn app_urls(&self) -> Vec<String> {
        self.app_targets
            .iter()
            .map(|target| format!("http://{target}"))
            .collect()
    }

    /// A new job worker on the same address, once it answers.
    pub fn start_worker(&self) -> Proc {
        self.launcher.worker(&self.worker_bind)
    }

    /// The targets of the demo deployment's scrape jobs on this stack, with `prometheus`
    /// and `alertmanager` as the addresses of those jobs.
    pub fn targets(
        &self,
        prometheus: &[String],
        alertmanager: &str,
    ) -> BTreeMap<&'static str, Vec<String>> {
        BTreeMap::from([
            (fiko_backend::monitoring::APP_JOB, self.app_targets.clone()),
            (
                fiko_backend::monitoring::WORKER_JOB,
                vec![self.worker_bind.clone()],
            ),
            ("redis", vec![host_port(&self.redis_exporter.metrics_url())]),
            (
                "postgres",
                vec![host_port(&self.postgres_exporter.metrics_url())],
            ),
            ("prometheus", prometheus.to_vec()),
            ("alertmanager", vec![alertmanager.to_owned()]),
        ])
    }
}

/// `http_server_requests_total` of the app job by (method, route, status), as the query
/// API answers it.
pub async fn requests(store: &PromApi) -> BTreeMap<load::RequestKey, u64> {
    let result = store
        .query(
            r#"sum by (http_request_method, http_route, http_response_status_code) (http_server_requests_total{job="fiko-app"})"#,
        )
        .await;
    result
        .iter()
        .map(|s| {
            let m = &s["metric"];
            let label = |name: &str| m[name].as_str().unwrap_or_default().to_owned();
            (
                (
                    label("http_request_method"),
                    label("http_route"),
                    label("http_response_status_code").parse().unwrap_or(0),
                ),
                value_of(s) as u64,
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Waits until the store's request counts equal `sent`; what it counted last.
pub async fn wait_counted(
    store: &PromApi,
    sent: &BTreeMap<load::RequestKey, u64>,
) -> BTreeMap<load::RequestKey, u64> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let counted = requests(store).await;
        if &counted == sent || Instant::now() > deadline {
            return counted;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A real Alertmanager with the generated routes, templates and inhibitions.
pub fn start_alertmanager(artefacts: &fiko_dashboards_gen::Artefacts) -> Alertmanager {
    Alertmanager::start(
        artefacts.get("alertmanager/alertmanager.yml").unwrap(),
        &[(
            "templates/fiko.tmpl",
            artefacts.get("alertmanager/templates/fiko.tmpl").unwrap(),
        )],
    )
    .unwrap()
}

/// Points every scrape job of `generator` at its targets in `targets` (a job without one
/// is a mistake of the test) and its Alertmanagers at `alertmanager`.
pub fn point_at(
    generator: &mut fiko_dashboards_gen::Generator,
    targets: &BTreeMap<&'static str, Vec<String>>,
    alertmanager: &str,
) {
    let settings = generator.settings_mut();
    settings.alertmanagers = vec![alertmanager.to_owned()];
    for job in &mut settings.scrape_jobs {
        job.targets = targets
            .get(job.name.as_str())
            .unwrap_or_else(|| panic!("no target for the deployment's job {}", job.name))
            .clone();
    }
}

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
