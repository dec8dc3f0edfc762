//! The instrumentation against a real SQLite database file.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{eventually, sample};
use fiko_metrics::Registry;
use fiko_metrics_sqlx::{Instrumentation, InstrumentedPool, PoolConfig};
use futures_core::Stream;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Executor, Row, SqlSafeStr, Sqlite, Statement};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A pool on a fresh database file in its own temp dir (kept alive by the returned guard).
async fn sqlite_pool(
    max_connections: u32,
) -> Result<(tempfile::TempDir, sqlx::SqlitePool), sqlx::Error> {
    let dir = tempfile::tempdir()?;
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("fiko.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    Ok((dir, pool))
}

async fn instrumented(
    name: &'static str,
    max_connections: u32,
    config: impl FnOnce(PoolConfig) -> PoolConfig,
) -> Result<(tempfile::TempDir, Registry, InstrumentedPool<Sqlite>), sqlx::Error> {
    let (dir, pool) = sqlite_pool(max_connections).await?;
    let registry = Registry::new();
    let db = Instrumentation::register(&registry).expect("a fresh registry");
    let pool = db.instrument(pool, config(PoolConfig::named(name)));
    Ok((dir, registry, pool))
}

fn queries(registry: &Registry, pool: &str, operation: &str) -> f64 {
    sample(
        registry,
        "fiko_db_queries_total",
        &[("pool", pool), ("operation", operation)],
    )
}

fn durations(registry: &Registry, pool: &str, operation: &str) -> f64 {
    sample(
        registry,
        "fiko_db_query_duration_seconds_count",
        &[("pool", pool), ("operation", operation)],
    )
}

async fn next_row<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)).await
}

