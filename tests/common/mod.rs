//! Helpers shared by the integration tests: bounded waits, a small HTTP
//! response reader, a raw WebSocket client (handshake by hand, hand-built
//! masked frames in any length encoding), throwaway folders, the echo
//! server of `examples/echo`, an `on_close` recorder and the process's
//! resident memory.
//!
//! Each test file uses a subset of these, hence the `dead_code` allowance.
#![allow(dead_code, clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pinsocket::{CloseCode, Connection, RunningServer, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The longest any single wait in a test may take. Only a guard against a
/// hung test, never a bound on how fast the server must be: a passing test
/// never waits this long, however loaded the machine, so it is generous.
/// Tests that prove something happened *before* a server timeout of their
/// own make that timeout longer than this.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// The address every test server binds: loopback, a port the OS picks.
pub(crate) fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Awaits `fut`, failing the test if it takes longer than [`WAIT`].
pub(crate) async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {WAIT:?}: {what}"),
    }
}

/// Polls `cond` every few milliseconds until it holds, failing the test if it
/// does not within `limit`.
pub(crate) async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not true within {limit:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Position just past the first `\r\n\r\n` in `buf`, if any.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Reads more bytes into `buf`; returns how many (0 at end of stream).
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, what: &str) -> usize {
    let mut chunk = [0u8; 16 * 1024];
    let n = within(what, stream.read(&mut chunk))
        .await
        .unwrap_or_else(|e| panic!("read failed ({what}): {e}"));
    buf.extend_from_slice(&chunk[..n]);
    n
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// One HTTP response as read off the wire.
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The head as text, status line included, final blank line excluded.
    pub(crate) head: String,
    /// The header fields in order, names as sent.
    pub(crate) headers: Vec<(String, String)>,
    /// The body (empty for HEAD and 304).
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The value of the only header named `name` (case-insensitive); fails
    /// the test if it appears more than once.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let mut found = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        let first = found.next().map(|(_, v)| v.as_str());
        assert!(
            found.next().is_none(),
            "header {name} repeated:\n{}",
            self.head
        );
        first
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parses a response head (without the final blank line).
fn parse_head(head: &str) -> (u16, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "status line: {status_line}");
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {status_line}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line: {line:?}"));
            (name.to_owned(), value.trim().to_owned())
        })
        .collect();
    (status, headers)
}

/// A client end of an HTTP connection, keeping bytes read past a response
/// for the next one.
pub(crate) struct HttpConn {
    pub(crate) stream: TcpStream,
    pub(crate) buf: Vec<u8>,
}

