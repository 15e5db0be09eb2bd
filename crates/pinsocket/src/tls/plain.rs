//! The answer to plain HTTP on the TLS port: 400 and the https:// address
//! to open instead.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::response;
use crate::server::ServerShared;

/// The most of a plain request read to find its `Host`.
const MAX_HEAD: usize = 8 * 1024;

/// Reads the request head (until its end, [`MAX_HEAD`] bytes or
/// `deadline`), answers `400 Bad Request` naming the https:// address, and
/// closes without losing the answer.
pub(super) async fn answer(inner: &ServerShared, stream: &mut TcpStream, deadline: Instant) {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while head.len() < MAX_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    let authority = host(&head)
        .map(str::to_owned)
        .or_else(|| stream.local_addr().ok().map(|a| a.to_string()))
        .unwrap_or_default();
    let message = format!("This server speaks HTTPS: open https://{authority}/ instead.");
    let bytes = response::error(400, &message, &[], false);
    if stream.write_all(&bytes).await.is_ok() {
        crate::http_conn::lingering_close(stream, inner).await;
    }
}

/// The request's `Host` value, if it is a plausible host[:port] (letters,
/// digits, `.-:[]`), so that nothing else is echoed back.
fn host(head: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(head).ok()?;
    let value = text.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("host").then(|| value.trim())
    })?;
    let plausible = !value.is_empty()
        && value.len() <= 255
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    plausible.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::host;

    #[test]
    fn host_is_taken_only_when_plausible() {
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nHost: pi.local:8443\r\n\r\n"),
            Some("pi.local:8443")
        );
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nhost: [::1]:8443\r\n\r\n"),
            Some("[::1]:8443")
        );
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: a<b>\r\n\r\n"), None);
        assert_eq!(host(b"GET / HTTP/1.1\r\nHost: \r\n\r\n"), None);
        assert_eq!(host(b"GET / HTTP/1.1\r\n\r\n"), None);
    }
}
