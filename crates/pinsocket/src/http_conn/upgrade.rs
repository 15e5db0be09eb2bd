//! The WebSocket upgrade: validating the handshake, asking `on_accept`,
//! writing the `101` and handing the socket to its session.

use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use pinsocket_core::{
    AcceptKey, CloseCode, RequestHead, select_protocol, validate_upgrade,
    write_switching_protocols_with,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::Action;
use crate::callbacks::{Reject, Request};
use crate::clients::Registration;
use crate::connection::{Connection, State};
use crate::server::{ServerShared, Tracked};
use crate::session::Link;

/// Decides on an upgrade request: validates the handshake, registers the
/// client and runs `on_accept`, which may refuse it.
pub(super) fn decide_upgrade(
    inner: &ServerShared,
    head: &RequestHead<'_, '_>,
    len: usize,
    peer: SocketAddr,
) -> Action {
    let accept = match validate_upgrade(head) {
        Ok(accept) => accept,
        Err(e) => {
            let extra: &'static [&'static str] = match e.status() {
                426 => &["Sec-WebSocket-Version: 13", "Upgrade: websocket"],
                405 => &["Allow: GET"],
                _ => &[],
            };
            return Action::Error {
                status: e.status(),
                message: e.to_string(),
                extra,
            };
        }
    };
    let clients = &inner.clients;
    let conn = Connection::new(
        clients.next_id(),
        peer,
        head.target.to_owned(),
        select_protocol(head, inner.config.protocols)
            .and_then(|chosen| inner.config.protocols.iter().find(|&&p| p == chosen)),
        inner.config.max_send_queue,
        clients.now_ms(),
    );
    // Registered before on_accept runs, so no broadcast made after
    // on_accept's greeting (say, a state snapshot) can miss this client.
    let registration = Registration::new(clients, &conn);
    if let Some(on_accept) = &inner.callbacks.accept {
        let request = Request { head, peer };
        // A panicking callback refuses this client with 500, as a failing
        // handler would in any HTTP server; the server carries on.
        let verdict = panic::catch_unwind(AssertUnwindSafe(|| on_accept(&conn, &request)))
            .unwrap_or_else(|_| {
                tracing::error!(%peer, "on_accept panicked; answered 500");
                Err(Reject::new(500, "internal server error"))
            });
        if let Err(reject) = verdict {
            drop(registration);
            conn.outbox().state = State::Closing;
            return Action::Error {
                status: reject.status,
                message: reject.message,
                extra: &[],
            };
        }
    }
    Action::Upgrade {
        conn,
        registration,
        accept,
        len,
    }
}

/// An accepted WebSocket on its way from the HTTP task to its session.
///
/// From here on, `on_close` is owed: if this is dropped on the way (the
/// `101` cannot be written, or the task is dropped with its runtime), the
/// registry lets go first, then `on_close` runs with 1006.
pub(crate) struct Upgraded {
    pub(crate) registration: Registration,
    pub(super) accept: AcceptKey,
    pub(crate) leftover: Vec<u8>,
    pub(crate) link: Link,
}

/// Writes the `101` and starts the session; if the `101` cannot be written,
/// the client is let go and `on_close` runs with 1006.
pub(super) async fn upgrade(
    inner: Arc<ServerShared>,
    mut stream: TcpStream,
    ws: Upgraded,
    tracked: Tracked,
) {
    let conn = ws.link.conn.clone();
    let protocol = conn.protocol();
    let mut response = vec![0u8; 160 + protocol.map_or(0, str::len)];
    let n = write_switching_protocols_with(&ws.accept, protocol, &mut response).unwrap_or(0);
    let write = stream.write_all(&response[..n]);
    let written = match tokio::time::timeout(inner.config.send_timeout, write).await {
        Ok(result) => result,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    };
    if let Err(e) = written {
        tracing::debug!(peer = %conn.peer_addr(), "handshake write failed: {e}");
        // The registry lets go, then the link reports 1006.
        drop(ws);
        return;
    }
    tracing::debug!(id = conn.id(), peer = %conn.peer_addr(), path = conn.path(), "websocket accepted");
    // A shutdown that began while this handshake was in flight missed it.
    if inner.shutting_down.load(Ordering::SeqCst) {
        let _ = conn.close(CloseCode::GOING_AWAY, "server shutting down");
    }
    // A task of its own when there is work, its future holding only what a
    // WebSocket needs; none while the connection is quiet.
    let Upgraded {
        registration,
        leftover,
        link,
        ..
    } = ws;
    crate::session::Session::new(stream, link, registration, leftover, tracked).start();
}
