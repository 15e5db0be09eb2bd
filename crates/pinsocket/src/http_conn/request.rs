//! Reading a request head off the socket, within its deadlines, and deciding
//! what it asks for: a static file, an upgrade, or an error response.

use std::io;
use std::net::SocketAddr;

use pinsocket_core::{EMPTY_HEADER, is_upgrade_request, parse_request};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::Action;
use super::static_request::StaticRequest;
use super::upgrade::decide_upgrade;
use crate::access::Checked;
use crate::server::ServerShared;

/// Most header lines accepted in one request; more is 431.
const MAX_HEADERS: usize = 64;

/// Reads until `buf` holds a complete request head and decides what to do
/// with it. `None`: the client closed or went idle between requests, or the
/// server is shutting down.
pub(super) async fn next_request(
    inner: &ServerShared,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    peer: SocketAddr,
    first: bool,
) -> io::Result<Option<Action>> {
    let config = &inner.config;
    let mut shutdown = inner.shutdown.clone();
    // Waiting for the first byte of a later request is keep-alive idling;
    // once a request has begun, the whole head must come within the header
    // timeout.
    let mut deadline = Instant::now()
        + if first || !buf.is_empty() {
            config.header_timeout
        } else {
            config.keep_alive_timeout
        };
    loop {
        if !buf.is_empty()
            && let Some(action) = decide(inner, buf, peer)
        {
            return Ok(Some(action));
        }
        let was_empty = buf.is_empty();
        let want = (config.limits.max_head_len + 1)
            .saturating_sub(buf.len())
            .clamp(1, 4096);
        buf.reserve(want);
        let read = tokio::select! {
            () = crate::server::until_shutdown(&mut shutdown), if was_empty => return Ok(None),
            read = timeout_at(deadline, stream.read_buf(buf)) => read,
        };
        match read {
            Err(_elapsed) if was_empty => return Ok(None),
            Err(_elapsed) => {
                return Ok(Some(Action::Error {
                    status: 408,
                    message: "request head not received in time".into(),
                    extra: &[],
                }));
            }
            Ok(Ok(0)) => return Ok(None),
            Ok(Ok(_)) => {
                if was_empty {
                    deadline = Instant::now() + config.header_timeout;
                }
            }
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// Parses the head in `buf`, if complete, into an [`Action`]: a bad
/// `Host` count is 400, then the access checks (`crate::access`) may
/// refuse it, before anything else is done with it.
fn decide(inner: &ServerShared, buf: &[u8], peer: SocketAddr) -> Option<Action> {
    let mut headers = [EMPTY_HEADER; MAX_HEADERS];
    let (head, len) = match parse_request(buf, &mut headers, &inner.config.limits) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return None,
        Err(e) => {
            return Some(Action::Error {
                status: e.status(),
                message: e.to_string(),
                extra: &[],
            });
        }
    };
    // RFC 9112 §3.2: one Host for HTTP/1.1, never two.
    let host = match head.host() {
        Ok(host) => host,
        Err(e) => {
            return Some(Action::Error {
                status: e.status(),
                message: e.to_string(),
                extra: &[],
            });
        }
    };
    let upgrade = is_upgrade_request(&head);
    let access = &inner.config.access;
    if !access.is_open() {
        let request = Checked {
            head: &head,
            host,
            upgrade,
            peer,
            https: inner.config.tls,
        };
        if let Some(response) = access.check(&request) {
            return Some(Action::Refused(response));
        }
    }
    if upgrade {
        return Some(decide_upgrade(inner, &head, len, peer));
    }
    let body = match head.body() {
        Ok(body) => body,
        Err(e) => {
            return Some(Action::Error {
                status: e.status(),
                message: "invalid Content-Length".into(),
                extra: &[],
            });
        }
    };
    match head.method {
        "GET" | "HEAD" => Some(Action::Static(StaticRequest {
            head_only: head.method == "HEAD",
            target: head.target.to_owned(),
            keep_alive: head.keep_alive(),
            if_none_match: head.header("if-none-match").map(<[u8]>::to_vec),
            body,
            len,
        })),
        _ => Some(Action::Error {
            status: 405,
            message: format!(
                "method {} not allowed: this server only serves files",
                head.method
            ),
            extra: &["Allow: GET, HEAD"],
        }),
    }
}