#[tokio::test]
async fn counts_every_query_exactly_by_operation() -> TestResult {
    let (_dir, registry, pool) = instrumented("main", 4, |c| c).await?;

    sqlx::query(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL)",
    )
    .execute(&pool)
    .await?;
    for i in 0..25_i64 {
        sqlx::query("INSERT INTO items (name, qty) VALUES (?, ?)")
            .bind(format!("item {i}"))
            .bind(i)
            .execute(&pool)
            .await?;
    }
    // Every fetch method of sqlx, each one query.
    let all = sqlx::query("SELECT id FROM items").fetch_all(&pool).await?;
    assert_eq!(all.len(), 25);
    let one: (i64,) = sqlx::query_as("SELECT count(*) FROM items")
        .fetch_one(&pool)
        .await?;
    assert_eq!(one.0, 25);
    let none = sqlx::query("SELECT id FROM items WHERE id < 0")
        .fetch_optional(&pool)
        .await?;
    assert!(none.is_none());
    let scalar: i64 = sqlx::query_scalar("select sum(qty) from items")
        .fetch_one(&pool)
        .await?;
    assert_eq!(scalar, 300);
    let mut rows = sqlx::query("SELECT id FROM items ORDER BY id").fetch(&pool);
    let mut streamed = 0;
    while let Some(row) = next_row(&mut rows).await {
        row?;
        streamed += 1;
    }
    drop(rows);
    assert_eq!(streamed, 25);
    // A prepared statement keeps its cached statement through the wrapper.
    let statement = (&pool)
        .prepare("SELECT name FROM items WHERE id = ?".into_sql_str())
        .await?;
    let row = statement.query().bind(3_i64).fetch_one(&pool).await?;
    assert_eq!(row.try_get::<String, _>("name")?, "item 2");
    // WITH ... SELECT and a commented statement.
    let total: i64 = sqlx::query_scalar(
        "-- the total\nWITH q AS (SELECT qty FROM items WHERE qty > 10) SELECT count(*) FROM q",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(total, 14);

    for i in 0..7_i64 {
        sqlx::query("/* restock */ UPDATE items SET qty = qty + 1 WHERE id = ?")
            .bind(i + 1)
            .execute(&pool)
            .await?;
    }
    let deleted = sqlx::query("DELETE FROM items WHERE id > 22")
        .execute(&pool)
        .await?;
    assert_eq!(deleted.rows_affected(), 3);
    for _ in 0..2 {
        sqlx::query("DELETE FROM items WHERE id = 1")
            .execute(&pool)
            .await?;
    }

    assert_eq!(queries(&registry, "main", "other"), 1.0);
    assert_eq!(queries(&registry, "main", "insert"), 25.0);
    assert_eq!(queries(&registry, "main", "select"), 7.0);
    assert_eq!(queries(&registry, "main", "update"), 7.0);
    assert_eq!(queries(&registry, "main", "delete"), 3.0);
    for operation in ["other", "insert", "select", "update", "delete"] {
        assert_eq!(
            durations(&registry, "main", operation),
            queries(&registry, "main", operation),
            "{operation}: one duration per query"
        );
    }
    assert_eq!(sample(&registry, "fiko_db_query_errors_total", &[]), 0.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_queries_are_all_counted() -> TestResult {
    let (_dir, registry, pool) = instrumented("main", 4, |c| c).await?;
    sqlx::query("CREATE TABLE hits (task INTEGER NOT NULL, n INTEGER NOT NULL)")
        .execute(&pool)
        .await?;
    let mut tasks = Vec::new();
    for task in 0..8_i64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..40_i64 {
                sqlx::query("INSERT INTO hits (task, n) VALUES (?, ?)")
                    .bind(task)
                    .bind(n)
                    .execute(&pool)
                    .await?;
                sqlx::query("SELECT count(*) FROM hits WHERE task = ?")
                    .bind(task)
                    .fetch_one(&pool)
                    .await?;
            }
            Ok::<(), sqlx::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM hits")
        .fetch_one(&pool)
        .await?;
    assert_eq!(stored, 320);
    assert_eq!(queries(&registry, "main", "insert"), 320.0);
    assert_eq!(queries(&registry, "main", "select"), 321.0);
    assert_eq!(durations(&registry, "main", "insert"), 320.0);
    Ok(())
}

#[tokio::test]
async fn transactions_connections_and_named_queries_record() -> TestResult {
    let (_dir, registry, pool) = instrumented("main", 2, |c| c).await?;
    sqlx::query("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        .execute(pool.named("schema"))
        .await?;

    // sqlx's own transaction idiom, `&mut *tx`, and the shorter `&mut tx`.
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO accounts (balance) VALUES (100)")
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO accounts (balance) VALUES (50)")
        .execute(&mut tx)
        .await?;
    sqlx::query("UPDATE accounts SET balance = balance - 10 WHERE id = 1")
        .execute(tx.named("debit"))
        .await?;
    // A savepoint inside the transaction records too, and rolls back on its own.
    let mut savepoint = tx.begin().await?;
    sqlx::query("DELETE FROM accounts")
        .execute(&mut *savepoint)
        .await?;
    savepoint.rollback().await?;
    tx.commit().await?;

    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO accounts (balance) VALUES (1)")
        .execute(&mut *tx)
        .await?;
    tx.rollback().await?;

    // A helper written against sqlx's `Executor` takes the pool and transactions as is.
    async fn add_account<'e>(
        executor: impl Executor<'e, Database = Sqlite>,
        balance: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO accounts (balance) VALUES (?)")
            .bind(balance)
            .execute(executor)
            .await
            .map(drop)
    }
    add_account(&pool, 7).await?;
    let mut tx = pool.begin().await?;
    add_account(&mut *tx, 8).await?;
    tx.rollback().await?;
    sqlx::query("DELETE FROM accounts WHERE id > 2")
        .execute(&pool)
        .await?;

    let mut conn = pool.acquire().await?;
    let balances: Vec<i64> = sqlx::query_scalar("SELECT balance FROM accounts ORDER BY id")
        .fetch_all(conn.named("balances"))
        .await?;
    assert_eq!(balances, [90, 50]);
    sqlx::query("SELECT 1").fetch_one(&mut *conn).await?;
    // A transaction on a checked-out connection records too.
    let mut tx = conn.begin().await?;
    sqlx::query("UPDATE accounts SET balance = 0 WHERE id = 2")
        .execute(&mut *tx)
        .await?;
    tx.rollback().await?;
    // The plain connection is an explicit way out: not recorded.
    sqlx::query("SELECT 2")
        .fetch_one(&mut **conn.inner_mut())
        .await?;
    drop(conn);
    sqlx::query("SELECT 3").fetch_one(pool.inner()).await?;

    let named = |operation: &str, query: &str| {
        sample(
            &registry,
            "fiko_db_queries_total",
            &[("pool", "main"), ("operation", operation), ("query", query)],
        )
    };
    assert_eq!(named("other", "schema"), 1.0);
    assert_eq!(named("insert", ""), 5.0);
    assert_eq!(named("update", "debit"), 1.0);
    assert_eq!(named("update", ""), 1.0);
    assert_eq!(named("delete", ""), 2.0);
    assert_eq!(named("select", "balances"), 1.0);
    assert_eq!(named("select", ""), 1.0);
    // BEGIN (or SAVEPOINT) and COMMIT or ROLLBACK of the 5 transactions and savepoints.
    assert_eq!(named("other", ""), 10.0);
    assert_eq!(sample(&registry, "fiko_db_queries_total", &[]), 22.0);
    Ok(())
}

#[tokio::test]
async fn errors_by_kind_and_class_reach_the_caller_intact() -> TestResult {
    let (_dir, registry, pool) = instrumented("main", 1, |c| c).await?;
    sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE)")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO users (email) VALUES ('a@example.com')")
        .execute(&pool)
        .await?;

    // A constraint violation: SQLite's extended code 2067, class `constraint`.
    let error = sqlx::query("INSERT INTO users (email) VALUES ('a@example.com')")
        .execute(&pool)
        .await
        .expect_err("duplicate email");
    let database = error.as_database_error().expect("a database error");
    assert!(
        database.is_unique_violation(),
        "the caller sees sqlx's own error: {error}"
    );

    // A syntax error: SQLITE_ERROR, class `error`, twice.
    for _ in 0..2 {
        let error = sqlx::query("SELEC nothing")
            .fetch_all(pool.named("typo"))
            .await
            .expect_err("bad SQL");
        assert!(error.as_database_error().is_some(), "{error}");
    }

    let errors = |kind: &str, class: &str| {
        sample(
            &registry,
            "fiko_db_query_errors_total",
            &[("pool", "main"), ("kind", kind), ("class", class)],
        )
    };
    assert_eq!(errors("database", "constraint"), 1.0);
    assert_eq!(errors("database", "error"), 2.0);
    assert_eq!(
        sample(
            &registry,
            "fiko_db_query_errors_total",
            &[("operation", "other"), ("query", "typo")]
        ),
        2.0
    );
    // Failed queries are queries too.
    assert_eq!(queries(&registry, "main", "insert"), 2.0);
    assert_eq!(queries(&registry, "main", "other"), 3.0);
    Ok(())
}

