//! Exemplars: bounded labels, OpenMetrics text and protobuf carry them, the Prometheus
//! text format is byte for byte what it is without them, and nothing is recorded unless
//! asked. (The installed source is process-wide: it is tested in `exemplar_source.rs`.)

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::expect_used)]

use fiko_metrics::encoding::prost::Message;
use fiko_metrics::encoding::proto::{self, MetricFamily};
use fiko_metrics::exemplar::{ExemplarError, ExemplarLabels, MAX_LABEL_CHARS};
use fiko_metrics::{
    Counter, CounterWithExemplar, Format, Histogram, LabelSet, MetricSet, Registry,
};

#[derive(LabelSet)]
struct Route {
    route: String,
}

#[derive(MetricSet)]
#[metric_set(namespace = "shop")]
struct Shop {
    /// Orders placed.
    orders: fiko_metrics::Family<Route, CounterWithExemplar>,
    /// Revenue.
    revenue: CounterWithExemplar<f64>,
    /// Latency, classic buckets.
    #[metric(exemplars, buckets = [0.1, 0.5, 1.0])]
    latency_seconds: Histogram,
    /// Latency, native buckets.
    #[metric(exemplars, native)]
    native_latency_seconds: Histogram,
}

fn labels(pairs: &[(&str, &str)]) -> ExemplarLabels {
    ExemplarLabels::new(pairs).expect("valid exemplar labels")
}

fn decode(bytes: &[u8]) -> Vec<MetricFamily> {
    let mut rest = bytes;
    let mut families = Vec::new();
    while !rest.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut rest).expect("delimited"));
    }
    families
}

/// An exemplar's labels as `(name, value)` pairs.
type Pairs<'a> = Vec<(&'a str, &'a str)>;

fn pairs(exemplar: &proto::Exemplar) -> Pairs<'_> {
    exemplar
        .label
        .iter()
        .map(|pair| (pair.name(), pair.value()))
        .collect()
}

#[test]
fn labels_are_bounded_to_128_characters_of_names_and_values() {
    assert_eq!(MAX_LABEL_CHARS, 128);
    // "trace_id" is 8 characters: 120 more make 128, allowed; 121 are refused.
    let fits = "a".repeat(120);
    assert!(ExemplarLabels::new(&[("trace_id", &fits)]).is_ok());
    let over = "a".repeat(121);
    assert_eq!(
        ExemplarLabels::new(&[("trace_id", &over)]),
        Err(ExemplarError::TooLong { chars: 129 })
    );
    // Characters, not bytes: 120 two-byte characters still fit.
    let wide = "é".repeat(120);
    assert_eq!(wide.len(), 240);
    assert!(ExemplarLabels::new(&[("trace_id", &wide)]).is_ok());
    // Several labels count together.
    // Several labels count together: 8 + 56 + 7 + 57 = 128.
    let (fifty_six, fifty_seven) = ("b".repeat(56), "b".repeat(57));
    assert!(ExemplarLabels::new(&[("trace_id", &fifty_six), ("span_id", &fifty_seven)]).is_ok());
    assert_eq!(
        ExemplarLabels::new(&[("trace_id", &fifty_seven), ("span_id", &fifty_seven)]),
        Err(ExemplarError::TooLong { chars: 129 })
    );
    // Names are label names.
    assert_eq!(
        ExemplarLabels::new(&[("trace-id", "x")]),
        Err(ExemplarError::BadName("trace-id".to_owned()))
    );
    assert!(ExemplarLabels::new(&[("__name__", "x")]).is_err());
    assert_eq!(
        ExemplarError::TooLong { chars: 129 }.to_string(),
        "exemplar labels are 129 characters long; OpenMetrics allows 128"
    );
}

#[test]
fn labels_read_back_as_given_whatever_their_values_hold() {
    let given: &[(&str, &str)] = &[
        ("a", ""),
        ("trace_id", "12=34=x"),
        ("b", "="),
        ("c", "8=é✓\n\"},"),
        ("d", "0"),
    ];
    let labels = ExemplarLabels::new(given).expect("valid");
    assert_eq!(labels.pairs().collect::<Vec<_>>(), given);
    assert_eq!(
        format!("{labels:?}"),
        r#"{"a": "", "trace_id": "12=34=x", "b": "=", "c": "8=é✓\n\"},", "d": "0"}"#
    );
    assert_eq!(labels, labels.clone());
    assert_ne!(labels, ExemplarLabels::new(&given[..4]).expect("valid"));
    assert_eq!(ExemplarLabels::new(&[]).expect("none").pairs().count(), 0);

    // The most pairs there can be (128 one-character names, empty values) and the longest
    // text (128 four-byte characters) fit.
    let names: Vec<String> = (0..128)
        .map(|i| format!("{}", char::from(b'a' + i % 26)))
        .collect();
    let many: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "")).collect();
    let labels = ExemplarLabels::new(&many).expect("128 characters");
    assert_eq!(labels.pairs().collect::<Vec<_>>(), many);
    let wide = "😀".repeat(127);
    let labels = ExemplarLabels::new(&[("w", &wide)]).expect("128 characters");
    assert_eq!(labels.pairs().collect::<Vec<_>>(), [("w", wide.as_str())]);
}

