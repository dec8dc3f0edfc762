//! The demo's registry (`examples/fiko-backend`), as its application registers it, after
//! some traffic: the same sets in the same order, recorded into the way its requests,
//! queries, cache reads, jobs and `#[timed]` calls would.
//!
//! `benches` does not depend on the demo (which would bring its database drivers, HTTP
//! client and tracing stack into every benchmark build): its business sets are the demo's
//! own source file, compiled here as a module, and the other sets come from the same
//! integration crates the demo uses. The process and tokio sets are refreshed once when the
//! registry is built, not at every scrape as the demo does: reading `/proc` and the
//! runtime is not encoding, and the prometheus-client side must hold the same values.

use std::sync::Arc;

use fiko_metrics::calls::{CallLabels, FunctionLabels, FunctionMetrics, Outcome};
use fiko_metrics::{MetricSet, Registry, RegistryError};
use fiko_metrics_axum::{
    ErrorLabels, ErrorType, HttpServerMetrics, Method, RequestLabels, RouteLabels, StatusClass,
    StatusCode, WebSocketMetrics,
};

/// The demo's business sets: `examples/fiko-backend/src/metrics.rs`, compiled as it is.
#[path = "../../examples/fiko-backend/src/metrics.rs"]
pub mod business;

/// The demo's routes, with the method each serves and the statuses its load generator
/// gets from them.
pub const ROUTES: [(&str, Method, &[u16]); 12] = [
    ("/api/v1/auth/register", Method::Post, &[201, 409, 422]),
    ("/api/v1/auth/login", Method::Post, &[200, 401, 429]),
    ("/api/v1/auth/logout", Method::Post, &[204]),
    ("/api/v1/auth/me", Method::Get, &[200, 401]),
    ("/api/v1/users/{id}", Method::Get, &[200, 404]),
    ("/api/v1/ai/completions", Method::Post, &[200, 502]),
    ("/api/v1/workflows", Method::Post, &[201, 422]),
    (
        "/api/v1/workflows/{id}/executions",
        Method::Post,
        &[201, 404, 500],
    ),
    ("/api/v1/billing/transactions", Method::Post, &[201, 402]),
    ("/api/v1/academy/videos/{id}/views", Method::Post, &[201]),
    ("/api/v1/instagram/media", Method::Get, &[200, 503]),
    ("/api/v1/notifications/ws", Method::Get, &[101]),
];

/// The demo's named queries (`examples/fiko-backend/src/db.rs`) and their operations.
pub const QUERIES: [(&str, fiko_metrics_sqlx::Operation); 17] = {
    use fiko_metrics_sqlx::Operation::{Delete, Insert, Other, Select};
    [
        ("main", Other),
        ("ping", Select),
        ("create_user", Insert),
        ("user_credentials", Select),
        ("user_profile", Select),
        ("create_session", Insert),
        ("session_user", Select),
        ("delete_session", Delete),
        ("active_sessions", Select),
        ("create_workflow", Insert),
        ("workflow", Select),
        ("record_execution", Insert),
        ("insert_transaction", Insert),
        ("insert_view", Insert),
        ("insert_email", Insert),
        ("insert_invoice", Insert),
        ("transaction", Select),
    ]
};

/// The demo's background tasks.
pub const TASKS: [&str; 3] = ["send_email", "generate_invoice", "sync_instagram"];

/// Functions the demo times with `#[timed]`.
pub const FUNCTIONS: [(&str, &str); 4] = [
    ("hash_password", "fiko_backend::password"),
    ("verify_password", "fiko_backend::password"),
    ("complete", "fiko_backend::ai"),
    ("run_workflow", "fiko_backend::workflows"),
];

