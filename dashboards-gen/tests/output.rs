//! The artefacts themselves: every PromQL expression parses and names only declared
//! metrics, the dashboard is well formed, output is deterministic and the committed
//! `deploy/` is current.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::Path;

use fiko_backend::deployment;
use fiko_dashboards_gen::promql;
use serde_json::Value;

fn artefacts() -> fiko_dashboards_gen::Artefacts {
    deployment::generator()
        .generate()
        .expect("the repository's declarations generate")
}

/// The `expr:` values of a generated rule file (each a JSON-quoted string).
fn rule_exprs(yaml: &str) -> Vec<String> {
    yaml.lines()
        .filter_map(|line| line.trim().strip_prefix("expr: "))
        .map(|quoted| serde_json::from_str::<String>(quoted).expect("expr is a quoted string"))
        .collect()
}

fn dashboard() -> Value {
    let artefacts = artefacts();
    let text = artefacts
        .get("grafana/dashboards/fiko-overview.json")
        .expect("dashboard");
    serde_json::from_str(text).expect("dashboard is JSON")
}

/// Every panel, those inside collapsed rows included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        out.push(panel);
        out.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

fn panel_exprs(dashboard: &Value) -> Vec<String> {
    all_panels(dashboard)
        .into_iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|target| target["expr"].as_str().expect("expr").to_owned())
        .collect()
}

#[test]
fn every_expression_parses_and_names_only_declared_metrics() {
    let artefacts = artefacts();
    // Declared metrics, the recording rules' outputs, and Prometheus' own `ALERTS`.
    let mut declared = deployment::generator().declared_series();
    declared.extend(
        artefacts
            .get("prometheus/recording.yml")
            .expect("recording")
            .lines()
            .filter_map(|line| line.trim().strip_prefix("- record: "))
            .map(|name| name.trim_matches('"').to_owned()),
    );
    declared.insert("ALERTS".to_owned());
    let mut exprs = Vec::new();
    exprs.extend(rule_exprs(
        artefacts.get("prometheus/alerts.yml").expect("alerts"),
    ));
    exprs.extend(rule_exprs(
        artefacts
            .get("prometheus/recording.yml")
            .expect("recording"),
    ));
    let rules = exprs.len();
    exprs.extend(panel_exprs(&dashboard()));
    assert!(rules >= 14 + 20 && exprs.len() > rules + 60, "{exprs:?}");
    // The SLO rules read declared metrics and their own recorded series (`slo:...`),
    // which the SLO panels read too.
    let slo_rules = artefacts.get("prometheus/slo.yml").expect("slo.yml");
    let recorded: BTreeSet<String> = slo_rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- record: "))
        .map(|name| name.trim_matches('"').to_owned())
        .collect();
    assert!(
        recorded.iter().all(|name| name.starts_with("slo:")),
        "{recorded:?}"
    );
    exprs.extend(rule_exprs(slo_rules));
    for expr in &exprs {
        let names = promql::metric_names(expr).unwrap_or_else(|e| panic!("`{expr}`: {e}"));
        assert!(
            !names.is_empty() || expr.starts_with("vector("),
            "`{expr}` names no metric"
        );
        for name in names {
            assert!(
                declared.contains(&name) || recorded.contains(&name),
                "`{expr}` names undeclared `{name}`"
            );
        }
    }
    // The check itself rejects what it should.
    assert!(promql::metric_names("sum(rate(x[5m])").is_err());
    assert_eq!(
        promql::metric_names(r#"a / on(job) b + {__name__="d"}"#).expect("parses"),
        vec!["a", "b", "d"]
    );
}

#[test]
fn dashboard_is_a_grafana_10_dashboard() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "fiko-overview");
    assert!(dashboard["schemaVersion"].as_u64().expect("schemaVersion") >= 36);
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    let variable = |name: &str| {
        variables
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name} variable"))
    };
    assert_eq!(variable("datasource")["type"], "datasource");
    assert_eq!(variable("datasource")["query"], "prometheus");
    for name in ["job", "instance"] {
        assert_eq!(variable(name)["type"], "query");
        assert_eq!(variable(name)["datasource"]["uid"], "${datasource}");
        assert_eq!(variable(name)["includeAll"], true);
    }

    let panels = dashboard["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    let mut rows = 0;
    for panel in all_panels(&dashboard) {
        let id = panel["id"].as_u64().expect("id");
        assert!(ids.insert(id), "duplicate panel id {id}");
        let grid = &panel["gridPos"];
        // A collapsed row's panels are placed as if it were open: they overlap the rows
        // below until it opens.
        let nested = !panels.iter().any(|top| std::ptr::eq(top, panel));
        let (x, y, w, h) = (
            grid["x"].as_u64().expect("x"),
            grid["y"].as_u64().expect("y"),
            grid["w"].as_u64().expect("w"),
            grid["h"].as_u64().expect("h"),
        );
        assert!(w > 0 && h > 0 && x + w <= 24, "{panel}");
        for cx in (x..x + w).filter(|_| !nested) {
            for cy in y..y + h {
                assert!(
                    cells.insert((cx, cy)),
                    "panel {id} overlaps at ({cx}, {cy})"
                );
            }
        }
        if panel["type"] == "row" {
            rows += 1;
            continue;
        }
        let title = panel["title"].as_str().expect("title");
        assert_eq!(panel["datasource"]["type"], "prometheus", "{title}");
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let description = panel["description"].as_str().unwrap_or_default();
        assert!(!description.is_empty(), "{title} has no description");
        let unit = panel["fieldConfig"]["defaults"]["unit"]
            .as_str()
            .expect("unit");
        assert!(!unit.is_empty(), "{title}");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has no targets");
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
            // The SLO row reads the SLO rules' records, one series per SLO summed over
            // every job and instance: no `$job` or `$instance` to filter by.
            let names = promql::metric_names(expr).expect("parses");
            if !names.is_empty() && names.iter().all(|name| name.starts_with("slo:")) {
                assert!(expr.contains("{slo=~\""), "{title}: {expr}");
                continue;
            }
            assert!(expr.contains("job=~\"$job\""), "{title}: {expr}");
            assert!(expr.contains("instance=~\"$instance\""), "{title}: {expr}");
            if title.contains("in the last hour") {
                // "In the last hour" means it, whatever the dashboard's interval.
                assert!(expr.contains("[1h]"), "{title}: {expr}");
                assert!(!expr.contains("$__rate_interval"), "{title}: {expr}");
            } else if expr.contains("rate(") || expr.contains("increase(") {
                assert!(expr.contains("[$__rate_interval]"), "{title}: {expr}");
            }
        }
    }
    assert!(rows >= 4, "{rows} rows");
    // Panels follow their row: ids and y grow together.
    let ys: Vec<u64> = panels
        .iter()
        .map(|p| p["gridPos"]["y"].as_u64().expect("y"))
        .collect();
    assert!(ys.windows(2).all(|w| w[0] <= w[1]), "{ys:?}");
}