#[test]
fn trace_labels_are_the_w3c_ids_in_lowercase_hex() {
    for (trace, span, trace_hex, span_hex) in [
        (
            0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128,
            0x00f0_67aa_0ba9_02b7_u64,
            "0af7651916cd43dd8448eb211c80319c",
            "00f067aa0ba902b7",
        ),
        (0, 0, &*"0".repeat(32), &*"0".repeat(16)),
        (
            1,
            0xa,
            "00000000000000000000000000000001",
            "000000000000000a",
        ),
        (u128::MAX, u64::MAX, &*"f".repeat(32), &*"f".repeat(16)),
    ] {
        let labels = ExemplarLabels::trace(trace.to_be_bytes(), span.to_be_bytes());
        let expected = [("trace_id", trace_hex), ("span_id", span_hex)];
        assert_eq!(labels.pairs().collect::<Vec<_>>(), expected);
        assert_eq!(labels, ExemplarLabels::new(&expected).expect("valid"));
    }
}

/// The same recordings, with and without exemplars.
fn record(shop: &Shop, with: bool) {
    let trace = |id: &str| labels(&[("trace_id", id)]);
    let route = Route {
        route: "/cart".to_owned(),
    };
    let orders = shop.orders.get_or_create(&route);
    let latency = &shop.latency_seconds;
    let native = &shop.native_latency_seconds;
    if with {
        orders.inc_with_exemplar(&trace("o1"));
        orders.inc_by_with_exemplar(2, &trace("o2"));
        shop.revenue.inc_by_with_exemplar(9.5, &trace("r1"));
        latency.observe_with_exemplar(0.05, &trace("l1"));
        latency.observe_with_exemplar(0.3, &trace("l2"));
        latency.observe_with_exemplar(0.4, &trace("l3"));
        latency.observe_with_exemplar(7.0, &trace("l4"));
        native.observe_with_exemplar(0.2, &trace("n1"));
        native.observe_with_exemplar(0.01, &trace("n2"));
    } else {
        orders.inc();
        orders.inc_by(2);
        shop.revenue.inc_by(9.5);
        for value in [0.05, 0.3, 0.4, 7.0] {
            latency.observe(value);
        }
        native.observe(0.2);
        native.observe(0.01);
    }
}

