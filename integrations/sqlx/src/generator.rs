//! A stream written as an async block, in safe code.
//!
//! A query on the pool first checks a connection out, then streams the rows of a query
//! that borrows that connection: the stream must own the connection and a borrow of it at
//! once, which only an async block can do without `unsafe`. sqlx builds its own pool
//! executor the same way (`sqlx_core::ext::async_stream`, not public); this is the part
//! of it needed here, so no macro crate is added.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_core::future::BoxFuture;

/// A stream whose items an async block hands over with [`Yielder::yield_item`].
pub(crate) struct Generator<'a, T> {
    slot: Arc<Mutex<Option<T>>>,
    body: Option<BoxFuture<'a, ()>>,
}

/// Hands items from the async block to the stream's reader.
pub(crate) struct Yielder<T> {
    slot: Arc<Mutex<Option<T>>>,
}

impl<'a, T: Send + 'a> Generator<'a, T> {
    /// Runs `body` as the stream is read; each `yield_item(..).await` in it is one item.
    pub(crate) fn new<F, B>(body: F) -> Self
    where
        F: FnOnce(Yielder<T>) -> B,
        B: Future<Output = ()> + Send + 'a,
    {
        let slot = Arc::new(Mutex::new(None));
        let yielder = Yielder { slot: slot.clone() };
        Self {
            slot,
            body: Some(Box::pin(body(yielder))),
        }
    }
}

impl<T> Generator<'_, T> {
    fn take(&self) -> Option<T> {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl<T> Yielder<T> {
    /// Hands `item` over and pauses the async block until the reader asks for the next one.
    pub(crate) async fn yield_item(&self, item: T) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(item);
        // Pending once without a wake-up: `Generator::poll_next` sees the item in the slot
        // and returns it, and the next `poll_next` resumes the block here.
        let mut paused = false;
        std::future::poll_fn(move |_| {
            if paused {
                Poll::Ready(())
            } else {
                paused = true;
                Poll::Pending
            }
        })
        .await;
    }
}

impl<T> Stream for Generator<'_, T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        match body.as_mut().poll(cx) {
            Poll::Ready(()) => {
                // Dropping the block now releases what it held (the pool connection).
                self.body = None;
                Poll::Ready(self.take())
            }
            Poll::Pending => match self.take() {
                Some(item) => Poll::Ready(Some(item)),
                // Really waiting: the block registered a wake-up.
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next<S: Stream + Unpin>(stream: &mut S) -> Poll<Option<S::Item>> {
        let waker = std::task::Waker::noop();
        Pin::new(stream).poll_next(&mut Context::from_waker(waker))
    }

    #[test]
    fn yields_every_item_in_order_then_ends() {
        let mut stream = Generator::new(|out| async move {
            for n in 0..3 {
                out.yield_item(n).await;
            }
        });
        assert_eq!(next(&mut stream), Poll::Ready(Some(0)));
        assert_eq!(next(&mut stream), Poll::Ready(Some(1)));
        assert_eq!(next(&mut stream), Poll::Ready(Some(2)));
        assert_eq!(next(&mut stream), Poll::Ready(None));
        assert_eq!(next(&mut stream), Poll::Ready(None));
    }

    #[test]
    fn a_waiting_body_is_pending_not_ended() {
        let mut stream = Generator::new(|out| async move {
            std::future::pending::<()>().await;
            out.yield_item(1).await;
        });
        assert_eq!(next(&mut stream), Poll::Pending);
    }
}
