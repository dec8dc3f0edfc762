//! A minimal blocking HTTP/1.0 client for probing servers and reading their metrics.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::TestkitError;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code, e.g. 200.
    pub status: u16,
    /// The body, decoded lossily as UTF-8.
    pub body: String,
}

/// `GET url` (plain `http://host:port/path` only), bounded by a 10 s I/O timeout.
pub fn http_get(url: &str) -> Result<HttpResponse, TestkitError> {
    request("GET", url, None)
}

/// `POST url` with an empty body (e.g. Prometheus' `/-/reload`).
pub fn http_post(url: &str) -> Result<HttpResponse, TestkitError> {
    request("POST", url, None)
}

/// `response`'s body when its status is 200; otherwise the error naming `url`, the status
/// and the body.
pub(crate) fn body_if_ok(url: String, response: HttpResponse) -> Result<String, TestkitError> {
    if response.status == 200 {
        Ok(response.body)
    } else {
        Err(TestkitError::Http {
            url,
            message: format!("status {}: {}", response.status, response.body),
        })
    }
}

/// `method url`, with `json` as an `application/json` body when given.
pub(crate) fn request(
    method: &str,
    url: &str,
    json: Option<&str>,
) -> Result<HttpResponse, TestkitError> {
    let fail = |message: String| TestkitError::Http {
        url: url.to_owned(),
        message,
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| fail("only http:// URLs are supported".to_owned()))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(host).map_err(|e| fail(format!("connect: {e}")))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| fail(format!("set timeout: {e}")))?;
    // HTTP/1.0: the server closes the connection after the body and never chunks it.
    let body = json.unwrap_or_default();
    let kind = if json.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    let message = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\n{kind}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(message.as_bytes())
        .map_err(|e| fail(format!("write: {e}")))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| fail(format!("read: {e}")))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| fail("response has no header end".to_owned()))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| fail(format!("bad status line in {head:?}")))?;
    Ok(HttpResponse {
        status,
        body: body.to_owned(),
    })
}

/// Percent-encodes a query-string value.
pub(crate) fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
