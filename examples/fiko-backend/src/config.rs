//! Configuration from the environment: where the database, the cache and Instagram are.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use fiko_metrics_axum::Network;

/// Why the configuration is unusable; one line each, naming the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A variable holds something that is not the expected kind of value.
    #[error("{variable}={value:?} is not valid: {reason}")]
    Invalid {
        /// The environment variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where the data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// A SQLite file (created with its directory if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user@host:port/db`).
    Postgres(String),
}

/// Where cached values live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CacheConfig {
    /// In this process (and jobs run in this process too).
    Memory,
    /// In Redis at this URL (and jobs go through Redis to a separate worker).
    Redis(String),
}

/// The application's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The address to listen on (`BIND`, default `127.0.0.1:8000`).
    pub bind: SocketAddr,
    /// The database (`DATABASE_URL`; default a SQLite file in `DATA_DIR`, default `./data`).
    pub database: DatabaseConfig,
    /// The cache and job queue (`REDIS_URL`; default in-process).
    pub cache: CacheConfig,
    /// The Instagram Graph API base URL (`INSTAGRAM_BASE_URL`, `http://` only: the demo is
    /// built without TLS); when unset, the served application calls its own built-in
    /// stand-in (sample media), so the demo runs offline.
    pub instagram_base_url: Option<String>,
    /// The access token sent to Instagram (`INSTAGRAM_ACCESS_TOKEN`).
    pub instagram_token: String,
    /// The instance's name in the health endpoint and logs (`INSTANCE_NAME`).
    pub instance: String,
    /// How long a query waits for a pool connection before it fails with a pool timeout
    /// (`DATABASE_ACQUIRE_TIMEOUT_SECS`, default 3; decimals allowed). While the database
    /// is down, this bounds how long a request needing it waits before its 503.
    pub db_acquire_timeout: Duration,
    /// How long a query may wait for the database's answer before it fails, counted as
    /// `kind="timeout"` (`DATABASE_QUERY_TIMEOUT_SECS`, default 5; decimals allowed). While
    /// the database hangs (up but not answering, connections open), this and the acquire
    /// timeout bound a request that needs it; a server-side `statement_timeout` cannot.
    pub db_query_timeout: Duration,
    /// Extra latency of every answer of the local AI provider (`AI_PROVIDER_LATENCY_MS`,
    /// default 0, below [`MODEL_TIMEOUT`](crate::ai::MODEL_TIMEOUT)): a slow model, e.g. to
    /// watch requests in flight or to try graceful shutdown.
    pub ai_latency: Duration,
    /// What graceful shutdown waits for (`FIKO_DRAIN_SECS`, `FIKO_FINAL_SCRAPE_SECS`).
    pub shutdown: ShutdownConfig,
    /// Bounds on password hashing and sign-in attempts (`PASSWORD_HASH_*`, `AUTH_RATE_*`).
    pub auth: AuthLimits,
    /// Who may read the metrics and health endpoints (`METRICS_TOKEN`,
    /// `METRICS_TOKEN_FILE`, `METRICS_ALLOW`), in the application, its final-scrape window
    /// and the job worker.
    pub metrics_access: MetricsAccess,
    /// How long connections may stall (`HTTP_*_TIMEOUT_SECS`, `WS_*_SECS`).
    pub timeouts: Timeouts,
    /// Whether the application records its metrics (`FIKO_INSTRUMENTATION`, `on` by
    /// default); `off` exists to measure what the instrumentation costs.
    pub instrumentation: Instrumentation,
    /// Whether metrics keep the current trace as their exemplars (`FIKO_EXEMPLARS`, `on`
    /// by default): `off` installs no exemplar source, as a service without a tracing
    /// backend would run; requests still run in their trace's span.
    pub exemplars: bool,
}

