//! The application: its state, its router, and the web and worker processes.

use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fiko_metrics::calls::FunctionMetrics;
use fiko_metrics::{MetricSet, Registry, RegistryError};
use fiko_metrics_axum::{HttpMetricsLayer, HttpServerMetrics, MetricsEndpoints, WebSocketMetrics};
use fiko_metrics_jobs::Jobs;
use fiko_metrics_redis::{Instrumented, RedisMetrics};
use fiko_metrics_sqlx::Instrumentation;
use tokio::net::TcpListener;

use crate::ai::{DeterministicLocalProvider, ModelProvider, Slowed};
use crate::cache::{Cache, CacheError, connect_redis};
use crate::config::{CacheConfig, Config, MetricsAccess, ShutdownConfig, Timeouts};
use crate::db::{Db, DbError};
use crate::instagram::InstagramClient;
use crate::jobs::JobQueue;
use crate::limits::AuthGuards;
use crate::metrics::Metrics;
use crate::notifications::Notifications;
use crate::{academy, ai, auth, billing, instagram, notifications, workflows};

/// Why the application could not start; one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database is unreachable or its migrations failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// Redis is unreachable.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// Two metrics share a name (a programming error).
    #[error("metrics registration: {0}")]
    Registry(#[from] RegistryError),
    /// The listen address is unusable.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The worker needs Redis.
    #[error("the worker needs REDIS_URL (without Redis, each web instance runs its own jobs)")]
    WorkerWithoutRedis,
    /// The job worker failed.
    #[error("job worker: {0}")]
    Worker(String),
}

/// What every request handler shares.
pub struct Shared {
    /// The database.
    pub db: Db,
    /// The cache.
    pub cache: Cache,
    /// The job queue.
    pub jobs: JobQueue,
    /// The business metric sets; `None` with the instrumentation off ([`Off`](crate::config::Instrumentation::Off)).
    pub metrics: Option<Metrics>,
    /// The AI model provider.
    pub ai: Arc<dyn ModelProvider>,
    /// The Instagram client.
    pub instagram: InstagramClient,
    /// The notification broadcast.
    pub notifications: Notifications,
    /// WebSocket metrics; `None` with the instrumentation off.
    pub websockets: Option<Arc<WebSocketMetrics>>,
    /// Bounds on password hashing and sign-in attempts.
    pub guards: AuthGuards,
    /// Connection timeouts (the WebSocket ones are applied by the socket handler).
    pub timeouts: Timeouts,
}

impl Shared {
    /// Counts a signed-in user's action (nothing with the instrumentation off).
    pub fn activity(&self, action: crate::metrics::UserAction) {
        if let Some(metrics) = &self.metrics {
            metrics.activity(action);
        }
    }
}

/// The handlers' state: cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// A handle that does not keep the state alive.
pub struct WeakState(Weak<Shared>);

impl WeakState {
    /// The state, if the application still runs.
    pub fn upgrade(&self) -> Option<AppState> {
        self.0.upgrade().map(AppState)
    }
}

impl AppState {
    /// A handle that does not keep the state alive (for background tasks).
    pub fn downgrade(&self) -> WeakState {
        WeakState(Arc::downgrade(&self.0))
    }
}

/// The metrics every process of the demo shows besides its own: process, tokio runtime,
/// database, jobs and function metrics.
struct CommonMetrics {
    registry: Arc<Registry>,
    db: Instrumentation,
    jobs: Jobs,
}

/// A registry with the process and Tokio runtime metrics, which are read at scrape time
/// (all an application with the instrumentation off shows).
fn process_registry() -> Result<Arc<Registry>, RegistryError> {
    let registry = Arc::new(Registry::new());
    fiko_metrics_process::register(&registry)?;
    // Built inside the runtime that serves the process (the binary's and the tests'); a
    // caller without one has no runtime to report.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        fiko_metrics_tokio::register(&registry, "main", runtime)?;
    }
    Ok(registry)
}

fn common_metrics() -> Result<CommonMetrics, RegistryError> {
    let registry = process_registry()?;
    // The set `#[timed]` records into is the global one: shown here too.
    registry.register_shared(FunctionMetrics::shared())?;
    let db = Instrumentation::register(&registry)?;
    let jobs = Jobs::register(&registry)?;
    Ok(CommonMetrics { registry, db, jobs })
}

