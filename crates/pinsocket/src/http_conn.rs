//! One TCP connection's HTTP side: request heads, static files, keep-alive,
//! and the upgrade that hands the socket to a WebSocket session.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use pinsocket_core::handshake::is_upgrade_request;
use pinsocket_core::{
    AcceptKey, Body, CloseCode, EMPTY_HEADER, RequestHead, parse_request, select_protocol,
    validate_upgrade, write_switching_protocols_with,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::callbacks::{Reject, Request};
use crate::clients::Registration;
use crate::connection::{Connection, State};
use crate::response;
use crate::server::{Inner, Tracked};
use crate::session::Link;
use crate::static_files::{self, Lookup};

/// Most header lines accepted in one request; more is 431.
const MAX_HEADERS: usize = 64;
/// A request body up to this size on a static route is read and discarded,
/// keeping the connection; a larger or chunked one ends the connection
/// after the response, so its bytes are never taken for a request.
const MAX_DISCARDED_BODY: u64 = 64 * 1024;
/// Bodies up to this size are written with their head in one call.
const INLINE_BODY: usize = 16 * 1024;

/// What a parsed request asks for, with nothing borrowed from the buffer.
enum Action {
    Static {
        head_only: bool,
        target: String,
        keep_alive: bool,
        if_none_match: Option<Vec<u8>>,
        body: Option<Body>,
        len: usize,
    },
    Upgrade {
        conn: Connection,
        registration: Registration,
        accept: AcceptKey,
        len: usize,
    },
    Error {
        status: u16,
        message: String,
        extra: &'static [&'static str],
    },
}

