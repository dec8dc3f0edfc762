//! Prints how long each server of the kit takes to start, restart and stop here.
//! Run: `cargo run -p fiko-testkit --example startup`.

use std::time::Instant;

use fiko_testkit::{Postgres, PostgresExporter, Prometheus, Redis, RedisExporter, TestkitError};

fn timed<T>(what: &str, f: impl FnOnce() -> Result<T, TestkitError>) -> Result<T, TestkitError> {
    let start = Instant::now();
    let value = f()?;
    println!("{what:<28} {:>7.0} ms", start.elapsed().as_secs_f64() * 1e3);
    Ok(value)
}

fn main() -> Result<(), TestkitError> {
    let mut redis = timed("redis start", Redis::start)?;
    timed("redis stop + restart", || {
        redis.stop();
        redis.restart()
    })?;
    let mut pg = timed("postgres initdb + start", Postgres::start)?;
    timed("postgres stop", || {
        pg.stop();
        Ok(())
    })?;
    timed("postgres restart", || pg.restart())?;
    let redis_exporter = timed("redis_exporter start", || {
        RedisExporter::start(&redis.url())
    })?;
    let pg_exporter = timed("postgres_exporter start", || {
        PostgresExporter::start(&pg.url())
    })?;
    let prometheus = timed("prometheus start", || {
        Prometheus::start("global: {}\n", &[])
    })?;
    timed("drop prometheus", || {
        drop(prometheus);
        Ok(())
    })?;
    timed("drop both exporters", || {
        drop((pg_exporter, redis_exporter));
        Ok(())
    })?;
    // Includes removing the cluster's data directory.
    timed("drop postgres", || {
        drop(pg);
        Ok(())
    })?;
    timed("drop redis", || {
        drop(redis);
        Ok(())
    })?;
    Ok(())
}
