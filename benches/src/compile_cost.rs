//! The compile-cost workload (issue 20, target 4): the same metric sets declared three
//! ways — fiko-metrics' `#[derive(MetricSet)]`, measured's `#[derive(MetricGroup)]`, and
//! prometheus-client registered by hand — as Rust source, for any number of sets.
//!
//! Each set has 10 metrics, a realistic mix: 4 counters, 3 gauges and 3 histograms (a
//! bucket list, `exponential(...)`, and the default buckets); closed enum labels (an
//! operation and an outcome, 12 series), open string labels (a route, a tenant), no labels;
//! units (`bytes`, `seconds`) and a doc comment on every metric. Every source declares its
//! label types and sets, and `pub fn exposition() -> Result<String, String>`, which
//! registers every set, records one sample into every metric and returns the text
//! exposition: a declaration is compiled as an application uses it (measured's derive is
//! generic over the encoder, so only a use compiles it).
//!
//! The sources are plain items (no inner attributes), so a test can `include!` them into a
//! module. Used by the `compile-cost-gen` binary (which writes the three crates of the
//! benchmark) and by `benches/build.rs` (a small instance the equivalence test builds).
//!
//! Std only: `build.rs` compiles this file on its own.

use std::fmt::Write as _;

/// One way of declaring the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approach {
    /// fiko-metrics' `#[derive(MetricSet)]`.
    Fiko,
    /// measured's `#[derive(MetricGroup)]`.
    Measured,
    /// prometheus-client, each metric registered by hand.
    ByHand,
}

impl Approach {
    /// Every approach, in the order the benchmark reports them.
    pub const ALL: [Approach; 3] = [Approach::Fiko, Approach::Measured, Approach::ByHand];

    /// The generated crate's package name (its folder is the name without `cc-`).
    pub fn package(self) -> &'static str {
        match self {
            Approach::Fiko => "cc-fiko",
            Approach::Measured => "cc-measured",
            Approach::ByHand => "cc-by-hand",
        }
    }

    /// The generated crate's `[dependencies]`, given the repository root.
    pub fn dependencies(self, repo: &str) -> String {
        match self {
            Approach::Fiko => format!("fiko-metrics = {{ path = {:?} }}\n", format!("{repo}/fiko-metrics")),
            Approach::Measured => {
                "measured = { version = \"0.0.25\", features = [\"paracord\"] }\nparacord = \"0.1\"\n"
                    .to_owned()
            }
            Approach::ByHand => "prometheus-client = \"0.26\"\n".to_owned(),
        }
    }
}

/// Metrics per set.
pub const METRICS_PER_SET: usize = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The label set of a metric: closed (operation × outcome), mixed (an open route and the
/// outcome), open (a tenant).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Labels {
    None,
    Closed,
    Mixed,
    Open,
}

#[derive(Clone, Copy)]
enum Buckets {
    None,
    List(&'static [f64]),
    Exponential(f64, f64, usize),
    /// fiko-metrics' defaults (Prometheus' 11); the others spell them out.
    Default,
}

const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

struct Spec {
    field: &'static str,
    kind: Kind,
    unit: Option<&'static str>,
    labels: Labels,
    buckets: Buckets,
    help: &'static str,
}

const SPECS: [Spec; METRICS_PER_SET] = [
    Spec {
        field: "requests",
        kind: Kind::Counter,
        unit: None,
        labels: Labels::Closed,
        buckets: Buckets::None,
        help: "Requests handled, by operation and outcome.",
    },
    Spec {
        field: "errors",
        kind: Kind::Counter,
        unit: None,
        labels: Labels::Mixed,
        buckets: Buckets::None,
        help: "Failed requests, by route and outcome.",
    },
    Spec {
        field: "sent",
        kind: Kind::Counter,
        unit: Some("bytes"),
        labels: Labels::None,
        buckets: Buckets::None,
        help: "Bytes sent to clients.",
    },
    Spec {
        field: "in_flight",
        kind: Kind::Gauge,
        unit: None,
        labels: Labels::None,
        buckets: Buckets::None,
        help: "Requests being handled.",
    },
    Spec {
        field: "queue_depth",
        kind: Kind::Gauge,
        unit: None,
        labels: Labels::Open,
        buckets: Buckets::None,
        help: "Jobs waiting, by tenant.",
    },
    Spec {
        field: "latency",
        kind: Kind::Histogram,
        unit: Some("seconds"),
        labels: Labels::Closed,
        buckets: Buckets::List(LATENCY_BUCKETS),
        help: "Request latency, by operation and outcome.",
    },
    Spec {
        field: "payload",
        kind: Kind::Histogram,
        unit: Some("bytes"),
        labels: Labels::None,
        buckets: Buckets::Exponential(64.0, 4.0, 8),
        help: "Request payload sizes.",
    },
    Spec {
        field: "route_duration",
        kind: Kind::Histogram,
        unit: Some("seconds"),
        labels: Labels::Mixed,
        buckets: Buckets::Default,
        help: "Time spent per route, by outcome.",
    },
    Spec {
        field: "retries",
        kind: Kind::Counter,
        unit: None,
        labels: Labels::Open,
        buckets: Buckets::None,
        help: "Retried jobs, by tenant.",
    },
    Spec {
        field: "connections",
        kind: Kind::Gauge,
        unit: None,
        labels: Labels::Closed,
        buckets: Buckets::None,
        help: "Open connections, by operation and outcome.",
    },
];

impl Spec {
    /// The exposed name without the namespace: the field and its unit.
    fn exposed(&self) -> String {
        match self.unit {
            Some(unit) => format!("{}_{unit}", self.field),
            None => self.field.to_owned(),
        }
    }

