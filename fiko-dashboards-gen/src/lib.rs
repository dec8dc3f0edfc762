#![doc = include_str!("../README.md")]

mod alert_tests;
pub mod budget;
pub mod cli;
mod configs;
mod error;
mod grafana;
mod overrides;
pub mod promql;
mod rules;
mod scale_out;
mod settings;
mod slo;
pub mod verify;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::Path;

use fiko_dashboards::Slo;
use fiko_dashboards::monitoring::{PrometheusServer, ScrapeTargets};
use fiko_dashboards::{
    Alert, AlertTest, Context, Count, GaugeQueries, Observe, Observed, PromDuration, Row, minutes,
    raw_condition,
};
use fiko_metrics::{MetricSet, Registry, SetDescriptor};

pub use budget::{Cardinality, OverBudget, SeriesBudget};
pub use error::Error;
pub use overrides::SetOverrides;
pub use scale_out::{ScaleOut, Store};
pub use settings::{MAX_NAME_LEN, Notifications, ScrapeJob, Settings};

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
/// use fiko_metrics_redis::RedisExporter;
/// use fiko_dashboards_gen::Generator;
///
/// let artefacts = Generator::new("shop")
///     .runbook_base("https://runbooks.example/")
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
    /// Mistakes met while building (a set bound to a job never added).
    early_problems: Vec<String>,
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
            early_problems: Vec::new(),
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
            sets: Vec::new(),
        });
        self
    }

    /// Says that the targets of scrape job `job` expose the set `S` (an exporter's, or
    /// Prometheus' own), so `S`'s rules select `job` and nothing else. Sets of the
    /// application (not `external`) select the application's jobs (`NAME-ROLE`) unless
    /// bound here; an external set bound to no job selects no job. Naming a job not
    /// added (yet) is a generation problem.
    pub fn serves<S: MetricSet>(mut self, job: &str) -> Self {
        match self
            .settings
            .scrape_jobs
            .iter_mut()
            .find(|scrape| scrape.name == job)
        {
            Some(scrape) => scrape.sets.push(S::DESCRIPTOR.type_name),
            None => self.early_problems.push(format!(
                "{}: served by job `{job}`, which no `scrape` added before",
                S::DESCRIPTOR.type_name
            )),
        }
        self
    }

    /// The Grafana URL people open (default `http://localhost:3000`): each alert's
    /// `dashboard_url` annotation links there.
    pub fn grafana_url(mut self, url: &str) -> Self {
        url.clone_into(&mut self.settings.grafana_url);
        self
    }

    /// Sends every notification (firing and resolved) to the webhook at `url`, with the
    /// bearer token read from `credentials_file` when it needs one.
    pub fn notify_webhook(mut self, url: &str, credentials_file: Option<&str>) -> Self {
        self.settings.notifications.webhook =
            Some((url.to_owned(), credentials_file.map(str::to_owned)));
        self
    }

    /// Sends every notification to Slack `channel`, the incoming-webhook URL read from
    /// `api_url_file`.
    pub fn notify_slack(mut self, api_url_file: &str, channel: &str) -> Self {
        self.settings.notifications.slack = Some((api_url_file.to_owned(), channel.to_owned()));
        self
    }

    /// Pages critical alerts through PagerDuty, the routing key read from
    /// `routing_key_file`.
    pub fn notify_pagerduty(mut self, routing_key_file: &str) -> Self {
        self.settings.notifications.pagerduty = Some(routing_key_file.to_owned());
        self
    }

    /// Mails warnings to `to` from `from` through the SMTP relay `smarthost` (`host:port`).
    pub fn notify_email(mut self, to: &str, from: &str, smarthost: &str) -> Self {
        self.settings.notifications.email =
            Some((to.to_owned(), from.to_owned(), smarthost.to_owned()));
        self
    }

    /// Sends the always-firing Watchdog to a dead-man's switch at `url`, which alerts by
    /// another path when the notifications stop (Prometheus, Alertmanager or the route
    /// between them is broken).
    pub fn dead_mans_switch(mut self, url: &str) -> Self {
        self.settings.notifications.dead_mans_switch = Some(url.to_owned());
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

    /// Runbook links become `url#alertname`: the absolute URL where the generated
    /// `RUNBOOKS.md` is published (required).
    pub fn runbook_base(mut self, url: &str) -> Self {
        url.clone_into(&mut self.settings.runbook_base);
        self
    }

    /// Declares the most series every scrape target together may expose (Mimir's default
    /// per tenant is 150 000): the declarations' worst case above it fails generation, or
    /// only warns with [`OverBudget::Warn`]. `CARDINALITY.md` shows the worst case per job
    /// and per metric either way.
    pub fn series_budget(mut self, limit: u64, over: OverBudget) -> Self {
        self.settings.series_budget = Some(SeriesBudget { limit, over });
        self
    }

    /// Also writes a scale-out deployment under `scale-out/`: Prometheus replicas
    /// remote-writing into the store `scale_out` names, rules for its central ruler, a
    /// Grafana datasource reading it, and a README on running them (see [`ScaleOut`]).
    pub fn scale_out(mut self, scale_out: ScaleOut) -> Self {
        self.settings.scale_out = Some(scale_out);
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
        problems.extend(self.early_problems.iter().cloned());
        let health = self.health_alerts();
        match sets
            .iter_mut()
            .find(|set| set.descriptor == ScrapeTargets::DESCRIPTOR)
        {
            Some(set) => set.alerts.extend(health),
            None => sets.push(ObservedSet {
                descriptor: ScrapeTargets::DESCRIPTOR,
                service: ScrapeTargets::service().to_owned(),
                rows: Vec::new(),
                alerts: health,
            }),
        }
        for (index, set) in sets.iter().enumerate() {
            if sets
                .iter()
                .take(index)
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

    /// The alerts every generation has: TargetDown and TargetMissing over every scrape
    /// job, and the always-firing Watchdog.
    fn health_alerts(&self) -> Vec<Alert> {
        let jobs = &self.settings.scrape_jobs;
        let mut alerts = vec![
            Alert::info("Watchdog", raw_condition("vector(1)"))
                .for_(fiko_dashboards::seconds(0))
                .summary("The alerting pipeline works")
                .description("Always firing, so its absence says something: Alertmanager sends it to the dead-man's switch, which alerts by another path when it stops arriving.")
                .diagnosis("Its silence at the dead-man's switch means Prometheus stopped evaluating, lost Alertmanager, or Alertmanager lost its route out.")
                .mitigation("Nothing while it fires; when the switch reports it missing, check Prometheus, then Alertmanager, then the network between them and the switch.")
                .tested_with(
                    AlertTest::new().firing("up{job=\"watchdog\",instance=\"w:1\"}", "1x5"),
                ),
        ];
        let Some(first) = jobs.first() else {
            return alerts;
        };
        alerts.push(
            Alert::critical(
                "TargetDown",
                ScrapeTargets::UP.value().max().equals(Count(0.0)),
            )
            .for_(minutes(2))
            .summary("{{ $labels.job }} at {{ $labels.instance }} does not answer scrapes")
            .description("Prometheus could not scrape {{ $labels.instance }} of job {{ $labels.job }} for {for}: the process is dead, hung or unreachable, and every other alert on its metrics is blind. It keeps firing until the target answers again.")
            .diagnosis("Prometheus' targets page shows the scrape error of the target: connection refused (process dead), timeout (hung or overloaded) or an HTTP error (wrong path or token).")
            .mitigation("Restart the process or fix what the scrape error names; while this fires, the target's other alerts are inhibited."),
        );
        let absent: Vec<String> = jobs
            .iter()
            .map(|job| {
                format!(
                    "absent(up{{job=\"{}\"}})",
                    job.name.replace('\\', "\\\\").replace('"', "\\\"")
                )
            })
            .collect();
        let mut test = AlertTest::new().label("job", &first.name);
        for (index, job) in jobs.iter().enumerate() {
            let series = format!(
                "up{{job=\"{}\",instance=\"{}\"}}",
                job.name,
                job.targets.first().map_or("target:1", String::as_str)
            );
            if index > 0 {
                test = test.firing(&series, "1x40");
            }
            test = test.silent(&series, "1x40");
        }
        alerts.push(
            Alert::critical("TargetMissing", raw_condition(&absent.join(" or ")))
                .for_(minutes(2))
                .summary("Prometheus has no target of job {{ $labels.job }}")
                .description("No series `up` of job {{ $labels.job }} for {for}: its targets were removed from the scrape configuration or are not discovered, so nothing of it is watched. It keeps firing until the job is scraped again.")
                .diagnosis("A renamed or deleted scrape job, a failed configuration reload or a service discovery that finds nothing leaves the job without targets.")
                .mitigation("Restore the job in prometheus.yml (regenerate it) and reload Prometheus.")
                .tested_with(test),
        );
        alerts
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
            replica_label: None,
        };
        model.recorded = rules::records(&model);
        problems.extend(model.problems());
        problems.extend(slo::problems(&model));
        // The scale-out deployment's rules and dashboards read the store: replicas'
        // copies reduced, classic histograms where the store has no native ones.
        let central_settings = self.settings.scale_out.as_ref().map(|scale_out| {
            let mut settings = self.settings.clone();
            settings.native_histograms &= scale_out.store.reads_native_histograms();
            settings.prometheus_url.clone_from(&scale_out.query_url);
            settings
        });
        // A replica neither evaluates rules nor sends alerts: the ruler's rules leave out
        // the alerts on the series only that would expose.
        let central_sets: Option<Vec<ObservedSet>> = central_settings.as_ref().map(|_| {
            let mut central_sets = sets.clone();
            for set in &mut central_sets {
                set.alerts.retain(|alert| {
                    !alert.condition.expr.metrics().iter().any(|metric| {
                        PrometheusServer::RULE_ENGINE_SERIES
                            .contains(&metric.sample_name().as_str())
                    })
                });
            }
            central_sets
        });
        let central = central_settings.as_ref().map(|settings| {
            let mut central = Model {
                sets: central_sets.as_deref().unwrap_or(&sets),
                settings,
                replica_label: settings
                    .scale_out
                    .as_ref()
                    .map(|scale_out| scale_out.store.replica_label()),
                recorded: Vec::new(),
                ..model
            };
            central.recorded = rules::records(&central);
            central
        });
        if let Some(central) = &central {
            if !central.settings.native_histograms && self.settings.native_histograms {
                problems.extend(
                    central
                        .problems()
                        .into_iter()
                        .map(|problem| format!("scale-out store: {problem}")),
                );
            }
        }
        let slo_tests = match slo::tests(&model) {
            Ok(tests) => Some(tests),
            Err(more) => {
                problems.extend(more);
                None
            }
        };
        let (alerts, mut groups) = rules::alerts(&model);
        let (recording, recording_group) = rules::recording(&model);
        // promtool orders groups at random unless told: the recording group goes first so
        // that an alert reads the rate recorded at the same step, as it does in Prometheus
        // within one interval.
        let eval_order: Vec<String> = recording_group
            .iter()
            .chain(&groups)
            .map(|group| rules::loaded_name(&group.name, &group.fingerprint))
            .collect();
        let tests = alert_tests::promtool_tests(&model, &eval_order);
        let tests = match tests {
            Ok(tests) => Some(tests),
            Err(more) => {
                problems.extend(more);
                None
            }
        };
        let cardinality = budget::cardinality(&model);
        let mut warnings = Vec::new();
        if let Some(excess) = cardinality.excess() {
            match cardinality.budget.map(|budget| budget.over) {
                Some(OverBudget::Warn) => warnings.push(excess),
                _ => problems.push(excess),
            }
        }
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
        files.insert("prometheus/alerts.yml".to_owned(), alerts);
        files.insert("prometheus/recording.yml".to_owned(), recording);
        let recording_rules = recording_group
            .as_ref()
            .map_or(0, |group| group.rules.len());
        groups.extend(recording_group);
        // Without SLOs there is no `slo.yml` (nor a `rule_files` entry for it).
        if !slos.is_empty() {
            let (slo_rules, slo_groups) = slo::rules(&model);
            files.insert("prometheus/slo.yml".to_owned(), slo_rules);
            let (pages, tickets) = slo_tests;
            files.insert("prometheus/slo.test.yml".to_owned(), pages);
            files.insert("prometheus/slo-tickets.test.yml".to_owned(), tickets);
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
            format!("alertmanager/templates/{}.tmpl", self.settings.name),
            configs::templates(&model),
        );
        files.insert(
            "RUNBOOKS.md".to_owned(),
            rules::runbooks(&model) + &slo::runbooks(&model),
        );
        files.insert(
            "CARDINALITY.md".to_owned(),
            budget::report(&model, &cardinality),
        );
        let scale_out_inventory = central
            .as_ref()
            .map(|central| scale_out_files(&mut files, central));
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
            cardinality,
            warnings,
            scale_out_inventory,
        })
    }
}

