//! Sorting `sqlx::Error`s into the `kind` and `class` labels.

use sqlx::Error;

use crate::metrics::QueryErrorKind;

/// The SQLSTATE of a deadlock (PostgreSQL's `deadlock_detected`).
pub const DEADLOCK_SQLSTATE: &str = "40P01";

/// SQLSTATE classes (the code's first two characters) as PostgreSQL and MySQL report them.
const SQLSTATE_CLASSES: &[&str] = &[
    "00", "01", "02", "03", "08", "09", "0A", "0B", "0F", "0L", "0P", "0Z", "20", "21", "22", "23",
    "24", "25", "26", "27", "28", "2B", "2D", "2F", "34", "38", "39", "3B", "3D", "3F", "40", "42",
    "44", "53", "54", "55", "57", "58", "72", "F0", "HV", "HY", "P0", "XX",
];

/// SQLite primary result codes (the low byte of an extended code), by number.
const SQLITE_CODES: &[&str] = &[
    "ok",
    "error",
    "internal",
    "perm",
    "abort",
    "busy",
    "locked",
    "nomem",
    "readonly",
    "interrupt",
    "ioerr",
    "corrupt",
    "notfound",
    "full",
    "cantopen",
    "protocol",
    "empty",
    "schema",
    "toobig",
    "constraint",
    "mismatch",
    "misuse",
    "nolfs",
    "auth",
    "format",
    "range",
    "notadb",
];

/// The class of a code no table knows.
const UNKNOWN_CLASS: &str = "unknown";

/// How a failed query is labelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    /// The `kind` label.
    pub kind: QueryErrorKind,
    /// The `class` label: the SQLSTATE class or SQLite result code name of a database
    /// error, empty otherwise.
    pub class: &'static str,
    /// Whether the database reported a deadlock.
    pub deadlock: bool,
}

/// Sorts an error into its labels, without allocating (except what the driver does to
/// produce a SQLite code's text).
///
/// ```
/// use fiko_metrics_sqlx::{QueryErrorKind, classify};
///
/// let timeout = classify(&sqlx::Error::PoolTimedOut);
/// assert_eq!((timeout.kind, timeout.class), (QueryErrorKind::PoolTimeout, ""));
/// ```
pub fn classify(error: &Error) -> Classified {
    let kind = match error {
        Error::Database(database) => {
            let code = database.code();
            let code = code.as_deref().unwrap_or("");
            return Classified {
                kind: QueryErrorKind::Database,
                class: code_class(code),
                deadlock: code == DEADLOCK_SQLSTATE,
            };
        }
        Error::PoolTimedOut => QueryErrorKind::PoolTimeout,
        Error::PoolClosed => QueryErrorKind::PoolClosed,
        // The pool's query timeout (`PoolConfig::query_timeout`) and any other I/O wait
        // that gave up: the server did not answer, which is not the same as a broken link.
        Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => QueryErrorKind::Timeout,
        Error::Io(_) => QueryErrorKind::Io,
        Error::Tls(_) => QueryErrorKind::Tls,
        Error::Protocol(_) => QueryErrorKind::Protocol,
        _ => QueryErrorKind::Other,
    };
    Classified {
        kind,
        class: "",
        deadlock: false,
    }
}

/// The class of a database error code: a SQLSTATE's first two characters, or the name of
/// a numeric SQLite code's primary result code.
pub fn code_class(code: &str) -> &'static str {
    if let Ok(number) = code.parse::<u32>()
        && code.len() != 5
    {
        return SQLITE_CODES
            .get((number & 0xff) as usize)
            .copied()
            .unwrap_or(UNKNOWN_CLASS);
    }
    match code.get(..2) {
        Some(prefix) if code.len() == 5 => SQLSTATE_CLASSES
            .iter()
            .find(|class| class.eq_ignore_ascii_case(prefix))
            .copied()
            .unwrap_or(UNKNOWN_CLASS),
        _ => UNKNOWN_CLASS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstate_classes() {
        assert_eq!(code_class("40P01"), "40");
        assert_eq!(code_class("23505"), "23");
        assert_eq!(code_class("42601"), "42");
        assert_eq!(code_class("57014"), "57");
        assert_eq!(code_class("0A000"), "0A");
        assert_eq!(code_class("99999"), UNKNOWN_CLASS);
        assert_eq!(code_class(""), UNKNOWN_CLASS);
    }

    #[test]
    fn sqlite_codes() {
        // SQLITE_CONSTRAINT_UNIQUE = 2067 = 19 | (8 << 8)
        assert_eq!(code_class("2067"), "constraint");
        assert_eq!(code_class("1"), "error");
        assert_eq!(code_class("5"), "busy");
        assert_eq!(code_class("4"), "abort");
        assert_eq!(code_class("517"), "busy"); // SQLITE_BUSY_SNAPSHOT
        assert_eq!(code_class("200"), UNKNOWN_CLASS);
    }

    #[test]
    fn non_database_errors_have_no_class() {
        let io = classify(&Error::Io(std::io::Error::other("reset")));
        assert_eq!(
            io,
            Classified {
                kind: QueryErrorKind::Io,
                class: "",
                deadlock: false
            }
        );
        assert_eq!(
            classify(&Error::PoolClosed).kind,
            QueryErrorKind::PoolClosed
        );
        assert_eq!(
            classify(&Error::Protocol("x".into())).kind,
            QueryErrorKind::Protocol
        );
        assert_eq!(classify(&Error::RowNotFound).kind, QueryErrorKind::Other);
        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer");
        assert_eq!(
            classify(&Error::Io(timed_out)).kind,
            QueryErrorKind::Timeout
        );
    }
}
