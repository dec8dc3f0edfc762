//! Content negotiation: which exposition an HTTP `Accept` header asks for.

use super::{Exposition, Format};

impl Format {
    /// Picks the format an HTTP `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text`, the Prometheus text format otherwise.
    ///
    /// ```
    /// use fiko_metrics::Format;
    ///
    /// let accept = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5";
    /// assert_eq!(Format::from_accept(accept), Format::OpenMetrics);
    /// assert_eq!(Format::from_accept("*/*"), Format::Prometheus);
    /// ```
    pub fn from_accept(accept: &str) -> Self {
        let wants_openmetrics = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|param| {
                param.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
        if wants_openmetrics {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }
}

impl Exposition {
    /// Picks what an HTTP `Accept` header asks for: protobuf when it names
    /// `application/vnd.google.protobuf` with `proto=io.prometheus.client.MetricFamily` and
    /// `encoding=delimited` at a quality no lower than any text format's (as Prometheus
    /// does with native histograms enabled), otherwise [`Format::from_accept`].
    ///
    /// ```
    /// use fiko_metrics::{Exposition, Format};
    ///
    /// let prometheus = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
    ///     encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,*/*;q=0.1";
    /// assert_eq!(Exposition::from_accept(prometheus), Exposition::Protobuf);
    /// assert_eq!(Exposition::from_accept("*/*"), Exposition::Text(Format::Prometheus));
    /// ```
    pub fn from_accept(accept: &str) -> Self {
        let mut protobuf = 0f32;
        let mut text = 0f32;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let (mut quality, mut proto, mut delimited) = (1f32, false, false);
            for param in parts {
                let Some((name, value)) = param.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match name.trim().to_ascii_lowercase().as_str() {
                    "q" => quality = value.parse().unwrap_or(0.0),
                    "proto" => proto = value == "io.prometheus.client.MetricFamily",
                    "encoding" => delimited = value == "delimited",
                    _ => {}
                }
            }
            if media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
                if proto && delimited {
                    protobuf = protobuf.max(quality);
                }
            } else if media.eq_ignore_ascii_case("application/openmetrics-text")
                || media.eq_ignore_ascii_case("text/plain")
            {
                text = text.max(quality);
            }
        }
        if protobuf > 0.0 && protobuf >= text {
            Self::Protobuf
        } else {
            Self::Text(Format::from_accept(accept))
        }
    }
}
