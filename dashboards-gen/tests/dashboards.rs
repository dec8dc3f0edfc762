//! Structure of the demo's dashboards and recording rules: thresholds from the alerts,
//! units, last-hour ranges, tables, the overview and its links, collapsed rows without
//! holes, heatmaps for every histogram, alert annotations, the label-overflow panel, and
//! recording rules that are read, named by convention and recorded once.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use fiko_backend::deployment;
use serde_json::Value;

fn artefacts() -> fiko_dashboards_gen::Artefacts {
    deployment::generator()
        .generate()
        .expect("the repository's declarations generate")
}

/// Every dashboard by uid.
fn dashboards(artefacts: &fiko_dashboards_gen::Artefacts) -> BTreeMap<String, Value> {
    artefacts
        .paths()
        .filter(|path| path.starts_with("grafana/dashboards/") && path.ends_with(".json"))
        .map(|path| {
            let json: Value =
                serde_json::from_str(artefacts.get(path).expect("file")).expect("json");
            (json["uid"].as_str().expect("uid").to_owned(), json)
        })
        .collect()
}

/// Every panel of a dashboard, those inside collapsed rows included (rows left out).
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        if panel["type"] == "row" {
            out.extend(panel["panels"].as_array().expect("row panels"));
        } else {
            out.push(panel);
        }
    }
    out
}

fn panel<'a>(dashboard: &'a Value, title: &str) -> &'a Value {
    panels(dashboard)
        .into_iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no panel {title}"))
}

fn overview(artefacts: &fiko_dashboards_gen::Artefacts) -> Value {
    serde_json::from_str(
        artefacts
            .get("grafana/dashboards/fiko-overview.json")
            .expect("overview"),
    )
    .expect("json")
}

fn steps(panel: &Value) -> Vec<(Option<f64>, String)> {
    panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no thresholds: {panel}"))
        .iter()
        .map(|step| {
            (
                step["value"].as_f64(),
                step["color"].as_str().expect("color").to_owned(),
            )
        })
        .collect()
}

