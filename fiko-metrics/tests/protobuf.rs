//! The protobuf exposition, decoded with the same prost messages (generated from the
//! official `metrics.proto`), equals what was recorded: names, help, types, labels,
//! counts, sums, classic and native buckets, hostile values, and under concurrency.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fiko_metrics::encoding::prost::Message;
use fiko_metrics::encoding::proto::{self, MetricFamily, MetricType};
use fiko_metrics::histogram::{Buckets, HistogramConfig, NativeConfig};
use fiko_metrics::{
    Counter, Exposition, Family, Format, Gauge, Histogram, LabelSet, LabelValue, MetricSet,
    Registry,
};

#[derive(LabelValue, Clone, Copy)]
enum Method {
    Get,
    Post,
}

#[derive(LabelSet)]
struct Route {
    method: Method,
    route: String,
}

#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct Shop {
    /// Requests, by method and route.
    requests: Family<Route, Counter>,
    /// Revenue.
    revenue: Counter<f64>,
    /// Temperature, "quoted" and back\slashed.
    #[metric(unit = "celsius")]
    temperature: Gauge<f64>,
    /// Latency, classic buckets.
    #[metric(buckets = [0.1, 0.5, 1.0])]
    latency_seconds: Family<Route, Histogram>,
    /// Latency, native buckets.
    #[metric(native(schema = 2, zero_threshold = 0.001))]
    native_latency_seconds: Histogram,
    /// Latency, native and classic buckets.
    #[metric(native, buckets = [0.25, 1.0])]
    migrating_latency_seconds: Histogram,
    /// Never recorded: an open family with no series.
    unused: Family<Route, Counter>,
}

fn decode(bytes: &[u8]) -> Vec<MetricFamily> {
    let mut rest = bytes;
    let mut families = Vec::new();
    while !rest.is_empty() {
        let family = MetricFamily::decode_length_delimited(&mut rest)
            .unwrap_or_else(|error| panic!("not a length-delimited MetricFamily: {error}"));
        families.push(family);
    }
    families
}

fn family<'a>(families: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
    families
        .iter()
        .find(|family| family.name() == name)
        .unwrap_or_else(|| panic!("no family {name} in {:?}", names(families)))
}

fn names(families: &[MetricFamily]) -> Vec<&str> {
    families.iter().map(MetricFamily::name).collect()
}

fn labels(metric: &proto::Metric) -> Vec<(&str, &str)> {
    metric
        .label
        .iter()
        .map(|pair| (pair.name(), pair.value()))
        .collect()
}

/// A native histogram's non-empty buckets as `key → count`, from its spans and deltas
/// (a span may carry empty buckets to bridge a gap of one or two keys).
fn native_buckets(spans: &[proto::BucketSpan], deltas: &[i64]) -> BTreeMap<i32, u64> {
    let mut buckets = BTreeMap::new();
    let mut deltas = deltas.iter();
    let (mut key, mut count) = (0i32, 0i64);
    for (index, span) in spans.iter().enumerate() {
        key = if index == 0 {
            span.offset()
        } else {
            key + span.offset()
        };
        for _ in 0..span.length() {
            count += deltas.next().expect("a delta per bucket");
            let count = u64::try_from(count).expect("counts are not negative");
            if count > 0 {
                buckets.insert(key, count);
            }
            key += 1;
        }
    }
    assert!(deltas.next().is_none(), "more deltas than buckets");
    buckets
}

/// The key of the bucket holding `value` at `schema`, computed independently of the
/// runtime (from a logarithm; the test values stay away from bucket boundaries).
fn expected_key(value: f64, schema: i32) -> i32 {
    (value.log2() * 2f64.powi(schema)).ceil() as i32
}

