//! Grafana 10+ dashboard JSON and provisioning.

use std::collections::BTreeSet;

use fiko_dashboards::{Context, PanelSpec, Visual};
use serde_json::{Value, json};

use crate::Model;
use crate::yaml::q;

/// Grafana's dashboard JSON schema version written (Grafana 10.x reads it as is).
pub(crate) const SCHEMA_VERSION: u32 = 39;
const GRID_WIDTH: u32 = 24;
const PANEL_HEIGHT: u32 = 8;

fn datasource_ref() -> Value {
    json!({ "type": "prometheus", "uid": "${datasource}" })
}

fn width(visual: Visual) -> u32 {
    match visual {
        Visual::Stat | Visual::Gauge => 6,
        Visual::Timeseries | Visual::BarGauge | Visual::Table => 12,
    }
}

/// Grafana's unit id of a custom metric unit (`#[metric(unit = "...")]`) that Grafana
/// knows: currencies by ISO code or name, and a few physical units. Any other custom unit
/// (`tokens`, `items`, `requests`) is a count and stays `short`, which abbreviates large
/// values (1.2K); `none` would print them in full.
pub(crate) fn custom_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "usd" | "dollars" => "currencyUSD",
        "eur" | "euros" => "currencyEUR",
        "gbp" | "pounds" => "currencyGBP",
        "jpy" | "yen" => "currencyJPY",
        "chf" => "currencyCHF",
        "sek" => "currencySEK",
        "nok" => "currencyNOK",
        "dkk" => "currencyDKK",
        "pln" => "currencyPLN",
        "czk" => "currencyCZK",
        "brl" => "currencyBRL",
        "inr" => "currencyINR",
        "krw" => "currencyKRW",
        "zar" => "currencyZAR",
        "celsius" => "celsius",
        "meters" => "lengthm",
        "volts" => "volt",
        "watts" => "watt",
        "hertz" => "hertz",
        _ => return None,
    })
}

/// The panel's unit: from its queries' unit type, refined for values (not rates) of
/// metrics that all share a custom unit Grafana knows (a cost in `dollars` is
/// `currencyUSD`).
fn grafana_unit(panel: &PanelSpec) -> &'static str {
    if panel.unit != "short" {
        return panel.unit;
    }
    let mut units = panel
        .targets
        .iter()
        .flat_map(|target| target.expr.metrics())
        .map(|metric| metric.unit);
    match units.next() {
        Some(Some(first)) if units.all(|unit| unit == Some(first)) => {
            custom_unit(first).unwrap_or(panel.unit)
        }
        _ => panel.unit,
    }
}

