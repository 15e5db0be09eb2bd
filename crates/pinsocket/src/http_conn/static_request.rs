//! A GET or HEAD for a static file, and its answer: the file, `304 Not
//! Modified`, or an error page, keeping the connection open when it can.

use std::fmt::Write as _;
use std::io;

use pinsocket_core::Body;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::response;
use crate::server::ServerShared;
use crate::static_files::{self, Lookup};

/// A request body up to this size on a static route is read and discarded,
/// keeping the connection; a larger or chunked one ends the connection
/// after the response, so its bytes are never taken for a request.
const MAX_DISCARDED_BODY: u64 = 64 * 1024;
/// Bodies up to this size are written with their head in one call.
const INLINE_BODY: usize = 16 * 1024;

/// A GET or HEAD request, with nothing borrowed from the buffer.
pub(super) struct StaticRequest {
    /// The method is HEAD: send the head without the body.
    pub(super) head_only: bool,
    /// The raw request target, e.g. `/led.html?x=1`.
    pub(super) target: String,
    /// The client asked to keep the connection open.
    pub(super) keep_alive: bool,
    /// The raw `If-None-Match` value, if sent.
    pub(super) if_none_match: Option<Vec<u8>>,
    /// The request body's framing, if it has one.
    pub(super) body: Option<Body>,
    /// The length of the request head in the buffer.
    pub(super) len: usize,
}

/// Answers a GET or HEAD. Returns whether the connection stays open.
/// How much of a skipped request body is read at a time.
const SKIP_CHUNK: usize = 4096;

pub(super) async fn serve_static(
    inner: &ServerShared,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    req: StaticRequest,
) -> io::Result<bool> {
    // Every write of the response must make progress within the send
    // timeout, or the connection (and the file) is let go.
    let stream = &mut WriteDeadline::new(stream, inner.config.send_timeout);
    let mut keep_alive = req.keep_alive;
    let mut consumed = req.len;
    match req.body {
        None => {}
        Some(Body::Length(n)) if n <= MAX_DISCARDED_BODY => {
            // Skip the body so the next request starts where it should. Read
            // in small pieces, never past the body, and dropped as they
            // come: the connection's buffer does not grow for a body.
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            let have = buf.len().saturating_sub(req.len);
            if have >= n {
                consumed = req.len + n;
            } else {
                buf.truncate(req.len);
                let mut left = n - have;
                let mut scratch = vec![0u8; SKIP_CHUNK];
                let deadline = Instant::now() + inner.config.header_timeout;
                while left > 0 {
                    let piece = scratch.get_mut(..left.min(SKIP_CHUNK)).unwrap_or_default();
                    match timeout_at(deadline, stream.read(piece)).await {
                        Ok(Ok(0)) => return Ok(false),
                        Err(_elapsed) => {
                            let bytes = response::error(
                                408,
                                "request body not received in time",
                                &[],
                                false,
                            );
                            stream.write_all(&bytes).await?;
                            return Ok(false);
                        }
                        Ok(Ok(k)) => left -= k,
                        Ok(Err(e)) => return Err(e),
                    }
                }
            }
        }
        Some(_) => keep_alive = false,
    }
    let response = match inner.files.lookup(&req.target).await {
        Lookup::Found(file) => file,
        Lookup::NotFound => {
            let bytes = response::error(404, "not found", &[], keep_alive);
            stream
                .write_all(response::head_of(&bytes, req.head_only))
                .await?;
            buf.drain(..consumed.min(buf.len()));
            return Ok(keep_alive);
        }
        Lookup::BadRequest(why) => {
            let bytes = response::error(400, why, &[], false);
            stream
                .write_all(response::head_of(&bytes, req.head_only))
                .await?;
            return Ok(false);
        }
    };
    let not_modified = req
        .if_none_match
        .as_deref()
        .is_some_and(|inm| static_files::etag_matches(inm, &response.etag));
    // Room for the status line, the security headers and the file's.
    let mut head = String::with_capacity(384);
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
async fn write_all_two(
    stream: &mut (impl tokio::io::AsyncWrite + Unpin),
    mut a: &[u8],
    mut b: &[u8],
) -> io::Result<()> {
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

// ---- the send timeout on HTTP responses ---------------------------------

/// A connection whose writes fail with `TimedOut` once one has waited the
/// send timeout without the client taking a byte: a client that asks for a
/// large file (or pipelines thousands of requests) and never reads is let
/// go, with the file, instead of being held forever. Reads pass through.
pub(super) struct WriteDeadline<'a> {
    stream: &'a mut TcpStream,
    timeout: std::time::Duration,
    /// Made when a write first has to wait; reset at each wait that
    /// follows progress.
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    /// The timer runs: the last write waited and nothing was taken since.
    armed: bool,
}

impl<'a> WriteDeadline<'a> {
    pub(super) fn new(stream: &'a mut TcpStream, timeout: std::time::Duration) -> Self {
        WriteDeadline {
            stream,
            timeout,
            timer: None,
            armed: false,
        }
    }

    /// A write had to wait: pending until the socket is writable, or the
    /// error once the send timeout has passed with no progress.
    fn wait(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<usize>> {
        use std::future::Future as _;
        let deadline = Instant::now() + self.timeout;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !self.armed {
            timer.as_mut().reset(deadline);
            self.armed = true;
        }
        match timer.as_mut().poll(cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no bytes for the send timeout",
            ))),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }

    fn done(&mut self, result: io::Result<usize>) -> std::task::Poll<io::Result<usize>> {
        self.armed = false;
        std::task::Poll::Ready(result)
    }
}

impl tokio::io::AsyncWrite for WriteDeadline<'_> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = self.get_mut();
        match std::pin::Pin::new(&mut *this.stream).poll_write(cx, buf) {
            std::task::Poll::Ready(result) => this.done(result),
            std::task::Poll::Pending => this.wait(cx),
        }
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = self.get_mut();
        match std::pin::Pin::new(&mut *this.stream).poll_write_vectored(cx, bufs) {
            std::task::Poll::Ready(result) => this.done(result),
            std::task::Poll::Pending => this.wait(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut *self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut *self.get_mut().stream).poll_shutdown(cx)
    }
}

impl tokio::io::AsyncRead for WriteDeadline<'_> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut *self.get_mut().stream).poll_read(cx, buf)
    }
}
