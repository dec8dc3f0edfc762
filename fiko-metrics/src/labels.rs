//! Label values and label sets.
//!
//! A label is *closed* when its type is an enum deriving [`LabelValue`]:
//! every value is known at compile time, and a family whose labels are all closed keeps its
//! series in a dense array (no hashing, no lock, no allocation when recording). Strings and
//! numbers are *open* labels; their series live in a map bounded by the metric's series
//! limit, past which values fold into one overflow series whose open labels read
//! [`OVERFLOW_VALUE`].
//!
//! A closed label set is *dense* by default: a scrape shows every combination, at zero
//! until recorded. Declared `#[label_set(sparse)]`, it shows only the combinations that
//! were recorded, still through the dense array (see [`LabelSet::SPARSE`]).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::descriptor::LabelDescriptor;

/// The value open labels take in the overflow series of a family that hit its limit.
pub const OVERFLOW_VALUE: &str = "other";

/// Families whose closed label sets have more combinations than this keep their series in
/// a map, like open ones, so a wide enum product cannot allocate a huge array.
pub const MAX_DENSE_SERIES: usize = 4096;

/// Receives one label as a name and an unescaped value.
pub type LabelSink<'a> = dyn FnMut(&str, &str) -> fmt::Result + 'a;

/// The type of one label: a closed enum (`#[derive(LabelValue)]`, `bool`) or an open value
/// (`String`, `&'static str`, `Arc<str>`, `Cow<'static, str>`, integers).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a label value",
    label = "not a label value",
    note = "use an enum with `#[derive(LabelValue)]`, `bool`, a string type or an integer"
)]
pub trait LabelValue: Send + Sync + 'static {
    /// Every value, in index order, when the type is closed; `None` when it is open.
    const VALUES: Option<&'static [&'static str]>;

    /// The position of `self` in [`VALUES`](Self::VALUES); only meaningful for closed types.
    fn index(&self) -> usize;

    /// Calls `f` with the value's text.
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R;

    /// Writes the label `name` with this value to `sink`, as [`LabelSet::write`] does for
    /// each label: with `overflowed`, an open value reads [`OVERFLOW_VALUE`]. What
    /// `#[derive(LabelSet)]` calls, so the code is compiled once per value type rather
    /// than once per label of every label set.
    #[doc(hidden)]
    #[inline]
    fn write_label(&self, name: &str, overflowed: bool, sink: &mut LabelSink<'_>) -> fmt::Result {
        if overflowed && Self::VALUES.is_none() {
            sink(name, OVERFLOW_VALUE)
        } else {
            self.with_str(|value| sink(name, value))
        }
    }
}

/// A struct of labels (`#[derive(LabelSet)]`), the `L` of [`Family<L, M>`](crate::Family).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a label set",
    label = "not a label set",
    note = "derive it: `#[derive(LabelSet)] struct Labels {{ method: Method, route: String }}`"
)]
pub trait LabelSet: Send + Sync + 'static {
    /// The labels, in exposition order.
    const LABELS: &'static [LabelDescriptor];

    /// The number of series when every label is closed and there are at most
    /// [`MAX_DENSE_SERIES`] of them; `None` otherwise.
    const DENSE: Option<usize>;

    /// Whether a scrape shows only the closed combinations that were recorded (or looked
    /// up), `#[label_set(sparse)]`, rather than every one from the first scrape (the
    /// default). Either way closed labels record through the dense array, with no lock
    /// and no hashing; open labels are always shown only once recorded.
    const SPARSE: bool = false;

    /// The series' position in the dense array (only called when `DENSE` is `Some`).
    fn dense_index(&self) -> usize;

    /// Writes the labels of the series at dense position `index`.
    fn write_dense(index: usize, sink: &mut LabelSink<'_>) -> fmt::Result;

    /// Writes the labels; with `overflowed`, open labels read [`OVERFLOW_VALUE`].
    fn write(&self, overflowed: bool, sink: &mut LabelSink<'_>) -> fmt::Result;
}

impl LabelValue for bool {
    const VALUES: Option<&'static [&'static str]> = Some(&["false", "true"]);

    fn index(&self) -> usize {
        usize::from(*self)
    }

    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(if *self { "true" } else { "false" })
    }
}

macro_rules! open_str_label {
    ($($ty:ty),*) => {$(
        impl LabelValue for $ty {
            const VALUES: Option<&'static [&'static str]> = None;

            fn index(&self) -> usize {
                0
            }

            fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
                f(self)
            }
        }
    )*};
}
open_str_label!(String, &'static str, Arc<str>, Box<str>, Cow<'static, str>);

