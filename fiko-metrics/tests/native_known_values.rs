//! Native histogram buckets against known values: the scenarios of Prometheus' Go client
//! (`client_golang`, `prometheus/histogram_test.go`, `TestNativeHistogram`), whose expected
//! protobuf messages were written by hand from the bucket definitions. The same
//! observations, recorded here with the same schema, zero threshold and bucket bound,
//! must give the same schema, zero bucket, spans and deltas, byte for byte of the message.

// The helpers fail the test by panicking (they are not `#[test]` fns: rust-clippy#13981).
#![allow(clippy::indexing_slicing)]

use fiko_metrics::encoding::prost::Message;
use fiko_metrics::encoding::proto::{self, MetricFamily};
use fiko_metrics::histogram::{DEFAULT_ZERO_THRESHOLD, NativeConfig};
use fiko_metrics::{Histogram, MetricSet, Registry};

#[derive(MetricSet)]
struct Scenarios {
    /// Go client: "factor 1.1 results in schema 3".
    #[metric(native(schema = 3))]
    schema_3: Histogram,
    /// Go client: "factor 1.2 results in schema 2".
    #[metric(native(schema = 2))]
    schema_2: Histogram,
    /// Go client: "factor 4 results in schema -1".
    #[metric(native(schema = -1))]
    schema_minus_1: Histogram,
    /// Go client: "factor 17 results in schema -2".
    #[metric(native(schema = -2))]
    schema_minus_2: Histogram,
    /// Go client: "negative buckets".
    #[metric(native(schema = 2))]
    negative: Histogram,
    /// Go client: "negative and positive buckets".
    #[metric(native(schema = 2))]
    both_signs: Histogram,
    /// Go client: "wide zero bucket".
    #[metric(native(schema = 2, zero_threshold = 1.4))]
    wide_zero: Histogram,
    /// Go client: "NaN observation".
    #[metric(native(schema = 2))]
    nan: Histogram,
    /// Go client: "limited buckets but nothing triggered".
    #[metric(native(schema = 2, max_buckets = 4))]
    limited_untriggered: Histogram,
    /// Go client: "buckets limited by halving resolution".
    #[metric(native(schema = 2, max_buckets = 4))]
    halved: Histogram,
    /// Go client: "buckets limited by halving resolution, negative observations".
    #[metric(native(schema = 2, max_buckets = 4))]
    halved_negative: Histogram,
}

/// What the Go client writes for one scenario.
struct Want {
    count: u64,
    schema: i32,
    zero_threshold: f64,
    zero_count: u64,
    positive: &'static [(i32, u32)],
    positive_delta: &'static [i64],
    negative: &'static [(i32, u32)],
    negative_delta: &'static [i64],
}

const GO_ZERO: f64 = 2.938_735_877_055_719e-39;

