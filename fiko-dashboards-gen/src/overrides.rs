//! Per-set changes to the rows and alerts a set brings: an application declares how its
//! dashboard and alerts differ from a set's defaults instead of re-typing them.

use fiko_dashboards::{Alert, Panel, PanelSpec, Row, Unit};

use crate::ObservedSet;

type Tuning = Box<dyn Fn(&mut Alert)>;

enum Edit {
    Rows(Vec<Row>),
    AddRow(Row),
    ReplaceRow(String, Row),
    DropRow(String),
    AddPanel(String, PanelSpec),
    ReplacePanel(String, String, PanelSpec),
    DropPanel(String, String),
    Alerts(Vec<Alert>),
    AddAlert(Alert),
    ReplaceAlert(Alert),
    DropAlert(String),
    Tune(String, Tuning),
}

impl Edit {
    fn describe(&self) -> String {
        match self {
            Self::Rows(rows) => format!("rows({})", rows.len()),
            Self::AddRow(row) => format!("add_row({:?})", row.title),
            Self::ReplaceRow(title, _) => format!("replace_row({title:?})"),
            Self::DropRow(title) => format!("drop_row({title:?})"),
            Self::AddPanel(row, panel) => format!("add_panel({row:?}, {:?})", panel.title),
            Self::ReplacePanel(row, title, _) => format!("replace_panel({row:?}, {title:?})"),
            Self::DropPanel(row, title) => format!("drop_panel({row:?}, {title:?})"),
            Self::Alerts(alerts) => format!("alerts({})", alerts.len()),
            Self::AddAlert(alert) => format!("add_alert({:?})", alert.name),
            Self::ReplaceAlert(alert) => format!("replace_alert({:?})", alert.name),
            Self::DropAlert(name) => format!("drop_alert({name:?})"),
            Self::Tune(name, _) => format!("tune({name:?})"),
        }
    }
}

/// How one set's rows and alerts differ from its [`Observe`](fiko_dashboards::Observe)
/// defaults; given to [`Generator::customize`](crate::Generator::customize). Edits apply
/// in order; one naming a row, panel or alert the set does not have is a generation
/// problem naming the set.
///
/// ```
/// use fiko_dashboards::prelude::*;
/// use fiko_metrics_redis::RedisExporter;
/// use fiko_dashboards_gen::Generator;
///
/// let artefacts = Generator::new("shop")
///     .runbook_base("https://runbooks.example/")
///     .observe::<RedisExporter>()
///     .customize::<RedisExporter>(|set| {
///         set.drop_alert("RedisRejectedConnections")
///             .tune("RedisHighMemoryUsage", |alert| {
///                 alert.set_threshold(0.8).set_for(minutes(10));
///             })
///     })
///     .generate()?;
/// let alerts = artefacts.get("prometheus/alerts.yml").unwrap();
/// assert!(!alerts.contains("RedisRejectedConnections"));
/// assert!(alerts.contains("> 0.8"));
/// # Ok::<(), fiko_dashboards_gen::Error>(())
/// ```
#[derive(Default)]
pub struct SetOverrides {
    service: Option<String>,
    edits: Vec<Edit>,
}

