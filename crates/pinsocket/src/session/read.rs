//! Reading the socket: into the worker thread's scratch buffer, behind any
//! input held from the read before, then straight to the decoder.

use std::cell::RefCell;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::Session;
use super::run::Flow;

/// Size of each worker thread's receive buffer.
const SCRATCH_LEN: usize = 64 * 1024;
/// How much one read takes while the server's output budget is spent: a
/// connection that pauses then holds at most this much input besides its
/// replies.
const SPENT_READ_LEN: usize = 4 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_LEN]);
}

impl Session {
    /// Reads what the socket has, if anything, and processes it; or, if
    /// the session paused (its replies backed up; it is called only once
    /// they are written), decodes on in the input it held back, reading
    /// nothing.
    ///
    /// Through `poll_read`, which forgets the socket's readiness after a
    /// short read: the next wait goes straight to epoll instead of trying
    /// a read that would fail with `EAGAIN`.
    pub(super) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Flow> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let leftover = self.held.leftover();
            let held = leftover.len();
            if let Some(dst) = scratch.get_mut(..held) {
                dst.copy_from_slice(leftover);
            }
            if self.paused {
                self.paused = false;
                self.outgoing.release_buffer();
                self.held.take_leftover();
                self.link
                    .conn
                    .release(held, self.link.inner.clients.budget());
                if let Some(input) = scratch.get_mut(..held) {
                    self.process(input);
                }
                return Poll::Ready(Flow::Continue);
            }
            // While the budget is spent, read little: what a read brings
            // may have to be held back.
            let end = if self.link.inner.clients.budget().would_exceed(0) {
                (held + SPENT_READ_LEN).min(SCRATCH_LEN)
            } else {
                SCRATCH_LEN
            };
            let mut room = ReadBuf::new(scratch.get_mut(held..end).unwrap_or_default());
            let n = match Pin::new(&mut self.stream).poll_read(cx, &mut room) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Flow::Failed(e)),
                Poll::Ready(Ok(())) => room.filled().len(),
            };
            if n == 0 {
                return Poll::Ready(Flow::Eof);
            }
            self.held.take_leftover();
            let shared = &self.link.conn.shared;
            shared
                .last_rx
                .store(self.link.inner.clients.now_ms(), Ordering::Relaxed);
            shared.ping_sent.store(0, Ordering::Relaxed);
            if let Some(input) = scratch.get_mut(..held + n) {
                self.process(input);
            }
            Poll::Ready(Flow::Continue)
        })
    }
}
