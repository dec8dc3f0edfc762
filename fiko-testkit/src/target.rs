//! A scrape target: an HTTP endpoint on a loopback port that a test's Prometheus (or
//! VictoriaMetrics) scrapes, answering with what the test makes of each request.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::TestkitError;

/// An HTTP endpoint on `127.0.0.1` answering every request with `200 OK` and what its
/// responder makes of the request's `Accept` header (empty when there is none): a content
/// type and a body. Serves one connection at a time on a thread of its own; stopped, and
/// the thread joined, when dropped.
///
/// ```
/// use std::io::{Read, Write};
///
/// let target = fiko_testkit::ScrapeTarget::serve(|accept| {
///     ("text/plain".to_owned(), format!("up 1 # accept={accept}\n").into_bytes())
/// })?;
/// let mut conn = std::net::TcpStream::connect(target.address()).unwrap();
/// conn.write_all(b"GET /metrics HTTP/1.0\r\nAccept: text/plain\r\n\r\n").unwrap();
/// let mut answer = String::new();
/// conn.read_to_string(&mut answer).unwrap();
/// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(answer.ends_with("\r\n\r\nup 1 # accept=text/plain\n"));
/// # Ok::<(), fiko_testkit::TestkitError>(())
/// ```
pub struct ScrapeTarget {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ScrapeTarget {
    /// Starts serving; `respond` gets each request's `Accept` header.
    pub fn serve(
        respond: impl Fn(&str) -> (String, Vec<u8>) + Send + 'static,
    ) -> Result<Self, TestkitError> {
        let io = |what: &'static str| {
            move |source| TestkitError::Io {
                what: what.to_owned(),
                source,
            }
        };
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).map_err(io("binding a scrape target"))?;
        listener
            .set_nonblocking(true)
            .map_err(io("making the scrape target's listener non-blocking"))?;
        let port = listener
            .local_addr()
            .map_err(io("reading the scrape target's address"))?
            .port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut accept = String::new();
                let mut line = String::new();
                // The request line and headers, up to the blank line that ends them.
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("accept")
                    {
                        value.trim().clone_into(&mut accept);
                    }
                    line.clear();
                }
                let (content_type, body) = respond(&accept);
                let mut stream = reader.into_inner();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        Ok(Self {
            port,
            stop,
            thread: Some(thread),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, as a scrape config's target.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for ScrapeTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
