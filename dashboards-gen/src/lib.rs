#![doc = include_str!("../README.md")]

mod configs;
mod error;
mod grafana;
pub mod promql;
pub mod repository;
mod rules;
mod unit_tests;
mod yaml;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use fiko_dashboards::{Alert, Observe, PromDuration, Row, minutes, seconds};
use fiko_metrics::SetDescriptor;

pub use error::Error;

/// One observed metric set, as the generator reads it.
#[derive(Clone, Debug)]
pub struct ObservedSet {
    /// What the set declares.
    pub descriptor: &'static SetDescriptor,
    /// The `service` label of its alerts.
    pub service: &'static str,
    /// Its dashboard sections.
    pub rows: Vec<Row>,
    /// Its alerts.
    pub alerts: Vec<Alert>,
}

/// A Prometheus scrape job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeJob {
    /// `job_name`, the `job` label of its series.
    pub name: String,
    /// The path of the metrics endpoint.
    pub metrics_path: String,
    /// `host:port` of each instance.
    pub targets: Vec<String>,
    /// A file holding the bearer token the targets' metrics endpoint requires
    /// (`authorization.credentials_file`; relative paths are read from the directory of
    /// `prometheus.yml`); `None` for an unprotected endpoint.
    pub credentials_file: Option<String>,
}

/// Everything besides the declarations that the artefacts depend on.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The overview dashboard's uid (also its file name).
    pub dashboard_uid: String,
    /// The overview dashboard's title.
    pub dashboard_title: String,
    /// The range of `rate`/`increase` in rules.
    pub rule_window: PromDuration,
    /// Prometheus' `scrape_interval`.
    pub scrape_interval: PromDuration,
    /// Prometheus' `evaluation_interval` (and the rule groups').
    pub evaluation_interval: PromDuration,
    /// Scrape jobs of `prometheus.yml`.
    pub scrape_jobs: Vec<ScrapeJob>,
    /// Alertmanager `host:port`s.
    pub alertmanagers: Vec<String>,
    /// The Prometheus URL Grafana's provisioned datasource points at.
    pub prometheus_url: String,
    /// Where dashboards are mounted in the Grafana container.
    pub grafana_dashboards_path: String,
    /// Runbook links are this URL + `#` + the lower-case alert name (the generated
    /// `RUNBOOKS.md` has one section per alert).
    pub runbook_base: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            dashboard_uid: "fiko-overview".to_owned(),
            dashboard_title: "Fiko overview".to_owned(),
            rule_window: minutes(5),
            scrape_interval: seconds(15),
            evaluation_interval: seconds(15),
            scrape_jobs: Vec::new(),
            alertmanagers: vec!["alertmanager:9093".to_owned()],
            prometheus_url: "http://prometheus:9090".to_owned(),
            grafana_dashboards_path: "/var/lib/grafana/dashboards".to_owned(),
            runbook_base: "RUNBOOKS.md".to_owned(),
        }
    }
}

type Tuning = Box<dyn Fn(&mut Alert)>;

/// Collects metric sets and writes their artefacts.
pub struct Generator {
    sets: Vec<ObservedSet>,
    tunings: Vec<(String, Tuning)>,
    settings: Settings,
}

impl Default for Generator {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("sets", &self.sets)
            .field(
                "tunings",
                &self.tunings.iter().map(|t| &t.0).collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish()
    }
}

impl Generator {
    /// No sets, default [`Settings`].
    pub fn new() -> Self {
        Self {
            sets: Vec::new(),
            tunings: Vec::new(),
            settings: Settings::default(),
        }
    }

    /// Adds a set with its default rows and alerts.
    pub fn observe<S: Observe>(mut self) -> Self {
        self.sets.push(ObservedSet {
            descriptor: S::DESCRIPTOR,
            service: S::service(),
            rows: S::rows(),
            alerts: S::alerts(),
        });
        self
    }

    /// Adds a set as read by the generator (custom rows or alerts).
    pub fn observe_set(mut self, set: ObservedSet) -> Self {
        self.sets.push(set);
        self
    }

