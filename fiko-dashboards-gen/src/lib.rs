#![doc = include_str!("../README.md")]

pub mod cli;
mod configs;
mod error;
mod grafana;
mod overrides;
pub mod promql;
mod rules;
mod settings;
mod slo;
mod unit_tests;
pub mod verify;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::Path;

use fiko_dashboards::{Alert, Context, Observe, Observed, PromDuration, Row, Slo};
use fiko_metrics::{MetricSet, Registry, SetDescriptor};

pub use error::Error;
pub use overrides::SetOverrides;
pub use settings::{MAX_NAME_LEN, ScrapeJob, Settings};

/// One observed metric set, as the generator reads it.
#[derive(Clone, Debug)]
pub struct ObservedSet {
    /// What the set declares.
    pub descriptor: &'static SetDescriptor,
    /// The `service` label of its alerts.
    pub service: String,
    /// Its dashboard sections.
    pub rows: Vec<Row>,
    /// Its alerts.
    pub alerts: Vec<Alert>,
}

impl ObservedSet {
    /// `S` with its default rows and alerts.
    pub fn of<S: Observe>() -> Self {
        Self {
            descriptor: S::DESCRIPTOR,
            service: S::service().to_owned(),
            rows: S::rows(),
            alerts: S::alerts(),
        }
    }

    /// A set with no rows or alerts: its metrics are declared (raw PromQL may name them)
    /// but nothing draws them.
    pub fn declared(descriptor: &'static SetDescriptor) -> Self {
        Self {
            descriptor,
            service: descriptor.namespace.unwrap_or("app").to_owned(),
            rows: Vec::new(),
            alerts: Vec::new(),
        }
    }

    /// The set's Rust type name, which problems name.
    pub fn name(&self) -> &'static str {
        self.descriptor.type_name
    }

    fn from_observed(observed: &Observed) -> Self {
        Self {
            descriptor: observed.descriptor,
            service: (observed.service)().to_owned(),
            rows: (observed.rows)(),
            alerts: (observed.alerts)(),
        }
    }
}

type Tuning = Box<dyn Fn(&mut Alert)>;

/// Collects metric sets and writes their artefacts.
///
/// ```
/// use fiko_dashboards::exporters::RedisExporter;
/// use fiko_dashboards_gen::Generator;
///
/// let artefacts = Generator::new("shop")
///     .observe::<RedisExporter>()
///     .scrape_app("web", "/metrics", &["web:8000"])
///     .generate()?;
/// assert!(artefacts.get("prometheus/alerts.yml").unwrap().contains(r#"name: "shop.redis@"#));
/// assert!(artefacts.get("prometheus/prometheus.yml").unwrap().contains(r#"job_name: "shop-web""#));
/// assert!(artefacts.get("grafana/provisioning/dashboards/shop.yml").unwrap().contains(r#"folder: "Shop""#));
/// assert!(artefacts.get("grafana/dashboards/shop-overview.json").unwrap().contains(r#""title": "Shop overview""#));
/// # Ok::<(), fiko_dashboards_gen::Error>(())
/// ```
pub struct Generator {
    sets: Vec<ObservedSet>,
    overrides: Vec<(&'static SetDescriptor, SetOverrides)>,
    tunings: Vec<(String, Tuning)>,
    settings: Settings,
    /// Rows of metrics no declaration names, and the series their queries may name.
    discovered: (Vec<Row>, BTreeSet<String>),
    /// SLOs: `(declared by, the declaring set's service, the SLO)`.
    slos: Vec<(String, Option<String>, Slo)>,
}

/// The set the [`discovered`](Generator::discovered) rows are listed under: it declares
/// nothing (their metrics are not declared, which its name says).
static DISCOVERED: SetDescriptor = SetDescriptor {
    type_name: "DiscoveredMetrics",
    help: "Metrics seen in a scrape but declared by no metric set.",
    namespace: None,
    subsystem: None,
    external: false,
    metrics: &[],
};

impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("sets", &self.sets)
            .field(
                "overrides",
                &self
                    .overrides
                    .iter()
                    .map(|(set, overrides)| (set.type_name, overrides))
                    .collect::<Vec<_>>(),
            )
            .field(
                "tunings",
                &self.tunings.iter().map(|t| &t.0).collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .field("discovered", &self.discovered.1)
            .finish()
    }
}