impl HttpConn {
    /// Connects to `addr`.
    pub(crate) async fn connect(addr: SocketAddr) -> HttpConn {
        let stream = within("connect", TcpStream::connect(addr)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        HttpConn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Writes `bytes` in one call.
    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        within("write request", self.stream.write_all(bytes))
            .await
            .unwrap();
    }

    /// Reads one response. A body is expected (by `Content-Length`, which
    /// must then be present) unless `head_only` or the status is 304.
    pub(crate) async fn response(&mut self, head_only: bool) -> Response {
        let end = loop {
            if let Some(end) = head_end(&self.buf) {
                break end;
            }
            let n = fill(&mut self.stream, &mut self.buf, "response head").await;
            assert!(
                n > 0,
                "connection closed before a complete response head; got {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        let head = String::from_utf8(self.buf[..end - 4].to_vec()).unwrap();
        self.buf.drain(..end);
        let (status, headers) = parse_head(&head);
        let mut response = Response {
            status,
            head,
            headers,
            body: Vec::new(),
        };
        if head_only || status == 304 {
            return response;
        }
        let len: usize = response
            .header("content-length")
            .unwrap_or_else(|| panic!("no Content-Length:\n{}", response.head))
            .parse()
            .unwrap();
        while self.buf.len() < len {
            let n = fill(&mut self.stream, &mut self.buf, "response body").await;
            assert!(n > 0, "connection closed inside a body of {len} bytes");
        }
        response.body = self.buf.drain(..len).collect();
        response
    }

    /// Asserts the server closes the connection with nothing more to read.
    pub(crate) async fn expect_eof(&mut self) {
        loop {
            let n = fill(&mut self.stream, &mut self.buf, "end of stream").await;
            if n == 0 {
                break;
            }
        }
        assert!(
            self.buf.is_empty(),
            "unexpected bytes before the end of stream: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }
}

/// Sends `raw` on a new connection and reads one response.
pub(crate) async fn request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut conn = HttpConn::connect(addr).await;
    conn.send(raw).await;
    conn.response(raw.starts_with(b"HEAD ")).await
}

/// `GET path HTTP/1.1` with a Host header and `Connection: close`.
pub(crate) fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

// ---------------------------------------------------------------------------
// WebSocket by hand
// ---------------------------------------------------------------------------

/// The sample key of RFC 6455 §1.3.
pub(crate) const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The whole response the server must give to an upgrade with [`KEY`].
pub(crate) const SWITCHING_PROTOCOLS: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// A valid upgrade request for `path` with [`KEY`].
pub(crate) fn upgrade_request(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// The masking key of every frame the raw client sends.
pub(crate) const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub(crate) const OP_CONT: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// Encodes a frame. `rsv` is RSV1..3 as the low three bits; `mask` masks
/// the payload with [`MASK`] as a client must.
pub(crate) fn encode_frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let b0 = (u8::from(fin) << 7) | ((rsv & 7) << 4) | (opcode & 0x0f);
    let mut out = header_bytes(b0, payload.len() as u64, LenForm::Minimal, mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if mask {
        mask_in_place(&mut out[start..], 0);
    }
    out
}

/// How a frame header writes its payload length (RFC 6455 §5.2): the
/// 7-bit field alone, or 126 and a 16-bit length, or 127 and a 64-bit one.
/// The RFC asks senders for the shortest; the longer ones are "non-minimal".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LenForm {
    /// The shortest encoding of the length.
    Minimal,
    /// 126 and a 16-bit length, whatever the length.
    Bits16,
    /// 127 and a 64-bit length, whatever the length.
    Bits64,
}

/// A frame header: first byte `b0` (FIN, RSV, opcode as given), the length
/// `len` written in `form`, then [`MASK`] if `mask`. Lets a test announce a
/// length and send less (or none) of the payload.
pub(crate) fn header_bytes(b0: u8, len: u64, form: LenForm, mask: bool) -> Vec<u8> {
    let mask_bit = if mask { 0x80 } else { 0 };
    let form = match form {
        LenForm::Minimal if len < 126 => None,
        LenForm::Minimal if len <= u64::from(u16::MAX) => Some(LenForm::Bits16),
        LenForm::Minimal => Some(LenForm::Bits64),
        other => Some(other),
    };
    let mut out = vec![b0];
    match form {
        None => out.push(mask_bit | len as u8),
        Some(LenForm::Bits16) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
        }
        Some(_) => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if mask {
        out.extend_from_slice(&MASK);
    }
    out
}

/// XORs `data` with [`MASK`] as payload bytes starting at `offset` in
/// their frame.
pub(crate) fn mask_in_place(data: &mut [u8], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= MASK[(offset + i) % 4];
    }
}

/// A masked frame with the first byte `b0` as given (so reserved opcodes
/// and bits go out unchanged) and its length written in `form`.
pub(crate) fn frame_as(b0: u8, payload: &[u8], form: LenForm) -> Vec<u8> {
    let mut out = header_bytes(b0, payload.len() as u64, form, true);
    let start = out.len();
    out.extend_from_slice(payload);
    mask_in_place(&mut out[start..], 0);
    out
}

/// The exact bytes of an unmasked final frame as the server sends it:
/// minimal length encoding, then the payload.
pub(crate) fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    encode_frame(true, 0, opcode, payload, false)
}

/// A masked, final, RSV-free frame: what a well-behaved client sends.
pub(crate) fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    encode_frame(true, 0, opcode, payload, true)
}

/// A close frame payload: code then reason.
pub(crate) fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// A frame the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) fin: bool,
    pub(crate) rsv: u8,
    pub(crate) opcode: u8,
    pub(crate) payload: Vec<u8>,
}