macro_rules! open_int_label {
    ($($ty:ty),*) => {$(
        impl LabelValue for $ty {
            const VALUES: Option<&'static [&'static str]> = None;

            fn index(&self) -> usize {
                0
            }

            fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
                f(itoa::Buffer::new().format(*self))
            }
        }
    )*};
}
open_int_label!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// The number of values of a closed label type (`VALUES`'s length), 0 for an open one: in a
/// const, the size of an array with one slot per value, indexed by
/// [`LabelValue::index`].
///
/// ```
/// use fiko_metrics::LabelValue;
/// use fiko_metrics::labels::closed_len;
///
/// #[derive(LabelValue)]
/// enum Tier { Free, Pro }
///
/// const TIERS: usize = closed_len::<Tier>();
/// let per_tier: [u64; TIERS] = [0; TIERS];
/// assert_eq!((per_tier.len(), closed_len::<String>()), (2, 0));
/// ```
pub const fn closed_len<T: LabelValue>() -> usize {
    match T::VALUES {
        Some(values) => values.len(),
        None => 0,
    }
}

/// Labels whose names are only known at run time, written one by one: what a bridge from
/// another metrics API (the `metrics` facade) hands to
/// [`Family::dynamic_series_id`](crate::Family::dynamic_series_id).
pub trait DynamicLabels {
    /// Calls `sink` once per label, in a fixed order; with `overflowed`, every value reads
    /// [`OVERFLOW_VALUE`].
    fn write(&self, overflowed: bool, sink: &mut LabelSink<'_>) -> fmt::Result;
}

/// The label set of a family whose labels are given at run time
/// (`Family<Dynamic, M>`, see [`DynamicLabels`]). As a typed label set it has no labels.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dynamic;

impl LabelSet for Dynamic {
    const LABELS: &'static [LabelDescriptor] = &[];
    const DENSE: Option<usize> = None;

    fn dense_index(&self) -> usize {
        0
    }

    fn write_dense(_: usize, _: &mut LabelSink<'_>) -> fmt::Result {
        Ok(())
    }

    fn write(&self, _: bool, _: &mut LabelSink<'_>) -> fmt::Result {
        Ok(())
    }
}

/// Whether `name` is a valid Prometheus label name that fiko lets users declare (the rule
/// `#[derive(LabelSet)]` applies at compile time).
pub fn is_valid_label_name(name: &str) -> bool {
    fiko_metrics_naming::label_name_problem(name).is_none()
}

/// Const helpers for the label derives.
#[doc(hidden)]
pub mod derive_support {
    use std::fmt;

    use super::{LabelDescriptor, LabelSink, MAX_DENSE_SERIES};

    /// The product of the lengths when every label is closed and small enough to be dense.
    pub const fn dense_cardinality(lens: &[usize]) -> Option<usize> {
        let mut product: usize = 1;
        let mut rest = lens;
        while let [len, tail @ ..] = rest {
            product = match product.checked_mul(*len) {
                Some(p) if p > 0 && p <= MAX_DENSE_SERIES => p,
                _ => return None,
            };
            rest = tail;
        }
        Some(product)
    }

    /// [`LabelSet::write_dense`](super::LabelSet::write_dense) of a derived label set,
    /// read from its descriptors (every label closed): the labels of the series at dense
    /// position `index`, where the last label varies fastest.
    pub fn write_dense(
        labels: &[LabelDescriptor],
        index: usize,
        sink: &mut LabelSink<'_>,
    ) -> fmt::Result {
        let len = |label: &LabelDescriptor| label.values.map_or(0, <[&str]>::len).max(1);
        // How many series each value of the current label spans.
        let mut stride = labels
            .iter()
            .fold(1_usize, |product, label| product.saturating_mul(len(label)));
        for label in labels {
            let values = label.values.unwrap_or(&[]);
            let len = len(label);
            stride = (stride / len).max(1);
            let at = (index / stride) % len;
            sink(label.name, values.get(at).copied().unwrap_or(""))?;
        }
        Ok(())
    }

    /// One step of a dense index: `index * len + value`, or `usize::MAX` (no dense series)
    /// when a hand-written `LabelValue` reports a value outside its `VALUES`.
    #[inline(always)]
    pub const fn dense_step(index: usize, len: usize, value: usize) -> usize {
        if value >= len {
            return usize::MAX;
        }
        match index.checked_mul(len) {
            Some(scaled) => match scaled.checked_add(value) {
                Some(next) => next,
                None => usize::MAX,
            },
            None => usize::MAX,
        }
    }
}
