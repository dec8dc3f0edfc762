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
//! and prints what it sent. [`monitoring::observed`] lists every metric set the demo's
//! processes and exporters expose, with the dashboard rows and alerts `dashboards-gen`
//! generates from them.
//!
//! The AI provider shipped is [`ai::DeterministicLocalProvider`]: not a language model, a
//! fixed transformation of the prompt, so the demo and its tests run offline.
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
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod academy;
pub mod ai;
pub mod app;
pub mod auth;
pub mod billing;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod instagram;
pub mod jobs;
pub mod load;
pub mod metrics;
pub mod monitoring;
pub mod notifications;
pub mod workflows;

pub use app::{App, AppState, StartError};
pub use config::Config;