impl Generator {
    /// No sets; every name in the output derives from the application's `name` (see
    /// [`Settings`]). A malformed name is a generation problem.
    pub fn new(name: &str) -> Self {
        Self {
            sets: Vec::new(),
            overrides: Vec::new(),
            tunings: Vec::new(),
            settings: Settings::new(name),
            discovered: (Vec::new(), BTreeSet::new()),
            slos: Vec::new(),
        }
    }

    /// The application's name.
    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Renames the application (`--service`): every name derived from it follows,
    /// scrape jobs named `OLD-ROLE` (as [`scrape_app`](Self::scrape_app) names them)
    /// included.
    pub fn rename(mut self, name: &str) -> Self {
        let prefix = format!("{}-", self.settings.name);
        for job in &mut self.settings.scrape_jobs {
            if let Some(role) = job.name.strip_prefix(&prefix) {
                job.name = format!("{name}-{role}");
            }
        }
        name.clone_into(&mut self.settings.name);
        self
    }

    /// Adds a set with its default rows, alerts and SLOs ([`Observe::slos`]).
    pub fn observe<S: Observe>(mut self) -> Self {
        self.push_slos(S::DESCRIPTOR.type_name, S::service(), S::slos());
        self.observe_set(ObservedSet::of::<S>())
    }

    fn push_slos(&mut self, at: &str, service: &str, slos: Vec<Slo>) {
        for slo in slos {
            self.slos
                .push((at.to_owned(), Some(service.to_owned()), slo));
        }
    }

    /// Adds a service level objective of the application (see [`Slo`]): its rules,
    /// burn-rate alerts, promtool tests and dashboard row. Its `service` label is the
    /// SLO's own, or the application's name.
    pub fn slo(mut self, slo: Slo) -> Self {
        self.slos.push(("Generator::slo".to_owned(), None, slo));
        self
    }

    /// Adds several SLOs ([`slo`](Self::slo)).
    pub fn slos(self, slos: impl IntoIterator<Item = Slo>) -> Self {
        slos.into_iter().fold(self, Self::slo)
    }

    /// Divides every SLO window and burn-rate `for` by `scale` (a divisor of 60), so a
    /// real-time test sees SLO alerts fire and resolve in seconds: at 60, 1h and 5m
    /// become 1m and 5s. See [`Settings::slo_time_scale`].
    pub fn slo_time_scale(mut self, scale: u32) -> Self {
        self.settings.slo_time_scale = scale;
        self
    }

    /// Adds a set as read by the generator (custom rows or alerts).
    pub fn observe_set(mut self, set: ObservedSet) -> Self {
        self.sets.push(set);
        self
    }

    /// Adds every set registered in `registry` ([`Registry::sets`]) that is not observed
    /// yet, in registration order, so an application lists its sets once: where it
    /// registers them. A set whose `Observe` impl is recorded with
    /// [`fiko_dashboards::observed!`] brings its rows and alerts; any other set is
    /// declared without them (its metrics may be named by raw PromQL and
    /// [`customize`](Self::customize) can give it rows). Sets nobody registers here
    /// (exporters' external sets, Prometheus' `up`) are added with
    /// [`observe`](Self::observe).
    pub fn observe_registered(mut self, registry: &Registry) -> Self {
        for descriptor in registry.sets() {
            if self.sets.iter().any(|set| set.descriptor == descriptor) {
                continue;
            }
            if let Some(observed) = Observed::find(descriptor) {
                self.push_slos(
                    descriptor.type_name,
                    (observed.service)(),
                    (observed.slos)(),
                );
            }
            let set = Observed::find(descriptor).map_or_else(
                || ObservedSet::declared(descriptor),
                ObservedSet::from_observed,
            );
            self.sets.push(set);
        }
        self
    }

    /// Changes the rows and alerts of the observed set `S` (see [`SetOverrides`]);
    /// customizing a set that is not observed is a generation problem.
    pub fn customize<S: MetricSet>(
        mut self,
        overrides: impl FnOnce(SetOverrides) -> SetOverrides,
    ) -> Self {
        self.overrides
            .push((S::DESCRIPTOR, overrides(SetOverrides::new())));
        self
    }

    /// Changes the alert named `alert`, whichever set has it, before generating
    /// (threshold, `for`, texts); naming an alert no set has is a generation problem.
    pub fn tune(mut self, alert: &str, tuning: impl Fn(&mut Alert) + 'static) -> Self {
        self.tunings.push((alert.to_owned(), Box::new(tuning)));
        self
    }