#[test]
fn the_prometheus_text_format_is_unchanged_and_openmetrics_carries_them() {
    let plain = Registry::new();
    record(&Shop::register(&plain).expect("register"), false);
    let with = Registry::new();
    let shop = Shop::register(&with).expect("register");
    record(&shop, true);

    assert_eq!(
        with.encode(Format::Prometheus),
        plain.encode(Format::Prometheus)
    );
    let text = with.encode(Format::OpenMetrics);
    assert!(!plain.encode(Format::OpenMetrics).contains(" # {"));
    // `# {labels} value timestamp`, the timestamp in seconds.
    let line = |prefix: &str| {
        text.lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
    };
    let exemplar = |line: &str| -> (String, f64, f64) {
        let (_, exemplar) = line.split_once(" # ").expect("an exemplar");
        let (labels, rest) = exemplar.split_once("} ").expect("labels");
        let mut numbers = rest.split(' ').map(|n| n.parse::<f64>().expect("a number"));
        let value = numbers.next().expect("value");
        let timestamp = numbers.next().expect("timestamp");
        assert!(numbers.next().is_none(), "{line}");
        (format!("{labels}}}"), value, timestamp)
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64();
    let check = |prefix: &str, labels: &str, value: f64| {
        let line = line(prefix);
        let (got_labels, got_value, timestamp) = exemplar(line);
        assert_eq!((got_labels.as_str(), got_value), (labels, value), "{line}");
        assert!(
            (now - 60.0..=now + 1.0).contains(&timestamp),
            "{line}: timestamp {timestamp} is not now ({now})"
        );
    };
    check(
        r#"shop_orders_total{route="/cart"} 3 "#,
        r#"{trace_id="o2"}"#,
        2.0,
    );
    check("shop_revenue_total 9.5 ", r#"{trace_id="r1"}"#, 9.5);
    check(
        r#"shop_latency_seconds_bucket{le="0.1"} 1 "#,
        r#"{trace_id="l1"}"#,
        0.05,
    );
    // The latest of a bucket's observations.
    check(
        r#"shop_latency_seconds_bucket{le="0.5"} 3 "#,
        r#"{trace_id="l3"}"#,
        0.4,
    );
    assert!(!line(r#"shop_latency_seconds_bucket{le="1.0"}"#).contains('#'));
    check(
        r#"shop_latency_seconds_bucket{le="+Inf"} 4 "#,
        r#"{trace_id="l4"}"#,
        7.0,
    );
    // A native-only histogram has one classic slot: its latest exemplar.
    check(
        r#"shop_native_latency_seconds_bucket{le="+Inf"} 2 "#,
        r#"{trace_id="n2"}"#,
        0.01,
    );
    // Samples without exemplars (sums, counts) have none.
    assert!(!line("shop_latency_seconds_sum").contains('#'));
}

#[test]
fn protobuf_carries_them_where_metrics_proto_says() {
    let registry = Registry::new();
    let shop = Shop::register(&registry).expect("register");
    record(&shop, true);
    let families = decode(&registry.encode_protobuf());
    let family = |name: &str| {
        families
            .iter()
            .find(|family| family.name() == name)
            .unwrap_or_else(|| panic!("no family {name}"))
    };

    let orders = family("shop_orders_total").metric[0]
        .counter
        .as_ref()
        .expect("a counter");
    let exemplar = orders.exemplar.as_ref().expect("an exemplar");
    assert_eq!(pairs(exemplar), [("trace_id", "o2")]);
    assert_eq!(exemplar.value(), 2.0);
    let timestamp = exemplar.timestamp.expect("a timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let now = i64::try_from(now).expect("fits");
    assert!((now - 60..=now + 1).contains(&timestamp.seconds));
    assert!((0..1_000_000_000).contains(&timestamp.nanos));

    let latency = family("shop_latency_seconds").metric[0]
        .histogram
        .as_ref()
        .expect("a histogram");
    let buckets: Vec<(f64, u64, Option<Pairs<'_>>)> = latency
        .bucket
        .iter()
        .map(|bucket| {
            (
                bucket.upper_bound(),
                bucket.cumulative_count(),
                bucket.exemplar.as_ref().map(pairs),
            )
        })
        .collect();
    assert_eq!(
        buckets,
        [
            (0.1, 1, Some(vec![("trace_id", "l1")])),
            (0.5, 3, Some(vec![("trace_id", "l3")])),
            (1.0, 3, None),
            // Written only to carry the exemplar of the `+Inf` bucket.
            (f64::INFINITY, 4, Some(vec![("trace_id", "l4")])),
        ]
    );
    assert!(latency.exemplars.is_empty(), "classic only");

    let native = family("shop_native_latency_seconds").metric[0]
        .histogram
        .as_ref()
        .expect("a histogram");
    assert!(native.bucket.is_empty(), "{:?}", native.bucket);
    let exemplars: Vec<(Pairs<'_>, f64, bool)> = native
        .exemplars
        .iter()
        .map(|e| (pairs(e), e.value(), e.timestamp.is_some()))
        .collect();
    assert_eq!(exemplars, [(vec![("trace_id", "n2")], 0.01, true)]);
}

#[test]
fn nothing_is_recorded_unless_asked() {
    let registry = Registry::new();
    let shop = Shop::register(&registry).expect("register");
    // No source installed in this test binary: the `_with_source` forms record plainly.
    shop.revenue.inc_by_with_source(1.5);
    shop.latency_seconds.observe_with_source(0.2);
    shop.native_latency_seconds.observe_with_source(0.2);
    shop.latency_seconds.observe(0.3);
    assert!(shop.revenue.exemplar().is_none());
    assert!((0..=3).all(|slot| shop.latency_seconds.exemplar(slot).is_none()));
    assert_eq!(shop.latency_seconds.count(), 2);
    assert_eq!(shop.revenue.get(), 1.5);
    assert!(!registry.encode(Format::OpenMetrics).contains(" # {"));
    let families = decode(&registry.encode_protobuf());
    for family in &families {
        for metric in &family.metric {
            if let Some(counter) = &metric.counter {
                assert!(counter.exemplar.is_none());
            }
            if let Some(histogram) = &metric.histogram {
                assert!(histogram.exemplars.is_empty());
                assert!(histogram.bucket.iter().all(|b| b.exemplar.is_none()));
            }
        }
    }
    // An amount a counter refuses records no exemplar either.
    shop.revenue
        .inc_by_with_exemplar(-1.0, &labels(&[("trace_id", "neg")]));
    assert!(shop.revenue.exemplar().is_none());
}

#[test]
fn an_optional_exemplar_records_the_value_and_only_a_given_exemplar() {
    let shop = Shop::register(&Registry::new()).expect("register");
    let orders = shop.orders.get_or_create(&Route { route: "/a".into() });
    let trace = labels(&[("trace_id", "t1")]);
    let mut exemplar = None;
    // Read once per request, given to every series: absent first, then present.
    for _ in 0..2 {
        orders.inc_with_exemplar(exemplar);
        orders.inc_by_with_exemplar(2, exemplar);
        shop.revenue.inc_by_with_exemplar(0.5, exemplar);
        shop.latency_seconds.observe_with_exemplar(0.3, exemplar);
        if exemplar.is_none() {
            assert!(orders.exemplar().is_none());
            assert!(shop.revenue.exemplar().is_none());
            assert!((0..=3).all(|slot| shop.latency_seconds.exemplar(slot).is_none()));
        }
        exemplar = Some(&trace);
    }
    assert_eq!((orders.get(), shop.revenue.get()), (6, 1.0));
    assert_eq!(shop.latency_seconds.count(), 2);
    let seen = |e: Option<fiko_metrics::exemplar::Exemplar>| {
        e.map(|e| {
            (
                e.labels
                    .pairs()
                    .map(|(n, v)| format!("{n}={v}"))
                    .collect::<Vec<_>>(),
                e.value,
            )
        })
    };
    assert_eq!(
        seen(orders.exemplar()),
        Some((vec!["trace_id=t1".to_owned()], 2.0))
    );
    assert_eq!(
        seen(shop.revenue.exemplar()),
        Some((vec!["trace_id=t1".to_owned()], 0.5))
    );
    assert_eq!(
        seen(shop.latency_seconds.exemplar(1)),
        Some((vec!["trace_id=t1".to_owned()], 0.3))
    );
}

#[test]
fn label_values_are_escaped_in_text() {
    let registry = Registry::new();
    let shop = Shop::register(&registry).expect("register");
    shop.revenue
        .inc_by_with_exemplar(1.0, &labels(&[("note", "a \"quoted\"\\ line\nbreak")]));
    let text = registry.encode(Format::OpenMetrics);
    assert!(
        text.contains(r#"shop_revenue_total 1.0 # {note="a \"quoted\"\\ line\nbreak"} 1.0 "#),
        "{text}"
    );
}

#[test]
fn concurrent_exemplars_never_tear_and_counts_stay_exact() {
    let registry = Registry::new();
    let shop = Shop::register(&registry).expect("register");
    let ids: Vec<ExemplarLabels> = (0..4)
        .map(|thread| labels(&[("trace_id", &format!("t{thread}"))]))
        .collect();
    std::thread::scope(|scope| {
        for id in &ids {
            let shop = &shop;
            scope.spawn(move || {
                for _ in 0..5000 {
                    shop.latency_seconds.observe_with_exemplar(0.3, id);
                    shop.revenue.inc_by_with_exemplar(1.0, id);
                }
            });
        }
        for _ in 0..50 {
            let text = registry.encode(Format::OpenMetrics);
            for line in text.lines().filter(|line| line.contains(" # {")) {
                assert!(
                    (0..4).any(|t| line.contains(&format!(r#"{{trace_id="t{t}"}}"#))),
                    "{line}"
                );
            }
        }
    });
    assert_eq!(shop.latency_seconds.count(), 20_000);
    assert_eq!(shop.revenue.get(), 20_000.0);
    let latest = shop.latency_seconds.exemplar(1).expect("an exemplar");
    assert_eq!(latest.value, 0.3);
}

/// What exemplar support costs: nothing for a `Counter`, which keeps none; for a series
/// that can keep one but never got it, the slot's pointer (and a histogram's native
/// part's), nothing allocated.
#[test]
fn the_memory_a_series_without_exemplars_pays() {
    assert_eq!(std::mem::size_of::<Counter>(), 8);
    assert_eq!(std::mem::size_of::<Counter<f64>>(), 8);
    assert_eq!(std::mem::size_of::<CounterWithExemplar>(), 24);
    assert_eq!(std::mem::size_of::<Histogram>(), 64);
}
