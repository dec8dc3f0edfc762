//! Reference: the grammar of every attribute, with an example per key.
//!
//! | attribute | goes on | keys |
//! |---|---|---|
//! | [`#[metric_set(...)]`](#metric_set) | a `#[derive(MetricSet)]` struct | `namespace`, `subsystem`, `external`, `crate` |
//! | [`#[metric(...)]`](#metric) | a field of that struct | `name`, `unit`, `buckets`, `native`, `exemplars`, `max_series`, `expire_after`, `calls`, `durations`, `in_flight` |
//! | [`#[label_set(...)]`](#label_set) | a `#[derive(LabelSet)]` struct | `sparse`, `crate` |
//! | [`#[label(...)]`](#label) | a field of that struct | `rename` |
//! | [`#[label_value(...)]`](#label_value) | a `#[derive(LabelValue)]` enum | `rename_all`, `error_kind`, `crate` |
//! |  | a variant of that enum | `rename` |
//! | [`#[timed(...)]`](#timed) | a function, sync or async, free or in an `impl` | `metrics`, `in_flight`, `errors`, `name`, `crate` |
//! | [`#[counted(...)]`](#counted) | the same | `metrics`, `in_flight`, `errors`, `name`, `crate` |
//!
//! Rules shared by all of them:
//!
//! - Keys are separated by commas: `#[metric(unit = "bytes", max_series = 200)]`. An
//!   attribute may also be split over several lines, `#[metric(calls)] #[metric(buckets = ...)]`.
//! - A key is `key = value` or a bare flag (`external`, `calls`, `in_flight`, ...). Names,
//!   units and label values are string literals; `crate` is a path (also accepted as a string,
//!   `crate = "my::path"`).
//! - Each key may be given once; a duplicate is an error ("duplicate metric attribute
//!   `unit`"). An unknown key is an error that lists the valid ones ("unknown metric
//!   attribute `units`; expected one of `name`, `unit`, ...").
//! - Every mistake is a compile error pointing at the offending token, and every mistake of
//!   one item is reported in the same build.
//!
//! This page is checked against the derive crate's own key lists: a key the macros accept
//! but this page does not show fails the test suite.
//!
//! # `#[metric_set(...)]`
//!
//! On the struct that derives [`MetricSet`](crate::MetricSet). Every field is one metric; its
//! doc comment is the metric's HELP text (required).
//!
//! | key | value | default | effect |
//! |---|---|---|---|
//! | `namespace` | `"word"` | none | first part of every metric name: `namespace_` |
//! | `subsystem` | `"word"` | none | second part: `namespace_subsystem_` |
//! | `external` | flag | off | the set declares another program's metrics (an exporter's) |
//! | `crate` | path | `::fiko_metrics` | where the runtime is, when it is renamed or re-exported |
//!
//! `namespace = "..."` and `subsystem = "..."`: each a valid metric name part (ASCII letters,
//! digits and `_`, not starting with a digit or `__`).
//!
//! ```
//! use fiko_metrics::{Counter, MetricSet};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "shop", subsystem = "checkout")]
//! struct CheckoutMetrics {
//!     /// Checkouts started.
//!     started: Counter,
//! }
//!
//! assert_eq!(CheckoutMetrics::STARTED.descriptor.name, "shop_checkout_started");
//!
//! // Either part alone is fine too.
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "shop")]
//! struct ShopMetrics {
//!     /// Orders placed.
//!     orders: Counter,
//! }
//! assert_eq!(ShopMetrics::ORDERS.descriptor.name, "shop_orders");
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::{Counter, MetricSet};
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "my-shop")] // error: invalid metric namespace `my-shop`
//! struct ShopMetrics {
//!     /// Orders placed.
//!     orders: Counter,
//! }
//! ```
//!
//! `external`: the metrics belong to another program, so dashboards and alerts can name
//! them by declaration. Names are taken exactly as that program exposes them (a counter's
//! name keeps its `_total`, nothing is added at exposition, the naming rules are not
//! applied), the unit is read from a base-unit suffix, and the set is never recorded here.
//!
//! ```
//! use fiko_metrics::{Counter, Gauge, MetricSet};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "redis", external)]
//! struct RedisExporter {
//!     /// memory_used_bytes metric
//!     memory_used_bytes: Gauge,
//!     /// rejected_connections_total metric
//!     rejected_connections_total: Counter,
//! }
//!
//! let rejected = RedisExporter::REJECTED_CONNECTIONS_TOTAL.descriptor;
//! assert_eq!(rejected.sample_name(), "redis_rejected_connections_total");
//! assert_eq!(RedisExporter::MEMORY_USED_BYTES.descriptor.unit, Some("bytes"));
//! ```
//!
//! `crate = path`: the path the generated code uses for this crate, for a crate that
//! reaches fiko-metrics under another name (a re-export from a company-wide telemetry
//! crate, a renamed dependency). The same key exists on every attribute below.
//!
//! ```
//! # extern crate fiko_metrics as _; // (keeps rustdoc from adding a private `extern crate`)
//! mod telemetry {
//!     pub use fiko_metrics as metrics;
//! }
//! use telemetry::metrics::{Counter, MetricSet};
//!
//! #[derive(MetricSet)]
//! #[metric_set(crate = telemetry::metrics, namespace = "shop")]
//! struct ShopMetrics {
//!     /// Orders placed.
//!     orders: Counter,
//! }
//! # fn main() {
//! assert_eq!(ShopMetrics::ORDERS.descriptor.name, "shop_orders");
//! # }
//! ```
//!
//! # `#[metric(...)]`
//!
//! On a field of a metric set. A field is a `Counter`, `Gauge`, `Histogram` or a
//! `Family<Labels, Counter | Gauge | Histogram>`; its name is the metric's name (after the
//! set's prefix). Counters never end in `_total` (it is added at exposition), histograms never
//! in `_bucket`, `_count` or `_sum`, and a name never ends in a non-base unit
//! (`_milliseconds`: use seconds).
//!
//! | key | value | default | effect |
//! |---|---|---|---|
//! | `name` | `"word"` | the field's name | the metric's name (the set's prefix is still added) |
//! | `unit` | `"word"` | read from a base-unit suffix | the unit; appended to the name unless the name already is the unit |
//! | `buckets` | `[b1, b2, ...]`, `exponential(start, factor, count)` or `linear(start, width, count)` | [`DEFAULT_BUCKETS`](crate::histogram::DEFAULT_BUCKETS) | a histogram's bucket upper bounds (`+Inf` is added) |
//! | `native` | flag, or `native(schema = s, zero_threshold = z, max_buckets = n, max_zero_threshold = m, min_reset_seconds = r)` | off | a native (sparse exponential) histogram; with `buckets`, classic buckets too |
//! | `exemplars` | flag | off | the metric records exemplars (trace ids) and dashboards show them on its panels; without it, it records none and never asks the exemplar source |
//! | `max_series` | integer ≥ 1 | 1000 | how many series open labels may create before values fold into `other` |
//! | `expire_after` | `"15m"`, `"90s"`, `"1h30m"` | never | open-label series not written for that long leave the scrape and free their place under `max_series` |
//! | `calls` | flag | off | the field `#[timed]`/`#[counted]` count calls into |
//! | `durations` | flag | off | the field `#[timed]` records call durations into |
//! | `in_flight` | flag | off | the field `#[timed(in_flight)]` tracks running calls in |
//!
//! `name = "..."`: expose the metric under another name than the field's, e.g. when the
//! field name reads better in code.
//!
//! ```
//! use fiko_metrics::{Counter, MetricSet};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "shop")]
//! struct ShopMetrics {
//!     /// Orders placed.
//!     #[metric(name = "orders_placed")]
//!     orders: Counter,
//! }
//!
//! assert_eq!(ShopMetrics::ORDERS.descriptor.name, "shop_orders_placed");
//! ```
//!
//! `unit = "..."`: a base unit (`seconds`, `bytes`, `ratio`, `celsius`, `meters`, `grams`,
//! `joules`, `volts`, `amperes`) or a lowercase word of your own (`tokens`, `cents`). The
//! unit becomes the name's suffix, once: a name that already ends in it is an error, a name
//! that *is* the unit (`tokens`) is left as it is. Without `unit`, a name ending in a base
//! unit (`duration_seconds`) has that unit. Dashboards and alerts read the unit through the
//! type of the metric's constant (`Declared<_, _, unit::Seconds>`).
//!
//! ```
//! use fiko_metrics::{Counter, Gauge, MetricSet};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "ai")]
//! struct AiMetrics {
//!     /// Tokens consumed.
//!     #[metric(unit = "tokens")]
//!     tokens: Counter,
//!     /// Prompt size.
//!     #[metric(unit = "bytes")]
//!     prompt_size: Gauge,
//!     /// Time since the last model call (unit read from the name).
//!     idle_seconds: Gauge,
//! }
//!
//! assert_eq!(AiMetrics::TOKENS.descriptor.name, "ai_tokens");
//! assert_eq!(AiMetrics::PROMPT_SIZE.descriptor.name, "ai_prompt_size_bytes");
//! assert_eq!(AiMetrics::IDLE_SECONDS.descriptor.unit, Some("seconds"));
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::{Histogram, MetricSet};
//! #[derive(MetricSet)]
//! struct AiMetrics {
//!     /// Model latency.
//!     #[metric(unit = "milliseconds")] // error: not a base unit: use `seconds`
//!     latency: Histogram,
//! }
//! ```
//!
//! `buckets = ...`: only on histograms (or families of them). A list of finite, strictly
//! increasing number literals, or a generator: `exponential(start > 0, factor > 1, count
//! 1..=64)` gives `start, start·factor, ...`, `linear(start, width > 0, count 1..=256)` gives
//! `start, start + width, ...`.
//!
//! ```
//! use fiko_metrics::{Histogram, MetricSet};
//!
//! #[derive(MetricSet)]
//! struct Latencies {
//!     /// Checkout latency.
//!     #[metric(buckets = [0.1, 0.5, 1.0, 2.5])]
//!     checkout_seconds: Histogram,
//!     /// Query latency.
//!     #[metric(buckets = exponential(0.001, 2, 4))]
//!     query_seconds: Histogram,
//!     /// Batch size.
//!     #[metric(buckets = linear(10, 10, 3))]
//!     batch_size: Histogram,
//! }
//!
//! assert_eq!(Latencies::CHECKOUT_SECONDS.descriptor.buckets, [0.1, 0.5, 1.0, 2.5]);
//! assert_eq!(Latencies::QUERY_SECONDS.descriptor.buckets, [0.001, 0.002, 0.004, 0.008]);
//! assert_eq!(Latencies::BATCH_SIZE.descriptor.buckets, [10.0, 20.0, 30.0]);
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::{Histogram, MetricSet};
//! #[derive(MetricSet)]
//! struct Latencies {
//!     /// Checkout latency.
//!     #[metric(buckets = [0.5, 0.1])] // error: bucket bounds must be strictly increasing
//!     checkout_seconds: Histogram,
//! }
//! ```
//!
//! `native`: only on histograms. The histogram also (or only) keeps Prometheus' native
//! buckets: each power of two cut into `2^schema` buckets, created as values arrive,
//! exposed through the protobuf format when the scraper asks for it (Prometheus started
//! with `--enable-feature=native-histograms`). Without `buckets` it has no classic buckets
//! (the text formats show its `+Inf` bucket, `_sum` and `_count`); with `buckets` it has
//! both, for a migration and for stores that read only classic buckets. `native(...)`
//! takes, each optional: `schema` (whole number from -4 to 8, default 3: buckets about 9%
//! wide), `zero_threshold` (finite, ≥ 0, default 2^-128: values this close to zero are
//! counted in the zero bucket), `max_buckets` (≥ 1, default 160: past it the schema is
//! lowered, merging neighbouring buckets, as Prometheus' Go client does),
//! `max_zero_threshold` (finite, ≥ 0, default 0: how far the zero bucket may widen to
//! stay within `max_buckets` before the schema is lowered) and `min_reset_seconds` (whole
//! seconds, default 0 = never: past `max_buckets`, the histogram starts over if its last
//! reset is at least this old, and a reset restores the schema and zero bucket this long
//! after the last one once they were given up). See
//! [`NativeConfig`](crate::histogram::NativeConfig).
//!
//! Stores without native histograms (VictoriaMetrics 1.79, Prometheus without the
//! feature) scrape the text format: a native-and-classic histogram gives them its classic
//! buckets, so quantiles work there as for any classic histogram (set the generator's
//! `Settings::native_histograms` to false and its queries read them); a native-only one
//! gives them only `_count`, `_sum` and the `+Inf` bucket: rates and averages, no
//! quantiles (the generator refuses a quantile of it for such a store). Declare `buckets`
//! beside `native` for those stores.
//!
//! ```
//! use fiko_metrics::{Histogram, MetricSet};
//!
//! #[derive(MetricSet)]
//! struct Latencies {
//!     /// Checkout latency, native buckets only.
//!     #[metric(native)]
//!     checkout_seconds: Histogram,
//!     /// Query latency, finer native buckets.
//!     #[metric(native(schema = 5, zero_threshold = 1e-9, max_buckets = 300))]
//!     query_seconds: Histogram,
//!     /// Upload size, native and classic buckets (migrating).
//!     #[metric(native, buckets = [1024, 1048576])]
//!     upload_size_bytes: Histogram,
//!     /// Job duration: at most 100 buckets, by a zero bucket up to 1 ms wide, then a
//!     /// coarser schema, and a reset at most once an hour.
//!     #[metric(native(max_buckets = 100, max_zero_threshold = 0.001, min_reset_seconds = 3600))]
//!     job_seconds: Histogram,
//! }
//!
//! let checkout = Latencies::CHECKOUT_SECONDS.descriptor;
//! assert_eq!((checkout.native.map(|n| n.schema()), checkout.buckets), (Some(3), &[][..]));
//! let query = Latencies::QUERY_SECONDS.descriptor.native.unwrap();
//! assert_eq!((query.schema(), query.zero_threshold(), query.max_buckets()), (5, 1e-9, 300));
//! assert_eq!(Latencies::UPLOAD_SIZE_BYTES.descriptor.buckets, [1024.0, 1048576.0]);
//! let job = Latencies::JOB_SECONDS.descriptor.native.unwrap();
//! assert_eq!((job.max_zero_threshold(), job.min_reset_duration().as_secs()), (0.001, 3600));
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::{Histogram, MetricSet};
//! #[derive(MetricSet)]
//! struct Latencies {
//!     /// Checkout latency.
//!     #[metric(native(schema = 9))] // error: `schema` must be a whole number from -4 to 8
//!     checkout_seconds: Histogram,
//! }
//! ```
//!
//! `exemplars`: only on histograms (and counters, see below). Opts the histogram in to
//! exemplars (recorded with `observe_with_exemplar` or `observe_with_source`, and by
//! `#[timed]` and the integrations' wrappers when an exemplar source is installed; see
//! [`exemplar`](crate::exemplar)), and generated dashboards turn exemplars on in its
//! panels. **Off by default**: a histogram declared without it records no exemplar,
//! whatever call is made, and never asks the source (`records_exemplars()` is `false`).
//!
//! A counter opts in by its type: a [`CounterWithExemplar`](crate::CounterWithExemplar)
//! (or a `Family` of them) records exemplars, with or without the key, and a plain
//! [`Counter`](crate::Counter), 8 bytes, keeps none; `exemplars` on a `Counter` is a
//! compile error that names the type to declare. Metrics made outside a declaration
//! (`Histogram::default()`, `Family::new`) record the exemplars they are given.
//!
//! ```
//! use fiko_metrics::{Counter, CounterWithExemplar, Histogram, MetricSet};
//!
//! #[derive(MetricSet)]
//! struct Checkout {
//!     /// Checkout latency, with the trace of a recent request per bucket.
//!     #[metric(exemplars, buckets = [0.1, 0.5, 1.0])]
//!     latency_seconds: Histogram,
//!     /// Payments failed, with the trace of the latest.
//!     payment_failures: CounterWithExemplar,
//!     /// Orders, without exemplars (the default).
//!     orders: Counter,
//! }
//!
//! assert!(Checkout::LATENCY_SECONDS.descriptor.exemplars);
//! assert!(Checkout::PAYMENT_FAILURES.descriptor.exemplars);
//! assert!(!Checkout::ORDERS.descriptor.exemplars);
//!
//! #[derive(MetricSet)]
//! struct Plain {
//!     /// Search latency, without exemplars (the default).
//!     #[metric(buckets = [0.1, 0.5, 1.0])]
//!     search_seconds: Histogram,
//! }
//! let registry = fiko_metrics::Registry::new();
//! let plain = Plain::register(&registry)?;
//! assert!(!plain.search_seconds.records_exemplars());
//! let trace = fiko_metrics::exemplar::ExemplarLabels::new(&[("trace_id", "abc")])?;
//! plain.search_seconds.observe_with_exemplar(0.2, &trace);
//! assert!(plain.search_seconds.exemplar(1).is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::{Counter, MetricSet};
//! #[derive(MetricSet)]
//! struct Checkout {
//!     /// Orders.
//!     #[metric(exemplars)] // error: a `Counter` keeps no exemplars: declare `orders` as a `CounterWithExemplar`
//!     orders: Counter,
//! }
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::{Gauge, MetricSet};
//! #[derive(MetricSet)]
//! struct Pool {
//!     /// Open connections.
//!     #[metric(exemplars)] // error: `exemplars` apply to counters and histograms
//!     connections: Gauge,
//! }
//! ```
//!
//! `max_series = N`: only on families. Closed labels (enums) have a fixed number of series;
//! open ones (strings, numbers) may create at most `N` series, after which new values are
//! recorded in one series whose open labels read `other`, and each fold is counted in
//! [`fiko_metrics_label_overflow_total`](crate::OVERFLOW_METRIC).
//!
//! ```
//! use fiko_metrics::{Counter, Family, Format, LabelSet, MetricSet, Registry};
//!
//! #[derive(LabelSet)]
//! struct Tenant { tenant: String }
//!
//! #[derive(MetricSet)]
//! struct TenantMetrics {
//!     /// Requests, by tenant.
//!     #[metric(max_series = 2)]
//!     requests: Family<Tenant, Counter>,
//! }
//!
//! let registry = Registry::new();
//! let metrics = TenantMetrics::register(&registry)?;
//! for tenant in ["a", "b", "c", "d"] {
//!     metrics.requests.get_or_create(&Tenant { tenant: tenant.into() }).inc();
//! }
//! let text = registry.encode(Format::Prometheus);
//! assert!(text.contains(r#"requests_total{tenant="a"} 1"#));
//! assert!(text.contains(r#"requests_total{tenant="other"} 2"#));
//! # Ok::<(), fiko_metrics::RegistryError>(())
//! ```
//!
//! `expire_after = "duration"`: only on families with at least one open label. A series of
//! open labels that no scrape has found written for the duration leaves the scrape and its
//! place under `max_series` goes to new values; written again, it comes back (a counter
//! from zero) and nothing it recorded is lost (the rules:
//! [Series lifecycle](crate::family#series-lifecycle)). The duration is written as
//! Prometheus writes them: whole numbers with units `ms`, `s`, `m`, `h`, `d`, `w`, largest
//! first (`"1h30m"`). A bad duration, `expire_after` on a metric without labels, or on a
//! family whose labels are all closed (its series never expire) is a compile error.
//!
//! ```
//! use fiko_metrics::{Counter, Family, LabelSet, MetricSet};
//! use std::time::Duration;
//!
//! #[derive(LabelSet)]
//! struct Tenant { tenant: String }
//!
//! #[derive(MetricSet)]
//! struct TenantMetrics {
//!     /// Requests, by tenant; a tenant idle for 15 minutes leaves the scrape.
//!     #[metric(expire_after = "15m")]
//!     requests: Family<Tenant, Counter>,
//! }
//!
//! let metrics = TenantMetrics::new();
//! assert_eq!(metrics.requests.expires_after(), Some(Duration::from_secs(900)));
//! ```
//!
//! ```compile_fail
//! use fiko_metrics::{Counter, Family, LabelSet, MetricSet};
//!
//! #[derive(LabelSet)]
//! struct Tenant { tenant: String }
//!
//! #[derive(MetricSet)]
//! struct TenantMetrics {
//!     /// Requests, by tenant.
//!     #[metric(expire_after = "15 minutes")] // error: write it as "15m"
//!     requests: Family<Tenant, Counter>,
//! }
//! ```
//!
//! `calls`, `durations`, `in_flight`: mark the fields a set receives `#[timed]` and
//! `#[counted]` calls in (see [`calls`](crate::calls)). `calls` is a
//! `Family<CallLabels, Counter>`, `durations` a `Family<FunctionLabels, Histogram>`,
//! `in_flight` a `Family<FunctionLabels, Gauge>`; each at most once per set.
//!
//! ```
//! use fiko_metrics::calls::{CallLabels, FunctionLabels};
//! use fiko_metrics::{Counter, Family, Gauge, Histogram, MetricSet};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "jobs")]
//! struct JobCalls {
//!     /// Job runs, by function and outcome.
//!     #[metric(calls)]
//!     runs: Family<CallLabels, Counter>,
//!     /// Job run time.
//!     #[metric(durations, buckets = [0.1, 1.0, 10.0])]
//!     run_duration_seconds: Family<FunctionLabels, Histogram>,
//!     /// Jobs running now.
//!     #[metric(in_flight)]
//!     running: Family<FunctionLabels, Gauge>,
//! }
//!
//! #[fiko_metrics::timed(metrics = JobCalls::global(), in_flight)]
//! fn send_digest() {}
//!
//! send_digest();
//! let labels = FunctionLabels::of("send_digest", module_path!());
//! assert_eq!(JobCalls::global().run_duration_seconds.get_or_create(&labels).count(), 1);
//! assert_eq!(JobCalls::global().running.get_or_create(&labels).get(), 0);
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::calls::FunctionLabels;
//! # use fiko_metrics::{Family, Gauge, MetricSet};
//! #[derive(MetricSet)]
//! struct JobCalls {
//!     /// Job runs.
//!     #[metric(calls)] // error: the `calls` field must be a `Family<_, Counter>`
//!     runs: Family<FunctionLabels, Gauge>,
//! }
//! ```
//!
//! # `#[label_set(...)]`
//!
//! On the struct that derives [`LabelSet`](crate::LabelSet): each field is one label, its
//! type an enum deriving [`LabelValue`](crate::LabelValue), `bool`, a string type or an
//! integer. Label names are the field names; `le`, `quantile` and `__`-prefixed names are
//! reserved.
//!
//! | key | value | default | effect |
//! |---|---|---|---|
//! | `sparse` | flag | dense | a scrape shows only the closed combinations recorded so far |
//! | `crate` | path | `::fiko_metrics` | where the runtime is (see `#[metric_set(crate = ...)]`) |
//!
//! When every label is closed, a family keeps one series per combination in an array and
//! records by index: no lock, no hashing. By default (*dense*) a scrape shows every
//! combination from the first one, at zero until recorded, so dashboards and `rate()` see a
//! series before its first event. With `sparse`, a scrape shows a combination only once it
//! was recorded (or looked up with [`Family::series_id`](crate::Family::series_id)), still
//! through the array: for a wide closed set, like a client's hundred command names, of
//! which an application uses a handful. Open labels (strings, numbers) are always shown
//! only once recorded, so `sparse` changes nothing for them.
//!
//! ```
//! use fiko_metrics::{Counter, Family, LabelSet, LabelValue};
//!
//! #[derive(LabelValue)]
//! enum Command { Get, Set, Del, Other }
//!
//! #[derive(LabelSet)]
//! #[label_set(sparse)]
//! struct CommandLabels { command: Command }
//!
//! let commands = Family::<CommandLabels, Counter>::default();
//! commands.get_or_create(&CommandLabels { command: Command::Get }).inc();
//! assert_eq!(commands.len(), 1); // `get` only; a dense set would show all four
//! ```
//!
//! ```
//! # extern crate fiko_metrics as _; // (keeps rustdoc from adding a private `extern crate`)
//! mod telemetry {
//!     pub use fiko_metrics as metrics;
//! }
//!
//! #[derive(telemetry::metrics::LabelSet)]
//! #[label_set(crate = telemetry::metrics)]
//! struct Tenant { tenant: String }
//! # fn main() {
//! use telemetry::metrics::LabelSet;
//! assert_eq!(Tenant::LABELS[0].name, "tenant");
//! # }
//! ```
//!
//! # `#[label(...)]`
//!
//! On a field of a label set.
//!
//! | key | value | default | effect |
//! |---|---|---|---|
//! | `rename` | `"label_name"` | the field's name | the label's name |
//!
//! `rename = "..."`: a label named differently from the field, e.g. a reserved word or a
//! name that must match another program's label.
//!
//! ```
//! use fiko_metrics::{LabelSet, LabelValue};
//!
//! #[derive(LabelValue)]
//! enum Kind { Prompt, Completion }
//!
//! #[derive(LabelSet)]
//! struct TokenLabels {
//!     #[label(rename = "type")]
//!     kind: Kind,
//! }
//!
//! assert_eq!(TokenLabels::LABELS[0].name, "type");
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::LabelSet;
//! #[derive(LabelSet)]
//! struct Bucket {
//!     #[label(rename = "le")] // error: invalid label name `le`: it is reserved
//!     bound: String,
//! }
//! ```
//!
//! # `#[label_value(...)]`
//!
//! On an enum of unit variants that derives [`LabelValue`](crate::LabelValue): a closed
//! label, whose variants are every value it can take. On the enum:
//!
//! | key | value | default | effect |
//! |---|---|---|---|
//! | `rename_all` | one of the rules below | `"snake_case"` | how variant names become values |
//! | `error_kind` | flag | off | also implement [`ErrorKind`](crate::calls::ErrorKind): the enum is what an `errors = ...` classifier returns |
//! | `crate` | path | `::fiko_metrics` | where the runtime is (see `#[metric_set(crate = ...)]`) |
//!
//! On a variant:
//!
//! | key | value | default | effect |
//! |---|---|---|---|
//! | `rename` | `"value"` (not empty) | the `rename_all` rule's | this variant's value |
//!
//! `rename_all = "..."`, for a variant `ClaudeSonnet`:
//!
//! | rule | value |
//! |---|---|
//! | `"snake_case"` (the default) | `claude_sonnet` |
//! | `"kebab-case"` | `claude-sonnet` |
//! | `"lowercase"` | `claudesonnet` |
//! | `"UPPERCASE"` | `CLAUDESONNET` |
//! | `"SCREAMING_SNAKE_CASE"` | `CLAUDE_SONNET` |
//! | `"camelCase"` | `claudeSonnet` |
//! | `"PascalCase"` | `ClaudeSonnet` |
//!
//! ```
//! use fiko_metrics::LabelValue;
//!
//! #[derive(LabelValue)]
//! enum Default { ClaudeSonnet }
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "snake_case")]
//! enum Snake { ClaudeSonnet }
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "kebab-case")]
//! enum Kebab { ClaudeSonnet }
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "lowercase")]
//! enum Lower { ClaudeSonnet }
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "UPPERCASE")]
//! enum Upper { ClaudeSonnet }
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "SCREAMING_SNAKE_CASE")]
//! enum Screaming { ClaudeSonnet }
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "camelCase")]
//! enum Camel { ClaudeSonnet }
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "PascalCase")]
//! enum Pascal { ClaudeSonnet }
//!
//! assert_eq!(Default::VALUES, Some(&["claude_sonnet"][..]));
//! assert_eq!(Snake::VALUES, Some(&["claude_sonnet"][..]));
//! assert_eq!(Kebab::VALUES, Some(&["claude-sonnet"][..]));
//! assert_eq!(Lower::VALUES, Some(&["claudesonnet"][..]));
//! assert_eq!(Upper::VALUES, Some(&["CLAUDESONNET"][..]));
//! assert_eq!(Screaming::VALUES, Some(&["CLAUDE_SONNET"][..]));
//! assert_eq!(Camel::VALUES, Some(&["claudeSonnet"][..]));
//! assert_eq!(Pascal::VALUES, Some(&["ClaudeSonnet"][..]));
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::LabelValue;
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "Title Case")] // error: unknown rename rule, lists the rules
//! enum Model { ClaudeSonnet }
//! ```
//!
//! `error_kind`: the enum is also an error kind, the `error` label of calls counted by
//! [`#[timed(errors = ...)]`](#timed) and [`#[counted]`](#counted), each variant under its
//! label value. Without it the enum is a label value only.
//!
//! ```
//! use fiko_metrics::calls::ErrorKind;
//! use fiko_metrics::LabelValue;
//!
//! #[derive(LabelValue)]
//! #[label_value(error_kind, rename_all = "kebab-case")]
//! enum DbError { PoolTimeout, Constraint }
//!
//! assert_eq!(DbError::PoolTimeout.error_kind(), Some("pool-timeout"));
//! assert_eq!(Some(DbError::Constraint).error_kind(), Some("constraint"));
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::LabelValue;
//! #[derive(LabelValue)]
//! enum DbError { PoolTimeout }
//!
//! fn classify(_: &std::io::Error) -> DbError { DbError::PoolTimeout }
//!
//! #[fiko_metrics::timed(errors = classify)] // error: `DbError` is not an error kind
//! fn query() -> Result<(), std::io::Error> { Ok(()) }
//! ```
//!
//! `rename = "..."` on a variant: a value no rule gives (`gpt-4o`, a vendor's own
//! spelling). Two variants never share a value.
//!
//! ```
//! use fiko_metrics::LabelValue;
//!
//! #[derive(LabelValue)]
//! #[label_value(rename_all = "kebab-case")]
//! enum Model {
//!     #[label_value(rename = "gpt-4o")]
//!     Gpt4o,
//!     ClaudeSonnet,
//! }
//!
//! assert_eq!(Model::VALUES, Some(&["gpt-4o", "claude-sonnet"][..]));
//! ```
//!
//! ```compile_fail
//! # use fiko_metrics::LabelValue;
//! #[derive(LabelValue)]
//! enum Model {
//!     #[label_value(rename = "claude_sonnet")] // error: label value `claude_sonnet` is used twice
//!     Claude,
//!     ClaudeSonnet,
//! }
//! ```
//!
//! `crate = path`, as on `#[metric_set]`:
//!
//! ```
//! # extern crate fiko_metrics as _; // (keeps rustdoc from adding a private `extern crate`)
//! mod telemetry {
//!     pub use fiko_metrics as metrics;
//! }
//!
//! #[derive(telemetry::metrics::LabelValue)]
//! #[label_value(crate = telemetry::metrics)]
//! enum Plan { Free, Pro }
//! # fn main() {
//! use telemetry::metrics::LabelValue;
//! assert_eq!(Plan::VALUES, Some(&["free", "pro"][..]));
//! # }
//! ```
//!
//! # `#[timed(...)]`
//!
//! [`timed`](crate::timed) on a function, sync or async, free or in an `impl` block: counts
//! calls by outcome (`ok`, `error` for an `Err`, `panic`, `cancelled` for a dropped future)
//! and records their duration. By default into [`FunctionMetrics`](crate::calls::FunctionMetrics)
//! (`function_calls_total`, `function_calls_duration_seconds`,
//! `function_calls_in_flight`), labelled by function and module.
//!
//! | key | value | default | effect |
//! |---|---|---|---|
//! | `metrics` | expression | `FunctionMetrics::global()` | the set to record into; it lives for the whole program and has `calls` and `durations` fields (and `in_flight` for that flag) |
//! | `in_flight` | flag | off | also track calls running now |
//! | `errors` | path or expression | every `Err` is an error, with no kind | a classifier `fn(&E) -> K` that names the error kind (`K`: `&'static str`, a `LabelValue` enum, or an `Option` of either, `None` meaning "not an error") |
//! | `name` | `"function"` (not empty) | the function's name | the `function` label |
//! | `crate` | path | `::fiko_metrics` | where the runtime is |
//!
//! `metrics = ...`: a set marked up as in [`#[metric(calls)]`](#metric) above, e.g.
//! `MySet::global()` or a `static`.
//!
//! ```
//! use fiko_metrics::calls::{CallLabels, FunctionLabels};
//! use fiko_metrics::{Counter, Family, Histogram, MetricSet};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "billing")]
//! struct BillingCalls {
//!     /// Billing calls, by function and outcome.
//!     #[metric(calls)]
//!     calls: Family<CallLabels, Counter>,
//!     /// Billing call time.
//!     #[metric(durations)]
//!     call_duration_seconds: Family<FunctionLabels, Histogram>,
//! }
//!
//! #[fiko_metrics::timed(metrics = BillingCalls::global())]
//! fn charge(cents: u64) -> u64 { cents }
//!
//! charge(500);
//! let labels = FunctionLabels::of("charge", module_path!());
//! assert_eq!(BillingCalls::global().call_duration_seconds.get_or_create(&labels).count(), 1);
//! ```
//!
//! `in_flight`: also count the calls running now, in the set's `in_flight` field (the
//! default set has one). A panic or a dropped future still brings it back down.
//!
//! ```
//! use fiko_metrics::calls::{FunctionLabels, FunctionMetrics};
//! use fiko_metrics::MetricSet;
//!
//! fn running() -> i64 {
//!     let labels = FunctionLabels::of("fetch_profile", module_path!());
//!     FunctionMetrics::global().function_calls_in_flight.get_or_create(&labels).get()
//! }
//!
//! #[fiko_metrics::timed(in_flight)]
//! fn fetch_profile(id: u64) -> Result<String, std::io::Error> {
//!     assert_eq!(running(), 1);
//!     Ok(format!("user {id}"))
//! }
//!
//! fetch_profile(7)?;
//! assert_eq!(running(), 0);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! `errors = classifier`: which `Err`s count as errors, and of what kind (the `error`
//! label).
//!
//! ```
//! use fiko_metrics::calls::{CallLabels, FunctionMetrics, Outcome};
//! use fiko_metrics::{LabelValue, MetricSet};
//!
//! enum PayError { Declined, NotFound }
//!
//! #[derive(LabelValue)]
//! #[label_value(error_kind)]
//! enum PayErrorKind { Declined }
//!
//! fn classify(error: &PayError) -> Option<PayErrorKind> {
//!     match error {
//!         PayError::Declined => Some(PayErrorKind::Declined),
//!         PayError::NotFound => None, // an answer, not a failure
//!     }
//! }
//!
//! #[fiko_metrics::timed(errors = classify)]
//! fn pay(found: bool) -> Result<(), PayError> {
//!     if found { Err(PayError::Declined) } else { Err(PayError::NotFound) }
//! }
//!
//! let _ = pay(true);
//! let _ = pay(false);
//! let calls = &FunctionMetrics::global().function_calls;
//! let count = |outcome, error| calls.get_or_create(&CallLabels {
//!     function: "pay", module: module_path!(), outcome, error,
//! }).get();
//! assert_eq!(count(Outcome::Error, "declined"), 1);
//! assert_eq!(count(Outcome::Ok, ""), 1);
//! ```
//!
//! `name = "..."`: the `function` label, instead of the function's own name (e.g. to
//! keep a series when the function is renamed).
//!
//! ```
//! use fiko_metrics::calls::{FunctionLabels, FunctionMetrics};
//! use fiko_metrics::MetricSet;
//!
//! #[fiko_metrics::timed(name = "checkout")]
//! fn place_order_v2() {}
//!
//! place_order_v2();
//! let labels = FunctionLabels::of("checkout", module_path!());
//! assert_eq!(FunctionMetrics::global().function_calls_duration_seconds.get_or_create(&labels).count(), 1);
//! ```
//!
//! `crate = path`, as on `#[metric_set]`:
//!
//! ```
//! # extern crate fiko_metrics as _; // (keeps rustdoc from adding a private `extern crate`)
//! mod telemetry {
//!     pub use fiko_metrics as metrics;
//! }
//!
//! #[telemetry::metrics::timed(crate = telemetry::metrics)]
//! fn rebuild_index() {}
//! # fn main() { rebuild_index(); }
//! ```
//!
//! ```compile_fail
//! #[fiko_metrics::timed(inflight)] // error: unknown timed attribute `inflight`; expected one of ...
//! fn rebuild_index() {}
//! ```
//!
//! # `#[counted(...)]`
//!
//! [`counted`](crate::counted): `#[timed]` without the duration. The same keys; a set named
//! with `metrics` needs only a `calls` field (and `in_flight` for that flag).
//!
//! | key | value | default | effect |
//! |---|---|---|---|
//! | `metrics` | expression | `FunctionMetrics::global()` | the set to record into; it has a `calls` field |
//! | `in_flight` | flag | off | also track calls running now |
//! | `errors` | path or expression | every `Err` is an error, with no kind | the error classifier, as for `#[timed]` |
//! | `name` | `"function"` (not empty) | the function's name | the `function` label |
//! | `crate` | path | `::fiko_metrics` | where the runtime is |
//!
//! ```
//! use fiko_metrics::calls::{CallLabels, FunctionLabels, Outcome};
//! use fiko_metrics::{Counter, Family, Gauge, MetricSet};
//!
//! #[derive(MetricSet)]
//! #[metric_set(namespace = "auth")]
//! struct AuthCalls {
//!     /// Logins, by outcome.
//!     #[metric(calls)]
//!     logins: Family<CallLabels, Counter>,
//!     /// Logins running now.
//!     #[metric(in_flight)]
//!     logins_running: Family<FunctionLabels, Gauge>,
//! }
//!
//! fn kind(_: &String) -> &'static str { "bad_password" }
//!
//! #[fiko_metrics::counted(metrics = AuthCalls::global())]
//! fn log_out() {}
//!
//! #[fiko_metrics::counted(metrics = AuthCalls::global(), in_flight)]
//! fn refresh() {}
//!
//! #[fiko_metrics::counted(metrics = AuthCalls::global(), errors = kind)]
//! fn check_password(ok: bool) -> Result<(), String> {
//!     if ok { Ok(()) } else { Err("no".into()) }
//! }
//!
//! #[fiko_metrics::counted(metrics = AuthCalls::global(), name = "login")]
//! fn log_in() {}
//!
//! # extern crate fiko_metrics as _; // (keeps rustdoc from adding a private `extern crate`)
//! mod telemetry {
//!     pub use fiko_metrics as metrics;
//! }
//! #[telemetry::metrics::counted(crate = telemetry::metrics)]
//! fn ping() {}
//!
//! # fn main() {
//! log_out();
//! refresh();
//! let _ = check_password(false);
//! log_in();
//! ping();
//! let count = |function, outcome, error| AuthCalls::global().logins.get_or_create(&CallLabels {
//!     function, module: module_path!(), outcome, error,
//! }).get();
//! assert_eq!(count("log_out", Outcome::Ok, ""), 1);
//! assert_eq!(count("refresh", Outcome::Ok, ""), 1);
//! assert_eq!(count("check_password", Outcome::Error, "bad_password"), 1);
//! assert_eq!(count("login", Outcome::Ok, ""), 1);
//! # }
//! ```
