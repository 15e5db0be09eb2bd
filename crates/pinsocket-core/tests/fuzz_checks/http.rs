//! The `request_head` target: `parse_request`, the header helpers and
//! `validate_upgrade` on arbitrary bytes.
//!
//! Input: a byte choosing the number of header slots (modulo 33), a byte
//! choosing the limits (high bit clear: the defaults; else indexes into
//! [`HEAD_LENS`] and [`URI_LENS`]), then the bytes received.

use pinsocket_core::{
    Body, EMPTY_HEADER, HeadLimits, HttpError, RequestHead, accept_key, is_upgrade_request,
    parse_request, select_protocol, validate_upgrade, write_switching_protocols,
    write_switching_protocols_with,
};

use super::sample_prefixes;

/// `max_head_len` choices.
pub(crate) const HEAD_LENS: [usize; 8] = [16, 32, 64, 100, 256, 1000, 8192, usize::MAX];
/// `max_uri_len` choices.
pub(crate) const URI_LENS: [usize; 8] = [0, 1, 8, 30, 100, 512, 2048, usize::MAX];

/// Header names the helpers are asked about, besides those in the request.
const NAMES: [&str; 9] = [
    "host",
    "Connection",
    "UPGRADE",
    "sec-websocket-key",
    "Sec-WebSocket-Version",
    "content-length",
    "transfer-encoding",
    "x-missing",
    "",
];

/// Subprotocols the server supports, in its order of preference.
const SUPPORTED: [&str; 3] = ["pinsocket", "chat", "mqtt"];

/// Tokens `has_token` is asked about.
const TOKENS: [&str; 6] = ["upgrade", "websocket", "close", "keep-alive", "", "a,b"];

fn limits(selector: u8) -> HeadLimits {
    if selector & 0x80 == 0 {
        HeadLimits::default()
    } else {
        HeadLimits {
            max_head_len: HEAD_LENS[usize::from(selector & 7)],
            max_uri_len: URI_LENS[usize::from((selector >> 3) & 7)],
        }
    }
}

/// Parses with `slots` header slots; the head's length if complete.
fn parse(buf: &[u8], slots: usize, limits: &HeadLimits) -> Result<Option<usize>, HttpError> {
    let mut headers = vec![EMPTY_HEADER; slots];
    parse_request(buf, &mut headers, limits).map(|r| r.map(|(_, n)| n))
}

