//! Graceful shutdown of the demo binary (see `App::serve_with`): on SIGTERM new
//! connections are refused, requests in flight finish and are recorded, the metrics
//! endpoint then serves one final scrape that shows every one of them, and the process
//! exits 0 — early, as soon as that scrape was served. Without a scrape the window ends
//! on its own; requests outlasting the drain bound are cut off and the process still
//! exits in time.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Proc, requests_by_route, spawn_demo, sum, wait_http_ok};
use serde_json::{Value, json};

const AI: &str = "/api/v1/ai/completions";
const METRICS: &str = "/api/v1/metrics";
const HEALTH: &str = "/api/v1/metrics/health";
/// How long each AI completion takes (the slowed local provider).
const AI_LATENCY_MS: u64 = 2000;
/// Requests in flight when SIGTERM arrives.
const IN_FLIGHT: usize = 5;

/// The binary on SQLite in a temp dir, listening on a port of its own.
struct Server {
    proc: Proc,
    base: String,
    port: u16,
    _data: tempfile::TempDir,
}

fn start(env: &[(&str, &str)]) -> Server {
    let data = tempfile::tempdir().unwrap();
    let (mut proc, port) = spawn_demo(data.path(), env);
    let base = format!("http://127.0.0.1:{port}");
    wait_http_ok(
        &format!("{base}{HEALTH}"),
        Duration::from_secs(30),
        &mut proc,
    );
    Server {
        proc,
        base,
        port,
        _data: data,
    }
}

/// A client that opens a new connection for every request.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn post_json(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Registers and signs in a user; its session token.
async fn sign_in(client: &reqwest::Client, base: &str) -> String {
    let user = json!({"email": "drain@example.com", "name": "Drain", "password": "correct horse"});
    let (status, _) = post_json(client, format!("{base}/api/v1/auth/register"), None, user).await;
    assert_eq!(status, 201);
    let (status, session) = post_json(
        client,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"email": "drain@example.com", "password": "correct horse"}),
    )
    .await;
    assert_eq!(status, 200);
    session["token"].as_str().unwrap().to_owned()
}

/// Signs in, starts an AI request that outlasts the drain (the provider is slowed), gives
/// it 300 ms to reach the handler, then sends SIGTERM: the request, and when SIGTERM went.
async fn sigterm_mid_request(
    server: &Server,
) -> (
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
    Instant,
) {
    let client = client();
    let token = sign_in(&client, &server.base).await;
    let request = client
        .post(format!("{}{AI}", server.base))
        .header("content-type", "application/json")
        .bearer_auth(token)
        .body(json!({"model": "local-small", "prompt": "too slow"}).to_string())
        .send();
    let request = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    server.proc.terminate();
    (request, signalled)
}

