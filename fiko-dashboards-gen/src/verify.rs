//! `--verify URL`: the generated artefacts checked against a live Prometheus (or any
//! server with Prometheus' HTTP query API, such as VictoriaMetrics; the rules API may be
//! another server's, such as vmalert's).
//!
//! For every panel query, alert and recording rule the generator writes it asks whether
//! the query has data in the lookback window and which metrics it names have no series
//! there; for every scrape job of the generated `prometheus.yml` whether `up` has it and
//! whether its targets are up; for every generated rule group whether it is loaded, in
//! the version the declarations give (each group's name ends in `@FINGERPRINT`, a hash of
//! its rules), and evaluates within its interval; which generated alerts fire now; and
//! which stored series carry a value of a closed label that the declarations no longer
//! list.
//!
//! Dashboard variables are substituted so the queries run as Grafana would run them with
//! every variable at "All":
//!
//! | variable | becomes |
//! |---|---|
//! | `$job`, `$instance` (matched with `=~`) | `.+` |
//! | `$__rate_interval` | 4 × the scrape interval (Grafana's value for its default settings) |
//! | `$__interval` | the step of the range query: the lookback / 60, at least the scrape interval |
//! | `$__range` | the lookback |
//!
//! A metric a query names "is missing" when it has no series in the window and no target
//! exposes it, not even as `# HELP`/`# TYPE` without samples (Prometheus' metadata API;
//! on a server without it, every metric without series is missing); one that targets
//! expose without samples is "not recorded": declared and registered, but nothing
//! happened yet (an error counter before the first error).
//!
//! A query without data also names the `metric{label="value"}` filters of it that no
//! series in the window matches (a 5xx-only query before the first 5xx).
//!
//! A panel or recording-rule query "has data" when its range query over the lookback
//! returns a series. An alert is checked on its condition's query without the
//! comparison, so an alert that does not fire still shows whether its query sees data;
//! an alert whose query is its condition (`absent(...)`, `up == 0`) is only checked for
//! missing metrics.
//!
//! A firing alert is reported (class `firing`), except the always-firing Watchdog
//! (`severity="none"`) and alerts on a job already reported down or absent (TargetDown,
//! TargetMissing: the same problem, said once).

// The answers are read as `serde_json::Value`s, whose `value["key"]` and `value[0]` give
// `Null` for a missing key or index instead of panicking.
#![allow(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::rules::{GroupInfo, loaded_name};

const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// What the generator wrote, as `verify` checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Inventory {
    pub(crate) queries: Vec<Query>,
    pub(crate) groups: Vec<GroupInfo>,
    pub(crate) jobs: Vec<String>,
    pub(crate) closed: Vec<ClosedLabel>,
    pub(crate) scrape_interval_seconds: u64,
}

/// One query of a panel, alert or recording rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Query {
    /// `panel`, `alert` or `record`.
    pub(crate) kind: &'static str,
    /// How the report names it.
    pub(crate) item: String,
    /// The PromQL whose data is checked.
    pub(crate) promql: String,
    /// Whether an empty answer is normal (an alert whose query is its condition).
    pub(crate) empty_is_normal: bool,
}

/// A closed label of a declared metric.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClosedLabel {
    pub(crate) metric: String,
    pub(crate) series: Vec<String>,
    pub(crate) label: &'static str,
    pub(crate) values: &'static [&'static str],
}

