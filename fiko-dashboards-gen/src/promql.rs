//! Every PromQL expression the artefacts contain must parse (promql-parser) and name only
//! declared metrics.

use std::collections::BTreeSet;

use fiko_dashboards::query::Recorded;
use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr as Ast};
use promql_parser::util::{ExprVisitor, walk_expr};

use crate::Model;

struct Names(Vec<String>);

impl ExprVisitor for Names {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, expr: &Ast) -> Result<bool, Self::Error> {
        let selector = match expr {
            Ast::VectorSelector(vs) => Some(vs),
            Ast::MatrixSelector(ms) => Some(&ms.vs),
            _ => None,
        };
        if let Some(vs) = selector {
            match &vs.name {
                Some(name) => self.0.push(name.clone()),
                None => self.0.extend(
                    vs.matchers
                        .matchers
                        .iter()
                        .filter(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
                        .map(|m| m.value.clone()),
                ),
            }
        }
        Ok(true)
    }
}

/// The metric names `promql` selects, or the parser's error.
pub fn metric_names(promql: &str) -> Result<Vec<String>, String> {
    // Grafana's interval variables are not PromQL; give the parser a duration instead.
    let text = promql
        .replace("$__rate_interval", "5m")
        .replace("$__interval", "1m")
        .replace("$__range", "1h");
    let ast = parser::parse(&text)?;
    let mut names = Names(Vec::new());
    let _ = walk_expr(&mut names, &ast);
    Ok(names.0)
}

struct Filters(Vec<(String, String, String)>);

impl ExprVisitor for Filters {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, expr: &Ast) -> Result<bool, Self::Error> {
        let selector = match expr {
            Ast::VectorSelector(vs) => Some(vs),
            Ast::MatrixSelector(ms) => Some(&ms.vs),
            _ => None,
        };
        if let Some(vs) = selector {
            if let Some(name) = &vs.name {
                for matcher in &vs.matchers.matchers {
                    if matches!(matcher.op, MatchOp::Equal)
                        && matcher.name != "__name__"
                        && !matcher.value.is_empty()
                    {
                        self.0
                            .push((name.clone(), matcher.name.clone(), matcher.value.clone()));
                    }
                }
            }
        }
        Ok(true)
    }
}

/// Every `metric{label="value"}` filter of `promql` (equality matchers on named
/// selectors), as `(metric, label, value)`; none if it does not parse.
pub(crate) fn equality_filters(promql: &str) -> Vec<(String, String, String)> {
    let Ok(ast) = parser::parse(promql) else {
        return Vec::new();
    };
    let mut filters = Filters(Vec::new());
    let _ = walk_expr(&mut filters, &ast);
    filters.0
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
