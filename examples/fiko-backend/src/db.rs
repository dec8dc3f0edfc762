//! The database: SQLite or PostgreSQL behind one type, instrumented by
//! `fiko-metrics-sqlx` (or, with the instrumentation switched off, on the bare sqlx pool),
//! with embedded migrations.
//!
//! Every query is written once with `$1`-style placeholders, which both sqlx drivers
//! accept, and runs on whichever pool is configured.

use std::str::FromStr;
use std::time::Duration;

use fiko_metrics_sqlx::{Instrumentation, InstrumentedPool, PoolConfig};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Connection, Pool};
use sqlx::{Postgres, Sqlite};

use crate::config::DatabaseConfig;

/// How long start-up waits for the database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The migrations, in order: (version, SQLite text, PostgreSQL text).
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    include_str!("../migrations/0001_init.sqlite.sql"),
    include_str!("../migrations/0001_init.postgres.sql"),
)];

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The server is unreachable or refused the connection.
    #[error("cannot connect to {what}: {source}")]
    Connect {
        /// The database (kind and location).
        what: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("migration {version} failed: {source}")]
    Migrate {
        /// The migration's version.
        version: i64,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The SQLite file's directory cannot be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What bounds a query's time: the wait for a pool connection, then the wait for the
/// database's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DbTimeouts {
    /// How long a query waits for a pool connection (then fails with a pool timeout).
    pub acquire: Duration,
    /// How long a query waits for the database's answer (then fails with a timeout).
    pub query: Duration,
}

/// The application's database.
#[derive(Clone, Debug)]
pub enum Db {
    /// A SQLite file.
    Sqlite(InstrumentedPool<Sqlite>),
    /// A PostgreSQL server.
    Postgres(InstrumentedPool<Postgres>),
    /// A SQLite file on the bare sqlx pool: the instrumentation is switched off
    /// ([`Instrumentation::Off`](crate::config::Instrumentation::Off)). Nothing is
    /// recorded, and there is no query timeout (the wrapper enforces it).
    BareSqlite(Pool<Sqlite>),
    /// A PostgreSQL server on the bare sqlx pool (instrumentation off, as `BareSqlite`).
    BarePostgres(Pool<Postgres>),
}

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds and `$executor` to what
/// a query named `$name` runs on (the instrumented pool under that name, or the bare
/// pool): the same code, compiled once per driver and wrapper.
macro_rules! on_pool {
    ($db:expr, $name:expr, $pool:ident, $executor:ident => $body:expr) => {
        match $db {
            Db::Sqlite($pool) => {
                let $executor = $pool.named($name);
                $body
            }
            Db::Postgres($pool) => {
                let $executor = $pool.named($name);
                $body
            }
            Db::BareSqlite($pool) => {
                let $executor = $pool;
                $body
            }
            Db::BarePostgres($pool) => {
                let $executor = $pool;
                $body
            }
        }
    };
    ($db:expr, $name:expr, $executor:ident => $body:expr) => {
        on_pool!($db, $name, _pool, $executor => $body)
    };
}