/// A kind of problem `verify` reports; `--fail-on` selects which make it exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// A scrape job of the generated config has no target in `up`.
    JobAbsent,
    /// A target of a generated scrape job is down (`up == 0`).
    JobDown,
    /// A generated rule group is not loaded.
    GroupMissing,
    /// A generated rule group is loaded with another fingerprint: an older or newer
    /// generation than the declarations.
    GroupStale,
    /// A loaded group's last evaluation took longer than its interval.
    GroupSlow,
    /// A query names metrics that have no series in the window and that no target
    /// exposes (not even as `# HELP`/`# TYPE` without samples).
    MissingMetric,
    /// A query names metrics that targets expose without samples: declared and
    /// registered, but nothing recorded yet (an error counter before the first error).
    NotRecorded,
    /// A query has no data in the window although its metrics have series.
    NoData,
    /// The server refused a query.
    QueryError,
    /// Stored series carry a value of a closed label the declarations no longer list.
    LabelDrift,
    /// A generated alert fires now.
    Firing,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 11] = [
        Class::JobAbsent,
        Class::JobDown,
        Class::GroupMissing,
        Class::GroupStale,
        Class::GroupSlow,
        Class::MissingMetric,
        Class::NotRecorded,
        Class::NoData,
        Class::QueryError,
        Class::LabelDrift,
        Class::Firing,
    ];

    /// The classes that fail a run unless `--fail-on` says otherwise: all but
    /// `not-recorded` and `no-data` (a panel of something that has not happened yet) and
    /// `firing` (an alert's job).
    pub const DEFAULT_FAIL_ON: [Class; 8] = [
        Class::JobAbsent,
        Class::JobDown,
        Class::GroupMissing,
        Class::GroupStale,
        Class::GroupSlow,
        Class::MissingMetric,
        Class::QueryError,
        Class::LabelDrift,
    ];

    /// The name `--fail-on` and the report use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Class::JobAbsent => "job-absent",
            Class::JobDown => "job-down",
            Class::GroupMissing => "group-missing",
            Class::GroupStale => "group-stale",
            Class::GroupSlow => "group-slow",
            Class::MissingMetric => "missing-metric",
            Class::NotRecorded => "not-recorded",
            Class::NoData => "no-data",
            Class::QueryError => "query-error",
            Class::LabelDrift => "label-drift",
            Class::Firing => "firing",
        }
    }

    /// Parses `--fail-on`: a comma-separated list of class names, `all`, `none` or
    /// `default`.
    pub fn parse_list(text: &str) -> Result<Vec<Class>, String> {
        let mut classes = BTreeSet::new();
        for word in text.split(',').map(str::trim) {
            match word {
                "all" => classes.extend(Class::ALL),
                "default" => classes.extend(Class::DEFAULT_FAIL_ON),
                "none" => {}
                _ => match Class::ALL.iter().find(|class| class.as_str() == word) {
                    Some(class) => {
                        classes.insert(*class);
                    }
                    None => {
                        return Err(format!(
                            "unknown problem class `{word}` (use {}, all, none or default)",
                            Class::ALL.map(Class::as_str).join(", ")
                        ));
                    }
                },
            }
        }
        Ok(classes.into_iter().collect())
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem: its class, the generated item it affects, what was seen.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The kind of problem.
    pub class: Class,
    /// The item: ``job `shop-web` ``, ``group `shop.app` ``, ``panel `Orders` ``, ...
    pub item: String,
    /// What was seen.
    pub detail: String,
}

/// How one panel query, alert or recording rule fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemStatus {
    /// `panel`, `alert` or `record`.
    pub kind: &'static str,
    /// Its name in the report.
    pub item: String,
    /// The query run, variables substituted.
    pub query: String,
    /// Whether it returned a series in the window.
    pub data: bool,
    /// The metrics it names that have no series in the window.
    pub missing_metrics: Vec<String>,
    /// Of a query without data, the `metric{label="value"}` filters no series in the
    /// window matches.
    pub missing_label_values: Vec<String>,
}

/// How one generated scrape job fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    /// The job name.
    pub job: String,
    /// Its targets in `up`.
    pub targets: usize,
    /// The instances of those that are down.
    pub down: Vec<String>,
}

/// How one generated rule group fared.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupStatus {
    /// The group's name without the fingerprint.
    pub group: String,
    /// The fingerprint the declarations give.
    pub fingerprint: String,
    /// The fingerprints of the groups of that name the rules API shows (`no
    /// fingerprint` for a group named without one); empty when none is loaded.
    pub loaded: Vec<String>,
    /// How long the last evaluation of the current version took, in seconds.
    pub evaluation_seconds: Option<f64>,
    /// The loaded group's interval, in seconds.
    pub interval_seconds: Option<f64>,
}

/// Where and how to verify.
#[derive(Clone, Debug)]
pub struct Options {
    /// The query API's base URL (`http://prometheus:9090`).
    pub url: String,
    /// The rules API's base URL, when another server evaluates the rules (vmalert);
    /// `None`: the query API's server.
    pub rules_url: Option<String>,
    /// How far back data counts, in seconds.
    pub lookback_seconds: u64,
    /// The bearer token sent to both APIs.
    pub bearer_token: Option<String>,
}