/// Waits until new connections to `port` are refused, at most `within`.
async fn until_refused(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while !refused(port) {
        assert!(
            Instant::now() < deadline,
            "connections still accepted {within:?} after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits at most `within` for the process to exit, asserts it exited 0, and returns how
/// long after `signalled` it did.
fn exits_with_0(server: &mut Server, within: Duration, signalled: Instant) -> Duration {
    let status = tokio::task::block_in_place(|| server.proc.wait_exit(within));
    let exited_after = signalled.elapsed();
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "{}",
        server.proc.log()
    );
    exited_after
}

/// Whether a TCP connection to the port is refused right now.
fn refused(port: u16) -> bool {
    match TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    ) {
        Ok(_) => false,
        Err(error) => error.kind() == ErrorKind::ConnectionRefused,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight_and_the_final_scrape_shows_every_one() {
    let started = Instant::now();
    let latency = AI_LATENCY_MS.to_string();
    // A final-scrape window far longer than the test's bound: the process must leave as
    // soon as the scrape was served, not when the window ends.
    let mut server = start(&[
        ("AI_PROVIDER_LATENCY_MS", &latency),
        ("FIKO_DRAIN_SECS", "10"),
        ("FIKO_FINAL_SCRAPE_SECS", "60"),
    ]);
    let base = server.base.clone();
    let client = client();
    let token = sign_in(&client, &base).await;

    // Requests in flight, each on its own connection.
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let (status, body) = post_json(
                    &client,
                    format!("{base}{AI}"),
                    Some(&token),
                    json!({"model": "local-small", "prompt": format!("drain me {i}")}),
                )
                .await;
                (status, body, started.elapsed())
            })
        })
        .collect();
    // The server sees them all in flight.
    let deadline = Instant::now() + Duration::from_secs(AI_LATENCY_MS / 1000);
    loop {
        let text = client
            .get(format!("{base}{METRICS}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if sum(&text, "http_server_active_requests", &[("http_route", AI)]) == IN_FLIGHT as f64 {
            break;
        }
        assert!(Instant::now() < deadline, "requests not in flight:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let signalled = Instant::now();
    server.proc.terminate();
    // New connections are refused while the requests drain.
    until_refused(server.port, Duration::from_secs(1)).await;
    let refused_after = signalled.elapsed();
    assert!(
        client.get(format!("{base}{HEALTH}")).send().await.is_err(),
        "a new request during the drain must fail to connect"
    );
    assert!(server.proc.exited().is_none(), "exited before the drain");

    // Every request in flight completes.
    for request in requests {
        let (status, body, took) = request.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["model"], "local-small", "{body}");
        assert!(took >= Duration::from_millis(AI_LATENCY_MS), "{took:?}");
    }
    let drained_after = signalled.elapsed();

    // The final scrape: the metrics endpoint answers again once the drain is over.
    let deadline = Instant::now() + Duration::from_secs(5);
    let final_scrape = loop {
        if let Ok(response) = client.get(format!("{base}{METRICS}")).send().await {
            assert_eq!(response.status(), 200);
            break response.text().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no final scrape:\n{}",
            server.proc.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let scraped_after = signalled.elapsed();
    let expected: BTreeMap<(String, String, u16), u64> = [
        ("POST", "/api/v1/auth/register", 201, 1),
        ("POST", "/api/v1/auth/login", 200, 1),
        ("POST", AI, 200, IN_FLIGHT as u64),
    ]
    .into_iter()
    .map(|(method, route, status, n)| ((method.to_owned(), route.to_owned(), status), n))
    .collect();
    assert_eq!(requests_by_route(&final_scrape), expected);
    assert_eq!(
        sum(
            &final_scrape,
            "http_server_request_duration_seconds_count",
            &[("http_route", AI)]
        ),
        IN_FLIGHT as f64
    );
    assert_eq!(sum(&final_scrape, "http_server_active_requests", &[]), 0.0);
    assert_eq!(
        sum(
            &final_scrape,
            "fiko_ai_requests_total",
            &[("model", "local-small"), ("status", "ok")]
        ),
        IN_FLIGHT as f64
    );
    assert_eq!(
        sum(&final_scrape, "http_server_request_errors_total", &[]),
        0.0
    );

    // One scrape ends the 60 s window: the process exits 0 right away.
    let exited_after = exits_with_0(&mut server, Duration::from_secs(5), signalled);
    let log = server.proc.log();
    assert!(log.contains("final scrape served"), "{log}");
    eprintln!(
        "SIGTERM → connections refused after {refused_after:.2?}, {IN_FLIGHT} requests drained after {drained_after:.2?}, final scrape after {scraped_after:.2?}, exit 0 after {exited_after:.2?}; test took {:.2?}",
        started.elapsed()
    );
    assert!(exited_after < Duration::from_secs(AI_LATENCY_MS / 1000 + 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_scrape_the_window_closes_and_only_the_metrics_answer_meanwhile() {
    let mut server = start(&[("FIKO_FINAL_SCRAPE_SECS", "1.5")]);
    let base = server.base.clone();
    let client = client();
    let signalled = Instant::now();
    server.proc.terminate();
    // Nothing in flight: the drain is over at once and the window opens; a health probe
    // (not a scrape) gets 503 and does not end it. A probe that arrives before the
    // process has handled the signal still gets 200: probe until the 503.
    let deadline = Instant::now() + Duration::from_secs(2);
    let health = loop {
        if let Ok(response) = client.get(format!("{base}{HEALTH}")).send().await
            && response.status() == 503
        {
            break response;
        }
        assert!(Instant::now() < deadline, "{}", server.proc.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(health.status(), 503);
    assert_eq!(health.text().await.unwrap(), "shutting down\n");
    let exited_after = exits_with_0(&mut server, Duration::from_secs(5), signalled);
    assert!(
        exited_after >= Duration::from_millis(1500),
        "left before the window ended: {exited_after:?}"
    );
    assert!(
        server.proc.log().contains("no scrape within"),
        "{}",
        server.proc.log()
    );
    eprintln!("no scrape: exit 0 {exited_after:.2?} after SIGTERM (window 1.5 s)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_outlasting_the_drain_bound_are_cut_off_and_the_process_still_exits() {
    let mut server = start(&[
        ("AI_PROVIDER_LATENCY_MS", "4000"),
        ("FIKO_DRAIN_SECS", "0.5"),
        ("FIKO_FINAL_SCRAPE_SECS", "0"),
    ]);
    let (request, signalled) = sigterm_mid_request(&server).await;
    let exited_after = exits_with_0(&mut server, Duration::from_secs(3), signalled);
    assert!(
        exited_after >= Duration::from_millis(500) && exited_after < Duration::from_secs(2),
        "{exited_after:?}"
    );
    assert!(
        request.await.unwrap().is_err(),
        "the request outlasting the drain is cut off"
    );
    assert!(
        server.proc.log().contains("cut off"),
        "{}",
        server.proc.log()
    );
    eprintln!(
        "drain bound 0.5 s: exit 0 {exited_after:.2?} after SIGTERM, the 4 s request cut off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_skips_what_is_left_of_the_drain_and_the_window() {
    let mut server = start(&[
        ("AI_PROVIDER_LATENCY_MS", "4000"),
        ("FIKO_DRAIN_SECS", "30"),
        ("FIKO_FINAL_SCRAPE_SECS", "60"),
    ]);
    let (request, signalled) = sigterm_mid_request(&server).await;
    until_refused(server.port, Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server.proc.exited().is_none(), "left before the drain");
    server.proc.terminate();
    let exited_after = exits_with_0(&mut server, Duration::from_secs(3), signalled);
    assert!(exited_after < Duration::from_secs(2), "{exited_after:?}");
    assert!(request.await.unwrap().is_err());
    assert!(
        server.proc.log().contains("shutdown hurried"),
        "{}",
        server.proc.log()
    );
    eprintln!("second SIGTERM: exit 0 {exited_after:.2?} after the first");
}

/// The job worker shuts down like the web app: a job that finished just before SIGTERM is
/// in the final scrape of the worker's `/metrics`, which stays up after the drain until
/// that scrape (not a health probe) has been served; then the worker exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_serves_a_final_scrape_holding_its_last_job() {
    let redis = fiko_testkit::Redis::start().unwrap();
    let redis_url = redis.url();
    // The app enqueues the welcome email of a registration; the worker runs it. Both use
    // the same SQLite file.
    let server = start(&[("REDIS_URL", &redis_url)]);
    let data_dir = server._data.path().display().to_string();
    let worker_port = fiko_testkit::free_port();
    let worker_bind = format!("127.0.0.1:{worker_port}");
    let mut worker = Proc::spawn(
        "worker",
        &["worker", "--bind", &worker_bind, "--name", "last-job"],
        &[
            ("REDIS_URL", &redis_url),
            ("DATA_DIR", &data_dir),
            ("FIKO_FINAL_SCRAPE_SECS", "60"),
        ],
        &server._data.path().join("worker.log"),
    );
    let worker_base = format!("http://{worker_bind}");
    wait_http_ok(
        &format!("{worker_base}/health"),
        Duration::from_secs(30),
        &mut worker,
    );
    let client = client();
    let user =
        json!({"email": "last-job@example.com", "name": "Last", "password": "correct horse"});
    let (status, _) = post_json(
        &client,
        format!("{}/api/v1/auth/register", server.base),
        None,
        user,
    )
    .await;
    assert_eq!(status, 201);

    // The job has run once its email row exists (read from the database, not from the
    // worker's metrics: nothing has scraped them before SIGTERM).
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        server._data.path().join("fiko.db").display()
    ))
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (emails,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM emails")
            .fetch_one(&db)
            .await
            .unwrap();
        if emails == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker ran no job:\n{}",
            worker.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await;

    let signalled = Instant::now();
    worker.terminate();
    // Health probes fail from the shutdown on; scrapes answer until the worker has
    // served one after its drain, then it leaves, long before its 60 s window ends.
    // Probe health until it fails, and only then scrape: with no job running the drain
    // ends at once, and the first scrape after it lets the worker go.
    let mut health_refused = false;
    let mut last_scrape = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while worker.exited().is_none() {
        assert!(
            Instant::now() < deadline,
            "still running:\n{}",
            worker.log()
        );
        if !health_refused {
            if let Ok(response) = client.get(format!("{worker_base}/health")).send().await {
                health_refused = response.status() == 503;
            }
        } else if let Ok(response) = client.get(format!("{worker_base}/metrics")).send().await {
            assert_eq!(response.status(), 200);
            last_scrape = Some(response.text().await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exited_after = signalled.elapsed();
    let status = worker.wait_exit(Duration::from_secs(1));
    assert_eq!(status.map(|s| s.code()), Some(Some(0)), "{}", worker.log());
    let last_scrape = last_scrape.expect("a scrape after SIGTERM");
    let succeeded = |task: &str| {
        sum(
            &last_scrape,
            "fiko_jobs_task_executions_total",
            &[("task", task), ("state", "succeeded")],
        )
    };
    assert_eq!(succeeded("welcome_email"), 1.0, "{last_scrape}");
    assert_eq!(sum(&last_scrape, "fiko_jobs_tasks_running", &[]), 0.0);
    assert!(health_refused, "health must fail once the shutdown began");
    let log = worker.log();
    assert!(log.contains("final scrape served"), "{log}");
    assert!(exited_after < Duration::from_secs(5), "{exited_after:?}");
    eprintln!(
        "worker: SIGTERM after its last job → final scrape served, exit 0 after {exited_after:.2?} (window 60 s)"
    );
    drop(server);
}