/// Runs the `request_head` target's checks on one fuzz input.
pub(crate) fn check_request_head(data: &[u8]) {
    let [slots, selector, buf @ ..] = data else {
        return;
    };
    let slots = usize::from(*slots % 33);
    let limits = limits(*selector);
    let mut headers = vec![EMPTY_HEADER; slots];
    let full = match parse_request(buf, &mut headers, &limits) {
        Ok(Some((req, n))) => {
            check_head(&req, n, buf, slots, &limits);
            Ok(Some(n))
        }
        Ok(None) => {
            assert!(buf.len() < limits.max_head_len, "incomplete past the limit");
            Ok(None)
        }
        Err(e) => {
            assert!(matches!(e.status(), 400 | 414 | 431 | 505), "{e:?}");
            Err(e)
        }
    };
    // Splitting the input must not matter: a prefix of a complete head is
    // incomplete, a prefix of an incomplete head too, and a prefix of a bad
    // head is incomplete or bad.
    for p in sample_prefixes(buf.len(), 64) {
        let part = parse(&buf[..p], slots, &limits);
        match full {
            Ok(Some(n)) if p >= n => assert_eq!(part, Ok(Some(n)), "prefix {p}"),
            Ok(_) => assert_eq!(part, Ok(None), "prefix {p} of {full:?}"),
            Err(_) => assert!(!matches!(part, Ok(Some(_))), "prefix {p} of {full:?}"),
        }
    }
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

fn check_head(req: &RequestHead<'_, '_>, n: usize, buf: &[u8], slots: usize, limits: &HeadLimits) {
    assert!(n <= buf.len() && n <= limits.max_head_len, "length {n}");
    assert!(buf[..n].ends_with(b"\n"), "a head ends with a blank line");
    assert!(
        req.target.len() <= limits.max_uri_len,
        "target over the limit"
    );
    assert!(!req.method.is_empty() && !req.target.is_empty());
    assert!(req.minor_version <= 1);
    assert!(req.headers.len() <= slots);
    // The head does not depend on what follows it, nor on spare slots.
    assert_eq!(parse(&buf[..n], slots, limits), Ok(Some(n)));
    assert_eq!(parse(buf, slots + 8, limits), Ok(Some(n)));

    let names = req.headers.iter().map(|h| h.name).chain(NAMES);
    for name in names {
        let first = req.headers_named(name).next();
        assert_eq!(req.header(name), first, "header({name:?})");
        assert_eq!(req.header(&name.to_ascii_uppercase()), first);
        for token in TOKENS {
            let has = req.has_token(name, token);
            assert!(!has || first.is_some(), "a token in no header");
            assert_eq!(has, req.has_token(&name.to_ascii_lowercase(), token));
            assert_eq!(has, req.has_token(name, &token.to_ascii_uppercase()));
        }
    }
    check_host(req);
    let keep_alive = req.keep_alive();
    if req.header("connection").is_none() {
        assert_eq!(keep_alive, req.minor_version == 1);
    }
    match req.body() {
        Ok(Some(Body::Chunked)) => assert!(req.header("transfer-encoding").is_some()),
        Ok(Some(Body::Length(len))) => {
            assert!(len > 0);
            assert!(req.header("transfer-encoding").is_none());
            let digits = len.to_string();
            assert!(
                req.headers_named("content-length")
                    .all(|v| v.windows(digits.len()).any(|w| w == digits.as_bytes())),
                "length {len} from nowhere"
            );
        }
        Ok(None) => assert!(req.header("transfer-encoding").is_none()),
        Ok(Some(other)) => panic!("a body this check does not know: {other:?}"),
        Err(e) => assert_eq!(e, HttpError::BadRequest),
    }
    check_upgrade(req);
}

/// `host()` agrees with the Host lines: one valid line (none for HTTP/1.0)
/// or a 400.
fn check_host(req: &RequestHead<'_, '_>) {
    let lines: Vec<&[u8]> = req.headers_named("host").collect();
    match req.host() {
        Ok(Some(value)) => {
            assert_eq!(lines.len(), 1);
            assert_eq!(value, trim(lines[0]));
            assert!(
                value
                    .iter()
                    .all(|&b| b.is_ascii_graphic() && !b"/?#@\"<>\\^`{|}".contains(&b)),
                "a Host with a byte no host has: {value:?}"
            );
        }
        Ok(None) => {
            assert!(lines.is_empty());
            assert_eq!(req.minor_version, 0, "HTTP/1.1 without Host accepted");
        }
        Err(e) => {
            assert_eq!(e, HttpError::BadHost);
            assert_eq!(e.status(), 400);
            assert!(
                lines.len() != 1 || trim(lines[0]).iter().any(|&b| !b.is_ascii_alphanumeric()),
                "a plain name refused: {lines:?}"
            );
            assert!(!lines.is_empty() || req.minor_version == 1);
        }
    }
}

fn check_upgrade(req: &RequestHead<'_, '_>) {
    let upgrade = is_upgrade_request(req);
    assert_eq!(upgrade, req.has_token("upgrade", "websocket"));
    let accept = match validate_upgrade(req) {
        Ok(accept) => accept,
        Err(e) => {
            assert!(matches!(e.status(), 400 | 405 | 426), "{e:?}");
            return;
        }
    };
    assert!(upgrade, "accepted without Upgrade: websocket");
    assert_eq!(req.method, "GET");
    assert_eq!(req.minor_version, 1);
    assert!(
        matches!(req.host(), Ok(Some(_))),
        "upgrade without one valid Host"
    );
    assert!(req.has_token("connection", "upgrade"));
    let versions: Vec<&[u8]> = req.headers_named("sec-websocket-version").collect();
    assert_eq!(versions.len(), 1);
    assert_eq!(trim(versions[0]), b"13");
    let keys: Vec<&[u8]> = req.headers_named("sec-websocket-key").collect();
    assert_eq!(keys.len(), 1);
    let key = trim(keys[0]);
    assert_eq!(key.len(), 24, "a 16-byte key is 24 base64 characters");
    assert_eq!(accept, accept_key(key));
    let text = accept.as_str();
    assert_eq!(text.len(), 28);
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    );

    let mut out = [0u8; 160];
    let n = write_switching_protocols(&accept, &mut out).expect("160 bytes suffice");
    assert_eq!(write_switching_protocols(&accept, &mut out[..n - 1]), None);
    assert_eq!(write_switching_protocols(&accept, &mut []), None);
    check_response(&out[..n], text, None);

    let protocol = select_protocol(req, &SUPPORTED);
    // Chosen exactly as offered (RFC 6455 §4.2.2), case included.
    let offered: Vec<&[u8]> = req
        .headers_named("sec-websocket-protocol")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim)
        .collect();
    let first_offered = SUPPORTED
        .iter()
        .copied()
        .find(|p| offered.contains(&p.as_bytes()));
    assert_eq!(protocol, first_offered);
    let mut out = vec![0u8; 160 + protocol.map_or(0, str::len)];
    let n = write_switching_protocols_with(&accept, protocol, &mut out)
        .expect("160 bytes and the protocol suffice");
    assert_eq!(
        write_switching_protocols_with(&accept, protocol, &mut out[..n - 1]),
        None
    );
    check_response(&out[..n], text, protocol);
}

/// A 101 response, complete, with the accept key and protocol given.
fn check_response(response: &[u8], accept: &str, protocol: Option<&str>) {
    let mut headers = [httparse::EMPTY_HEADER; 8];
    let mut resp = httparse::Response::new(&mut headers);
    let n = response.len();
    assert_eq!(resp.parse(response), Ok(httparse::Status::Complete(n)));
    assert_eq!(resp.code, Some(101));
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    assert_eq!(header("sec-websocket-accept"), Some(accept.as_bytes()));
    assert_eq!(header("upgrade"), Some(&b"websocket"[..]));
    assert_eq!(
        header("sec-websocket-protocol"),
        protocol.map(str::as_bytes)
    );
}