/// A user's public profile.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserProfile {
    /// The id.
    pub id: i64,
    /// The email address.
    pub email: String,
    /// The display name.
    pub name: String,
    /// When the user registered (Unix seconds).
    pub created_at: i64,
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Db {
    /// Connects (bounded in time), instruments the pool as `main` and runs the migrations.
    /// A query waits at most `timeouts.acquire` for a pool connection (then fails with a
    /// pool timeout, counted as `kind="pool_timeout"`) and at most `timeouts.query` for
    /// the answer (then fails, counted as `kind="timeout"`): while the server is down or
    /// hung, these bound a request that needs it.
    ///
    /// Without `metrics` (the instrumentation switched off) the bare sqlx pool is used,
    /// with the same options.
    pub async fn open(
        config: &DatabaseConfig,
        metrics: Option<&Instrumentation>,
        timeouts: DbTimeouts,
    ) -> Result<Self, DbError> {
        let acquire_timeout = timeouts.acquire;
        let pool_config = PoolConfig::named("main")
            .slow_threshold(Duration::from_millis(250))
            .query_timeout(timeouts.query);
        let db = match config {
            DatabaseConfig::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                let what = format!("SQLite file {}", path.display());
                let options = SqliteConnectOptions::from_str("sqlite:")
                    .map_err(|source| DbError::Connect {
                        what: what.clone(),
                        source,
                    })?
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(acquire_timeout)
                    .connect_with(options)
                    .await
                    .map_err(|source| DbError::Connect { what, source })?;
                match metrics {
                    Some(metrics) => Db::Sqlite(metrics.instrument(pool, pool_config)),
                    None => Db::BareSqlite(pool),
                }
            }
            DatabaseConfig::Postgres(url) => {
                let what = format!("PostgreSQL at {}", redact(url));
                let failed = |source| DbError::Connect {
                    what: what.clone(),
                    source,
                };
                let options = PgConnectOptions::from_str(url).map_err(failed)?;
                // One connection first, so an unreachable server or a refused login is
                // reported as such (a pool would only say that it timed out).
                let probe =
                    tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
                        .await
                        .map_err(|_| failed(sqlx::Error::PoolTimedOut))?
                        .map_err(failed)?;
                let _ = probe.close().await;
                let pool = PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(acquire_timeout)
                    .connect_with(options)
                    .await
                    .map_err(failed)?;
                match metrics {
                    Some(metrics) => Db::Postgres(metrics.instrument(pool, pool_config)),
                    None => Db::BarePostgres(pool),
                }
            }
        };
        db.migrate().await?;
        Ok(db)
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Db::Sqlite(_) | Db::BareSqlite(_) => "sqlite",
            Db::Postgres(_) | Db::BarePostgres(_) => "postgres",
        }
    }

    async fn migrate(&self) -> Result<(), DbError> {
        for &(version, sqlite_text, postgres_text) in MIGRATIONS {
            let failed = |source| DbError::Migrate { version, source };
            let postgres = self.kind() == "postgres";
            on_pool!(self, "migrate", pool, _executor => {
                let mut tx = pool.begin().await.map_err(failed)?;
                if postgres {
                    // Instances starting together migrate one at a time.
                    sqlx::query("SELECT pg_advisory_xact_lock(7400001)")
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                }
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS fiko_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                )
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
                let done: Option<(i64,)> =
                    sqlx::query_as("SELECT version FROM fiko_migrations WHERE version = $1")
                        .bind(version)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(failed)?;
                if done.is_none() {
                    let text = if postgres { postgres_text } else { sqlite_text };
                    for statement in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                        sqlx::query(statement).execute(&mut *tx).await.map_err(failed)?;
                    }
                    sqlx::query("INSERT INTO fiko_migrations (version, applied_at) VALUES ($1, $2)")
                        .bind(version)
                        .bind(now())
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                }
                tx.commit().await.map_err(failed)?;
            });
        }
        Ok(())
    }

    /// `SELECT 1`: the health check.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, "ping", executor => {
            sqlx::query("SELECT 1").execute(executor).await?;
        });
        Ok(())
    }

    /// Creates a user; `Ok(None)` when the email is taken.
    pub async fn create_user(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
    ) -> Result<Option<i64>, sqlx::Error> {
        let result: Result<(i64,), sqlx::Error> = on_pool!(self, "create_user", executor => {
            sqlx::query_as(
                "INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(email)
            .bind(name)
            .bind(password_hash)
            .bind(now())
            .fetch_one(executor)
            .await
        });
        match result {
            Ok((id,)) => Ok(Some(id)),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The id and password hash of the user with this email.
    pub async fn user_credentials(
        &self,
        email: &str,
    ) -> Result<Option<(i64, String)>, sqlx::Error> {
        on_pool!(self, "user_credentials", executor => {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
                .bind(email)
                .fetch_optional(executor)
                .await
        })
    }

    /// A user's profile.
    pub async fn user_profile(&self, id: i64) -> Result<Option<UserProfile>, sqlx::Error> {
        let row: Option<(i64, String, String, i64)> = on_pool!(self, "user_profile", executor => {
            sqlx::query_as("SELECT id, email, name, created_at FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(executor)
                .await?
        });
        Ok(row.map(|(id, email, name, created_at)| UserProfile {
            id,
            email,
            name,
            created_at,
        }))
    }

    /// Stores a session.
    pub async fn create_session(
        &self,
        token: &str,
        user_id: i64,
        ttl_seconds: i64,
    ) -> Result<(), sqlx::Error> {
        let now = now();
        on_pool!(self, "create_session", executor => {
            sqlx::query("INSERT INTO sessions (token, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(token)
                .bind(user_id)
                .bind(now)
                .bind(now.saturating_add(ttl_seconds))
                .execute(executor)
                .await?;
        });
        Ok(())
    }

    /// The user of an unexpired session.
    pub async fn session_user(&self, token: &str) -> Result<Option<i64>, sqlx::Error> {
        let row: Option<(i64,)> = on_pool!(self, "session_user", executor => {
            sqlx::query_as("SELECT user_id FROM sessions WHERE token = $1 AND expires_at > $2")
                .bind(token)
                .bind(now())
                .fetch_optional(executor)
                .await?
        });
        Ok(row.map(|(id,)| id))
    }

    /// Deletes a session; whether it existed.
    pub async fn delete_session(&self, token: &str) -> Result<bool, sqlx::Error> {
        let affected = on_pool!(self, "delete_session", executor => {
            sqlx::query("DELETE FROM sessions WHERE token = $1")
                .bind(token)
                .execute(executor)
                .await?
                .rows_affected()
        });
        Ok(affected > 0)
    }

    /// Sessions that have not expired.
    pub async fn active_sessions(&self) -> Result<i64, sqlx::Error> {
        let (count,): (i64,) = on_pool!(self, "active_sessions", executor => {
            sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE expires_at > $1")
                .bind(now())
                .fetch_one(executor)
                .await?
        });
        Ok(count)
    }

    /// Creates a workflow (its actions as a comma-separated list).
    pub async fn create_workflow(
        &self,
        user_id: i64,
        name: &str,
        actions: &str,
    ) -> Result<i64, sqlx::Error> {
        let (id,): (i64,) = on_pool!(self, "create_workflow", executor => {
            sqlx::query_as(
                "INSERT INTO workflows (user_id, name, actions, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(user_id)
            .bind(name)
            .bind(actions)
            .bind(now())
            .fetch_one(executor)
            .await?
        });
        Ok(id)
    }

    /// A user's workflow: its name and actions.
    pub async fn workflow(
        &self,
        id: i64,
        user_id: i64,
    ) -> Result<Option<(String, String)>, sqlx::Error> {
        on_pool!(self, "workflow", executor => {
            sqlx::query_as("SELECT name, actions FROM workflows WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .fetch_optional(executor)
                .await
        })
    }

    /// Records a workflow execution.
    pub async fn record_execution(
        &self,
        workflow_id: i64,
        status: &str,
        duration_ms: i64,
    ) -> Result<i64, sqlx::Error> {
        let (id,): (i64,) = on_pool!(self, "record_execution", executor => {
            sqlx::query_as(
                "INSERT INTO workflow_executions (workflow_id, status, duration_ms, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(workflow_id)
            .bind(status)
            .bind(duration_ms)
            .bind(now())
            .fetch_one(executor)
            .await?
        });
        Ok(id)
    }

    /// Records a payment transaction.
    pub async fn insert_transaction(
        &self,
        user_id: i64,
        plan: &str,
        currency: &str,
        amount_cents: i64,
        status: &str,
    ) -> Result<i64, sqlx::Error> {
        let (id,): (i64,) = on_pool!(self, "insert_transaction", executor => {
            sqlx::query_as(
                "INSERT INTO transactions (user_id, plan, currency, amount_cents, status, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(user_id)
            .bind(plan)
            .bind(currency)
            .bind(amount_cents)
            .bind(status)
            .bind(now())
            .fetch_one(executor)
            .await?
        });
        Ok(id)
    }

    /// Records an academy video view.
    pub async fn insert_view(
        &self,
        user_id: i64,
        video_id: i64,
        course: &str,
        seconds: i64,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, "insert_view", executor => {
            sqlx::query(
                "INSERT INTO video_views (user_id, video_id, course, seconds, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(user_id)
            .bind(video_id)
            .bind(course)
            .bind(seconds)
            .bind(now())
            .execute(executor)
            .await?;
        });
        Ok(())
    }

    /// Records a sent email (the welcome-email job's output).
    pub async fn insert_email(&self, user_id: i64, kind: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, "insert_email", executor => {
            sqlx::query("INSERT INTO emails (user_id, kind, created_at) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(kind)
                .bind(now())
                .execute(executor)
                .await?;
        });
        Ok(())
    }

    /// Stores a rendered invoice (the invoice job's output).
    pub async fn insert_invoice(&self, transaction_id: i64, body: &str) -> Result<(), sqlx::Error> {
        on_pool!(self, "insert_invoice", executor => {
            sqlx::query("INSERT INTO invoices (transaction_id, body, created_at) VALUES ($1, $2, $3)")
                .bind(transaction_id)
                .bind(body)
                .bind(now())
                .execute(executor)
                .await?;
        });
        Ok(())
    }

    /// The amount, currency and plan of a transaction.
    pub async fn transaction(&self, id: i64) -> Result<Option<(i64, String, String)>, sqlx::Error> {
        on_pool!(self, "transaction", executor => {
            sqlx::query_as("SELECT amount_cents, currency, plan FROM transactions WHERE id = $1")
                .bind(id)
                .fetch_optional(executor)
                .await
        })
    }

    /// How many rows `table` holds (one of the demo's tables; for tests and the load report).
    pub async fn count(&self, table: Table) -> Result<i64, sqlx::Error> {
        let sql = table.count_sql();
        let (count,): (i64,) = on_pool!(self, "count", pool, _executor => {
            sqlx::query_as(sql).fetch_one(pool).await?
        });
        Ok(count)
    }
}

/// A table of the demo's schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    /// `users`
    Users,
    /// `emails`
    Emails,
    /// `invoices`
    Invoices,
    /// `workflow_executions`
    WorkflowExecutions,
    /// `video_views`
    VideoViews,
}

impl Table {
    fn count_sql(self) -> &'static str {
        match self {
            Table::Users => "SELECT COUNT(*) FROM users",
            Table::Emails => "SELECT COUNT(*) FROM emails",
            Table::Invoices => "SELECT COUNT(*) FROM invoices",
            Table::WorkflowExecutions => "SELECT COUNT(*) FROM workflow_executions",
            Table::VideoViews => "SELECT COUNT(*) FROM video_views",
        }
    }
}

/// The URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redact("postgres://fiko:secret@127.0.0.1:5432/fiko"),
            "postgres://fiko:***@127.0.0.1:5432/fiko"
        );
        assert_eq!(
            redact("postgres://fiko@127.0.0.1:5432/fiko"),
            "postgres://fiko@127.0.0.1:5432/fiko"
        );
    }
}