/// What a `verify` run found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The query API's base URL.
    pub url: String,
    /// The rules API's base URL.
    pub rules_url: String,
    /// The lookback, in seconds.
    pub lookback_seconds: u64,
    /// The value `$__rate_interval` took, in seconds.
    pub rate_interval_seconds: u64,
    /// Every query checked.
    pub items: Vec<ItemStatus>,
    /// Every generated scrape job.
    pub jobs: Vec<JobStatus>,
    /// Every generated rule group.
    pub groups: Vec<GroupStatus>,
    /// Closed labels checked.
    pub closed_labels: usize,
    /// Every problem, sorted by class then item.
    pub problems: Vec<Problem>,
}

/// Why a run could not check anything.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {message}")]
pub struct VerifyError {
    url: String,
    message: String,
}

/// A base URL (`http://host:port[/prefix]`) and the token to send.
struct Client {
    base: String,
    host: String,
    prefix: String,
    token: Option<String>,
}

impl Client {
    fn new(base: &str, token: Option<String>) -> Result<Self, VerifyError> {
        let fail = |message: &str| VerifyError {
            url: base.to_owned(),
            message: message.to_owned(),
        };
        let rest = base.strip_prefix("http://").ok_or_else(|| {
            fail("only http:// URLs are supported (reach an https endpoint through a local proxy or port-forward)")
        })?;
        let (host, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(fail("no host in the URL"));
        }
        let host = if host.contains(':') {
            host.to_owned()
        } else {
            format!("{host}:80")
        };
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            host,
            prefix: prefix.to_owned(),
            token,
        })
    }

    /// `GET path?query` on the API; the answer's `data`.
    fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Value, VerifyError> {
        let mut target = format!("{}{path}", self.prefix);
        for (index, (key, value)) in params.iter().enumerate() {
            target.push(if index == 0 { '?' } else { '&' });
            target.push_str(key);
            target.push('=');
            target.push_str(&encode(value));
        }
        let url = format!("{}{path}", self.base);
        let fail = |message: String| VerifyError {
            url: url.clone(),
            message,
        };
        let address = self
            .host
            .to_socket_addrs()
            .map_err(|e| fail(format!("cannot resolve {}: {e}", self.host)))?
            .next()
            .ok_or_else(|| fail(format!("cannot resolve {}", self.host)))?;
        let mut stream = TcpStream::connect_timeout(&address, IO_TIMEOUT)
            .map_err(|e| fail(format!("cannot connect: {e}")))?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| fail(format!("cannot set a timeout: {e}")))?;
        let mut head = format!(
            "GET {target} HTTP/1.0\r\nHost: {}\r\nAccept: application/json\r\n",
            self.host
        );
        if let Some(token) = &self.token {
            let _ = write!(head, "Authorization: Bearer {token}\r\n");
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .map_err(|e| fail(format!("cannot send the request: {e}")))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .map_err(|e| fail(format!("cannot read the answer: {e}")))?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| fail("the answer is not HTTP".to_owned()))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| fail("the answer is not HTTP".to_owned()))?;
        let json: Value = serde_json::from_str(body).map_err(|_| {
            let first = body.lines().next().unwrap_or_default();
            let first: String = first.chars().take(120).collect();
            fail(format!(
                "status {status}, not a Prometheus API answer: {first:?}"
            ))
        })?;
        if json["status"] != "success" {
            let error = json["error"].as_str().unwrap_or("no error message");
            return Err(fail(format!("status {status}: {error}")));
        }
        Ok(json["data"].clone())
    }
}

/// Percent-encodes a query-string value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Parses a Prometheus duration: a whole number and `s`, `m`, `h`, `d` or `w`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a duration like 30s, 5m, 1h, 2d or 1w");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    match number.checked_mul(scale) {
        Some(seconds) if seconds > 0 => Ok(seconds),
        _ => Err(bad()),
    }
}

/// `3600` → `1h`, `90` → `90s`: the shortest exact Prometheus duration.
pub(crate) fn duration_text(seconds: u64) -> String {
    for (scale, unit) in [(604_800, "w"), (86_400, "d"), (3600, "h"), (60, "m")] {
        if seconds % scale == 0 {
            return format!("{}{unit}", seconds / scale);
        }
    }
    format!("{seconds}s")
}