/// The demo's registry after `rounds` rounds of traffic: every route answered with each of
/// its statuses, every query run, the cache read, tasks run, functions called.
/// Histograms observe bucket bounds only, so the prometheus-client mirror has the same
/// sums (see [`crate::mirror`]).
pub fn build(rounds: usize) -> Result<Registry, RegistryError> {
    let registry = Registry::new();
    // The demo's `common_metrics`: process, tokio, functions, database, jobs.
    let process = fiko_metrics_process::ProcessMetrics::register(&registry)?;
    // A failed read leaves the values at zero, as in the demo.
    let _ = process.refresh();
    let runtime_metrics = fiko_metrics_tokio::TokioMetrics::register(&registry)?;
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
    {
        Ok(runtime) => runtime_metrics.refresh(Arc::from("main"), &runtime.metrics()),
        Err(error) => panic!("tokio runtime: {error}"),
    }
    let functions = FunctionMetrics::register(&registry)?;
    let db = fiko_metrics_sqlx::DbMetrics::register(&registry)?;
    let pools = fiko_metrics_sqlx::DbPoolMetrics::register(&registry)?;
    let jobs = fiko_metrics_jobs::JobMetrics::register(&registry)?;
    // `App::build_with_provider`: HTTP, WebSockets, the business sets.
    let http = HttpServerMetrics::register(&registry)?;
    let websockets = WebSocketMetrics::register(&registry)?;
    let business = business::Metrics::register(&registry)?;

    let bounds = |family_bounds: &[f64], i: usize| {
        family_bounds
            .get(i % family_bounds.len().max(1))
            .copied()
            .unwrap_or(1.0)
    };
    let http_bounds = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5];
    let size_bounds = [64.0, 256.0, 1024.0, 4096.0, 16384.0];
    for round in 0..rounds {
        for (r, (route, method, statuses)) in ROUTES.into_iter().enumerate() {
            let route: Arc<str> = Arc::from(route);
            for (s, status) in statuses.iter().enumerate() {
                let status = axum::http::StatusCode::from_u16(*status).ok();
                let labels = RequestLabels {
                    http_request_method: method,
                    http_route: route.clone(),
                    http_response_status_code: StatusCode(status),
                    http_response_status_class: StatusClass::of(status),
                };
                let i = round + r + s;
                http.http_server_requests.get_or_create(&labels).inc();
                http.http_server_request_duration_seconds
                    .get_or_create(&labels)
                    .observe(bounds(&http_bounds, i));
                http.http_server_response_body_size_bytes
                    .get_or_create(&labels)
                    .observe(bounds(&size_bounds, i));
                if status.is_some_and(|status| status.is_server_error()) {
                    let errors = ErrorLabels {
                        http_request_method: method,
                        http_route: route.clone(),
                        error_type: ErrorType::ServerError,
                    };
                    http.http_server_request_errors.get_or_create(&errors).inc();
                }
            }
            let started = RouteLabels {
                http_request_method: method,
                http_route: route,
            };
            http.http_server_request_body_size_bytes
                .get_or_create(&started)
                .observe(bounds(&size_bounds, round + r));
            http.http_server_active_requests
                .get_or_create(&started)
                .set(0);
        }
        for (q, (query, operation)) in QUERIES.into_iter().enumerate() {
            let labels = fiko_metrics_sqlx::QueryLabels {
                pool: "main",
                operation,
                query,
            };
            db.queries.get_or_create(&labels).inc();
            db.query_duration_seconds
                .get_or_create(&labels)
                .observe(bounds(&[0.0005, 0.001, 0.0025, 0.005, 0.01], round + q));
        }
        let pool = fiko_metrics_sqlx::PoolLabel { pool: "main" };
        db.pool_acquire_duration_seconds
            .get_or_create(&pool)
            .observe(0.0001);
        for (t, task) in TASKS.into_iter().enumerate() {
            for state in [
                fiko_metrics_jobs::TaskState::Started,
                fiko_metrics_jobs::TaskState::Succeeded,
            ] {
                let labels = fiko_metrics_jobs::TaskStateLabels { task, state };
                jobs.task_executions.get_or_create(&labels).inc();
            }
            jobs.task_duration_seconds
                .get_or_create(&fiko_metrics_jobs::TaskLabels { task })
                .observe(bounds(&[0.005, 0.01, 0.025, 0.05], round + t));
        }
        for (f, (function, module)) in FUNCTIONS.into_iter().enumerate() {
            let calls = CallLabels {
                function,
                module,
                outcome: Outcome::Ok,
                error: "",
            };
            functions.function_calls.get_or_create(&calls).inc();
            functions
                .function_calls_duration_seconds
                .get_or_create(&FunctionLabels::of(function, module))
                .observe(bounds(&[0.001, 0.005, 0.01, 0.025], round + f));
        }
        let cache = fiko_metrics_redis::CacheLabels {
            cache: Arc::from("app"),
        };
        business.cache.hits.get_or_create(&cache).inc();
        if round % 3 == 0 {
            business.cache.misses.get_or_create(&cache).inc();
        }
        business.auth.logouts.inc();
        business
            .users
            .activity
            .get_or_create(&business::ActivityLabels {
                action: business::UserAction::Login,
            })
            .inc();
    }
    for state in [
        fiko_metrics_sqlx::ConnectionState::Idle,
        fiko_metrics_sqlx::ConnectionState::InUse,
    ] {
        pools
            .pool_connections
            .get_or_create(&fiko_metrics_sqlx::PoolStateLabels {
                pool: "main",
                state,
            })
            .set(2);
    }
    pools
        .pool_max_connections
        .get_or_create(&fiko_metrics_sqlx::PoolLabel { pool: "main" })
        .set(10);
    jobs.worker_up
        .get_or_create(&fiko_metrics_jobs::WorkerLabels {
            worker: Arc::from("worker-1"),
        })
        .set(1);
    websockets.websocket_connections.inc();
    Ok(registry)
}
