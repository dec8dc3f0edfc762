//! How an alert's current value reads in its annotations: one of Prometheus' template
//! functions (`humanize`, `humanizePercentage`, ...) and a unit suffix, chosen by the
//! query's unit, plus the same formatting in Rust, so the generator can write the exact
//! text promtool must see.
//!
//! ```
//! use fiko_dashboards::humanize::{Humanize, ValueFormat};
//!
//! let ratio = ValueFormat { function: Humanize::Percentage, suffix: "" };
//! assert_eq!(ratio.template(), "{{ $value | humanizePercentage }}");
//! assert_eq!(ratio.format(0.1234567), "12.35%");
//!
//! let bytes = ValueFormat { function: Humanize::Binary, suffix: "B" };
//! assert_eq!(bytes.format(1_572_864_000.0), "1.465GiB");
//! ```

/// One of Prometheus' number-formatting template functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Humanize {
    /// `humanize`: SI prefixes (`1.5k`, `250m`).
    Plain,
    /// `humanize1024`: binary prefixes (`1.5Gi`).
    Binary,
    /// `humanizeDuration`: seconds as `1h 2m 3s` or `250ms`.
    Duration,
    /// `humanizePercentage`: a ratio as `12.5%`.
    Percentage,
}

impl Humanize {
    /// The template function's name.
    pub const fn function(self) -> &'static str {
        match self {
            Self::Plain => "humanize",
            Self::Binary => "humanize1024",
            Self::Duration => "humanizeDuration",
            Self::Percentage => "humanizePercentage",
        }
    }

    /// What the template function makes of `value` (Prometheus 2.x's `template.go`).
    pub fn format(self, value: f64) -> String {
        match self {
            Self::Plain => plain(value),
            Self::Binary => binary(value),
            Self::Duration => duration(value),
            Self::Percentage => format!("{}%", g4(value * 100.0)),
        }
    }
}

/// How a value of some unit is written: a template function and a suffix after it
/// (`B` after `humanize1024`, `/s` after a rate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueFormat {
    /// The template function.
    pub function: Humanize,
    /// Written right after the function's output.
    pub suffix: &'static str,
}

impl ValueFormat {
    /// The annotation template: `{{ $value | humanizePercentage }}`.
    pub fn template(self) -> String {
        format!(
            "{{{{ $value | {} }}}}{}",
            self.function.function(),
            self.suffix
        )
    }

    /// What Prometheus renders [`template`](Self::template) to for `value`.
    pub fn format(self, value: f64) -> String {
        format!("{}{}", self.function.format(value), self.suffix)
    }
}

fn plain(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return g4(value);
    }
    let (v, prefix) = if value.abs() >= 1.0 {
        scaled(value, 1000.0, &["k", "M", "G", "T", "P", "E", "Z", "Y"])
    } else {
        fraction(value)
    };
    format!("{}{prefix}", g4(v))
}

/// `value` divided by `base` while it is at least `base`, with the prefix of each step.
fn scaled(value: f64, base: f64, prefixes: &[&'static str]) -> (f64, &'static str) {
    let (mut v, mut prefix) = (value, "");
    for p in prefixes {
        if v.abs() < base {
            break;
        }
        prefix = p;
        v /= base;
    }
    (v, prefix)
}

/// A value below 1 multiplied by 1000 until it is not, with the SI prefix of each step.
fn fraction(value: f64) -> (f64, &'static str) {
    let (mut v, mut prefix) = (value, "");
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

fn binary(value: f64) -> String {
    if value.abs() <= 1.0 || !value.is_finite() {
        return g4(value);
    }
    let (v, prefix) = scaled(
        value,
        1024.0,
        &["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
    );
    format!("{}{prefix}", g4(v))
}

fn duration(value: f64) -> String {
    if !value.is_finite() {
        return g4(value);
    }
    if value == 0.0 {
        return format!("{}s", g4(value));
    }
    if value.abs() >= 1.0 {
        let sign = if value < 0.0 { "-" } else { "" };
        let v = value.abs();
        // Whole seconds, as Go's int64 conversion truncates.
        let whole = v as i64;
        let (seconds, minutes) = (whole % 60, (whole / 60) % 60);
        let (hours, days) = ((whole / 3600) % 24, whole / 86_400);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {minutes}m {seconds}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {minutes}m {seconds}s")
        } else if minutes != 0 {
            format!("{sign}{minutes}m {seconds}s")
        } else {
            format!("{sign}{}s", g4(v))
        };
    }
    let (v, prefix) = fraction(value);
    format!("{}{prefix}s", g4(v))
}

/// Go's `fmt.Sprintf("%.4g", value)`: four significant digits, trailing zeros dropped,
/// the exponent form below 1e-4 and from 1e4 on (`1.235e+04`).
fn g4(value: f64) -> String {
    const PRECISION: i32 = 4;
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rounded to four significant digits: `d.ddde±x`.
    let scientific = format!("{:.*e}", (PRECISION - 1) as usize, value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let count = digits.len() as i32;
    let point = exponent + 1;
    let sign = if value < 0.0 { "-" } else { "" };
    let mut shown_exponent = PRECISION;
    if shown_exponent > count && count >= point {
        shown_exponent = count;
    }
    if exponent < -4 || exponent >= shown_exponent {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.abs());
    }
    let mut out = String::from(sign);
    if point > 0 {
        for i in 0..point {
            out.push(
                digits
                    .as_bytes()
                    .get(i as usize)
                    .map_or('0', |&b| b as char),
            );
        }
    } else {
        out.push('0');
    }
    let decimals = (count - point).max(0);
    if decimals > 0 {
        out.push('.');
        for i in 0..decimals {
            let index = point + i;
            let digit = if index >= 0 {
                digits
                    .as_bytes()
                    .get(index as usize)
                    .map_or('0', |&b| b as char)
            } else {
                '0'
            };
            out.push(digit);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_significant_digits_as_go_prints_them() {
        for (value, text) in [
            (0.5, "0.5"),
            (1500.0, "1500"),
            (12.5, "12.5"),
            (100.0, "100"),
            (12345.0, "1.234e+04"),
            (0.0001234, "0.0001234"),
            (0.00001234, "1.234e-05"),
            (-2.5, "-2.5"),
            (1.23456, "1.235"),
            (999.96, "1000"),
            (9999.6, "1e+04"),
        ] {
            assert_eq!(g4(value), text, "{value}");
        }
    }

    #[test]
    fn each_function_as_prometheus_renders_it() {
        assert_eq!(Humanize::Plain.format(1_234_567.0), "1.235M");
        assert_eq!(Humanize::Plain.format(0.25), "250m");
        assert_eq!(Humanize::Plain.format(0.0), "0");
        assert_eq!(Humanize::Binary.format(1_048_576.0), "1Mi");
        assert_eq!(Humanize::Binary.format(0.5), "0.5");
        assert_eq!(Humanize::Duration.format(899.99), "14m 59s");
        assert_eq!(Humanize::Duration.format(90_061.0), "1d 1h 1m 1s");
        assert_eq!(Humanize::Duration.format(2.5), "2.5s");
        assert_eq!(Humanize::Duration.format(0.25), "250ms");
        assert_eq!(Humanize::Percentage.format(0.1234567), "12.35%");
    }
}
