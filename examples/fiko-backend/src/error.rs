//! The JSON error answer of every route.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answer: a status and a message, as `{"error": "..."}` (with `"field"` naming
/// the input field at fault, and a `Retry-After` header when trying again later helps).
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
    /// The request field the error is about (bad input).
    pub field: Option<&'static str>,
    /// Seconds after which the request may succeed (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 422 about the request field `field`.
    pub fn invalid_field(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
        }
    }

    /// This error, telling the client to retry after `seconds` (at least 1).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "missing or expired session")
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    /// 500, for a failure of the application's own dependencies (the message is logged,
    /// not sent).
    pub fn internal(error: impl std::fmt::Display) -> Self {
        eprintln!("fiko-backend: internal error: {error}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl From<sqlx::Error> for ApiError {
    /// 503 when the database is unavailable (no pool connection within the acquire
    /// timeout, the connection failed, the pool is closed, or the server says it is
    /// shutting down, crashed or has no connection left): the request may succeed once
    /// it is back. 500 for anything else.
    fn from(error: sqlx::Error) -> Self {
        if database_unavailable(&error) {
            eprintln!("fiko-backend: database unavailable: {error}");
            return Self::new(StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
        }
        Self::internal(format_args!("database: {error}"))
    }
}

/// Whether `error` means that the database is away rather than that the query is wrong.
fn database_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        // SQLSTATE class 08: connection exception; class 57: operator intervention
        // (57P01 admin shutdown, 57P02 crash shutdown — "terminating connection due to
        // unexpected postmaster exit" —, 57P03 cannot connect now); 53300: too many
        // connections. (SQLite's numeric codes are never 5 characters long.)
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.len() == 5 && (code.starts_with("08") || code.starts_with("57") || code == "53300")
        }),
        _ => false,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.field {
            Some(field) => serde_json::json!({ "error": self.message, "field": field }),
            None => serde_json::json!({ "error": self.message }),
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_503_a_wrong_query_500() {
        for error in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
        ] {
            assert_eq!(
                ApiError::from(error).status,
                StatusCode::SERVICE_UNAVAILABLE
            );
        }
        assert_eq!(
            ApiError::from(sqlx::Error::RowNotFound).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
