//! Reading a text scrape back: the one parser tests (and [`DriftCheck`](super::DriftCheck))
//! read the Prometheus 0.0.4 text format and OpenMetrics text with.

use std::fmt;

use crate::encoding::{LabelReader, write_escaped_label_value};

/// One sample of a scrape: its name (with any `_total`, `_bucket`, … suffix), its labels
/// in exposition order, unescaped, and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The sample name, e.g. `http_server_requests_total`.
    pub name: String,
    /// The labels, in the order the scrape lists them.
    pub labels: Vec<(String, String)>,
    /// The value (`+Inf`, `-Inf` and `NaN` included).
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Whether the sample has every `(label, value)` pair of `labels` (and maybe more).
    pub fn has_labels(&self, labels: &[(&str, &str)]) -> bool {
        labels
            .iter()
            .all(|(name, value)| self.label(name) == Some(*value))
    }

    /// The series as the encoder writes it: `name{a="x",b="y"}` (values escaped), or
    /// `name` without labels.
    pub fn series(&self) -> String {
        let mut series = self.name.clone();
        for (index, (name, value)) in self.labels.iter().enumerate() {
            series.push(if index == 0 { '{' } else { ',' });
            series.push_str(name);
            series.push_str("=\"");
            write_escaped_label_value(&mut series, value);
            series.push('"');
        }
        if !self.labels.is_empty() {
            series.push('}');
        }
        series
    }
}

/// A line of a scrape that does not read: its number (from 1), what is wrong, the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeError {
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub problem: &'static str,
    /// The line itself.
    pub text: String,
}

impl fmt::Display for ScrapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {:?}", self.line, self.problem, self.text)
    }
}

impl std::error::Error for ScrapeError {}

/// One line of a scrape.
pub(super) enum Line<'t> {
    /// Empty, `# EOF`, or a comment other than the three below.
    Nothing,
    /// `# HELP name text` (text unescaped), `# TYPE name kind`, `# UNIT name unit`.
    Metadata {
        keyword: &'t str,
        name: &'t str,
        value: String,
    },
    /// A sample.
    Sample(Sample),
}

/// Reads one line of a scrape.
pub(super) fn read_line(line: &str) -> Result<Line<'_>, &'static str> {
    let line = line.trim_end_matches('\r');
    if line.trim().is_empty() || line == "# EOF" {
        return Ok(Line::Nothing);
    }
    if let Some(comment) = line.strip_prefix('#') {
        let mut parts = comment.trim_start().splitn(3, ' ');
        let (Some(keyword @ ("HELP" | "TYPE" | "UNIT")), Some(name)) = (parts.next(), parts.next())
        else {
            return Ok(Line::Nothing);
        };
        let value = parts.next().unwrap_or_default();
        let value = if keyword == "HELP" {
            crate::encoding::unescape(value)
        } else {
            value.to_owned()
        };
        return Ok(Line::Metadata {
            keyword,
            name,
            value,
        });
    }
    read_sample(line).map(Line::Sample)
}

