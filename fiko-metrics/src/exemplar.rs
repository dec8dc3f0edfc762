//! Exemplars: a small label set (a trace id, a span id) attached to one observation, so a
//! slow bucket in Grafana links to a trace that landed in it.
//!
//! Off by default, and free when off: `inc`, `inc_by` and `observe` never look at
//! exemplars. A counter keeps them only as a
//! [`CounterWithExemplar`](crate::CounterWithExemplar) (a plain [`Counter`](crate::Counter)
//! is one atomic and keeps none), and a histogram declared in a `#[derive(MetricSet)]` only
//! with `#[metric(exemplars)]` (without it, every exemplar call records none and never
//! asks the source). An exemplar is recorded only by the calls that say so:
//! [`CounterWithExemplar::inc_with_exemplar`](crate::CounterWithExemplar::inc_with_exemplar),
//! [`Histogram::observe_with_exemplar`](crate::Histogram::observe_with_exemplar), or their
//! `_with_source` forms, which ask the application's [`set_source`] closure (typically
//! "the current trace id") and record nothing when there is none. `#[timed]`/`#[counted]`,
//! fiko-metrics-axum's HTTP layer, the sqlx and redis wrappers and the jobs layer ask the
//! source as a call, request, query, command or job starts, for their opted-in metrics
//! only. A series keeps the latest
//! exemplar of each classic bucket (one for a counter, one for a native-only histogram),
//! as Prometheus' clients do; its storage is allocated at its first exemplar. Recording
//! never blocks: an exemplar that would wait for a concurrent one is dropped.
//!
//! Exemplars are exposed in OpenMetrics text (`# {trace_id="..."} value timestamp` after
//! the sample) and in protobuf; the Prometheus text format has no exemplars and is
//! unchanged. Generated dashboards show the exemplars of the metrics that record them.
//!
//! ```
//! use fiko_metrics::exemplar::{self, ExemplarLabels};
//! use fiko_metrics::{CounterWithExemplar, Format, MetricSet, Registry};
//!
//! #[derive(MetricSet)]
//! struct Checkout {
//!     /// Orders placed.
//!     orders: CounterWithExemplar,
//! }
//!
//! let registry = Registry::new();
//! let checkout = Checkout::register(&registry)?;
//! let trace = ExemplarLabels::new(&[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")])?;
//! checkout.orders.inc_with_exemplar(&trace);
//! assert!(registry.encode(Format::OpenMetrics)
//!     .contains(r#"orders_total 1 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 1.0 "#));
//! // The Prometheus text format is unchanged.
//! assert!(registry.encode(Format::Prometheus).contains("orders_total 1\n"));
//!
//! // Where the current trace comes from: the application's own closure.
//! exemplar::set_source(|| ExemplarLabels::new(&[("trace_id", "0af7651916cd43dd8448eb211c80319c")]).ok())?;
//! checkout.orders.inc_with_source();
//! assert_eq!(checkout.orders.exemplar().unwrap().labels.pairs().next(),
//!     Some(("trace_id", "0af7651916cd43dd8448eb211c80319c")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The current OpenTelemetry trace
//!
//! The `fiko-metrics-opentelemetry` crate installs a source that reads the current
//! `tracing` span's OpenTelemetry context (`tracing-opentelemetry`); this crate does not
//! depend on OpenTelemetry, whose SDK weighs more than all of fiko-metrics. What it does:
//!
//! ```text
//! use opentelemetry::trace::TraceContextExt;
//! use tracing_opentelemetry::OpenTelemetrySpanExt;
//!
//! fiko_metrics::exemplar::set_source(|| {
//!     let context = tracing::Span::current().context();
//!     let span = context.span();
//!     let span = span.span_context();
//!     if !span.is_sampled() {
//!         return None;
//!     }
//!     let (trace, span) = (span.trace_id().to_bytes(), span.span_id().to_bytes());
//!     Some(fiko_metrics::exemplar::ExemplarLabels::trace(trace, span))
//! })?;
//! ```

use std::fmt;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, TryLockError};
use std::time::SystemTime;

/// OpenMetrics' bound on an exemplar's label names and values together, in characters.
pub const MAX_LABEL_CHARS: usize = 128;

