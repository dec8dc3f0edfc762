//! The response future of [`HttpMetrics`](super::HttpMetrics).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use super::body::ResponseBody;
use super::guard::{End, RequestGuard};
use super::metrics::ErrorType;

pin_project! {
    /// Resolves to the inner service's response with an instrumented body. Holds the
    /// request's recorder until the response head is ready, then moves it into the body;
    /// dropped early (client gone, timeout) it records a cancelled request.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        guard: Option<RequestGuard>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, guard: Option<RequestGuard>) -> Self {
        Self { inner, guard }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("instrumented", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        // A panicking handler is recorded as such, whichever layer catches the panic.
        let result = match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result,
            Err(panic) => {
                if let Some(guard) = this.guard.take() {
                    guard.finish(End::Failed(ErrorType::Panic));
                }
                resume_unwind(panic)
            }
        };
        match result {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let guard = this.guard.take().map(|mut guard| {
                    guard.set_status(parts.status);
                    guard
                });
                Poll::Ready(Ok(Response::from_parts(
                    parts,
                    ResponseBody::new(body, guard),
                )))
            }
            Err(error) => {
                if let Some(guard) = this.guard.take() {
                    guard.finish(End::Failed(ErrorType::ServiceError));
                }
                Poll::Ready(Err(error))
            }
        }
    }
}
