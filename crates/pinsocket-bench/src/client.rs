//! The client side, the same for every server: raw tokio TCP with
//! `TCP_NODELAY`, a minimal WebSocket handshake with a fixed key, masked
//! frames built with pinsocket-core's `FrameHeader` and `apply_mask`, and a
//! small HTTP/1.1 response reader.

use std::io;
use std::net::SocketAddr;

use pinsocket_core::{FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The 16-byte text message of every round trip.
pub(crate) const MESSAGE: &[u8; 16] = b"0123456789abcdef";
/// What every server answers to [`MESSAGE`].
pub(crate) const REPLY: &[u8] = b"Reply for 0123456789abcdef";
/// A text message starting with this asks the server to broadcast the rest
/// to every open WebSocket (the sender included).
pub(crate) const BROADCAST_PREFIX: &str = "broadcast:";
/// The same mask for every frame, so every server reads identical bytes.
const MASK: [u8; 4] = [0x5a, 0x17, 0xc3, 0x88];
/// The RFC 6455 §1.3 sample key and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// Initial read buffer; grows only for a frame or head that does not fit.
const READ_BUF: usize = 4096;
/// A response head longer than this is refused.
const MAX_HEAD: usize = 16 * 1024;

/// A whole frame: `header` as pinsocket-core encodes it, then `payload`,
/// masked with the header's key if it has one.
pub(crate) fn frame(header: FrameHeader, payload: &[u8]) -> Vec<u8> {
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut frame = Vec::with_capacity(n + payload.len());
    frame.extend_from_slice(&head[..n]);
    frame.extend_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut frame[n..], key, 0);
    }
    frame
}

/// A masked client text frame carrying `payload`.
pub(crate) fn masked_text(payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        mask: Some(MASK),
        ..FrameHeader::new(OpCode::Text, payload.len() as u64)
    };
    frame(header, payload)
}

/// The opening handshake request.
pub(crate) fn upgrade_request(addr: SocketAddr) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// A GET request for `/index.html`; `close` asks the server to close after it.
pub(crate) fn page_request(addr: SocketAddr, close: bool) -> Vec<u8> {
    format!(
        "GET /index.html HTTP/1.1\r\nHost: {addr}\r\n{}\r\n",
        if close { "Connection: close\r\n" } else { "" }
    )
    .into_bytes()
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Connects to `addr` with `TCP_NODELAY`.
pub(crate) async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One server frame, borrowed from the reader's buffer.
pub(crate) struct Frame<'a> {
    pub(crate) opcode: u8,
    pub(crate) payload: &'a [u8],
}

/// Reads server frames and HTTP responses from a byte stream.
pub(crate) struct Reader<R> {
    io: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    pub(crate) fn new(io: R) -> Self {
        Reader {
            io,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
        }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads more bytes, making room for at least `need` buffered bytes.
    async fn fill(&mut self, need: usize) -> io::Result<()> {
        if self.start > 0 && self.start + need > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if need > self.buf.len() {
            self.buf.resize(need, 0);
        }
        let n = self.io.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.end += n;
        Ok(())
    }

    /// The next frame from the server (servers do not mask).
    pub(crate) async fn frame(&mut self) -> io::Result<Frame<'_>> {
        let (header, len) = loop {
            if let Some(parsed) = parse_header(self.buffered())? {
                break parsed;
            }
            let need = self.end - self.start + 1;
            self.fill(need).await?;
        };
        let total = header + len;
        while self.end - self.start < total {
            self.fill(total).await?;
        }
        let at = self.start;
        self.start += total;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(Frame {
            opcode: self.buf[at] & 0x0f,
            payload: &self.buf[at + header..at + total],
        })
    }

