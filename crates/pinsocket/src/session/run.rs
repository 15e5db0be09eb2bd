//! The session's task: one loop that takes what is queued, writes it, and
//! waits for the socket or a wake-up, until the session rests or ends.

use std::future::poll_fn;
use std::io;
use std::sync::atomic::Ordering;
use std::task::Poll;

use super::Session;
use super::end::End;
use crate::connection::State;

/// What a read, or a wait, asks the session loop to do next.
pub(super) enum Flow {
    /// Go round again: input was read, or something woke the session.
    Continue,
    /// Nothing to do, and resting is due (see [`Session::may_rest`]).
    Rest,
    /// The client closed its side of the connection.
    Eof,
    /// The socket failed.
    Failed(io::Error),
}

/// Why a task stopped driving its session.
enum Stop {
    /// The session rests: the task ends, the connection does not (see
    /// [`Session::rest`]).
    Rest,
    /// The connection ended.
    End(End),
}

impl Session {
    /// Runs the connection until it rests, or to its end, then reports the
    /// close.
    // Not an `async fn`: one of those would keep its argument and a moved
    // copy of it side by side in the future, twice the session's size.
    #[allow(clippy::manual_async_fn)]
    pub(crate) fn run(mut self) -> impl Future<Output = ()> + Send {
        async move {
            match self.drive().await {
                Stop::Rest => {
                    // Truncated on purpose: see `resting_since`.
                    #[allow(clippy::cast_possible_truncation)]
                    let now = self.link.inner.clients.now_ms() as u32;
                    self.rest(now.max(1));
                }
                Stop::End(end) => self.end(end),
            }
        }
    }

    async fn drive(&mut self) -> Stop {
        // A paused session never rests, so a task starts with none.
        debug_assert!(!self.paused);
        let mut first = self.held.take_leftover();
        if !first.is_empty() {
            self.process(&mut first);
        }
        loop {
            let state = {
                let mut out = self.link.conn.outbox();
                self.outgoing.refill(&mut out);
                out.state
            };
            match state {
                State::TimedOut => return Stop::End(End::TimedOut),
                State::Stalled => return Stop::End(End::Stalled),
                // Closed: on_close ran, which only happens after the session ended.
                State::CloseTimedOut | State::Closed => return Stop::End(End::Closed),
                State::Open | State::Closing => {}
            }
            let written = self.outgoing.write_to(
                &self.stream,
                &self.link.conn,
                self.link.inner.clients.budget(),
            );
            let (flushed, progressed) = match written {
                Ok(result) => result,
                Err(_) => return Stop::End(End::Abnormal),
            };
            // For the sweep: since when have bytes waited with none taken?
            let stalled = &self.link.conn.shared.write_stalled_since;
            if flushed {
                stalled.store(0, Ordering::Relaxed);
            } else if progressed || stalled.load(Ordering::Relaxed) == 0 {
                stalled.store(self.link.inner.clients.now_ms(), Ordering::Relaxed);
            }
            if flushed && self.link.conn.outbox().queued > 0 {
                // Queued while the previous batch was being written.
                continue;
            }
            if flushed && state == State::Closing {
                // Boxed: its timers live on the heap only while closing,
                // not in every idle connection's task.
                return Stop::End(Box::pin(self.finish_close()).await);
            }
            // Wait for a wake-up, or for the socket: writable while bytes
            // wait, else readable (input is read as soon as it is there).
            let wait = poll_fn(|cx| {
                if self.link.conn.shared.wakeup.poll(cx).is_ready() {
                    return Poll::Ready(Flow::Continue);
                }
                if flushed {
                    match self.poll_read(cx) {
                        Poll::Pending if self.may_rest(state) => Poll::Ready(Flow::Rest),
                        other => other,
                    }
                } else {
                    self.stream.poll_write_ready(cx).map(|ready| match ready {
                        Ok(()) => Flow::Continue,
                        Err(e) => Flow::Failed(e),
                    })
                }
            });
            match wait.await {
                Flow::Continue => {}
                Flow::Rest => return Stop::Rest,
                Flow::Eof => return Stop::End(End::Abnormal),
                Flow::Failed(e) => {
                    tracing::debug!(id = self.link.conn.id(), "socket failed: {e}");
                    return Stop::End(End::Abnormal);
                }
            }
        }
    }
}
