//! How a session ends: [`End`] says how, and [`Link`] is the `on_close`
//! owed to every accepted WebSocket, reported once however it ends.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use pinsocket_core::CloseCode;

use super::Session;
use crate::connection::{Connection, State};
use crate::server::ServerShared;

/// How the session ended.
pub(super) enum End {
    /// The close handshake ran (either side began it).
    Closed,
    /// The connection dropped without a close frame, or I/O failed.
    Abnormal,
    /// The client did not answer a ping in time.
    TimedOut,
    /// The client took none of our bytes for the send timeout.
    Stalled,
}

/// An accepted WebSocket whose `on_close` is still owed: reported once, by
/// [`Link::report`], or with 1006 if dropped unreported (a handshake whose
/// `101` could not be written, a task dropped with its runtime).
pub(crate) struct Link {
    pub(crate) inner: Arc<ServerShared>,
    pub(crate) conn: Connection,
}

impl Link {
    fn report(self, code: CloseCode, reason: &str) {
        closed(&self.inner, &self.conn, code, reason);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if self.conn.outbox().state != State::Closed {
            closed(&self.inner, &self.conn, CloseCode::ABNORMAL, "");
        }
    }
}

impl Session {
    /// Closes the socket, leaves the registry and the server's count, then
    /// reports the close to `on_close`.
    pub(super) fn end(self, end: End) {
        let Session {
            stream,
            registration,
            tracked,
            link,
            ..
        } = self;
        // The socket closes first, then the registry lets go: by the time
        // on_close runs, the client is gone from both.
        drop(stream);
        drop(registration);
        drop(tracked);
        let (code, reason) = match end {
            End::Closed => link
                .conn
                .outbox()
                .close
                .as_deref()
                .cloned()
                .unwrap_or((CloseCode::NO_STATUS, "".into())),
            End::Abnormal => (CloseCode::ABNORMAL, "".into()),
            End::TimedOut => (CloseCode::ABNORMAL, "ping timeout".into()),
            End::Stalled => (CloseCode::POLICY_VIOLATION, "client too slow".into()),
        };
        link.report(code, &reason);
    }
}

/// Marks a connection closed and runs `on_close`, once it has left the set.
fn closed(inner: &ServerShared, conn: &Connection, code: CloseCode, reason: &str) {
    {
        // Sends after this point fail with Closed.
        let mut out = conn.outbox();
        out.state = State::Closed;
        out.clear();
        out.tail = Vec::new();
    }
    // What the session had taken and not written, and input it held back,
    // leave the server's budget too: nothing more of this connection is
    // written.
    conn.release_all(inner.clients.budget());
    tracing::debug!(id = conn.id(), peer = %conn.peer_addr(), %code, reason, "websocket closed");
    if let Some(on_close) = &inner.callbacks.close
        && panic::catch_unwind(AssertUnwindSafe(|| on_close(conn, code, reason))).is_err()
    {
        tracing::error!(id = conn.id(), "on_close panicked");
    }
}
