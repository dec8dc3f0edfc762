//! The scale-out deployment: Prometheus replicas (or agents) that scrape and remote-write
//! into a horizontally scaled store, with the rules evaluated there by a central ruler.
//!
//! Written under `scale-out/` beside the single-Prometheus files:
//! - `prometheus/REPLICA.yml`: one configuration per replica, the same scrape jobs as
//!   `prometheus/prometheus.yml`, `external_labels` naming the cluster and the replica,
//!   `remote_write` to the store; no rules and no Alertmanager (the ruler has them). The
//!   same file serves a Prometheus server and one in agent mode (`--enable-feature=agent`);
//! - `rules/alerts.yml`, `rules/recording.yml`, `rules/slo.yml`: the rules for the
//!   ruler, every series read reduced over the replica label first (so a copy per replica
//!   is counted once, whether or not the store deduplicates), histograms read from their
//!   classic buckets when the store has no native histograms, and only fields vmalert
//!   accepts;
//! - `grafana/provisioning/datasources/prometheus.yml`: Grafana reads the store's global
//!   query endpoint (with the tenant header where the store wants one);
//! - `README.md`: how to run the replicas, the store and the ruler of the chosen engine.

use std::fmt::Write as _;

use crate::Model;
use crate::yaml::q;

/// The store the replicas write into; each preset knows its endpoints, its tenant header
/// and how it deduplicates the replicas' copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Grafana Mimir: `/api/v1/push`, queries under `/prometheus`, tenant in
    /// `X-Scope-OrgID`. Its HA tracker keeps one replica's samples per `cluster` and drops
    /// the `__replica__` label.
    Mimir,
    /// Thanos Receive for writes (`/api/v1/receive`, tenant in `THANOS-TENANT`) and a
    /// Thanos Query for reads, which deduplicates by `replica`
    /// (`--query.replica-label=replica`).
    ThanosReceive,
    /// VictoriaMetrics, single node (`/api/v1/write`, queries at the root) or cluster
    /// (vminsert's `/insert/TENANT/prometheus/api/v1/write`, vmselect's
    /// `/select/TENANT/prometheus`). The replicas drop `replica` when writing, so their
    /// copies are the same series, and `-dedup.minScrapeInterval` keeps one sample per
    /// scrape interval. Version 1.79 reads no native histograms.
    VictoriaMetrics,
}

impl Store {
    /// The lower-case name used in the README and in errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mimir => "mimir",
            Self::ThanosReceive => "thanos-receive",
            Self::VictoriaMetrics => "victoria-metrics",
        }
    }

    /// The external label naming the replica: Mimir's HA tracker reads `__replica__`,
    /// the others `replica`.
    pub fn replica_label(self) -> &'static str {
        match self {
            Self::Mimir => "__replica__",
            Self::ThanosReceive | Self::VictoriaMetrics => "replica",
        }
    }

    /// The HTTP header carrying the tenant, if the store takes it from a header
    /// (VictoriaMetrics cluster takes it in the path).
    pub fn tenant_header(self) -> Option<&'static str> {
        match self {
            Self::Mimir => Some("X-Scope-OrgID"),
            Self::ThanosReceive => Some("THANOS-TENANT"),
            Self::VictoriaMetrics => None,
        }
    }

    /// Whether queries can read native histograms (Mimir and Thanos can,
    /// VictoriaMetrics 1.79 cannot).
    pub fn reads_native_histograms(self) -> bool {
        !matches!(self, Self::VictoriaMetrics)
    }
}

