//! The Fiko Backend demo: an axum application that records the seed's whole metric
//! catalogue with fiko-metrics — HTTP, database, cache, authentication, WebSockets, AI,
//! workflows, billing, users, academy, Instagram, background jobs and the process — and
//! serves it at `/api/v1/metrics` with a health endpoint at `/api/v1/metrics/health`.
//!
//! With nothing installed it runs on a SQLite file and an in-process cache and job queue,
//! and calls a built-in stand-in for the Instagram Graph API; `DATABASE_URL=postgres://...`
//! and `REDIS_URL=redis://...` move it onto PostgreSQL and Redis, where a separate
//! `fiko-backend worker` process runs the jobs, and `INSTAGRAM_BASE_URL` points it at
//! another Graph API. `fiko-backend load` drives every route with a realistic, bounded mix
//! and prints what it sent. [`deployment::generator`] lists every metric set the demo's
//! processes and exporters expose, with the dashboard rows and alerts `dashboards-gen`
//! generates from them.
//!
//! The AI provider shipped is [`ai::DeterministicLocalProvider`]: not a language model, a
//! fixed transformation of the prompt, so the demo and its tests run offline.
//!
//! # When PostgreSQL or Redis goes away
//!
//! The application keeps serving what it can. Without Redis, every cache lookup is a miss
//! (counted in `fiko_cache_misses_total` and `fiko_cache_errors_total`, the failed
//! commands in `fiko_redis_errors_total{kind="io"}`) and is answered from PostgreSQL:
//! a refused connection fails at once (the next command reconnects), a Redis that stopped
//! answering costs at most its 2 s response timeout. Without PostgreSQL, what the Redis cache
//! holds (sessions, profiles) is still served, and a request that needs the database
//! answers **503** `database unavailable` within the pool's acquire timeout
//! (`DATABASE_ACQUIRE_TIMEOUT_SECS`, default 3 s), counted in
//! `fiko_db_query_errors_total{kind="pool_timeout"}`. The health endpoint answers 503
//! naming the failed dependency; the metrics endpoint answers throughout. Once the server
//! is back the pool and the Redis connection reconnect by themselves. `tests/faults.rs`
//! proves all of this under load.
//!
//! # Graceful shutdown
//!
//! On SIGTERM or Ctrl-C, `fiko-backend serve` (see [`App::serve_with`]):
//!
//! 1. closes its listener (new connections are refused) and lets requests in flight
//!    finish, each recorded as usual, for at most `FIKO_DRAIN_SECS` (default 10 s);
//!    requests still running then are cut off;
//! 2. listens on the same address again, serving **only** `/api/v1/metrics` (anything
//!    else answers 503 `shutting down`, so health probes fail), until one scrape has been
//!    answered or `FIKO_FINAL_SCRAPE_SECS` (default 15 s, the generated scrape interval;
//!    `0` skips this) have passed. That final scrape shows every request the process
//!    finished: counters equal the requests completed, in-flight gauges are 0;
//! 3. exits 0.
//!
//! A second SIGTERM or Ctrl-C skips what is left of both waits. Keep the orchestrator's
//! grace period above drain + window (Kubernetes' default 30 s is). `tests/shutdown.rs`
//! proves each step with the real binary. The job worker (`fiko-backend worker`) stops
//! its workers and its metrics listener without a final-scrape window.
//!
//! # Configuration
//!
//! Environment variables of `fiko-backend serve`: see [`Config`]. Besides where the data
//! lives (`BIND`, `DATA_DIR`, `DATABASE_URL`, `REDIS_URL`, `INSTAGRAM_BASE_URL`,
//! `INSTAGRAM_ACCESS_TOKEN`, `INSTANCE_NAME`): `DATABASE_ACQUIRE_TIMEOUT_SECS`,
//! `FIKO_DRAIN_SECS`, `FIKO_FINAL_SCRAPE_SECS` and `AI_PROVIDER_LATENCY_MS` (a slow model,
//! to watch requests in flight). `FIKO_INSTRUMENTATION=off` serves the same application
//! recording no metric per request, to measure what the instrumentation costs
//! ([`config::Instrumentation`]; `tests/instrumentation.rs`, `scripts/bench-parts/demo-cost`).
//!
//! What a client can make the server spend is bounded, each bound configurable
//! ([`config::AuthLimits`], [`config::Timeouts`]): Argon2 hashes at once
//! (`PASSWORD_HASH_CONCURRENCY`, `PASSWORD_HASH_QUEUE_SECS`; beyond, 503), sign-in attempts
//! per client address (`AUTH_RATE_PER_MINUTE`, `AUTH_RATE_BURST`, `AUTH_RATE_CLIENTS`;
//! beyond, 429), and how long connections may stall (`HTTP_HEADER_READ_TIMEOUT_SECS`,
//! `HTTP_KEEP_ALIVE_TIMEOUT_SECS`, `WS_PING_INTERVAL_SECS`, `WS_IDLE_TIMEOUT_SECS`). The
//! metrics and health endpoints of the app (and its final-scrape window) and of the worker
//! take a bearer token and an allow-list ([`config::MetricsAccess`]: `METRICS_TOKEN` or
//! `METRICS_TOKEN_FILE`, `METRICS_ALLOW`). Text input is checked at the edge
//! ([`validate`]). `tests/hardening.rs` proves each.
//!
//! ```
//! use fiko_backend::{App, Config};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
//! let data = tempfile::tempdir()?;
//! let config = Config::local("127.0.0.1:0".parse()?, data.path());
//! let app = App::build(&config).await?;
//!
//! // Every business metric exists, at zero, before the first request.
//! let text = app.registry.encode(fiko_metrics::Format::Prometheus);
//! assert!(text.contains(r#"fiko_ai_requests_total{model="local-small",status="ok"} 0"#));
//! assert!(text.contains(r#"fiko_workflow_executions_total{status="failed"} 0"#));
//! assert!(text.contains("# TYPE process_resident_memory_bytes gauge"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod academy;
pub mod ai;
pub mod app;
pub mod auth;
pub mod billing;
pub mod cache;
pub mod config;
pub mod db;
pub mod deployment;
pub mod error;
pub mod instagram;
pub mod jobs;
pub mod limits;
pub mod load;
pub mod metrics;
pub mod monitoring;
pub mod notifications;
pub mod password;
pub mod server;
pub mod traces;
pub mod validate;
pub mod workflows;

pub use app::{App, AppState, StartError};
pub use config::Config;