#[test]
fn dashboard_has_the_seed_panels_the_existing_sets_feed() {
    let dashboard = dashboard();
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    // The overview keeps the twelve panels of the original Fiko Backend dashboard, by title.
    for title in fiko_backend::deployment::SEED_PANELS {
        assert!(titles.contains(&title), "{title} missing from {titles:?}");
    }
    let memory = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .find(|p| p["title"] == "Redis memory used vs max")
        .expect("memory panel");
    assert_eq!(memory["fieldConfig"]["defaults"]["unit"], "bytes");
    assert_eq!(memory["targets"].as_array().expect("targets").len(), 2);
}

#[test]
fn two_generations_are_byte_identical() {
    let first = artefacts();
    let second = artefacts();
    assert_eq!(first, second);
    let a = tempfile::tempdir().expect("dir");
    let b = tempfile::tempdir().expect("dir");
    first.write_to(a.path()).expect("write");
    second.write_to(b.path()).expect("write");
    for path in first.paths() {
        let left = std::fs::read(a.path().join(path)).expect("read");
        let right = std::fs::read(b.path().join(path)).expect("read");
        assert_eq!(left, right, "{path}");
        assert!(!left.is_empty(), "{path}");
    }
    assert!(first.stale_in(b.path()).is_empty());
}

#[test]
fn committed_deploy_folder_is_current() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let stale = artefacts().stale_in(&deploy);
    assert!(
        stale.is_empty(),
        "stale files in deploy/: {stale:?}; run `cargo run -p dashboards-gen`"
    );
}

#[test]
fn panel_ids_do_not_depend_on_other_panels() {
    // By section and title: the overview's first section repeats panels of the rows.
    let ids = |dashboard: &Value| -> std::collections::BTreeMap<String, u64> {
        let mut out = std::collections::BTreeMap::new();
        let mut section = String::new();
        for top in dashboard["panels"].as_array().expect("panels") {
            let title = top["title"].as_str().expect("title").to_owned();
            if top["type"] == "row" {
                section.clone_from(&title);
                for inner in top["panels"].as_array().expect("panels") {
                    let inner_title = inner["title"].as_str().expect("title");
                    out.insert(
                        format!("{section} / {inner_title}"),
                        inner["id"].as_u64().expect("id"),
                    );
                }
            }
            out.insert(
                format!("{section} / {title}"),
                top["id"].as_u64().expect("id"),
            );
        }
        out
    };
    let full = ids(&dashboard());
    // The same dashboard without the first set's panels keeps every other id.
    let fewer = fiko_dashboards_gen::Generator::new("fiko")
        .runbook_base("https://runbooks.example/")
        .observe::<fiko_metrics_sqlx::PostgresExporter>()
        .generate()
        .expect("generate");
    let fewer: Value = serde_json::from_str(
        fewer
            .get("grafana/dashboards/fiko-overview.json")
            .expect("dashboard"),
    )
    .expect("json");
    let fewer = ids(&fewer);
    assert!(fewer.len() >= 5);
    for (title, id) in fewer {
        assert_eq!(full.get(&title), Some(&id), "{title}");
    }
}
