//! Configuration from the environment: where the database, the cache and Instagram are.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
        Ok(config)
    }
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
        ];
        for (variable, value, expected) in cases {
            let error = Config::from_lookup(env(&[(variable, value)]))
                .unwrap_err()
                .to_string();
            assert!(error.starts_with(&format!("{variable}=")), "{error}");
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }
}
