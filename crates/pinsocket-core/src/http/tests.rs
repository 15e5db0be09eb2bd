//! Unit tests of request-head parsing and the header questions.

extern crate std;
use super::*;
use httparse::EMPTY_HEADER;
use std::vec::Vec;

fn parse(buf: &[u8]) -> Result<Option<usize>, HttpError> {
    let mut headers = [EMPTY_HEADER; 8];
    parse_request(buf, &mut headers, &HeadLimits::default()).map(|r| r.map(|(_, n)| n))
}

#[test]
fn parses_a_get() {
    let buf = b"GET /led.html?x=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\nrest";
    let mut headers = [EMPTY_HEADER; 8];
    let (req, n) = parse_request(buf, &mut headers, &HeadLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(n, buf.len() - 4);
    assert_eq!(req.method, "GET");
    assert_eq!(req.target, "/led.html?x=1");
    assert_eq!(req.minor_version, 1);
    assert_eq!(req.header("HOST"), Some(&b"a"[..]));
    assert!(req.keep_alive());
}

#[test]
fn partial_head_needs_more() {
    let buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for cut in 0..buf.len() {
        assert_eq!(parse(&buf[..cut]), Ok(None), "cut {cut}");
    }
}

#[test]
fn malformed_request_line_is_400() {
    assert_eq!(parse(b"GET\r\n\r\n"), Err(HttpError::BadRequest));
    assert_eq!(parse(b"G@T / HTTP/1.1\r\n\r\n"), Err(HttpError::BadRequest));
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
        Err(HttpError::BadRequest)
    );
    assert_eq!(HttpError::BadRequest.status(), 400);
}

#[test]
fn too_many_headers_is_431() {
    let mut buf = Vec::from(&b"GET / HTTP/1.1\r\n"[..]);
    for i in 0..9 {
        buf.extend_from_slice(std::format!("X-{i}: v\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
    assert_eq!(parse(&buf), Err(HttpError::HeadersTooLarge));
    assert_eq!(HttpError::HeadersTooLarge.status(), 431);
}

#[test]
fn oversized_head_is_431() {
    let mut buf = Vec::from(&b"GET / HTTP/1.1\r\nX-Big: "[..]);
    buf.resize(9000, b'a');
    assert_eq!(parse(&buf), Err(HttpError::HeadersTooLarge));
}

#[test]
fn long_uri_is_414_even_before_the_head_ends() {
    let mut buf = Vec::from(&b"GET /"[..]);
    buf.resize(3000, b'a');
    assert_eq!(parse(&buf), Err(HttpError::UriTooLong));
    let mut buf = Vec::from(&b"GET /"[..]);
    buf.resize(2060, b'a');
    buf.extend_from_slice(b" HTTP/1.1\r\n\r\n");
    assert_eq!(parse(&buf), Err(HttpError::UriTooLong));
    assert_eq!(HttpError::UriTooLong.status(), 414);
}

#[test]
fn other_versions_are_505() {
    assert_eq!(
        parse(b"GET / HTTP/2.0\r\n\r\n"),
        Err(HttpError::VersionNotSupported)
    );
    assert_eq!(
        parse(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        Err(HttpError::VersionNotSupported)
    );
    assert_eq!(HttpError::VersionNotSupported.status(), 505);
}

#[test]
fn tokens_in_lists() {
    let buf = b"GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nupgrade: h2c\r\nUpgrade:  WebSocket \r\n\r\n";
    let mut headers = [EMPTY_HEADER; 8];
    let (req, _) = parse_request(buf, &mut headers, &HeadLimits::default())
        .unwrap()
        .unwrap();
    assert!(req.has_token("connection", "upgrade"));
    assert!(req.has_token("Upgrade", "websocket"));
    assert!(!req.has_token("connection", "close"));
    assert!(!req.has_token("upgrade", "websock"));
}

#[test]
fn keep_alive_defaults_by_version() {
    let cases: [(&[u8], bool); 4] = [
        (b"GET / HTTP/1.1\r\n\r\n", true),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
    ];
    for (buf, expected) in cases {
        let mut headers = [EMPTY_HEADER; 8];
        let (req, _) = parse_request(buf, &mut headers, &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(req.keep_alive(), expected);
    }
}

#[test]
fn host_count_and_syntax_follow_rfc_9112() {
    fn host(buf: &[u8]) -> Result<Option<&[u8]>, HttpError> {
        let mut headers = [EMPTY_HEADER; 8];
        let (req, _) = parse_request(buf, &mut headers, &HeadLimits::default())
            .unwrap()
            .unwrap();
        req.host()
    }
    type Case = (&'static [u8], Result<Option<&'static [u8]>, HttpError>);
    let cases: [Case; 16] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", Ok(Some(b"a"))),
        (
            b"GET / HTTP/1.1\r\nhost:  a.b:80 \r\n\r\n",
            Ok(Some(b"a.b:80")),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
            Ok(Some(b"[::1]:8080")),
        ),
        (b"GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", Ok(Some(b"[::1]"))),
        (
            b"GET / HTTP/1.1\r\nHost: 10.0.0.1:\r\n\r\n",
            Ok(Some(b"10.0.0.1:")),
        ),
        (b"GET / HTTP/1.1\r\nHost:\r\n\r\n", Ok(Some(b""))),
        (b"GET / HTTP/1.0\r\n\r\n", Ok(None)),
        (b"GET / HTTP/1.0\r\nHost: a\r\n\r\n", Ok(Some(b"a"))),
        (b"GET / HTTP/1.1\r\n\r\n", Err(HttpError::BadHost)),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
            Err(HttpError::BadHost),
        ),
        (
            b"GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n",
            Err(HttpError::BadHost),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            Err(HttpError::BadHost),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
            Err(HttpError::BadHost),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n",
            Err(HttpError::BadHost),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
            Err(HttpError::BadHost),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
            Err(HttpError::BadHost),
        ),
    ];
    for (buf, expected) in cases {
        assert_eq!(
            host(buf),
            expected,
            "{}",
            std::string::String::from_utf8_lossy(buf)
        );
    }
    assert_eq!(HttpError::BadHost.status(), 400);
}

#[test]
fn body_framing() {
    type Case = (&'static [u8], Result<Option<Body>, HttpError>);
    let cases: [Case; 6] = [
        (b"GET / HTTP/1.1\r\n\r\n", Ok(None)),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
            Ok(Some(Body::Length(5))),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
            Ok(Some(Body::Length(5))),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            Err(HttpError::BadRequest),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            Err(HttpError::BadRequest),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            Ok(Some(Body::Chunked)),
        ),
    ];
    for (buf, expected) in cases {
        let mut headers = [EMPTY_HEADER; 8];
        let (req, _) = parse_request(buf, &mut headers, &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(req.body(), expected);
    }
}