/// Whether fiko-metrics instruments the application (`FIKO_INSTRUMENTATION=on|off`).
///
/// `Off` builds the same binary's application with every per-request recording left out,
/// so that a benchmark can compare the two (`scripts/bench-parts/demo-cost`): no HTTP
/// metrics layer, the sqlx pool without the `fiko-metrics-sqlx` wrapper, the cache
/// without `CacheMetrics`, in-process jobs without `fiko-metrics-jobs`, no business
/// metrics (nor the session gauge's query), WebSockets without `WebSocketMetrics`, and the
/// `#[timed]` functions called without their timing. `/api/v1/metrics` and the health
/// endpoint are served either way; off, they show only the process and Tokio runtime
/// metrics, which are read at scrape time and cost requests nothing. Request tracing
/// (the `tracing` span each request runs in) is the application's own and stays.
/// Off needs the in-process cache: with `REDIS_URL` the switch is refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Instrumentation {
    /// Every metric recorded (the default).
    #[default]
    On,
    /// Nothing recorded per request.
    Off,
}

impl Instrumentation {
    /// Whether metrics are recorded.
    pub fn is_on(self) -> bool {
        self == Self::On
    }
}

/// Bounds on the authentication routes, which hash passwords with Argon2id (19 MiB of
/// memory for each hash in flight).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AuthLimits {
    /// Hashes computed at once (`PASSWORD_HASH_CONCURRENCY`, default the number of
    /// cores); the others wait their turn.
    pub hash_concurrency: usize,
    /// How long a request waits for its turn before it answers 503 with `Retry-After`
    /// (`PASSWORD_HASH_QUEUE_SECS`, default 5).
    pub hash_queue_timeout: Duration,
    /// Login and registration attempts per client address.
    pub rate: RateLimit,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            hash_concurrency: std::thread::available_parallelism().map_or(1, usize::from),
            hash_queue_timeout: Duration::from_secs(5),
            rate: RateLimit::default(),
        }
    }
}

/// A token bucket per client address: `burst` attempts at once, refilled at `per_minute`.
/// Beyond it: 429 with `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Attempts regained per minute (`AUTH_RATE_PER_MINUTE`, default 30).
    pub per_minute: u32,
    /// Attempts a quiet client may make at once (`AUTH_RATE_BURST`, default 10).
    pub burst: u32,
    /// Client addresses tracked at once (`AUTH_RATE_CLIENTS`, default 10 000); beyond it,
    /// new addresses share one bucket, so the table's memory is bounded.
    pub clients: usize,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_minute: 30,
            burst: 10,
            clients: 10_000,
        }
    }
}

/// Protection of the metrics and health endpoints; none by default (set it wherever the
/// port is reachable from outside the host).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MetricsAccess {
    /// The bearer token scrapers must send (`METRICS_TOKEN`, or the first line of the file
    /// `METRICS_TOKEN_FILE`): without it 401.
    pub token: Option<String>,
    /// The client networks allowed (`METRICS_ALLOW`, comma-separated addresses or CIDR
    /// blocks, e.g. `127.0.0.1,10.0.0.0/8`): other addresses get 403.
    pub allow: Vec<Network>,
}

impl std::fmt::Debug for MetricsAccess {
    // The token itself is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAccess")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("allow", &self.allow)
            .finish()
    }
}

impl MetricsAccess {
    /// `endpoints` protected as configured.
    pub fn apply(
        &self,
        endpoints: fiko_metrics_axum::MetricsEndpoints,
    ) -> fiko_metrics_axum::MetricsEndpoints {
        let endpoints = match &self.token {
            Some(token) => endpoints.bearer_token(token.clone()),
            None => endpoints,
        };
        self.allow
            .iter()
            .fold(endpoints, |endpoints, network| endpoints.allow(*network))
    }
}