/// The files of the scale-out deployment (see [`ScaleOut`]), rendered from `central`;
/// dashboards only where they differ from the single Prometheus' ones already in `files`
/// (a store without native histograms). Returns what `verify` checks of it.
fn scale_out_files(files: &mut BTreeMap<String, String>, central: &Model<'_>) -> verify::Inventory {
    let (alerts, mut groups) = rules::alerts(central);
    files.insert("scale-out/rules/alerts.yml".to_owned(), alerts);
    let (recording, recording_group) = rules::recording(central);
    files.insert("scale-out/rules/recording.yml".to_owned(), recording);
    groups.extend(recording_group);
    if !central.slos.is_empty() {
        let (slo_rules, slo_groups) = slo::rules(central);
        files.insert("scale-out/rules/slo.yml".to_owned(), slo_rules);
        groups.extend(slo_groups);
    }
    let inventory = central.inventory(groups);
    let Some(scale_out) = &central.settings.scale_out else {
        return inventory;
    };
    for replica in &scale_out.replicas {
        files.insert(
            format!("scale-out/prometheus/{replica}.yml"),
            scale_out::replica(central, scale_out, replica),
        );
    }
    files.insert(
        "scale-out/grafana/provisioning/datasources/prometheus.yml".to_owned(),
        scale_out::datasource(central, scale_out),
    );
    for (uid, json) in grafana::dashboards(central) {
        if files.get(&format!("grafana/dashboards/{uid}.json")) != Some(&json) {
            files.insert(format!("scale-out/grafana/dashboards/{uid}.json"), json);
        }
    }
    files.insert(
        "scale-out/README.md".to_owned(),
        scale_out::readme(central, scale_out),
    );
    inventory
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
    /// The label of the replicas writing into a shared store, for the central ruler's
    /// rules (see [`Context::replica_label`]); `None` for one Prometheus.
    pub(crate) replica_label: Option<&'a str>,
}