    /// Adds `row`, showing metrics that no declaration names, after the declared sets'
    /// rows, and lets its queries name `series` (sample names such as `cache_hits_total`
    /// or `query_seconds_bucket`). For metrics learnt from a scrape file committed beside
    /// the application, e.g. those a `metrics` facade recorder exposes:
    /// `fiko_metrics_facade::discovered::DiscoveredMetrics` reads such a file and makes
    /// the row and the names, so generating stays offline and deterministic.
    pub fn discovered(mut self, row: Row, series: impl IntoIterator<Item = String>) -> Self {
        self.discovered.0.push(row);
        self.discovered.1.extend(series);
        self
    }

    /// Adds a scrape job to `prometheus.yml`.
    pub fn scrape(mut self, job: &str, metrics_path: &str, targets: &[&str]) -> Self {
        self.settings.scrape_jobs.push(ScrapeJob {
            name: job.to_owned(),
            metrics_path: metrics_path.to_owned(),
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            credentials_file: None,
        });
        self
    }

    /// Makes the scrape jobs named in `jobs` send the bearer token read from `file`
    /// (`authorization.credentials_file`: the secret stays out of the generated config),
    /// for endpoints protected with a token; jobs not added (yet) are left alone.
    pub fn scrape_token_file(mut self, jobs: &[&str], file: &str) -> Self {
        for job in &mut self.settings.scrape_jobs {
            if jobs.contains(&job.name.as_str()) {
                job.credentials_file = Some(file.to_owned());
            }
        }
        self
    }

    /// [`scrape_token_file`](Self::scrape_token_file) for the application's own jobs:
    /// those named `NAME-ROLE` ([`Settings::job_name`], as
    /// [`scrape_app`](Self::scrape_app) names them), not the exporters' or Prometheus'.
    pub fn scrape_app_token_file(mut self, file: &str) -> Self {
        let prefix = format!("{}-", self.settings.name);
        for job in &mut self.settings.scrape_jobs {
            if job.name.starts_with(&prefix) {
                job.credentials_file = Some(file.to_owned());
            }
        }
        self
    }

    /// Adds a scrape job for one role of the application's own processes, named
    /// `NAME-ROLE` ([`Settings::job_name`]): `scrape_app("web", "/metrics", &["web:8000"])`.
    pub fn scrape_app(self, role: &str, metrics_path: &str, targets: &[&str]) -> Self {
        let job = self.settings.job_name(role);
        self.scrape(&job, metrics_path, targets)
    }

    /// Sets Prometheus' scrape and evaluation intervals (short ones for tests).
    pub fn interval(mut self, interval: PromDuration) -> Self {
        self.settings.scrape_interval = interval;
        self.settings.evaluation_interval = interval;
        self
    }