#[test]
fn every_kind_decodes_to_what_was_recorded() {
    let registry = Registry::new();
    let shop = Shop::register(&registry).expect("present");
    let users = Route {
        method: Method::Get,
        route: "/users/{id}".into(),
    };
    let hostile = Route {
        method: Method::Post,
        route: "a \"quoted\"\nvalue \\ ✓".into(),
    };
    shop.requests.get_or_create(&users).inc_by(3);
    shop.requests.get_or_create(&hostile).inc();
    shop.revenue.inc_by(9.75);
    shop.temperature.set(-3.5);
    for value in [0.05, 0.3, 0.3, 0.7, 4.0] {
        shop.latency_seconds.get_or_create(&users).observe(value);
    }
    let observed = [0.0005, 0.011, 0.013, 0.3, 0.31, 2.9, -0.2];
    for value in observed {
        shop.native_latency_seconds.observe(value);
        shop.migrating_latency_seconds.observe(value);
    }

    let families = decode(&registry.encode_protobuf());
    assert!(
        !names(&families).contains(&"shop_unused_total"),
        "an empty family is left out"
    );

    let requests = family(&families, "shop_requests_total");
    assert_eq!(requests.r#type(), MetricType::Counter);
    assert_eq!(requests.help(), "Requests, by method and route.");
    let series: Vec<_> = requests
        .metric
        .iter()
        .map(|metric| {
            (
                labels(metric),
                metric.counter.as_ref().expect("present").value(),
            )
        })
        .collect();
    assert_eq!(
        series,
        [
            (vec![("method", "get"), ("route", "/users/{id}")], 3.0),
            (
                vec![("method", "post"), ("route", "a \"quoted\"\nvalue \\ ✓")],
                1.0
            ),
        ]
    );

    let revenue = family(&families, "shop_revenue_total");
    assert_eq!(
        revenue.metric[0].counter.as_ref().expect("present").value(),
        9.75
    );
    let temperature = family(&families, "shop_temperature_celsius");
    assert_eq!(
        (temperature.r#type(), temperature.unit()),
        (MetricType::Gauge, "celsius")
    );
    assert_eq!(
        temperature.help(),
        "Temperature, \"quoted\" and back\\slashed."
    );
    assert_eq!(
        temperature.metric[0]
            .gauge
            .as_ref()
            .expect("present")
            .value(),
        -3.5
    );

    let latency = family(&families, "shop_latency_seconds");
    assert_eq!(latency.r#type(), MetricType::Histogram);
    let histogram = latency.metric[0].histogram.as_ref().expect("present");
    assert_eq!(
        (histogram.sample_count(), histogram.sample_sum()),
        (5, 5.35)
    );
    let buckets: Vec<_> = histogram
        .bucket
        .iter()
        .map(|bucket| (bucket.upper_bound(), bucket.cumulative_count()))
        .collect();
    assert_eq!(buckets, [(0.1, 1), (0.5, 3), (1.0, 4)]);
    assert!(
        histogram.schema.is_none() && histogram.positive_span.is_empty(),
        "classic only"
    );

    let sum: f64 = observed.iter().sum();
    for (name, classic) in [
        ("shop_native_latency_seconds", vec![]),
        ("shop_migrating_latency_seconds", vec![(0.25, 4), (1.0, 6)]),
    ] {
        let histogram = family(&families, name).metric[0]
            .histogram
            .clone()
            .expect("present");
        assert_eq!(histogram.sample_count(), 7, "{name}");
        assert!((histogram.sample_sum() - sum).abs() < 1e-12, "{name}");
        let buckets: Vec<_> = histogram
            .bucket
            .iter()
            .map(|bucket| (bucket.upper_bound(), bucket.cumulative_count()))
            .collect();
        assert_eq!(buckets, classic, "{name}");
        let schema = histogram.schema();
        let mut positive = BTreeMap::new();
        let mut negative = BTreeMap::new();
        let threshold = if name == "shop_native_latency_seconds" {
            0.001
        } else {
            2f64.powi(-128)
        };
        let mut zero = 0;
        for value in observed {
            if value.abs() <= threshold {
                zero += 1;
            } else if value > 0.0 {
                *positive.entry(expected_key(value, schema)).or_insert(0u64) += 1;
            } else {
                *negative.entry(expected_key(-value, schema)).or_insert(0u64) += 1;
            }
        }
        assert_eq!(
            schema,
            if name == "shop_native_latency_seconds" {
                2
            } else {
                3
            }
        );
        assert_eq!(histogram.zero_threshold(), threshold, "{name}");
        assert_eq!(histogram.zero_count(), zero, "{name}");
        assert_eq!(
            native_buckets(&histogram.positive_span, &histogram.positive_delta),
            positive
        );
        assert_eq!(
            native_buckets(&histogram.negative_span, &histogram.negative_delta),
            negative
        );
    }
}

#[test]
fn hostile_values_are_exposed_as_the_exposition_format_says() {
    let registry = Registry::new();
    let shop = Shop::register(&registry).expect("present");
    let route = Route {
        method: Method::Get,
        route: String::new(),
    };
    // Counters wrap past u64::MAX; the protobuf sample is the nearest double.
    shop.requests.get_or_create(&route).inc_by(u64::MAX);
    // A counter ignores NaN and ±Inf amounts; a gauge shows them.
    shop.revenue.inc_by(f64::NAN);
    shop.revenue.inc_by(f64::INFINITY);
    shop.temperature.set(f64::NAN);
    for value in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        f64::MIN_POSITIVE / 4.0,
    ] {
        shop.native_latency_seconds.observe(value);
    }
    let families = decode(&registry.encode_protobuf());
    let requests = family(&families, "shop_requests_total");
    assert_eq!(
        requests.metric[0]
            .counter
            .as_ref()
            .expect("present")
            .value(),
        u64::MAX as f64
    );
    assert_eq!(
        labels(&requests.metric[0]),
        [("method", "get"), ("route", "")]
    );
    assert_eq!(
        family(&families, "shop_revenue_total").metric[0]
            .counter
            .as_ref()
            .expect("present")
            .value(),
        0.0
    );
    assert!(
        family(&families, "shop_temperature_celsius").metric[0]
            .gauge
            .as_ref()
            .expect("present")
            .value()
            .is_nan()
    );

    let native = family(&families, "shop_native_latency_seconds").metric[0]
        .histogram
        .clone()
        .expect("present");
    // NaN is counted (and makes the sum NaN) but lands in no native bucket, as in the Go
    // client; +Inf and -Inf take the buckets past the largest finite value's; a subnormal
    // is below the zero threshold.
    assert_eq!(native.sample_count(), 5);
    assert!(native.sample_sum().is_nan());
    assert_eq!(native.zero_count(), 1);
    let positive = native_buckets(&native.positive_span, &native.positive_delta);
    let negative = native_buckets(&native.negative_span, &native.negative_delta);
    let max_key = expected_key(f64::MAX, 2);
    assert_eq!(
        positive.into_iter().collect::<Vec<_>>(),
        [(max_key, 1), (max_key + 1, 1)]
    );
    assert_eq!(negative.into_iter().collect::<Vec<_>>(), [(max_key + 1, 1)]);
}

#[test]
fn native_histograms_coarsen_to_stay_within_max_buckets() {
    let native = NativeConfig::new(8, 0.0, 20).expect("present");
    let histogram = Histogram::native(native);
    let values: Vec<f64> = (0..2000).map(|i| 1e-6 * 1.013f64.powi(i)).collect();
    for value in &values {
        histogram.observe(*value);
    }
    let snapshot = histogram.native_snapshot().expect("present");
    assert!(
        snapshot.positive.len() <= 20,
        "{} buckets",
        snapshot.positive.len()
    );
    assert!(
        snapshot.schema < 8,
        "the schema dropped from 8 to {}",
        snapshot.schema
    );
    let total: u64 = snapshot.positive.iter().map(|(_, count)| count).sum();
    assert_eq!(total, 2000, "coarsening loses no observation");
    // Every value is in the bucket its magnitude names at the final schema.
    let mut expected = BTreeMap::new();
    for value in &values {
        *expected
            .entry(expected_key(*value, i32::from(snapshot.schema)))
            .or_insert(0u64) += 1;
    }
    assert_eq!(
        snapshot.positive.into_iter().collect::<BTreeMap<_, _>>(),
        expected
    );
}

#[test]
fn native_only_histograms_show_count_and_sum_in_text() {
    let registry = Registry::new();
    let shop = Shop::register(&registry).expect("present");
    shop.native_latency_seconds.observe(0.5);
    shop.native_latency_seconds.observe(1.5);
    let text = registry.encode(Format::Prometheus);
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("shop_native_latency"))
        .collect();
    assert_eq!(
        lines,
        [
            "shop_native_latency_seconds_bucket{le=\"+Inf\"} 2",
            "shop_native_latency_seconds_sum 2.0",
            "shop_native_latency_seconds_count 2",
        ]
    );
    // The migration mode keeps its classic buckets in text.
    assert!(text.contains("shop_migrating_latency_seconds_bucket{le=\"0.25\"} 0"));
    assert_eq!(
        Shop::DESCRIPTOR
            .metric("native_latency_seconds")
            .expect("present")
            .buckets,
        &[] as &[f64]
    );
    let migrating = Shop::DESCRIPTOR
        .metric("migrating_latency_seconds")
        .expect("present");
    assert_eq!(
        (migrating.buckets, migrating.native),
        (&[0.25, 1.0][..], Some(NativeConfig::DEFAULT))
    );
    assert_eq!(
        Shop::DESCRIPTOR
            .metric("latency_seconds")
            .expect("present")
            .native,
        None
    );
}

#[test]
fn content_negotiation_picks_protobuf_only_when_asked_first() {
    // What Prometheus 2.42 sends with and without `--enable-feature=native-histograms`.
    let with_native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.1";
    let without = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(Exposition::from_accept(with_native), Exposition::Protobuf);
    assert_eq!(
        Exposition::from_accept(without),
        Exposition::Text(Format::OpenMetrics)
    );
    assert_eq!(
        Exposition::from_accept(""),
        Exposition::Text(Format::Prometheus)
    );
    // Another protobuf message, a text encoding, or a lower quality: text.
    for accept in [
        "application/vnd.google.protobuf;proto=other.Message;encoding=delimited",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.2,text/plain;q=0.5",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0",
    ] {
        assert_eq!(
            Exposition::from_accept(accept),
            Exposition::Text(Format::Prometheus),
            "{accept}"
        );
    }
    assert_eq!(
        Exposition::Protobuf.content_type(),
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    );

    let registry = Registry::new();
    assert_eq!(registry.negotiate(with_native), Exposition::Protobuf);
    // prometheus-client registries can only be encoded as text.
    registry.include_prometheus_client(prometheus_client::registry::Registry::default());
    assert_eq!(
        registry.negotiate(with_native),
        Exposition::Text(Format::Prometheus)
    );
}

#[test]
fn concurrent_recording_never_goes_backwards_and_ends_exact() {
    const THREADS: usize = 2;
    const PER_THREAD: u64 = 200_000;
    let registry = Registry::new();
    let shop = Shop::register(&registry).expect("present");
    let done = Arc::new(AtomicBool::new(false));
    let scraper = {
        let (registry, done) = (Arc::new(registry), done.clone());
        let handle = {
            let registry = registry.clone();
            std::thread::spawn(move || {
                let mut previous = (0f64, 0u64, 0u64);
                let mut scrapes = 0;
                while !done.load(Ordering::Relaxed) || scrapes == 0 {
                    let families = decode(&registry.encode_protobuf());
                    scrapes += 1;
                    let Some(requests) =
                        families.iter().find(|f| f.name() == "shop_requests_total")
                    else {
                        continue;
                    };
                    let count = requests.metric[0]
                        .counter
                        .as_ref()
                        .expect("present")
                        .value();
                    let migrating = family(&families, "shop_migrating_latency_seconds").metric[0]
                        .histogram
                        .clone()
                        .expect("present");
                    let native: u64 =
                        native_buckets(&migrating.positive_span, &migrating.positive_delta)
                            .values()
                            .sum();
                    let cumulative: Vec<u64> = migrating
                        .bucket
                        .iter()
                        .map(|bucket| bucket.cumulative_count())
                        .collect();
                    assert!(
                        cumulative.windows(2).all(|w| w[0] <= w[1]),
                        "{cumulative:?}"
                    );
                    assert!(cumulative.iter().all(|c| *c <= migrating.sample_count()));
                    // Prometheus refuses a native histogram whose buckets hold more than
                    // its count: the buckets are read first, the count after.
                    assert!(
                        native + migrating.zero_count() <= migrating.sample_count(),
                        "native buckets {native} over the count {}",
                        migrating.sample_count()
                    );
                    assert!(count >= previous.0, "a counter went backwards");
                    assert!(
                        migrating.sample_count() >= previous.1,
                        "a count went backwards"
                    );
                    assert!(native >= previous.2, "native buckets went backwards");
                    previous = (count, migrating.sample_count(), native);
                }
                scrapes
            })
        };
        (registry, handle)
    };
    let (registry, scraper) = scraper;
    let route = Route {
        method: Method::Get,
        route: "/".into(),
    };
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (shop, route) = (&shop, &route);
            scope.spawn(move || {
                let requests = shop.requests.get_or_create(route);
                for i in 0..PER_THREAD {
                    requests.inc();
                    // Values spread over six powers of two, new buckets appearing throughout.
                    let value = 0.01 * (1.0 + ((i * 7 + thread as u64) % 6400) as f64 / 100.0);
                    shop.migrating_latency_seconds.observe(value);
                }
            });
        }
    });
    done.store(true, Ordering::Relaxed);
    assert!(scraper.join().expect("present") > 0);

    let families = decode(&registry.encode_protobuf());
    let total = THREADS as u64 * PER_THREAD;
    let requests = family(&families, "shop_requests_total");
    assert_eq!(
        requests.metric[0]
            .counter
            .as_ref()
            .expect("present")
            .value(),
        total as f64
    );
    let migrating = family(&families, "shop_migrating_latency_seconds").metric[0]
        .histogram
        .clone()
        .expect("present");
    assert_eq!(migrating.sample_count(), total);
    let native = native_buckets(&migrating.positive_span, &migrating.positive_delta);
    assert_eq!(native.values().sum::<u64>(), total);
    let snapshot = shop
        .migrating_latency_seconds
        .native_snapshot()
        .expect("present");
    assert_eq!(native.into_iter().collect::<Vec<_>>(), snapshot.positive);
}

#[test]
fn a_histogram_config_makes_what_it_says() {
    let both = Histogram::from_config(&HistogramConfig::native_and_classic(
        NativeConfig::DEFAULT,
        Buckets::new(vec![1.0]).expect("present"),
    ));
    both.observe(0.5);
    assert!(both.has_classic_buckets() && both.native_snapshot().is_some());
    let classic = Histogram::new(Buckets::new(vec![1.0]).expect("present"));
    assert!(classic.native_snapshot().is_none() && classic.native_config().is_none());
    assert_eq!(
        NativeConfig::new(-5, 0.0, 1).map_err(|error| error.to_string()),
        Err("native histogram schema -5 is outside -4..=8".to_owned())
    );
    assert!(NativeConfig::new(0, -1.0, 1).is_err() && NativeConfig::new(0, f64::NAN, 1).is_err());
    assert!(NativeConfig::new(0, 0.0, 0).is_err());
    // Half a bucket's relative width: about 4.3% at schema 3.
    assert!((NativeConfig::relative_error(3) - 0.0433).abs() < 1e-4);
}
