//! Helpers shared by the integration tests: reading values back from a scrape.

#![allow(dead_code, unreachable_pub)]

use fiko_metrics::{Format, Registry};

/// The sum of the samples named `name` whose labels include every pair of `labels`, read
/// from the registry's Prometheus text exposition (what a scrape sees).
pub fn sample(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = registry.encode(Format::Prometheus);
    let mut total = 0.0;
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').expect("a sample line has a value");
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let matches = labels.iter().all(|(key, value)| {
            series_labels
                .split(',')
                .any(|pair| pair == format!("{key}=\"{value}\""))
        });
        if matches {
            total += value.parse::<f64>().expect("a sample value is a number");
        }
    }
    total
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