fn panel_json(panel: &PanelSpec, id: u32, x: u32, y: u32, cx: &Context) -> Value {
    let targets: Vec<Value> = panel
        .targets
        .iter()
        .enumerate()
        .map(|(index, target)| {
            let legend = target.legend.clone().unwrap_or_else(|| {
                let by = target.expr.by_labels();
                if by.is_empty() {
                    "__auto".to_owned()
                } else {
                    by.iter()
                        .map(|label| format!("{{{{{label}}}}}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            });
            let ref_id = char::from(b'A' + (index % 26) as u8).to_string();
            let mut target_json = json!({
                "datasource": datasource_ref(),
                "editorMode": "code",
                "expr": target.expr.render(cx),
                "instant": panel.visual == Visual::Table,
                "legendFormat": legend,
                "range": panel.visual != Visual::Table,
                "refId": ref_id,
            });
            // A metric declared `#[metric(exemplars)]` carries trace ids: a graph of it
            // shows them as points linking to the trace (Grafana asks Prometheus'
            // `query_exemplars` with the same expression).
            if panel.visual == Visual::Timeseries
                && target.expr.metrics().iter().any(|metric| metric.exemplars)
            {
                target_json["exemplar"] = json!(true);
            }
            target_json
        })
        .collect();
    let mut custom = json!({});
    if panel.visual == Visual::Timeseries {
        custom = json!({
            "drawStyle": "line",
            "fillOpacity": if panel.stacked { 30 } else { 10 },
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": { "group": "A", "mode": if panel.stacked { "normal" } else { "none" } },
        });
    }
    let options = match panel.visual {
        Visual::Timeseries => json!({
            "legend": { "calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": true },
            "tooltip": { "mode": "multi", "sort": "desc" },
        }),
        Visual::Stat | Visual::Gauge | Visual::BarGauge => json!({
            "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false },
        }),
        Visual::Table => json!({ "showHeader": true }),
    };
    let mut value = json!({
        "datasource": datasource_ref(),
        "fieldConfig": {
            "defaults": { "custom": custom, "unit": grafana_unit(panel) },
            "overrides": [],
        },
        "gridPos": { "h": PANEL_HEIGHT, "w": width(panel.visual), "x": x, "y": y },
        "id": id,
        "options": options,
        "targets": targets,
        "title": panel.title,
        "type": panel.visual.grafana_type(),
    });
    // The panel's own description, or the HELP text of the metrics it shows.
    let description = panel.description.clone().unwrap_or_else(|| {
        let mut helps: Vec<&str> = Vec::new();
        for metric in panel.targets.iter().flat_map(|t| t.expr.metrics()) {
            if !helps.contains(&metric.help) {
                helps.push(metric.help);
            }
        }
        helps.join(" ")
    });
    if let (false, Some(object)) = (description.is_empty(), value.as_object_mut()) {
        object.insert("description".to_owned(), json!(description));
    }
    value
}

fn variables() -> Value {
    let query_variable = |name: &str, label: &str, query: &str| {
        json!({
            "allValue": ".*",
            "current": { "selected": true, "text": ["All"], "value": ["$__all"] },
            "datasource": datasource_ref(),
            "definition": query,
            "hide": 0,
            "includeAll": true,
            "label": label,
            "multi": true,
            "name": name,
            "options": [],
            "query": { "qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery" },
            "refresh": 2,
            "regex": "",
            "skipUrlSync": false,
            "sort": 1,
            "type": "query",
        })
    };
    json!([
        {
            "current": {},
            "hide": 0,
            "includeAll": false,
            "label": "Data source",
            "multi": false,
            "name": "datasource",
            "options": [],
            "query": "prometheus",
            "refresh": 1,
            "regex": "",
            "skipUrlSync": false,
            "type": "datasource",
        },
        query_variable("job", "Job", "label_values(up, job)"),
        query_variable("instance", "Instance", "label_values(up{job=~\"$job\"}, instance)"),
    ])
}

/// A panel id derived from its section and title, so adding or moving other panels does
/// not renumber it (links such as `viewPanel=ID` keep working); collisions move to the
/// next free id.
fn stable_id(used: &mut BTreeSet<u32>, section: &str, title: &str) -> u32 {
    // FNV-1a, 32 bits, kept positive and below 2^24 so ids stay readable.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in section.bytes().chain([0]).chain(title.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let mut id = (hash % 0x00ff_ffff).max(1);
    while !used.insert(id) {
        id = id % 0x00ff_ffff + 1;
    }
    id
}

/// The overview dashboard: one row per section, in the order the sets were listed.
pub(crate) fn dashboard(model: &Model<'_>) -> String {
    let cx = Context::dashboard();
    let mut panels = Vec::new();
    let mut used = BTreeSet::new();
    let mut y = 0;
    let slo_row = crate::slo::row(model);
    let rows = model.sets.iter().flat_map(|set| &set.rows);
    {
        for row in rows.chain(slo_row.iter()) {
            let id = stable_id(&mut used, &row.title, "");
            panels.push(json!({
                "collapsed": false,
                "gridPos": { "h": 1, "w": GRID_WIDTH, "x": 0, "y": y },
                "id": id,
                "panels": [],
                "title": row.title,
                "type": "row",
            }));
            y += 1;
            let mut x = 0;
            for panel in &row.panels {
                let w = width(panel.visual);
                if x + w > GRID_WIDTH {
                    x = 0;
                    y += PANEL_HEIGHT;
                }
                let id = stable_id(&mut used, &row.title, &panel.title);
                panels.push(panel_json(panel, id, x, y, &cx));
                x += w;
            }
            if x > 0 {
                y += PANEL_HEIGHT;
            }
        }
    }
    let settings = model.settings;
    let dashboard = json!({
        "annotations": { "list": [{
            "builtIn": 1,
            "datasource": { "type": "grafana", "uid": "-- Grafana --" },
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }] },
        "description": "Generated by dashboards-gen from the fiko-metrics declarations. Do not edit: change the declarations and regenerate.",
        "editable": false,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": null,
        "links": [],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": [settings.name, "generated"],
        "templating": { "list": variables() },
        "time": { "from": "now-6h", "to": "now" },
        "timepicker": {},
        "timezone": "browser",
        "title": settings.title(),
        "uid": settings.uid(),
        "version": 1,
        "weekStart": "",
    });
    let mut text = serde_json::to_string_pretty(&dashboard).unwrap_or_default();
    text.push('\n');
    text
}

/// Grafana datasource provisioning: the Prometheus the dashboards query.
pub(crate) fn datasource(model: &Model<'_>) -> String {
    format!(
        "# Generated by dashboards-gen. Do not edit.\napiVersion: 1\ndatasources:\n  - name: \"Prometheus\"\n    uid: \"prometheus\"\n    type: \"prometheus\"\n    access: \"proxy\"\n    url: {}\n    isDefault: true\n    editable: false\n    jsonData:\n      timeInterval: {}\n",
        q(&model.settings.prometheus_url),
        q(&model.settings.scrape_interval.to_string()),
    )
}

/// Grafana dashboard provider: loads the generated dashboards from a directory into the
/// application's folder.
pub(crate) fn provider(model: &Model<'_>) -> String {
    format!(
        "# Generated by dashboards-gen. Do not edit.\napiVersion: 1\nproviders:\n  - name: {}\n    orgId: 1\n    folder: {}\n    type: \"file\"\n    disableDeletion: true\n    allowUiUpdates: false\n    updateIntervalSeconds: 30\n    options:\n      path: {}\n      foldersFromFilesStructure: false\n",
        q(&model.settings.name),
        q(&model.settings.folder()),
        q(&model.settings.grafana_dashboards_path),
    )
}
