//! Default dashboard panels and alerts for the sets of this crate and postgres_exporter's
//! (`fiko_dashboards::Observe`).

use fiko_dashboards::prelude::*;

use crate::exporter::{PgActivityLabels, PgDatabaseLabels, PgDatabaseSizeLabels, PostgresExporter};
use crate::metrics::{
    AcquireErrorLabels, DbMetrics, DbPoolMetrics, ErrorLabels, PoolLabel, PoolStateLabels,
    QueryLabels,
};

/// The p95 wait for a pool connection above which `DbPoolSaturated` fires: half a second
/// spent queueing for the pool is more than most queries take themselves.
pub const POOL_WAIT_P95_THRESHOLD: f64 = 0.5;

/// A "Database" row: query rate by operation, p95 latency by operation, overall
/// p50/p95/p99, errors by kind and class, slow queries by query name, deadlocks; a
/// "Database pool checkouts" row: the wait for a pool connection (p50/p95/p99) and failed
/// checkouts by kind, with the alerts `DbPoolAcquireTimeouts` and `DbPoolSaturated` (this
/// set records them, on the query path).
impl Observe for DbMetrics {
    fn service() -> &'static str {
        "database"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Database")
                .panel(
                    Panel::timeseries("DB query rate by operation").overview()
                        .query(Self::QUERIES.rate().by([QueryLabels::OPERATION]))
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("DB query latency p95 by operation").query(
                        Self::QUERY_DURATION_SECONDS
                            .quantile(0.95)
                            .by([QueryLabels::OPERATION]),
                    ),
                )
                .panel(
                    Panel::timeseries("DB query latency")
                        .query_as("p50", Self::QUERY_DURATION_SECONDS.quantile(0.5))
                        .query_as("p95", Self::QUERY_DURATION_SECONDS.quantile(0.95))
                        .query_as("p99", Self::QUERY_DURATION_SECONDS.quantile(0.99)),
                )
                .panel(
                    Panel::timeseries("DB query errors by kind and class")
                        .query(
                            Self::QUERY_ERRORS
                                .rate()
                                .by([ErrorLabels::KIND, ErrorLabels::CLASS]),
                        )
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Slow DB queries by query").query(
                        Self::SLOW_QUERIES
                            .rate()
                            .by([QueryLabels::OPERATION, QueryLabels::QUERY]),
                    ),
                )
                .panel(
                    Panel::timeseries("DB deadlocks by pool")
                        .query(Self::DEADLOCKS.rate().by([PoolLabel::POOL])),
                ),
            Row::new("Database pool checkouts")
                .panel(
                    Panel::timeseries("DB pool acquire wait")
                        .description(
                            "Time queries and transactions waited for a pool connection (not query time): high when the pool is too small for the load or connections are held too long.",
                        )
                        .query_as(
                            "p50 {{pool}}",
                            Self::POOL_ACQUIRE_DURATION_SECONDS
                                .quantile(0.5)
                                .by([PoolLabel::POOL]),
                        )
                        .query_as(
                            "p95 {{pool}}",
                            Self::POOL_ACQUIRE_DURATION_SECONDS
                                .quantile(0.95)
                                .by([PoolLabel::POOL]),
                        )
                        .query_as(
                            "p99 {{pool}}",
                            Self::POOL_ACQUIRE_DURATION_SECONDS
                                .quantile(0.99)
                                .by([PoolLabel::POOL]),
                        ),
                )
                .panel(
                    Panel::timeseries("DB pool acquire errors by kind")
                        .description(
                            "Checkouts that got no connection: pool_timeout when none came free within the acquire timeout.",
                        )
                        .query(
                            Self::POOL_ACQUIRE_ERRORS
                                .rate()
                                .by([AcquireErrorLabels::POOL, AcquireErrorLabels::KIND]),
                        )
                        .stacked(),
                ),
        ]
    }

    /// `DbPoolAcquireTimeouts`: callers got no connection within the acquire timeout (each
    /// one failed). `DbPoolSaturated`: the p95 wait for a connection stayed above half a
    /// second, before it comes to timeouts. Both warnings: causes, which the request error
    /// rate and latency alerts page on when users feel them.
    fn alerts() -> Vec<Alert> {
        vec![
            Alert::warning(
                "DbPoolAcquireTimeouts",
                Self::POOL_ACQUIRE_ERRORS
                    .increase()
                    .filter(AcquireErrorLabels::KIND, "pool_timeout")
                    .by([AcquireErrorLabels::POOL])
                    .above(Count(0.0)),
            )
            .for_(minutes(5))
            .summary("Pool {{ $labels.pool }} times out handing out connections on {{ $labels.instance }}")
            .description(
                "Queries on pool {{ $labels.pool }} waited the whole acquire timeout for a connection and failed, for {for}: the pool is exhausted (too small, connections held too long or leaked, or the database hung).",
            )
            .diagnosis("Long transactions or connections held across slow calls starve the pool; pg_stat_activity shows who holds them.")
            .mitigation("End the long transactions, release connections before slow calls, or enlarge the pool within max_connections."),
            Alert::warning(
                "DbPoolSaturated",
                Self::POOL_ACQUIRE_DURATION_SECONDS
                    .quantile(0.95)
                    .by([PoolLabel::POOL])
                    .above(Seconds(POOL_WAIT_P95_THRESHOLD)),
            )
            .for_(minutes(10))
            .summary("Pool {{ $labels.pool }} is saturated on {{ $labels.instance }}")
            .description(
                "The p95 wait for a connection of pool {{ $labels.pool }} has been above {threshold} for {for}: callers queue for the pool, not for the database.",
            )
            .diagnosis("More concurrent callers than connections, or connections kept busy by slow queries, make callers queue.")
            .mitigation("Speed up the slowest queries or raise the pool size; cap the callers' concurrency otherwise."),
        ]
    }
}