/// The labels of an exemplar: valid names, at most [`MAX_LABEL_CHARS`] characters of
/// names and values together. Cloning shares them (a reference count), so keeping them as
/// a series' exemplar copies no string.
#[derive(Clone, PartialEq, Eq)]
pub struct ExemplarLabels {
    // Every pair as `name=LEN=value`, LEN the value's length in bytes, back to back: one
    // allocation, read back by `pairs` (a name never holds `=`). UTF-8, written from `str`s
    // and ASCII; kept as bytes so that making labels does not check what it wrote.
    text: Arc<[u8]>,
}

impl ExemplarLabels {
    /// Checks and copies `pairs`.
    ///
    /// ```
    /// use fiko_metrics::exemplar::{ExemplarError, ExemplarLabels};
    ///
    /// assert!(ExemplarLabels::new(&[("trace_id", "abc"), ("span_id", "def")]).is_ok());
    /// let long = "x".repeat(121);
    /// assert_eq!(ExemplarLabels::new(&[("trace_id", &long)]), Err(ExemplarError::TooLong { chars: 129 }));
    /// ```
    pub fn new(pairs: &[(&str, &str)]) -> Result<Self, ExemplarError> {
        let mut bytes = 0;
        for (name, value) in pairs {
            if !valid_name(name) {
                return Err(ExemplarError::BadName((*name).to_owned()));
            }
            bytes += name.len() + value.len();
        }
        // A character takes a byte or more: they are counted only when there could be too many.
        if bytes > MAX_LABEL_CHARS {
            let chars = pairs
                .iter()
                .map(|(name, value)| name.chars().count() + value.chars().count())
                .sum();
            if chars > MAX_LABEL_CHARS {
                return Err(ExemplarError::TooLong { chars });
            }
        }
        // Written on the stack when short (a trace and a span id take 71 bytes), on the
        // heap otherwise, and copied once into the shared allocation.
        const SHORT: usize = 128;
        let mut short = [0_u8; SHORT];
        let mut rest = short.as_mut_slice();
        let long;
        let text = if write_text(pairs, &mut rest).is_ok() {
            let written = SHORT - rest.len();
            short.get(..written).unwrap_or_default()
        } else {
            let mut buffer = Vec::with_capacity(bytes + 5 * pairs.len());
            // Writing into a `Vec` cannot fail.
            let _ = write_text(pairs, &mut buffer);
            long = buffer;
            &long
        };
        Ok(Self {
            text: Arc::from(text),
        })
    }

    /// The labels that name a trace, as OpenMetrics' exemplars and W3C Trace Context write
    /// them: `trace_id`, 32 lowercase hex digits, and `span_id`, 16. Nothing to check, so
    /// nothing can fail: what a tracing source calls for every exemplar.
    ///
    /// ```
    /// use fiko_metrics::exemplar::ExemplarLabels;
    ///
    /// let trace_id = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128.to_be_bytes();
    /// let span_id = 0x00f0_67aa_0ba9_02b7_u64.to_be_bytes();
    /// assert_eq!(
    ///     ExemplarLabels::trace(trace_id, span_id),
    ///     ExemplarLabels::new(&[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), ("span_id", "00f067aa0ba902b7")])?,
    /// );
    /// # Ok::<(), fiko_metrics::exemplar::ExemplarError>(())
    /// ```
    pub fn trace(trace_id: [u8; 16], span_id: [u8; 8]) -> Self {
        const TRACE: &[u8] = b"trace_id=32=";
        const SPAN: &[u8] = b"span_id=16=";
        let mut text = [0_u8; TRACE.len() + 32 + SPAN.len() + 16];
        let (trace, span) = text.split_at_mut(TRACE.len() + 32);
        let (trace_name, trace_hex) = trace.split_at_mut(TRACE.len());
        let (span_name, span_hex) = span.split_at_mut(SPAN.len());
        trace_name.copy_from_slice(TRACE);
        span_name.copy_from_slice(SPAN);
        hex(&trace_id, trace_hex);
        hex(&span_id, span_hex);
        Self {
            text: Arc::from(text.as_slice()),
        }
    }

    /// The `(name, value)` pairs, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        // Always UTF-8 (see `text`): the check is the reader's, once per read.
        let mut rest = std::str::from_utf8(&self.text).unwrap_or_default();
        std::iter::from_fn(move || {
            let (name, after) = rest.split_once('=')?;
            let (len, after) = after.split_once('=')?;
            let len = len.parse().ok()?;
            let value = after.get(..len)?;
            rest = after.get(len..)?;
            Some((name, value))
        })
    }
}

