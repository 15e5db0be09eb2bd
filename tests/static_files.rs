//! Static files over raw TCP: the built-in pages, a web root folder,
//! conditional requests, HEAD, methods, keep-alive and pipelining, path
//! traversal attempts, and malformed or refused requests.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use common::builtin_page as page;
use common::{HttpConn, Response, TempDir, any_port, get, request};
use pinsocket::{RunningServer, Server};

const HTML: &str = "text/html; charset=utf-8";
const SECRET: &str = "TOP SECRET: must never be served";

fn builtin_server() -> RunningServer {
    Server::new().bind(any_port()).start().unwrap()
}

/// A web root in a temp folder:
///
/// ```text
/// base/secret.txt
/// base/www/index.html, app.js, style.css, sub/page.html
/// base/www/link-to-secret -> base/secret.txt
/// base/www/parent-link -> base
/// ```
struct Site {
    base: TempDir,
}

impl Site {
    fn new(tag: &str) -> Site {
        let base = TempDir::new(tag);
        let www = base.path().join("www");
        std::fs::create_dir_all(www.join("sub")).unwrap();
        std::fs::write(base.path().join("secret.txt"), SECRET).unwrap();
        std::fs::write(www.join("index.html"), "<h1>folder index</h1>").unwrap();
        std::fs::write(www.join("app.js"), "console.log(1);").unwrap();
        std::fs::write(www.join("style.css"), "body { color: red; }").unwrap();
        std::fs::write(www.join("sub/page.html"), "<p>sub page</p>").unwrap();
        std::os::unix::fs::symlink(base.path().join("secret.txt"), www.join("link-to-secret"))
            .unwrap();
        std::os::unix::fs::symlink(base.path(), www.join("parent-link")).unwrap();
        Site { base }
    }

    fn www(&self) -> std::path::PathBuf {
        self.base.path().join("www")
    }

    fn server(&self) -> RunningServer {
        Server::new()
            .bind(any_port())
            .web_root(self.www())
            .start()
            .unwrap()
    }
}

