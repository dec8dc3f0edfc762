//! Series lifecycle: open series expire at scrape after a duration without writes, can be
//! removed, and come back when written again without losing a count, whichever way they
//! are recorded into (lookup, cached `SeriesId`, held reference). Time is a hand-moved
//! clock: no sleeps.
// Test helpers, not `#[test]` functions: a failed registration or parse ends the test.
#![allow(clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use fiko_metrics::testing::series_value;
use fiko_metrics::{
    Counter, Family, Format, Gauge, Histogram, LabelSet, LabelValue, MetricSet, Registry,
};

const MINUTE: u64 = 60;

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// A clock of its own for one test: `(clock, seconds)`, the clock reading `base() +
/// seconds`.
macro_rules! manual_clock {
    () => {{
        static SECONDS: AtomicU64 = AtomicU64::new(0);
        fn now() -> Instant {
            base() + Duration::from_secs(SECONDS.load(Ordering::SeqCst))
        }
        (now as fn() -> Instant, &SECONDS)
    }};
}

#[derive(LabelSet)]
struct Tenant {
    tenant: String,
}

fn tenant(name: &str) -> Tenant {
    Tenant {
        tenant: name.to_owned(),
    }
}

#[derive(MetricSet)]
struct Requests {
    /// Requests, by tenant.
    requests: Family<Tenant, Counter>,
}

/// A registry holding one `requests` family, made by `family`.
fn registry(family: Family<Tenant, Counter>) -> (Registry, Arc<Requests>) {
    let registry = Registry::new();
    let set = registry
        .register(Requests { requests: family })
        .expect("registers");
    (registry, set)
}