    /// Changes the alert named `alert` before generating (threshold, `for`, texts);
    /// naming an alert no set has is an error at generation.
    pub fn tune(mut self, alert: &str, tuning: impl Fn(&mut Alert) + 'static) -> Self {
        self.tunings.push((alert.to_owned(), Box::new(tuning)));
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
    /// (`authorization.credentials_file`), for endpoints protected with a token; jobs not
    /// added (yet) are left alone.
    pub fn scrape_token_file(mut self, jobs: &[&str], file: &str) -> Self {
        for job in &mut self.settings.scrape_jobs {
            if jobs.contains(&job.name.as_str()) {
                job.credentials_file = Some(file.to_owned());
            }
        }
        self
    }

    /// Sets Prometheus' scrape and evaluation intervals (short ones for tests).
    pub fn interval(mut self, interval: PromDuration) -> Self {
        self.settings.scrape_interval = interval;
        self.settings.evaluation_interval = interval;
        self
    }

    /// The settings, to change.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Every series name the observed sets declare (`name_total`, `name_bucket`, ...): the
    /// only metrics generated and raw PromQL may name.
    pub fn declared_series(&self) -> std::collections::BTreeSet<String> {
        self.sets
            .iter()
            .flat_map(|set| set.descriptor.metrics.iter())
            .flat_map(|metric| metric.series_names())
            .collect()
    }

    /// The observed sets, after tuning.
    fn tuned_sets(&self) -> Result<Vec<ObservedSet>, Error> {
        let mut sets = self.sets.clone();
        let mut problems = Vec::new();
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
        if problems.is_empty() {
            Ok(sets)
        } else {
            Err(Error::Invalid(problems))
        }
    }

    /// Checks everything and renders every artefact.
    pub fn generate(&self) -> Result<Artefacts, Error> {
        let sets = self.tuned_sets()?;
        let model = Model {
            sets: &sets,
            settings: &self.settings,
        };
        model.validate()?;
        let mut files = BTreeMap::new();
        files.insert(
            format!("grafana/dashboards/{}.json", self.settings.dashboard_uid),
            grafana::dashboard(&model),
        );
        files.insert(
            "grafana/provisioning/datasources/prometheus.yml".to_owned(),
            grafana::datasource(&model),
        );
        files.insert(
            "grafana/provisioning/dashboards/fiko.yml".to_owned(),
            grafana::provider(&model),
        );
        files.insert("prometheus/alerts.yml".to_owned(), rules::alerts(&model));
        files.insert(
            "prometheus/recording.yml".to_owned(),
            rules::recording(&model),
        );
        files.insert(
            "prometheus/alerts.test.yml".to_owned(),
            unit_tests::promtool_tests(&model)?,
        );
        files.insert(
            "prometheus/prometheus.yml".to_owned(),
            configs::prometheus(&model),
        );
        files.insert(
            "alertmanager/alertmanager.yml".to_owned(),
            configs::alertmanager(&model),
        );
        files.insert("RUNBOOKS.md".to_owned(), rules::runbooks(&model));
        Ok(Artefacts { files })
    }
}

/// What the renderers read.
pub(crate) struct Model<'a> {
    pub(crate) sets: &'a [ObservedSet],
    pub(crate) settings: &'a Settings,
}

impl Model<'_> {
    pub(crate) fn alerts(&self) -> impl Iterator<Item = (&ObservedSet, &Alert)> {
        self.sets
            .iter()
            .flat_map(|set| set.alerts.iter().map(move |alert| (set, alert)))
    }

    pub(crate) fn service<'s>(&self, set: &'s ObservedSet, alert: &'s Alert) -> &'s str {
        alert.service.as_deref().unwrap_or(set.service)
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

    fn validate(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        let mut names = BTreeMap::new();
        for (_, alert) in self.alerts() {
            problems.extend(alert.problems());
            if names.insert(alert.name.clone(), ()).is_some() {
                problems.push(format!("two alerts are named `{}`", alert.name));
            }
            let labels = unit_tests::result_labels(alert, self.settings.rule_window);
            for text in [&alert.summary, &alert.description] {
                if let Err(problem) = unit_tests::expand(text, &labels_map(&labels)) {
                    problems.push(format!("alert {}: {problem}", alert.name));
                }
            }
        }
        for set in self.sets {
            for row in &set.rows {
                for panel in &row.panels {
                    if panel.targets.is_empty() {
                        problems.push(format!("panel `{}` has no query", panel.title));
                    }
                    for target in &panel.targets {
                        problems.extend(
                            target
                                .expr
                                .problems()
                                .into_iter()
                                .map(|p| format!("panel `{}`: {p}", panel.title)),
                        );
                    }
                }
            }
        }
        problems.extend(promql::check_all(self));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(problems))
        }
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
}

impl Artefacts {
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
