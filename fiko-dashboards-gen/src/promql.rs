//! Every PromQL expression the artefacts contain must parse (promql-parser) and name only
//! declared metrics.

use std::collections::BTreeSet;

use fiko_dashboards::query::Recorded;
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr as Ast, VectorSelector};
use promql_parser::util::{ExprVisitor, walk_expr};

use crate::Model;

/// Every vector selector of an expression, those of range selectors (`m[5m]`) included.
struct Selectors(Vec<VectorSelector>);

impl ExprVisitor for Selectors {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, expr: &Ast) -> Result<bool, Self::Error> {
        match expr {
            Ast::VectorSelector(vs) => self.0.push(vs.clone()),
            Ast::MatrixSelector(ms) => self.0.push(ms.vs.clone()),
            _ => {}
        }
        Ok(true)
    }
}

fn selectors(ast: &Ast) -> Vec<VectorSelector> {
    let mut selectors = Selectors(Vec::new());
    let _ = walk_expr(&mut selectors, ast);
    selectors.0
}

/// The metric names `promql` selects, or the parser's error.
pub fn metric_names(promql: &str) -> Result<Vec<String>, String> {
    // Grafana's interval variables are not PromQL; give the parser a duration instead.
    let text = promql
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h");
    let ast = parser::parse(&text)?;
    let mut names = Vec::new();
    for vs in selectors(&ast) {
        match vs.name {
            Some(name) => names.push(name),
            None => names.extend(
                vs.matchers
                    .matchers
                    .into_iter()
                    .filter(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
                    .map(|m| m.value),
            ),
        }
    }
    Ok(names)
}

/// Every `metric{label="value"}` filter of `promql` (equality matchers on named
/// selectors), as `(metric, label, value)`; none if it does not parse.
pub(crate) fn equality_filters(promql: &str) -> Vec<(String, String, String)> {
    let Ok(ast) = parser::parse(promql) else {
        return Vec::new();
    };
    let mut filters = Vec::new();
    for vs in selectors(&ast) {
        let Some(name) = &vs.name else { continue };
        for matcher in &vs.matchers.matchers {
            if matches!(matcher.op, MatchOp::Equal)
                && matcher.name != "__name__"
                && !matcher.value.is_empty()
            {
                filters.push((name.clone(), matcher.name.clone(), matcher.value.clone()));
            }
        }
    }
    filters
}

/// Every series name the observed sets declare (`name_total`, `name_bucket`, ...).
pub(crate) fn declared(model: &Model<'_>) -> BTreeSet<String> {
    model
        .sets
        .iter()
        .flat_map(|set| set.descriptor.metrics.iter())
        .flat_map(|metric| metric.series_names())
        .chain(model.discovered.iter().cloned())
        .collect()
}

/// One line per expression that does not parse or names an undeclared metric.
pub(crate) fn check_all(model: &Model<'_>) -> Vec<String> {
    let mut known = declared(model);
    known.extend(model.recorded.iter().map(Recorded::name));
    let mut problems = Vec::new();
    let mut check = |what: String, promql: String| match metric_names(&promql) {
        Err(error) => problems.push(format!("{what}: `{promql}` does not parse: {error}")),
        Ok(names) => {
            for name in names {
                if !known.contains(&name) {
                    problems.push(format!(
                        "{what}: `{promql}` names `{name}`, which no listed metric set declares"
                    ));
                }
            }
        }
    };
    let dashboard = model.dashboard_cx();
    let rules = model.rules_cx();
    for set in model.sets {
        for panel in set.rows.iter().flat_map(|row| &row.panels) {
            for target in &panel.targets {
                check(
                    format!("{}: panel `{}`", set.name(), panel.title),
                    target.expr.render(&dashboard),
                );
            }
        }
        for alert in &set.alerts {
            check(
                format!("{}: alert {}", set.name(), alert.name),
                alert.render(&rules),
            );
        }
    }
    problems
}
