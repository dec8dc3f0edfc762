//! Dashboard panels and rows.

use std::marker::PhantomData;

use crate::query::{Expr, Query};
use crate::units::{Threshold, Unit};

/// A threshold step of a panel: from `value` (in the panel's base unit) upwards, values
/// are drawn in `color` (Grafana's color names: `green`, `orange`, `red`).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Where the step starts, in the queries' base unit (seconds, bytes, a ratio).
    pub value: f64,
    /// Grafana's color name.
    pub color: &'static str,
}

/// How a panel draws its queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visual {
    /// Lines over time.
    Timeseries,
    /// One big number.
    Stat,
    /// A dial.
    Gauge,
    /// Horizontal bars, one per series.
    BarGauge,
    /// A table of the latest values.
    Table,
    /// A histogram's buckets over time, one cell per bucket and interval.
    Heatmap,
}

impl Visual {
    /// Grafana's panel type id.
    pub const fn grafana_type(self) -> &'static str {
        match self {
            Self::Timeseries => "timeseries",
            Self::Stat => "stat",
            Self::Gauge => "gauge",
            Self::BarGauge => "bargauge",
            Self::Table => "table",
            Self::Heatmap => "heatmap",
        }
    }
}

/// One query of a panel.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The legend; by default the `by` labels (`{{route}}`).
    pub legend: Option<String>,
    /// The query.
    pub expr: Expr,
}

/// A panel whose queries are all in unit `U`; becomes a [`PanelSpec`] in a [`Row`].
#[derive(Clone, Debug)]
pub struct Panel<U> {
    spec: PanelSpec,
    unit: PhantomData<fn() -> U>,
}

/// A panel as the generator reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelSpec {
    /// The title.
    pub title: String,
    /// How it is drawn.
    pub visual: Visual,
    /// Grafana's unit id, from the queries' unit.
    pub unit: &'static str,
    /// The queries, in order (`A`, `B`, ...).
    pub targets: Vec<Target>,
    /// Series stacked on each other (time series only).
    pub stacked: bool,
    /// Text shown in the panel's info tooltip: what the panel shows and what bad looks
    /// like.
    pub description: Option<String>,
    /// Threshold steps set on the panel itself; the generator adds those of the alerts on
    /// the panel's signal. Without any, the panel has one green base step (never Grafana's
    /// default red above 80).
    pub thresholds: Vec<Step>,
    /// Shown in the overview dashboard's first section, among the golden signals.
    pub overview: bool,
}

impl<U: Unit> Panel<U> {
    fn new(title: &str, visual: Visual) -> Self {
        Self {
            spec: PanelSpec {
                title: title.to_owned(),
                visual,
                unit: U::GRAFANA,
                targets: Vec::new(),
                stacked: false,
                description: None,
                thresholds: Vec::new(),
                overview: false,
            },
            unit: PhantomData,
        }
    }

    /// A time series panel.
    pub fn timeseries(title: &str) -> Self {
        Self::new(title, Visual::Timeseries)
    }

    /// A single-value panel.
    pub fn stat(title: &str) -> Self {
        Self::new(title, Visual::Stat)
    }

    /// A gauge panel.
    pub fn gauge(title: &str) -> Self {
        Self::new(title, Visual::Gauge)
    }

    /// A bar gauge panel.
    pub fn bar_gauge(title: &str) -> Self {
        Self::new(title, Visual::BarGauge)
    }

    /// A table panel (its queries are instant, formatted as a table).
    pub fn table(title: &str) -> Self {
        Self::new(title, Visual::Table)
    }

    /// A heatmap panel, for a histogram's [`buckets`](crate::HistogramQueries::buckets).
    pub fn heatmap(title: &str) -> Self {
        Self::new(title, Visual::Heatmap)
    }

    /// Adds a query, its legend taken from its `by` labels.
    pub fn query<L>(mut self, query: Query<L, U>) -> Self {
        self.spec.targets.push(Target {
            legend: None,
            expr: query.into_expr(),
        });
        self
    }

    /// Adds a query with a legend (`"p95"`, or a template such as `"{{route}} p95"`).
    pub fn query_as<L>(mut self, legend: &str, query: Query<L, U>) -> Self {
        self.spec.targets.push(Target {
            legend: Some(legend.to_owned()),
            expr: query.into_expr(),
        });
        self
    }

    /// Stacks the series (responses by status class, memory by kind).
    pub fn stacked(mut self) -> Self {
        self.spec.stacked = true;
        self
    }

    /// Sets the panel's description: what it shows and what bad looks like.
    pub fn description(mut self, text: &str) -> Self {
        self.spec.description = Some(text.to_owned());
        self
    }

    /// Values from `threshold` upwards are a warning (orange), in the queries' unit.
    pub fn warn_above(mut self, threshold: impl Threshold<U>) -> Self {
        self.spec.thresholds.push(Step {
            value: threshold.value(),
            color: "orange",
        });
        self
    }

    /// Values from `threshold` upwards are bad (red), in the queries' unit.
    pub fn bad_above(mut self, threshold: impl Threshold<U>) -> Self {
        self.spec.thresholds.push(Step {
            value: threshold.value(),
            color: "red",
        });
        self
    }

    /// Shows the panel in the overview dashboard's first section too (golden signals).
    pub fn overview(mut self) -> Self {
        self.spec.overview = true;
        self
    }

    /// The panel as the generator reads it.
    pub fn into_spec(self) -> PanelSpec {
        self.spec
    }
}

/// A titled section of a dashboard.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The section title.
    pub title: String,
    /// The panels, in order.
    pub panels: Vec<PanelSpec>,
}

impl Row {
    /// An empty section.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            panels: Vec::new(),
        }
    }

    /// Adds a panel.
    pub fn panel<U: Unit>(mut self, panel: Panel<U>) -> Self {
        self.panels.push(panel.into_spec());
        self
    }
}