/// How long a connection may stall before the server closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// A request's head must be complete this long after the connection began waiting
    /// for it (`HTTP_HEADER_READ_TIMEOUT_SECS`, default 10): slow-header (slowloris)
    /// connections are closed. The timer starts when the server waits for a request, so it
    /// also bounds an idle keep-alive connection.
    pub header_read: Duration,
    /// A keep-alive connection with no request in flight is closed after this long
    /// (`HTTP_KEEP_ALIVE_TIMEOUT_SECS`, default 5; the header-read timeout still applies
    /// when it is the shorter).
    pub keep_alive: Duration,
    /// The server pings every WebSocket this often (`WS_PING_INTERVAL_SECS`, default 20).
    pub ws_ping_interval: Duration,
    /// A WebSocket from which nothing (not even a pong) arrived for this long is closed
    /// (`WS_IDLE_TIMEOUT_SECS`, default 60, more than the ping interval).
    pub ws_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            keep_alive: Duration::from_secs(5),
            ws_ping_interval: Duration::from_secs(20),
            ws_idle: Duration::from_secs(60),
        }
    }
}

/// The bounds of graceful shutdown (see [`App::serve`](crate::App::serve)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownConfig {
    /// How long in-flight requests may take to finish once the shutdown began
    /// (`FIKO_DRAIN_SECS`, default 10); connections still open then are cut off.
    pub drain: Duration,
    /// How long, after the drain, the metrics endpoint stays available for a final scrape
    /// (`FIKO_FINAL_SCRAPE_SECS`, default 15, the generated scrape interval; 0 skips it).
    /// The window ends as soon as one scrape has been served.
    pub final_scrape: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            drain: Duration::from_secs(10),
            final_scrape: Duration::from_secs(15),
        }
    }
}

/// The longest duration the `*_SECS` variables accept: an hour.
const MAX_SECONDS: f64 = 3600.0;

