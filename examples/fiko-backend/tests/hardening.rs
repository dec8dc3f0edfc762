//! What an adversarial client can make the demo spend or reveal: Argon2 memory
//! under concurrent sign-ins, sign-in rate limits, protected metrics (also in the
//! final-scrape window and on the job worker), slow-header, idle and silent-WebSocket
//! connections, session tokens in query strings, the Instagram stand-in's access token,
//! and control characters in input. Against the real binary or the application served on
//! a loopback port.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use fiko_backend::config::{RateLimit, Timeouts};
use fiko_backend::{App, Config};
use fiko_metrics::Format;
use serde_json::{Value, json};

use common::{Proc, sample, serve, spawn_demo};

/// The memory bound of the 50-logins test: the process's peak resident set (VmHWM), in
/// bytes. Measured (debug build): 54 MB with 2 hashes at once; 931 MB with
/// `PASSWORD_HASH_CONCURRENCY=50`, and 1009 MB before the gate existed.
const PEAK_RSS_BOUND: u64 = 150 * 1024 * 1024;

fn local_config(data: &Path) -> Config {
    let mut config = Config::local("127.0.0.1:0".parse().unwrap(), data);
    common::generous_auth_limits(&mut config);
    config
}

async fn post(url: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// The JSON body of `response`.
async fn json_body(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

/// Registers and signs in a user; their session token.
async fn session(base: &str, email: &str) -> String {
    let registered = post(
        &format!("{base}/api/v1/auth/register"),
        json!({ "email": email, "name": "Ada", "password": "analytical engine" }),
    )
    .await;
    assert_eq!(registered.status(), 201);
    let login = post(
        &format!("{base}/api/v1/auth/login"),
        json!({ "email": email, "password": "analytical engine" }),
    )
    .await;
    assert_eq!(login.status(), 200);
    let session: Value = json_body(login).await;
    session["token"].as_str().unwrap().to_owned()
}

/// `VmHWM` (peak resident set) of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .map(|kib| kib.trim().parse().unwrap())
        .unwrap();
    kib * 1024
}

/// Polls `url` until it answers anything (a protected endpoint answers 401), at most 30 s.
async fn wait_answering(url: &str, proc: &mut Proc) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(url).await.is_err() {
        if let Some(status) = proc.exited() {
            panic!("{} exited with {status}:\n{}", proc.name, proc.log());
        }
        assert!(
            Instant::now() < deadline,
            "{url} never answered:\n{}",
            proc.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_unknown_email_logins_stay_under_the_memory_bound_and_overflow_gets_503() {
    let data = tempfile::tempdir().unwrap();
    let (mut app, port) = spawn_demo(
        data.path(),
        &[
            ("PASSWORD_HASH_CONCURRENCY", "2"),
            ("PASSWORD_HASH_QUEUE_SECS", "0.2"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    common::wait_http_ok(
        &format!("{base}/api/v1/metrics/health"),
        Duration::from_secs(30),
        &mut app,
    );
    let login = format!("{base}/api/v1/auth/login");
    // One login first, so that the baseline includes one Argon2 memory block.
    let first = post(
        &login,
        json!({ "email": "warm@example.com", "password": "x" }),
    )
    .await;
    assert_eq!(first.status(), 401);
    let metrics = || async {
        reqwest::get(format!("{base}/api/v1/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let hashes_before = sample(
        &metrics().await,
        "fiko_auth_password_hash_duration_seconds_count",
    )
    .unwrap();
    let rss_before = peak_rss(app.id());

    let attempts = (0..50).map(|i| {
        let login = login.clone();
        tokio::spawn(async move {
            let email = format!("nobody-{i}@example.com");
            let response = post(&login, json!({ "email": email, "password": "guess 1234" })).await;
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (response.status().as_u16(), retry_after)
        })
    });
    let mut answers = Vec::new();
    for attempt in attempts.collect::<Vec<_>>() {
        answers.push(attempt.await.unwrap());
    }
    let rss_after = peak_rss(app.id());
    let text = metrics().await;
    let hashes =
        sample(&text, "fiko_auth_password_hash_duration_seconds_count").unwrap() - hashes_before;
    let refused = answers.iter().filter(|(status, _)| *status == 401).count();
    let busy = answers.iter().filter(|(status, _)| *status == 503).count();
    eprintln!(
        "50 unknown-email logins: {refused} answered 401, {busy} answered 503; {hashes} Argon2 verifications; peak RSS {} MB before, {} MB after",
        rss_before / 1_000_000,
        rss_after / 1_000_000
    );
    assert_eq!(refused + busy, 50, "{answers:?}");
    // Beyond capacity: 503 with Retry-After, not a queue that grows without bound.
    assert!(busy > 0, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(status, _)| *status == 503)
            .all(|(_, retry)| retry.as_deref() == Some("1"))
    );
    // Every unknown email that was answered did exactly one Argon2 verification (against
    // the dummy hash), as a known email with a wrong password does; the 503s did none.
    assert_eq!(hashes, refused as f64);
    assert_eq!(
        sample(
            &text,
            r#"fiko_auth_login_failures_total{reason="unknown_user"}"#
        ),
        Some(refused as f64 + 1.0)
    );
    assert!(
        rss_after < PEAK_RSS_BOUND,
        "peak RSS {rss_after} B is over the bound {PEAK_RSS_BOUND} B"
    );
    assert!(app.exited().is_none(), "{}", app.log());

    // Registrations hash through the same gate: 20 at once (3.8 GB before) stay under
    // the bound too.
    let register = format!("{base}/api/v1/auth/register");
    let registrations = (0..20).map(|i| {
        let register = register.clone();
        tokio::spawn(async move {
            let body = json!({ "email": format!("new-{i}@example.com"), "name": "New", "password": "analytical engine" });
            post(&register, body).await.status().as_u16()
        })
    });
    let mut statuses = Vec::new();
    for registration in registrations.collect::<Vec<_>>() {
        statuses.push(registration.await.unwrap());
    }
    let rss_registrations = peak_rss(app.id());
    eprintln!(
        "20 registrations: {statuses:?}; peak RSS {} MB",
        rss_registrations / 1_000_000
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201), "{statuses:?}");
    assert!(rss_registrations < PEAK_RSS_BOUND, "{rss_registrations} B");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_beyond_the_per_address_rate_get_429_with_retry_after_and_no_hashing() {
    let data = tempfile::tempdir().unwrap();
    let mut config = local_config(data.path());
    config.auth.rate = RateLimit {
        per_minute: 1,
        burst: 3,
        clients: 100,
    };
    let app = App::build(&config).await.unwrap();
    let registry = app.registry.clone();
    let base = serve(app).await;
    let login = format!("{base}/api/v1/auth/login");
    for _ in 0..3 {
        let answer = post(
            &login,
            json!({ "email": "eve@example.com", "password": "guess 1234" }),
        )
        .await;
        assert_eq!(answer.status(), 401);
    }
    let limited = post(
        &login,
        json!({ "email": "eve@example.com", "password": "guess 1234" }),
    )
    .await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = json_body(limited).await;
    assert!(
        body["error"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    // Registration shares the address's bucket.
    let register = post(
        &format!("{base}/api/v1/auth/register"),
        json!({ "email": "eve@example.com", "name": "Eve", "password": "guess 1234" }),
    )
    .await;
    assert_eq!(register.status(), 429);
    // The refused attempts cost no Argon2 work.
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(&text, "fiko_auth_password_hash_duration_seconds_count"),
        Some(3.0)
    );
}

const TOKEN: &str = "scrape-token-0123456789abcdef";

/// `GET url` with `Authorization: Bearer <token>` when given; the status.
async fn scrape(url: &str, token: Option<&str>) -> u16 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_metrics_need_the_token_also_in_the_final_scrape_window() {
    let data = tempfile::tempdir().unwrap();
    let token_file = data.path().join("metrics-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let (mut app, port) = spawn_demo(
        data.path(),
        &[
            ("METRICS_TOKEN_FILE", token_file.to_str().unwrap()),
            ("METRICS_ALLOW", "127.0.0.0/8,::1"),
            ("FIKO_DRAIN_SECS", "1"),
            ("FIKO_FINAL_SCRAPE_SECS", "20"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let metrics = format!("{base}/api/v1/metrics");
    let health = format!("{base}/api/v1/metrics/health");
    wait_answering(&health, &mut app).await;
    assert_eq!(scrape(&metrics, None).await, 401);
    assert_eq!(
        scrape(&metrics, Some("scrape-token-wrong-guess-0000")).await,
        401
    );
    assert_eq!(scrape(&health, None).await, 401);
    assert_eq!(scrape(&metrics, Some(TOKEN)).await, 200);
    assert_eq!(scrape(&health, Some(TOKEN)).await, 200);

    // The final-scrape window: refused scrapes neither get the metrics nor end the window.
    app.terminate();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.log().contains("for a final scrape") {
        assert!(Instant::now() < deadline, "{}", app.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(scrape(&metrics, None).await, 401);
    assert_eq!(
        scrape(&metrics, Some("scrape-token-wrong-guess-0000")).await,
        401
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        app.exited().is_none(),
        "a refused scrape ended the window:\n{}",
        app.log()
    );
    assert_eq!(scrape(&metrics, Some(TOKEN)).await, 200);
    let status = app.wait_exit(Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{}", app.log());
    assert!(app.log().contains("final scrape served"), "{}", app.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_outside_the_allow_list_is_refused_also_in_the_final_scrape_window() {
    let data = tempfile::tempdir().unwrap();
    let (mut app, port) = spawn_demo(
        data.path(),
        &[
            ("METRICS_TOKEN", TOKEN),
            // Loopback, where the test runs, is not in the list.
            ("METRICS_ALLOW", "10.0.0.0/8"),
            ("FIKO_DRAIN_SECS", "1"),
            ("FIKO_FINAL_SCRAPE_SECS", "2"),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    let metrics = format!("{base}/api/v1/metrics");
    wait_answering(&metrics, &mut app).await;
    assert_eq!(scrape(&metrics, Some(TOKEN)).await, 403);
    assert_eq!(
        scrape(&format!("{base}/api/v1/metrics/health"), Some(TOKEN)).await,
        403
    );
    app.terminate();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.log().contains("for a final scrape") {
        assert!(Instant::now() < deadline, "{}", app.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(scrape(&metrics, Some(TOKEN)).await, 403);
    let status = app.wait_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{}", app.log());
    assert!(app.log().contains("no scrape within"), "{}", app.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_workers_metrics_are_protected_by_the_same_settings() {
    let redis = fiko_testkit::Redis::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = fiko_testkit::free_port();
    let bind = format!("127.0.0.1:{port}");
    let dir = data.path().display().to_string();
    let mut worker = Proc::spawn(
        "worker",
        &["worker", "--bind", &bind],
        &[
            ("DATA_DIR", &dir),
            ("REDIS_URL", &redis.url()),
            ("METRICS_TOKEN", TOKEN),
            ("METRICS_ALLOW", "127.0.0.1"),
        ],
        &data.path().join("worker.log"),
    );
    let metrics = format!("http://{bind}/metrics");
    wait_answering(&metrics, &mut worker).await;
    assert_eq!(scrape(&metrics, None).await, 401);
    assert_eq!(
        scrape(&metrics, Some("scrape-token-wrong-guess-0000")).await,
        401
    );
    assert_eq!(scrape(&format!("http://{bind}/health"), None).await, 401);
    assert_eq!(scrape(&metrics, Some(TOKEN)).await, 200);
}

/// Reads from `stream` until the server closes it; how long that took, and what was read.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        // Data that keeps coming (pings) must not keep the test waiting past `limit`.
        assert!(
            started.elapsed() < limit,
            "still open after {:?}; read {:?}",
            started.elapsed(),
            String::from_utf8_lossy(&received)
        );
        match stream.read(&mut buffer) {
            Ok(0) => return (started.elapsed(), received),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {
                return (started.elapsed(), received);
            }
            Err(error) => panic!(
                "still open after {:?} ({error}); read {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&received)
            ),
        }
    }
}

fn short_timeouts() -> Timeouts {
    Timeouts {
        header_read: Duration::from_millis(1500),
        keep_alive: Duration::from_millis(600),
        ws_ping_interval: Duration::from_millis(300),
        ws_idle: Duration::from_millis(1000),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_header_connection_is_closed_within_the_header_read_timeout() {
    let data = tempfile::tempdir().unwrap();
    let mut config = local_config(data.path());
    config.timeouts = Timeouts {
        keep_alive: Duration::from_secs(30),
        ..short_timeouts()
    };
    let base = serve(App::build(&config).await.unwrap()).await;
    let address = base.trim_start_matches("http://").to_owned();
    let closed = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&address).unwrap();
        // A slowloris: a head that never ends, a byte now and then.
        stream
            .write_all(b"GET /api/v1/metrics HTTP/1.1\r\nHost: fiko\r\nX-Slow: ")
            .unwrap();
        let started = Instant::now();
        let writer = stream.try_clone().unwrap();
        let drip = std::thread::spawn(move || {
            let mut writer = writer;
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(200));
                if writer.write_all(b"a").is_err() {
                    return;
                }
            }
        });
        let (_, received) = read_until_closed(&mut stream, Duration::from_secs(5));
        let closed = started.elapsed();
        let _ = drip.join();
        (closed, received)
    })
    .await
    .unwrap();
    let (closed, received) = closed;
    eprintln!("slow header: closed after {closed:?}");
    assert!(
        closed >= Duration::from_millis(1400) && closed < Duration::from_millis(3000),
        "closed after {closed:?}"
    );
    // No request was answered.
    assert!(!String::from_utf8_lossy(&received).contains("200 OK"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let data = tempfile::tempdir().unwrap();
    let mut config = local_config(data.path());
    config.timeouts = short_timeouts();
    let base = serve(App::build(&config).await.unwrap()).await;
    let address = base.trim_start_matches("http://").to_owned();
    let (idle, received) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&address).unwrap();
        stream
            .write_all(b"GET /api/v1/metrics HTTP/1.1\r\nHost: fiko\r\n\r\n")
            .unwrap();
        // The answer comes, the connection stays open for keep-alive, then is closed.
        let mut first = [0_u8; 15];
        stream.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"HTTP/1.1 200 OK");
        read_until_closed(&mut stream, Duration::from_secs(5))
    })
    .await
    .unwrap();
    eprintln!("idle keep-alive: closed {idle:?} after the answer");
    // The keep-alive timeout (600 ms), well before the header-read one (1.5 s).
    assert!(
        idle >= Duration::from_millis(450) && idle < Duration::from_millis(1400),
        "closed {idle:?} after the answer"
    );
    assert!(!received.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_websocket_client_is_closed_and_a_live_one_is_kept() {
    let data = tempfile::tempdir().unwrap();
    let mut config = local_config(data.path());
    config.timeouts = short_timeouts();
    let app = App::build(&config).await.unwrap();
    let registry = app.registry.clone();
    let base = serve(app).await;
    let token = session(&base, "ada@example.com").await;
    let address = base.trim_start_matches("http://").to_owned();

    // A live client (tokio-tungstenite answers pings while it reads) outlasts the idle
    // timeout.
    let (mut live, _) = tokio_tungstenite::connect_async(format!(
        "ws://{address}/api/v1/notifications/ws?token={token}"
    ))
    .await
    .unwrap();
    {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let until = Instant::now() + Duration::from_millis(2500);
        while let Ok(Some(message)) = tokio::time::timeout_at(until.into(), live.next()).await {
            assert!(message.is_ok(), "{message:?}");
        }
        live.send(Message::text("ping")).await.unwrap();
        let answer = loop {
            match live.next().await.unwrap().unwrap() {
                Message::Text(text) => break text,
                _ => continue,
            }
        };
        assert_eq!(answer.as_str(), "pong");
    }

    // A silent client: upgrades, then never reads nor answers a ping.
    let (closed, received) = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "GET /api/v1/notifications/ws?token={token} HTTP/1.1\r\nHost: fiko\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        read_until_closed(&mut stream, Duration::from_secs(5))
    })
    .await
    .unwrap();
    eprintln!("silent WebSocket: closed after {closed:?}");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    // Closed after the idle timeout (1 s), with a close frame (code 1001, "going away").
    assert!(
        closed >= Duration::from_millis(900) && closed < Duration::from_millis(3000),
        "closed after {closed:?}"
    );
    let close_frame = [0x88_u8, 14, 0x03, 0xe9];
    assert!(
        received.windows(4).any(|w| w == close_frame),
        "no close frame in {received:?}"
    );
    drop(live);
    let _ = registry;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_token_is_accepted_on_the_websocket_upgrade_only() {
    let data = tempfile::tempdir().unwrap();
    let base = serve(App::build(&local_config(data.path())).await.unwrap()).await;
    let token = session(&base, "ada@example.com").await;
    let client = reqwest::Client::new();
    let purchase =
        json!({ "plan": "starter", "currency": "usd", "card_number": "4242424242424242" });
    let url = format!("{base}/api/v1/billing/transactions");
    let with_query = client
        .post(format!("{url}?token={token}"))
        .header("content-type", "application/json")
        .body(purchase.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(with_query.status(), 401);
    let me = client
        .get(format!("{base}/api/v1/auth/me?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let with_header = client
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(purchase.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(with_header.status(), 201);
    // The WebSocket upgrade, where browsers cannot send headers, takes it.
    let address = base.trim_start_matches("http://");
    let socket = tokio_tungstenite::connect_async(format!(
        "ws://{address}/api/v1/notifications/ws?token={token}"
    ))
    .await;
    assert!(socket.is_ok(), "{socket:?}");
    let refused = tokio_tungstenite::connect_async(format!(
        "ws://{address}/api/v1/notifications/ws?token=not-a-session"
    ))
    .await;
    assert!(refused.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instagram_stand_in_needs_the_configured_access_token() {
    let data = tempfile::tempdir().unwrap();
    let mut config = local_config(data.path());
    // Characters a query string must encode: the application's calls encode them.
    config.instagram_token = "configured+instagram&token".to_owned();
    let base = serve(App::build(&config).await.unwrap()).await;
    let stand_in = format!("{base}/_local/instagram/me/media");
    let status = |url: String| async move { reqwest::get(url).await.unwrap().status().as_u16() };
    assert_eq!(status(stand_in.clone()).await, 401);
    assert_eq!(
        status(format!("{stand_in}?access_token=demo-token")).await,
        401
    );
    // Unencoded, the token is cut at `&` (and `+` is a space): refused.
    assert_eq!(
        status(format!(
            "{stand_in}?access_token=configured+instagram&token"
        ))
        .await,
        401
    );
    assert_eq!(
        status(format!(
            "{stand_in}?access_token=configured%2Binstagram%26token"
        ))
        .await,
        200
    );
    // The application, which sends the configured token, still reads its media.
    let token = session(&base, "ada@example.com").await;
    let media = reqwest::Client::new()
        .get(format!("{base}/api/v1/instagram/media"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_and_bad_emails_are_refused_with_a_422_naming_the_field() {
    let data = tempfile::tempdir().unwrap();
    let app = App::build(&local_config(data.path())).await.unwrap();
    let registry = app.registry.clone();
    let base = serve(app).await;
    let register = format!("{base}/api/v1/auth/register");
    let cases = [
        (
            json!({ "email": "ada@example.com\r\nBcc: eve@example.com", "name": "Ada", "password": "analytical engine" }),
            "email",
        ),
        (
            json!({ "email": "ada\n@example.com", "name": "Ada", "password": "analytical engine" }),
            "email",
        ),
        (
            json!({ "email": "ada\u{0}@example.com", "name": "Ada", "password": "analytical engine" }),
            "email",
        ),
        (
            json!({ "email": "ada@example", "name": "Ada", "password": "analytical engine" }),
            "email",
        ),
        (
            json!({ "email": "ada@example.com", "name": "Ada\r\nLovelace", "password": "analytical engine" }),
            "name",
        ),
        (
            json!({ "email": "ada@example.com", "name": "x".repeat(101), "password": "analytical engine" }),
            "name",
        ),
        (
            json!({ "email": "ada@example.com", "name": "Ada", "password": "analytical\u{0}engine" }),
            "password",
        ),
    ];
    for (body, field) in &cases {
        let answer = post(&register, body.clone()).await;
        assert_eq!(answer.status(), 422, "{body}");
        let error: Value = json_body(answer).await;
        assert_eq!(error["field"], *field, "{body}: {error}");
        assert!(error["error"].as_str().unwrap().contains(field), "{error}");
    }
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(
            &text,
            r#"fiko_users_registrations_total{outcome="invalid"}"#
        ),
        Some(cases.len() as f64)
    );
    assert_eq!(
        sample(
            &text,
            r#"fiko_users_registrations_total{outcome="created"}"#
        ),
        Some(0.0)
    );
    // Login and the other text fields are checked too.
    let login = post(
        &format!("{base}/api/v1/auth/login"),
        json!({ "email": "ada@example.com\r\n", "password": "analytical engine" }),
    )
    .await;
    assert_eq!(login.status(), 422);
    assert_eq!(json_body(login).await["field"], "email");
    let token = session(&base, "ada@example.com").await;
    let workflow = reqwest::Client::new()
        .post(format!("{base}/api/v1/workflows"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({ "name": "nightly\u{1b}[2J", "actions": ["send_message"] }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(workflow.status(), 422);
    assert_eq!(json_body(workflow).await["field"], "name");
    let purchase = reqwest::Client::new()
        .post(format!("{base}/api/v1/billing/transactions"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(
            json!({ "plan": "starter", "currency": "usd", "card_number": "4242424242424242\r\n" })
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(purchase.status(), 422);
    assert_eq!(json_body(purchase).await["field"], "card_number");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_with_the_generated_config_scrapes_the_protected_app_with_its_token_file() {
    let data = tempfile::tempdir().unwrap();
    let token_file = data.path().join("metrics-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let (mut app, port) = spawn_demo(
        data.path(),
        &[("METRICS_TOKEN_FILE", token_file.to_str().unwrap())],
    );
    let bind = format!("127.0.0.1:{port}");
    wait_answering(&format!("http://{bind}/api/v1/metrics"), &mut app).await;
    // The same target twice: with the generator's token option, and without it.
    let artefacts = fiko_dashboards_gen::Generator::new(fiko_backend::deployment::NAME)
        .runbook_base("https://runbooks.example/")
        .scrape(
            fiko_backend::monitoring::APP_JOB,
            "/api/v1/metrics",
            &[&bind],
        )
        .scrape("without-token", "/api/v1/metrics", &[&bind])
        .scrape_token_file(&[fiko_backend::monitoring::APP_JOB], "fiko-metrics-token")
        .interval(fiko_dashboards::seconds(1))
        .generate()
        .unwrap();
    let prometheus = fiko_testkit::Prometheus::start(
        artefacts.get("prometheus/prometheus.yml").unwrap(),
        &[
            ("fiko-metrics-token", &format!("{TOKEN}\n")),
            (
                "alerts.yml",
                artefacts.get("prometheus/alerts.yml").unwrap(),
            ),
            (
                "recording.yml",
                artefacts.get("prometheus/recording.yml").unwrap(),
            ),
        ],
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let up = loop {
        let answer: Value = serde_json::from_str(&prometheus.query("up").unwrap()).unwrap();
        let up: std::collections::BTreeMap<String, String> = answer["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|series| {
                (
                    series["metric"]["job"].as_str().unwrap().to_owned(),
                    series["value"][1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if up.len() == 2 {
            break up;
        }
        assert!(
            Instant::now() < deadline,
            "{answer}\n{}",
            prometheus.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(up[fiko_backend::monitoring::APP_JOB], "1", "{up:?}");
    assert_eq!(up["without-token"], "0", "{up:?}");
}
