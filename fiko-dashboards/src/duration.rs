//! Prometheus durations (`30s`, `5m`, `1h`) that cannot be malformed.

use std::fmt;

/// A whole number of seconds, written the way Prometheus reads it (`90s`, `5m`, `1h`).
///
/// Built with [`seconds`], [`minutes`] or [`hours`], so a malformed duration such as
/// `"5 min"` is a type error rather than a rule file Prometheus refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PromDuration {
    seconds: u64,
}

impl PromDuration {
    /// The duration in seconds.
    pub const fn as_secs(self) -> u64 {
        self.seconds
    }

    /// Whether the duration is zero.
    pub const fn is_zero(self) -> bool {
        self.seconds == 0
    }
}

/// `n` seconds.
pub const fn seconds(n: u32) -> PromDuration {
    PromDuration { seconds: n as u64 }
}

/// `n` minutes.
pub const fn minutes(n: u32) -> PromDuration {
    PromDuration {
        seconds: n as u64 * 60,
    }
}

/// `n` hours.
pub const fn hours(n: u32) -> PromDuration {
    PromDuration {
        seconds: n as u64 * 3600,
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.seconds;
        if s != 0 && s % 3600 == 0 {
            write!(f, "{}h", s / 3600)
        } else if s != 0 && s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_largest_whole_unit() {
        assert_eq!(seconds(0).to_string(), "0s");
        assert_eq!(seconds(90).to_string(), "90s");
        assert_eq!(seconds(120).to_string(), "2m");
        assert_eq!(minutes(90).to_string(), "90m");
        assert_eq!(minutes(120).to_string(), "2h");
        assert_eq!(hours(1).as_secs(), 3600);
    }
}