fn scenarios(set: &Scenarios) -> Vec<(&'static str, &Histogram, Vec<f64>, Want)> {
    let spread = vec![0.5, 1.0, 1.5, 2.0, 3.0, 3.5, 5.0, 6.0, 7.0, 33.33];
    let small = vec![0.0, 1.0, 1.2, 1.4, 1.8, 2.0];
    let halving = vec![0.0, 1.0, 1.1, 1.2, 1.4, 1.8, 2.0, 3.0];
    let negate = |values: &[f64]| values.iter().map(|v| -v).collect::<Vec<f64>>();
    let mut both = negate(&small);
    both.extend(&small[1..]);
    let mut with_nan = small.clone();
    with_nan.push(f64::NAN);
    vec![
        (
            "schema_3",
            &set.schema_3,
            vec![0.0, 1.0, 2.0, 3.0],
            Want {
                count: 4,
                schema: 3,
                zero_threshold: GO_ZERO,
                zero_count: 1,
                positive: &[(0, 1), (7, 1), (4, 1)],
                positive_delta: &[1, 0, 0],
                negative: &[],
                negative_delta: &[],
            },
        ),
        (
            "schema_2",
            &set.schema_2,
            small.clone(),
            Want {
                count: 6,
                schema: 2,
                zero_threshold: GO_ZERO,
                zero_count: 1,
                positive: &[(0, 5)],
                positive_delta: &[1, -1, 2, -2, 2],
                negative: &[],
                negative_delta: &[],
            },
        ),
        (
            "schema_minus_1",
            &set.schema_minus_1,
            spread.clone(),
            Want {
                count: 10,
                schema: -1,
                zero_threshold: GO_ZERO,
                zero_count: 0,
                positive: &[(0, 4)],
                positive_delta: &[2, 2, -1, -2],
                negative: &[],
                negative_delta: &[],
            },
        ),
        (
            "schema_minus_2",
            &set.schema_minus_2,
            spread,
            Want {
                count: 10,
                schema: -2,
                zero_threshold: GO_ZERO,
                zero_count: 0,
                positive: &[(0, 3)],
                positive_delta: &[2, 5, -6],
                negative: &[],
                negative_delta: &[],
            },
        ),
        (
            "negative",
            &set.negative,
            negate(&small),
            Want {
                count: 6,
                schema: 2,
                zero_threshold: GO_ZERO,
                zero_count: 1,
                positive: &[],
                positive_delta: &[],
                negative: &[(0, 5)],
                negative_delta: &[1, -1, 2, -2, 2],
            },
        ),
        (
            "both_signs",
            &set.both_signs,
            both.clone(),
            Want {
                count: 11,
                schema: 2,
                zero_threshold: GO_ZERO,
                zero_count: 1,
                positive: &[(0, 5)],
                positive_delta: &[1, -1, 2, -2, 2],
                negative: &[(0, 5)],
                negative_delta: &[1, -1, 2, -2, 2],
            },
        ),
        (
            "wide_zero",
            &set.wide_zero,
            both,
            Want {
                count: 11,
                schema: 2,
                zero_threshold: 1.4,
                zero_count: 7,
                positive: &[(4, 1)],
                positive_delta: &[2],
                negative: &[(4, 1)],
                negative_delta: &[2],
            },
        ),
        (
            "nan",
            &set.nan,
            with_nan,
            Want {
                count: 7,
                schema: 2,
                zero_threshold: GO_ZERO,
                zero_count: 1,
                positive: &[(0, 5)],
                positive_delta: &[1, -1, 2, -2, 2],
                negative: &[],
                negative_delta: &[],
            },
        ),
        (
            "limited_untriggered",
            &set.limited_untriggered,
            small,
            Want {
                count: 6,
                schema: 2,
                zero_threshold: GO_ZERO,
                zero_count: 1,
                positive: &[(0, 5)],
                positive_delta: &[1, -1, 2, -2, 2],
                negative: &[],
                negative_delta: &[],
            },
        ),
        (
            "halved",
            &set.halved,
            halving.clone(),
            Want {
                count: 8,
                schema: 1,
                zero_threshold: GO_ZERO,
                zero_count: 1,
                positive: &[(0, 5)],
                positive_delta: &[1, 2, -1, -2, 1],
                negative: &[],
                negative_delta: &[],
            },
        ),
        (
            "halved_negative",
            &set.halved_negative,
            negate(&halving),
            Want {
                count: 8,
                schema: 1,
                zero_threshold: GO_ZERO,
                zero_count: 1,
                positive: &[],
                positive_delta: &[],
                negative: &[(0, 5)],
                negative_delta: &[1, 2, -1, -2, 1],
            },
        ),
    ]
}

fn spans(spans: &[(i32, u32)]) -> Vec<proto::BucketSpan> {
    spans
        .iter()
        .map(|&(offset, length)| proto::BucketSpan {
            offset: Some(offset),
            length: Some(length),
        })
        .collect()
}

