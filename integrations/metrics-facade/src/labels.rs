//! A `metrics::Key`'s labels as the runtime's [`DynamicLabels`].

use std::borrow::Cow;
use std::fmt;

use fiko_metrics::labels::{DynamicLabels, LabelSink, OVERFLOW_VALUE};
use metrics::Label;

use crate::names::label_name;

/// The labels of one facade call, written in a canonical order: sorted by (valid) name,
/// each name once (the first value wins), so `("a", "b")` and `("b", "a")` calls find the
/// same series and the exposition never repeats a label.
pub(crate) struct KeyLabels<'a>(pub(crate) &'a [Label]);

impl KeyLabels<'_> {
    /// Whether the labels can be written as they are: valid names, strictly increasing.
    fn canonical(&self) -> bool {
        self.0
            .iter()
            .all(|label| matches!(label_name(label.key()), Cow::Borrowed(_)))
            && self.0.windows(2).all(|pair| match pair {
                [a, b] => a.key() < b.key(),
                _ => true,
            })
    }
}

impl DynamicLabels for KeyLabels<'_> {
    fn write(&self, overflowed: bool, sink: &mut LabelSink<'_>) -> fmt::Result {
        fn value(label: &Label, overflowed: bool) -> &str {
            if overflowed {
                OVERFLOW_VALUE
            } else {
                label.value()
            }
        }
        // The common case, checked without allocating: few labels, always in one order.
        if self.canonical() {
            for label in self.0 {
                sink(label.key(), value(label, overflowed))?;
            }
            return Ok(());
        }
        let mut sorted: Vec<(Cow<'_, str>, &Label)> = self
            .0
            .iter()
            .map(|label| (label_name(label.key()), label))
            .collect();
        // Stable: among equal names the first one given stays first, and wins.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        sorted.dedup_by(|later, earlier| later.0 == earlier.0);
        for (name, label) in &sorted {
            sink(name, value(label, overflowed))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(labels: &[Label], overflowed: bool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        KeyLabels(labels)
            .write(overflowed, &mut |name, value| {
                out.push((name.to_owned(), value.to_owned()));
                Ok(())
            })
            .expect("writes");
        out
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn labels_are_sorted_made_valid_and_unique() {
        let given = [
            Label::new("route", "/a"),
            Label::new("http.method", "GET"),
            Label::new("le", "x"),
            Label::new("route", "/b"),
        ];
        assert_eq!(
            written(&given, false),
            pairs(&[
                ("exported_le", "x"),
                ("http_method", "GET"),
                ("route", "/a")
            ])
        );
        assert_eq!(
            written(&given, true),
            pairs(&[
                ("exported_le", "other"),
                ("http_method", "other"),
                ("route", "other")
            ])
        );
        let sorted = [Label::new("a", "1"), Label::new("b", "2")];
        assert_eq!(written(&sorted, false), pairs(&[("a", "1"), ("b", "2")]));
    }
}