fn exprs(panel: &Value) -> Vec<String> {
    panel["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["expr"].as_str().expect("expr").to_owned())
        .collect()
}

#[test]
fn panels_showing_an_alerts_signal_carry_its_threshold_and_none_has_grafanas_default() {
    let artefacts = artefacts();
    let overview = overview(&artefacts);
    // The error ratio: the signal HighErrorRate compares with 5%, a warning in the demo
    // (its availability SLO pages): orange, not red.
    let errors = panel(&overview, "HTTP error ratio");
    assert_eq!(errors["fieldConfig"]["defaults"]["unit"], "percentunit");
    assert_eq!(
        steps(errors),
        [
            (None, "green".to_owned()),
            (Some(0.05), "orange".to_owned())
        ]
    );
    assert!(
        errors["description"]
            .as_str()
            .is_some_and(|d| d.contains("HighErrorRate (warning)")),
        "{}",
        errors["description"]
    );
    let description = errors["description"].as_str().expect("description");
    assert!(description.contains("HighErrorRate"), "{description}");
    assert!(description.contains("Bad: above 5%"), "{description}");
    // Latency: only the p95 query is HighResponseTime's signal (2s, warning): an override
    // of that query, the defaults plain green.
    let latency = panel(&overview, "Latency p50 / p95 / p99");
    assert_eq!(steps(latency), [(None, "green".to_owned())]);
    let overrides = latency["fieldConfig"]["overrides"]
        .as_array()
        .expect("overrides");
    assert_eq!(overrides.len(), 1, "{overrides:?}");
    assert_eq!(overrides[0]["matcher"]["id"], "frameRefID");
    assert_eq!(overrides[0]["matcher"]["options"], "B");
    let thresholds = &overrides[0]["properties"][0]["value"]["steps"];
    assert_eq!(thresholds[1]["value"], 2.0);
    assert_eq!(thresholds[1]["color"], "orange");
    // Process memory shows HighMemoryUsage's RSS signal.
    let memory = panel(&overview, "Process memory (RSS / VMS)");
    let rss = &memory["fieldConfig"]["overrides"][0];
    assert_eq!(rss["matcher"]["options"], "A");
    assert_eq!(
        rss["properties"][0]["value"]["steps"][1]["value"],
        1500.0 * 1024.0 * 1024.0
    );
    // The database size gauge is not red at 80 bytes any more: green only.
    assert_eq!(
        steps(panel(&overview, "Postgres database size")),
        [(None, "green".to_owned())]
    );
    // Every panel of every dashboard has thresholds; a step other than green comes from an
    // alert (its sentence is in the description) or the panel's own declaration.
    for (uid, dashboard) in dashboards(&artefacts) {
        for panel in panels(&dashboard) {
            let title = panel["title"].as_str().expect("title");
            let steps = steps(panel);
            assert_eq!(steps[0].0, None, "{uid}: {title}");
            assert!(
                !steps.iter().any(|(v, _)| *v == Some(80.0)),
                "{uid}: {title} has Grafana's default 80"
            );
            let colored = steps.iter().any(|(_, color)| color != "green")
                || !panel["fieldConfig"]["overrides"]
                    .as_array()
                    .expect("overrides")
                    .iter()
                    .all(|o| o["matcher"]["id"] == "byName");
            let description = panel["description"].as_str().unwrap_or_default();
            if colored && title != "Label overflow by metric" {
                assert!(
                    description.contains("Bad: "),
                    "{uid}: {title}: {description}"
                );
            }
        }
    }
}

#[test]
fn units_fit_what_panels_show() {
    let artefacts = artefacts();
    let overview = overview(&artefacts);
    let unit = |title: &str| {
        panel(&overview, title)["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .expect("unit")
            .to_owned()
    };
    assert_eq!(unit("AI cost in the last hour (USD)"), "currencyUSD");
    assert_eq!(unit("HTTP error ratio"), "percentunit");
    assert_eq!(unit("Watch time by course in the last hour"), "s");
    assert_eq!(unit("Requests in flight"), "short");
    assert_eq!(unit("Active sessions"), "short");
    assert_eq!(unit("CPU usage"), "percentunit");
    // Revenue: one currency per series.
    let revenue = panel(&overview, "Revenue in the last hour by currency");
    let overrides: Vec<(String, String)> = revenue["fieldConfig"]["overrides"]
        .as_array()
        .expect("overrides")
        .iter()
        .map(|o| {
            assert_eq!(o["matcher"]["id"], "byName");
            (
                o["matcher"]["options"].as_str().expect("name").to_owned(),
                o["properties"][0]["value"]
                    .as_str()
                    .expect("unit")
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        overrides,
        [
            ("usd".to_owned(), "currencyUSD".to_owned()),
            ("eur".to_owned(), "currencyEUR".to_owned())
        ]
    );
    // RSS and VMS legends name the instance, so two processes do not collide.
    let memory = panel(&overview, "Process memory (RSS / VMS)");
    let legends: Vec<&str> = memory["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| t["legendFormat"].as_str().expect("legend"))
        .collect();
    assert_eq!(legends, ["{{instance}} RSS", "{{instance}} VMS"]);
}

#[test]
fn last_hour_panels_read_the_last_hour_and_tables_are_tables() {
    let artefacts = artefacts();
    let overview = overview(&artefacts);
    let mut last_hour = 0;
    for panel in panels(&overview) {
        let title = panel["title"].as_str().expect("title");
        if title.contains("last hour") {
            last_hour += 1;
            for expr in exprs(panel) {
                assert!(expr.contains("[1h])"), "{title}: {expr}");
                assert!(!expr.contains("$__rate_interval"), "{title}: {expr}");
            }
        }
        if panel["type"] == "table" {
            for target in panel["targets"].as_array().expect("targets") {
                assert_eq!(target["format"], "table", "{title}");
                assert_eq!(target["instant"], true, "{title}");
            }
        }
    }
    assert_eq!(last_hour, 3);
    assert_eq!(
        panel(&overview, "Scrape targets up")["targets"][0]["format"],
        "table"
    );
}

#[test]
fn the_overview_links_one_dashboard_per_integration_and_keeps_the_seed_panels_open() {
    let artefacts = artefacts();
    let all = dashboards(&artefacts);
    let overview = &all["fiko-overview"];
    let links: Vec<&str> = overview["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l["url"].as_str().expect("url"))
        .collect();
    assert!(links.len() >= 20, "{links:?}");
    let others: BTreeSet<String> = all
        .keys()
        .filter(|uid| *uid != "fiko-overview")
        .map(|uid| format!("/d/{uid}"))
        .collect();
    assert_eq!(
        links
            .iter()
            .map(|l| (*l).to_owned())
            .collect::<BTreeSet<_>>(),
        others
    );
    for uid in [
        "fiko-http-server",
        "fiko-db",
        "fiko-redis-exporter",
        "fiko-job",
    ] {
        assert!(
            all.contains_key(uid),
            "no dashboard {uid}: {:?}",
            all.keys()
        );
    }
    for (uid, dashboard) in &all {
        if uid == "fiko-overview" {
            continue;
        }
        assert_eq!(dashboard["links"][0]["url"], "/d/fiko-overview", "{uid}");
        assert!(
            dashboard["title"]
                .as_str()
                .expect("title")
                .starts_with("Fiko / ")
        );
        // An integration's dashboard has its rows open.
        for row in dashboard["panels"].as_array().expect("panels") {
            assert_ne!(row["collapsed"], true, "{uid}");
        }
    }
    // The first section is open and holds the spec's twelve panels, the error ratio and
    // the firing alerts; long rows further down are collapsed.
    let top = overview["panels"].as_array().expect("panels");
    assert_eq!(top[0]["type"], "row");
    assert_eq!(top[0]["title"], "Overview");
    assert_eq!(top[0]["collapsed"], false);
    let first: Vec<&str> = top[1..]
        .iter()
        .take_while(|p| p["type"] != "row")
        .map(|p| p["title"].as_str().expect("title"))
        .collect();
    let seed = fiko_backend::deployment::SEED_PANELS.into_iter();
    for title in seed.chain(["HTTP error ratio", "Firing alerts"]) {
        assert!(first.contains(&title), "{title} not in {first:?}");
    }
    let firing = panel(overview, "Firing alerts");
    assert!(exprs(firing)[0].contains("ALERTS{alertstate=\"firing\""));
    let rows: Vec<&Value> = top.iter().filter(|p| p["type"] == "row").collect();
    let collapsed = rows.iter().filter(|r| r["collapsed"] == true).count();
    assert!(collapsed >= 3, "{collapsed} collapsed rows");
    for row in &rows {
        let inside = row["panels"].as_array().expect("panels").len();
        if row["collapsed"] == true {
            assert!(inside > 4, "{}", row["title"]);
        } else {
            assert_eq!(inside, 0, "{}", row["title"]);
        }
    }
}

#[test]
fn rows_have_no_holes() {
    let artefacts = artefacts();
    for (uid, dashboard) in dashboards(&artefacts) {
        // Per row (top level or inside a collapsed row): each line of panels spans the
        // full width.
        let mut lines: BTreeMap<(String, u64), u64> = BTreeMap::new();
        let mut row = String::new();
        for top in dashboard["panels"].as_array().expect("panels") {
            if top["type"] == "row" {
                row = top["title"].as_str().expect("title").to_owned();
                for inner in top["panels"].as_array().expect("panels") {
                    *lines
                        .entry((row.clone(), inner["gridPos"]["y"].as_u64().expect("y")))
                        .or_default() += inner["gridPos"]["w"].as_u64().expect("w");
                }
                continue;
            }
            *lines
                .entry((row.clone(), top["gridPos"]["y"].as_u64().expect("y")))
                .or_default() += top["gridPos"]["w"].as_u64().expect("w");
        }
        assert!(!lines.is_empty(), "{uid}");
        for ((row, y), width) in lines {
            assert_eq!(width, 24, "{uid}: row {row} at y={y} leaves a hole");
        }
    }
}

#[test]
fn every_charted_histogram_has_a_heatmap_and_alerts_annotate_every_dashboard() {
    let artefacts = artefacts();
    let overview = overview(&artefacts);
    let mut quantiles = BTreeSet::new();
    let mut heatmaps = BTreeSet::new();
    for panel in panels(&overview) {
        for expr in exprs(panel) {
            if let Some(rest) = expr.strip_prefix("histogram_quantile(") {
                let metric = fiko_dashboards_gen::promql::metric_names(&expr).expect("parses");
                assert!(!rest.is_empty());
                quantiles.extend(metric.into_iter().map(|m| {
                    let base = m.split(':').nth(1).map_or(m.clone(), str::to_owned);
                    base.trim_end_matches("_bucket").to_owned()
                }));
            }
        }
        if panel["type"] == "heatmap" {
            let target = &panel["targets"][0];
            assert_eq!(target["format"], "heatmap");
            assert_eq!(target["legendFormat"], "{{le}}");
            let expr = target["expr"].as_str().expect("expr");
            assert!(expr.starts_with("sum by (le)"), "{expr}");
            assert_eq!(panel["options"]["calculate"], false);
            let names = fiko_dashboards_gen::promql::metric_names(expr).expect("parses");
            for name in names {
                let base = name.split(':').nth(1).map_or(name.clone(), str::to_owned);
                heatmaps.insert(base.trim_end_matches("_bucket").to_owned());
            }
        }
    }
    assert!(quantiles.len() >= 10, "{quantiles:?}");
    assert_eq!(quantiles, heatmaps);
    for (uid, dashboard) in dashboards(&artefacts) {
        let annotations = dashboard["annotations"]["list"].as_array().expect("list");
        assert!(
            annotations.iter().any(|a| a["expr"]
                .as_str()
                .is_some_and(|e| e.starts_with("ALERTS{alertstate=\"firing\""))),
            "{uid}"
        );
    }
}

#[test]
fn the_label_overflow_panel_and_alert_read_the_runtimes_self_metric() {
    let artefacts = artefacts();
    let overview = overview(&artefacts);
    let overflow = panel(&overview, "Label overflow by metric");
    let expr = &exprs(overflow)[0];
    assert!(
        expr.contains("increase(fiko_metrics_label_overflow_total{"),
        "{expr}"
    );
    assert!(expr.ends_with(" or vector(0)"), "{expr}");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    assert!(alerts.contains("- alert: \"LabelOverflow\""), "{alerts}");
    assert!(alerts.contains(
        // Over the application's own jobs, the processes that run the runtime.
        r#"expr: "sum by (job, instance, metric) (increase(fiko_metrics_label_overflow_total{job=~\"fiko-app|fiko-worker\"}[5m])) > 0""#
    ), "{alerts}");
    let tests = artefacts.get("prometheus/alerts.test.yml").expect("tests");
    assert!(tests.contains("alertname: \"LabelOverflow\""), "{tests}");
}

#[test]
fn every_recording_rule_is_read_named_by_convention_and_recorded_once() {
    let artefacts = artefacts();
    let recording = artefacts
        .get("prometheus/recording.yml")
        .expect("recording");
    let records: Vec<&str> = recording
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- record: "))
        .map(|name| name.trim_matches('"'))
        .collect();
    let exprs: Vec<String> = recording
        .lines()
        .filter_map(|line| line.trim().strip_prefix("expr: "))
        .map(|quoted| serde_json::from_str::<String>(quoted).expect("quoted"))
        .collect();
    assert!(records.len() >= 5, "{records:?}");
    // Recorded once: no name and no expression twice.
    assert_eq!(records.iter().collect::<BTreeSet<_>>().len(), records.len());
    assert_eq!(exprs.iter().collect::<BTreeSet<_>>().len(), exprs.len());
    // level:metric:operations, `_total` stripped after rate, the level the labels kept.
    for (record, expr) in records.iter().zip(&exprs) {
        let parts: Vec<&str> = record.split(':').collect();
        assert_eq!(parts.len(), 3, "{record}");
        assert!(parts[0].starts_with("job_instance"), "{record}");
        assert_eq!(parts[2], "rate5m", "{record}");
        assert!(!parts[1].ends_with("_total"), "{record}");
        let labels = parts[0].replace('_', ", ");
        // Labels with underscores in their names keep them: compare the by clause's
        // labels joined by `_` instead.
        let by = expr
            .strip_prefix("sum by (")
            .and_then(|rest| rest.split_once(')'))
            .map(|(by, _)| by.replace(", ", "_"))
            .expect("sum by");
        assert_eq!(by, parts[0], "{record}: {expr} ({labels})");
        let series = expr
            .split_once("(rate(")
            .and_then(|(_, rest)| rest.split_once('['))
            .map(|(series, _)| series)
            .expect("rate");
        assert_eq!(series.strip_suffix("_total").unwrap_or(series), parts[1]);
    }
    // Read: every rule by at least one panel or alert.
    let mut readers: Vec<String> = artefacts
        .get("prometheus/alerts.yml")
        .expect("alerts")
        .lines()
        .filter_map(|line| line.trim().strip_prefix("expr: "))
        .map(str::to_owned)
        .collect();
    for dashboard in dashboards(&artefacts).values() {
        for panel in panels(dashboard) {
            readers.extend(self::exprs(panel));
        }
    }
    for record in &records {
        let needle = format!("{record}{{");
        let bare = format!("({record})");
        assert!(
            readers
                .iter()
                .any(|expr| expr.contains(&needle) || expr.contains(&bare)),
            "{record} is read by no panel or alert"
        );
    }
    // And shared: at least one rule is read by both a panel and an alert.
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts");
    assert!(
        records.iter().any(|r| alerts.contains(r)),
        "no alert reads a recording rule"
    );
}
