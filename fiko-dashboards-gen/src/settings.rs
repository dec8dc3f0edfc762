//! Everything besides the declarations that the artefacts depend on, and the names the
//! output gives the application.

use fiko_dashboards::{Context, PromDuration, minutes, seconds};

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
    /// The metric sets (type names) the job's targets expose, bound with
    /// [`Generator::serves`](crate::Generator::serves): those sets' rules select this job.
    pub sets: Vec<&'static str>,
}

/// Where Alertmanager sends notifications. Secrets are named by file, never written into
/// the generated `alertmanager.yml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notifications {
    /// A webhook receiving every notification: its URL and, if it needs one, a file
    /// holding the bearer token (`http_config.authorization.credentials_file`).
    pub webhook: Option<(String, Option<String>)>,
    /// Slack: the file holding the incoming-webhook URL (`api_url_file`) and the channel.
    pub slack: Option<(String, String)>,
    /// PagerDuty (Events API v2): the file holding the routing key (`routing_key_file`);
    /// critical alerts only.
    pub pagerduty: Option<String>,
    /// E-mail for warnings: recipient, sender and `host:port` of the SMTP relay.
    pub email: Option<(String, String, String)>,
    /// The dead-man's switch URL the always-firing Watchdog is sent to (every minute);
    /// when it stops hearing from Alertmanager, it alerts by another path.
    pub dead_mans_switch: Option<String>,
}

/// The longest application name: its dashboard uid, `NAME-overview`, must stay within
/// Grafana's 40 characters.
pub const MAX_NAME_LEN: usize = 31;

/// Everything besides the declarations that the artefacts depend on.
///
/// Every name in the output derives from [`name`](Self::name) unless set here: rule
/// groups `NAME.SERVICE` and `NAME.recording`, the Grafana folder and provider (`Name`,
/// `grafana/provisioning/dashboards/NAME.yml`), the dashboard (`NAME-overview`,
/// "Name overview", tagged `NAME`) and the jobs of [`Generator::scrape_app`](crate::Generator::scrape_app)
/// (`NAME-ROLE`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The application's name: lower-case ASCII letters, digits, `-` and `_`, starting
    /// with a letter, at most [`MAX_NAME_LEN`] characters.
    pub name: String,
    /// The overview dashboard's uid (also its file name); by default `NAME-overview`.
    pub dashboard_uid: Option<String>,
    /// The overview dashboard's title; by default `Name overview`.
    pub dashboard_title: Option<String>,
    /// The Grafana folder of the dashboards; by default the name in title case.
    pub grafana_folder: Option<String>,
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
    /// Runbook links are this absolute URL + `#` + the lower-case alert name (the
    /// generated `RUNBOOKS.md` has one section per alert), e.g. where the repository
    /// shows `deploy/RUNBOOKS.md`. Required: a pager shows a relative link unclickable.
    pub runbook_base: String,
    /// Whether the store behind Grafana and the rules reads native histograms (true by
    /// default: Prometheus with `--enable-feature=native-histograms`). Set it to false for
    /// a store without them (VictoriaMetrics 1.79, Prometheus without the feature): the
    /// panels, rules and alerts then read a histogram declared native and classic from its
    /// classic `_bucket` series by `le` (its alert thresholds must be bucket boundaries
    /// again, and promtool tests them), and a native-only one from `_count` and `_sum`; a
    /// quantile of a native-only histogram is then an error, as such a store has no
    /// buckets to read it from.
    pub native_histograms: bool,
    /// The most series the deployment may expose, checked against the declarations' worst
    /// case (`CARDINALITY.md`); `None` for no check.
    pub series_budget: Option<crate::budget::SeriesBudget>,
    /// The Grafana URL people open: alerts link to their dashboard there.
    pub grafana_url: String,
    /// Alertmanager's receivers.
    pub notifications: Notifications,
    /// Divides every SLO window and burn-rate alert `for` (1, the default, keeps the SRE
    /// workbook's 5m to 3d and 30 days); it must divide 60. For real-time tests: at 60,
    /// the page's 1h and 5m windows become 1m and 5s. Alert names keep the nominal
    /// windows; recorded series and the `long_window`/`short_window` labels show the
    /// scaled ones.
    pub slo_time_scale: u32,
    /// The scale-out deployment written under `scale-out/` besides the single Prometheus
    /// (see [`ScaleOut`](crate::ScaleOut)); `None` for none.
    pub scale_out: Option<crate::ScaleOut>,
}

