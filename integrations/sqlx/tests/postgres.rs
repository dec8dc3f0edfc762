//! The instrumentation against a real PostgreSQL, started by the test kit.

mod common;

use std::time::{Duration, Instant};

use common::{eventually, sample};
use fiko_metrics::{LabelValue, Registry};
use fiko_metrics_sqlx::{Instrumentation, InstrumentedPool, PoolConfig, QueryErrorKind};
use fiko_testkit::Postgres;
use sqlx::Postgres as Pg;
use sqlx::postgres::PgPoolOptions;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A fresh PostgreSQL and an instrumented pool of `max_connections` on it.
async fn start(
    max_connections: u32,
    config: PoolConfig,
) -> Result<(Postgres, Registry, InstrumentedPool<Pg>), Box<dyn std::error::Error>> {
    let pg = Postgres::start()?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&pg.url())
        .await?;
    let registry = Registry::new();
    let pool = Instrumentation::register(&registry)?.instrument(pool, config);
    Ok((pg, registry, pool))
}

fn queries(registry: &Registry, operation: &str) -> f64 {
    sample(
        registry,
        "fiko_db_queries_total",
        &[("pool", "pg"), ("operation", operation)],
    )
}

fn errors(registry: &Registry, kind: &str, class: &str) -> f64 {
    sample(
        registry,
        "fiko_db_query_errors_total",
        &[("pool", "pg"), ("kind", kind), ("class", class)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_every_query_exactly_by_operation() -> TestResult {
    let (pg, registry, pool) = start(4, PoolConfig::named("pg")).await?;
    sqlx::raw_sql(
        "CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, customer TEXT NOT NULL, total BIGINT NOT NULL)",
    )
    .execute(&pool)
    .await?;

    // 4 tasks x 30 inserts, concurrently, with bound arguments (prepared statements).
    let mut tasks = Vec::new();
    for task in 0..4_i64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..30_i64 {
                sqlx::query("INSERT INTO orders (customer, total) VALUES ($1, $2)")
                    .bind(format!("customer {task}"))
                    .bind(n)
                    .execute(&pool)
                    .await?;
            }
            Ok::<(), sqlx::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    for _ in 0..9 {
        let _: Vec<(i64,)> = sqlx::query_as("SELECT id FROM orders WHERE total > $1")
            .bind(20_i64)
            .fetch_all(pool.named("big_orders"))
            .await?;
    }
    for id in 1..=6_i64 {
        sqlx::query("UPDATE orders SET total = total * 2 WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await?;
    }
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM orders WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM orders WHERE id = 2")
        .execute(&mut *tx)
        .await?;
    // A data-modifying CTE whose main statement is a SELECT.
    let moved: i64 = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM orders WHERE id = 3 RETURNING id) SELECT count(*) FROM gone",
    )
    .fetch_one(&mut *tx)
    .await?;
    assert_eq!(moved, 1);
    tx.commit().await?;

    // CREATE TABLE, and the transaction's BEGIN and COMMIT.
    assert_eq!(queries(&registry, "other"), 3.0);
    assert_eq!(queries(&registry, "insert"), 120.0);
    assert_eq!(queries(&registry, "update"), 6.0);
    assert_eq!(queries(&registry, "delete"), 2.0);
    assert_eq!(queries(&registry, "select"), 10.0);
    assert_eq!(
        sample(
            &registry,
            "fiko_db_queries_total",
            &[("query", "big_orders")]
        ),
        9.0
    );
    assert_eq!(
        sample(
            &registry,
            "fiko_db_query_duration_seconds_count",
            &[("pool", "pg")]
        ),
        141.0
    );
    assert_eq!(sample(&registry, "fiko_db_query_errors_total", &[]), 0.0);
    // PostgreSQL agrees on what was written.
    assert_eq!(pg.psql("SELECT count(*) FROM orders")?.trim(), "117");
    Ok(())
}

#[tokio::test]
async fn errors_are_counted_by_sqlstate_class() -> TestResult {
    let (_pg, registry, pool) = start(2, PoolConfig::named("pg")).await?;
    sqlx::raw_sql("CREATE TABLE users (id INT PRIMARY KEY)")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO users VALUES (1)")
        .execute(&pool)
        .await?;

    // 23505 unique_violation, twice.
    for _ in 0..2 {
        let error = sqlx::query("INSERT INTO users VALUES (1)")
            .execute(&pool)
            .await
            .expect_err("duplicate key");
        assert_eq!(
            error.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("23505")
        );
    }
    // 42601 syntax_error, 42P01 undefined_table.
    sqlx::query("SELEC 1")
        .execute(&pool)
        .await
        .expect_err("syntax");
    sqlx::query("SELECT * FROM no_such_table")
        .fetch_all(&pool)
        .await
        .expect_err("no table");
    // 22012 division_by_zero.
    sqlx::query("SELECT 1 / 0")
        .fetch_one(&pool)
        .await
        .expect_err("division by zero");
    // 57014 query_canceled, by statement_timeout, inside a transaction: then 25P02
    // in_failed_sql_transaction for the next statement.
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL statement_timeout = '50ms'")
        .execute(&mut *tx)
        .await?;
    let error = sqlx::query("SELECT pg_sleep(5)")
        .execute(&mut *tx)
        .await
        .expect_err("timeout");
    assert_eq!(
        error.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("57014")
    );
    sqlx::query("SELECT 1")
        .execute(&mut *tx)
        .await
        .expect_err("aborted transaction");
    tx.rollback().await?;

    assert_eq!(errors(&registry, "database", "23"), 2.0);
    assert_eq!(errors(&registry, "database", "42"), 2.0);
    assert_eq!(errors(&registry, "database", "22"), 1.0);
    assert_eq!(errors(&registry, "database", "57"), 1.0);
    assert_eq!(errors(&registry, "database", "25"), 1.0);
    assert_eq!(sample(&registry, "fiko_db_query_errors_total", &[]), 7.0);
    assert_eq!(sample(&registry, "fiko_db_deadlocks_total", &[]), 0.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_deadlock_is_counted() -> TestResult {
    let (pg, registry, pool) = start(4, PoolConfig::named("pg")).await?;
    sqlx::raw_sql(
        "CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL); \
         INSERT INTO accounts VALUES (1, 100), (2, 100);",
    )
    .execute(&pool)
    .await?;

    let mut first = pool.begin().await?;
    let mut second = pool.begin().await?;
    for tx in [&mut first, &mut second] {
        // Detect the deadlock quickly (the default is one second).
        sqlx::query("SET LOCAL deadlock_timeout = '100ms'")
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("UPDATE accounts SET balance = balance - 1 WHERE id = 1")
        .execute(&mut *first)
        .await?;
    sqlx::query("UPDATE accounts SET balance = balance - 1 WHERE id = 2")
        .execute(&mut *second)
        .await?;
    // Each now waits for the row the other holds.
    let (a, b) = tokio::join!(
        sqlx::query("UPDATE accounts SET balance = balance + 1 WHERE id = 2")
            .execute(first.named("transfer")),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            sqlx::query("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
                .execute(second.named("transfer"))
                .await
        },
    );
    let (failed, victim, winner) = match (a, b) {
        (Err(error), Ok(_)) => (error, first, second),
        (Ok(_), Err(error)) => (error, second, first),
        other => panic!("exactly one transaction must be the deadlock victim: {other:?}"),
    };
    assert_eq!(
        failed.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("40P01")
    );
    victim.rollback().await?;
    winner.commit().await?;

    assert_eq!(
        sample(&registry, "fiko_db_deadlocks_total", &[("pool", "pg")]),
        1.0
    );
    assert_eq!(
        sample(
            &registry,
            "fiko_db_query_errors_total",
            &[
                ("kind", "database"),
                ("class", "40"),
                ("operation", "update"),
                ("query", "transfer")
            ]
        ),
        1.0
    );
    // PostgreSQL's own statistics count the same deadlock (each backend flushes them within seconds of going idle).
    let server_count = || {
        pg.psql("SELECT deadlocks FROM pg_stat_database WHERE datname = 'fiko'")
            .map(|out| out.trim().to_owned())
            .unwrap_or_default()
    };
    assert!(
        eventually(20, || server_count() == "1").await,
        "pg_stat_database.deadlocks = {:?}",
        server_count()
    );
    Ok(())
}

#[tokio::test]
async fn a_serialization_failure_at_commit_is_counted() -> TestResult {
    let (_pg, registry, pool) = start(2, PoolConfig::named("pg")).await?;
    sqlx::raw_sql(
        "CREATE TABLE doctors (name TEXT PRIMARY KEY, on_call BOOL NOT NULL); \
         INSERT INTO doctors VALUES ('alice', true), ('bob', true);",
    )
    .execute(&pool)
    .await?;
    // Write skew: each transaction checks that someone else stays on call, then leaves.
    let mut first = pool.begin().await?;
    let mut second = pool.begin().await?;
    for tx in [&mut first, &mut second] {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
            .execute(&mut **tx)
            .await?;
        let on_call: i64 = sqlx::query_scalar("SELECT count(*) FROM doctors WHERE on_call")
            .fetch_one(&mut **tx)
            .await?;
        assert_eq!(on_call, 2);
    }
    sqlx::query("UPDATE doctors SET on_call = false WHERE name = 'alice'")
        .execute(&mut *first)
        .await?;
    sqlx::query("UPDATE doctors SET on_call = false WHERE name = 'bob'")
        .execute(&mut *second)
        .await?;
    first.commit().await?;
    let error = second.commit().await.expect_err("write skew");
    assert_eq!(
        error.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("40001")
    );

    assert_eq!(
        sample(
            &registry,
            "fiko_db_query_errors_total",
            &[
                ("kind", "database"),
                ("class", "40"),
                ("operation", "other")
            ]
        ),
        1.0
    );
    assert_eq!(sample(&registry, "fiko_db_query_errors_total", &[]), 1.0);
    // A serialization failure is not a deadlock.
    assert_eq!(sample(&registry, "fiko_db_deadlocks_total", &[]), 0.0);
    Ok(())
}

#[tokio::test]
async fn slow_queries_are_counted_against_the_threshold() -> TestResult {
    let threshold = Duration::from_millis(250);
    let (_pg, registry, pool) = start(2, PoolConfig::named("pg").slow_threshold(threshold)).await?;
    for _ in 0..5 {
        sqlx::query("SELECT 1").fetch_one(&pool).await?;
    }
    let started = Instant::now();
    sqlx::query("SELECT pg_sleep(0.5)")
        .execute(pool.named("sleepy"))
        .await?;
    assert!(started.elapsed() >= Duration::from_millis(500));

    assert_eq!(sample(&registry, "fiko_db_slow_queries_total", &[]), 1.0);
    assert_eq!(
        sample(
            &registry,
            "fiko_db_slow_queries_total",
            &[("pool", "pg"), ("operation", "select"), ("query", "sleepy")]
        ),
        1.0
    );
    // The sleep lands in the histogram's upper buckets, the fast queries below the threshold.
    assert_eq!(
        sample(
            &registry,
            "fiko_db_query_duration_seconds_bucket",
            &[("query", "sleepy"), ("le", "0.25")]
        ),
        0.0
    );
    assert_eq!(
        sample(
            &registry,
            "fiko_db_query_duration_seconds_bucket",
            &[("query", ""), ("le", "0.25")]
        ),
        5.0
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_gauges_match_the_server_connections() -> TestResult {
    let (pg, registry, pool) = start(6, PoolConfig::named("pg")).await?;
    let gauge = |state: &str| {
        sample(
            &registry,
            "fiko_db_pool_connections",
            &[("pool", "pg"), ("state", state)],
        )
    };
    let mut first = pool.acquire().await?;
    let second = pool.acquire().await?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT 1").fetch_one(&mut *first).await?;
    sqlx::query("SELECT 1").fetch_one(&mut *tx).await?;

    assert_eq!(gauge("in_use"), 3.0);
    assert_eq!(
        sample(&registry, "fiko_db_pool_max_connections", &[("pool", "pg")]),
        6.0
    );
    // The server sees the pool's open connections (plus psql's own).
    let server_connections = |pg: &Postgres| -> Result<f64, Box<dyn std::error::Error>> {
        let out = pg.psql(
            "SELECT count(*) - 1 FROM pg_stat_activity \
             WHERE datname = 'fiko' AND backend_type = 'client backend'",
        )?;
        Ok(out.trim().parse::<f64>()?)
    };
    assert_eq!(
        server_connections(&pg)?,
        gauge("in_use") + gauge("idle"),
        "open connections"
    );

    drop((first, second));
    tx.rollback().await?;
    assert!(
        eventually(5, || gauge("in_use") == 0.0 && gauge("idle") >= 3.0).await,
        "released connections turn idle"
    );
    assert_eq!(server_connections(&pg)?, gauge("idle"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_counts_errors_and_the_pool_recovers() -> TestResult {
    let pg = Postgres::start()?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(500))
        .connect(&pg.url())
        .await?;
    let mut pg = pg;
    let registry = Registry::new();
    let pool = Instrumentation::register(&registry)?.instrument(pool, PoolConfig::named("pg"));
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT 1").fetch_one(&mut *conn).await?;

    pg.stop();
    // The open connection fails: first with whatever the dying backend managed to say,
    // then, on the dead socket, with an I/O error.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let error = sqlx::query("SELECT 1")
            .fetch_one(&mut *conn)
            .await
            .expect_err("the server is gone");
        seen.push(fiko_metrics_sqlx::classify(&error));
    }
    drop(conn);
    assert!(
        seen.iter().any(|c| c.kind == QueryErrorKind::Io),
        "an I/O error: {seen:?}"
    );
    for classified in &seen {
        let expected = seen.iter().filter(|c| *c == classified).count() as f64;
        let kind = classified.kind.with_str(str::to_owned);
        assert_eq!(
            errors(&registry, &kind, classified.class),
            expected,
            "{classified:?}"
        );
    }
    // New connections are refused until the acquire timeout: a pool timeout.
    let error = sqlx::query("SELECT 1")
        .fetch_one(&pool)
        .await
        .expect_err("nothing to connect to");
    assert!(matches!(error, sqlx::Error::PoolTimedOut), "{error:?}");
    assert_eq!(errors(&registry, "pool_timeout", ""), 1.0);

    pg.restart()?;
    // The pool drops the dead connection and opens a new one.
    let mut recovered = false;
    for _ in 0..20 {
        if sqlx::query("SELECT 1").fetch_one(&pool).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "queries work again after the restart");
    Ok(())
}

/// The pool's acquire-wait histogram, `_count`, `_sum` or a bucket (`le`).
fn acquire_wait(registry: &Registry, part: &str, le: Option<&str>) -> f64 {
    let mut labels = vec![("pool", "pg")];
    if let Some(le) = le {
        labels.push(("le", le));
    }
    sample(
        registry,
        &format!("fiko_db_pool_acquire_duration_seconds_{part}"),
        &labels,
    )
}

fn query_time(registry: &Registry, part: &str, le: Option<&str>) -> f64 {
    let mut labels = vec![("pool", "pg")];
    if let Some(le) = le {
        labels.push(("le", le));
    }
    sample(
        registry,
        &format!("fiko_db_query_duration_seconds_{part}"),
        &labels,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_transaction_waits_for_the_pool_in_the_acquire_histogram_not_in_query_time()
-> TestResult {
    const HELD: Duration = Duration::from_millis(600);
    let (_pg, registry, pool) = start(1, PoolConfig::named("pg")).await?;
    sqlx::query("SELECT 1").execute(&pool).await?; // the pool's one connection is open

    let mut first = pool.begin().await?;
    sqlx::query("SELECT 1").execute(&mut *first).await?;
    let second = tokio::spawn({
        let pool = pool.clone();
        async move {
            let started = Instant::now();
            let mut second = pool.begin().await?;
            let waited = started.elapsed();
            sqlx::query("SELECT 2").execute(&mut *second).await?;
            second.commit().await?;
            Ok::<Duration, sqlx::Error>(waited)
        }
    });
    tokio::time::sleep(HELD).await;
    first.commit().await?;
    let waited = second.await??;
    assert!(waited >= HELD - Duration::from_millis(50), "{waited:?}");

    // Four checkouts (the warm-up query, both transactions... and nothing else); exactly
    // one waited longer than 0.25 s: the second transaction, for as long as it waited.
    assert_eq!(acquire_wait(&registry, "count", None), 3.0);
    assert_eq!(acquire_wait(&registry, "bucket", Some("0.25")), 2.0);
    let total_wait = acquire_wait(&registry, "sum", None);
    assert!(
        total_wait >= waited.as_secs_f64() - 0.01,
        "{total_wait} < {waited:?}"
    );
    // Its statements (BEGIN, SELECT, COMMIT) ran at once: no query took 0.25 s, and all
    // query time together is far below the wait.
    let queries = sample(&registry, "fiko_db_queries_total", &[("pool", "pg")]);
    assert_eq!(queries, 7.0, "warm-up + 2 x (BEGIN, SELECT, COMMIT)");
    assert_eq!(query_time(&registry, "count", None), queries);
    assert_eq!(query_time(&registry, "bucket", Some("0.25")), queries);
    assert!(query_time(&registry, "sum", None) < 0.25);
    assert_eq!(
        sample(&registry, "fiko_db_pool_acquire_errors_total", &[]),
        0.0
    );
    eprintln!(
        "second transaction waited {waited:.2?} for the pool; acquire wait sum {total_wait:.3} s, query time sum {:.4} s",
        query_time(&registry, "sum", None)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_acquire_timeout_is_counted() -> TestResult {
    let pg = Postgres::start()?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(300))
        .connect(&pg.url())
        .await?;
    let registry = Registry::new();
    let pool = Instrumentation::register(&registry)?.instrument(pool, PoolConfig::named("pg"));
    let held = pool.acquire().await?;

    let started = Instant::now();
    let error = sqlx::query("SELECT 1")
        .fetch_one(&pool)
        .await
        .expect_err("the only connection is held");
    let waited = started.elapsed();
    assert!(matches!(error, sqlx::Error::PoolTimedOut), "{error:?}");
    let error = pool.acquire().await.expect_err("still held");
    assert!(matches!(error, sqlx::Error::PoolTimedOut), "{error:?}");
    drop(held);

    let timeouts = |registry: &Registry| {
        sample(
            registry,
            "fiko_db_pool_acquire_errors_total",
            &[("pool", "pg"), ("kind", "pool_timeout")],
        )
    };
    assert_eq!(timeouts(&registry), 2.0);
    // The query counts as failed, but never ran: no query time.
    assert_eq!(errors(&registry, "pool_timeout", ""), 1.0);
    assert_eq!(queries(&registry, "select"), 1.0);
    assert_eq!(query_time(&registry, "count", None), 0.0);
    // Both waited the whole acquire timeout, and the histogram says so.
    assert_eq!(acquire_wait(&registry, "count", None), 3.0);
    assert_eq!(acquire_wait(&registry, "bucket", Some("0.25")), 1.0);
    assert!(acquire_wait(&registry, "sum", None) >= 0.6);
    eprintln!("acquire timeout 300 ms: the query failed after {waited:.2?}, counted");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_acquire_begin_with_and_instrumented_inner_connections_are_recorded() -> TestResult {
    let (_pg, registry, pool) = start(2, PoolConfig::named("pg")).await?;
    sqlx::query("SELECT 1").execute(&pool).await?;
    // Connections go back to the pool in the background.
    let idle = |pool: &InstrumentedPool<Pg>| pool.num_idle() > 0;
    assert!(eventually(5, || idle(&pool)).await);

    let mut connection = pool.try_acquire().ok_or("a connection is idle")?;
    sqlx::query("SELECT 2").execute(&mut *connection).await?;
    drop(connection);

    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await?;
    let level: String = sqlx::query_scalar("SHOW transaction_isolation")
        .fetch_one(&mut *tx)
        .await?;
    assert_eq!(level, "serializable");
    tx.commit().await?;

    assert!(eventually(5, || idle(&pool)).await);
    let tx = pool.try_begin().await?.ok_or("a connection is idle")?;
    tx.rollback().await?;

    // The plain pool is not recorded; what it hands out is, once instrumented.
    let before = sample(&registry, "fiko_db_queries_total", &[]);
    sqlx::query("SELECT 3").execute(pool.inner()).await?;
    assert_eq!(sample(&registry, "fiko_db_queries_total", &[]), before);
    let mut plain = pool.instrument(pool.inner().acquire().await?);
    sqlx::query("SELECT 4").execute(&mut *plain).await?;

    // SELECTs: warm-up, try_acquire's, SHOW is `other`... and the instrumented plain one.
    assert_eq!(queries(&registry, "select"), 3.0);
    // BEGIN ... SERIALIZABLE, SHOW, COMMIT, BEGIN, ROLLBACK.
    assert_eq!(queries(&registry, "other"), 5.0);
    // Waits: the warm-up query and begin_with (try_* never wait; inner() is the user's).
    assert_eq!(acquire_wait(&registry, "count", None), 2.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_times_queries_out_and_they_work_again_once_it_continues() -> TestResult {
    const QUERY_TIMEOUT: Duration = Duration::from_millis(500);
    let pg = Postgres::start()?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(500))
        .connect(&pg.url())
        .await?;
    let mut pg = pg;
    let registry = Registry::new();
    let pool = Instrumentation::register(&registry)?
        .instrument(pool, PoolConfig::named("pg").query_timeout(QUERY_TIMEOUT));
    assert_eq!(pool.query_timeout(), Some(QUERY_TIMEOUT));
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT 1").execute(&mut *tx).await?;

    pg.pause()?;
    // A query on an open transaction, a stream and a single-row query on the pool: each
    // fails after the query timeout (or, on the pool, the acquire timeout), none hangs.
    let started = Instant::now();
    let error = sqlx::query("SELECT 2")
        .execute(&mut *tx)
        .await
        .expect_err("hung");
    let took = started.elapsed();
    assert_eq!(
        fiko_metrics_sqlx::classify(&error).kind,
        QueryErrorKind::Timeout,
        "{error}"
    );
    assert!(
        took >= QUERY_TIMEOUT && took < QUERY_TIMEOUT * 3,
        "{took:?}"
    );
    drop(tx);
    for _ in 0..2 {
        let started = Instant::now();
        let result: Result<Vec<(i32,)>, _> = sqlx::query_as("SELECT 3").fetch_all(&pool).await;
        assert!(result.is_err(), "hung");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        let started = Instant::now();
        assert!(sqlx::query("SELECT 4").fetch_optional(&pool).await.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    let timeouts = sample(
        &registry,
        "fiko_db_query_errors_total",
        &[("pool", "pg"), ("kind", "timeout")],
    );
    let pool_timeouts = errors(&registry, "pool_timeout", "");
    assert!(timeouts >= 1.0, "{timeouts}");
    assert_eq!(
        timeouts + pool_timeouts,
        5.0,
        "every failed query counted as a timeout or a pool timeout"
    );

    pg.resume()?;
    let resumed = Instant::now();
    let mut recovered = None;
    while resumed.elapsed() < Duration::from_secs(10) {
        if sqlx::query("SELECT 5").fetch_one(&pool).await.is_ok() {
            recovered = Some(resumed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovered = recovered.ok_or("no query worked within 10 s of SIGCONT")?;
    eprintln!(
        "hung PostgreSQL: query timed out after {took:.2?} ({timeouts} timeouts, {pool_timeouts} pool timeouts); first query OK {recovered:.2?} after SIGCONT"
    );
    Ok(())
}
