//! The runtime's own metrics: the label-overflow self-metric every registry exposes once a
//! metric reaches its series limit.

use fiko_metrics::{Counter, Family, LabelSet, MetricSet};

use crate::prelude::*;

/// The runtime's self-metrics, as a set the generator can observe:
/// [`fiko_metrics_label_overflow_total`](fiko_metrics::OVERFLOW_METRIC), counting the
/// series lookups folded into a metric's overflow series because it reached its series
/// limit (its `max_series`). Registries expose it themselves: nobody registers this set,
/// the generator observes it.
#[derive(MetricSet)]
#[metric_set(namespace = "fiko_metrics")]
pub struct RuntimeSelfMetrics {
    /// Series lookups whose label values were folded into a metric's overflow series because it reached its series limit.
    pub label_overflow: Family<OverflowLabels, Counter>,
}

/// Labels of the label-overflow self-metric.
#[derive(LabelSet)]
pub struct OverflowLabels {
    /// The metric that reached its series limit.
    pub metric: String,
}

impl Observe for RuntimeSelfMetrics {
    fn service() -> &'static str {
        "app"
    }

    fn rows() -> Vec<Row> {
        vec![
            Row::new("Metrics runtime").panel(
                // `or vector(0)`: the self-metric appears only once a metric overflows, and
                // an empty panel would read as "no data" rather than "no overflow".
                Panel::timeseries("Label overflow by metric")
                    .query_as(
                        "{{metric}}",
                        raw::<fiko_metrics::unit::Unitless>(
                            r#"sum by (metric) (increase(fiko_metrics_label_overflow_total{job=~"$job", instance=~"$instance"}[$__rate_interval])) or vector(0)"#,
                        ),
                    )
                    .warn_above(Count(1.0))
                    .description("Series lookups folded into a metric's overflow series because the metric reached its series limit, by metric; zero when none overflows. Bad: anything above zero: the metric's new label values are lost into `__overflow__` series (LabelOverflow fires); raise its `max_series` or drop the unbounded label."),
            ),
        ]
    }

    fn alerts() -> Vec<Alert> {
        vec![
            Alert::warning(
                "LabelOverflow",
                Self::LABEL_OVERFLOW
                    .increase()
                    .by([OverflowLabels::METRIC])
                    .above(Count(0.0)),
            )
            .for_(minutes(1))
            .summary("Metric {{ $labels.metric }} overflows its series limit on {{ $labels.instance }}")
            .description("{{ $labels.job }} at {{ $labels.instance }} folded new label values of {{ $labels.metric }} into its overflow series in the last rule window: those series are lost from dashboards and alerts. Raise the metric's max_series or drop the unbounded label."),
        ]
    }
}

#[cfg(test)]
mod tests {
    use fiko_metrics::{MetricKind, OVERFLOW_METRIC};

    use super::*;

    #[test]
    fn the_set_declares_the_registrys_overflow_self_metric() {
        let metric = &RuntimeSelfMetrics::DESCRIPTOR.metrics[0];
        assert_eq!(metric.name, OVERFLOW_METRIC.name);
        assert_eq!(metric.kind, MetricKind::Counter);
        assert_eq!(OVERFLOW_METRIC.kind, MetricKind::Counter);
        assert_eq!(metric.help, OVERFLOW_METRIC.help);
        let labels: Vec<&str> = metric.labels.iter().map(|l| l.name).collect();
        let runtime: Vec<&str> = OVERFLOW_METRIC.labels.iter().map(|l| l.name).collect();
        assert_eq!(labels, runtime);
        assert_eq!(metric.series_names(), OVERFLOW_METRIC.series_names());
    }

    #[test]
    fn the_label_overflow_alert_fires_per_metric_on_any_overflow() {
        let alerts = RuntimeSelfMetrics::alerts();
        assert_eq!(alerts.len(), 1);
        assert!(
            alerts[0].problems().is_empty(),
            "{:?}",
            alerts[0].problems()
        );
        let cx = Context::rules(minutes(5));
        assert_eq!(
            alerts[0].condition.expr.render(&cx),
            "sum by (job, instance, metric) (increase(fiko_metrics_label_overflow_total[5m]))"
        );
        assert_eq!(alerts[0].fill("{threshold}"), "0");
    }
}
