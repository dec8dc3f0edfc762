//! Grafana 10+ dashboard JSON and provisioning.

use std::collections::BTreeSet;

use fiko_dashboards::query::Aggregation;
use fiko_dashboards::{Alert, Comparison, Context, Expr, PanelSpec, Severity, Step, Visual};
use serde_json::{Value, json};

use crate::yaml::q;
use crate::{Model, ObservedSet};

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
        Visual::Timeseries | Visual::BarGauge | Visual::Table | Visual::Heatmap => 12,
    }
}

/// Grafana's unit id of a custom metric unit (`#[metric(unit = "...")]`) or label value
/// (`currency="usd"`) that Grafana knows: currencies by ISO code or name, and a few
/// physical units. Any other custom unit (`tokens`, `items`, `requests`) is a count and
/// stays `short`, which abbreviates large values (1.2K); `none` would print them in full.
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

/// Per-series units of a panel of plain values split by a label whose values are
/// currencies (`revenue by currency`): `(series name, unit)`, the series named by the
/// label's value as the default legend writes it.
fn series_units(panel: &PanelSpec) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if panel.unit != "short" {
        return out;
    }
    for target in panel.targets.iter().filter(|t| t.legend.is_none()) {
        let by = target.expr.by_labels();
        let [label] = by.as_slice() else { continue };
        for metric in target.expr.metrics() {
            let values = metric.label(label).and_then(|l| l.values).unwrap_or(&[]);
            for value in values {
                if let Some(unit) = custom_unit(value).filter(|u| u.starts_with("currency")) {
                    if !out.contains(&(*value, unit)) {
                        out.push((*value, unit));
                    }
                }
            }
        }
    }
    out
}

/// The query with what does not change its signal dropped: the labels it keeps and how it
/// aggregates. A panel showing `p95 by route` shows the signal of an alert on `p95`.
fn signal(expr: &Expr) -> Expr {
    match expr {
        Expr::Metric {
            metric,
            operation,
            matchers,
            ..
        } => {
            // Which targets are read does not change the signal.
            let mut matchers: Vec<_> = matchers
                .iter()
                .filter(|m| m.label != "job" && m.label != "instance")
                .cloned()
                .collect();
            matchers.sort_by(|a, b| (a.label, a.op, &a.value).cmp(&(b.label, b.op, &b.value)));
            Expr::Metric {
                metric,
                operation: *operation,
                matchers,
                aggregation: Aggregation::Sum,
                by: Vec::new(),
            }
        }
        Expr::Ratio {
            numerator,
            denominator,
        } => Expr::Ratio {
            numerator: Box::new(signal(numerator)),
            denominator: Box::new(signal(denominator)),
        },
        Expr::Add { left, right } => Expr::Add {
            left: Box::new(signal(left)),
            right: Box::new(signal(right)),
        },
        Expr::Raw(text) => Expr::Raw(text.clone()),
    }
}

/// The alerts whose condition is the signal `expr` shows (compared with a threshold), at
/// the alert's level or coarser: a panel split by a label the alert does not keep shows
/// parts of its signal, not the signal (`requests by route` is not the request rate).
pub(crate) fn alerts_on<'a>(model: &'a Model<'_>, expr: &Expr) -> Vec<&'a Alert> {
    let wanted = signal(expr);
    let split = expr.by_labels();
    model
        .alerts()
        .map(|(_, alert)| alert)
        .filter(|alert| {
            // A `none` alert (the Watchdog) notifies nobody: it draws no threshold.
            alert.severity != Severity::None
                && matches!(
                    alert.condition.comparison,
                    Comparison::Above | Comparison::Below
                )
                && signal(&alert.condition.expr) == wanted
                && split.iter().all(|label| {
                    ["job", "instance"].contains(label)
                        || alert.condition.expr.by_labels().contains(label)
                })
        })
        .collect()
}

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "red",
        Severity::Warning | Severity::None => "orange",
    }
}

/// Grafana threshold steps: a base step (green, or the color of a "below" alert) and one
/// per step, sorted.
fn steps_json(base: &'static str, steps: &[Step]) -> Value {
    let mut steps = steps.to_vec();
    steps.sort_by(|a, b| a.value.total_cmp(&b.value));
    let mut out = vec![json!({ "color": base, "value": null })];
    out.extend(
        steps
            .iter()
            .map(|step| json!({ "color": step.color, "value": step.value })),
    );
    json!({ "mode": "absolute", "steps": out })
}

