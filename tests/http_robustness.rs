//! HTTP/1.1 robustness over raw TCP: malformed request lines and headers,
//! the head and target limits (431, 414), HTTP/1.0, HTTP/2 prefaces and
//! h2c upgrades, request bodies on static routes (kept in step or the
//! connection closed, never parsed as requests), pipelining, slow heads
//! (slowloris), half-closed connections and the keep-alive idle timeout.
//!
//! Each case asserts the exact status, whether the connection stays open,
//! and, where a timeout decides, that it ends no earlier than the timeout,
//! measured from an instant certainly before the server starts its clock.
//! How much later it ends depends on the machine's load and is not
//! asserted: instead, the other timeout is set beyond any wait of the test,
//! so an end within the wait shows which timeout it was.
//!
//! One malformed request line, one oversized header, one long target,
//! HTTP/2.0 as a version, three pipelined requests and HTTP/1.0 keep-alive
//! are in `tests/static_files.rs`; this file covers the rest.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{
    HttpConn, OP_TEXT, RawWs, Response, SWITCHING_PROTOCOLS, WAIT, any_port, client_frame,
    echo_builder, get, server_frame, upgrade_request, wait_all_gone, within,
};
use pinsocket::{RunningServer, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const HEADER_TIMEOUT: Duration = Duration::from_millis(300);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_millis(500);
/// A timeout never reached in a passing test: longer than any of its
/// waits, so a connection that ends within one was not ended by this.
const NEVER: Duration = Duration::from_secs(60);
const _: () = assert!(WAIT.as_secs() < NEVER.as_secs());

/// The built-in pages with the given head and keep-alive timeouts.
fn server_with(header_timeout: Duration, keep_alive_timeout: Duration) -> RunningServer {
    Server::new()
        .bind(any_port())
        .header_timeout(header_timeout)
        .keep_alive_timeout(keep_alive_timeout)
        .start()
        .unwrap()
}

/// The built-in pages, for the tests of anything but timeouts: none of
/// its timeouts can end a connection while the test runs, however slow
/// the machine.
fn server() -> RunningServer {
    server_with(NEVER, NEVER)
}

use common::builtin_page as page;

/// Sends `raw` on a new connection, reads one response with the `status`,
/// then asserts the server closes the connection with nothing more.
async fn answered_then_closed(addr: SocketAddr, what: &str, raw: &[u8], status: u16) -> Response {
    let mut conn = HttpConn::connect(addr).await;
    conn.send(raw).await;
    let response = conn.response(false).await;
    assert_eq!(response.status, status, "{what}:\n{}", response.head);
    assert_eq!(response.header("connection"), Some("close"), "{what}");
    conn.expect_eof().await;
    response
}

#[tokio::test]
async fn malformed_requests_are_400_and_closed() {
    let server = server();
    let addr = server.local_addr();
    let cases: &[(&str, &[u8])] = &[
        ("no target", b"GET\r\n\r\n"),
        (
            "a third word after the version",
            b"GET / HTTP/1.1 x\r\n\r\n",
        ),
        ("leading space", b" GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("no version", b"GET /\r\n\r\n"),
        ("two spaces", b"GET  / HTTP/1.1\r\n\r\n"),
        ("tab separator", b"GET\t/ HTTP/1.1\r\n\r\n"),
        ("obs-fold", b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"),
        ("bare CR", b"GET / HTTP/1.1\rHost: x\r\r"),
        ("control byte in the target", b"GET /\x01 HTTP/1.1\r\n\r\n"),
        ("DEL in the target", b"GET /\x7f HTTP/1.1\r\n\r\n"),
        ("NUL in the method", b"G\0T / HTTP/1.1\r\n\r\n"),
        (
            "header without a colon",
            b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
        ),
        (
            "space in a header name",
            b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
        ),
        (
            "space before the colon",
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        ),
        ("empty header name", b"GET / HTTP/1.1\r\n: x\r\n\r\n"),
        (
            "NUL in a header value",
            b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
        ),
        (
            "a response instead of a request",
            b"HTTP/1.1 200 OK\r\n\r\n",
        ),
        (
            "a TLS ClientHello",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\r\n\r\n",
        ),
    ];
    for (what, raw) in cases {
        answered_then_closed(addr, what, raw, 400).await;
    }
    // Invalid framing of a body is 400 too.
    for value in ["abc", "-1", "5, 6", "1e3", " ", "99999999999999999999"] {
        let raw = format!("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nhello");
        answered_then_closed(
            addr,
            &format!("Content-Length: {value}"),
            raw.as_bytes(),
            400,
        )
        .await;
    }
    let raw = b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    answered_then_closed(addr, "two different Content-Lengths", raw, 400).await;
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn malformed_version_tokens_are_400_not_505() {
    // 505 is for a well-formed version the server does not speak (RFC 9110
    // §15.6.6); a request line that does not parse is 400 (RFC 9112 §3).
    let server = server();
    let addr = server.local_addr();
    for (what, raw) in [
        ("space inside the target", &b"GET /a b HTTP/1.1\r\n\r\n"[..]),
        ("lowercase version", b"GET / http/1.1\r\n\r\n"),
        ("garbage version", b"GET / xyz\r\n\r\n"),
    ] {
        answered_then_closed(addr, what, raw, 400).await;
    }
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn tolerated_variations_are_served() {
    // What RFC 9112 lets a server accept: bare LF line ends (§2.2) and
    // empty lines before the request line (§2.2). Methods are
    // case-sensitive: "get" is a method this server does not serve.
    let server = server();
    let addr = server.local_addr();
    for (what, raw, status) in [
        ("bare LF", &b"GET / HTTP/1.1\nHost: x\n\n"[..], 200),
        (
            "empty line first",
            b"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
            200,
        ),
        (
            "non-ASCII target",
            "GET /é HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes(),
            404,
        ),
        (
            "percent-encoded non-ASCII target",
            b"GET /%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n",
            404,
        ),
    ] {
        let mut conn = HttpConn::connect(addr).await;
        conn.send(raw).await;
        let response = conn.response(false).await;
        assert_eq!(response.status, status, "{what}:\n{}", response.head);
        // Kept open: a second request on it is answered.
        conn.send(&get("/")).await;
        assert_eq!(
            conn.response(false).await.body,
            page("index.html"),
            "{what}"
        );
    }
    let raw = b"get / HTTP/1.1\r\nHost: x\r\n\r\n";
    let response = answered_then_closed(addr, "lowercase method", raw, 405).await;
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

/// A GET head of exactly `len` bytes, padded with one `X-Pad` header.
fn head_of_len(len: usize) -> Vec<u8> {
    let start = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: ";
    let pad = len - start.len() - 4;
    format!("{start}{}\r\n\r\n", "p".repeat(pad)).into_bytes()
}

#[tokio::test]
async fn header_sections_over_the_limits_are_431() {
    let server = server();
    let addr = server.local_addr();
    // The head limit is 8 KiB, status line and final blank line included.
    let at_limit = head_of_len(8192);
    assert_eq!(at_limit.len(), 8192);
    let mut conn = HttpConn::connect(addr).await;
    conn.send(&at_limit).await;
    assert_eq!(conn.response(false).await.status, 200);
    drop(conn);
    answered_then_closed(addr, "8193-byte head", &head_of_len(8193), 431).await;

    // Many small headers adding up to more than 8 KiB.
    let mut raw = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..40 {
        raw.extend(format!("X-H{i}: {}\r\n", "v".repeat(220)).bytes());
    }
    raw.extend(b"\r\n");
    answered_then_closed(addr, "40 headers of 230 bytes", &raw, 431).await;

    // At most 64 header lines.
    let lines = |n: usize| {
        // Host is one of the lines (HTTP/1.1 requires it).
        let mut raw = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 1..n {
            raw.extend(format!("X-{i}: {i}\r\n").bytes());
        }
        raw.extend(b"\r\n");
        raw
    };
    let mut conn = HttpConn::connect(addr).await;
    conn.send(&lines(64)).await;
    assert_eq!(conn.response(false).await.status, 200);
    drop(conn);
    answered_then_closed(addr, "65 header lines", &lines(65), 431).await;

    // A head that never ends is refused as soon as it passes the limit,
    // not at the header timeout: the 431 comes within the test's waits,
    // all far shorter than that timeout.
    const SLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
    const _: () = assert!(WAIT.as_secs() < SLOW_HEADER_TIMEOUT.as_secs());
    let server_slow = Server::new()
        .bind(any_port())
        .header_timeout(SLOW_HEADER_TIMEOUT)
        .start()
        .unwrap();
    let mut raw = b"GET / HTTP/1.1\r\nX-Endless: ".to_vec();
    raw.resize(20_000, b'e');
    answered_then_closed(server_slow.local_addr(), "endless header", &raw, 431).await;

    wait_all_gone(&server, WAIT).await;
    server.shutdown();
    server_slow.shutdown();
}

#[tokio::test]
async fn targets_over_2_kib_are_414() {
    let server = server();
    let addr = server.local_addr();
    let target = |len: usize| format!("/{}", "t".repeat(len - 1));
    // Exactly at the limit: looked up (and not found), the connection kept.
    let mut conn = HttpConn::connect(addr).await;
    conn.send(format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", target(2048)).as_bytes())
        .await;
    let response = conn.response(false).await;
    assert_eq!(response.status, 404);
    conn.send(&get("/")).await;
    assert_eq!(conn.response(false).await.body, page("index.html"));
    drop(conn);
    let raw = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", target(2049));
    answered_then_closed(addr, "2049-byte target", raw.as_bytes(), 414).await;
    // A request line that never ends is refused once it is too long.
    let raw = format!("GET {}", target(4000));
    answered_then_closed(addr, "endless request line", raw.as_bytes(), 414).await;
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn other_http_versions_are_answered_sanely() {
    let server = echo_builder()
        .header_timeout(NEVER)
        .keep_alive_timeout(NEVER)
        .start()
        .unwrap();
    let addr = server.local_addr();
    // The HTTP/2 connection preface (prior knowledge), with a SETTINGS frame.
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00");
    answered_then_closed(addr, "HTTP/2 preface", &preface, 505).await;
    for version in ["HTTP/1.2", "HTTP/2", "HTTP/3.0", "HTTP/0.9"] {
        let raw = format!("GET / {version}\r\nHost: x\r\n\r\n");
        answered_then_closed(addr, version, raw.as_bytes(), 505).await;
    }
    // An HTTP/1.1 request asking to upgrade to h2c is served as HTTP/1.1.
    let mut conn = HttpConn::connect(addr).await;
    conn.send(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    )
    .await;
    let response = conn.response(false).await;
    assert_eq!(
        (response.status, response.body.as_slice()),
        (200, page("index.html"))
    );
    conn.send(&get("/led.html")).await;
    assert_eq!(conn.response(false).await.body, page("led.html"));
    conn.expect_eof().await;
    drop(conn);
    // A WebSocket upgrade must be HTTP/1.1 (RFC 6455 §4.1).
    let old = String::from_utf8(upgrade_request("/"))
        .unwrap()
        .replace("HTTP/1.1", "HTTP/1.0");
    answered_then_closed(addr, "HTTP/1.0 upgrade", old.as_bytes(), 400).await;
    assert!(server.clients().is_empty());
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn small_bodies_on_static_routes_are_read_and_skipped() {
    let server = server();
    let mut conn = HttpConn::connect(server.local_addr()).await;
    // Each body looks like a request: it must never be answered as one.
    let smuggled = "GET /wstest.html HTTP/1.1\r\nHost: x\r\n\r\n";
    let big = smuggled.repeat(65_536 / smuggled.len() + 1)[..65_536].to_owned();
    let mut raw = Vec::new();
    raw.extend(
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{smuggled}",
            smuggled.len()
        )
        .bytes(),
    );
    raw.extend(b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n12345");
    raw.extend(b"GET /missing HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    // The largest body that is read and skipped: 64 KiB.
    raw.extend(
        format!("GET /led.html HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n{big}").bytes(),
    );
    raw.extend(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    conn.send(&raw).await;
    assert_eq!(conn.response(false).await.body, page("index.html"));
    let head = conn.response(true).await;
    assert_eq!((head.status, head.header("connection")), (200, None));
    assert_eq!(conn.response(false).await.status, 404);
    assert_eq!(conn.response(false).await.body, page("led.html"));
    assert_eq!(conn.response(false).await.body, page("index.html"));
    conn.expect_eof().await;
    drop(conn);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn large_or_chunked_bodies_end_the_connection_after_the_response() {
    let server = server();
    let addr = server.local_addr();
    let smuggled = "GET /wstest.html HTTP/1.1\r\nHost: x\r\n\r\n";
    let cases = [
        (
            "body of 64 KiB + 1",
            format!("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n{smuggled}"),
        ),
        (
            "chunked",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}"
            ),
        ),
        (
            "chunked and Content-Length",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
                 0\r\n\r\n{smuggled}"
            ),
        ),
    ];
    for (what, raw) in cases {
        // One response, marked as the last; what follows is never answered.
        let response = answered_then_closed(addr, what, raw.as_bytes(), 200).await;
        assert_eq!(response.body, page("index.html"), "{what}");
    }
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408_at_the_header_timeout() {
    let server = server_with(HEADER_TIMEOUT, NEVER);
    let mut conn = HttpConn::connect(server.local_addr()).await;
    // Before sending: the server's clock for the body starts once it has
    // read the head, certainly later.
    let start = Instant::now();
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .await;
    // The request never completed: 408, then the connection ends.
    let response = conn.response(false).await;
    let waited = start.elapsed();
    assert_eq!(response.status, 408, "{}", response.head);
    assert_eq!(response.header("connection"), Some("close"));
    conn.expect_eof().await;
    assert!(waited >= HEADER_TIMEOUT, "{waited:?}");
    drop(conn);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn many_pipelined_requests_are_answered_in_order() {
    let server = server();
    let mut conn = HttpConn::connect(server.local_addr()).await;
    let paths = ["/", "/led.html", "/missing", "/wstest.html"];
    let mut raw = Vec::new();
    for i in 0..100 {
        let method = if i % 5 == 4 { "HEAD" } else { "GET" };
        let close = if i == 99 { "Connection: close\r\n" } else { "" };
        raw.extend(
            format!(
                "{method} {} HTTP/1.1\r\nHost: x\r\n{close}\r\n",
                paths[i % 4]
            )
            .bytes(),
        );
    }
    conn.send(&raw).await;
    for i in 0..100 {
        let head_only = i % 5 == 4;
        let response = conn.response(head_only).await;
        let path = paths[i % 4];
        if path == "/missing" {
            assert_eq!(response.status, 404, "#{i}");
        } else {
            let body = page(if path == "/" {
                "index.html"
            } else {
                &path[1..]
            });
            assert_eq!(response.status, 200, "#{i}");
            if head_only {
                assert_eq!(
                    response.header("content-length"),
                    Some(body.len().to_string().as_str())
                );
            } else {
                assert!(response.body == body, "#{i}: body of {path}");
            }
        }
    }
    conn.expect_eof().await;
    drop(conn);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn a_malformed_request_in_a_pipeline_ends_it() {
    let server = server();
    let mut conn = HttpConn::connect(server.local_addr()).await;
    conn.send(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /led.html HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(conn.response(false).await.body, page("index.html"));
    let bad = conn.response(false).await;
    assert_eq!((bad.status, bad.header("connection")), (400, Some("close")));
    conn.expect_eof().await;
    drop(conn);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn a_request_then_an_upgrade_then_frames_in_one_write() {
    let server = echo_builder().start().unwrap();
    let mut ws = RawWs::tcp(server.local_addr()).await;
    let mut raw = b"GET /led.html HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    raw.extend(upgrade_request("/"));
    raw.extend(client_frame(OP_TEXT, b"right after"));
    ws.write(&raw).await;
    // The page, whole...
    let mut http = HttpConn {
        stream: ws.stream,
        buf: Vec::new(),
    };
    assert_eq!(http.response(false).await.body, page("led.html"));
    // ...then the switch, and the echo of the frame that came with it.
    ws = RawWs {
        stream: http.stream,
        buf: http.buf,
    };
    ws.expect_bytes(SWITCHING_PROTOCOLS).await;
    ws.expect_bytes(&server_frame(OP_TEXT, b"right after"))
        .await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_header_timeout() {
    // The keep-alive timeout is beyond the wait for the end of stream: it
    // cannot be the one that ends the connection.
    let server = server_with(HEADER_TIMEOUT, NEVER);
    // Before connecting: the server's clock starts once it has accepted
    // the connection, certainly later.
    let start = Instant::now();
    let mut conn = HttpConn::connect(server.local_addr()).await;
    conn.expect_eof().await;
    let waited = start.elapsed();
    assert!(waited >= HEADER_TIMEOUT, "{waited:?}");
    drop(conn);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

/// Writes `bytes` one at a time, `gap` apart, until done or the server
/// stops taking them.
async fn trickle(mut writer: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>, gap: Duration) {
    for byte in bytes {
        if writer.write_all(&[byte]).await.is_err() {
            return;
        }
        // Pacing, not a wait for an outcome: at least `gap` between bytes.
        tokio::time::sleep(gap).await;
    }
}

#[tokio::test]
async fn a_slowloris_head_gets_408_at_the_header_timeout() {
    let server = server_with(HEADER_TIMEOUT, NEVER);
    let stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    let (mut reader, writer) = stream.into_split();
    // One byte every 20 ms or more: never idle for long, but the head takes
    // at least 1.5 s.
    let head = get("/")
        .into_iter()
        .chain(b"X-Slow: ".repeat(4))
        .collect::<Vec<u8>>();
    assert!(head.len() * 20 > 1000);
    // Before the first byte, from which the server's clock runs.
    let start = Instant::now();
    let writing = tokio::spawn(trickle(writer, head, Duration::from_millis(20)));
    let mut response = Vec::new();
    within("408 and end of stream", reader.read_to_end(&mut response))
        .await
        .unwrap();
    let waited = start.elapsed();
    let response = String::from_utf8(response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{response}"
    );
    assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
    assert!(waited >= HEADER_TIMEOUT, "{waited:?}");
    writing.abort();
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn a_slow_second_request_gets_408_from_its_first_byte() {
    // An idle keep-alive connection would be closed without a response;
    // the 408 shows it was the header timeout that ended this one.
    let server = server_with(HEADER_TIMEOUT, NEVER);
    let mut conn = HttpConn::connect(server.local_addr()).await;
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(conn.response(false).await.status, 200);
    // Half a head, then nothing. Timed from before sending it: the server's
    // clock starts once it has read the first byte, certainly later.
    let start = Instant::now();
    conn.send(b"GET /led.html HTTP/1.1\r\nHost: x\r\nX-Ha")
        .await;
    let response = conn.response(false).await;
    let waited = start.elapsed();
    assert_eq!(response.status, 408);
    assert!(waited >= HEADER_TIMEOUT, "{waited:?}");
    conn.expect_eof().await;
    drop(conn);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn half_closed_clients_get_their_answers() {
    let server = server();
    let addr = server.local_addr();
    // Two requests, then FIN: both answered, then the server closes.
    let mut conn = HttpConn::connect(addr).await;
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nHEAD /led.html HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    conn.stream.shutdown().await.unwrap();
    assert_eq!(conn.response(false).await.body, page("index.html"));
    assert_eq!(conn.response(true).await.status, 200);
    conn.expect_eof().await;
    drop(conn);
    // Half a head, then FIN: nothing to answer, closed at once. (The end
    // comes within the wait for it, and this server's header timeout is far
    // beyond that, so the FIN is what ended it.)
    let mut conn = HttpConn::connect(addr).await;
    conn.send(b"GET / HTTP/1.1\r\nHo").await;
    conn.stream.shutdown().await.unwrap();
    conn.expect_eof().await;
    drop(conn);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_at_the_keep_alive_timeout() {
    // The header timeout is beyond the wait for the end of stream: it
    // cannot be the one that ends the connection.
    let server = server_with(NEVER, KEEP_ALIVE_TIMEOUT);
    let mut conn = HttpConn::connect(server.local_addr()).await;
    // A request within the keep-alive timeout is served and restarts it:
    // six of them, a quarter of the timeout apart, outlast it. (A loaded
    // machine may stretch a pause; three quarters of the timeout are left
    // for that.)
    let mut last_sent = None;
    for i in 0..6 {
        if i > 0 {
            // Pacing, not waiting for an outcome: idle for less than the
            // timeout.
            tokio::time::sleep(KEEP_ALIVE_TIMEOUT / 4).await;
        }
        // Before sending: the server's idle clock starts once it has
        // answered, certainly later.
        last_sent = Some(Instant::now());
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(conn.response(false).await.body, page("index.html"));
    }
    conn.expect_eof().await;
    let waited = last_sent.unwrap().elapsed();
    assert!(waited >= KEEP_ALIVE_TIMEOUT, "{waited:?}");
    drop(conn);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}
