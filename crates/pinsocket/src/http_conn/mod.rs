//! One TCP connection's HTTP side: request heads, static files, keep-alive,
//! and the upgrade that hands the socket to a WebSocket session.
//!
//! # Layout
//! - [`request`]: reading a request head and deciding what it asks for.
//! - [`static_request`]: answering a GET or HEAD with a static file.
//! - [`upgrade`]: accepting a WebSocket and handing it to its session.
//! - [`close`]: refusing a connection, and closing one without losing the
//!   last response.

mod close;
mod request;
mod static_request;
mod upgrade;

use std::net::SocketAddr;
use std::sync::Arc;

use pinsocket_core::AcceptKey;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::clients::Registration;
use crate::connection::Connection;
use crate::response;
use crate::server::{ServerShared, Tracked};
use crate::session::Link;

pub(crate) use self::close::{lingering_close, refuse};
use self::static_request::StaticRequest;
pub(crate) use self::upgrade::Upgraded;

/// What a parsed request asks for, with nothing borrowed from the buffer.
enum Action {
    /// A GET or HEAD for a static file.
    Static(StaticRequest),
    /// An accepted upgrade; `len` is the length of its head in the buffer.
    Upgrade {
        conn: Connection,
        registration: Registration,
        accept: AcceptKey,
        len: usize,
    },
    /// A whole response from the access checks (421, 403, 401, or the
    /// 303 that trades a token in the URL for a cookie), after which the
    /// connection closes.
    Refused(Vec<u8>),
    /// An error response, after which the connection closes.
    Error {
        status: u16,
        message: String,
        extra: &'static [&'static str],
    },
}

/// Serves one accepted connection until it closes or becomes a WebSocket.
pub(crate) async fn serve(
    inner: Arc<ServerShared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    tracked: Tracked,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut first = true;
    loop {
        let action = match request::next_request(&inner, &mut stream, &mut buf, peer, first).await {
            Ok(Some(action)) => action,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(%peer, "connection error: {e}");
                return;
            }
        };
        first = false;
        let result = match action {
            Action::Error {
                status,
                message,
                extra,
            } => {
                tracing::debug!(%peer, status, "{message}");
                let bytes = response::error(status, &message, extra, false);
                // Bounded like every response: a client that pipelined
                // requests and reads nothing is not waited for.
                let write = stream.write_all(&bytes);
                let _ = tokio::time::timeout(inner.config.send_timeout, write).await;
                lingering_close(&mut stream, &inner).await;
                return;
            }
            Action::Refused(bytes) => {
                let write = stream.write_all(&bytes);
                let _ = tokio::time::timeout(inner.config.send_timeout, write).await;
                lingering_close(&mut stream, &inner).await;
                return;
            }
            Action::Upgrade {
                conn,
                registration,
                accept,
                len,
            } => {
                let leftover = buf.get(len..).unwrap_or_default().to_vec();
                drop(buf);
                let ws = Upgraded {
                    registration,
                    accept,
                    leftover,
                    link: Link {
                        inner: inner.clone(),
                        conn,
                    },
                };
                upgrade::upgrade(inner, stream, ws, tracked).await;
                return;
            }
            Action::Static(req) => {
                static_request::serve_static(&inner, &mut stream, &mut buf, req).await
            }
        };
        match result {
            Ok(true) => {}
            Ok(false) => {
                lingering_close(&mut stream, &inner).await;
                return;
            }
            Err(e) => {
                tracing::debug!(%peer, "write failed: {e}");
                return;
            }
        }
    }
}