/// A built application: its state, its registry and its router.
pub struct App {
    /// The handlers' state.
    pub state: AppState,
    /// Everything `/api/v1/metrics` shows.
    pub registry: Arc<Registry>,
    router: Router,
    /// The metrics endpoint alone, served during the final-scrape window.
    final_router: Router,
    shutdown: ShutdownConfig,
    timeouts: Timeouts,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Connects to the configured database and cache and builds the application, with the
    /// deterministic local AI provider. Must run inside a Tokio runtime.
    /// With `AI_PROVIDER_LATENCY_MS` set, the provider answers that much later. With
    /// [`Config::instrumentation`] off, the application records no metric per request (see
    /// [`Instrumentation`](crate::config::Instrumentation)) and its registry holds only the process and runtime metrics.
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        let local: Arc<dyn ModelProvider> = Arc::new(DeterministicLocalProvider);
        let provider: Arc<dyn ModelProvider> = if config.ai_latency.is_zero() {
            local
        } else {
            Arc::new(Slowed::new(local, config.ai_latency))
        };
        Self::build_with_provider(config, provider).await
    }

    /// [`build`](Self::build) with another AI provider.
    pub async fn build_with_provider(
        config: &Config,
        ai: Arc<dyn ModelProvider>,
    ) -> Result<Self, StartError> {
        let (registry, db_metrics, jobs) = if config.instrumentation.is_on() {
            let CommonMetrics { registry, db, jobs } = common_metrics()?;
            (registry, Some(db), Some(jobs))
        } else {
            (process_registry()?, None, None)
        };
        let (http, websockets, metrics) = if config.instrumentation.is_on() {
            (
                Some(HttpServerMetrics::register(&registry)?),
                Some(WebSocketMetrics::register(&registry)?),
                Some(Metrics::register(&registry)?),
            )
        } else {
            (None, None, None)
        };
        let db = Db::open(&config.database, db_metrics.as_ref(), config.db_timeouts()).await?;
        let (cache, queue) = match &config.cache {
            CacheConfig::Memory => (
                Cache::memory(metrics.as_ref().map(|metrics| metrics.cache.clone())),
                JobQueue::local(
                    db.clone(),
                    jobs.as_ref(),
                    &format!("{}-jobs", config.instance),
                    metrics.as_ref().map(|metrics| metrics.enqueue.clone()),
                ),
            ),
            CacheConfig::Redis(url) => {
                // The configuration refuses Redis with the instrumentation off.
                let Some(metrics) = &metrics else {
                    return Err(StartError::Config(crate::config::ConfigError::Invalid {
                        variable: "FIKO_INSTRUMENTATION",
                        value: "off".to_owned(),
                        reason: "off needs the in-process cache: unset REDIS_URL".to_owned(),
                    }));
                };
                let redis_metrics = RedisMetrics::register(&registry)?;
                let connection =
                    Instrumented::with_metrics(connect_redis(url).await?, redis_metrics);
                (
                    Cache::redis(connection.clone(), metrics.cache.clone()),
                    JobQueue::redis(connection, metrics.enqueue.clone()),
                )
            }
        };
        let instagram = InstagramClient::new(
            config.instagram_base_url.clone(),
            config.instagram_token.clone(),
            metrics.as_ref().map(|metrics| metrics.instagram.clone()),
        );
        let state = AppState(Arc::new(Shared {
            db,
            cache,
            jobs: queue,
            metrics,
            ai,
            instagram,
            notifications: Notifications::default(),
            websockets,
            guards: AuthGuards::new(&config.auth),
            timeouts: config.timeouts,
        }));
        auth::spawn_session_gauge(&state, Duration::from_secs(2));
        let db = state.db.clone();
        let cache = state.cache.clone();
        let endpoints = metrics_endpoints(&registry, &config.metrics_access)
            .health_check("database", Duration::from_secs(2), move || {
                let db = db.clone();
                async move { db.ping().await }
            })
            .health_check("cache", Duration::from_secs(2), move || {
                let cache = cache.clone();
                async move { cache.ping().await }
            });
        // During the final-scrape window of a graceful shutdown only the metrics are
        // served, from the same registry.
        let final_router = metrics_endpoints(&registry, &config.metrics_access).into_router::<()>();
        let router = Router::new()
            .route("/api/v1/auth/register", post(auth::register))
            .route("/api/v1/auth/login", post(auth::login))
            .route("/api/v1/auth/logout", post(auth::logout))
            .route("/api/v1/auth/me", get(auth::me))
            .route("/api/v1/users/{id}", get(auth::user))
            .route("/api/v1/ai/completions", post(ai::completions))
            .route("/api/v1/workflows", post(workflows::create))
            .route("/api/v1/workflows/{id}/executions", post(workflows::run))
            .route("/api/v1/billing/transactions", post(billing::purchase))
            .route("/api/v1/academy/videos/{id}/views", post(academy::view))
            .route("/api/v1/instagram/media", get(instagram::media))
            .route("/api/v1/notifications/ws", get(notifications::socket))
            .route(
                &format!("{}/me/media", instagram::LOCAL_STAND_IN_PATH),
                get(instagram::local_stand_in_media),
            )
            .merge(endpoints.into_router())
            .with_state(state.clone());
        let router = match http {
            // Scrapes and health probes are not application traffic.
            Some(http) => router.layer(
                HttpMetricsLayer::new(http)
                    .exclude(fiko_metrics_axum::DEFAULT_METRICS_PATH)
                    // The stand-in plays another service: its calls are not the app's traffic.
                    .exclude(instagram::LOCAL_STAND_IN_PATH),
            ),
            None => router,
        };
        // Outside the metrics layer, so it reads the exemplar inside the request's span.
        let router = router.layer(axum::middleware::from_fn(crate::traces::continue_trace));
        Ok(Self {
            state,
            registry,
            router,
            final_router,
            shutdown: config.shutdown,
            timeouts: config.timeouts,
        })
    }

    /// The router, to serve or to call in tests.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` completes, then shuts down gracefully (see
    /// [`serve_with`](Self::serve_with)). Without a configured Instagram base URL,
    /// Instagram calls go to the built-in stand-in on this listener.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(listener, shutdown, std::future::pending())
            .await
    }

    /// Serves on `listener` until `shutdown` completes, then shuts down gracefully, so
    /// that Prometheus can record every request this process served:
    ///
    /// 1. **Drain.** The listener closes at once (new connections are refused); requests
    ///    in flight run to completion and are recorded, idle keep-alive connections close.
    ///    This lasts until every connection has closed, at most
    ///    [`ShutdownConfig::drain`] (`FIKO_DRAIN_SECS`, default 10 s). Requests still
    ///    running then are not waited for: they are cut off when the process exits.
    /// 2. **Final scrape.** The same address is bound again and serves only the metrics
    ///    endpoint (every other path answers 503 `shutting down`, so health probes fail),
    ///    for at most [`ShutdownConfig::final_scrape`] (`FIKO_FINAL_SCRAPE_SECS`, default
    ///    15 s, the generated scrape interval): the window ends as soon as one scrape has
    ///    been answered, and that scrape shows every request the drain finished. `0` skips
    ///    the window; an address that cannot be bound again skips it with a message.
    ///
    /// Completing `hurry` once the shutdown began (e.g. a second Ctrl-C) skips what is
    /// left of both phases. Returns once the process may exit.
    pub async fn serve_with(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        hurry: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let address = listener.local_addr()?;
        self.state.instagram.use_local_stand_in(address);
        let (begin, begun) = tokio::sync::watch::channel(false);
        let server = crate::server::serve(listener, self.router, self.timeouts, signalled(begun));
        let mut server = std::pin::pin!(server);
        tokio::select! {
            result = &mut server => return result,
            () = shutdown => {}
        }
        let ShutdownConfig {
            drain,
            final_scrape,
        } = self.shutdown;
        let started = Instant::now();
        eprintln!(
            "fiko-backend: shutting down: new connections refused, draining requests in flight (at most {drain:?})"
        );
        let _ = begin.send(true);
        let mut hurry = std::pin::pin!(hurry);
        tokio::select! {
            result = &mut server => {
                result?;
                eprintln!("fiko-backend: drained in {:?}", started.elapsed());
            }
            () = tokio::time::sleep(drain) => {
                eprintln!("fiko-backend: requests still in flight after {drain:?}: cut off");
            }
            () = &mut hurry => {
                eprintln!("fiko-backend: shutdown hurried: not waiting for requests in flight");
                return Ok(());
            }
        }
        if final_scrape.is_zero() {
            return Ok(());
        }
        let listener = match TcpListener::bind(address).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!(
                    "fiko-backend: no final scrape: cannot listen on {address} again: {error}"
                );
                return Ok(());
            }
        };
        eprintln!(
            "fiko-backend: metrics stay available at http://{address}{} for a final scrape (at most {final_scrape:?})",
            fiko_metrics_axum::DEFAULT_METRICS_PATH
        );
        let scraped = Arc::new(tokio::sync::Notify::new());
        let router = self.final_router.layer(axum::middleware::from_fn({
            let scraped = scraped.clone();
            move |request: Request, next: Next| {
                let scraped = scraped.clone();
                async move { final_scrape_only(request, next, &scraped).await }
            }
        }));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let final_server =
            crate::server::serve(listener, router, self.timeouts, signalled(stopped));
        let mut final_server = std::pin::pin!(final_server);
        let window = Instant::now();
        tokio::select! {
            result = &mut final_server => return result,
            () = scraped.notified() => {
                eprintln!("fiko-backend: final scrape served after {:?}", window.elapsed());
            }
            () = tokio::time::sleep(final_scrape) => {
                eprintln!("fiko-backend: no scrape within {final_scrape:?}");
            }
            () = &mut hurry => {}
        }
        // Let the scrape's response reach the scraper.
        let _ = stop.send(true);
        let _ = tokio::time::timeout(FINAL_RESPONSE_TIMEOUT, final_server).await;
        Ok(())
    }
}