impl Frame {
    /// The code and reason of a close frame; fails the test for any other
    /// frame or a payload without a code.
    pub(crate) fn close(&self) -> (u16, String) {
        assert_eq!(
            self.opcode, OP_CLOSE,
            "expected a close frame, got {self:?}"
        );
        assert!(
            self.payload.len() >= 2,
            "close frame without a code: {self:?}"
        );
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        let reason = String::from_utf8(self.payload[2..].to_vec()).unwrap();
        (code, reason)
    }
}

/// A raw TCP WebSocket client that did the handshake by hand.
pub(crate) struct RawWs {
    pub(crate) stream: TcpStream,
    /// Bytes read but not yet taken as frames.
    pub(crate) buf: Vec<u8>,
}

impl RawWs {
    /// Connects without sending anything, for tests that write the
    /// handshake themselves.
    pub(crate) async fn tcp(addr: SocketAddr) -> RawWs {
        let stream = within("connect", TcpStream::connect(addr)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawWs {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connects, sends [`upgrade_request`] for `path` and asserts the exact
    /// `101` response.
    pub(crate) async fn connect(addr: SocketAddr, path: &str) -> RawWs {
        let mut ws = RawWs::tcp(addr).await;
        ws.write(&upgrade_request(path)).await;
        ws.expect_switching_protocols().await;
        ws
    }

    /// Reads the handshake response and asserts it is exactly
    /// [`SWITCHING_PROTOCOLS`]; keeps anything after it.
    pub(crate) async fn expect_switching_protocols(&mut self) {
        let end = loop {
            if let Some(end) = head_end(&self.buf) {
                break end;
            }
            let n = fill(&mut self.stream, &mut self.buf, "handshake response").await;
            assert!(
                n > 0,
                "closed during the handshake: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        };
        assert_eq!(
            String::from_utf8_lossy(&self.buf[..end]),
            String::from_utf8_lossy(SWITCHING_PROTOCOLS)
        );
        self.buf.drain(..end);
    }

    /// Writes `bytes` in one call.
    pub(crate) async fn write(&mut self, bytes: &[u8]) {
        within("write", self.stream.write_all(bytes)).await.unwrap();
    }

    /// Reads exactly `n` bytes.
    pub(crate) async fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            let got = fill(&mut self.stream, &mut self.buf, "frame bytes").await;
            assert!(
                got > 0,
                "end of stream after {} of {n} bytes: {:?}",
                self.buf.len(),
                self.buf
            );
        }
        self.buf.drain(..n).collect()
    }

    /// Reads one whole frame, which must be unmasked (server to client).
    pub(crate) async fn read_frame(&mut self) -> Frame {
        let head = self.read_bytes(2).await;
        assert_eq!(head[1] & 0x80, 0, "server frame is masked: {head:?}");
        let len = match head[1] & 0x7f {
            126 => {
                let ext = self.read_bytes(2).await;
                u64::from(u16::from_be_bytes([ext[0], ext[1]]))
            }
            127 => {
                let ext = self.read_bytes(8).await;
                u64::from_be_bytes(ext.try_into().unwrap())
            }
            short => u64::from(short),
        };
        let payload = self.read_bytes(usize::try_from(len).unwrap()).await;
        Frame {
            fin: head[0] & 0x80 != 0,
            rsv: (head[0] >> 4) & 7,
            opcode: head[0] & 0x0f,
            payload,
        }
    }

    /// Reads one whole frame like [`RawWs::read_frame`], or `None` if the
    /// stream ends (FIN or reset) before its first byte.
    pub(crate) async fn try_read_frame(&mut self) -> Option<Frame> {
        if self.buf.is_empty() {
            let mut chunk = [0u8; 16 * 1024];
            match within("next frame", self.stream.read(&mut chunk)).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
        Some(self.read_frame().await)
    }

    /// Reads one frame and asserts it is a close frame with `code`; returns
    /// its reason.
    pub(crate) async fn expect_close(&mut self, code: u16) -> String {
        let frame = self.read_frame().await;
        let (got, reason) = frame.close();
        assert_eq!(got, code, "close reason {reason:?}");
        reason
    }

    /// Asserts the server closes TCP with nothing more to read.
    pub(crate) async fn expect_eof(&mut self) {
        let n = fill(&mut self.stream, &mut self.buf, "end of stream").await;
        assert_eq!(n, 0, "expected end of stream, got more: {:?}", self.buf);
        assert!(self.buf.is_empty(), "unread bytes: {:?}", self.buf);
    }

    /// Sends one masked final frame and asserts the server echoes it
    /// exactly: the same opcode and payload, unmasked, minimal length.
    pub(crate) async fn expect_echo(&mut self, opcode: u8, payload: &[u8]) {
        self.write(&client_frame(opcode, payload)).await;
        self.expect_bytes(&server_frame(opcode, payload)).await;
    }

    /// Reads as many bytes as `expected` has and asserts they are equal
    /// (without printing megabytes when they are not).
    pub(crate) async fn expect_bytes(&mut self, expected: &[u8]) {
        let got = self.read_bytes(expected.len()).await;
        if got != expected {
            let at = got.iter().zip(expected).position(|(a, b)| a != b);
            panic!(
                "{} bytes differ from the expected ones, first at {at:?}; got starts {:?}, expected starts {:?}",
                expected.len(),
                &got[..got.len().min(16)],
                &expected[..expected.len().min(16)],
            );
        }
    }

    /// Reads until the end of the stream, whether it ends with FIN or a
    /// reset, and returns everything read; fails the test if it does not
    /// end within [`WAIT`].
    pub(crate) async fn read_to_end(&mut self) -> Vec<u8> {
        let mut chunk = [0u8; 16 * 1024];
        within("end of stream", async {
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await;
        std::mem::take(&mut self.buf)
    }
}

/// Connects a raw client to `addr`, writes `bytes` and asserts that the
/// server fails the connection as RFC 6455 §7.1.7 asks: a close frame with
/// `code` and a non-empty reason, then the end of TCP. `what` names the
/// input in failure messages. Returns the reason.
pub(crate) async fn expect_failure(
    addr: SocketAddr,
    what: &str,
    bytes: &[u8],
    code: u16,
) -> String {
    let mut ws = RawWs::connect(addr, "/").await;
    ws.write(bytes).await;
    let frame = ws.read_frame().await;
    assert_eq!(
        frame.opcode, OP_CLOSE,
        "{what}: expected a close frame, got {frame:?}"
    );
    let (got, reason) = frame.close();
    assert_eq!(got, code, "{what}: close code (reason {reason:?})");
    assert!(!reason.is_empty(), "{what}: close {code} without a reason");
    ws.expect_eof().await;
    reason
}

// ---------------------------------------------------------------------------
// WebSocket with tokio-tungstenite
// ---------------------------------------------------------------------------

/// A tokio-tungstenite client.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects a tokio-tungstenite client to `ws://addr{path}`.
pub(crate) async fn ws_connect(addr: SocketAddr, path: &str) -> Ws {
    let url = format!("ws://{addr}{path}");
    let (ws, response) = within("websocket handshake", tokio_tungstenite::connect_async(url))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    ws
}

/// The next message, which must come within [`WAIT`].
pub(crate) async fn next_message(ws: &mut Ws) -> Message {
    within("next message", ws.next())
        .await
        .expect("stream ended")
        .unwrap()
}

/// Sends a message.
pub(crate) async fn send(ws: &mut Ws, msg: Message) {
    within("send", ws.send(msg)).await.unwrap();
}

/// Runs the closing handshake from the client side and waits for the
/// server to end the stream, then drops the socket.
pub(crate) async fn close_ws(mut ws: Ws) {
    within("send close", ws.close(None)).await.unwrap();
    within("end of stream", async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// A uniquely named folder under the system temp dir, removed on drop.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `pinsocket-it-<tag>-<pid>-<nanos>-<n>`.
    pub(crate) fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "pinsocket-it-{tag}-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).unwrap();
        TempDir { path }
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------
// Servers and what they report
// ---------------------------------------------------------------------------

/// The largest message the echo server takes: examples/echo's default.
pub(crate) const ECHO_MAX_MESSAGE: usize = 16 << 20;

/// The server of `examples/echo` as a builder, for tests to add settings
/// (short timeouts, an `on_close`) before starting it: messages up to
/// 16 MiB, a 32 MiB send queue, every text and binary message echoed.
pub(crate) fn echo_builder() -> Server {
    Server::new()
        .bind(any_port())
        .max_message_len(ECHO_MAX_MESSAGE)
        .max_send_queue(2 * ECHO_MAX_MESSAGE)
        .on_text(|c, m| {
            let _ = c.send_text(m);
        })
        .on_binary(|c, d| {
            let _ = c.send_binary(d);
        })
}

/// The echo server of [`echo_builder`], started.
pub(crate) fn echo_server() -> RunningServer {
    echo_builder().start().unwrap()
}

/// The contents of a built-in page, by its path without the leading slash
/// (`index.html`, `led.html`, `wstest.html`).
pub(crate) fn builtin_page(path: &str) -> &'static [u8] {
    pinsocket::PAGES
        .iter()
        .find(|p| p.path() == path)
        .unwrap_or_else(|| panic!("no built-in page {path}"))
        .contents()
}

/// Records every `on_close` call: connection id, code and reason.
#[derive(Clone, Default)]
pub(crate) struct Closes(Arc<Mutex<Vec<(u64, u16, String)>>>);

impl Closes {
    /// A new, empty record.
    pub(crate) fn new() -> Closes {
        Closes::default()
    }

    /// The `on_close` callback that records into this.
    pub(crate) fn hook(&self) -> impl Fn(&Connection, CloseCode, &str) + Send + Sync + 'static {
        let log = self.clone();
        move |conn, code, reason| {
            log.0
                .lock()
                .unwrap()
                .push((conn.id(), code.0, reason.to_owned()));
        }
    }

    /// What was recorded so far.
    pub(crate) fn all(&self) -> Vec<(u64, u16, String)> {
        self.0.lock().unwrap().clone()
    }

    /// How many calls were recorded.
    pub(crate) fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits (at most `limit`) until `n` calls were recorded and returns
    /// their codes and reasons; fails the test if more than `n` were.
    pub(crate) async fn wait_for(&self, n: usize, limit: Duration) -> Vec<(u16, String)> {
        wait_until(&format!("{n} on_close calls"), limit, || self.count() >= n).await;
        let all = self.all();
        assert_eq!(all.len(), n, "more on_close calls than expected: {all:?}");
        all.into_iter()
            .map(|(_, code, reason)| (code, reason))
            .collect()
    }
}

/// Waits until the server holds no WebSocket and no TCP connection.
pub(crate) async fn wait_all_gone(server: &RunningServer, limit: Duration) {
    wait_until("no clients and no connections left", limit, || {
        server.clients().is_empty() && server.connections() == 0
    })
    .await;
}

/// Drops `stream` with a reset instead of a FIN (`SO_LINGER` of zero): an
/// abrupt disconnect, as when a client's machine loses power mid-frame.
pub(crate) fn reset(stream: TcpStream) {
    stream.set_zero_linger().unwrap();
    drop(stream);
}

/// This process's resident set size in bytes (`VmRSS` in /proc/self/status).
pub(crate) fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("no VmRSS in /proc/self/status");
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}