fn value(registry: &Registry, name: &str) -> Option<f64> {
    let scrape = registry.encode(Format::Prometheus);
    series_value(&scrape, &format!(r#"requests_total{{tenant="{name}"}}"#)).expect("parses")
}

fn expiring(max_series: usize, clock: fn() -> Instant) -> Family<Tenant, Counter> {
    Family::new(Default::default(), max_series)
        .expire_after(Duration::from_secs(15 * MINUTE))
        .with_clock(clock)
}

#[test]
fn expiry_hides_a_series_after_the_duration_and_not_before() {
    let (clock, seconds) = manual_clock!();
    let (registry, set) = registry(expiring(100, clock));
    set.requests.get_or_create(&tenant("a")).inc();
    set.requests.get_or_create(&tenant("b")).inc();
    assert_eq!(value(&registry, "a"), Some(1.0));

    // b is written at minute 10; a is not written again.
    seconds.store(10 * MINUTE, Ordering::SeqCst);
    set.requests.get_or_create(&tenant("b")).inc();
    assert_eq!(value(&registry, "b"), Some(2.0));

    seconds.store(15 * MINUTE - 1, Ordering::SeqCst);
    assert_eq!(value(&registry, "a"), Some(1.0), "not before 15 minutes");
    assert_eq!(set.requests.len(), 2);

    seconds.store(15 * MINUTE, Ordering::SeqCst);
    assert_eq!(
        value(&registry, "a"),
        None,
        "gone after 15 minutes unwritten"
    );
    assert_eq!(
        value(&registry, "b"),
        Some(2.0),
        "b was written at minute 10"
    );
    assert_eq!(set.requests.len(), 1);

    seconds.store(25 * MINUTE, Ordering::SeqCst);
    assert_eq!(value(&registry, "b"), None);
    assert_eq!(set.requests.len(), 0);
    assert!(set.requests.is_empty());
}

#[test]
fn a_write_between_scrapes_counts_even_when_no_scrape_saw_it_soon() {
    let (clock, seconds) = manual_clock!();
    let (registry, set) = registry(expiring(100, clock));
    set.requests.get_or_create(&tenant("a")).inc();
    assert_eq!(value(&registry, "a"), Some(1.0));
    // Written at some point, but the next scrape only comes 20 minutes later: it shows
    // the write before anything expires.
    set.requests.get_or_create(&tenant("a")).inc();
    seconds.store(20 * MINUTE, Ordering::SeqCst);
    assert_eq!(value(&registry, "a"), Some(2.0));
    seconds.store(35 * MINUTE, Ordering::SeqCst);
    assert_eq!(value(&registry, "a"), None);
}

#[test]
fn an_expired_counter_written_again_restarts_from_zero_and_its_old_count_was_shown() {
    let (clock, seconds) = manual_clock!();
    let (registry, set) = registry(expiring(100, clock));
    set.requests.get_or_create(&tenant("a")).inc_by(5);
    let before = registry.encode(Format::Prometheus);
    assert!(
        before.contains("requests_total{tenant=\"a\"} 5\n"),
        "{before}"
    );

    seconds.store(15 * MINUTE, Ordering::SeqCst);
    let gone = registry.encode(Format::Prometheus);
    assert!(!gone.contains("tenant=\"a\""), "{gone}");

    set.requests.get_or_create(&tenant("a")).inc();
    let after = registry.encode(Format::Prometheus);
    assert!(
        after.contains("requests_total{tenant=\"a\"} 1\n"),
        "{after}"
    );
    assert_eq!(set.requests.get_or_create(&tenant("a")).get(), 1);
}

/// A series that came back is timed afresh: it expires again only once unwritten for the
/// whole duration after its comeback, whichever way it came back (the word that holds
/// its write time held its fingerprint while it was retired).
#[test]
fn a_series_that_came_back_expires_again_only_after_the_whole_duration() {
    let (clock, seconds) = manual_clock!();
    let (registry, set) = registry(expiring(100, clock));
    let held = set.requests.get_or_create(&tenant("held"));
    held.inc_by(7);
    set.requests.get_or_create(&tenant("looked-up")).inc_by(7);
    assert_eq!(value(&registry, "held"), Some(7.0));
    seconds.store(15 * MINUTE, Ordering::SeqCst);
    assert_eq!(value(&registry, "held"), None);
    assert_eq!(value(&registry, "looked-up"), None);

    held.inc();
    set.requests.get_or_create(&tenant("looked-up")).inc();
    for minutes in [15, 20, 29] {
        seconds.store(minutes * MINUTE, Ordering::SeqCst);
        assert_eq!(value(&registry, "held"), Some(1.0), "at {minutes} min");
        assert_eq!(value(&registry, "looked-up"), Some(1.0), "at {minutes} min");
    }
    seconds.store(30 * MINUTE, Ordering::SeqCst);
    assert_eq!(
        value(&registry, "held"),
        None,
        "unwritten for 15 min since 15 min"
    );
    assert_eq!(value(&registry, "looked-up"), None);
}

#[test]
fn capacity_freed_by_expiry_goes_to_a_new_label_value() {
    let (clock, seconds) = manual_clock!();
    let (registry, set) = registry(expiring(2, clock));
    set.requests.get_or_create(&tenant("a")).inc();
    set.requests.get_or_create(&tenant("b")).inc();
    assert_eq!(value(&registry, "a"), Some(1.0));

    // Full: c folds into the overflow series.
    seconds.store(10 * MINUTE, Ordering::SeqCst);
    set.requests.get_or_create(&tenant("b")).inc();
    set.requests.get_or_create(&tenant("c")).inc();
    assert_eq!(value(&registry, "c"), None);
    assert_eq!(value(&registry, "other"), Some(1.0));
    assert_eq!(set.requests.folded(), 1);

    // a expires and leaves its place to d.
    seconds.store(15 * MINUTE, Ordering::SeqCst);
    assert_eq!(value(&registry, "a"), None);
    set.requests.get_or_create(&tenant("d")).inc();
    assert_eq!(value(&registry, "d"), Some(1.0), "d has its own series");
    assert_eq!(set.requests.folded(), 1, "d did not fold");
    assert_eq!(value(&registry, "other"), Some(1.0));

    // Full again: a, back, folds like any new value.
    set.requests.get_or_create(&tenant("a")).inc();
    assert_eq!(value(&registry, "a"), None);
    assert_eq!(value(&registry, "other"), Some(2.0));
    assert_eq!(set.requests.folded(), 2);
}

#[test]
fn remove_drops_a_series_now_and_is_false_for_an_unknown_one() {
    let (registry, set) = registry(Family::new(Default::default(), 2));
    set.requests.get_or_create(&tenant("a")).inc_by(3);
    set.requests.get_or_create(&tenant("b")).inc();
    assert_eq!(value(&registry, "a"), Some(3.0));

    assert!(set.requests.remove(&tenant("a")));
    assert_eq!(value(&registry, "a"), None);
    assert_eq!(value(&registry, "b"), Some(1.0));
    assert_eq!(set.requests.len(), 1);
    assert!(!set.requests.remove(&tenant("a")), "already removed");
    assert!(!set.requests.remove(&tenant("nobody")), "never created");

    // Its place goes to a new value, and a removed series stays removed at later scrapes.
    set.requests.get_or_create(&tenant("c")).inc();
    assert_eq!(value(&registry, "c"), Some(1.0));
    assert_eq!(set.requests.folded(), 0);
    assert_eq!(value(&registry, "a"), None);

    // Written again, it comes back from zero, in the place c left.
    assert!(set.requests.remove(&tenant("c")));
    set.requests.get_or_create(&tenant("a")).inc();
    assert_eq!(value(&registry, "a"), Some(1.0));
}

#[test]
fn increments_after_the_last_scrape_are_kept_for_a_removed_series_comeback() {
    let (registry, set) = registry(Family::default());
    let a = set.requests.get_or_create(&tenant("a"));
    a.inc_by(3);
    assert_eq!(value(&registry, "a"), Some(3.0));
    a.inc_by(2); // not shown by any scrape yet
    assert!(set.requests.remove(&tenant("a")));
    assert_eq!(value(&registry, "a"), None);
    assert_eq!(
        value(&registry, "a"),
        None,
        "the unshown 2 do not bring it back"
    );
    set.requests.get_or_create(&tenant("a")).inc();
    assert_eq!(
        value(&registry, "a"),
        Some(3.0),
        "a new series: 2 unshown + 1"
    );
}

#[derive(LabelValue)]
enum Outcome {
    Ok,
    Error,
}

#[derive(LabelSet)]
struct OutcomeLabels {
    outcome: Outcome,
}

#[derive(LabelSet)]
struct Mixed {
    tenant: String,
    outcome: Outcome,
}

#[test]
fn closed_series_are_never_removed_or_expired() {
    let family = Family::<OutcomeLabels, Counter>::default()
        .expire_after(Duration::ZERO)
        .with_clock(manual_clock!().0);
    family
        .get_or_create(&OutcomeLabels {
            outcome: Outcome::Ok,
        })
        .inc();
    assert!(!family.remove(&OutcomeLabels {
        outcome: Outcome::Error
    }));
    let registry = Registry::new();
    registry
        .register(Outcomes { outcomes: family })
        .expect("registers");
    for _ in 0..3 {
        let scrape = registry.encode(Format::Prometheus);
        assert!(
            scrape.contains("outcomes_total{outcome=\"ok\"} 1\n"),
            "{scrape}"
        );
        assert!(
            scrape.contains("outcomes_total{outcome=\"error\"} 0\n"),
            "{scrape}"
        );
    }
}

#[derive(MetricSet)]
struct Outcomes {
    /// Outcomes.
    outcomes: Family<OutcomeLabels, Counter>,
}

#[test]
fn a_cached_series_id_after_expiry_records_into_the_fresh_series() {
    let (clock, seconds) = manual_clock!();
    let (registry, set) = registry(expiring(100, clock));
    let id = set.requests.series_id(&tenant("a"));
    for _ in 0..3 {
        set.requests.series(id).inc();
    }
    assert_eq!(value(&registry, "a"), Some(3.0));
    seconds.store(15 * MINUTE, Ordering::SeqCst);
    assert_eq!(value(&registry, "a"), None);

    set.requests.series(id).inc();
    assert_eq!(value(&registry, "a"), Some(1.0));
    assert_eq!(set.requests.get_or_create(&tenant("a")).get(), 1);
    assert_eq!(
        set.requests.series_id(&tenant("a")),
        id,
        "the same slot again"
    );
}

#[test]
fn a_cached_series_id_after_removal_records_into_the_fresh_series() {
    let (registry, set) = registry(Family::default());
    let id = set.requests.series_id(&tenant("a"));
    set.requests.series(id).inc_by(4);
    assert_eq!(value(&registry, "a"), Some(4.0));
    assert!(set.requests.remove(&tenant("a")));
    set.requests.series(id).inc();
    assert_eq!(value(&registry, "a"), Some(1.0));
    assert_eq!(set.requests.len(), 1);
}

#[test]
fn a_cached_series_id_of_an_expired_series_folds_when_the_family_is_full() {
    let (clock, seconds) = manual_clock!();
    let (registry, set) = registry(expiring(1, clock));
    let a = set.requests.series_id(&tenant("a"));
    set.requests.series(a).inc();
    assert_eq!(value(&registry, "a"), Some(1.0));
    seconds.store(15 * MINUTE, Ordering::SeqCst);
    assert_eq!(value(&registry, "a"), None);
    set.requests.get_or_create(&tenant("b")).inc(); // takes the one place
    set.requests.series(a).inc();
    assert_eq!(value(&registry, "a"), None, "never past the limit");
    assert_eq!(
        value(&registry, "other"),
        Some(1.0),
        "recorded into the overflow series"
    );
    assert_eq!(value(&registry, "b"), Some(1.0));
    assert_eq!(set.requests.folded(), 1);
}

#[test]
fn the_overflow_series_of_a_retired_one_keeps_its_closed_labels() {
    let (clock, seconds) = manual_clock!();
    let family = Family::<Mixed, Counter>::new(Default::default(), 1)
        .expire_after(Duration::from_secs(60))
        .with_clock(clock);
    let mixed = |tenant: &str, outcome| Mixed {
        tenant: tenant.to_owned(),
        outcome,
    };
    let a = family.series_id(&mixed("a\"q", Outcome::Error));
    family.series(a).inc();
    let registry = Registry::new();
    let set = registry
        .register(MixedSet { calls: family })
        .expect("registers");
    let scrape = registry.encode(Format::Prometheus);
    assert!(
        scrape.contains(r#"calls_total{tenant="a\"q",outcome="error"} 1"#),
        "{scrape}"
    );
    seconds.store(60, Ordering::SeqCst);
    let _ = registry.encode(Format::Prometheus);
    set.calls.get_or_create(&mixed("b", Outcome::Ok)).inc();
    set.calls.series(a).inc_by(7);
    let scrape = registry.encode(Format::Prometheus);
    assert!(
        scrape.contains(r#"calls_total{tenant="other",outcome="error"} 7"#),
        "{scrape}"
    );
    assert!(!scrape.contains("a\\\"q"), "{scrape}");
}

#[derive(MetricSet)]
struct MixedSet {
    /// Calls.
    calls: Family<Mixed, Counter>,
}

#[test]
fn a_write_through_a_held_reference_after_expiry_is_not_lost() {
    let (clock, seconds) = manual_clock!();
    let (registry, set) = registry(expiring(100, clock));
    let held = set.requests.get_or_create(&tenant("a"));
    held.inc_by(10);
    assert_eq!(value(&registry, "a"), Some(10.0));
    seconds.store(15 * MINUTE, Ordering::SeqCst);
    assert_eq!(value(&registry, "a"), None);

    // The writer took its reference before the series expired, and writes after.
    held.inc();
    held.inc();
    assert_eq!(
        value(&registry, "a"),
        Some(2.0),
        "back at the next scrape, from zero"
    );
    assert!(std::ptr::eq(held, set.requests.get_or_create(&tenant("a"))));
    held.inc();
    assert_eq!(value(&registry, "a"), Some(3.0));
}

#[test]
fn a_gauge_set_to_the_same_value_counts_as_written() {
    let (clock, seconds) = manual_clock!();
    let family = Family::<Tenant, Gauge>::default()
        .expire_after(Duration::from_secs(15 * MINUTE))
        .with_clock(clock);
    let registry = Registry::new();
    let set = registry
        .register(Depths { depth: family })
        .expect("registers");
    let depth = |registry: &Registry| {
        series_value(&registry.encode(Format::Prometheus), r#"depth{tenant="a"}"#).expect("parses")
    };
    let id = set.depth.series_id(&tenant("a"));
    set.depth.series(id).set(5);
    assert_eq!(depth(&registry), Some(5.0));
    seconds.store(10 * MINUTE, Ordering::SeqCst);
    set.depth.series(id).set(5);
    assert_eq!(depth(&registry), Some(5.0));
    seconds.store(20 * MINUTE, Ordering::SeqCst);
    assert_eq!(depth(&registry), Some(5.0), "written at minute 10");
    seconds.store(25 * MINUTE, Ordering::SeqCst);
    assert_eq!(depth(&registry), None);
    // A gauge comes back with its value.
    set.depth.series(id).add(1);
    assert_eq!(depth(&registry), Some(6.0));
}

#[derive(MetricSet)]
struct Depths {
    /// Queue depth, by tenant.
    depth: Family<Tenant, Gauge>,
}

#[test]
fn a_histogram_expires_and_comes_back_with_its_buckets() {
    let (clock, seconds) = manual_clock!();
    let family = Family::<Tenant, Histogram>::default()
        .expire_after(Duration::from_secs(MINUTE))
        .with_clock(clock);
    let registry = Registry::new();
    let set = registry
        .register(Latencies {
            latency_seconds: family,
        })
        .expect("registers");
    let count = |registry: &Registry| {
        series_value(
            &registry.encode(Format::Prometheus),
            r#"latency_seconds_count{tenant="a"}"#,
        )
        .expect("parses")
    };
    let held = set.latency_seconds.get_or_create(&tenant("a"));
    held.observe(0.2);
    assert_eq!(count(&registry), Some(1.0));
    seconds.store(MINUTE, Ordering::SeqCst);
    assert_eq!(count(&registry), None);
    held.observe(0.3);
    assert_eq!(count(&registry), Some(2.0));
}

#[derive(MetricSet)]
struct Latencies {
    /// Latency, by tenant.
    latency_seconds: Family<Tenant, Histogram>,
}

#[test]
fn a_family_without_expiry_keeps_every_series_whatever_the_time() {
    let (clock, seconds) = manual_clock!();
    let (registry, set) = registry(Family::<Tenant, Counter>::default().with_clock(clock));
    set.requests.get_or_create(&tenant("a")).inc();
    for minutes in [0, 60, 24 * 60, 365 * 24 * 60] {
        seconds.store(minutes * MINUTE, Ordering::SeqCst);
        assert_eq!(value(&registry, "a"), Some(1.0));
    }
    assert_eq!(set.requests.expires_after(), None);
}

#[derive(MetricSet)]
struct Declared {
    /// Requests, by tenant.
    #[metric(expire_after = "15m", max_series = 10)]
    requests: Family<Tenant, Counter>,
    /// Sessions, by tenant.
    #[metric(expire_after = "1h30m")]
    sessions: Family<Tenant, Gauge>,
    /// Errors, by tenant.
    errors: Family<Tenant, Counter>,
}

/// Counts the samples a visit hands over.
#[derive(Default)]
struct Count(usize);

impl fiko_metrics::encoding::Visitor for Count {
    fn family(&mut self, _: &fiko_metrics::MetricDescriptor) -> std::fmt::Result {
        Ok(())
    }
    fn counter(
        &mut self,
        _: fiko_metrics::encoding::Labels<'_>,
        _: fiko_metrics::encoding::Value,
    ) -> std::fmt::Result {
        self.0 += 1;
        Ok(())
    }
    fn gauge(
        &mut self,
        _: fiko_metrics::encoding::Labels<'_>,
        _: fiko_metrics::encoding::Value,
    ) -> std::fmt::Result {
        self.0 += 1;
        Ok(())
    }
    fn histogram(
        &mut self,
        _: fiko_metrics::encoding::Labels<'_>,
        _: &Histogram,
    ) -> std::fmt::Result {
        self.0 += 1;
        Ok(())
    }
}

#[test]
fn the_derive_attribute_expires_series_end_to_end() {
    let registry = Registry::new();
    let set = Declared::register(&registry).expect("registers");
    assert_eq!(
        set.requests.expires_after(),
        Some(Duration::from_secs(15 * MINUTE))
    );
    assert_eq!(
        set.sessions.expires_after(),
        Some(Duration::from_secs(90 * MINUTE))
    );
    assert_eq!(set.errors.expires_after(), None);
    assert_eq!(Declared::REQUESTS.descriptor.max_series, 10);

    set.requests.get_or_create(&tenant("a")).inc();
    set.errors.get_or_create(&tenant("a")).inc();
    let scrape = registry.encode(Format::Prometheus);
    assert!(
        scrape.contains("requests_total{tenant=\"a\"} 1\n"),
        "{scrape}"
    );

    // A scrape 16 minutes later (the family's clock is the real one: this one is told).
    let later = Instant::now() + Duration::from_secs(16 * MINUTE);
    let descriptor = Declared::REQUESTS.descriptor;
    let mut count = Count::default();
    set.requests
        .visit_at(descriptor, &mut count, later)
        .expect("visits");
    assert_eq!(count.0, 0, "expired");
    let mut count = Count::default();
    set.errors
        .visit_at(Declared::ERRORS.descriptor, &mut count, later)
        .expect("visits");
    assert_eq!(count.0, 1, "no expiry declared");

    let scrape = registry.encode(Format::Prometheus);
    assert!(!scrape.contains("requests_total{tenant=\"a\"}"), "{scrape}");
    assert!(
        scrape.contains("errors_total{tenant=\"a\"} 1\n"),
        "{scrape}"
    );
}

/// Writers hammer open series through cached ids, lookups and references held for the
/// whole test, while a scraper moves the clock, scrapes (expiring idle series every few
/// scrapes) and removes series. At the end, every increment is in the last value shown of
/// the series it went into, or still in a series that has not shown it yet: none is lost.
#[test]
fn no_count_is_lost_while_series_expire_and_are_removed_under_load() {
    const KEYS: usize = 24;
    const WRITERS: u64 = 3;
    const ROUNDS: u64 = 2_000;
    const BURST: u64 = 100;

    let (clock, seconds) = manual_clock!();
    let family = Family::<Tenant, Counter>::new(Default::default(), 1_000)
        .expire_after(Duration::from_secs(2))
        .with_clock(clock);
    let registry = Registry::new();
    let set = registry
        .register(Requests { requests: family })
        .expect("registers");
    let names: Vec<String> = (0..KEYS).map(|key| format!("t{key}")).collect();
    let done = Arc::new(AtomicBool::new(false));
    // Writers start writing when the scraper starts scraping, every series made: however
    // the threads are scheduled, the first scrape finds them all live.
    let start = Arc::new(Barrier::new(WRITERS as usize + 1));

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let set = set.clone();
            let names = names.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                let family = &set.requests;
                let ids: Vec<_> = names
                    .iter()
                    .map(|name| family.series_id(&tenant(name)))
                    .collect();
                let held: Vec<&Counter> = names
                    .iter()
                    .map(|name| family.get_or_create(&tenant(name)))
                    .collect();
                start.wait();
                let mut written = 0;
                let mut state = writer.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for round in 0..ROUNDS {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let key = (state % KEYS as u64) as usize;
                    for _ in 0..BURST {
                        match round % 3 {
                            0 => family.series(ids[key]).inc(),
                            1 => family.get_or_create(&tenant(&names[key])).inc(),
                            _ => held[key].inc(),
                        }
                        written += 1;
                    }
                    std::thread::yield_now();
                }
                written
            })
        })
        .collect();

    // The scraper's books: per series, the last value shown by the current life of the
    // series, and the sum of the final values of its ended lives.
    let mut last: HashMap<String, f64> = HashMap::new();
    let mut ended = 0.0;
    let (mut scrapes, mut expired, mut removed) = (0u64, 0u64, 0u64);
    let scraper_done = done.clone();
    let watcher = std::thread::spawn(move || {
        while writers.iter().any(|writer| !writer.is_finished()) {
            std::thread::yield_now();
        }
        scraper_done.store(true, Ordering::SeqCst);
        writers
            .into_iter()
            .map(|writer| writer.join().expect("writer"))
            .sum::<u64>()
    });
    // Scrapes go on while writers write, and a few more after, so that removals and
    // expiries happen whatever the threads' speeds: the first removal comes right after the
    // first scrape, the others every 7 scrapes, and after the writers end every series
    // expires within a few scrapes.
    start.wait();
    while !done.load(Ordering::SeqCst) || scrapes < 40 {
        seconds.fetch_add(1, Ordering::SeqCst);
        let scrape = registry.encode(Format::Prometheus);
        scrapes += 1;
        for name in &names {
            let series = format!(r#"requests_total{{tenant="{name}"}}"#);
            match series_value(&scrape, &series).expect("parses") {
                Some(value) => {
                    let before = last.insert(name.clone(), value);
                    assert!(
                        before.is_none_or(|before| before <= value),
                        "a counter went down"
                    );
                }
                None => {
                    if let Some(value) = last.remove(name) {
                        ended += value;
                        expired += 1;
                    }
                }
            }
        }
        if scrapes % 7 == 1 {
            let name = &names[(scrapes as usize / 7) % KEYS];
            if set.requests.remove(&tenant(name)) {
                removed += 1;
                ended += last.remove(name).unwrap_or(0.0);
            }
        }
    }
    let written = watcher.join().expect("watcher");

    // What no scrape has shown yet: the current value of each series, brought back first
    // when it left (a counter then holds exactly what it recorded since its last showing).
    let unshown: f64 = names
        .iter()
        .map(|name| set.requests.get_or_create(&tenant(name)).get() as f64)
        .sum();
    assert_eq!(
        ended + unshown,
        written as f64,
        "{scrapes} scrapes, {expired} expiries, {removed} removals"
    );
    assert_eq!(written, WRITERS * ROUNDS * BURST);
    assert!(
        expired > 0 && removed > 0,
        "{scrapes} scrapes, {expired} expiries, {removed} removals"
    );
}