impl Config {
    /// The configuration for running with nothing installed: SQLite in `data_dir`, an
    /// in-process cache, no Instagram, listening on `bind`.
    pub fn local(bind: SocketAddr, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            bind,
            database: DatabaseConfig::Sqlite(data_dir.into().join("fiko.db")),
            cache: CacheConfig::Memory,
            instagram_base_url: None,
            instagram_token: "demo-token".to_owned(),
            instance: "fiko-backend".to_owned(),
            db_acquire_timeout: Duration::from_secs(3),
            db_query_timeout: Duration::from_secs(5),
            ai_latency: Duration::ZERO,
            shutdown: ShutdownConfig::default(),
            auth: AuthLimits::default(),
            metrics_access: MetricsAccess::default(),
            timeouts: Timeouts::default(),
            instrumentation: Instrumentation::On,
            exemplars: true,
        }
    }

    /// The database's timeouts: acquire and query.
    pub fn db_timeouts(&self) -> crate::db::DbTimeouts {
        crate::db::DbTimeouts {
            acquire: self.db_acquire_timeout,
            query: self.db_query_timeout,
        }
    }

    /// Reads the configuration from environment variables (see the fields).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the configuration through `lookup` (an environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bind = match lookup("BIND") {
            Some(value) => value.parse().map_err(|e| ConfigError::Invalid {
                variable: "BIND",
                value: value.clone(),
                reason: format!("{e} (expected host:port, e.g. 127.0.0.1:8000)"),
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 8000)),
        };
        let data_dir = lookup("DATA_DIR").unwrap_or_else(|| "data".to_owned());
        let mut config = Self::local(bind, data_dir);
        if let Some(url) = lookup("DATABASE_URL") {
            config.database = parse_database_url(&url)?;
        }
        if let Some(url) = lookup("REDIS_URL") {
            config.cache = CacheConfig::Redis(parse_redis_url(&url)?);
        }
        if let Some(url) = lookup("INSTAGRAM_BASE_URL") {
            config.instagram_base_url = Some(parse_http_url("INSTAGRAM_BASE_URL", &url)?);
        }
        if let Some(token) = lookup("INSTAGRAM_ACCESS_TOKEN") {
            config.instagram_token = token;
        }
        if let Some(name) = lookup("INSTANCE_NAME") {
            config.instance = name;
        }
        if let Some(value) = lookup("DATABASE_ACQUIRE_TIMEOUT_SECS") {
            config.db_acquire_timeout = parse_seconds("DATABASE_ACQUIRE_TIMEOUT_SECS", &value)?;
            if config.db_acquire_timeout.is_zero() {
                return Err(ConfigError::Invalid {
                    variable: "DATABASE_ACQUIRE_TIMEOUT_SECS",
                    value,
                    reason: "must be more than 0".to_owned(),
                });
            }
        }
        if let Some(value) = lookup("DATABASE_QUERY_TIMEOUT_SECS") {
            config.db_query_timeout = parse_seconds("DATABASE_QUERY_TIMEOUT_SECS", &value)?;
            if config.db_query_timeout.is_zero() {
                return Err(ConfigError::Invalid {
                    variable: "DATABASE_QUERY_TIMEOUT_SECS",
                    value,
                    reason: "must be more than 0".to_owned(),
                });
            }
        }
        if let Some(value) = lookup("AI_PROVIDER_LATENCY_MS") {
            let millis: u64 = value.parse().map_err(|e| ConfigError::Invalid {
                variable: "AI_PROVIDER_LATENCY_MS",
                value: value.clone(),
                reason: format!("{e} (expected whole milliseconds)"),
            })?;
            config.ai_latency = Duration::from_millis(millis);
            if config.ai_latency >= crate::ai::MODEL_TIMEOUT {
                return Err(ConfigError::Invalid {
                    variable: "AI_PROVIDER_LATENCY_MS",
                    value,
                    reason: format!(
                        "must be below the model timeout ({:?})",
                        crate::ai::MODEL_TIMEOUT
                    ),
                });
            }
        }
        if let Some(value) = lookup("FIKO_DRAIN_SECS") {
            config.shutdown.drain = parse_seconds("FIKO_DRAIN_SECS", &value)?;
        }
        if let Some(value) = lookup("FIKO_FINAL_SCRAPE_SECS") {
            config.shutdown.final_scrape = parse_seconds("FIKO_FINAL_SCRAPE_SECS", &value)?;
        }
        config.auth = auth_limits(&lookup)?;
        config.metrics_access = metrics_access(&lookup)?;
        config.timeouts = timeouts(&lookup)?;
        if let Some(value) = lookup("FIKO_EXEMPLARS") {
            config.exemplars = match value.trim() {
                "on" => true,
                "off" => false,
                _ => {
                    return Err(ConfigError::Invalid {
                        variable: "FIKO_EXEMPLARS",
                        value,
                        reason: "expected on or off".to_owned(),
                    });
                }
            };
        }
        if let Some(value) = lookup("FIKO_INSTRUMENTATION") {
            let invalid = |reason: &str| ConfigError::Invalid {
                variable: "FIKO_INSTRUMENTATION",
                value: value.clone(),
                reason: reason.to_owned(),
            };
            config.instrumentation = match value.trim() {
                "on" => Instrumentation::On,
                "off" => Instrumentation::Off,
                _ => return Err(invalid("expected on or off")),
            };
            if config.instrumentation == Instrumentation::Off
                && matches!(config.cache, CacheConfig::Redis(_))
            {
                return Err(invalid(
                    "off needs the in-process cache: unset REDIS_URL (the Redis connection and job queue stay instrumented)",
                ));
            }
        }
        Ok(config)
    }
}