impl Settings {
    /// The defaults for an application named `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            dashboard_uid: None,
            dashboard_title: None,
            grafana_folder: None,
            rule_window: minutes(5),
            scrape_interval: seconds(15),
            evaluation_interval: seconds(15),
            scrape_jobs: Vec::new(),
            alertmanagers: vec!["alertmanager:9093".to_owned()],
            prometheus_url: "http://prometheus:9090".to_owned(),
            grafana_dashboards_path: "/var/lib/grafana/dashboards".to_owned(),
            runbook_base: String::new(),
            native_histograms: true,
            series_budget: None,
            grafana_url: "http://localhost:3000".to_owned(),
            notifications: Notifications::default(),
            slo_time_scale: 1,
            scale_out: None,
        }
    }

    /// The query context of the dashboards, for this store.
    pub(crate) fn dashboard_context(&self) -> Context {
        self.store(Context::dashboard())
    }

    /// The query context of the rule files, for this store.
    pub(crate) fn rules_context(&self) -> Context {
        self.store(Context::rules(self.rule_window))
    }

    fn store(&self, cx: Context) -> Context {
        if self.native_histograms {
            cx
        } else {
            cx.without_native_histograms()
        }
    }

    /// The name in title case, words split at `-` and `_`: `my-shop` → `My Shop`.
    pub fn title_name(&self) -> String {
        self.name
            .split(['-', '_'])
            .filter(|word| !word.is_empty())
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect::<String>()
                })
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The overview dashboard's uid.
    pub fn uid(&self) -> String {
        self.dashboard_uid
            .clone()
            .unwrap_or_else(|| format!("{}-overview", self.name))
    }

    /// The overview dashboard's title.
    pub fn title(&self) -> String {
        self.dashboard_title
            .clone()
            .unwrap_or_else(|| format!("{} overview", self.title_name()))
    }

    /// The Grafana folder.
    pub fn folder(&self) -> String {
        self.grafana_folder
            .clone()
            .unwrap_or_else(|| self.title_name())
    }

    /// The rule group of a service's alerts (`NAME.SERVICE`); the generated file adds
    /// `@` and the fingerprint of the group's rules.
    pub fn rule_group(&self, service: &str) -> String {
        format!("{}.{service}", self.name)
    }

    /// The job name of one role of the application's processes (`NAME-ROLE`).
    pub fn job_name(&self, role: &str) -> String {
        format!("{}-{role}", self.name)
    }

    /// Where the Grafana dashboard provider is written.
    pub fn provider_path(&self) -> String {
        format!("grafana/provisioning/dashboards/{}.yml", self.name)
    }

    /// Mistakes in the names, one line each.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let name = &self.name;
        let well_formed = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !well_formed || name.len() > MAX_NAME_LEN {
            problems.push(format!(
                "application name `{name}`: use 1 to {MAX_NAME_LEN} lower-case ASCII letters, digits, `-` or `_`, starting with a letter"
            ));
        }
        let absolute = |url: &str| {
            url.strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
        };
        if self.runbook_base.is_empty() {
            problems.push("runbook base: not set; alerts need absolute runbook links (`runbook_base(URL)` or `--runbook-base-url URL`, where RUNBOOKS.md is published)".to_owned());
        } else if !absolute(&self.runbook_base) || self.runbook_base.contains('#') {
            problems.push(format!(
                "runbook base `{}`: not an absolute http(s) URL without `#`; a pager cannot open it",
                self.runbook_base
            ));
        }
        if !absolute(&self.grafana_url) {
            problems.push(format!(
                "grafana url `{}`: not an absolute http(s) URL",
                self.grafana_url
            ));
        }
        if let Some(uid) = &self.dashboard_uid {
            let ok = !uid.is_empty()
                && uid.len() <= 40
                && uid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                problems.push(format!(
                    "dashboard uid `{uid}`: Grafana takes 1 to 40 ASCII letters, digits, `-` or `_`"
                ));
            }
        }
        if let Some(scale_out) = &self.scale_out {
            let jobs: Vec<&str> = self
                .scrape_jobs
                .iter()
                .map(|job| job.name.as_str())
                .collect();
            problems.extend(scale_out.problems(&jobs));
        }
        problems
    }
}