#[tokio::test]
async fn a_pools_checkout_failures_are_exposed_at_zero_from_the_start() -> TestResult {
    let (_dir, registry, _pool) = instrumented("main", 1, |config| config).await?;
    let text = registry.encode(fiko_metrics::Format::Prometheus);
    for kind in ["pool_timeout", "pool_closed"] {
        let line = format!("fiko_db_pool_acquire_errors_total{{pool=\"main\",kind=\"{kind}\"}} 0");
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    Ok(())
}

#[tokio::test]
async fn pool_timeouts_and_closed_pools_are_counted() -> TestResult {
    let (_dir, pool) = sqlite_pool(1).await?;
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(200))
        .connect_with((*pool.connect_options()).clone())
        .await?;
    let registry = Registry::new();
    let pool = Instrumentation::register(&registry)?.instrument(pool, PoolConfig::named("tiny"));

    let held = pool.acquire().await?;
    let started = Instant::now();
    let error = sqlx::query("SELECT 1")
        .fetch_one(&pool)
        .await
        .expect_err("no free connection");
    assert!(matches!(error, sqlx::Error::PoolTimedOut), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    // Starting a transaction times out the same way, and counts the same way.
    let error = pool.begin().await.expect_err("no free connection");
    assert!(matches!(error, sqlx::Error::PoolTimedOut), "{error}");
    drop(held);

    pool.close().await;
    let error = sqlx::query("SELECT 1")
        .execute(&pool)
        .await
        .expect_err("closed");
    assert!(matches!(error, sqlx::Error::PoolClosed), "{error}");

    let errors = |kind: &str| {
        sample(
            &registry,
            "fiko_db_query_errors_total",
            &[("pool", "tiny"), ("kind", kind), ("class", "")],
        )
    };
    assert_eq!(errors("pool_timeout"), 2.0);
    assert_eq!(errors("pool_closed"), 1.0);
    assert_eq!(sample(&registry, "fiko_db_query_errors_total", &[]), 3.0);
    // The timed-out query and `BEGIN` waited for the whole acquire timeout: that is the
    // pool's wait, recorded as such (with the checkout held and the one after `close`),
    // not as query time; they never ran, so they have no query duration.
    let acquire = |name: &str| {
        sample(
            &registry,
            &format!("fiko_db_pool_acquire_duration_seconds_{name}"),
            &[("pool", "tiny")],
        )
    };
    assert_eq!(acquire("count"), 4.0);
    assert!(acquire("sum") >= 0.4, "{}", acquire("sum"));
    assert_eq!(
        sample(
            &registry,
            "fiko_db_query_duration_seconds_count",
            &[("pool", "tiny")]
        ),
        0.0
    );
    let acquire_errors = |kind: &str| {
        sample(
            &registry,
            "fiko_db_pool_acquire_errors_total",
            &[("pool", "tiny"), ("kind", kind)],
        )
    };
    assert_eq!(acquire_errors("pool_timeout"), 2.0);
    assert_eq!(acquire_errors("pool_closed"), 1.0);
    Ok(())
}

#[tokio::test]
async fn slow_queries_are_counted_against_the_threshold() -> TestResult {
    let threshold = Duration::from_millis(200);
    let (_dir, registry, pool) = instrumented("main", 2, |c| c.slow_threshold(threshold)).await?;
    for _ in 0..5 {
        sqlx::query("SELECT 1").fetch_one(&pool).await?;
    }
    // A recursive CTE that counts far enough to take well over the threshold.
    let heavy = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) \
                 SELECT count(*) FROM c";
    let started = Instant::now();
    let count: i64 = sqlx::query_scalar(heavy)
        .fetch_one(pool.named("heavy"))
        .await?;
    let heavy_took = started.elapsed();
    assert_eq!(count, 5_000_000);
    assert!(
        heavy_took >= threshold,
        "the heavy query took only {heavy_took:?}"
    );

    assert_eq!(
        sample(
            &registry,
            "fiko_db_slow_queries_total",
            &[("pool", "main"), ("query", "heavy")]
        ),
        1.0
    );
    assert_eq!(sample(&registry, "fiko_db_slow_queries_total", &[]), 1.0);

    // A zero threshold makes every query slow; a huge one none.
    let (_dir2, every, all_slow) =
        instrumented("zero", 1, |c| c.slow_threshold(Duration::ZERO)).await?;
    let (_dir3, none, never_slow) =
        instrumented("hour", 1, |c| c.slow_threshold(Duration::from_secs(3600))).await?;
    for _ in 0..4 {
        sqlx::query("SELECT 1").fetch_one(&all_slow).await?;
        sqlx::query("SELECT 1").fetch_one(&never_slow).await?;
    }
    assert_eq!(
        sample(&every, "fiko_db_slow_queries_total", &[("pool", "zero")]),
        4.0
    );
    assert_eq!(
        sample(&none, "fiko_db_slow_queries_total", &[("pool", "hour")]),
        0.0
    );
    assert_eq!(
        sample(&none, "fiko_db_queries_total", &[("pool", "hour")]),
        4.0
    );
    Ok(())
}