    /// Reads a response head; returns its status code and the value of
    /// `Content-Length` (0 if absent). The bytes after it stay buffered.
    pub(crate) async fn head(&mut self) -> io::Result<(u16, usize, bool)> {
        let len = loop {
            if let Some(pos) = find(self.buffered(), b"\r\n\r\n") {
                break pos + 4;
            }
            if self.end - self.start > MAX_HEAD {
                return Err(invalid("response head too long"));
            }
            let need = self.end - self.start + 1;
            self.fill(need.max(READ_BUF)).await?;
        };
        let head = &self.buf[self.start..self.start + len];
        let status = head
            .get(9..12)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|_| head.starts_with(b"HTTP/1.1 "))
            .ok_or_else(|| invalid("not an HTTP/1.1 response"))?;
        let mut content_length = 0;
        let mut accepted = false;
        for line in head.split(|&b| b == b'\n') {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"content-length") {
                content_length = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| invalid("bad Content-Length"))?;
            } else if name.eq_ignore_ascii_case(b"sec-websocket-accept") {
                accepted = value == ACCEPT;
            }
        }
        self.start += len;
        Ok((status, content_length, accepted))
    }

    /// Reads a body of `len` bytes and returns it.
    pub(crate) async fn body(&mut self, len: usize) -> io::Result<&[u8]> {
        while self.end - self.start < len {
            self.fill(len).await?;
        }
        let at = self.start;
        self.start += len;
        Ok(&self.buf[at..at + len])
    }
}

/// The frame header length and payload length, once the header is buffered.
fn parse_header(buf: &[u8]) -> io::Result<Option<(usize, usize)>> {
    let [_, b1, ..] = *buf else {
        return Ok(None);
    };
    if b1 & 0x80 != 0 {
        return Err(invalid("server frames must not be masked"));
    }
    match b1 & 0x7f {
        126 => Ok(buf
            .get(2..4)
            .map(|b| (4, usize::from(u16::from_be_bytes([b[0], b[1]]))))),
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut len = [0u8; 8];
                len.copy_from_slice(b);
                let len = usize::try_from(u64::from_be_bytes(len))
                    .map_err(|_| invalid("frame too large"))?;
                Ok(Some((10, len)))
            }
            None => Ok(None),
        },
        n => Ok(Some((2, usize::from(n)))),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An open WebSocket: a frame reader on the read half, raw writes on the other.
pub(crate) struct WsClient {
    pub(crate) rx: Reader<OwnedReadHalf>,
    pub(crate) tx: OwnedWriteHalf,
}

impl WsClient {
    /// Connects and completes the opening handshake.
    pub(crate) async fn connect(addr: SocketAddr, request: &[u8]) -> io::Result<WsClient> {
        let (read, mut tx) = connect(addr).await?.into_split();
        tx.write_all(request).await?;
        let mut rx = Reader::new(read);
        let (status, _, accepted) = rx.head().await?;
        if status != 101 || !accepted {
            return Err(invalid(format!("handshake answered {status}")));
        }
        Ok(WsClient { rx, tx })
    }

    /// Sends `frame` (a [`MESSAGE`] frame) and checks the reply.
    pub(crate) async fn round_trip(&mut self, frame: &[u8]) -> io::Result<()> {
        self.tx.write_all(frame).await?;
        let reply = self.rx.frame().await?;
        if reply.opcode != 1 || reply.payload != REPLY {
            return Err(invalid(format!(
                "unexpected reply (opcode {}): {:?}",
                reply.opcode,
                String::from_utf8_lossy(reply.payload)
            )));
        }
        Ok(())
    }
}

/// Reads one HTTP response for the page and checks it is `page`.
pub(crate) async fn read_page<R: AsyncRead + Unpin>(
    rx: &mut Reader<R>,
    page: &[u8],
) -> io::Result<()> {
    let (status, len, _) = rx.head().await?;
    if status != 200 {
        return Err(invalid(format!("GET /index.html answered {status}")));
    }
    if rx.body(len).await? != page {
        return Err(invalid("GET /index.html returned other bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_frame_is_22_bytes_and_unmasks() {
        let frame = masked_text(MESSAGE);
        assert_eq!(frame.len(), 22);
        let payload: Vec<u8> = frame[6..]
            .iter()
            .zip(MASK.iter().cycle())
            .map(|(b, m)| b ^ m)
            .collect();
        assert_eq!(payload, MESSAGE);
    }

    #[test]
    fn headers_parse() {
        assert!(matches!(parse_header(&[0x81]), Ok(None)));
        assert!(matches!(parse_header(&[0x81, 26]), Ok(Some((2, 26)))));
        assert!(matches!(
            parse_header(&[0x81, 126, 1, 0]),
            Ok(Some((4, 256)))
        ));
        assert!(parse_header(&[0x81, 0x80]).is_err());
    }
}
