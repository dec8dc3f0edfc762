//! Helpers shared by the integration tests: reading values back from a scrape.

#![allow(dead_code, unreachable_pub)]
// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::panic)]

use fiko_metrics::{Format, Registry, testing};

/// The sum of the samples named `name` whose labels include every pair of `labels`, read
/// from the registry's Prometheus text exposition (what a scrape sees).
pub fn sample(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = registry.encode(Format::Prometheus);
    let samples = testing::samples(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    testing::sum(&samples, name, labels)
}

/// Polls `condition` every 20 ms for at most `seconds`; returns whether it held.
pub async fn eventually(seconds: u64, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    condition()
}
