//! What OpenMetrics 1.0 text adds to the Prometheus 0.0.4 text format, which the text
//! encoder (`text.rs`) writes both of: `# UNIT` lines, family names without a counter's
//! `_total`, quotes escaped in `# HELP`, exemplars after samples, and a closing `# EOF`.

use super::Format;
use super::escape::{write_float, write_label};
use crate::exemplar::Exemplar;

impl Format {
    /// Whether `# UNIT` lines are written.
    pub(crate) fn writes_unit(self) -> bool {
        self == Self::OpenMetrics
    }

    /// Whether a counter's `# HELP` and `# TYPE` name it with `_total`, like its sample.
    pub(crate) fn names_counter_family_with_total(self) -> bool {
        self == Self::Prometheus
    }

    /// Whether `"` is escaped in `# HELP` texts.
    pub(crate) fn escapes_quotes_in_help(self) -> bool {
        self == Self::OpenMetrics
    }

    /// Whether samples carry exemplars.
    pub(crate) fn carries_exemplars(self) -> bool {
        self == Self::OpenMetrics
    }

    /// What closes an exposition.
    pub(crate) fn terminator(self) -> &'static str {
        match self {
            Self::Prometheus => "",
            Self::OpenMetrics => "# EOF\n",
        }
    }
}

/// Writes ` # {labels} value timestamp`: an exemplar after an OpenMetrics sample.
pub(super) fn write_exemplar(out: &mut String, exemplar: &Exemplar) {
    out.push_str(" # {");
    for (index, (name, value)) in exemplar.labels.pairs().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_label(out, name, value);
    }
    out.push_str("} ");
    write_float(out, exemplar.value);
    out.push(' ');
    write_float(out, exemplar.timestamp_seconds());
}