/// Reads `name{a="x",b="y"} value [timestamp] [# exemplar]`.
fn read_sample(line: &str) -> Result<Sample, &'static str> {
    let end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..end];
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if !valid_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        return Err("not a valid metric name");
    }
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(list) = rest.strip_prefix('{') {
        let mut reader = LabelReader::new(list);
        let mut value = String::new();
        while let Some(label) = reader.next_label(&mut value)? {
            labels.push((label.to_owned(), value.clone()));
        }
        rest = reader.after_close().ok_or("the label list is not closed")?;
    }
    // An OpenMetrics exemplar follows ` # `; what comes before is the value and maybe a
    // timestamp.
    let before_exemplar = rest.split(" # ").next().unwrap_or_default();
    if !before_exemplar.starts_with([' ', '\t']) {
        return Err("no space before the value");
    }
    let mut words = before_exemplar.split_ascii_whitespace();
    let value = words
        .next()
        .ok_or("no value")?
        .parse::<f64>()
        .map_err(|_| "the value is not a number")?;
    if let Some(timestamp) = words.next() {
        timestamp
            .parse::<f64>()
            .map_err(|_| "the timestamp is not a number")?;
    }
    if words.next().is_some() {
        return Err("more than a value and a timestamp");
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Every sample of a text scrape (Prometheus 0.0.4 or OpenMetrics), in order; the first
/// line that does not read is the error.
///
/// ```
/// use fiko_metrics::testing::{find, samples, sum};
///
/// let scrape = "# TYPE requests_total counter\n\
///               requests_total{route=\"/a\",status=\"ok\"} 3\n\
///               requests_total{route=\"/b\",status=\"ok\"} 4\n";
/// let samples = samples(scrape)?;
/// assert_eq!(sum(&samples, "requests_total", &[("status", "ok")]), 7.0);
/// assert_eq!(find(&samples, "requests_total", &[("route", "/b")])[0].value, 4.0);
/// assert!(fiko_metrics::testing::samples("requests_total{route=\"/a\" 3").is_err());
/// # Ok::<(), fiko_metrics::testing::ScrapeError>(())
/// ```
pub fn samples(scrape: &str) -> Result<Vec<Sample>, ScrapeError> {
    let mut samples = Vec::new();
    for (index, line) in scrape.lines().enumerate() {
        match read_line(line) {
            Ok(Line::Sample(sample)) => samples.push(sample),
            Ok(_) => {}
            Err(problem) => {
                return Err(ScrapeError {
                    line: index + 1,
                    problem,
                    text: line.to_owned(),
                });
            }
        }
    }
    Ok(samples)
}

/// The samples named `name` that have every `(label, value)` pair of `labels`.
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|sample| sample.name == name && sample.has_labels(labels))
        .collect()
}

/// The sum of the values [`find`] returns (0 when there are none).
pub fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels)
        .iter()
        .map(|sample| sample.value)
        .sum()
}

