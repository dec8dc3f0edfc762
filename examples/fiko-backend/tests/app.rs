//! The demo in one process on SQLite with the in-process cache and job queue, driven by
//! the load generator; its start-up errors; its generated artefacts checked by promtool.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use fiko_backend::config::CacheConfig;
use fiko_backend::db::Table;
use fiko_backend::load::{self, LoadConfig, Scenario};
use fiko_backend::{App, Config};
use fiko_metrics::Format;

use common::{FakeInstagram, requests_by_route, sample, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalogue_metric_is_recorded_and_requests_match_what_the_load_generator_sent() {
    let data = tempfile::tempdir().unwrap();
    let instagram = FakeInstagram::start().await;
    let mut config = Config::local("127.0.0.1:0".parse().unwrap(), data.path());
    common::generous_auth_limits(&mut config);
    config.instagram_base_url = Some(instagram.url.clone());
    assert_eq!(config.cache, CacheConfig::Memory);
    let app = App::build(&config).await.unwrap();
    let registry = app.registry.clone();
    let db = app.state.db.clone();
    let url = serve(app).await;
    // The generator's worst case per metric holds for the app at rest...
    let cardinality = fiko_backend::deployment::generator()
        .generate()
        .unwrap()
        .cardinality()
        .clone();
    within_budget(&registry.encode(Format::Prometheus), &cardinality);

    let users = 20;
    let report = load::run(&LoadConfig {
        targets: vec![url.clone()],
        users,
        concurrency: 4,
        max_duration: Duration::from_secs(60),
        scenario: Scenario::Full,
    })
    .await
    .unwrap();
    assert_eq!(report.users, users);
    assert_eq!(report.without_response(), 0, "{}", report.render());
    assert_eq!(report.server_errors(), 0, "{}", report.render());

    // The server counted exactly what the generator sent, per method, route and status.
    let text = registry.encode(Format::Prometheus);
    assert_eq!(requests_by_route(&text), report.sent, "{}", report.render());
    // Every route of the scenario was exercised.
    let routes: std::collections::BTreeSet<&str> =
        report.sent.keys().map(|(_, r, _)| r.as_str()).collect();
    assert_eq!(routes.len(), 12, "{routes:?}");

    // Jobs run in the background: wait until every welcome email and invoice was tried.
    let bounced = (0..users).filter(|i| i % 10 == 9).count() as f64;
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = registry.encode(Format::Prometheus);
        let emails = sample(
            &text,
            r#"fiko_jobs_task_executions_total{task="welcome_email",state="succeeded"}"#,
        );
        let invoices = sample(
            &text,
            r#"fiko_jobs_task_executions_total{task="invoice",state="succeeded"}"#,
        );
        let paid = sample(
            &text,
            r#"fiko_queue_enqueued_total{task="invoice",outcome="ok"}"#,
        );
        if emails == Some(f64::from(users) - bounced) && invoices.is_some() && invoices == paid {
            break text;
        }
        assert!(Instant::now() < deadline, "jobs did not finish:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Bounced emails failed, were retried once and failed again.
    assert_eq!(
        sample(
            &text,
            r#"fiko_jobs_task_executions_total{task="welcome_email",state="failed"}"#
        ),
        Some(2.0 * bounced)
    );
    assert_eq!(
        sample(
            &text,
            r#"fiko_jobs_task_executions_total{task="welcome_email",state="retried"}"#
        ),
        Some(bounced)
    );
    assert_eq!(
        db.count(Table::Emails).await.unwrap() as f64,
        f64::from(users) - bounced
    );
    assert_eq!(db.count(Table::Users).await.unwrap(), i64::from(users));

    let count = |series: &str| {
        sample(&text, series).unwrap_or_else(|| panic!("no sample {series}:\n{text}"))
    };
    let routes_sent = |route: &str, status: u16| -> f64 {
        report
            .sent
            .iter()
            .filter(|((_, r, s), _)| r == route && *s == status)
            .map(|(_, n)| *n as f64)
            .sum()
    };
    // Authentication.
    assert_eq!(
        count(r#"fiko_auth_login_attempts_total{outcome="success"}"#),
        f64::from(users)
    );
    assert_eq!(
        count(r#"fiko_auth_login_failures_total{reason="bad_password"}"#),
        routes_sent("/api/v1/auth/login", 401)
    );
    assert_eq!(count("fiko_auth_logouts_total"), f64::from(users));
    assert!(count("fiko_auth_password_hash_duration_seconds_count") >= f64::from(2 * users));
    // Users.
    assert_eq!(
        count(r#"fiko_users_registrations_total{outcome="created"}"#),
        f64::from(users)
    );
    assert_eq!(
        count(r#"fiko_users_registrations_total{outcome="duplicate"}"#),
        routes_sent("/api/v1/auth/register", 409)
    );
    assert_eq!(
        count(r#"fiko_users_activity_total{action="view_profile"}"#),
        routes_sent("/api/v1/users/{id}", 200)
    );
    // AI: one request per user; the oversized prompts were refused by the provider.
    let ai_ok = count(r#"fiko_ai_requests_total{model="local-small",status="ok"}"#)
        + count(r#"fiko_ai_requests_total{model="local-large",status="ok"}"#);
    // Each workflow's ai_reply action asks local-small too.
    assert_eq!(
        ai_ok,
        routes_sent("/api/v1/ai/completions", 200)
            + routes_sent("/api/v1/workflows/{id}/executions", 201)
    );
    assert_eq!(
        count(r#"fiko_ai_requests_total{model="local-small",status="error"}"#),
        routes_sent("/api/v1/ai/completions", 422)
    );
    assert!(count(r#"fiko_ai_tokens_total{model="local-large",kind="prompt"}"#) > 0.0);
    assert!(count(r#"fiko_ai_cost_dollars_total{model="local-large"}"#) > 0.0);
    // Workflows: four actions each.
    assert_eq!(
        count(r#"fiko_workflow_executions_total{status="succeeded"}"#),
        f64::from(users)
    );
    assert_eq!(
        count(r#"fiko_workflow_actions_total{action="send_message",status="ok"}"#),
        f64::from(users)
    );
    assert_eq!(count("fiko_workflow_executions_running"), 0.0);
    // Billing: revenue of the paid plans.
    let paid = routes_sent("/api/v1/billing/transactions", 201);
    let declined = routes_sent("/api/v1/billing/transactions", 402);
    let transactions: f64 = ["starter", "pro", "business"]
        .iter()
        .map(|plan| {
            count(&format!(
                r#"fiko_billing_transactions_total{{plan="{plan}",status="succeeded"}}"#
            ))
        })
        .sum();
    assert_eq!(transactions, paid);
    let declined_counted: f64 = ["starter", "pro", "business"]
        .iter()
        .map(|plan| {
            count(&format!(
                r#"fiko_billing_transactions_total{{plan="{plan}",status="declined"}}"#
            ))
        })
        .sum();
    assert_eq!(declined_counted, declined);
    assert!(count(r#"fiko_billing_revenue_total{plan="pro",currency="usd"}"#) > 0.0);
    // Academy, Instagram.
    let views: f64 = ["getting_started", "automations", "growth"]
        .iter()
        .map(|c| {
            count(&format!(
                r#"fiko_academy_video_views_total{{course="{c}"}}"#
            ))
        })
        .sum();
    assert_eq!(views, f64::from(users));
    assert_eq!(
        count(r#"fiko_instagram_api_calls_total{endpoint="media",result="ok"}"#),
        f64::from(users)
    );
    assert_eq!(
        instagram.calls.load(std::sync::atomic::Ordering::Relaxed),
        u64::from(users)
    );
    // Cache: the second profile read of every user hits.
    assert!(count(r#"fiko_cache_hits_total{cache="app"}"#) >= f64::from(users));
    assert!(count(r#"fiko_cache_misses_total{cache="app"}"#) > 0.0);
    // WebSockets: one connection per user, closed by the client.
    assert_eq!(count("websocket_connections_total"), f64::from(users));
    assert_eq!(count("websocket_active_connections"), 0.0);
    assert_eq!(
        count(r#"websocket_messages_total{direction="received",kind="text"}"#),
        f64::from(users)
    );
    // Database, process, functions.
    assert!(
        count(r#"fiko_db_queries_total{pool="main",operation="insert",query="create_user"}"#)
            >= f64::from(users)
    );
    assert!(
        text.contains("fiko_db_query_errors_total{"),
        "duplicate registrations are unique violations:\n{text}"
    );
    assert!(count("process_resident_memory_bytes") > 0.0);
    assert!(text.contains(r#"function_calls_total{function="execute_workflow",module="fiko_backend::workflows",outcome="ok",error=""}"#));
    // Sessions are counted in the database, refreshed in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(
        &registry.encode(Format::Prometheus),
        "fiko_auth_active_sessions",
    ) != Some(0.0)
    {
        assert!(
            Instant::now() < deadline,
            "every user logged out; active sessions stayed above 0"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The health endpoint checks the database and the cache.
    let health = fiko_testkit::http_get(&format!("{url}/api/v1/metrics/health")).unwrap();
    assert_eq!(health.status, 200, "{}", health.body);
    assert!(health.body.contains(r#""database":{"#), "{}", health.body);

    // What the metrics endpoint serves is exactly what the registered sets declare: every
    // metric, HELP, TYPE, and only declared values of closed labels.
    let scrape = fiko_testkit::http_get(&format!("{url}/api/v1/metrics")).unwrap();
    assert_eq!(scrape.status, 200, "{}", scrape.body);
    fiko_metrics::testing::DriftCheck::new(registry.sets()).assert(&scrape.body);
    // ...and after the load.
    within_budget(&scrape.body, &cardinality);
}

/// Each metric of `scrape` exposes no more series than `CARDINALITY.md` gives it per target.
fn within_budget(scrape: &str, cardinality: &fiko_dashboards_gen::Cardinality) {
    let mut series: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    let samples = fiko_metrics::testing::samples(scrape).unwrap();
    for sample in &samples {
        let name = sample.name.as_str();
        let metric = ["", "_total", "_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find(|base| cardinality.per_target(base).is_some())
            .unwrap_or_else(|| panic!("{name} is in no metric of the budget"));
        *series.entry(metric).or_default() += 1;
    }
    assert!(series.len() > 50, "{series:?}");
    for (metric, count) in series {
        let budget = cardinality.per_target(metric).unwrap_or_default();
        assert!(count <= budget, "{metric}: {count} series, budget {budget}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instagram_outage_is_a_502_counted_as_a_server_error() {
    let data = tempfile::tempdir().unwrap();
    let instagram = FakeInstagram::start().await;
    instagram
        .failing
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let mut config = Config::local("127.0.0.1:0".parse().unwrap(), data.path());
    common::generous_auth_limits(&mut config);
    config.instagram_base_url = Some(instagram.url.clone());
    let app = App::build(&config).await.unwrap();
    let registry = app.registry.clone();
    let url = serve(app).await;
    let report = load::run(&LoadConfig {
        targets: vec![url],
        users: 2,
        concurrency: 2,
        max_duration: Duration::from_secs(30),
        scenario: Scenario::Instagram,
    })
    .await
    .unwrap();
    let failed = report.sent[&("GET".to_owned(), "/api/v1/instagram/media".to_owned(), 502)];
    assert_eq!(failed, 20);
    assert!(
        report.server_errors() as f64 / report.total() as f64 >= 0.1,
        "{}",
        report.render()
    );
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(
            &text,
            r#"fiko_instagram_api_calls_total{endpoint="media",result="server_error"}"#
        ),
        Some(20.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"http_server_request_errors_total{http_request_method="GET",http_route="/api/v1/instagram/media",error_type="server_error"}"#
        ),
        Some(20.0)
    );
}

fn run_binary(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fiko-backend"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env_remove("INSTAGRAM_BASE_URL")
        .env("BIND", "127.0.0.1:0");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn bad_urls_and_unreachable_servers_are_one_line_errors() {
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let closed = fiko_testkit::free_port();
    let cases = [
        (
            vec![("DATABASE_URL", "mysql://127.0.0.1/fiko".to_owned())],
            "DATABASE_URL=\"mysql://127.0.0.1/fiko\" is not valid: unsupported scheme",
        ),
        (
            vec![("REDIS_URL", "127.0.0.1:6379".to_owned())],
            "REDIS_URL=\"127.0.0.1:6379\" is not valid",
        ),
        (
            vec![(
                "DATABASE_URL",
                format!("postgres://fiko:secret@127.0.0.1:{closed}/fiko"),
            )],
            "cannot connect to PostgreSQL at postgres://fiko:***@127.0.0.1:",
        ),
        (
            vec![("REDIS_URL", format!("redis://127.0.0.1:{closed}"))],
            "cannot connect to Redis at redis://127.0.0.1:",
        ),
    ];
    for (env, expected) in cases {
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.push(("DATA_DIR", data_dir));
        let started = Instant::now();
        let output = run_binary(&env, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{env:?}: {stderr}");
        assert!(stderr.starts_with("fiko-backend: "), "{stderr}");
        assert!(
            stderr.contains(expected),
            "{env:?}: expected {expected:?} in {stderr:?}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("secret"), "{stderr}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{env:?} took {:?}",
            started.elapsed()
        );
    }
    // The worker refuses to run without Redis.
    let output = run_binary(
        &[("DATA_DIR", data_dir)],
        &["worker", "--bind", "127.0.0.1:0"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("the worker needs REDIS_URL"), "{stderr}");
    // The load generator only targets loopback addresses.
    let output = run_binary(
        &[],
        &["load", "--target", "http://192.0.2.1:8000", "--users", "1"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("is not an http:// URL on a loopback address"),
        "{stderr}"
    );
}

#[test]
fn the_generated_rules_pass_promtool_and_the_dashboard_has_the_overview_panels() {
    let artefacts = fiko_backend::deployment::generator().generate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    artefacts.write_to(dir.path()).unwrap();
    let prometheus = dir.path().join("prometheus");
    for args in [
        &["check", "config", "prometheus.yml"][..],
        &["test", "rules", "alerts.test.yml"][..],
    ] {
        let report = fiko_testkit::promtool::run_in(&prometheus, args).unwrap();
        assert!(report.success, "promtool {args:?}: {}", report.text());
    }
    let alerts = artefacts.get("prometheus/alerts.yml").unwrap();
    assert_eq!(alerts.matches("- alert: ").count(), 34, "{alerts}");
    let dashboard: serde_json::Value = serde_json::from_str(
        artefacts
            .get("grafana/dashboards/fiko-overview.json")
            .unwrap(),
    )
    .unwrap();
    let text = dashboard.to_string();
    for title in fiko_backend::deployment::SEED_PANELS {
        assert!(
            text.contains(&format!("\"title\":\"{title}\"")),
            "no panel {title}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_instagram_configured_the_served_app_calls_its_local_stand_in() {
    let data = tempfile::tempdir().unwrap();
    let mut config = Config::local("127.0.0.1:0".parse().unwrap(), data.path());
    common::generous_auth_limits(&mut config);
    assert_eq!(config.instagram_base_url, None);
    let app = App::build(&config).await.unwrap();
    let registry = app.registry.clone();
    let url = serve(app).await;
    let report = load::run(&LoadConfig {
        targets: vec![url],
        users: 1,
        concurrency: 1,
        max_duration: Duration::from_secs(30),
        scenario: Scenario::Instagram,
    })
    .await
    .unwrap();
    assert_eq!(
        report
            .sent
            .get(&("GET".to_owned(), "/api/v1/instagram/media".to_owned(), 200)),
        Some(&10),
        "{}",
        report.render()
    );
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(
            &text,
            r#"fiko_instagram_api_calls_total{endpoint="media",result="ok"}"#
        ),
        Some(10.0)
    );
    // The stand-in's own requests are not counted as the application's traffic.
    assert_eq!(requests_by_route(&text), report.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_and_wrong_passwords_get_the_same_answer_and_separate_counts() {
    let data = tempfile::tempdir().unwrap();
    let app = App::build(&Config::local("127.0.0.1:0".parse().unwrap(), data.path()))
        .await
        .unwrap();
    let registry = app.registry.clone();
    let url = serve(app).await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{url}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let registered = post(
        "/api/v1/auth/register",
        serde_json::json!({ "email": "ada@example.com", "name": "Ada", "password": "analytical engine" }),
    )
    .await
    .unwrap();
    assert_eq!(registered.status(), 201);
    let unknown = post(
        "/api/v1/auth/login",
        serde_json::json!({ "email": "nobody@example.com", "password": "analytical engine" }),
    )
    .await
    .unwrap();
    let (unknown_status, unknown_body) = (unknown.status(), unknown.text().await.unwrap());
    let wrong = post(
        "/api/v1/auth/login",
        serde_json::json!({ "email": "ada@example.com", "password": "difference engine" }),
    )
    .await
    .unwrap();
    let (wrong_status, wrong_body) = (wrong.status(), wrong.text().await.unwrap());
    assert_eq!((unknown_status.as_u16(), wrong_status.as_u16()), (401, 401));
    assert_eq!(unknown_body, wrong_body);
    let text = registry.encode(Format::Prometheus);
    assert_eq!(
        sample(
            &text,
            r#"fiko_auth_login_failures_total{reason="unknown_user"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"fiko_auth_login_failures_total{reason="bad_password"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"fiko_auth_login_attempts_total{outcome="failure"}"#
        ),
        Some(2.0)
    );
    // Both checks ran Argon2: the unknown user's against the dummy hash.
    assert_eq!(
        sample(&text, "fiko_auth_password_hash_duration_seconds_count"),
        Some(3.0)
    );
}