/// A "Database pool" row: connections in use and idle (stacked) by pool, and each pool's
/// in-use connections against its maximum, read from the pools at scrape time.
impl Observe for DbPoolMetrics {
    fn service() -> &'static str {
        "database"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Database pool")
                .panel(
                    Panel::timeseries("DB pool connections by state")
                        .query(
                            Self::POOL_CONNECTIONS
                                .value()
                                .by([PoolStateLabels::POOL, PoolStateLabels::STATE]),
                        )
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("DB pool connections in use vs max")
                        .query_as(
                            "in use {{pool}}",
                            Self::POOL_CONNECTIONS
                                .value()
                                .filter(PoolStateLabels::STATE, "in_use")
                                .by([PoolStateLabels::POOL]),
                        )
                        .query_as(
                            "max {{pool}}",
                            Self::POOL_MAX_CONNECTIONS.value().by([PoolLabel::POOL]),
                        ),
                ),
        ]
    }
}

// Found by generators that read the application's registry
// (`Generator::observe_registered`), so applications need not list these sets again.
fiko_dashboards::observed!(DbMetrics, DbPoolMetrics);

impl Observe for PostgresExporter {
    fn service() -> &'static str {
        "postgres"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("PostgreSQL")
                .panel(
                    Panel::timeseries("Postgres connections")
                        .overview()
                        .query(
                            Self::STAT_ACTIVITY_COUNT
                                .value()
                                .by([PgActivityLabels::STATE]),
                        )
                        .query_as("max", Self::SETTINGS_MAX_CONNECTIONS.value())
                        .stacked(),
                )
                .panel(
                    Panel::timeseries("Postgres transactions per second")
                        .query_as("commit", Self::STAT_DATABASE_XACT_COMMIT.rate())
                        .query_as("rollback", Self::STAT_DATABASE_XACT_ROLLBACK.rate()),
                )
                .panel(
                    Panel::timeseries("Postgres cache hit ratio").query(ratio(
                        Self::STAT_DATABASE_BLKS_HIT.rate(),
                        Self::STAT_DATABASE_BLKS_HIT
                            .rate()
                            .plus(Self::STAT_DATABASE_BLKS_READ.rate()),
                    )),
                )
                .panel(
                    Panel::bar_gauge("Postgres database size").query(
                        Self::DATABASE_SIZE_BYTES
                            .value()
                            .by([PgDatabaseSizeLabels::DATNAME]),
                    ),
                )
                .panel(
                    Panel::timeseries("Postgres deadlocks").query(
                        Self::STAT_DATABASE_DEADLOCKS
                            .increase()
                            .by([PgDatabaseLabels::DATNAME]),
                    ),
                ),
        ]
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::critical("PostgresDown", Self::UP.value().equals(Count(0.0)))
                .for_(minutes(1))
                .explains_service()
                .summary("The PostgreSQL server behind {{ $labels.instance }} is down")
                .description("postgres_exporter at {{ $labels.instance }} answers but cannot connect to PostgreSQL (pg_up == 0) for {for}: the database server is down or refuses connections, the exporter is fine.")
                .diagnosis("PostgreSQL stopped, ran out of disk or connection slots, or the exporter's credentials were changed; the server log names it.")
                .mitigation("Restart PostgreSQL or free the disk; when connections ran out, find the client holding them in pg_stat_activity."),
            Alert::critical(
                "PostgresExporterDown",
                raw_condition("absent(pg_up)"),
            )
            .for_(minutes(2))
            .summary("No postgres_exporter reports: the state of PostgreSQL is unknown")
            .description("No series `pg_up` for {for}: postgres_exporter itself is down or not scraped, so nothing says whether PostgreSQL is up. The TargetDown or TargetMissing alert of postgres_exporter's job says which of the two.")
            .diagnosis("The postgres_exporter process stopped, or its scrape job was removed or renamed.")
            .mitigation("Restart postgres_exporter and check that Prometheus' targets page lists its job as up.")
            .tested_with(
                AlertTest::new()
                    .firing("pg_stat_activity_count{job=\"postgres\",instance=\"postgres-exporter:9187\"}", "1x20")
                    .silent("pg_up{job=\"postgres\",instance=\"postgres-exporter:9187\"}", "1x20"),
            ),
            Alert::warning(
                "PostgresHighConnections",
                Self::STAT_ACTIVITY_COUNT.value().above(Count(80.0)),
            )
            .for_(minutes(5))
            .summary("PostgreSQL has more than {threshold} connections on {{ $labels.instance }}")
            .description("PostgreSQL at {{ $labels.instance }} has had more than {threshold} connections for {for}; the pool or max_connections may run out.")
            .diagnosis("Connections idle in transaction, or more application instances times their pool size than max_connections, pile up.")
            .mitigation("Terminate connections idle in transaction and size the pools so their sum stays under max_connections."),
            Alert::warning(
                "PostgresDeadlocks",
                Self::STAT_DATABASE_DEADLOCKS
                    .increase()
                    .by([PgDatabaseLabels::DATNAME])
                    .above(Count(0.0)),
            )
            .for_(minutes(1))
            .summary("Deadlocks in database {{ $labels.datname }} on {{ $labels.instance }}")
            .description("PostgreSQL at {{ $labels.instance }} detected deadlocks in {{ $labels.datname }} in the last rule window.")
            .diagnosis("Two transactions lock the same rows in opposite orders; the PostgreSQL log prints both statements of each deadlock.")
            .mitigation("Make the transactions take their locks in one order, or shorten them."),
        ]
    }
}

