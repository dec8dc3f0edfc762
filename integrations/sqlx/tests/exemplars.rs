//! With an exemplar source installed, the instrumented pool keeps the trace a query
//! started in as the exemplar of its count, duration, error and pool wait (against a real
//! SQLite database file); outside a trace it records none.

use std::time::Duration;

use fiko_metrics::exemplar::{self, ExemplarLabels};
use fiko_metrics::{Format, Registry};
use fiko_metrics_sqlx::{Instrumentation, PoolConfig};
use fiko_testkit::enter_trace;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// `(series, trace_id)` of every exemplar on the samples of `name` (OpenMetrics).
fn exemplars(registry: &Registry, name: &str) -> Vec<(String, String)> {
    fiko_testkit::exemplar_traces(&registry.encode(Format::OpenMetrics), name)
}

fn traces(registry: &Registry, name: &str) -> Vec<String> {
    exemplars(registry, name)
        .into_iter()
        .map(|(_, trace)| trace)
        .collect()
}

// One thread: the source reads this thread's current trace as each query starts.
#[tokio::test(flavor = "current_thread")]
async fn queries_keep_the_trace_they_started_in() -> Result<(), Box<dyn std::error::Error>> {
    exemplar::set_source(|| {
        ExemplarLabels::new(&[("trace_id", fiko_testkit::current_trace()?.as_str())]).ok()
    })?;
    let dir = tempfile::tempdir()?;
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("fiko.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    let registry = Registry::new();
    let db = Instrumentation::register(&registry)?;
    // Every query is slow, so the slow-query counter records too.
    let pool = db.instrument(
        pool,
        PoolConfig::named("main").slow_threshold(Duration::ZERO),
    );

    // Outside any trace: no exemplar anywhere.
    enter_trace(None);
    sqlx::query("SELECT 1").execute(&pool).await?;
    for name in ["fiko_db_queries_total", "fiko_db_query_duration_seconds"] {
        assert_eq!(traces(&registry, name), Vec::<String>::new(), "{name}");
    }

    enter_trace(Some("trace-select"));
    sqlx::query("SELECT 2").execute(&pool).await?;
    enter_trace(Some("trace-broken"));
    assert!(sqlx::query("SELEC nothing").execute(&pool).await.is_err());
    enter_trace(None);

    let queries = exemplars(&registry, "fiko_db_queries_total");
    assert!(
        queries.contains(&(
            r#"fiko_db_queries_total{pool="main",operation="select",query=""}"#.to_owned(),
            "trace-select".to_owned()
        )),
        "{queries:?}"
    );
    assert_eq!(
        traces(&registry, "fiko_db_query_errors_total"),
        ["trace-broken"]
    );
    let durations = traces(&registry, "fiko_db_query_duration_seconds_bucket");
    assert!(
        durations.contains(&"trace-select".to_owned()),
        "{durations:?}"
    );
    assert!(
        durations.contains(&"trace-broken".to_owned()),
        "{durations:?}"
    );
    assert!(traces(&registry, "fiko_db_slow_queries_total").contains(&"trace-broken".to_owned()));
    // Each query waited for the pool's one connection; the latest wait, the failing
    // query's, is its bucket's exemplar.
    let waits = traces(&registry, "fiko_db_pool_acquire_duration_seconds_bucket");
    assert!(waits.contains(&"trace-broken".to_owned()), "{waits:?}");
    // Only traces the queries ran in.
    for (series, trace) in exemplars(&registry, "fiko_db_") {
        assert!(
            ["trace-select", "trace-broken"].contains(&trace.as_str()),
            "{series}: {trace}"
        );
    }
    Ok(())
}