/// The metrics endpoint's settings, the same for the running application and for its
/// final-scrape window (so protecting one protects the other: a refused scrape does not
/// end the window, only one the configured scraper makes).
fn metrics_endpoints(registry: &Arc<Registry>, access: &MetricsAccess) -> MetricsEndpoints {
    access.apply(MetricsEndpoints::new(registry.clone()).version(env!("CARGO_PKG_VERSION")))
}

/// How long the final scrape's response may take to be sent once it was produced.
const FINAL_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Completes once `flag` is set (or its sender is gone).
async fn signalled(mut flag: tokio::sync::watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// The final-scrape window's middleware: the metrics endpoint answers (and a successful
/// answer ends the window), every other path is 503.
async fn final_scrape_only(
    request: Request,
    next: Next,
    scraped: &tokio::sync::Notify,
) -> Response {
    if request.uri().path() != fiko_metrics_axum::DEFAULT_METRICS_PATH {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONNECTION, "close")],
            "shutting down\n",
        )
            .into_response();
    }
    let response = next.run(request).await;
    if response.status().is_success() {
        scraped.notify_one();
    }
    response
}

/// Binds `address`, with a one-line error.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Bind { address, source })
}

/// Runs the job worker: apalis workers on the Redis queues, and `/metrics` (with
/// `/health`) on `bind`, until `shutdown` completes; then shuts down like the web
/// application (see [`App::serve_with`]), so that Prometheus records the last jobs:
///
/// 1. **Drain.** The workers take no new job; the jobs running finish and are recorded,
///    for at most [`ShutdownConfig::drain`] (`FIKO_DRAIN_SECS`). `/metrics` keeps
///    answering, `/health` answers 503 `shutting down`.
/// 2. **Final scrape.** `/metrics` stays up until one scrape has been answered after the
///    drain, at most [`ShutdownConfig::final_scrape`] (`FIKO_FINAL_SCRAPE_SECS`; `0`
///    skips it). That scrape shows every job the process ran.
///
/// Completing `hurry` once the shutdown began skips what is left of both.
pub async fn run_worker(
    config: &Config,
    name: &str,
    bind: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
    hurry: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let CacheConfig::Redis(url) = &config.cache else {
        return Err(StartError::WorkerWithoutRedis);
    };
    // The worker is always instrumented (the configuration refuses
    // `FIKO_INSTRUMENTATION=off` with Redis).
    let CommonMetrics {
        registry,
        db: db_metrics,
        jobs,
    } = common_metrics()?;
    let db = Db::open(&config.database, Some(&db_metrics), config.db_timeouts()).await?;
    let connection = connect_redis(url).await?;
    let listener = self::bind(bind).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let window = Arc::new(WorkerWindow::default());
    let endpoints = config
        .metrics_access
        .apply(
            MetricsEndpoints::new(registry)
                .metrics_path(WORKER_METRICS_PATH)
                .health_path("/health")
                .version(env!("CARGO_PKG_VERSION")),
        )
        .into_router::<()>()
        // Outside the access check, so a refused scrape is seen and does not end the
        // final-scrape window (only a successful one does).
        .layer(axum::middleware::from_fn({
            let window = window.clone();
            move |request: Request, next: Next| {
                let window = window.clone();
                async move { window.watch(request, next).await }
            }
        }));
    let (stop_server, server_stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        // With connect info: an allow-list (METRICS_ALLOW) needs the client's address.
        axum::serve(
            listener,
            endpoints.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signalled(server_stopped))
        .await
    });
    tokio::spawn({
        let window = window.clone();
        async move {
            shutdown.await;
            window
                .shutting_down
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = stop.send(true);
        }
    });
    let ShutdownConfig {
        drain,
        final_scrape,
    } = config.shutdown;
    // `hurry` is only listened to once the shutdown began (a signal future registers
    // when first polled, so the first signal does not complete it too).
    let mut hurry = std::pin::pin!({
        let stopped = stopped.clone();
        async move {
            signalled(stopped).await;
            hurry.await;
        }
    });
    crate::jobs::watch_redis_queues(&jobs, connection.clone()).map_err(StartError::Worker)?;
    // A worker that fails (Redis went away) is started again after a pause, for as long
    // as the process runs: WorkerDown is about the process, not about Redis.
    let result = loop {
        let mut workers_stopped = stopped.clone();
        let workers = crate::jobs::run_redis_workers(
            name,
            connection.clone(),
            db.clone(),
            &jobs,
            async move {
                let _ = workers_stopped.wait_for(|stop| *stop).await;
            },
        );
        // Once the shutdown began, the jobs running get `drain` to finish.
        let drain_over = {
            let stopped = stopped.clone();
            async move {
                signalled(stopped).await;
                tokio::time::sleep(drain).await;
            }
        };
        let result = tokio::select! {
            result = workers => result,
            () = drain_over => {
                eprintln!("fiko-backend worker {name}: jobs still running after {drain:?}: cut off");
                Ok(())
            }
            () = &mut hurry => {
                eprintln!("fiko-backend worker {name}: shutdown hurried: not waiting for running jobs");
                let _ = stop_server.send(true);
                return Ok(());
            }
        };
        if *stopped.borrow() {
            break result.map_err(StartError::Worker);
        }
        if let Err(error) = result {
            eprintln!("fiko-backend worker {name}: {error}; restarting in 1 s");
        }
        let mut pause_stopped = stopped.clone();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = pause_stopped.wait_for(|stop| *stop) => {}
        }
    };
    // Drained: every job that ran is recorded. Only a scrape from now on shows them all.
    window
        .drained
        .store(true, std::sync::atomic::Ordering::SeqCst);
    if !final_scrape.is_zero() {
        eprintln!(
            "fiko-backend worker {name}: drained; metrics stay available at http://{bind}{WORKER_METRICS_PATH} for a final scrape (at most {final_scrape:?})"
        );
        let started = Instant::now();
        tokio::select! {
            () = window.scraped.notified() => {
                eprintln!("fiko-backend worker {name}: final scrape served after {:?}", started.elapsed());
            }
            () = tokio::time::sleep(final_scrape) => {
                eprintln!("fiko-backend worker {name}: no scrape within {final_scrape:?}");
            }
            () = &mut hurry => {}
        }
    }
    // Let the scrape's response reach the scraper.
    let _ = stop_server.send(true);
    let _ = tokio::time::timeout(FINAL_RESPONSE_TIMEOUT, server).await;
    result
}