    /// Runbook links become `url#alertname` (default: the generated `RUNBOOKS.md`).
    pub fn runbook_base(mut self, url: &str) -> Self {
        url.clone_into(&mut self.settings.runbook_base);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The settings, to change.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Every series name the observed sets declare (`name_total`, `name_bucket`, ...): the
    /// only metrics generated and raw PromQL may name.
    pub fn declared_series(&self) -> BTreeSet<String> {
        self.sets
            .iter()
            .flat_map(|set| set.descriptor.metrics.iter())
            .flat_map(|metric| metric.series_names())
            .collect()
    }

    /// The observed sets after overrides and tuning, and every problem met on the way.
    fn prepared_sets(&self) -> (Vec<ObservedSet>, Vec<String>) {
        let mut sets = self.sets.clone();
        let mut problems = self.settings.problems();
        for (index, set) in sets.iter().enumerate() {
            if sets[..index]
                .iter()
                .any(|other| other.descriptor == set.descriptor)
            {
                problems.push(format!("{}: observed twice", set.name()));
            }
        }
        for (descriptor, overrides) in &self.overrides {
            match sets.iter_mut().find(|set| set.descriptor == *descriptor) {
                Some(set) => overrides.apply(set, &mut problems),
                None => problems.push(format!(
                    "{}: customized but not observed (add it with `observe` or `observe_registered`)",
                    descriptor.type_name
                )),
            }
        }
        for (name, tuning) in &self.tunings {
            let mut found = false;
            for alert in sets.iter_mut().flat_map(|set| set.alerts.iter_mut()) {
                if &alert.name == name {
                    tuning(alert);
                    found = true;
                }
            }
            if !found {
                problems.push(format!("tune: no alert named `{name}`"));
            }
        }
        for set in &mut sets {
            add_heatmaps(set);
        }
        if !self.discovered.0.is_empty() {
            sets.push(ObservedSet {
                descriptor: &DISCOVERED,
                service: self.settings.name.clone(),
                rows: self.discovered.0.clone(),
                alerts: Vec::new(),
            });
        }
        (sets, problems)
    }

    /// Checks everything and renders every artefact; on failure, every problem found,
    /// each naming the set, panel or alert at fault.
    pub fn generate(&self) -> Result<Artefacts, Error> {
        let (sets, mut problems) = self.prepared_sets();
        let slos: Vec<slo::DeclaredSlo> = self
            .slos
            .iter()
            .map(|(at, service, declared)| slo::DeclaredSlo {
                service: declared
                    .service
                    .clone()
                    .or_else(|| service.clone())
                    .unwrap_or_else(|| self.settings.name.clone()),
                slo: declared.clone(),
                at: at.clone(),
            })
            .collect();
        let mut model = Model {
            sets: &sets,
            settings: &self.settings,
            discovered: &self.discovered.1,
            slos: &slos,
            recorded: Vec::new(),
        };
        model.recorded = rules::records(&model);
        problems.extend(model.problems());
        problems.extend(slo::problems(&model));
        let slo_tests = match slo::tests(&model) {
            Ok(tests) => Some(tests),
            Err(more) => {
                problems.extend(more);
                None
            }
        };
        let tests = unit_tests::promtool_tests(&model);
        let tests = match tests {
            Ok(tests) => Some(tests),
            Err(more) => {
                problems.extend(more);
                None
            }
        };
        let mut seen = BTreeSet::new();
        problems.retain(|problem| seen.insert(problem.clone()));
        let (Some(tests), Some(slo_tests)) = (
            tests.filter(|_| problems.is_empty()),
            slo_tests.filter(|_| problems.is_empty()),
        ) else {
            return Err(Error::Invalid(problems));
        };
        let mut files = BTreeMap::new();
        let dashboards = grafana::dashboards(&model);
        let dashboard_count = dashboards.len();
        for (uid, json) in dashboards {
            files.insert(format!("grafana/dashboards/{uid}.json"), json);
        }
        files.insert(
            "grafana/provisioning/datasources/prometheus.yml".to_owned(),
            grafana::datasource(&model),
        );
        files.insert(self.settings.provider_path(), grafana::provider(&model));
        let (alerts, mut groups) = rules::alerts(&model);
        files.insert("prometheus/alerts.yml".to_owned(), alerts);
        let (recording, recording_group) = rules::recording(&model);
        files.insert("prometheus/recording.yml".to_owned(), recording);
        let recording_rules = recording_group
            .as_ref()
            .map_or(0, |group| group.rules.len());
        groups.extend(recording_group);
        // Without SLOs there is no `slo.yml` (nor a `rule_files` entry for it).
        if !slos.is_empty() {
            let (slo_rules, slo_groups) = slo::rules(&model);
            files.insert("prometheus/slo.yml".to_owned(), slo_rules);
            files.insert("prometheus/slo.test.yml".to_owned(), slo_tests);
            groups.extend(slo_groups);
        }
        let inventory = model.inventory(groups);
        let test_cases = tests.matches("\n  - name: ").count();
        files.insert("prometheus/alerts.test.yml".to_owned(), tests);
        files.insert(
            "prometheus/prometheus.yml".to_owned(),
            configs::prometheus(&model),
        );
        files.insert(
            "alertmanager/alertmanager.yml".to_owned(),
            configs::alertmanager(&model),
        );
        files.insert(
            "RUNBOOKS.md".to_owned(),
            rules::runbooks(&model) + &slo::runbooks(&model),
        );
        let summary = Summary {
            files: files.len(),
            dashboards: dashboard_count,
            panels: sets
                .iter()
                .flat_map(|set| &set.rows)
                .map(|row| row.panels.len())
                .sum::<usize>()
                + grafana::overview_panels(&model).len()
                + slo::row(&model).map_or(0, |row| row.panels.len()),
            alerts: model.alerts().count(),
            recording_rules,
            test_cases,
        };
        Ok(Artefacts {
            files,
            summary,
            inventory,
        })
    }
}

/// Adds a heatmap of each histogram the set's panels show a quantile of, right after the
/// first such panel: the whole distribution, where quantiles show a few points of it.
fn add_heatmaps(set: &mut ObservedSet) {
    use fiko_dashboards::query::{Aggregation, Operation};
    use fiko_dashboards::{Expr, PanelSpec, Target, Visual};
    let mut seen: Vec<&'static str> = Vec::new();
    for row in &mut set.rows {
        let mut panels = Vec::with_capacity(row.panels.len());
        for panel in row.panels.drain(..) {
            let mut heatmaps = Vec::new();
            for target in &panel.targets {
                if let Expr::Metric {
                    metric,
                    operation: Operation::Quantile(_),
                    matchers,
                    ..
                } = &target.expr
                {
                    if seen.contains(&metric.name) {
                        continue;
                    }
                    seen.push(metric.name);
                    heatmaps.push(PanelSpec {
                        title: format!("{} heatmap", metric.name),
                        visual: Visual::Heatmap,
                        unit: panel.unit,
                        targets: vec![Target {
                            legend: None,
                            expr: Expr::Metric {
                                metric,
                                operation: Operation::Buckets,
                                matchers: matchers.clone(),
                                aggregation: Aggregation::Sum,
                                by: Vec::new(),
                            },
                        }],
                        stacked: false,
                        description: Some(format!(
                            "How {} are distributed over time, one cell per bucket: {} Bad: the bright cells move up (slower, larger) or spread out.",
                            metric.name, metric.help
                        )),
                        thresholds: Vec::new(),
                        overview: false,
                    });
                }
            }
            panels.push(panel);
            panels.extend(heatmaps);
        }
        row.panels = panels;
    }
}

/// What a generation made, for a one-line report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Files generated.
    pub files: usize,
    /// Grafana dashboards.
    pub dashboards: usize,
    /// Dashboard panels (rows not counted).
    pub panels: usize,
    /// Alerting rules.
    pub alerts: usize,
    /// Recording rules.
    pub recording_rules: usize,
    /// promtool test cases.
    pub test_cases: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} dashboard(s) with {} panel(s), {} alert(s), {} recording rule(s), {} promtool test case(s)",
            self.dashboards, self.panels, self.alerts, self.recording_rules, self.test_cases
        )
    }
}