    fn label_type(&self, set: usize) -> Option<String> {
        (self.labels != Labels::None).then(|| label_type(self.labels, set))
    }

    fn bucket_count(&self) -> usize {
        match self.buckets {
            Buckets::None => 0,
            Buckets::List(list) => list.len(),
            Buckets::Exponential(_, _, count) => count,
            Buckets::Default => DEFAULT_BUCKETS.len(),
        }
    }

    /// The value recorded into the metric.
    fn sample(&self) -> &'static str {
        match self.kind {
            Kind::Counter => "3",
            Kind::Gauge => "7",
            Kind::Histogram => "0.042",
        }
    }
}

/// The name of a set's label type.
fn label_type(labels: Labels, set: usize) -> String {
    match labels {
        Labels::None => "()".to_owned(),
        Labels::Closed => format!("OpOutcome{set}"),
        Labels::Mixed => format!("RouteOutcome{set}"),
        Labels::Open => format!("Tenant{set}"),
    }
}

/// A list of floats as a Rust array literal.
fn array(bounds: &[f64]) -> String {
    let items: Vec<String> = bounds.iter().map(|b| format!("{b:?}")).collect();
    format!("[{}]", items.join(", "))
}

/// The label set recorded into a metric with `labels`, as an expression of `approach`.
fn label_value(approach: Approach, labels: Labels, set: usize) -> String {
    let owned = |s: &str| match approach {
        Approach::Measured => format!("{s:?}"),
        Approach::Fiko | Approach::ByHand => format!("{s:?}.to_owned()"),
    };
    match labels {
        Labels::None => String::new(),
        Labels::Closed => {
            format!("OpOutcome{set} {{ op: Op{set}::Write, outcome: Outcome{set}::Ok }}")
        }
        Labels::Mixed => format!(
            "RouteOutcome{set} {{ route: {}, outcome: Outcome{set}::Timeout }}",
            owned("/api/v1/users/{id}")
        ),
        Labels::Open => format!("Tenant{set} {{ tenant: {} }}", owned("acme")),
    }
}

/// One sample into every metric of set `set`, as the fiko-metrics and the prometheus-client
/// crates write it (the same `get_or_create` and recording calls).
fn record_samples(out: &mut String, approach: Approach, set: usize) {
    for spec in &SPECS {
        let target = match spec.labels {
            Labels::None => format!("set.{}", spec.field),
            labels => format!(
                "set.{}.get_or_create(&{})",
                spec.field,
                label_value(approach, labels, set)
            ),
        };
        let call = match spec.kind {
            Kind::Counter => "inc_by",
            Kind::Gauge => "set",
            Kind::Histogram => "observe",
        };
        let _ = writeln!(out, "    {target}.{call}({});", spec.sample());
    }
}