#[cfg(test)]
mod tests {
    use fiko_dashboards::prelude::*;

    use crate::{DbMetrics, DbPoolMetrics};

    fn rendered(rows: Vec<Row>) -> Vec<(String, String)> {
        rows.into_iter()
            .flat_map(|row| row.panels)
            .flat_map(|panel| {
                let title = panel.title.clone();
                panel.targets.into_iter().map(move |target| {
                    assert!(
                        target.expr.problems().is_empty(),
                        "{title}: {:?}",
                        target.expr.problems()
                    );
                    (title.clone(), target.expr.render(&Context::dashboard()))
                })
            })
            .collect()
    }

    #[test]
    fn query_panels_read_the_declared_series() {
        let panels = rendered(DbMetrics::rows());
        assert_eq!(panels.len(), 12);
        let rate = &panels[0];
        assert_eq!(rate.0, "DB query rate by operation");
        assert!(rate.1.contains("rate(fiko_db_queries_total{"), "{}", rate.1);
        assert!(rate.1.starts_with("sum by (operation)"), "{}", rate.1);
        let p95 = &panels[1];
        assert!(p95.1.contains("histogram_quantile(0.95"), "{}", p95.1);
        assert!(
            p95.1.contains("fiko_db_query_duration_seconds_bucket"),
            "{}",
            p95.1
        );
        assert!(p95.1.contains("operation"), "{}", p95.1);
        assert!(
            panels
                .iter()
                .any(|(_, expr)| expr.contains("fiko_db_deadlocks_total"))
        );
        assert!(
            panels
                .iter()
                .any(|(_, expr)| expr.contains("fiko_db_slow_queries_total"))
        );
        let wait = &panels[9];
        assert_eq!(wait.0, "DB pool acquire wait");
        assert!(
            wait.1.starts_with(
                "histogram_quantile(0.95, sum by (le, pool) (rate(fiko_db_pool_acquire_duration_seconds_bucket{"
            ),
            "{}",
            wait.1
        );
        assert!(
            panels[11].1.contains("fiko_db_pool_acquire_errors_total{"),
            "{}",
            panels[11].1
        );
    }

    #[test]
    fn pool_panels_read_the_gauges() {
        let panels = rendered(DbPoolMetrics::rows());
        assert_eq!(panels.len(), 3);
        assert!(
            panels[0].1.starts_with("sum by (pool, state)"),
            "{}",
            panels[0].1
        );
        assert!(
            panels[0].1.contains("fiko_db_pool_connections{"),
            "{}",
            panels[0].1
        );
        assert!(panels[1].1.contains(r#"state="in_use""#), "{}", panels[1].1);
        assert!(
            panels[2].1.contains("fiko_db_pool_max_connections"),
            "{}",
            panels[2].1
        );
        assert!(DbPoolMetrics::alerts().is_empty());
    }

    #[test]
    fn pool_alerts_read_the_acquire_metrics() {
        let alerts = DbMetrics::alerts();
        let names: Vec<&str> = alerts.iter().map(|alert| alert.name.as_str()).collect();
        assert_eq!(names, ["DbPoolAcquireTimeouts", "DbPoolSaturated"]);
        let rules = Context::rules(minutes(5));
        for alert in &alerts {
            assert_eq!(alert.problems(), Vec::<String>::new(), "{}", alert.name);
        }
        assert_eq!(
            alerts[0].condition.expr.render(&rules),
            r#"sum by (job, instance, pool) (increase(fiko_db_pool_acquire_errors_total{kind="pool_timeout"}[5m]))"#
        );
        assert_eq!(
            alerts[1].condition.expr.render(&rules),
            "histogram_quantile(0.95, sum by (le, job, instance, pool) (rate(fiko_db_pool_acquire_duration_seconds_bucket[5m])))"
        );
        assert_eq!(
            alerts[1].condition.threshold,
            super::POOL_WAIT_P95_THRESHOLD
        );
    }
}
