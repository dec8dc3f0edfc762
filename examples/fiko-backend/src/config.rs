//! Configuration from the environment: where the database, the cache and Instagram are.

use std::net::SocketAddr;
use std::path::PathBuf;

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
}

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
        Ok(config)
    }
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