/// The whole source of one approach's crate, for `sets` sets.
pub fn source(approach: Approach, sets: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Generated by benches/src/compile_cost.rs: {sets} sets × {METRICS_PER_SET} metrics ({approach:?}).\n"
    );
    match approach {
        Approach::Fiko => fiko(&mut out, sets),
        Approach::Measured => measured(&mut out, sets),
        Approach::ByHand => by_hand(&mut out, sets),
    }
    out
}

fn fiko(out: &mut String, sets: usize) {
    out.push_str(
        "use fiko_metrics::{Counter, Family, Format, Gauge, Histogram, LabelSet, LabelValue, MetricSet, Registry};\n\n",
    );
    for set in 0..sets {
        let _ = writeln!(
            out,
            "/// An operation.
#[derive(Clone, Copy, Debug, LabelValue)]
pub enum Op{set} {{ Read, Write, Delete, List }}

/// How a request ended.
#[derive(Clone, Copy, Debug, LabelValue)]
pub enum Outcome{set} {{ Ok, Error, Timeout }}

/// Operation and outcome.
#[derive(LabelSet)]
pub struct OpOutcome{set} {{ pub op: Op{set}, pub outcome: Outcome{set} }}

/// Route and outcome.
#[derive(LabelSet)]
pub struct RouteOutcome{set} {{ pub route: String, pub outcome: Outcome{set} }}

/// A tenant.
#[derive(LabelSet)]
pub struct Tenant{set} {{ pub tenant: String }}

/// Set {set} of the workload.
#[derive(MetricSet)]
#[metric_set(namespace = \"app\", subsystem = \"set{set}\")]
pub struct Set{set} {{"
        );
        for spec in &SPECS {
            let _ = writeln!(out, "    /// {}", spec.help);
            let mut keys = Vec::new();
            if let Some(unit) = spec.unit {
                keys.push(format!("unit = {unit:?}"));
            }
            match spec.buckets {
                Buckets::List(list) => keys.push(format!("buckets = {}", array(list))),
                Buckets::Exponential(start, factor, count) => {
                    keys.push(format!(
                        "buckets = exponential({start:?}, {factor:?}, {count})"
                    ));
                }
                Buckets::None | Buckets::Default => {}
            }
            if !keys.is_empty() {
                let _ = writeln!(out, "    #[metric({})]", keys.join(", "));
            }
            let metric = match spec.kind {
                Kind::Counter => "Counter",
                Kind::Gauge => "Gauge",
                Kind::Histogram => "Histogram",
            };
            let ty = match spec.label_type(set) {
                Some(labels) => format!("Family<{labels}, {metric}>"),
                None => metric.to_owned(),
            };
            let _ = writeln!(out, "    pub {}: {ty},", spec.field);
        }
        out.push_str("}\n\n");
        let _ = writeln!(
            out,
            "fn record_set{set}(registry: &Registry) -> Result<(), String> {{
    let set = Set{set}::register(registry).map_err(|error| error.to_string())?;"
        );
        record_samples(out, Approach::Fiko, set);
        out.push_str("    Ok(())\n}\n\n");
    }
    out.push_str(
        "/// Registers every set, records one sample into every metric, and encodes the registry.
pub fn exposition() -> Result<String, String> {
    let registry = Registry::new();\n",
    );
    for set in 0..sets {
        let _ = writeln!(out, "    record_set{set}(&registry)?;");
    }
    out.push_str("    Ok(registry.encode(Format::Prometheus))\n}\n");
}

fn measured(out: &mut String, sets: usize) {
    out.push_str(
        "use measured::metric::histogram::Thresholds;
use measured::{Counter, CounterVec, FixedCardinalityLabel, Gauge, GaugeVec, Histogram, HistogramVec, LabelGroup, MetricGroup};\n\n",
    );
    for set in 0..sets {
        let _ = writeln!(
            out,
            "/// An operation.
#[derive(Clone, Copy, Debug, FixedCardinalityLabel)]
#[label(rename_all = \"snake_case\")]
pub enum Op{set} {{ Read, Write, Delete, List }}

/// How a request ended.
#[derive(Clone, Copy, Debug, FixedCardinalityLabel)]
#[label(rename_all = \"snake_case\")]
pub enum Outcome{set} {{ Ok, Error, Timeout }}

/// Operation and outcome.
#[derive(Clone, Copy, Debug, LabelGroup)]
#[label(set = OpOutcome{set}Set)]
pub struct OpOutcome{set} {{ pub op: Op{set}, pub outcome: Outcome{set} }}

/// Route and outcome.
#[derive(Clone, Copy, Debug, LabelGroup)]
#[label(set = RouteOutcome{set}Set)]
pub struct RouteOutcome{set}<'a> {{
    #[label(dynamic_with = paracord::ParaCord, default)]
    pub route: &'a str,
    pub outcome: Outcome{set},
}}

/// A tenant.
#[derive(Clone, Copy, Debug, LabelGroup)]
#[label(set = Tenant{set}Set)]
pub struct Tenant{set}<'a> {{
    #[label(dynamic_with = paracord::ParaCord, default)]
    pub tenant: &'a str,
}}

/// Set {set} of the workload.
#[derive(MetricGroup)]
#[metric(new())]
pub struct Set{set} {{"
        );
        for spec in &SPECS {
            let _ = writeln!(out, "    /// {}", spec.help);
            match spec.buckets {
                Buckets::List(list) => {
                    let _ = writeln!(
                        out,
                        "    #[metric(metadata = Thresholds::with_buckets({}))]",
                        array(list)
                    );
                }
                Buckets::Default => {
                    let _ = writeln!(
                        out,
                        "    #[metric(metadata = Thresholds::with_buckets({}))]",
                        array(DEFAULT_BUCKETS)
                    );
                }
                Buckets::Exponential(start, factor, _) => {
                    let _ = writeln!(
                        out,
                        "    #[metric(metadata = Thresholds::exponential_buckets({start:?}, {factor:?}))]"
                    );
                }
                Buckets::None => {}
            }
            let n = spec.bucket_count();
            let ty = match (spec.kind, spec.label_type(set)) {
                (Kind::Counter, None) => "Counter".to_owned(),
                (Kind::Gauge, None) => "Gauge".to_owned(),
                (Kind::Histogram, None) => format!("Histogram<{n}>"),
                (Kind::Counter, Some(labels)) => format!("CounterVec<{labels}Set>"),
                (Kind::Gauge, Some(labels)) => format!("GaugeVec<{labels}Set>"),
                (Kind::Histogram, Some(labels)) => format!("HistogramVec<{labels}Set, {n}>"),
            };
            let _ = writeln!(out, "    pub {}: {ty},", spec.exposed());
        }
        out.push_str("}\n\n");
        let _ = writeln!(out, "fn record_set{set}(set: &Set{set}) {{");
        for spec in &SPECS {
            let call = match spec.kind {
                Kind::Counter => "inc_by",
                Kind::Gauge => "set",
                Kind::Histogram => "observe",
            };
            let labels = match spec.labels {
                Labels::None => String::new(),
                labels => format!("{}, ", label_value(Approach::Measured, labels, set)),
            };
            let _ = writeln!(
                out,
                "    set.{}.{call}({labels}{});",
                spec.exposed(),
                spec.sample()
            );
        }
        out.push_str("}\n\n");
    }
    out.push_str("/// Every set, each under its namespace.\n#[derive(MetricGroup)]\n#[metric(new())]\npub struct AllSets {\n");
    for set in 0..sets {
        let _ = writeln!(
            out,
            "    #[metric(namespace = \"app_set{set}\", init = Set{set}::new())]\n    pub set{set}: Set{set},"
        );
    }
    out.push_str(
        "}\n
/// Creates every set, records one sample into every metric, and encodes the groups.
pub fn exposition() -> Result<String, String> {
    let sets = AllSets::new();\n",
    );
    for set in 0..sets {
        let _ = writeln!(out, "    record_set{set}(&sets.set{set});");
    }
    out.push_str(
        "    let mut encoder = measured::text::BufferedTextEncoder::new();
    match sets.collect_group_into(&mut encoder) {
        Ok(()) => {}
        Err(never) => match never {},
    }
    String::from_utf8(encoder.finish().to_vec()).map_err(|error| error.to_string())
}\n",
    );
}

fn by_hand(out: &mut String, sets: usize) {
    out.push_str(
        "use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};\n\n",
    );
    for set in 0..sets {
        let _ = writeln!(
            out,
            "/// An operation.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Op{set} {{ Read, Write, Delete, List }}

/// How a request ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Outcome{set} {{ Ok, Error, Timeout }}

/// Operation and outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OpOutcome{set} {{ pub op: Op{set}, pub outcome: Outcome{set} }}

/// Route and outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteOutcome{set} {{ pub route: String, pub outcome: Outcome{set} }}

/// A tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Tenant{set} {{ pub tenant: String }}

/// Set {set} of the workload.
pub struct Set{set} {{"
        );
        for spec in &SPECS {
            let _ = writeln!(out, "    /// {}", spec.help);
            let metric = match spec.kind {
                Kind::Counter => "Counter",
                Kind::Gauge => "Gauge",
                Kind::Histogram => "Histogram",
            };
            let ty = match spec.label_type(set) {
                Some(labels) => format!("Family<{labels}, {metric}>"),
                None => metric.to_owned(),
            };
            let _ = writeln!(out, "    pub {}: {ty},", spec.field);
        }
        let _ = writeln!(
            out,
            "}}

impl Set{set} {{
    /// Creates the set and registers its metrics under `app_set{set}`.
    pub fn register(registry: &mut Registry) -> Self {{
        let set = Self {{"
        );
        for spec in &SPECS {
            let histogram = match spec.buckets {
                Buckets::List(list) => format!("Histogram::new({})", array(list)),
                Buckets::Default => format!("Histogram::new({})", array(DEFAULT_BUCKETS)),
                Buckets::Exponential(start, factor, count) => {
                    format!("Histogram::new(exponential_buckets({start:?}, {factor:?}, {count}))")
                }
                Buckets::None => String::new(),
            };
            let init = match (spec.kind, spec.labels) {
                (Kind::Histogram, Labels::None) => histogram,
                (Kind::Histogram, labels) => format!(
                    "Family::<{}, Histogram>::new_with_constructor(|| {histogram})",
                    label_type(labels, set)
                ),
                _ => "Default::default()".to_owned(),
            };
            let _ = writeln!(out, "            {}: {init},", spec.field);
        }
        let _ = writeln!(
            out,
            "        }};
        let registry = registry.sub_registry_with_prefix(\"app_set{set}\");"
        );
        for spec in &SPECS {
            match spec.unit {
                Some(unit) => {
                    let unit = match unit {
                        "bytes" => "Unit::Bytes",
                        _ => "Unit::Seconds",
                    };
                    let _ = writeln!(
                        out,
                        "        registry.register_with_unit({:?}, {:?}, {unit}, set.{}.clone());",
                        spec.field, spec.help, spec.field
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "        registry.register({:?}, {:?}, set.{}.clone());",
                        spec.field, spec.help, spec.field
                    );
                }
            }
        }
        out.push_str("        set\n    }\n}\n\n");
        let _ = writeln!(
            out,
            "fn record_set{set}(registry: &mut Registry) {{
    let set = Set{set}::register(registry);"
        );
        record_samples(out, Approach::ByHand, set);
        out.push_str("}\n\n");
    }
    out.push_str(
        "/// Registers every set, records one sample into every metric, and encodes the registry.
pub fn exposition() -> Result<String, String> {
    let mut registry = Registry::default();\n",
    );
    for set in 0..sets {
        let _ = writeln!(out, "    record_set{set}(&mut registry);");
    }
    out.push_str(
        "    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).map_err(|error| error.to_string())?;
    Ok(text)
}\n",
    );
}

/// The workload's metric families in a text exposition, as `(name, type)` sorted by name:
/// one per `# TYPE` line of a name under `app_` (fiko-metrics' registry also exposes its
/// own `fiko_metrics_label_overflow_total`), a counter's `_total` dropped (the Prometheus
/// text format names the family with it, OpenMetrics and measured without).
pub fn families(exposition: &str) -> Vec<(String, String)> {
    let mut families: Vec<(String, String)> = exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .filter(|(name, _)| name.starts_with("app_"))
        .map(|(name, kind)| {
            let name = match kind {
                "counter" => name.strip_suffix("_total").unwrap_or(name),
                _ => name,
            };
            (name.to_owned(), kind.to_owned())
        })
        .collect();
    families.sort();
    families
}

/// The families of `exposition` that have no sample line.
pub fn families_without_samples(exposition: &str) -> Vec<String> {
    families(exposition)
        .into_iter()
        .map(|(name, _)| name)
        .filter(|name| {
            !exposition.lines().any(|line| {
                !line.starts_with('#')
                    && line
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with(['{', ' ', '_']))
            })
        })
        .collect()
}