/// A scale-out deployment: where the replicas write, where Grafana and the ruler read,
/// and the replicas themselves. Built from a preset:
///
/// ```
/// use fiko_dashboards_gen::{ScaleOut, Store};
///
/// let mimir = ScaleOut::mimir("http://mimir:8080", "shop").replicas(&["a", "b"]);
/// assert_eq!(mimir.write_url, "http://mimir:8080/api/v1/push");
/// assert_eq!(mimir.query_url, "http://mimir:8080/prometheus");
/// assert_eq!(mimir.store, Store::Mimir);
///
/// let vm = ScaleOut::victoria_metrics("http://victoria-metrics:8428");
/// assert_eq!(vm.write_url, "http://victoria-metrics:8428/api/v1/write");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleOut {
    /// The store's engine.
    pub store: Store,
    /// The remote-write endpoint.
    pub write_url: String,
    /// The global query endpoint (Prometheus' HTTP API) that Grafana and the ruler read.
    pub query_url: String,
    /// The tenant, sent in the store's tenant header; `None` for a store without tenants.
    pub tenant: Option<String>,
    /// The `cluster` external label: which Prometheus pair the samples come from.
    pub cluster: String,
    /// The replicas' names, the value of the replica label: one configuration each.
    pub replicas: Vec<String>,
    /// The scrape job of the replicas themselves and their `host:port`s: in the replicas'
    /// configurations, this job scrapes every replica, so a dead one is reported
    /// (`TargetDown`) by the others. `None` keeps the job as the settings have it.
    pub replica_job: Option<(String, Vec<String>)>,
}

impl ScaleOut {
    fn new(store: Store, write_url: String, query_url: String, tenant: Option<&str>) -> Self {
        Self {
            store,
            write_url,
            query_url,
            tenant: tenant.map(str::to_owned),
            cluster: "main".to_owned(),
            replicas: vec!["a".to_owned(), "b".to_owned()],
            replica_job: None,
        }
    }

    /// Grafana Mimir at `url` (its distributor and query frontend behind one address),
    /// for `tenant`.
    pub fn mimir(url: &str, tenant: &str) -> Self {
        let url = url.trim_end_matches('/');
        Self::new(
            Store::Mimir,
            format!("{url}/api/v1/push"),
            format!("{url}/prometheus"),
            Some(tenant),
        )
    }

    /// Thanos Receive at `receive_url` and Thanos Query at `query_url`, for `tenant`.
    pub fn thanos(receive_url: &str, query_url: &str, tenant: &str) -> Self {
        Self::new(
            Store::ThanosReceive,
            format!("{}/api/v1/receive", receive_url.trim_end_matches('/')),
            query_url.trim_end_matches('/').to_owned(),
            Some(tenant),
        )
    }

    /// A VictoriaMetrics single-node server at `url`.
    pub fn victoria_metrics(url: &str) -> Self {
        let url = url.trim_end_matches('/');
        Self::new(
            Store::VictoriaMetrics,
            format!("{url}/api/v1/write"),
            url.to_owned(),
            None,
        )
    }

    /// A VictoriaMetrics cluster: vminsert at `insert_url`, vmselect at `select_url`, the
    /// tenant (`accountID` or `accountID:projectID`) in the path.
    pub fn victoria_metrics_cluster(insert_url: &str, select_url: &str, tenant: &str) -> Self {
        Self::new(
            Store::VictoriaMetrics,
            format!(
                "{}/insert/{tenant}/prometheus/api/v1/write",
                insert_url.trim_end_matches('/')
            ),
            format!(
                "{}/select/{tenant}/prometheus",
                select_url.trim_end_matches('/')
            ),
            None,
        )
    }

    /// The replicas' names (two, `a` and `b`, by default).
    pub fn replicas(mut self, names: &[&str]) -> Self {
        self.replicas = names.iter().map(|name| (*name).to_owned()).collect();
        self
    }

    /// The scrape job of the replicas (the one serving Prometheus' own metrics) and the
    /// replicas' `host:port`s: each replica scrapes all of them, so one that dies is
    /// reported by the others.
    pub fn replica_job(mut self, job: &str, targets: &[&str]) -> Self {
        self.replica_job = Some((
            job.to_owned(),
            targets.iter().map(|target| (*target).to_owned()).collect(),
        ));
        self
    }

    /// The `cluster` label (`main` by default).
    pub fn cluster(mut self, name: &str) -> Self {
        name.clone_into(&mut self.cluster);
        self
    }