fn labels_text(labels: &serde_json::Map<String, Value>) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .filter(|(name, _)| name.as_str() != "alertname")
        .map(|(name, value)| {
            format!(
                "{name}={}",
                Value::String(value.as_str().unwrap_or_default().to_owned())
            )
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Runs every check of the [module docs](self).
pub(crate) fn run(inventory: &Inventory, options: &Options) -> Result<Report, VerifyError> {
    let client = Client::new(&options.url, options.bearer_token.clone())?;
    let rules_client = match &options.rules_url {
        Some(url) => Client::new(url, options.bearer_token.clone())?,
        None => Client::new(&options.url, options.bearer_token.clone())?,
    };
    let lookback = options.lookback_seconds;
    let scrape = inventory.scrape_interval_seconds.max(1);
    let rate_interval = 4 * scrape;
    let step = (lookback / 60).max(scrape).max(1);
    let end = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let start = end.saturating_sub(lookback);
    let window = [("start", start.to_string()), ("end", end.to_string())];
    let mut problems = Vec::new();

    // Scrape jobs.
    let up = client.get("/api/v1/query", &[("query", "up".to_owned())])?;
    let mut targets: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for series in up["result"].as_array().into_iter().flatten() {
        let job = series["metric"]["job"].as_str().unwrap_or_default();
        let instance = series["metric"]["instance"].as_str().unwrap_or_default();
        let value = series["value"][1].as_str().unwrap_or("0");
        targets
            .entry(job.to_owned())
            .or_default()
            .push((instance.to_owned(), value != "0"));
    }
    let mut job_status = Vec::new();
    for job in &inventory.jobs {
        let item = format!("job `{job}`");
        let instances = targets.get(job).map_or(&[][..], Vec::as_slice);
        let down: Vec<String> = instances
            .iter()
            .filter(|(_, up)| !up)
            .map(|(instance, _)| instance.clone())
            .collect();
        if instances.is_empty() {
            let others: Vec<&str> = targets
                .keys()
                .map(String::as_str)
                .filter(|other| !inventory.jobs.iter().any(|job| job == other))
                .collect();
            let detail = if others.is_empty() {
                "no target of this job in `up`".to_owned()
            } else {
                format!(
                    "no target of this job in `up` (jobs not generated: {})",
                    others.join(", ")
                )
            };
            problems.push(Problem {
                class: Class::JobAbsent,
                item,
                detail,
            });
        } else if !down.is_empty() {
            problems.push(Problem {
                class: Class::JobDown,
                item,
                detail: format!(
                    "{} of {} target(s) down: {}",
                    down.len(),
                    instances.len(),
                    down.join(", ")
                ),
            });
        }
        job_status.push(JobStatus {
            job: job.clone(),
            targets: instances.len(),
            down,
        });
    }

    let reported_jobs: BTreeSet<String> = job_status
        .iter()
        .filter(|status| status.targets == 0 || !status.down.is_empty())
        .map(|status| status.job.clone())
        .collect();

    // Which metrics have series in the window (after `up`: a job seen there has its
    // series in the names).
    let names = client.get("/api/v1/label/__name__/values", &window)?;
    let present: BTreeSet<&str> = names
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();

    // Which metrics targets expose, with or without samples (Prometheus' metadata API,
    // by family name: a counter's without `_total`). A server without it answers nothing
    // here, and metrics without series count as missing.
    let metadata = client
        .get("/api/v1/metadata", &[])
        .ok()
        .and_then(|data| data.as_object().cloned())
        .unwrap_or_default();
    let exposed = |name: &str| {
        metadata.contains_key(name)
            || ["_total", "_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| {
                    name.strip_suffix(suffix)
                        .is_some_and(|family| metadata.contains_key(family))
                })
    };

    // Rule groups.
    let rules = rules_client.get("/api/v1/rules", &[])?;
    let loaded: Vec<&Value> = rules["groups"].as_array().into_iter().flatten().collect();
    let mut group_status = Vec::new();
    for group in &inventory.groups {
        let item = format!("group `{}`", group.name);
        let wanted = loaded_name(&group.name, &group.fingerprint);
        let name_of = |value: &Value| value["name"].as_str().unwrap_or_default().to_owned();
        let prefix = format!("{}@", group.name);
        let other: Vec<String> = loaded
            .iter()
            .map(|value| name_of(value))
            .filter(|name| name == &group.name || name.starts_with(&prefix))
            .collect();
        let versions: Vec<&str> = other
            .iter()
            .map(|name| name.strip_prefix(&prefix).unwrap_or("no fingerprint"))
            .collect();
        let found = loaded.iter().find(|value| name_of(value) == wanted);
        group_status.push(GroupStatus {
            group: group.name.clone(),
            fingerprint: group.fingerprint.clone(),
            loaded: versions.iter().map(|v| (*v).to_owned()).collect(),
            evaluation_seconds: found.and_then(|found| found["evaluationTime"].as_f64()),
            interval_seconds: found.and_then(|found| found["interval"].as_f64()),
        });
        if let Some(found) = found {
            let interval = found["interval"]
                .as_f64()
                .unwrap_or(group.interval_seconds as f64);
            let took = found["evaluationTime"].as_f64().unwrap_or(0.0);
            if took > interval {
                problems.push(Problem {
                    class: Class::GroupSlow,
                    item: item.clone(),
                    detail: format!(
                        "last evaluation took {took:.3}s, longer than its {}s interval",
                        interval
                    ),
                });
            }
            for rule in found["rules"].as_array().into_iter().flatten() {
                for alert in rule["alerts"].as_array().into_iter().flatten() {
                    if alert["state"] != "firing" {
                        continue;
                    }
                    // The Watchdog (`severity="none"`) always fires: expected, not a
                    // problem. An alert on a job already reported down or absent is that
                    // problem, not another one.
                    if alert["labels"]["severity"] == "none" {
                        continue;
                    }
                    let job = alert["labels"]["job"].as_str().unwrap_or_default();
                    if !job.is_empty() && reported_jobs.contains(job) {
                        continue;
                    }
                    let labels = alert["labels"].as_object().cloned().unwrap_or_default();
                    problems.push(Problem {
                        class: Class::Firing,
                        item: format!("alert `{}`", rule["name"].as_str().unwrap_or_default()),
                        detail: format!("firing for {}", labels_text(&labels)),
                    });
                }
            }
            continue;
        }
        if other.is_empty() {
            problems.push(Problem {
                class: Class::GroupMissing,
                item,
                detail: format!("not loaded (expected `{wanted}` from {})", group.file),
            });
        } else {
            problems.push(Problem {
                class: Class::GroupStale,
                item,
                detail: format!(
                    "loaded version {}, the declarations give {} (deploy the regenerated {})",
                    versions.join(", "),
                    group.fingerprint,
                    group.file
                ),
            });
        }
    }

    // Queries.
    let mut items = Vec::new();
    let mut stored_values: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for query in &inventory.queries {
        let promql = query
            .promql
            .replace("$__rate_interval", &duration_text(rate_interval))
            .replace("$__interval", &duration_text(step))
            .replace("$__range", &duration_text(lookback))
            .replace("\"$job\"", "\".+\"")
            .replace("\"$instance\"", "\".+\"");
        let mut missing: Vec<String> = crate::promql::metric_names(&promql)
            .unwrap_or_default()
            .into_iter()
            .filter(|name| !present.contains(name.as_str()))
            .collect();
        missing.sort();
        missing.dedup();
        let params = [
            ("query", promql.clone()),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("step", step.to_string()),
        ];
        let answer = client.get("/api/v1/query_range", &params);
        let errored = answer.is_err();
        let data = match answer {
            Ok(data) => data["result"].as_array().is_some_and(|r| !r.is_empty()),
            Err(error) => {
                problems.push(Problem {
                    class: Class::QueryError,
                    item: query.item.clone(),
                    detail: error.message,
                });
                false
            }
        };
        let (unrecorded, absent): (Vec<&String>, Vec<&String>) =
            missing.iter().partition(|name| exposed(name));
        let names = |names: &[&String]| {
            names
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !absent.is_empty() {
            problems.push(Problem {
                class: Class::MissingMetric,
                item: query.item.clone(),
                detail: format!(
                    "no series in the last {} and no target exposes it: {}",
                    duration_text(lookback),
                    names(&absent)
                ),
            });
        } else if !unrecorded.is_empty() {
            problems.push(Problem {
                class: Class::NotRecorded,
                item: query.item.clone(),
                detail: format!(
                    "exposed without samples, nothing recorded in the last {}: {}",
                    duration_text(lookback),
                    names(&unrecorded)
                ),
            });
        }
        // Why a query without data has none: the values it filters on that no series has.
        let mut missing_values = Vec::new();
        if !data && !errored && missing.is_empty() {
            for (metric, label, value) in crate::promql::equality_filters(&promql) {
                let key = (metric.clone(), label.clone());
                if !stored_values.contains_key(&key) {
                    let mut params = vec![("match[]", format!("{{__name__=\"{metric}\"}}"))];
                    params.extend(window.iter().cloned());
                    let values = client.get(&format!("/api/v1/label/{label}/values"), &params)?;
                    let values = values
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect();
                    stored_values.insert(key.clone(), values);
                }
                if stored_values
                    .get(&key)
                    .is_some_and(|values| !values.contains(&value))
                {
                    let filter = format!("{metric}{{{label}={}}}", Value::String(value));
                    if !missing_values.contains(&filter) {
                        missing_values.push(filter);
                    }
                }
            }
        }
        if missing.is_empty() && !data && !errored && !query.empty_is_normal {
            let mut detail = format!("no data in the last {}", duration_text(lookback));
            if !missing_values.is_empty() {
                let _ = write!(detail, "; no series matches {}", missing_values.join(", "));
            }
            problems.push(Problem {
                class: Class::NoData,
                item: query.item.clone(),
                detail,
            });
        }
        items.push(ItemStatus {
            kind: query.kind,
            item: query.item.clone(),
            query: promql,
            data,
            missing_metrics: missing,
            missing_label_values: missing_values,
        });
    }

    // Closed label values in storage.
    for closed in &inventory.closed {
        let selector = format!("{{__name__=~\"{}\"}}", closed.series.join("|"));
        let mut params = vec![("match[]", selector)];
        params.extend(window.iter().cloned());
        let values = client.get(&format!("/api/v1/label/{}/values", closed.label), &params)?;
        let stale: Vec<&str> = values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|value| !closed.values.contains(value))
            .collect();
        if !stale.is_empty() {
            problems.push(Problem {
                class: Class::LabelDrift,
                item: format!("label `{}` of `{}`", closed.label, closed.metric),
                detail: format!(
                    "stored series carry undeclared value(s) {} (declared: {})",
                    stale.join(", "),
                    closed.values.join(", ")
                ),
            });
        }
    }

    problems.sort();
    problems.dedup();
    Ok(Report {
        url: client.base.clone(),
        rules_url: rules_client.base.clone(),
        lookback_seconds: lookback,
        rate_interval_seconds: rate_interval,
        items,
        jobs: job_status,
        groups: group_status,
        closed_labels: inventory.closed.len(),
        problems,
    })
}

impl Report {
    /// How many items of `kind` were checked.
    fn count(&self, kind: &str) -> usize {
        self.items.iter().filter(|item| item.kind == kind).count()
    }

    /// What was checked, in one line.
    pub fn checked(&self) -> String {
        format!(
            "{} panel quer{}, {} alert(s), {} recording rule(s), {} scrape job(s), {} rule group(s), {} closed label(s)",
            self.count("panel"),
            if self.count("panel") == 1 { "y" } else { "ies" },
            self.count("alert"),
            self.count("record"),
            self.jobs.len(),
            self.groups.len(),
            self.closed_labels
        )
    }

    /// The problems of the classes in `fail_on`.
    pub fn failing(&self, fail_on: &[Class]) -> usize {
        self.problems
            .iter()
            .filter(|problem| fail_on.contains(&problem.class))
            .count()
    }

    /// The exit code: 0 when no problem of a class in `fail_on` was found, else 1.
    pub fn exit_code(&self, fail_on: &[Class]) -> u8 {
        u8::from(self.failing(fail_on) > 0)
    }

    /// The report as a table: a heading line, one line per problem, a closing line.
    pub fn table(&self, fail_on: &[Class]) -> String {
        let mut out = format!(
            "verify {} (rules: {}), last {}, $__rate_interval={}: checked {}\n",
            self.url,
            self.rules_url,
            duration_text(self.lookback_seconds),
            duration_text(self.rate_interval_seconds),
            self.checked()
        );
        if self.problems.is_empty() {
            out.push_str("no problem found\n");
            return out;
        }
        // Each column as wide as its widest cell, its heading included.
        let width = |heading: &str, cell: fn(&Problem) -> usize| {
            self.problems
                .iter()
                .map(cell)
                .fold(heading.len(), usize::max)
        };
        let class_width = width("CLASS", |p| p.class.as_str().len());
        let item_width = width("ITEM", |p| p.item.chars().count());
        let _ = writeln!(
            out,
            "{:class_width$}  {:item_width$}  DETAIL",
            "CLASS", "ITEM"
        );
        for problem in &self.problems {
            let _ = writeln!(
                out,
                "{:class_width$}  {:item_width$}  {}",
                problem.class.as_str(),
                problem.item,
                problem.detail
            );
        }
        let failing = self.failing(fail_on);
        let _ = writeln!(
            out,
            "{} problem(s), {failing} failing (--fail-on {})",
            self.problems.len(),
            fail_on_text(fail_on)
        );
        out
    }

    /// The report as JSON (one document, pretty-printed).
    pub fn json(&self, fail_on: &[Class]) -> String {
        let problems: Vec<Value> = self
            .problems
            .iter()
            .map(|p| json!({ "class": p.class.as_str(), "item": p.item, "detail": p.detail }))
            .collect();
        let items: Vec<Value> = self
            .items
            .iter()
            .map(|item| {
                json!({
                    "kind": item.kind,
                    "item": item.item,
                    "query": item.query,
                    "data": item.data,
                    "missing_metrics": item.missing_metrics,
                    "missing_label_values": item.missing_label_values,
                })
            })
            .collect();
        let document = json!({
            "url": self.url,
            "rules_url": self.rules_url,
            "lookback": duration_text(self.lookback_seconds),
            "substitutions": {
                "$__rate_interval": duration_text(self.rate_interval_seconds),
                "$__range": duration_text(self.lookback_seconds),
                "$job": ".+",
                "$instance": ".+",
            },
            "checked": {
                "panel_queries": self.count("panel"),
                "alerts": self.count("alert"),
                "recording_rules": self.count("record"),
                "scrape_jobs": self.jobs.len(),
                "rule_groups": self.groups.len(),
                "closed_labels": self.closed_labels,
            },
            "problems": problems,
            "fail_on": fail_on.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "exit_code": self.exit_code(fail_on),
            "items": items,
            "jobs": self.jobs.iter().map(|job| json!({
                "job": job.job,
                "targets": job.targets,
                "down": job.down,
            })).collect::<Vec<_>>(),
            "groups": self.groups.iter().map(|group| json!({
                "group": group.group,
                "fingerprint": group.fingerprint,
                "loaded": group.loaded,
                "evaluation_seconds": group.evaluation_seconds,
                "interval_seconds": group.interval_seconds,
            })).collect::<Vec<_>>(),
        });
        let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
        text.push('\n');
        text
    }
}

fn fail_on_text(fail_on: &[Class]) -> String {
    if fail_on.is_empty() {
        "none".to_owned()
    } else {
        fail_on
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("5m"), Ok(300));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert_eq!(
            parse_duration("5 m"),
            Err("`5 m` is not a duration like 30s, 5m, 1h, 2d or 1w".to_owned())
        );
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("10").is_err());
        assert_eq!(duration_text(3600), "1h");
        assert_eq!(duration_text(90), "90s");
        assert_eq!(duration_text(120), "2m");
    }

    #[test]
    fn fail_on_lists_parse() {
        assert_eq!(Class::parse_list("none"), Ok(vec![]));
        assert_eq!(
            Class::parse_list("firing,job-down"),
            Ok(vec![Class::JobDown, Class::Firing])
        );
        assert_eq!(Class::parse_list("all"), Ok(Class::ALL.to_vec()));
        assert_eq!(Class::parse_list("default,no-data").map(|c| c.len()), Ok(9));
        assert_eq!(
            Class::parse_list("down"),
            Err("unknown problem class `down` (use job-absent, job-down, group-missing, group-stale, group-slow, missing-metric, not-recorded, no-data, query-error, label-drift, firing, all, none or default)".to_owned())
        );
    }

    #[test]
    fn only_http_urls_are_taken() {
        let error = Client::new("https://prometheus:9090", None)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "https://prometheus:9090: only http:// URLs are supported (reach an https endpoint through a local proxy or port-forward)"
            )
        );
        let client = Client::new("http://prometheus/sub/", None).ok();
        assert_eq!(
            client.map(|c| (c.host, c.prefix, c.base)),
            Some((
                "prometheus:80".to_owned(),
                "/sub".to_owned(),
                "http://prometheus/sub".to_owned()
            ))
        );
    }
}