fn auth_limits(lookup: &impl Fn(&str) -> Option<String>) -> Result<AuthLimits, ConfigError> {
    let mut limits = AuthLimits::default();
    if let Some(value) = lookup("PASSWORD_HASH_CONCURRENCY") {
        limits.hash_concurrency = parse_count("PASSWORD_HASH_CONCURRENCY", &value, 1, 1024)?;
    }
    if let Some(value) = lookup("PASSWORD_HASH_QUEUE_SECS") {
        limits.hash_queue_timeout = positive_seconds("PASSWORD_HASH_QUEUE_SECS", &value)?;
    }
    if let Some(value) = lookup("AUTH_RATE_PER_MINUTE") {
        limits.rate.per_minute = parse_count("AUTH_RATE_PER_MINUTE", &value, 1, 1_000_000)?;
    }
    if let Some(value) = lookup("AUTH_RATE_BURST") {
        limits.rate.burst = parse_count("AUTH_RATE_BURST", &value, 1, 1_000_000)?;
    }
    if let Some(value) = lookup("AUTH_RATE_CLIENTS") {
        limits.rate.clients = parse_count("AUTH_RATE_CLIENTS", &value, 1, 10_000_000)?;
    }
    Ok(limits)
}

fn metrics_access(lookup: &impl Fn(&str) -> Option<String>) -> Result<MetricsAccess, ConfigError> {
    let token = match (lookup("METRICS_TOKEN"), lookup("METRICS_TOKEN_FILE")) {
        (Some(_), Some(file)) => {
            return Err(ConfigError::Invalid {
                variable: "METRICS_TOKEN_FILE",
                value: file,
                reason: "set METRICS_TOKEN or METRICS_TOKEN_FILE, not both".to_owned(),
            });
        }
        (Some(token), None) => Some(parse_token("METRICS_TOKEN", &token, &token)?),
        (None, Some(file)) => {
            let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::Invalid {
                variable: "METRICS_TOKEN_FILE",
                value: file.clone(),
                reason: format!("cannot read it: {e}"),
            })?;
            let line = text.lines().next().unwrap_or_default();
            Some(parse_token("METRICS_TOKEN_FILE", &file, line)?)
        }
        (None, None) => None,
    };
    let allow = match lookup("METRICS_ALLOW") {
        Some(list) => list
            .split(',')
            .filter(|item| !item.trim().is_empty())
            .map(|item| {
                item.trim()
                    .parse()
                    .map_err(
                        |e: fiko_metrics_axum::InvalidNetwork| ConfigError::Invalid {
                            variable: "METRICS_ALLOW",
                            value: list.clone(),
                            reason: e.to_string(),
                        },
                    )
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(MetricsAccess { token, allow })
}

/// A bearer token: printable ASCII without spaces (what an `Authorization` header carries).
fn parse_token(variable: &'static str, value: &str, token: &str) -> Result<String, ConfigError> {
    let token = token.trim();
    // The value is not echoed for METRICS_TOKEN: it is a secret.
    let shown = if variable == "METRICS_TOKEN" {
        "<redacted>".to_owned()
    } else {
        value.to_owned()
    };
    if token.len() < 16 {
        return Err(ConfigError::Invalid {
            variable,
            value: shown,
            reason: "the token must have at least 16 characters".to_owned(),
        });
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::Invalid {
            variable,
            value: shown,
            reason: "the token must be printable ASCII without spaces".to_owned(),
        });
    }
    Ok(token.to_owned())
}

fn timeouts(lookup: &impl Fn(&str) -> Option<String>) -> Result<Timeouts, ConfigError> {
    let mut timeouts = Timeouts::default();
    if let Some(value) = lookup("HTTP_HEADER_READ_TIMEOUT_SECS") {
        timeouts.header_read = positive_seconds("HTTP_HEADER_READ_TIMEOUT_SECS", &value)?;
    }
    if let Some(value) = lookup("HTTP_KEEP_ALIVE_TIMEOUT_SECS") {
        timeouts.keep_alive = positive_seconds("HTTP_KEEP_ALIVE_TIMEOUT_SECS", &value)?;
    }
    if let Some(value) = lookup("WS_PING_INTERVAL_SECS") {
        timeouts.ws_ping_interval = positive_seconds("WS_PING_INTERVAL_SECS", &value)?;
    }
    if let Some(value) = lookup("WS_IDLE_TIMEOUT_SECS") {
        timeouts.ws_idle = positive_seconds("WS_IDLE_TIMEOUT_SECS", &value)?;
    }
    if timeouts.ws_idle <= timeouts.ws_ping_interval {
        return Err(ConfigError::Invalid {
            variable: "WS_IDLE_TIMEOUT_SECS",
            value: format!("{}", timeouts.ws_idle.as_secs_f64()),
            reason: format!(
                "must be more than WS_PING_INTERVAL_SECS ({}), or live clients are closed between pings",
                timeouts.ws_ping_interval.as_secs_f64()
            ),
        });
    }
    Ok(timeouts)
}

/// Seconds as [`parse_seconds`], more than 0.
fn positive_seconds(variable: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let seconds = parse_seconds(variable, value)?;
    if seconds.is_zero() {
        return Err(ConfigError::Invalid {
            variable,
            value: value.to_owned(),
            reason: "must be more than 0".to_owned(),
        });
    }
    Ok(seconds)
}

/// A whole number from `min` to `max`.
fn parse_count<T>(variable: &'static str, value: &str, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let invalid = |reason: String| ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        reason,
    };
    let count: T = value
        .trim()
        .parse()
        .map_err(|_| invalid(format!("expected a whole number from {min} to {max}")))?;
    if count < min || count > max {
        return Err(invalid(format!(
            "expected a whole number from {min} to {max}"
        )));
    }
    Ok(count)
}