/// What the renderers read.
pub(crate) struct Model<'a> {
    pub(crate) sets: &'a [ObservedSet],
    pub(crate) settings: &'a Settings,
    /// Series the [`Generator::discovered`] rows may name besides the declared ones.
    pub(crate) discovered: &'a BTreeSet<String>,
    /// The recording rules, which panels and alerts read.
    pub(crate) recorded: Vec<fiko_dashboards::query::Recorded>,
    /// The SLOs, with their `service` labels.
    pub(crate) slos: &'a [slo::DeclaredSlo],
}

impl Model<'_> {
    /// Panels' context: reading the recording rules.
    pub(crate) fn dashboard_cx(&self) -> Context {
        Context::dashboard().with_recorded(&self.recorded)
    }

    /// Rules' context: the rule window, reading the recording rules.
    pub(crate) fn rules_cx(&self) -> Context {
        Context::rules(self.settings.rule_window).with_recorded(&self.recorded)
    }

    pub(crate) fn alerts(&self) -> impl Iterator<Item = (&ObservedSet, &Alert)> {
        self.sets
            .iter()
            .flat_map(|set| set.alerts.iter().map(move |alert| (set, alert)))
    }

    /// Every series name the sets declare.
    pub(crate) fn declared_series(&self) -> BTreeSet<String> {
        self.sets
            .iter()
            .flat_map(|set| set.descriptor.metrics.iter())
            .flat_map(|metric| metric.series_names())
            .collect()
    }

    pub(crate) fn service<'s>(&self, set: &'s ObservedSet, alert: &'s Alert) -> &'s str {
        alert.service.as_deref().unwrap_or(&set.service)
    }

    pub(crate) fn runbook(&self, alert: &Alert) -> String {
        alert.runbook.clone().unwrap_or_else(|| {
            format!(
                "{}#{}",
                self.settings.runbook_base,
                alert.name.to_ascii_lowercase()
            )
        })
    }

    /// What `verify` checks: every query, rule group, scrape job and closed label.
    fn inventory(&self, groups: Vec<rules::GroupInfo>) -> verify::Inventory {
        // Panels and alerts as if they computed their rates themselves: `verify` checks the
        // metrics they depend on; the recording rules are checked as queries of their own.
        let dashboard = Context::dashboard();
        let rules = Context::rules(self.settings.rule_window);
        let mut queries = Vec::new();
        for set in self.sets {
            for panel in set.rows.iter().flat_map(|row| &row.panels) {
                for (index, target) in panel.targets.iter().enumerate() {
                    let item = if panel.targets.len() > 1 {
                        format!("panel `{}` #{}", panel.title, index + 1)
                    } else {
                        format!("panel `{}`", panel.title)
                    };
                    queries.push(verify::Query {
                        kind: "panel",
                        item,
                        promql: target.expr.render(&dashboard),
                        empty_is_normal: false,
                    });
                }
            }
        }
        for (_, alert) in self.alerts() {
            let returns = alert.condition.comparison == fiko_dashboards::Comparison::Returns;
            queries.push(verify::Query {
                kind: "alert",
                item: format!("alert `{}`", alert.name),
                promql: alert.condition.expr.render(&rules),
                empty_is_normal: returns,
            });
        }
        for group in &groups {
            if group.file != "recording.yml" {
                continue;
            }
            for (record, promql) in &group.rules {
                queries.push(verify::Query {
                    kind: "record",
                    item: format!("record `{record}`"),
                    promql: promql.clone(),
                    empty_is_normal: false,
                });
            }
        }
        let mut closed = Vec::new();
        let mut seen = BTreeSet::new();
        for metric in self.sets.iter().flat_map(|set| set.descriptor.metrics) {
            if !seen.insert(metric.name) {
                continue;
            }
            for label in metric.labels {
                if let Some(values) = label.values {
                    closed.push(verify::ClosedLabel {
                        metric: metric.name.to_owned(),
                        series: metric.series_names(),
                        label: label.name,
                        values,
                    });
                }
            }
        }
        verify::Inventory {
            queries,
            groups,
            jobs: self
                .settings
                .scrape_jobs
                .iter()
                .map(|job| job.name.clone())
                .collect(),
            closed,
            scrape_interval_seconds: self.settings.scrape_interval.as_secs(),
        }
    }

    /// Every mistake of the sets, one line each, naming the set and its panel or alert.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut names = BTreeMap::new();
        for (set, alert) in self.alerts() {
            let at = set.name();
            problems.extend(alert.problems().into_iter().map(|p| format!("{at}: {p}")));
            if let Some(first) = names.insert(alert.name.clone(), at) {
                problems.push(format!(
                    "{at}: two alerts are named `{}` (the other in {first})",
                    alert.name
                ));
            }
            let labels = unit_tests::result_labels(alert, self.settings.rule_window);
            for text in [&alert.summary, &alert.description] {
                if let Err(problem) = unit_tests::expand(text, &labels_map(&labels)) {
                    problems.push(format!("{at}: alert {}: {problem}", alert.name));
                }
            }
        }
        for set in self.sets {
            let at = set.name();
            for row in &set.rows {
                for panel in &row.panels {
                    if panel.targets.is_empty() {
                        problems.push(format!("{at}: panel `{}` has no query", panel.title));
                    }
                    for target in &panel.targets {
                        problems.extend(
                            target
                                .expr
                                .problems()
                                .into_iter()
                                .map(|p| format!("{at}: panel `{}`: {p}", panel.title)),
                        );
                    }
                }
            }
        }
        problems.extend(promql::check_all(self));
        problems
    }
}

