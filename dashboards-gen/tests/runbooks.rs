//! The demo's RUNBOOKS.md and alert annotations: a section per alert with meaning,
//! impact, diagnosis and mitigation written from the declarations; no sentence shared
//! between two alerts; absolute runbook links and a dashboard link on every alert.

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
    assert!(alerts.contains(
        "dashboard_url: \"http://localhost:3000/d/fiko-overview?var-job={{ $labels.job }}&var-instance={{ $labels.instance }}\""
    ));
    // A per-job alert links the job only.
    assert!(alerts.contains(
        "dashboard_url: \"http://localhost:3000/d/fiko-overview?var-job={{ $labels.job }}\""
    ));
}
