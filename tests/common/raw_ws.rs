//! A raw WebSocket client, [`RawWs`]: the opening handshake by hand, frames
//! written as bytes (see `frames.rs`), server frames read and checked byte
//! for byte.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::frames::{OP_CLOSE, OP_TEXT, client_frame, server_frame};
use super::tcp::{connect_nodelay, fill, head_end};
use super::wait::within;

/// The sample key of RFC 6455 §1.3.
pub(crate) const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// The whole response the server must give to an upgrade with [`KEY`].
pub(crate) const SWITCHING_PROTOCOLS: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// A valid upgrade request for `path` with [`KEY`].
pub(crate) fn upgrade_request(path: &str) -> Vec<u8> {
    upgrade_request_offering(path, None)
}

/// A valid upgrade request for `path` with [`KEY`] that offers `protocol`
/// in `Sec-WebSocket-Protocol`, if any.
pub(crate) fn upgrade_request_offering(path: &str, protocol: Option<&str>) -> Vec<u8> {
    let offer = protocol.map_or(String::new(), |p| {
        format!("Sec-WebSocket-Protocol: {p}\r\n")
    });
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
         {offer}\r\n"
    )
    .into_bytes()
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
        RawWs {
            stream: connect_nodelay(addr).await,
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

    /// Connects and upgrades `/`, offering `protocol` if any. Asserts only
    /// that the answer is a `101` (its headers depend on the offer); keeps
    /// anything after it.
    pub(crate) async fn upgrade(addr: SocketAddr, protocol: Option<&str>) -> RawWs {
        let mut ws = RawWs::tcp(addr).await;
        ws.write(&upgrade_request_offering("/", protocol)).await;
        let end = ws.read_head("handshake response").await;
        assert!(ws.buf.starts_with(b"HTTP/1.1 101 "));
        ws.buf.drain(..end);
        ws
    }

    /// Reads until the buffer holds a whole head; returns its length.
    async fn read_head(&mut self, what: &str) -> usize {
        loop {
            if let Some(end) = head_end(&self.buf) {
                return end;
            }
            let n = fill(&mut self.stream, &mut self.buf, what).await;
            assert!(
                n > 0,
                "closed during the handshake: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Reads the handshake response and asserts it is exactly
    /// [`SWITCHING_PROTOCOLS`]; keeps anything after it.
    pub(crate) async fn expect_switching_protocols(&mut self) {
        let end = self.read_head("handshake response").await;
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

    /// Reads one frame, which must be a whole text message (a final text
    /// frame without reserved bits), and returns its text.
    pub(crate) async fn next_text(&mut self) -> String {
        let frame = self.read_frame().await;
        assert!(
            frame.fin && frame.rsv == 0 && frame.opcode == OP_TEXT,
            "expected a text frame, got {frame:?}"
        );
        String::from_utf8(frame.payload).unwrap()
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