/// The value of the sample written exactly `series` in `scrape` (`name{a="x"}`, labels in
/// exposition order, as [`Sample::series`] writes them); `Ok(None)` when there is none.
///
/// ```
/// use fiko_metrics::testing::series_value;
///
/// let scrape = "jobs_running{task=\"export\"} 2\njobs_up 1\n";
/// assert_eq!(series_value(scrape, r#"jobs_running{task="export"}"#)?, Some(2.0));
/// assert_eq!(series_value(scrape, "jobs_up")?, Some(1.0));
/// assert_eq!(series_value(scrape, "jobs_down")?, None);
/// # Ok::<(), fiko_metrics::testing::ScrapeError>(())
/// ```
pub fn series_value(scrape: &str, series: &str) -> Result<Option<f64>, ScrapeError> {
    Ok(samples(scrape)?
        .iter()
        .find(|sample| sample.series() == series)
        .map(|sample| sample.value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labels_escapes_timestamps_and_exemplars() {
        let scrape = "# HELP requests_total Requests \\\"served\\\".\n\
                      # TYPE requests_total counter\n\
                      requests_total{path=\"/a\\\\b\",note=\"x\\ny\\\"z\"} 3 1700000000000\n\
                      latency_bucket{le=\"+Inf\"} 7 # {trace_id=\"abc\"} 0.5 1.7e9\n\
                      up 1\n\
                      nan NaN\n\
                      # EOF\n";
        let samples = samples(scrape).expect("a valid scrape");
        assert_eq!(samples.len(), 4);
        assert_eq!(samples[0].label("path"), Some("/a\\b"));
        assert_eq!(samples[0].label("note"), Some("x\ny\"z"));
        assert_eq!(samples[0].value, 3.0);
        assert_eq!(
            samples[1].labels,
            vec![("le".to_owned(), "+Inf".to_owned())]
        );
        assert_eq!(samples[1].value, 7.0);
        assert_eq!(samples[2].series(), "up");
        assert!(samples[3].value.is_nan());
        // `series` writes the labels back escaped, as the encoder does.
        assert_eq!(
            samples[0].series(),
            r#"requests_total{path="/a\\b",note="x\ny\"z"}"#
        );
    }

    #[test]
    fn each_malformed_line_is_an_error_naming_the_line_and_the_problem() {
        for (line, problem) in [
            ("requests_total{status=\"ok\" 1", "a label has no `=`"),
            (
                "requests_total{status=\"ok} 1",
                "a label value is not closed",
            ),
            ("requests_total{status=ok} 1", "a label value is not quoted"),
            (
                "requests_total{status=\"ok\"",
                "the label list is not closed",
            ),
            (
                "requests_total{status=\"ok\"}1",
                "no space before the value",
            ),
            ("requests_total", "no space before the value"),
            ("requests_total ", "no value"),
            ("requests_total one", "the value is not a number"),
            ("requests_total 1 soon", "the timestamp is not a number"),
            ("requests_total 1 2 3", "more than a value and a timestamp"),
            ("9requests 1", "not a valid metric name"),
            ("{a=\"b\"} 1", "not a valid metric name"),
        ] {
            let scrape = format!("up 1\n{line}\n");
            assert_eq!(
                samples(&scrape),
                Err(ScrapeError {
                    line: 2,
                    problem,
                    text: line.to_owned(),
                }),
                "{line}"
            );
        }
        let error = samples("up 1\nup{").expect_err("an open label list");
        assert_eq!(
            error.to_string(),
            "line 2: the label list is not closed: \"up{\""
        );
    }

    #[test]
    fn find_sum_and_series_value_pick_samples() {
        let scrape = "requests_total{route=\"/a\",status=\"ok\"} 3\n\
                      requests_total{route=\"/a\",status=\"error\"} 1\n\
                      requests_total{route=\"/b\",status=\"ok\"} 4\n\
                      other_total{route=\"/a\"} 100\n";
        let samples = samples(scrape).expect("a valid scrape");
        assert_eq!(find(&samples, "requests_total", &[]).len(), 3);
        assert_eq!(
            find(&samples, "requests_total", &[("route", "/a")]).len(),
            2
        );
        assert_eq!(sum(&samples, "requests_total", &[("status", "ok")]), 7.0);
        assert_eq!(sum(&samples, "requests_total", &[("route", "/c")]), 0.0);
        assert_eq!(
            series_value(scrape, r#"requests_total{route="/a",status="error"}"#),
            Ok(Some(1.0))
        );
        // Exactly the series: a subset of its labels, or another order, is not it.
        assert_eq!(
            series_value(scrape, r#"requests_total{route="/a"}"#),
            Ok(None)
        );
        assert_eq!(
            series_value(scrape, r#"requests_total{status="ok",route="/a"}"#),
            Ok(None)
        );
        assert!(series_value("up{", "up").is_err());
    }

    #[test]
    fn what_the_encoder_writes_reads_back() {
        use crate::{Counter, Family, Format, LabelSet, MetricSet, Registry};

        #[derive(Clone, Debug, PartialEq, Eq, Hash, LabelSet)]
        struct Path {
            path: String,
        }

        #[derive(MetricSet)]
        struct Hostile {
            /// Requests.
            requests: Family<Path, Counter>,
        }

        let registry = Registry::new();
        let hostile = Hostile::register(&registry).expect("register");
        let paths = ["plain", "quote\"d", "back\\slash", "new\nline", "ünï # {}"];
        for (count, path) in paths.iter().enumerate() {
            let labels = Path {
                path: (*path).to_owned(),
            };
            hostile
                .requests
                .get_or_create(&labels)
                .inc_by(count as u64 + 1);
        }
        for format in [Format::Prometheus, Format::OpenMetrics] {
            let samples = samples(&registry.encode(format)).expect("the encoder's scrape reads");
            for (count, path) in paths.iter().enumerate() {
                assert_eq!(
                    sum(&samples, "requests_total", &[("path", path)]),
                    count as f64 + 1.0,
                    "{format:?} {path:?}"
                );
            }
        }
    }
}