impl Model<'_> {
    /// Panels' context: reading the recording rules.
    pub(crate) fn dashboard_cx(&self) -> Context {
        self.settings
            .dashboard_context()
            .with_recorded(&self.recorded)
    }

    /// Rules' context: the rule window, reading the recording rules.
    pub(crate) fn rules_cx(&self) -> Context {
        let cx = self.settings.rules_context().with_recorded(&self.recorded);
        match self.replica_label {
            Some(label) => cx.deduplicated(label),
            None => cx,
        }
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

    /// The scrape jobs whose targets expose `set`: those bound to it with
    /// [`Generator::serves`]; else, for the application's own sets, its `NAME-ROLE` jobs;
    /// every job for Prometheus' `up`; none for an external set nobody bound.
    pub(crate) fn jobs_of(&self, set: &ObservedSet) -> Vec<&str> {
        let jobs = &self.settings.scrape_jobs;
        if set.descriptor == ScrapeTargets::DESCRIPTOR {
            return jobs.iter().map(|job| job.name.as_str()).collect();
        }
        let bound: Vec<&str> = jobs
            .iter()
            .filter(|job| job.sets.contains(&set.name()))
            .map(|job| job.name.as_str())
            .collect();
        if !bound.is_empty() || set.descriptor.external {
            return bound;
        }
        let prefix = format!("{}-", self.settings.name);
        jobs.iter()
            .filter(|job| job.name.starts_with(&prefix) && job.sets.is_empty())
            .map(|job| job.name.as_str())
            .collect()
    }

    /// How an alert's queries render: the rule window, a selector of its set's jobs, and
    /// one result per instance, or per job for [`Alert::per_job`].
    pub(crate) fn alert_context(&self, set: &ObservedSet, alert: &Alert) -> Context {
        let mut cx = self.rules_cx();
        let jobs = self.jobs_of(set);
        if !jobs.is_empty() {
            let regex: Vec<String> = jobs.iter().map(|job| regex_escape(job)).collect();
            cx.selectors.push(("job".to_owned(), regex.join("|")));
        }
        if alert.per_job {
            cx.keep.retain(|label| label != "instance");
        }
        cx
    }

    /// The job the generated tests' series carry: the first of the set's jobs.
    pub(crate) fn test_job(&self, set: &ObservedSet) -> String {
        self.jobs_of(set)
            .first()
            .map_or_else(|| "test".to_owned(), |job| (*job).to_owned())
    }

    /// The overview dashboard in Grafana, its `$job` and `$instance` variables set to
    /// the alert's when its result has them (`labels`).
    pub(crate) fn dashboard_url(&self, labels: &BTreeSet<String>) -> String {
        self.grafana_link(&self.settings.uid(), None, labels)
    }

    /// The `dashboard_url` annotation: the panel of the alert's set's dashboard that
    /// shows its signal, alone (`viewPanel`), with `$job` and `$instance` set; the set's
    /// dashboard when none of its panels reads the alert's metrics; the overview for a
    /// set without a dashboard.
    pub(crate) fn alert_dashboard_url(
        &self,
        set: &ObservedSet,
        alert: &Alert,
        labels: &BTreeSet<String>,
    ) -> String {
        match grafana::alert_panel(self, set, alert) {
            Some((uid, panel)) => self.grafana_link(&uid, Some(panel), labels),
            None if !set.rows.is_empty() => {
                self.grafana_link(&grafana::set_dashboard(self, set).0, None, labels)
            }
            None => self.dashboard_url(labels),
        }
    }

    fn grafana_link(&self, uid: &str, panel: Option<u32>, labels: &BTreeSet<String>) -> String {
        let mut url = format!(
            "{}/d/{uid}",
            self.settings.grafana_url.trim_end_matches('/'),
        );
        let mut separator = '?';
        if let Some(panel) = panel {
            url.push_str(&format!("?viewPanel={panel}"));
            separator = '&';
        }
        for label in ["job", "instance"] {
            if labels.contains(label) {
                url.push(separator);
                url.push_str(&format!("var-{label}={{{{ $labels.{label} }}}}"));
                separator = '&';
            }
        }
        url
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
        let dashboard = self.settings.dashboard_context();
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
        for (set, alert) in self.alerts() {
            let returns = alert.condition.comparison == fiko_dashboards::Comparison::Returns;
            queries.push(verify::Query {
                kind: "alert",
                item: format!("alert `{}`", alert.name),
                promql: alert.condition.expr.render(&Context {
                    recorded: Vec::new(),
                    ..self.alert_context(set, alert)
                }),
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
            problems.extend(
                alert
                    .problems_in(&self.settings.rules_context())
                    .into_iter()
                    .map(|p| format!("{at}: {p}")),
            );
            if let Some(first) = names.insert(alert.name.clone(), at) {
                problems.push(format!(
                    "{at}: two alerts are named `{}` (the other in {first})",
                    alert.name
                ));
            }
            let labels = alert_tests::result_labels(alert, &self.alert_context(set, alert));
            for text in [&alert.summary, &alert.description] {
                if let Err(problem) = alert_tests::expand(text, &labels_map(&labels)) {
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
                        let mut found = target.expr.problems();
                        if !self.settings.native_histograms {
                            found.extend(target.expr.problems_without_native_histograms());
                        }
                        problems.extend(
                            found
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

/// `text` as a regular expression matching only itself.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
    cardinality: Cardinality,
    warnings: Vec<String>,
    scale_out_inventory: Option<verify::Inventory>,
}

impl Artefacts {
    /// The worst-case series of every declared metric, and the budget they were checked
    /// against.
    pub fn cardinality(&self) -> &Cardinality {
        &self.cardinality
    }

    /// What generation noticed without failing: a series budget exceeded with
    /// [`OverBudget::Warn`].
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// What was generated, counted.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Checks the artefacts against a live Prometheus: see [`verify`].
    pub fn verify(&self, options: &verify::Options) -> Result<verify::Report, verify::VerifyError> {
        verify::run(&self.inventory, options)
    }

    /// Checks the scale-out deployment against its store's query API (`options.url`)
    /// and its ruler's (`options.rules_url`, vmalert's say): the queries of its
    /// dashboards and rules, its rule groups in this generation's version, its jobs.
    /// `None` when the generator declared no [`ScaleOut`].
    pub fn verify_scale_out(
        &self,
        options: &verify::Options,
    ) -> Option<Result<verify::Report, verify::VerifyError>> {
        self.scale_out_inventory
            .as_ref()
            .map(|inventory| verify::run(inventory, options))
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
