//! Default dashboard panels for the sets of this crate (`fiko_dashboards::Observe`).

use fiko_dashboards::prelude::*;

use crate::metrics::{
    DbMetrics, DbPoolMetrics, ErrorLabels, PoolLabel, PoolStateLabels, QueryLabels,
};

/// A "Database" row: query rate by operation, p95 latency by operation, overall
/// p50/p95/p99, errors by kind and class, slow queries by query name, deadlocks.
impl Observe for DbMetrics {
    fn service() -> &'static str {
        "database"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Database")
                .panel(
                    Panel::timeseries("DB query rate by operation")
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
        ]
    }
}

/// A "Database pool" row: connections in use and idle (stacked) by pool, and each pool's
/// in-use connections against its maximum.
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
        assert_eq!(panels.len(), 8);
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
        assert!(DbMetrics::alerts().is_empty());
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
    }
}