impl fmt::Debug for ExemplarLabels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.pairs()).finish()
    }
}

/// Writes `pairs` as an [`ExemplarLabels`]' text: `name=LEN=value` each.
fn write_text(pairs: &[(&str, &str)], out: &mut impl Write) -> std::io::Result<()> {
    let mut digits = itoa::Buffer::new();
    for (name, value) in pairs {
        let len = digits.format(value.len()).as_bytes();
        for part in [name.as_bytes(), b"=", len, b"=", value.as_bytes()] {
            out.write_all(part)?;
        }
    }
    Ok(())
}

/// Writes `bytes` as lowercase hex digits into `out`, two a byte.
fn hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digit = |nibble: u8| {
        DIGITS
            .get(usize::from(nibble & 0xf))
            .copied()
            .unwrap_or(b'0')
    };
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        if let [high, low] = pair {
            (*high, *low) = (digit(byte >> 4), digit(*byte));
        }
    }
}

/// An exemplar label name: a Prometheus name, not reserved (`__`).
fn valid_name(name: &str) -> bool {
    fiko_metrics_naming::metric_name_problem(name).is_none()
}

/// Why an exemplar's labels were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExemplarError {
    /// Names and values together are longer than [`MAX_LABEL_CHARS`].
    TooLong {
        /// Their length, in characters.
        chars: usize,
    },
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*` (or starts with `__`).
    BadName(String),
}

impl fmt::Display for ExemplarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { chars } => write!(
                f,
                "exemplar labels are {chars} characters long; OpenMetrics allows {MAX_LABEL_CHARS}"
            ),
            Self::BadName(name) => write!(f, "`{name}` is not a valid exemplar label name"),
        }
    }
}

impl std::error::Error for ExemplarError {}

/// One recorded exemplar: its labels, the observed value (1 for a counter increment, the
/// amount added otherwise) and when it was recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    /// The labels.
    pub labels: ExemplarLabels,
    /// The value observed or added.
    pub value: f64,
    /// When it was recorded.
    pub timestamp: SystemTime,
}

impl Exemplar {
    /// The timestamp in seconds since the Unix epoch.
    pub fn timestamp_seconds(&self) -> f64 {
        self.timestamp
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64())
    }
}

type Source = Box<dyn Fn() -> Option<ExemplarLabels> + Send + Sync>;

static SOURCE: OnceLock<Source> = OnceLock::new();

/// Installs the process-wide source of exemplar labels that
/// [`Histogram::observe_with_source`](crate::Histogram::observe_with_source) and
/// [`CounterWithExemplar::inc_with_source`](crate::CounterWithExemplar::inc_with_source) read (typically the
/// current trace); once per process, later calls are refused.
pub fn set_source<F>(source: F) -> Result<(), SourceAlreadySet>
where
    F: Fn() -> Option<ExemplarLabels> + Send + Sync + 'static,
{
    SOURCE.set(Box::new(source)).map_err(|_| SourceAlreadySet)
}

/// The labels the installed source gives now, if any.
#[inline]
pub fn from_source() -> Option<ExemplarLabels> {
    SOURCE.get().and_then(|source| source())
}

/// Whether a source is installed: without one, recording with the source costs a load.
#[inline]
pub fn has_source() -> bool {
    SOURCE.get().is_some()
}

/// [`set_source`] was called before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceAlreadySet;

impl fmt::Display for SourceAlreadySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an exemplar source is installed already")
    }
}

impl std::error::Error for SourceAlreadySet {}

/// The latest exemplar of a counter or of one bucket.
#[derive(Debug, Default)]
pub(crate) struct Slot(Mutex<Option<Exemplar>>);

impl Slot {
    /// Keeps `exemplar` unless another thread is storing one right now: recording never
    /// waits.
    pub(crate) fn store(&self, labels: &ExemplarLabels, value: f64) {
        match self.0.try_lock() {
            Ok(mut slot) => {
                *slot = Some(Exemplar {
                    labels: labels.clone(),
                    value,
                    timestamp: SystemTime::now(),
                });
            }
            Err(TryLockError::Poisoned(poisoned)) => {
                *poisoned.into_inner() = Some(Exemplar {
                    labels: labels.clone(),
                    value,
                    timestamp: SystemTime::now(),
                });
            }
            Err(TryLockError::WouldBlock) => {}
        }
    }

    pub(crate) fn get(&self) -> Option<Exemplar> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
