//! Body wrappers that count the bytes that really flow.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::guard::{End, RequestGuard, RequestSizeGuard};
use super::metrics::ErrorType;

pin_project! {
    /// The response body of an instrumented request: counts the bytes sent and ends the
    /// request's duration and in-flight count when the body ends, fails, or is dropped
    /// (the client disconnected).
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        guard: Option<RequestGuard>,
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: B, mut guard: Option<RequestGuard>) -> Self {
        if let Some(guard) = &mut guard {
            // A body that is empty from the start, or that HTTP does not send (HEAD, 204,
            // 304, ...), may never be polled: the server drops it after the head, and
            // axum swaps a HEAD answer's body for an empty one. Dropped, it ended.
            if inner.is_end_stream()
                || inner.size_hint().exact() == Some(0)
                || guard.sends_no_body()
            {
                guard.mark_body_ended();
            }
        }
        Self { inner, guard }
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("instrumented", &self.guard.is_some())
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let Some(guard) = this.guard else {
            return Poll::Ready(frame);
        };
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    guard.add_response_bytes(data.remaining() as u64);
                }
            }
            Some(Err(_)) => {
                if let Some(guard) = this.guard.take() {
                    guard.finish(End::Failed(ErrorType::BodyError));
                }
                return Poll::Ready(frame);
            }
            None => {}
        }
        // The last frame: the server may not poll again, so end the request now.
        if frame.is_none() || this.inner.is_end_stream() {
            if let Some(guard) = this.guard.take() {
                guard.finish(End::Complete);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// A request body that counts the bytes the application reads; the total is recorded
    /// when the body ends or is dropped.
    pub(crate) struct RequestBody<B> {
        #[pin]
        inner: B,
        guard: Option<RequestSizeGuard>,
    }
}

impl<B> RequestBody<B> {
    pub(crate) fn new(inner: B, guard: RequestSizeGuard) -> Self {
        Self {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B: Body> Body for RequestBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(data)) => {
                if let (Some(guard), Some(data)) = (this.guard.as_mut(), data.data_ref()) {
                    guard.add(data.remaining() as u64);
                }
            }
            // Ended or failed: record what was read now.
            Some(Err(_)) | None => drop(this.guard.take()),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