impl std::fmt::Debug for SetOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetOverrides")
            .field("service", &self.service)
            .field(
                "edits",
                &self.edits.iter().map(Edit::describe).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SetOverrides {
    /// No changes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `service` label of the set's alerts (and so their rule group).
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// Replaces every row.
    pub fn rows(mut self, rows: Vec<Row>) -> Self {
        self.edits.push(Edit::Rows(rows));
        self
    }

    /// Adds a row after the set's rows.
    pub fn add_row(mut self, row: Row) -> Self {
        self.edits.push(Edit::AddRow(row));
        self
    }

    /// Replaces the row titled `title`, in place.
    pub fn replace_row(mut self, title: &str, row: Row) -> Self {
        self.edits.push(Edit::ReplaceRow(title.to_owned(), row));
        self
    }

    /// Removes the row titled `title`.
    pub fn drop_row(mut self, title: &str) -> Self {
        self.edits.push(Edit::DropRow(title.to_owned()));
        self
    }

    /// Adds a panel at the end of the row titled `row`.
    pub fn add_panel<U: Unit>(mut self, row: &str, panel: Panel<U>) -> Self {
        self.edits
            .push(Edit::AddPanel(row.to_owned(), panel.into_spec()));
        self
    }

    /// Replaces the panel titled `title` of the row titled `row`, in place.
    pub fn replace_panel<U: Unit>(mut self, row: &str, title: &str, panel: Panel<U>) -> Self {
        self.edits.push(Edit::ReplacePanel(
            row.to_owned(),
            title.to_owned(),
            panel.into_spec(),
        ));
        self
    }

    /// Removes the panel titled `title` from the row titled `row`.
    pub fn drop_panel(mut self, row: &str, title: &str) -> Self {
        self.edits
            .push(Edit::DropPanel(row.to_owned(), title.to_owned()));
        self
    }

    /// Replaces every alert.
    pub fn alerts(mut self, alerts: Vec<Alert>) -> Self {
        self.edits.push(Edit::Alerts(alerts));
        self
    }

    /// Adds an alert.
    pub fn add_alert(mut self, alert: Alert) -> Self {
        self.edits.push(Edit::AddAlert(alert));
        self
    }

    /// Replaces the alert of the same name.
    pub fn replace_alert(mut self, alert: Alert) -> Self {
        self.edits.push(Edit::ReplaceAlert(alert));
        self
    }

    /// Removes the alert named `name`.
    pub fn drop_alert(mut self, name: &str) -> Self {
        self.edits.push(Edit::DropAlert(name.to_owned()));
        self
    }

    /// Changes the alert named `name` (threshold, `for`, texts), e.g.
    /// `|alert| { alert.set_threshold(0.1); }` with the threshold in the condition's base
    /// unit.
    pub fn tune(mut self, name: &str, tuning: impl Fn(&mut Alert) + 'static) -> Self {
        self.edits
            .push(Edit::Tune(name.to_owned(), Box::new(tuning)));
        self
    }

    /// Sets the threshold of the alert named `name`, in the condition's base unit
    /// (seconds, bytes, a ratio between 0 and 1, per second, or a plain number).
    pub fn threshold(self, name: &str, threshold: f64) -> Self {
        self.tune(name, move |alert| {
            alert.set_threshold(threshold);
        })
    }

    /// Applies the edits to `set`, one problem per edit naming what `set` lacks.
    pub(crate) fn apply(&self, set: &mut ObservedSet, problems: &mut Vec<String>) {
        if let Some(service) = &self.service {
            set.service.clone_from(service);
        }
        let name = set.name();
        let mut missing = |what: String| {
            problems.push(format!("{name}: customize: {what}"));
        };
        for edit in &self.edits {
            match edit {
                Edit::Rows(rows) => set.rows.clone_from(rows),
                Edit::AddRow(row) => set.rows.push(row.clone()),
                Edit::ReplaceRow(title, row) => match find_row(&mut set.rows, title) {
                    Some(found) => *found = row.clone(),
                    None => missing(format!("no row titled `{title}` to replace")),
                },
                Edit::DropRow(title) => {
                    let before = set.rows.len();
                    set.rows.retain(|row| &row.title != title);
                    if set.rows.len() == before {
                        missing(format!("no row titled `{title}` to drop"));
                    }
                }
                Edit::AddPanel(row, panel) => match find_row(&mut set.rows, row) {
                    Some(found) => found.panels.push(panel.clone()),
                    None => missing(format!("no row titled `{row}` to add a panel to")),
                },
                Edit::ReplacePanel(row, title, panel) => {
                    match find_row(&mut set.rows, row)
                        .and_then(|found| found.panels.iter_mut().find(|p| &p.title == title))
                    {
                        Some(found) => *found = panel.clone(),
                        None => missing(format!("no panel `{title}` in row `{row}` to replace")),
                    }
                }
                Edit::DropPanel(row, title) => {
                    let dropped = find_row(&mut set.rows, row).is_some_and(|found| {
                        let before = found.panels.len();
                        found.panels.retain(|panel| &panel.title != title);
                        found.panels.len() < before
                    });
                    if !dropped {
                        missing(format!("no panel `{title}` in row `{row}` to drop"));
                    }
                }
                Edit::Alerts(alerts) => set.alerts.clone_from(alerts),
                Edit::AddAlert(alert) => set.alerts.push(alert.clone()),
                Edit::ReplaceAlert(alert) => {
                    match set.alerts.iter_mut().find(|a| a.name == alert.name) {
                        Some(found) => *found = alert.clone(),
                        None => missing(format!("no alert named `{}` to replace", alert.name)),
                    }
                }
                Edit::DropAlert(alert) => {
                    let before = set.alerts.len();
                    set.alerts.retain(|a| &a.name != alert);
                    if set.alerts.len() == before {
                        missing(format!("no alert named `{alert}` to drop"));
                    }
                }
                Edit::Tune(alert, tuning) => {
                    match set.alerts.iter_mut().find(|a| &a.name == alert) {
                        Some(found) => tuning(found),
                        None => missing(format!("no alert named `{alert}` to tune")),
                    }
                }
            }
        }
    }
}

fn find_row<'r>(rows: &'r mut [Row], title: &str) -> Option<&'r mut Row> {
    rows.iter_mut().find(|row| row.title == title)
}