/// Seconds, decimals allowed, from 0 to an hour.
fn parse_seconds(variable: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        reason,
    };
    let seconds: f64 = value
        .trim()
        .parse()
        .map_err(|e| invalid(format!("{e} (expected seconds, e.g. 2.5)")))?;
    if !(0.0..=MAX_SECONDS).contains(&seconds) {
        return Err(invalid(format!("expected 0 to {MAX_SECONDS} seconds")));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `postgres://`/`postgresql://` or `sqlite://PATH`/`sqlite:PATH`.
pub fn parse_database_url(url: &str) -> Result<DatabaseConfig, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        variable: "DATABASE_URL",
        value: url.to_owned(),
        reason: reason.to_owned(),
    };
    if let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    {
        if rest.is_empty() || rest.starts_with('/') && rest.len() == 1 {
            return Err(invalid(
                "no host: expected postgres://user@host:port/database",
            ));
        }
        return Ok(DatabaseConfig::Postgres(url.to_owned()));
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if path.is_empty() {
            return Err(invalid("no file: expected sqlite://path/to/file.db"));
        }
        return Ok(DatabaseConfig::Sqlite(PathBuf::from(path)));
    }
    Err(invalid(
        "unsupported scheme: expected postgres://... or sqlite://...",
    ))
}

/// `redis://host:port[/db]`.
pub fn parse_redis_url(url: &str) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| ConfigError::Invalid {
            variable: "REDIS_URL",
            value: url.to_owned(),
            reason: "unsupported scheme: expected redis://host:port".to_owned(),
        })?;
    if rest.is_empty() {
        return Err(ConfigError::Invalid {
            variable: "REDIS_URL",
            value: url.to_owned(),
            reason: "no host: expected redis://host:port".to_owned(),
        });
    }
    Ok(url.to_owned())
}