    /// Mistakes, one line each.
    pub(crate) fn problems(&self, settings_jobs: &[&str]) -> Vec<String> {
        let mut problems = Vec::new();
        for (what, url) in [("write", &self.write_url), ("query", &self.query_url)] {
            let absolute = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"))
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
            if !absolute {
                problems.push(format!(
                    "scale-out {what} url `{url}`: not an absolute http(s) URL"
                ));
            }
        }
        if self.replicas.is_empty() {
            problems.push("scale-out: no replica; name at least one (two for HA)".to_owned());
        }
        let label_value = |value: &str| {
            !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        for (index, replica) in self.replicas.iter().enumerate() {
            if !label_value(replica) {
                problems.push(format!(
                    "scale-out replica `{replica}`: use ASCII letters, digits, `-`, `_` or `.` (it names a file)"
                ));
            }
            if self.replicas[..index].contains(replica) {
                problems.push(format!("scale-out replica `{replica}`: named twice"));
            }
        }
        if let Some((job, _)) = &self.replica_job {
            if !settings_jobs.iter().any(|name| name == job) {
                problems.push(format!(
                    "scale-out replica job `{job}`: no scrape job of that name (`scrape(...)`)"
                ));
            }
        }
        if !label_value(&self.cluster) {
            problems.push(format!(
                "scale-out cluster `{}`: use ASCII letters, digits, `-`, `_` or `.`",
                self.cluster
            ));
        }
        if self
            .tenant
            .as_deref()
            .is_some_and(|tenant| !label_value(tenant))
        {
            problems.push(format!(
                "scale-out tenant `{}`: use ASCII letters, digits, `-`, `_` or `.`",
                self.tenant.as_deref().unwrap_or_default()
            ));
        }
        problems
    }
}

/// `scale-out/prometheus/REPLICA.yml`: the scrape jobs, the cluster and replica labels,
/// remote write to the store.
pub(crate) fn replica(model: &Model<'_>, scale_out: &ScaleOut, replica: &str) -> String {
    let mut out = String::from(
        "# Generated by dashboards-gen. Do not edit: change the generator's settings and regenerate.\n",
    );
    let _ = writeln!(
        out,
        "# Replica {replica} of cluster {}: scrapes and writes to {}; the central ruler evaluates the rules.\n# Runs as a server or, with --enable-feature=agent, as an agent (the same file).",
        scale_out.cluster,
        scale_out.store.name()
    );
    crate::configs::global(&mut out, model);
    let label = scale_out.store.replica_label();
    let _ = writeln!(
        out,
        "  external_labels:\n    cluster: {}\n    {label}: {}",
        q(&scale_out.cluster),
        q(replica)
    );
    out.push_str("remote_write:\n");
    let _ = writeln!(out, "  - url: {}", q(&scale_out.write_url));
    if let (Some(header), Some(tenant)) = (scale_out.store.tenant_header(), &scale_out.tenant) {
        let _ = writeln!(out, "    headers:\n      {header}: {}", q(tenant));
    }
    if scale_out.store == Store::VictoriaMetrics {
        // External labels are attached before write relabelling: dropping the replica's
        // name makes both replicas' copies one series, which the store deduplicates.
        let _ = writeln!(
            out,
            "    write_relabel_configs:\n      - action: \"labeldrop\"\n        regex: {}",
            q(label)
        );
    }
    let mut jobs = model.settings.scrape_jobs.clone();
    if let Some((name, targets)) = &scale_out.replica_job {
        for job in jobs.iter_mut().filter(|job| &job.name == name) {
            job.targets.clone_from(targets);
        }
    }
    crate::configs::scrape_configs(&mut out, &jobs);
    out
}

/// `scale-out/grafana/provisioning/datasources/prometheus.yml`.
pub(crate) fn datasource(model: &Model<'_>, scale_out: &ScaleOut) -> String {
    let mut out = crate::grafana::datasource(model);
    if let (Some(header), Some(tenant)) = (scale_out.store.tenant_header(), &scale_out.tenant) {
        let _ = writeln!(
            out,
            "      httpHeaderName1: {}\n    secureJsonData:\n      httpHeaderValue1: {}",
            q(header),
            q(tenant)
        );
    }
    out
}

/// `scale-out/README.md`: how to run it.
pub(crate) fn readme(model: &Model<'_>, scale_out: &ScaleOut) -> String {
    let settings = model.settings;
    let interval = settings.scrape_interval.to_string();
    let alertmanagers: Vec<String> = settings
        .alertmanagers
        .iter()
        .map(|target| format!("http://{target}"))
        .collect();
    let mut out = format!(
        "<!-- Generated by dashboards-gen. Do not edit. -->\n# {} on {}: replicas, store, central ruler\n\n",
        settings.title_name(),
        scale_out.store.name()
    );
    let _ = writeln!(
        out,
        "{} Prometheus replicas ({}) scrape the same targets and remote-write to `{}`, \
labelled `cluster=\"{}\"` and `{}=\"REPLICA\"`. Rules run in a central ruler reading `{}`; \
Grafana reads the same endpoint (`grafana/provisioning/datasources/prometheus.yml`).\n",
        scale_out.replicas.len(),
        scale_out.replicas.join(", "),
        scale_out.write_url,
        scale_out.cluster,
        scale_out.store.replica_label(),
        scale_out.query_url
    );
    out.push_str("## Replicas\n\n```sh\n");
    for replica in &scale_out.replicas {
        let _ = writeln!(
            out,
            "prometheus --config.file=prometheus/{replica}.yml --storage.tsdb.retention.time=1d"
        );
    }
    out.push_str("```\n\nAs agents, which only scrape and ship, add `--enable-feature=agent` (and leave out the retention).\n\n");
    out.push_str("## Store and ruler\n\n");
    let rules = "rules/alerts.yml rules/recording.yml rules/slo.yml";
    match scale_out.store {
        Store::VictoriaMetrics => {
            let _ = writeln!(
                out,
                "The replicas drop their `replica` label when writing, so both copies are one series; VictoriaMetrics keeps one sample per scrape interval:\n\n```sh\nvictoria-metrics -dedup.minScrapeInterval={interval}\nvmalert -rule=rules/alerts.yml -rule=rules/recording.yml -rule=rules/slo.yml \\\n  -datasource.url={query} -remoteWrite.url={base} -remoteRead.url={query} \\\n  -evaluationInterval={eval} {notifiers}\n```",
                query = scale_out.query_url,
                // vmalert appends `/api/v1/write` itself.
                base = scale_out
                    .write_url
                    .strip_suffix("/api/v1/write")
                    .unwrap_or(&scale_out.write_url),
                eval = settings.evaluation_interval,
                notifiers = alertmanagers
                    .iter()
                    .map(|url| format!("-notifier.url={url}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        Store::Mimir => {
            let _ = writeln!(
                out,
                "Mimir's HA tracker accepts one replica per cluster at a time and drops `__replica__` (`-distributor.ha-tracker.enable=true`, `-distributor.ha-tracker.enable-for-all-users=true`, with its KV store). Load the rules into Mimir's ruler for tenant `{tenant}`, and point the ruler's Alertmanager at {am}:\n\n```sh\nmimirtool rules load --address={base} --id={tenant} {rules}\n```",
                tenant = scale_out.tenant.as_deref().unwrap_or("anonymous"),
                am = alertmanagers.join(", "),
                base = scale_out.query_url.trim_end_matches("/prometheus"),
            );
        }
        Store::ThanosReceive => {
            let _ = writeln!(
                out,
                "Thanos Query deduplicates the replicas' copies (`--query.replica-label=replica`); the ruler reads through it:\n\n```sh\nthanos query --query.replica-label=replica --endpoint=RECEIVE:10901\nthanos rule --query={query} --rule-file=rules/*.yml --label='ruler_cluster=\"{cluster}\"' {am}\n```",
                query = scale_out.query_url,
                cluster = scale_out.cluster,
                am = alertmanagers
                    .iter()
                    .map(|url| format!("--alertmanagers.url={url}"))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
    out.push_str("\nEvery series a rule reads is first reduced over the replica label (`max without (...)`), so the rules count each series once even where the store keeps both copies.\n");
    out
}