#[tokio::test]
async fn pool_gauges_follow_the_pool_at_scrape_time() -> TestResult {
    let (_dir, registry, pool) = instrumented("main", 5, |c| c).await?;
    let gauge = |registry: &Registry, state: &str| {
        sample(
            registry,
            "fiko_db_pool_connections",
            &[("pool", "main"), ("state", state)],
        )
    };
    assert_eq!(
        sample(
            &registry,
            "fiko_db_pool_max_connections",
            &[("pool", "main")]
        ),
        5.0
    );

    let held = [
        pool.acquire().await?,
        pool.acquire().await?,
        pool.acquire().await?,
    ];
    assert_eq!(gauge(&registry, "in_use"), 3.0);
    assert_eq!(gauge(&registry, "idle"), pool.num_idle() as f64);
    assert_eq!(
        gauge(&registry, "idle") + gauge(&registry, "in_use"),
        f64::from(pool.size())
    );
    drop(held);
    // Connections go back to the pool in the background.
    assert!(
        eventually(5, || gauge(&registry, "in_use") == 0.0
            && gauge(&registry, "idle") >= 3.0)
        .await,
        "released connections turn idle: {}",
        fiko_metrics::Registry::encode(&registry, fiko_metrics::Format::Prometheus)
    );

    // A dropped pool reads as empty.
    drop(pool);
    assert_eq!(gauge(&registry, "in_use"), 0.0);
    assert_eq!(gauge(&registry, "idle"), 0.0);
    assert_eq!(
        sample(
            &registry,
            "fiko_db_pool_max_connections",
            &[("pool", "main")]
        ),
        0.0
    );
    Ok(())
}

