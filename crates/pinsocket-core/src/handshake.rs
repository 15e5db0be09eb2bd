//! The WebSocket opening handshake, server side (RFC 6455 §4.2).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::http::RequestHead;

/// The GUID every server appends to the client's key (RFC 6455 §1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Why an upgrade request was refused, and the status to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The method is not GET (405).
    #[error("a WebSocket handshake must use GET")]
    MethodNotGet,
    /// HTTP/1.0 (400): the handshake needs HTTP/1.1.
    #[error("a WebSocket handshake needs HTTP/1.1")]
    NotHttp11,
    /// No `Host` header, more than one, or one that is not `host[:port]`
    /// (400).
    #[error("missing, repeated or malformed Host header")]
    MissingHost,
    /// `Connection` does not list `Upgrade` (400).
    #[error("Connection header does not list Upgrade")]
    MissingConnectionUpgrade,
    /// `Upgrade` does not list `websocket` (400).
    #[error("Upgrade header does not list websocket")]
    NotWebSocket,
    /// `Sec-WebSocket-Version` is missing or not 13 (426, with
    /// `Sec-WebSocket-Version: 13` in the response).
    #[error("unsupported Sec-WebSocket-Version; this server speaks 13")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Key` is missing, repeated, or not 16 bytes in base64 (400).
    #[error("Sec-WebSocket-Key must be 16 bytes in base64")]
    BadKey,
}

impl HandshakeError {
    /// The status code to answer with.
    pub fn status(self) -> u16 {
        match self {
            HandshakeError::MethodNotGet => 405,
            HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }
}

/// The `Sec-WebSocket-Accept` value: 28 base64 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII; the fallback is never taken.
        core::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Computes `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`:
/// base64(SHA-1(key ++ GUID)).
pub fn accept_key(key: &[u8]) -> AcceptKey {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let digest = sha.digest().bytes();
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28 characters.
    let _ = STANDARD.encode_slice(digest, &mut out);
    AcceptKey(out)
}

/// True if the request asks to upgrade to WebSocket (`Upgrade` lists
/// `websocket`): such a request gets a handshake or a handshake error, never
/// a page.
pub fn is_upgrade_request(req: &RequestHead<'_, '_>) -> bool {
    req.has_token("upgrade", "websocket")
}

/// Checks an upgrade request against RFC 6455 §4.2.1 and returns the accept key.
pub fn validate_upgrade(req: &RequestHead<'_, '_>) -> Result<AcceptKey, HandshakeError> {
    if req.method != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    if req.minor_version < 1 {
        return Err(HandshakeError::NotHttp11);
    }
    if !matches!(req.host(), Ok(Some(_))) {
        return Err(HandshakeError::MissingHost);
    }
    if !req.has_token("upgrade", "websocket") {
        return Err(HandshakeError::NotWebSocket);
    }
    if !req.has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let mut versions = req.headers_named("sec-websocket-version");
    match (versions.next().map(crate::http::trim_ows), versions.next()) {
        (Some(b"13"), None) => {}
        _ => return Err(HandshakeError::UnsupportedVersion),
    }
    let mut keys = req.headers_named("sec-websocket-key");
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(HandshakeError::BadKey);
    };
    let key = crate::http::trim_ows(key);
    // 16 bytes are 24 base64 characters with padding; decode_slice needs room
    // for its estimate (18 bytes) even though 16 come out.
    let mut decoded = [0u8; 18];
    match STANDARD.decode_slice(key, &mut decoded) {
        Ok(16) if key.len() == 24 => Ok(accept_key(key)),
        _ => Err(HandshakeError::BadKey),
    }
}

/// Writes the `101 Switching Protocols` response into `out`; returns its
/// length, or `None` if `out` is too small (160 bytes always suffice).
pub fn write_switching_protocols(accept: &AcceptKey, out: &mut [u8]) -> Option<usize> {
    write_switching_protocols_with(accept, None, out)
}

/// Like [`write_switching_protocols`], naming the selected subprotocol in
/// `Sec-WebSocket-Protocol` (160 bytes plus the protocol's length suffice).
pub fn write_switching_protocols_with(
    accept: &AcceptKey,
    protocol: Option<&str>,
    out: &mut [u8],
) -> Option<usize> {
    let (before, name, after): (&[u8], &[u8], &[u8]) = match protocol {
        Some(p) => (b"Sec-WebSocket-Protocol: ", p.as_bytes(), b"\r\n"),
        None => (b"", b"", b""),
    };
    let parts: [&[u8]; 6] = [
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
        &accept.0,
        b"\r\n",
        before,
        name,
        after,
    ];
    let mut n = 0;
    for part in parts.iter().chain([&&b"\r\n"[..]]) {
        out.get_mut(n..n + part.len())?.copy_from_slice(part);
        n += part.len();
    }
    Some(n)
}

/// The first of the server's `supported` subprotocols (in the server's order
/// of preference) that the client offered in `Sec-WebSocket-Protocol`.
///
/// Subprotocol names are compared exactly, case included: RFC 6455 §4.2.2
/// has the server answer with one of the values the client sent, and a
/// browser fails the connection when the answer is not one of them, so a
/// client offering `PINSOCKET` is not answered `pinsocket`.
pub fn select_protocol<'s>(req: &RequestHead<'_, '_>, supported: &[&'s str]) -> Option<&'s str> {
    supported.iter().copied().find(|p| offers_protocol(req, p))
}