/// The steps of the alerts on a signal, and the base color.
fn alert_steps(alerts: &[&Alert]) -> (&'static str, Vec<Step>) {
    let mut base = "green";
    let mut steps = Vec::new();
    for alert in alerts {
        let color = severity_color(alert.severity);
        match alert.condition.comparison {
            Comparison::Below => {
                base = color;
                steps.push(Step {
                    value: alert.condition.threshold,
                    color: "green",
                });
            }
            _ => steps.push(Step {
                value: alert.condition.threshold,
                color,
            }),
        }
    }
    (base, steps)
}

/// What bad looks like on the panel, from the alerts on its signal.
fn alert_sentences(alerts: &[&Alert]) -> String {
    let mut out = String::new();
    for alert in alerts {
        let direction = if alert.condition.comparison == Comparison::Below {
            "below"
        } else {
            "above"
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!(
            "Bad: {direction} {} for {} fires {} ({}).",
            alert.condition.threshold_text(),
            alert.for_,
            alert.name,
            alert.severity.as_str()
        ));
    }
    out
}

fn panel_json(
    model: &Model<'_>,
    panel: &PanelSpec,
    id: u32,
    (x, y, w): (u32, u32, u32),
    cx: &Context,
) -> Value {
    let unit = grafana_unit(panel);
    let targets: Vec<Value> = panel
        .targets
        .iter()
        .enumerate()
        .map(|(index, target)| {
            let legend = target.legend.clone().unwrap_or_else(|| {
                let by = target.expr.by_labels();
                if panel.visual == Visual::Heatmap {
                    "{{le}}".to_owned()
                } else if by.is_empty() {
                    "__auto".to_owned()
                } else {
                    by.iter()
                        .map(|label| format!("{{{{{label}}}}}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            });
            let ref_id = char::from(b'A' + (index % 26) as u8).to_string();
            let format = match panel.visual {
                Visual::Table => "table",
                Visual::Heatmap => "heatmap",
                _ => "time_series",
            };
            let mut target_json = json!({
                "datasource": datasource_ref(),
                "editorMode": "code",
                "expr": target.expr.render(cx),
                "format": format,
                "instant": panel.visual == Visual::Table,
                "legendFormat": legend,
                "range": panel.visual != Visual::Table,
                "refId": ref_id,
            });
            // A metric that records exemplars (a `CounterWithExemplar`, a histogram
            // declared `#[metric(exemplars)]`) carries trace ids: a graph of it
            // shows them as points linking to the trace (Grafana asks Prometheus'
            // `query_exemplars` with the same expression).
            if panel.visual == Visual::Timeseries
                && target.expr.metrics().iter().any(|metric| metric.exemplars)
            {
                if let Some(object) = target_json.as_object_mut() {
                    object.insert("exemplar".to_owned(), json!(true));
                }
            }
            target_json
        })
        .collect();

    // Thresholds: the panel's own, and those of the alerts on what each query shows.
    // Alerts on every query go to the panel's defaults; alerts on some queries only go to
    // an override of those queries (`frameRefID`).
    let per_target: Vec<Vec<&Alert>> = panel
        .targets
        .iter()
        .map(|target| alerts_on(model, &target.expr))
        .collect();
    let names = |alerts: &[&Alert]| alerts.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
    let shared = per_target.first().filter(|first| {
        !first.is_empty()
            && per_target
                .iter()
                .all(|alerts| names(alerts) == names(first))
    });
    let (base, mut steps) = shared.map_or(("green", Vec::new()), |alerts| alert_steps(alerts));
    steps.extend(panel.thresholds.iter().cloned());
    let mut overrides = Vec::new();
    if shared.is_none() {
        for (index, alerts) in per_target.iter().enumerate() {
            if alerts.is_empty() {
                continue;
            }
            let (base, steps) = alert_steps(alerts);
            let ref_id = char::from(b'A' + (index % 26) as u8).to_string();
            let mut properties =
                vec![json!({ "id": "thresholds", "value": steps_json(base, &steps) })];
            if panel.visual == Visual::Timeseries {
                properties
                    .push(json!({ "id": "custom.thresholdsStyle", "value": { "mode": "line" } }));
            }
            overrides.push(json!({
                "matcher": { "id": "frameRefID", "options": ref_id },
                "properties": properties,
            }));
        }
    }
    for (series, unit) in series_units(panel) {
        overrides.push(json!({
            "matcher": { "id": "byName", "options": series },
            "properties": [{ "id": "unit", "value": unit }],
        }));
    }

    let mut custom = json!({});
    if panel.visual == Visual::Timeseries {
        custom = json!({
            "drawStyle": "line",
            "fillOpacity": if panel.stacked { 30 } else { 10 },
            "lineWidth": 1,
            "showPoints": "never",
            "spanNulls": false,
            "stacking": { "group": "A", "mode": if panel.stacked { "normal" } else { "none" } },
            "thresholdsStyle": { "mode": if steps.is_empty() { "off" } else { "line" } },
        });
    }
    let options = match panel.visual {
        Visual::Timeseries => json!({
            "legend": { "calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": true },
            "tooltip": { "mode": "multi", "sort": "desc" },
        }),
        Visual::Stat | Visual::Gauge | Visual::BarGauge => json!({
            "colorMode": if steps.is_empty() { "none" } else { "value" },
            "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false },
        }),
        Visual::Table => json!({ "showHeader": true }),
        Visual::Heatmap => json!({
            "calculate": false,
            "cellGap": 1,
            "color": { "mode": "scheme", "scheme": "Oranges", "steps": 64 },
            "rowsFrame": { "layout": "auto" },
            "tooltip": { "show": true, "yHistogram": true },
            "yAxis": { "axisPlacement": "left", "unit": unit },
        }),
    };
    let mut value = json!({
        "datasource": datasource_ref(),
        "fieldConfig": {
            "defaults": {
                "custom": custom,
                "thresholds": steps_json(base, &steps),
                "unit": unit,
            },
            "overrides": overrides,
        },
        "gridPos": { "h": PANEL_HEIGHT, "w": w, "x": x, "y": y },
        "id": id,
        "options": options,
        "targets": targets,
        "title": panel.title,
        "type": panel.visual.grafana_type(),
    });
    // The panel's own description, or the HELP text of the metrics it shows; then what
    // bad looks like according to the alerts on its queries.
    let mut description = panel.description.clone().unwrap_or_else(|| {
        let mut helps: Vec<&str> = Vec::new();
        for metric in panel.targets.iter().flat_map(|t| t.expr.metrics()) {
            if !helps.contains(&metric.help) {
                helps.push(metric.help);
            }
        }
        helps.join(" ")
    });
    let mut alerts: Vec<&Alert> = Vec::new();
    for alert in per_target.iter().flatten() {
        if !alerts.iter().any(|a| a.name == alert.name) {
            alerts.push(alert);
        }
    }
    let sentences = alert_sentences(&alerts);
    if !sentences.is_empty() {
        if !description.is_empty() {
            description.push(' ');
        }
        description.push_str(&sentences);
    }
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

/// The positions of a row's panels: `(x, y offset, width)`. Panels fill lines of the grid
/// in order (stats a quarter wide, graphs half); each line is then widened to the full
/// width, so no line leaves a hole.
fn layout(panels: &[PanelSpec]) -> Vec<(u32, u32, u32)> {
    let mut lines: Vec<Vec<u32>> = Vec::new();
    let mut used = GRID_WIDTH;
    for panel in panels {
        let w = width(panel.visual);
        if used + w > GRID_WIDTH {
            lines.push(Vec::new());
            used = 0;
        }
        if let Some(line) = lines.last_mut() {
            line.push(w);
        }
        used += w;
    }
    let mut out = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let total: u32 = line.iter().sum();
        let mut x = 0;
        for (i, w) in line.iter().enumerate() {
            let stretched = if i + 1 == line.len() {
                GRID_WIDTH - x
            } else {
                w * GRID_WIDTH / total
            };
            out.push((x, index as u32 * PANEL_HEIGHT, stretched));
            x += stretched;
        }
    }
    out
}

/// Rows longer than this many panels are collapsed in the overview.
const OPEN_ROW_PANELS: usize = 4;

/// A section of a dashboard: its title, panels, and whether it starts collapsed.
struct Section<'a> {
    title: String,
    panels: Vec<&'a PanelSpec>,
    collapsed: bool,
}

/// The ids of each section's row and panels, in order: what `viewPanel=ID` links use.
fn section_ids(sections: &[Section<'_>]) -> Vec<(u32, Vec<u32>)> {
    let mut used = BTreeSet::new();
    sections
        .iter()
        .map(|section| {
            let row = stable_id(&mut used, &section.title, "");
            let panels = section
                .panels
                .iter()
                .map(|panel| stable_id(&mut used, &section.title, &panel.title))
                .collect();
            (row, panels)
        })
        .collect()
}

/// A set's own dashboard: each of its rows, open.
fn set_sections<'a>(set: &'a ObservedSet) -> Vec<Section<'a>> {
    set.rows
        .iter()
        .map(|row| Section {
            title: row.title.clone(),
            panels: row.panels.iter().collect(),
            collapsed: false,
        })
        .collect()
}

/// Where an alert is seen on its set's dashboard: the uid and the id of the first panel
/// showing the alert's signal (the one carrying its threshold), or else the first reading
/// one of its metrics; `None` when the set has no dashboard or no such panel.
pub(crate) fn alert_panel(
    model: &Model<'_>,
    set: &ObservedSet,
    alert: &Alert,
) -> Option<(String, u32)> {
    let sections = set_sections(set);
    let ids = section_ids(&sections);
    let metrics = metric_bases(&alert.condition.expr);
    let panels = || {
        sections
            .iter()
            .zip(&ids)
            .flat_map(|(section, (_, ids))| section.panels.iter().zip(ids))
    };
    let shows_signal = |panel: &PanelSpec| {
        panel.targets.iter().any(|target| {
            alerts_on(model, &target.expr)
                .iter()
                .any(|shown| shown.name == alert.name)
        })
    };
    let reads_metric = |panel: &PanelSpec| {
        panel.targets.iter().any(|target| {
            metric_bases(&target.expr)
                .iter()
                .any(|name| metrics.contains(name))
        })
    };
    let (_, &id) = panels()
        .find(|(panel, _)| shows_signal(panel))
        .or_else(|| panels().find(|(panel, _)| reads_metric(panel)))?;
    Some((set_dashboard(model, set).0, id))
}

/// The metrics a query reads, as declared (`http_server_requests`, not `..._total`), raw
/// PromQL included.
fn metric_bases(expr: &Expr) -> Vec<String> {
    match expr {
        Expr::Raw(text) => crate::promql::metric_names(text)
            .unwrap_or_default()
            .into_iter()
            .map(|name| {
                ["_total", "_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .unwrap_or(&name)
                    .to_owned()
            })
            .collect(),
        _ => expr
            .metrics()
            .iter()
            .map(|metric| metric.name.to_owned())
            .collect(),
    }
}

fn dashboard_panels(model: &Model<'_>, sections: &[Section<'_>]) -> Vec<Value> {
    let cx = model.dashboard_cx();
    let mut out = Vec::new();
    let ids = section_ids(sections);
    let mut y = 0;
    for (section, (id, panel_ids)) in sections.iter().zip(ids) {
        let owned: Vec<PanelSpec> = section.panels.iter().map(|p| (*p).clone()).collect();
        let positions = layout(&owned);
        let height = positions
            .iter()
            .map(|p| p.1 + PANEL_HEIGHT)
            .max()
            .unwrap_or(0);
        let panels: Vec<Value> = owned
            .iter()
            .zip(positions)
            .zip(panel_ids)
            .map(|((panel, (x, dy, w)), id)| panel_json(model, panel, id, (x, y + 1 + dy, w), &cx))
            .collect();
        let mut row = json!({
            "collapsed": section.collapsed,
            "gridPos": { "h": 1, "w": GRID_WIDTH, "x": 0, "y": y },
            "id": id,
            "panels": [],
            "title": section.title,
            "type": "row",
        });
        y += 1;
        if section.collapsed {
            // Grafana keeps a collapsed row's panels inside it.
            if let Some(object) = row.as_object_mut() {
                object.insert("panels".to_owned(), json!(panels));
            }
            out.push(row);
        } else {
            out.push(row);
            out.extend(panels);
            y += height;
        }
    }
    out
}

/// The overview section's own panels: the alerts firing now.
fn firing_alerts() -> PanelSpec {
    fiko_dashboards::Panel::<fiko_metrics::unit::Unitless>::table("Firing alerts")
        .query(fiko_dashboards::raw(
            r#"sum by (alertname, severity, service, instance) (ALERTS{alertstate="firing", job=~"$job", instance=~"$instance"})"#,
        ))
        .description("Alerts firing now, by name, severity, service and instance (Prometheus' ALERTS series). Bad: any critical alert; the Watchdog alert is always there while alerting works.")
        .into_spec()
}

/// The overview section: the panels the sets mark as golden signals, then the firing
/// alerts.
pub(crate) fn overview_panels(model: &Model<'_>) -> Vec<PanelSpec> {
    let mut panels: Vec<PanelSpec> = model
        .sets
        .iter()
        .flat_map(|set| &set.rows)
        .flat_map(|row| &row.panels)
        .filter(|panel| panel.overview)
        .cloned()
        .collect();
    panels.push(firing_alerts());
    panels
}

/// A set's own dashboard: its uid and title.
pub(crate) fn set_dashboard(model: &Model<'_>, set: &ObservedSet) -> (String, String) {
    let name = set
        .name()
        .trim_end_matches("Metrics")
        .trim_end_matches("Exporter");
    let mut slug = String::new();
    for (index, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            slug.push('-');
        }
        slug.push(c.to_ascii_lowercase());
    }
    if set.descriptor.external {
        slug.push_str("-exporter");
    }
    let mut uid = format!("{}-{slug}", model.settings.name);
    uid.truncate(40);
    let section = set.rows.first().map_or(name, |row| row.title.as_str());
    let title = format!("{} / {section}", model.settings.title_name());
    (uid, title)
}

fn annotations() -> Value {
    json!({ "list": [
        {
            "builtIn": 1,
            "datasource": { "type": "grafana", "uid": "-- Grafana --" },
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        },
        {
            "datasource": datasource_ref(),
            "enable": true,
            "expr": "ALERTS{alertstate=\"firing\", alertname!=\"Watchdog\", job=~\"$job\", instance=~\"$instance\"}",
            "iconColor": "red",
            "name": "Firing alerts",
            "step": "60s",
            "tagKeys": "severity,service",
            "textFormat": "{{instance}}",
            "titleFormat": "{{alertname}}",
            "useValueForTime": false,
        },
    ] })
}

fn dashboard_json(
    model: &Model<'_>,
    uid: &str,
    title: &str,
    links: Value,
    panels: Vec<Value>,
) -> String {
    let settings = model.settings;
    let dashboard = json!({
        "annotations": annotations(),
        "description": "Generated by dashboards-gen from the fiko-metrics declarations. Do not edit: change the declarations and regenerate.",
        "editable": false,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": null,
        "links": links,
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": [settings.name, "generated"],
        "templating": { "list": variables() },
        "time": { "from": "now-6h", "to": "now" },
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    });
    let mut text = serde_json::to_string_pretty(&dashboard).unwrap_or_default();
    text.push('\n');
    text
}

fn link(title: &str, uid: &str) -> Value {
    json!({
        "asDropdown": false,
        "icon": "dashboard",
        "includeVars": true,
        "keepTime": true,
        "tags": [],
        "targetBlank": false,
        "title": title,
        "tooltip": "",
        "type": "link",
        "url": format!("/d/{uid}"),
    })
}

/// Every dashboard: `(uid, JSON)`. The overview first — its golden-signals section open,
/// then every set's rows, collapsed where long — linking to one dashboard per set with
/// rows, each linking back.
pub(crate) fn dashboards(model: &Model<'_>) -> Vec<(String, String)> {
    let settings = model.settings;
    let with_rows: Vec<&ObservedSet> = model.sets.iter().filter(|s| !s.rows.is_empty()).collect();
    let mut out = Vec::new();
    let overview = overview_panels(model);
    let slo_row = crate::slo::row(model);
    let mut sections = vec![Section {
        title: "Overview".to_owned(),
        panels: overview.iter().collect(),
        collapsed: false,
    }];
    // The SLOs right below the golden signals, open.
    if let Some(row) = &slo_row {
        sections.push(Section {
            title: row.title.clone(),
            panels: row.panels.iter().collect(),
            collapsed: false,
        });
    }
    for set in &with_rows {
        for row in &set.rows {
            sections.push(Section {
                title: row.title.clone(),
                panels: row.panels.iter().collect(),
                collapsed: row.panels.len() > OPEN_ROW_PANELS,
            });
        }
    }
    let links: Vec<Value> = with_rows
        .iter()
        .map(|set| {
            let (uid, title) = set_dashboard(model, set);
            link(&title, &uid)
        })
        .collect();
    let panels = dashboard_panels(model, &sections);
    out.push((
        settings.uid(),
        dashboard_json(
            model,
            &settings.uid(),
            &settings.title(),
            json!(links),
            panels,
        ),
    ));
    for set in with_rows {
        let (uid, title) = set_dashboard(model, set);
        let panels = dashboard_panels(model, &set_sections(set));
        let back = json!([link(&settings.title(), &settings.uid())]);
        out.push((
            uid.clone(),
            dashboard_json(model, &uid, &title, back, panels),
        ));
    }
    out
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
