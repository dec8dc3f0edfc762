//! Dashboard panels and rows.

use std::marker::PhantomData;

use crate::query::{Expr, Query};
use crate::units::Unit;

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
    /// Text shown in the panel's info tooltip.
    pub description: Option<String>,
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

    /// A table panel.
    pub fn table(title: &str) -> Self {
        Self::new(title, Visual::Table)
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

    /// Sets the panel's description.
    pub fn description(mut self, text: &str) -> Self {
        self.spec.description = Some(text.to_owned());
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
