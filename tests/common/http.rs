//! HTTP over raw TCP: [`HttpConn`] writes requests as given and reads
//! [`Response`]s off the wire, keeping bytes read past one for the next.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::tcp::{connect_nodelay, fill, head_end};
use super::wait::within;

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
        HttpConn {
            stream: connect_nodelay(addr).await,
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