fn labels_map(labels: &std::collections::BTreeSet<String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|label| (label.clone(), format!("<{label}>")))
        .collect()
}

/// The generated files, by path relative to the output directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artefacts {
    files: BTreeMap<String, String>,
    summary: Summary,
    inventory: verify::Inventory,
}

impl Artefacts {
    /// What was generated, counted.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Checks the artefacts against a live Prometheus: see [`verify`].
    pub fn verify(&self, options: &verify::Options) -> Result<verify::Report, verify::VerifyError> {
        verify::run(&self.inventory, options)
    }

    /// The content of `path`, if generated.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Every generated path, sorted.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Writes every file under `dir`, creating directories.
    pub fn write_to(&self, dir: &Path) -> Result<(), Error> {
        for (path, content) in &self.files {
            let full = dir.join(path);
            if let Some(parent) = full.parent() {
                fs::create_dir_all(parent).map_err(|source| Error::Io {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            fs::write(&full, content).map_err(|source| Error::Io { path: full, source })?;
        }
        Ok(())
    }

    /// The generated paths whose file under `dir` is missing or differs.
    pub fn stale_in(&self, dir: &Path) -> Vec<String> {
        self.files
            .iter()
            .filter(|(path, content)| {
                fs::read(dir.join(path)).map_or(true, |bytes| bytes != content.as_bytes())
            })
            .map(|(path, _)| path.clone())
            .collect()
    }
}