fn parse_http_url(variable: &'static str, url: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        variable,
        value: url.to_owned(),
        reason: reason.to_owned(),
    };
    if url.starts_with("https://") {
        return Err(invalid(
            "https is not supported: the demo is built without TLS; point it at an http:// proxy or a local server",
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("expected an http:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("no host"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn nothing_set_means_sqlite_in_data_and_an_in_process_cache() {
        let config = Config::from_lookup(env(&[])).unwrap();
        assert_eq!(
            config.database,
            DatabaseConfig::Sqlite(PathBuf::from("data/fiko.db"))
        );
        assert_eq!(config.cache, CacheConfig::Memory);
        assert_eq!(config.bind, SocketAddr::from(([127, 0, 0, 1], 8000)));
        assert_eq!(config.instagram_base_url, None);
        assert_eq!(config.db_acquire_timeout, Duration::from_secs(3));
        assert_eq!(config.db_query_timeout, Duration::from_secs(5));
        assert_eq!(config.shutdown, ShutdownConfig::default());
        assert_eq!(config.instrumentation, Instrumentation::On);
        assert!(config.exemplars);
    }

    #[test]
    fn exemplars_are_switched_off_by_fiko_exemplars() {
        let off = Config::from_lookup(env(&[("FIKO_EXEMPLARS", "off")])).unwrap();
        assert!(!off.exemplars);
        assert_eq!(off.instrumentation, Instrumentation::On);
        let on = Config::from_lookup(env(&[("FIKO_EXEMPLARS", " on ")])).unwrap();
        assert!(on.exemplars);
    }

    #[test]
    fn instrumentation_is_switched_off_by_fiko_instrumentation() {
        let off = Config::from_lookup(env(&[("FIKO_INSTRUMENTATION", "off")])).unwrap();
        assert_eq!(off.instrumentation, Instrumentation::Off);
        assert!(!off.instrumentation.is_on());
        let on = Config::from_lookup(env(&[("FIKO_INSTRUMENTATION", "on")])).unwrap();
        assert_eq!(on.instrumentation, Instrumentation::On);
        assert!(on.instrumentation.is_on());
    }

    #[test]
    fn timeouts_and_shutdown_bounds_take_decimal_seconds() {
        let config = Config::from_lookup(env(&[
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", "0.5"),
            ("DATABASE_QUERY_TIMEOUT_SECS", "1.5"),
            ("AI_PROVIDER_LATENCY_MS", "1500"),
            ("FIKO_DRAIN_SECS", "2.5"),
            ("FIKO_FINAL_SCRAPE_SECS", "0"),
        ]))
        .unwrap();
        assert_eq!(config.db_acquire_timeout, Duration::from_millis(500));
        assert_eq!(config.db_query_timeout, Duration::from_millis(1500));
        assert_eq!(config.ai_latency, Duration::from_millis(1500));
        assert_eq!(
            config.shutdown,
            ShutdownConfig {
                drain: Duration::from_millis(2500),
                final_scrape: Duration::ZERO,
            }
        );
    }

    #[test]
    fn limits_protection_and_timeouts_are_read_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "0123456789abcdef-token\n").unwrap();
        let file = file.to_str().unwrap();
        let config = Config::from_lookup(env(&[
            ("PASSWORD_HASH_CONCURRENCY", "3"),
            ("PASSWORD_HASH_QUEUE_SECS", "0.5"),
            ("AUTH_RATE_PER_MINUTE", "600"),
            ("AUTH_RATE_BURST", "50"),
            ("AUTH_RATE_CLIENTS", "100"),
            ("METRICS_TOKEN_FILE", file),
            ("METRICS_ALLOW", "127.0.0.1, 10.0.0.0/8"),
            ("HTTP_HEADER_READ_TIMEOUT_SECS", "2"),
            ("HTTP_KEEP_ALIVE_TIMEOUT_SECS", "1.5"),
            ("WS_PING_INTERVAL_SECS", "1"),
            ("WS_IDLE_TIMEOUT_SECS", "3"),
        ]))
        .unwrap();
        assert_eq!(
            config.auth,
            AuthLimits {
                hash_concurrency: 3,
                hash_queue_timeout: Duration::from_millis(500),
                rate: RateLimit {
                    per_minute: 600,
                    burst: 50,
                    clients: 100
                },
            }
        );
        assert_eq!(
            config.metrics_access.token.as_deref(),
            Some("0123456789abcdef-token")
        );
        assert_eq!(
            config.metrics_access.allow,
            ["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()]
        );
        assert!(!format!("{:?}", config.metrics_access).contains("abcdef"));
        assert_eq!(
            config.timeouts,
            Timeouts {
                header_read: Duration::from_secs(2),
                keep_alive: Duration::from_millis(1500),
                ws_ping_interval: Duration::from_secs(1),
                ws_idle: Duration::from_secs(3),
            }
        );
        let both = Config::from_lookup(env(&[
            ("METRICS_TOKEN", "0123456789abcdef-token"),
            ("METRICS_TOKEN_FILE", file),
        ]))
        .unwrap_err()
        .to_string();
        assert!(both.contains("not both"), "{both}");
        // Nothing set: unprotected, with the defaults.
        let config = Config::from_lookup(env(&[])).unwrap();
        assert_eq!(config.metrics_access, MetricsAccess::default());
        assert_eq!(config.timeouts, Timeouts::default());
    }

    #[test]
    fn urls_select_postgres_and_redis() {
        let config = Config::from_lookup(env(&[
            ("DATABASE_URL", "postgres://fiko@127.0.0.1:5432/fiko"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("INSTAGRAM_BASE_URL", "http://127.0.0.1:9000/"),
        ]))
        .unwrap();
        assert_eq!(
            config.database,
            DatabaseConfig::Postgres("postgres://fiko@127.0.0.1:5432/fiko".to_owned())
        );
        assert_eq!(
            config.cache,
            CacheConfig::Redis("redis://127.0.0.1:6379".to_owned())
        );
        assert_eq!(
            config.instagram_base_url.as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn bad_values_are_one_line_errors_naming_the_variable() {
        let cases = [
            ("DATABASE_URL", "mysql://x", "unsupported scheme"),
            ("DATABASE_URL", "sqlite://", "no file"),
            ("REDIS_URL", "http://127.0.0.1", "expected redis://"),
            (
                "INSTAGRAM_BASE_URL",
                "https://graph.instagram.com",
                "without TLS",
            ),
            ("BIND", "localhost", "expected host:port"),
            ("FIKO_DRAIN_SECS", "-1", "expected 0 to"),
            ("FIKO_FINAL_SCRAPE_SECS", "soon", "expected seconds"),
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", "0", "more than 0"),
            ("DATABASE_QUERY_TIMEOUT_SECS", "0", "more than 0"),
            ("AI_PROVIDER_LATENCY_MS", "5000", "below the model timeout"),
            ("PASSWORD_HASH_CONCURRENCY", "0", "from 1 to 1024"),
            ("PASSWORD_HASH_QUEUE_SECS", "0", "more than 0"),
            ("AUTH_RATE_PER_MINUTE", "many", "whole number"),
            ("AUTH_RATE_CLIENTS", "-3", "whole number"),
            ("METRICS_TOKEN", "short", "at least 16"),
            ("METRICS_TOKEN", "with a space inside it", "without spaces"),
            (
                "METRICS_TOKEN_FILE",
                "/nonexistent/fiko-token",
                "cannot read it",
            ),
            (
                "METRICS_ALLOW",
                "10.0.0.0/8,localhost",
                "`localhost` is not an IP",
            ),
            ("HTTP_HEADER_READ_TIMEOUT_SECS", "0", "more than 0"),
            (
                "WS_IDLE_TIMEOUT_SECS",
                "5",
                "more than WS_PING_INTERVAL_SECS",
            ),
            ("FIKO_INSTRUMENTATION", "false", "expected on or off"),
            ("FIKO_EXEMPLARS", "no", "expected on or off"),
        ];
        for (variable, value, expected) in cases {
            let error = Config::from_lookup(env(&[(variable, value)]))
                .unwrap_err()
                .to_string();
            assert!(error.starts_with(&format!("{variable}=")), "{error}");
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
        let error = Config::from_lookup(env(&[
            ("FIKO_INSTRUMENTATION", "off"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(error.starts_with("FIKO_INSTRUMENTATION="), "{error}");
        assert!(error.contains("unset REDIS_URL"), "{error}");
    }
}
