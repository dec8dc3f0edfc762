//! Measures what the instrumentation adds to a query: the same `SELECT` on an in-memory
//! SQLite, through a plain pool and through an instrumented one, alternated, best of five.
//!
//! `cargo run --release -p fiko-metrics-sqlx --example sqlx_overhead`

use std::hint::black_box;
use std::time::{Duration, Instant};

use fiko_metrics::Registry;
use fiko_metrics_sqlx::{Instrumentation, Operation, PoolConfig};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Executor, Sqlite};

const QUERIES: u32 = 20_000;

async fn run<'p, E>(executor: E) -> Result<Duration, sqlx::Error>
where
    E: Executor<'p, Database = Sqlite> + Copy,
{
    let started = Instant::now();
    for id in 0..QUERIES {
        let row: (i64,) = sqlx::query_as("SELECT id FROM t WHERE id = ?")
            .bind(i64::from(id % 100))
            .fetch_one(executor)
            .await?;
        black_box(row);
    }
    Ok(started.elapsed())
}

fn per_query(total: Duration) -> f64 {
    total.as_nanos() as f64 / f64::from(QUERIES)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let plain = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await?;
        sqlx::raw_sql(
            "CREATE TABLE t (id INTEGER PRIMARY KEY); \
             WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 99) \
             INSERT INTO t SELECT x FROM c;",
        )
        .execute(&plain)
        .await?;
        let registry = Registry::new();
        let instrumented = Instrumentation::register(&registry)?
            .instrument(plain.clone(), PoolConfig::named("bench"));

        let (mut best_plain, mut best_instrumented) = (Duration::MAX, Duration::MAX);
        for _ in 0..5 {
            best_plain = best_plain.min(run(&plain).await?);
            best_instrumented = best_instrumented.min(run(&instrumented).await?);
        }
        let (plain_ns, instrumented_ns) = (per_query(best_plain), per_query(best_instrumented));
        println!("plain pool:        {plain_ns:>8.0} ns/query");
        println!("instrumented pool: {instrumented_ns:>8.0} ns/query");
        println!(
            "overhead:          {:>8.0} ns/query ({:+.1}%)",
            instrumented_ns - plain_ns,
            (instrumented_ns / plain_ns - 1.0) * 100.0
        );

        let sql = "/* list */ WITH recent AS (SELECT id FROM orders WHERE created_at > $1) \
                   SELECT * FROM recent JOIN users USING (id)";
        let started = Instant::now();
        for _ in 0..1_000_000 {
            black_box(Operation::of(black_box(sql)));
        }
        println!(
            "Operation::of on a {}-byte WITH query: {:.0} ns",
            sql.len(),
            started.elapsed().as_nanos() as f64 / 1e6
        );
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
