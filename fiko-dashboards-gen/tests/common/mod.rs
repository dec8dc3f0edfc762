//! Shared by the generator's tests against real servers: an application's registry served
//! to a scraper.
#![allow(dead_code, unreachable_pub)]
// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use fiko_metrics::Registry;
use fiko_testkit::ScrapeTarget;

/// Serves `registry` on a loopback port, answering each scrape in the exposition its
/// `Accept` header asks for; stopped when dropped.
pub fn serve(registry: Arc<Registry>) -> ScrapeTarget {
    ScrapeTarget::serve(move |accept| {
        let exposition = registry.negotiate(accept);
        let body = registry.encode_exposition(exposition);
        (exposition.content_type().to_owned(), body)
    })
    .expect("serve the registry")
}

/// The `expr` of alert `name` in a rule file (as the generator writes it: one JSON string
/// on the line after `- alert:`).
pub fn expr(rules: &str, name: &str) -> String {
    let start = rules
        .find(&format!("- alert: \"{name}\""))
        .unwrap_or_else(|| panic!("no {name} in\n{rules}"));
    let line = rules[start..]
        .lines()
        .nth(1)
        .and_then(|line| line.trim().strip_prefix("expr: "))
        .expect("expr line");
    serde_json::from_str(line).expect("quoted expr")
}