/// The worker's metrics path.
const WORKER_METRICS_PATH: &str = "/metrics";

/// Where the worker's shutdown stands, for its metrics endpoint.
#[derive(Default)]
struct WorkerWindow {
    /// The shutdown began: health probes fail from now on.
    shutting_down: std::sync::atomic::AtomicBool,
    /// The jobs have drained: the next successful scrape is the final one.
    drained: std::sync::atomic::AtomicBool,
    /// Notified by that scrape.
    scraped: tokio::sync::Notify,
}

impl WorkerWindow {
    /// Answers health probes with 503 once the shutdown began, and notes the final scrape.
    async fn watch(&self, request: Request, next: Next) -> Response {
        use std::sync::atomic::Ordering;
        let is_scrape = request.uri().path() == WORKER_METRICS_PATH;
        if !is_scrape && self.shutting_down.load(Ordering::SeqCst) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONNECTION, "close")],
                "shutting down\n",
            )
                .into_response();
        }
        // Read before the scrape is produced: a scrape that began during the drain may
        // miss a job finishing meanwhile, so it does not end the window.
        let after_drain = self.drained.load(Ordering::SeqCst);
        let response = next.run(request).await;
        if is_scrape && after_drain && response.status().is_success() {
            self.scraped.notify_one();
        }
        response
    }
}