/// Serves one accepted connection until it closes or becomes a WebSocket.
pub(crate) async fn serve(
    inner: Arc<Inner>,
    mut stream: TcpStream,
    peer: SocketAddr,
    tracked: Tracked,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut first = true;
    loop {
        let action = match next_request(&inner, &mut stream, &mut buf, peer, first).await {
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
                let _ = stream.write_all(&bytes).await;
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
                upgrade(inner, stream, ws, tracked).await;
                return;
            }
            Action::Static {
                head_only,
                target,
                keep_alive,
                if_none_match,
                body,
                len,
            } => {
                serve_static(
                    &inner,
                    &mut stream,
                    &mut buf,
                    StaticRequest {
                        head_only,
                        target,
                        keep_alive,
                        if_none_match,
                        body,
                        len,
                    },
                )
                .await
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

/// Reads until `buf` holds a complete request head and decides what to do
/// with it. `None`: the client closed or went idle between requests, or the
/// server is shutting down.
async fn next_request(
    inner: &Inner,
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

/// Parses the head in `buf`, if complete, into an [`Action`].
fn decide(inner: &Inner, buf: &[u8], peer: SocketAddr) -> Option<Action> {
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
    if is_upgrade_request(&head) {
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
        "GET" | "HEAD" => Some(Action::Static {
            head_only: head.method == "HEAD",
            target: head.target.to_owned(),
            keep_alive: head.keep_alive(),
            if_none_match: head.header("if-none-match").map(<[u8]>::to_vec),
            body,
            len,
        }),
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

fn decide_upgrade(
    inner: &Inner,
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
    accept: AcceptKey,
    pub(crate) leftover: Vec<u8>,
    pub(crate) link: Link,
}

async fn upgrade(inner: Arc<Inner>, mut stream: TcpStream, ws: Upgraded, tracked: Tracked) {
    let conn = ws.link.conn.clone();
    let protocol = conn.protocol();
    let mut response = vec![0u8; 160 + protocol.map_or(0, str::len)];
    let n = write_switching_protocols_with(&ws.accept, protocol, &mut response).unwrap_or(0);
    if let Err(e) = stream.write_all(&response[..n]).await {
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
    crate::session::Session::new(stream, ws, tracked).start();
}

struct StaticRequest {
    head_only: bool,
    target: String,
    keep_alive: bool,
    if_none_match: Option<Vec<u8>>,
    body: Option<Body>,
    len: usize,
}

/// Answers a GET or HEAD. Returns whether the connection stays open.
async fn serve_static(
    inner: &Inner,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    req: StaticRequest,
) -> io::Result<bool> {
    let mut keep_alive = req.keep_alive;
    let mut consumed = req.len;
    match req.body {
        None => {}
        Some(Body::Length(n)) if n <= MAX_DISCARDED_BODY => {
            // Read the body and drop it, so the next request starts where it should.
            let total = req.len + n as usize;
            let deadline = Instant::now() + inner.config.header_timeout;
            while buf.len() < total {
                buf.reserve(total - buf.len());
                match timeout_at(deadline, stream.read_buf(buf)).await {
                    Ok(Ok(0)) => return Ok(false),
                    Err(_elapsed) => {
                        let bytes =
                            response::error(408, "request body not received in time", &[], false);
                        stream.write_all(&bytes).await?;
                        return Ok(false);
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(e),
                }
            }
            consumed = total;
        }
        Some(_) => keep_alive = false,
    }
    let response = match inner.files.lookup(&req.target).await {
        Lookup::Found(file) => file,
        Lookup::NotFound => {
            let bytes = response::error(404, "not found", &[], keep_alive);
            stream.write_all(head_of(&bytes, req.head_only)).await?;
            buf.drain(..consumed.min(buf.len()));
            return Ok(keep_alive);
        }
        Lookup::BadRequest(why) => {
            let bytes = response::error(400, why, &[], false);
            stream.write_all(head_of(&bytes, req.head_only)).await?;
            return Ok(false);
        }
    };
    let not_modified = req
        .if_none_match
        .as_deref()
        .is_some_and(|inm| static_files::etag_matches(inm, &response.etag));
    let mut head = String::with_capacity(256);
    response::status_line(&mut head, if not_modified { 304 } else { 200 });
    let _ = write!(
        head,
        "ETag: {}\r\nCache-Control: no-cache\r\n",
        response.etag
    );
    if !not_modified {
        let _ = write!(
            head,
            "Content-Type: {}\r\nContent-Length: {}\r\n",
            response.content_type, response.len
        );
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut head = head.into_bytes();
    if not_modified || req.head_only {
        stream.write_all(&head).await?;
    } else {
        match response.body {
            static_files::Body::Static(bytes) if bytes.len() <= INLINE_BODY => {
                head.extend_from_slice(bytes);
                stream.write_all(&head).await?;
            }
            static_files::Body::Static(bytes) => write_all_two(stream, &head, bytes).await?,
            static_files::Body::Disk(file) => {
                stream.write_all(&head).await?;
                let mut body = file.take(response.len);
                let sent = tokio::io::copy(&mut body, stream).await?;
                if sent != response.len {
                    // The file shrank while being sent: the framing is broken.
                    return Ok(false);
                }
            }
        }
    }
    buf.drain(..consumed.min(buf.len()));
    Ok(keep_alive)
}

/// Writes `a` then `b` with as few system calls as the socket allows: one
/// vectored write when both fit in the send buffer.
async fn write_all_two(stream: &mut TcpStream, mut a: &[u8], mut b: &[u8]) -> io::Result<()> {
    while !a.is_empty() {
        let n = stream
            .write_vectored(&[io::IoSlice::new(a), io::IoSlice::new(b)])
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_a = n.min(a.len());
        a = &a[from_a..];
        b = &b[n - from_a..];
    }
    stream.write_all(b).await
}

/// Answers a connection over the limit with 503 and closes it.
pub(crate) async fn refuse(inner: Arc<Inner>, mut stream: TcpStream) {
    let bytes = response::error(
        503,
        "too many connections, try again shortly",
        &["Retry-After: 1"],
        false,
    );
    if stream.write_all(&bytes).await.is_ok() {
        lingering_close(&mut stream, &inner).await;
    }
}

/// The response without its body when answering HEAD (RFC 9110 §9.3.2).
fn head_of(response: &[u8], head_only: bool) -> &[u8] {
    if !head_only {
        return response;
    }
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |i| i + 4);
    response.get(..end).unwrap_or(response)
}

/// Closes after an error response without losing it: unread request bytes
/// would make the kernel reset the connection, and a reset can discard the
/// response before the client reads it. So: send FIN, then read and drop
/// whatever still comes, for a bounded time and amount.
pub(crate) async fn lingering_close(stream: &mut TcpStream, inner: &Inner) {
    let _ = stream.shutdown().await;
    let deadline = Instant::now()
        + inner
            .config
            .close_timeout
            .min(std::time::Duration::from_secs(2));
    let mut shutdown = inner.shutdown.clone();
    let mut sink = [0u8; 4096];
    let mut total = 0usize;
    while total < 1024 * 1024 {
        let read = tokio::select! {
            // A server shutting down does not wait for lingering clients.
            () = crate::server::until_shutdown(&mut shutdown) => return,
            read = timeout_at(deadline, stream.read(&mut sink)) => read,
        };
        match read {
            Ok(Ok(n)) if n > 0 => total += n,
            _ => return,
        }
    }
}