/// Asserts a 200 with the given type and exact body; returns its ETag.
fn assert_ok(response: &Response, content_type: &str, body: &[u8]) -> String {
    assert_eq!(response.status, 200, "{}", response.head);
    assert!(response.head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(response.header("content-type"), Some(content_type));
    assert_eq!(response.header("cache-control"), Some("no-cache"));
    assert_eq!(
        response.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        String::from_utf8_lossy(body)
    );
    let etag = response.header("etag").expect("no ETag").to_owned();
    assert!(
        etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "not a strong entity tag: {etag}"
    );
    etag
}

/// Sends `raw` on a new connection, reads one response and asserts the
/// server then closes the connection.
async fn request_then_eof(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut conn = HttpConn::connect(addr).await;
    conn.send(raw).await;
    let response = conn.response(raw.starts_with(b"HEAD ")).await;
    assert_eq!(
        response.header("connection"),
        Some("close"),
        "{}",
        response.head
    );
    conn.expect_eof().await;
    response
}

/// The headers that must match between a GET and a HEAD of the same file.
fn entity_headers(r: &Response) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("date"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn builtin_pages() {
    let server = builtin_server();
    let addr = server.local_addr();

    let index = request(addr, &get("/")).await;
    assert_ok(&index, HTML, page("index.html"));
    assert!(index.text().contains("pinsocket"));
    assert_eq!(index.header("server"), Some("pinsocket"));
    assert!(index.header("date").is_some_and(|d| d.ends_with(" GMT")));

    let led = request(addr, &get("/led.html")).await;
    assert_ok(&led, HTML, page("led.html"));
    assert!(led.text().contains("LEDon"));

    let wstest = request(addr, &get("/wstest.html")).await;
    assert_ok(&wstest, HTML, page("wstest.html"));
    assert!(wstest.text().contains("Hello world :)"));

    // Same page, same tag; different pages, different tags.
    let again = request(addr, &get("/index.html?v=2")).await;
    assert_eq!(again.header("etag"), index.header("etag"));
    assert_ne!(led.header("etag"), index.header("etag"));

    server.shutdown();
}

#[tokio::test]
async fn if_none_match() {
    let server = builtin_server();
    let addr = server.local_addr();
    let first = request(addr, &get("/led.html")).await;
    let etag = assert_ok(&first, HTML, page("led.html"));

    let conditional = |tag: &str| {
        format!(
            "GET /led.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: {tag}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()
    };
    let mut conn = HttpConn::connect(addr).await;
    conn.send(&conditional(&etag)).await;
    let not_modified = conn.response(false).await;
    assert_eq!(not_modified.status, 304, "{}", not_modified.head);
    assert!(
        not_modified
            .head
            .starts_with("HTTP/1.1 304 Not Modified\r\n")
    );
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    assert_eq!(not_modified.header("content-length"), None);
    // No body: nothing but the end of the stream follows the head.
    conn.expect_eof().await;
    drop(conn);

    let wrong = request(addr, &conditional("\"not-the-tag\"")).await;
    assert_ok(&wrong, HTML, page("led.html"));

    server.shutdown();
}

#[tokio::test]
async fn folder_content_types_and_fresh_etags() {
    let site = Site::new("types");
    let server = site.server();
    let addr = server.local_addr();

    let index = request(addr, &get("/")).await;
    assert_ok(&index, HTML, b"<h1>folder index</h1>");
    let js = request(addr, &get("/app.js")).await;
    let old_tag = assert_ok(&js, "text/javascript; charset=utf-8", b"console.log(1);");
    let css = request(addr, &get("/style.css")).await;
    assert_ok(&css, "text/css; charset=utf-8", b"body { color: red; }");
    let sub = request(addr, &get("/sub/page.html")).await;
    assert_ok(&sub, HTML, b"<p>sub page</p>");

    // The original served a stale page after the file changed; here the new
    // contents come with a new tag, even to a client holding the old one.
    std::fs::write(site.www().join("app.js"), "console.log('changed');").unwrap();
    let conditional = |tag: &str| {
        format!(
            "GET /app.js HTTP/1.1\r\nHost: x\r\nIf-None-Match: {tag}\r\nConnection: close\r\n\r\n"
        )
        .into_bytes()
    };
    let changed = request(addr, &conditional(&old_tag)).await;
    let new_tag = assert_ok(
        &changed,
        "text/javascript; charset=utf-8",
        b"console.log('changed');",
    );
    assert_ne!(new_tag, old_tag);
    let unchanged = request(addr, &conditional(&new_tag)).await;
    assert_eq!(unchanged.status, 304);
    assert_eq!(unchanged.header("etag"), Some(new_tag.as_str()));

    server.shutdown();
}

#[tokio::test]
async fn head_has_get_headers_and_no_body() {
    let site = Site::new("head");
    let server = site.server();
    let addr = server.local_addr();
    let builtin = builtin_server();

    for (addr, path) in [
        (addr, "/app.js"),
        (addr, "/"),
        (builtin.local_addr(), "/led.html"),
    ] {
        let got = request(addr, &get(path)).await;
        assert_eq!(got.status, 200);
        let head = request_then_eof(
            addr,
            format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert_eq!(head.status, 200, "{}", head.head);
        assert_eq!(entity_headers(&head), entity_headers(&got), "HEAD {path}");
        assert!(head.body.is_empty());
    }

    server.shutdown();
    builtin.shutdown();
}

#[tokio::test]
async fn head_of_missing_file_has_no_body() {
    let server = builtin_server();
    let head = request_then_eof(
        server.local_addr(),
        b"HEAD /missing.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(head.status, 404, "{}", head.head);
    server.shutdown();
}

#[tokio::test]
async fn missing_file_is_404_and_keeps_the_connection() {
    let server = builtin_server();
    let mut conn = HttpConn::connect(server.local_addr()).await;
    conn.send(b"GET /missing.html HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let missing = conn.response(false).await;
    assert_eq!(missing.status, 404);
    assert!(missing.head.starts_with("HTTP/1.1 404 Not Found\r\n"));
    assert_eq!(missing.text(), "not found\n");
    assert_eq!(
        missing.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(missing.header("connection"), None);

    conn.send(&get("/led.html")).await;
    assert_ok(&conn.response(false).await, HTML, page("led.html"));
    conn.expect_eof().await;
    drop(conn);
    server.shutdown();
}

#[tokio::test]
async fn other_methods_are_405() {
    let server = builtin_server();
    for method in ["POST", "PUT", "DELETE"] {
        let raw = format!("{method} /led.html HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
        let response = request_then_eof(server.local_addr(), raw.as_bytes()).await;
        assert_eq!(response.status, 405, "{method}");
        assert!(
            response
                .head
                .starts_with("HTTP/1.1 405 Method Not Allowed\r\n")
        );
        assert_eq!(response.header("allow"), Some("GET, HEAD"), "{method}");
    }
    server.shutdown();
}

#[tokio::test]
async fn keep_alive_serves_several_requests() {
    let server = builtin_server();
    let mut conn = HttpConn::connect(server.local_addr()).await;
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let first = conn.response(false).await;
    assert_ok(&first, HTML, page("index.html"));
    assert_eq!(first.header("connection"), None);
    conn.send(b"GET /led.html HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let second = conn.response(false).await;
    assert_ok(&second, HTML, page("led.html"));
    assert_eq!(second.header("connection"), None);
    drop(conn);
    server.shutdown();
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = builtin_server();
    let mut conn = HttpConn::connect(server.local_addr()).await;
    conn.send(
        b"GET /wstest.html HTTP/1.1\r\nHost: x\r\n\r\n\
          HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /led.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_ok(&conn.response(false).await, HTML, page("wstest.html"));
    let head = conn.response(true).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(page("index.html").len().to_string().as_str())
    );
    let last = conn.response(false).await;
    assert_ok(&last, HTML, page("led.html"));
    assert_eq!(last.header("connection"), Some("close"));
    conn.expect_eof().await;
    drop(conn);
    server.shutdown();
}

#[tokio::test]
async fn connection_close_and_http10_end_the_connection() {
    let server = builtin_server();
    let addr = server.local_addr();

    let closed = request_then_eof(addr, &get("/led.html")).await;
    assert_ok(&closed, HTML, page("led.html"));

    let old = request_then_eof(addr, b"GET /led.html HTTP/1.0\r\n\r\n").await;
    assert_ok(&old, HTML, page("led.html"));

    // HTTP/1.0 asking for keep-alive gets it.
    let mut conn = HttpConn::connect(addr).await;
    conn.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    let kept = conn.response(false).await;
    assert_ok(&kept, HTML, page("index.html"));
    assert_eq!(kept.header("connection"), None);
    conn.send(b"GET /led.html HTTP/1.0\r\n\r\n").await;
    assert_ok(&conn.response(false).await, HTML, page("led.html"));
    conn.expect_eof().await;
    drop(conn);

    server.shutdown();
}

/// One traversal attempt: the exact status, never the secret.
async fn attempt(addr: SocketAddr, target: &str, status: u16) {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let response = request_then_eof(addr, raw.as_bytes()).await;
    assert!(
        !response.text().contains("SECRET") && !response.head.contains("SECRET"),
        "{target} leaked the secret"
    );
    assert_eq!(response.status, status, "{target}: {}", response.head);
}

#[tokio::test]
async fn traversal_never_escapes_the_web_root() {
    let site = Site::new("traversal");
    let secret = site.base.path().join("secret.txt");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), SECRET);
    assert!(site.www().join("parent-link/secret.txt").exists());
    let server = site.server();
    let addr = server.local_addr();

    // The folder is served at all.
    assert_ok(
        &request(addr, &get("/index.html")).await,
        HTML,
        b"<h1>folder index</h1>",
    );

    attempt(addr, "/secret.txt", 404).await;
    attempt(addr, "/../secret.txt", 404).await;
    attempt(addr, "/..%2fsecret.txt", 404).await;
    attempt(addr, "/..%2Fsecret.txt", 404).await;
    attempt(addr, "/%2e%2e/secret.txt", 404).await;
    attempt(addr, "/%2e%2e%2fsecret.txt", 404).await;
    attempt(addr, "/....//secret.txt", 404).await;
    attempt(addr, "/..../secret.txt", 404).await;
    attempt(addr, "/sub/../../secret.txt", 404).await;
    attempt(addr, "/sub/%2e%2e/%2e%2e/secret.txt", 404).await;
    attempt(addr, "/%252e%252e/secret.txt", 404).await;
    attempt(addr, "/..\\secret.txt", 400).await;
    attempt(addr, "/%5c..%5csecret.txt", 400).await;
    attempt(addr, "/index.html%00.txt", 400).await;
    attempt(addr, "/link-to-secret", 404).await;
    attempt(addr, "/parent-link/secret.txt", 404).await;
    attempt(addr, "/parent-link/", 404).await;

    server.shutdown();
}

/// Sends `raw` and asserts the exact status, then the close.
async fn refused(addr: SocketAddr, raw: &[u8], status: u16) -> Response {
    let response = request_then_eof(addr, raw).await;
    assert_eq!(response.status, status, "{}", response.head);
    response
}

#[tokio::test]
async fn malformed_and_oversized_requests() {
    let server = builtin_server();
    let addr = server.local_addr();

    let bad = refused(addr, b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400).await;
    assert!(bad.head.starts_with("HTTP/1.1 400 Bad Request\r\n"));

    let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big.resize(big.len() + 9000, b'a');
    big.extend_from_slice(b"\r\n\r\n");
    let r = refused(addr, &big, 431).await;
    assert!(
        r.head
            .starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n")
    );

    let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(3000));
    let r = refused(addr, long.as_bytes(), 414).await;
    assert!(r.head.starts_with("HTTP/1.1 414 URI Too Long\r\n"));

    let r = refused(addr, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505).await;
    assert!(
        r.head
            .starts_with("HTTP/1.1 505 HTTP Version Not Supported\r\n")
    );

    server.shutdown();
}

#[tokio::test]
async fn bad_upgrades_are_refused() {
    let server = builtin_server();
    let addr = server.local_addr();
    let upgrade = String::from_utf8(common::upgrade_request("/")).unwrap();

    let v8 = upgrade.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    let r = refused(addr, v8.as_bytes(), 426).await;
    assert!(r.head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert_eq!(r.header("sec-websocket-version"), Some("13"));

    // "0123456789": ten bytes, not sixteen.
    let short_key = upgrade.replace(common::KEY, "MDEyMzQ1Njc4OQ==");
    refused(addr, short_key.as_bytes(), 400).await;

    let no_connection = upgrade.replace("Connection: Upgrade\r\n", "");
    refused(addr, no_connection.as_bytes(), 400).await;

    assert_eq!(server.clients().len(), 0);
    server.shutdown();
}
