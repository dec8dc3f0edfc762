//! The demo's RUNBOOKS.md and alert annotations: a section per alert with meaning,
//! impact, diagnosis and mitigation written from the declarations; no sentence shared
//! between two alerts; absolute runbook links and a dashboard link on every alert.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;

fn artefacts() -> fiko_dashboards_gen::Artefacts {
    fiko_backend::deployment::generator()
        .generate()
        .expect("the demo generates")
}

/// `(alert, section text)` of each `## ` section.
fn sections(runbooks: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in runbooks.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            out.push((name.to_owned(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// The sentences of the prose paragraphs (not headings, not the `- ` facts list).
fn sentences(section: &str) -> Vec<String> {
    section
        .lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("- ") && !line.is_empty())
        .flat_map(|line| line.split(". "))
        .map(|sentence| sentence.trim().trim_end_matches('.').to_owned())
        .filter(|sentence| !sentence.is_empty())
        .collect()
}

#[test]
fn every_alert_has_meaning_impact_diagnosis_and_mitigation_naming_its_query() {
    let artefacts = artefacts();
    let runbooks = artefacts.get("RUNBOOKS.md").expect("RUNBOOKS.md");
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts.yml");
    let names: Vec<&str> = alerts
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
        .map(|name| name.trim_matches('"'))
        .collect();
    // Besides these, RUNBOOKS.md has the SLO burn-rate alerts' sections (slo.yml).
    let sections: Vec<(String, String)> = sections(runbooks)
        .into_iter()
        .filter(|(name, _)| names.contains(&name.as_str()))
        .collect();
    let mut titles: Vec<&str> = sections.iter().map(|(name, _)| name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    titles.sort_unstable();
    assert_eq!(titles, sorted);
    for (name, text) in &sections {
        for heading in [
            "### Meaning",
            "### Impact",
            "### Diagnosis",
            "### Mitigation",
        ] {
            assert!(text.contains(heading), "{name}: no {heading}\n{text}");
        }
        let diagnosis = text
            .split("### Diagnosis")
            .nth(1)
            .and_then(|rest| rest.split("###").next())
            .expect("diagnosis");
        // The diagnosis runs the alert's own condition.
        let fires_when = text
            .lines()
            .find_map(|line| line.strip_prefix("- Fires when: `"))
            .and_then(|rest| rest.split('`').next())
            .expect("fires when");
        assert!(
            diagnosis.contains(&format!("`{fires_when}`")),
            "{name}: the diagnosis does not name its query\n{text}"
        );
    }
    // Alerts on charted metrics name their panels.
    let queue = &sections
        .iter()
        .find(|(n, _)| n == "QueueBacklog")
        .expect("QueueBacklog")
        .1;
    assert!(
        queue.contains("\"Background jobs / Queue length\""),
        "{queue}"
    );
}

#[test]
fn no_sentence_is_shared_between_two_alerts() {
    let artefacts = artefacts();
    let runbooks = artefacts.get("RUNBOOKS.md").expect("RUNBOOKS.md");
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut shared = Vec::new();
    for (name, text) in sections(runbooks) {
        for sentence in sentences(&text) {
            if let Some(other) = seen.insert(sentence.clone(), name.clone())
                && other != name
            {
                shared.push(format!("{other} and {name}: {sentence}"));
            }
        }
    }
    assert!(
        shared.is_empty(),
        "shared sentences:\n{}",
        shared.join("\n")
    );
}

#[test]
fn every_alert_links_an_absolute_runbook_and_its_dashboard() {
    let artefacts = artefacts();
    let alerts = artefacts.get("prometheus/alerts.yml").expect("alerts.yml");
    let count = alerts.matches("- alert: ").count();
    let runbooks: Vec<&str> = alerts
        .lines()
        .filter_map(|line| line.trim().strip_prefix("runbook_url: "))
        .collect();
    assert_eq!(runbooks.len(), count);
    for url in runbooks {
        assert!(
            url.starts_with(&format!("\"{}#", fiko_backend::deployment::RUNBOOK_BASE)),
            "{url}"
        );
        assert!(url.starts_with("\"https://"), "{url}");
    }
    let dashboards: Vec<&str> = alerts
        .lines()
        .filter_map(|line| line.trim().strip_prefix("dashboard_url: "))
        .collect();
    assert_eq!(dashboards.len(), count);
    // The panel showing the alert's signal, alone, on its set's dashboard; a per-job alert
    // sets the job only.
    let error_ratio = panel_id(&artefacts, "fiko-http-server", "HTTP error ratio");
    assert!(alerts.contains(&format!(
        "dashboard_url: \"http://localhost:3000/d/fiko-http-server?viewPanel={error_ratio}&var-job={{{{ $labels.job }}}}\""
    )), "{alerts}");
    let cpu = panel_id(&artefacts, "fiko-process", "CPU usage");
    assert!(alerts.contains(&format!(
        "dashboard_url: \"http://localhost:3000/d/fiko-process?viewPanel={cpu}&var-job={{{{ $labels.job }}}}&var-instance={{{{ $labels.instance }}}}\""
    )), "{alerts}");
    // Every panel link names a dashboard and a panel that exist.
    let mut linked = 0;
    for url in dashboards {
        let Some((path, query)) = url.trim_matches('"').split_once("?viewPanel=") else {
            continue;
        };
        let uid = path.rsplit('/').next().expect("uid");
        let id: u64 = query
            .split('&')
            .next()
            .and_then(|id| id.parse().ok())
            .expect("panel id");
        assert!(
            panels(&artefacts, uid)
                .iter()
                .any(|(panel, _)| *panel == id),
            "{url}: no panel {id} on {uid}"
        );
        linked += 1;
    }
    assert!(linked >= 20, "only {linked} alerts link a panel");
}

/// `(id, title)` of every panel of dashboard `uid`, those in collapsed rows included.
fn panels(artefacts: &fiko_dashboards_gen::Artefacts, uid: &str) -> Vec<(u64, String)> {
    let json = artefacts
        .get(&format!("grafana/dashboards/{uid}.json"))
        .unwrap_or_else(|| panic!("no dashboard {uid}"));
    let dashboard: serde_json::Value = serde_json::from_str(json).expect("json");
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let nested = panel["panels"].as_array().cloned().unwrap_or_default();
        for panel in std::iter::once(panel).chain(&nested) {
            if let (Some(id), Some(title)) = (panel["id"].as_u64(), panel["title"].as_str()) {
                out.push((id, title.to_owned()));
            }
        }
    }
    out
}

fn panel_id(artefacts: &fiko_dashboards_gen::Artefacts, uid: &str, title: &str) -> u64 {
    panels(artefacts, uid)
        .into_iter()
        .find(|(_, t)| t == title)
        .unwrap_or_else(|| panic!("no panel {title} on {uid}"))
        .0
}