#[test]
fn the_go_clients_scenarios_give_its_buckets() {
    assert_eq!(DEFAULT_ZERO_THRESHOLD, GO_ZERO);
    let registry = Registry::new();
    let set = Scenarios::register(&registry).expect("register");
    let scenarios = scenarios(&set);
    for (_, histogram, observations, _) in &scenarios {
        for value in observations {
            histogram.observe(*value);
        }
    }
    let bytes = registry.encode_protobuf();
    let mut rest = &bytes[..];
    let mut families = Vec::new();
    while !rest.is_empty() {
        families.push(MetricFamily::decode_length_delimited(&mut rest).expect("delimited"));
    }
    assert_eq!(families.len(), scenarios.len());
    for (name, _, observations, want) in &scenarios {
        let family = families
            .iter()
            .find(|family| family.name() == *name)
            .unwrap_or_else(|| panic!("no family {name}"));
        let got = family.metric[0].histogram.as_ref().expect("a histogram");
        let sum: f64 = observations.iter().sum();
        let expected = proto::Histogram {
            sample_count: Some(want.count),
            sample_sum: Some(sum),
            schema: Some(want.schema),
            zero_threshold: Some(want.zero_threshold),
            zero_count: Some(want.zero_count),
            positive_span: spans(want.positive),
            positive_delta: want.positive_delta.to_vec(),
            negative_span: spans(want.negative),
            negative_delta: want.negative_delta.to_vec(),
            ..Default::default()
        };
        if sum.is_nan() {
            assert!(
                got.sample_sum().is_nan(),
                "{name}: sum {}",
                got.sample_sum()
            );
            let got = proto::Histogram {
                sample_sum: None,
                ..got.clone()
            };
            let expected = proto::Histogram {
                sample_sum: None,
                ..expected
            };
            assert_eq!(got, expected, "{name}");
        } else {
            assert_eq!(*got, expected, "{name}");
        }
    }
}

/// Bucket keys of single values against the bounds the Go client lists for schema 3
/// (`nativeHistogramBounds[3]`, each `2^(i/8) / 2`): a value equal to a bound closes that
/// bucket, a value just above it opens the next one; and the powers of two for the
/// schemas at or below zero, where a bucket spans `2^(2^-schema)`.
/// The next float above a positive finite `value`.
fn next_up(value: f64) -> f64 {
    f64::from_bits(value.to_bits() + 1)
}

#[test]
fn single_values_land_in_the_go_clients_buckets() {
    const SCHEMA_3_BOUNDS: [f64; 8] = [
        0.5,
        0.545_253_866_332_628_8,
        0.594_603_557_501_360_5,
        0.648_419_777_325_504_8,
        0.707_106_781_186_547_5,
        0.771_105_412_703_970_4,
        0.840_896_415_253_714_4,
        0.917_004_043_204_671_1,
    ];
    let key = |value: f64, schema: i32| {
        let histogram = Histogram::native(NativeConfig::new(schema, 0.0, 160).expect("config"));
        histogram.observe(value);
        let snapshot = histogram.native_snapshot().expect("native");
        let side = if value > 0.0 {
            snapshot.positive
        } else {
            snapshot.negative
        };
        assert_eq!(side.len(), 1, "{value} at schema {schema}: {side:?}");
        side[0].0
    };
    for (i, bound) in SCHEMA_3_BOUNDS.iter().enumerate() {
        // `bound` is `2^((i - 8) / 8)`: the upper bound of bucket i - 8.
        let k = i32::try_from(i).expect("small") - 8;
        assert_eq!(key(*bound, 3), k, "{bound}");
        // Just above it (by 10^-12 relative: the Go client's literals and the correctly
        // rounded `2^(i/8) / 2` may differ in the last bit, as for `2^(-1/2)`).
        assert_eq!(key(bound * (1.0 + 1e-12), 3), k + 1, "just above {bound}");
        // One power of two up, and negative: the same within-octave position.
        assert_eq!(key(bound * 2.0, 3), k + 8, "{}", bound * 2.0);
        assert_eq!(key(-bound * 1024.0, 3), k + 80, "{}", -bound * 1024.0);
    }
    // Schema 0: (2^(k-1), 2^k]. Schema -1: (4^(k-1), 4^k]. Schema -4: (65536^(k-1), 65536^k].
    for (value, schema, k) in [
        (1.0, 0, 0),
        (next_up(1.0), 0, 1),
        (2.0, 0, 1),
        (0.75, 0, 0),
        (1.0, -1, 0),
        (4.0, -1, 1),
        (next_up(4.0), -1, 2),
        (0.25, -1, -1),
        (65536.0, -4, 1),
        (65537.0, -4, 2),
        (1e-300, 0, -996),
        (f64::MAX, 8, 262_144),
        (f64::MIN_POSITIVE, 0, -1022),
        (5e-324, 0, -1074),
    ] {
        assert_eq!(key(value, schema), k, "{value} at schema {schema}");
    }
}
