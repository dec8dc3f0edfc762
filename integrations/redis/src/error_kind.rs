//! The `kind` label of failed commands.

use fiko_metrics::LabelValue;
use redis::{RedisError, ServerError, ServerErrorKind};

/// Why a Redis command failed, as the `kind` label of `fiko_redis_errors_total`.
///
/// ```
/// use fiko_metrics_redis::ErrorKind;
///
/// let refused = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
/// assert_eq!(ErrorKind::of(&refused), ErrorKind::Io);
/// ```
#[derive(LabelValue, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The connection failed: refused, reset, dropped, not connected.
    Io,
    /// No answer within the connection's response timeout.
    Timeout,
    /// The caller dropped the command's future before it finished (e.g. its own timeout).
    Cancelled,
    /// A generic server error reply (`ERR ...`: syntax, wrong arguments, ...).
    Response,
    /// `WRONGTYPE`: the key holds another type.
    WrongType,
    /// `OOM`: Redis reached `maxmemory` and refused a write.
    Oom,
    /// `NOSCRIPT`: `EVALSHA` of an unknown script.
    NoScript,
    /// `LOADING`: Redis is loading its dataset.
    Loading,
    /// `READONLY`: a write sent to a replica.
    ReadOnly,
    /// `EXECABORT`: a transaction was discarded.
    ExecAbort,
    /// Authentication or permission errors (`NOAUTH`, `WRONGPASS`, `NOPERM`).
    Auth,
    /// Cluster redirections and failures (`MOVED`, `ASK`, `TRYAGAIN`, `CLUSTERDOWN`, ...).
    Cluster,
    /// The reply could not be parsed or had an unexpected type.
    Parse,
    /// The client refused the command (bad config or arguments) before sending it.
    Client,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The kind of an error returned by a connection.
    pub fn of(error: &RedisError) -> ErrorKind {
        if error.is_timeout() {
            return ErrorKind::Timeout;
        }
        match error.kind() {
            redis::ErrorKind::Io => ErrorKind::Io,
            redis::ErrorKind::Server(kind) => ErrorKind::of_server_kind(kind),
            redis::ErrorKind::AuthenticationFailed => ErrorKind::Auth,
            redis::ErrorKind::Parse
            | redis::ErrorKind::UnexpectedReturnType
            | redis::ErrorKind::RESP3NotSupported => ErrorKind::Parse,
            redis::ErrorKind::Client | redis::ErrorKind::InvalidClientConfig => ErrorKind::Client,
            redis::ErrorKind::ClusterConnectionNotFound => ErrorKind::Cluster,
            redis::ErrorKind::Extension => {
                error.code().map_or(ErrorKind::Other, ErrorKind::of_code)
            }
            _ => ErrorKind::Other,
        }
    }

    /// The kind of an error reply (`Value::ServerError`).
    pub fn of_server_error(error: &ServerError) -> ErrorKind {
        match error.kind() {
            Some(kind) => ErrorKind::of_server_kind(kind),
            None => ErrorKind::of_code(error.code()),
        }
    }

    fn of_server_kind(kind: ServerErrorKind) -> ErrorKind {
        match kind {
            ServerErrorKind::ResponseError => ErrorKind::Response,
            ServerErrorKind::ExecAbort => ErrorKind::ExecAbort,
            ServerErrorKind::BusyLoading => ErrorKind::Loading,
            ServerErrorKind::NoScript => ErrorKind::NoScript,
            ServerErrorKind::ReadOnly => ErrorKind::ReadOnly,
            ServerErrorKind::NoPerm => ErrorKind::Auth,
            ServerErrorKind::Moved
            | ServerErrorKind::Ask
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::CrossSlot
            | ServerErrorKind::MasterDown => ErrorKind::Cluster,
            _ => ErrorKind::Other,
        }
    }

    /// Error codes the redis crate does not model (the first word of the error reply).
    fn of_code(code: &str) -> ErrorKind {
        match code {
            "WRONGTYPE" => ErrorKind::WrongType,
            "OOM" => ErrorKind::Oom,
            "NOAUTH" | "WRONGPASS" | "NOPERM" => ErrorKind::Auth,
            "ERR" => ErrorKind::Response,
            _ => ErrorKind::Other,
        }
    }
}