#[tokio::test]
async fn a_stream_dropped_early_counts_once_without_error() -> TestResult {
    let (_dir, registry, pool) = instrumented("main", 1, |c| c).await?;
    sqlx::query("CREATE TABLE n (x INTEGER)")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO n VALUES (1), (2), (3)")
        .execute(&pool)
        .await?;
    let mut rows = sqlx::query("SELECT x FROM n").fetch(&pool);
    let first = next_row(&mut rows).await.expect("a row")?;
    assert_eq!(first.try_get::<i64, _>(0)?, 1);
    drop(rows);
    assert_eq!(queries(&registry, "main", "select"), 1.0);
    assert_eq!(sample(&registry, "fiko_db_query_errors_total", &[]), 0.0);
    Ok(())
}

#[tokio::test]
async fn registering_twice_in_one_registry_is_refused() {
    let registry = Registry::new();
    assert!(Instrumentation::register(&registry).is_ok());
    let error = Instrumentation::register(&registry).expect_err("same names twice");
    assert!(error.to_string().contains("DbMetrics"), "{error}");
}

#[tokio::test]
async fn the_global_instrumentation_exposes_in_the_default_registry() -> TestResult {
    use fiko_metrics::MetricSet;
    use fiko_metrics_sqlx::{DbMetrics, Operation, QueryLabels};

    // Someone else uses the set through the derive's own `global()` first: same series.
    let labels = QueryLabels {
        pool: "default",
        operation: Operation::Select,
        query: "",
    };
    DbMetrics::global().queries.get_or_create(&labels).inc();
    let (_dir, pool) = sqlite_pool(1).await?;
    let pool = fiko_metrics_sqlx::instrument(pool);
    sqlx::query("SELECT 1").fetch_one(&pool).await?;
    let registry = fiko_metrics::default_registry();
    assert_eq!(
        sample(
            registry,
            "fiko_db_queries_total",
            &[("pool", "default"), ("operation", "select")]
        ),
        2.0
    );
    assert_eq!(DbMetrics::global().queries.get_or_create(&labels).get(), 2);
    assert_eq!(
        sample(
            registry,
            "fiko_db_pool_max_connections",
            &[("pool", "default")]
        ),
        1.0
    );
    Ok(())
}