/// True if a `Sec-WebSocket-Protocol` header lists `protocol`, byte for
/// byte (surrounding whitespace aside).
fn offers_protocol(req: &RequestHead<'_, '_>, protocol: &str) -> bool {
    req.headers_named("sec-websocket-protocol").any(|value| {
        value
            .split(|&b| b == b',')
            .any(|item| crate::http::trim_ows(item) == protocol.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HeadLimits, parse_request};
    use httparse::EMPTY_HEADER;

    fn check(buf: &[u8]) -> Result<AcceptKey, HandshakeError> {
        let mut headers = [EMPTY_HEADER; 16];
        let (req, _) = parse_request(buf, &mut headers, &HeadLimits::default())
            .unwrap()
            .unwrap();
        validate_upgrade(&req)
    }

    const GOOD: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    #[test]
    fn rfc_sample_key() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ==").as_str(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            check(GOOD).map(|a| a.0),
            Ok(*b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
    }

    #[test]
    fn tokens_are_case_insensitive_inside_lists() {
        let req = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: foo, WebSocket\r\nConnection: keep-alive, UPGRADE\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        assert!(check(req).is_ok());
    }

    fn replace(from: &str, to: &str) -> std::string::String {
        extern crate std;
        std::string::String::from_utf8_lossy(GOOD).replace(from, to)
    }
    extern crate std;

    #[test]
    fn each_requirement_is_checked() {
        let cases = [
            (replace("GET", "POST"), HandshakeError::MethodNotGet, 405),
            (
                replace("HTTP/1.1", "HTTP/1.0"),
                HandshakeError::NotHttp11,
                400,
            ),
            (
                replace("Host: server.example.com\r\n", ""),
                HandshakeError::MissingHost,
                400,
            ),
            (
                replace("Upgrade: websocket", "Upgrade: h2c"),
                HandshakeError::NotWebSocket,
                400,
            ),
            (
                replace("Connection: Upgrade", "Connection: keep-alive"),
                HandshakeError::MissingConnectionUpgrade,
                400,
            ),
            (
                replace("Version: 13", "Version: 8"),
                HandshakeError::UnsupportedVersion,
                426,
            ),
            (
                replace("Sec-WebSocket-Version: 13\r\n", ""),
                HandshakeError::UnsupportedVersion,
                426,
            ),
            (
                replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
                HandshakeError::BadKey,
                400,
            ),
            (
                replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQ"),
                HandshakeError::BadKey,
                400,
            ),
            (
                replace("dGhlIHNhbXBsZSBub25jZQ==", "!!!!!!!!!!!!!!!!!!!!!!=="),
                HandshakeError::BadKey,
                400,
            ),
            (
                replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZXg="),
                HandshakeError::BadKey,
                400,
            ),
            (
                replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
                HandshakeError::BadKey,
                400,
            ),
        ];
        for (req, err, status) in cases {
            assert_eq!(check(req.as_bytes()), Err(err), "{req}");
            assert_eq!(err.status(), status);
        }
    }

    #[test]
    fn response_bytes() {
        let accept = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        let mut out = [0u8; 160];
        let n = write_switching_protocols(&accept, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"[..]
        );
        assert_eq!(write_switching_protocols(&accept, &mut out[..50]), None);
        let mut out = [0u8; 160 + 9];
        let n = write_switching_protocols_with(&accept, Some("pinsocket"), &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: pinsocket\r\n\r\n"[..]
        );
    }

    #[test]
    fn protocol_is_the_servers_first_choice_among_the_offered() {
        let req = b"GET / HTTP/1.1\r\nSec-WebSocket-Protocol: chat, pinsocket\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n";
        let mut headers = [EMPTY_HEADER; 4];
        let (req, _) = parse_request(req, &mut headers, &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            select_protocol(&req, &["pinsocket", "chat"]),
            Some("pinsocket")
        );
        assert_eq!(select_protocol(&req, &["mqtt"]), Some("mqtt"));
        assert_eq!(select_protocol(&req, &["other"]), None);
        assert_eq!(select_protocol(&req, &[]), None);
    }

    #[test]
    fn protocol_names_are_matched_exactly_case_included() {
        let req = b"GET / HTTP/1.1\r\nSec-WebSocket-Protocol: PINSOCKET, Chat\r\n\r\n";
        let mut headers = [EMPTY_HEADER; 4];
        let (req, _) = parse_request(req, &mut headers, &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(select_protocol(&req, &["pinsocket", "chat"]), None);
        assert_eq!(select_protocol(&req, &["chat", "Chat"]), Some("Chat"));
        assert_eq!(select_protocol(&req, &["PINSOCKET"]), Some("PINSOCKET"));
    }

    #[test]
    fn a_repeated_host_is_refused() {
        let twice = replace("Host: server.example.com\r\n", "Host: a\r\nHost: b\r\n");
        assert_eq!(check(twice.as_bytes()), Err(HandshakeError::MissingHost));
        let bad = replace("Host: server.example.com", "Host: a b");
        assert_eq!(check(bad.as_bytes()), Err(HandshakeError::MissingHost));
    }
}
