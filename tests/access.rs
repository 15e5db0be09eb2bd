//! Who may switch the pins: the Host a request names, the Origin of a
//! WebSocket handshake, the access token, and the HTTP rules and headers
//! that go with them. Against the device server (loopback, so Host and
//! Origin checked, no token unless configured) and the library (permissive
//! unless given an `Access`).
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{
    DEVICE_PROTOCOL, DeviceUnderTest, DeviceWs, KEY, LED_BOARD, Response, echo_server, request,
};
use pinsocket::Access;
use pinsocket_device::Level;
use serde_json::json;

/// Bounds every wait of these tests.
const LIMIT: Duration = Duration::from_secs(5);

/// `GET path HTTP/1.1` naming `host`, with `extra` header lines (each
/// ending in CRLF), closing after the response.
fn get_with(path: &str, host: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

/// A valid WebSocket upgrade of `path` naming `host`, with `extra` header
/// lines (each ending in CRLF).
fn upgrade_with(path: &str, host: &str, extra: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
         {extra}\r\n"
    )
    .into_bytes()
}

/// Asserts `response` has `status`, showing it whole if not.
fn assert_status(response: &Response, status: u16, what: &str) {
    assert_eq!(
        response.status,
        status,
        "{what}:\n{}\n\n{}",
        response.head,
        response.text()
    );
}

/// A device-protocol client that has had its greeting and first state.
async fn watcher(device: &DeviceUnderTest) -> DeviceWs {
    let (mut ws, response) = device.connect(Some(DEVICE_PROTOCOL), LIMIT).await;
    assert_eq!(response.headers()["sec-websocket-protocol"], "pinsocket");
    assert_eq!(ws.next_json().await, json!({"board": {"simulated": true}}));
    ws.next_state().await;
    ws
}

/// Proves `ws` was sent nothing since its last message: a ping sent now is
/// answered next, with no state or event before it.
async fn assert_heard_nothing(ws: &mut DeviceWs) {
    ws.send(r#"{"ping":4242}"#).await;
    assert_eq!(ws.next_json().await, json!({"pong": 4242}));
}

// ---- finding 1: cross-site WebSocket hijacking --------------------------------

/// A page on another site (or a file, or a sandboxed frame: `null`) opens
/// a WebSocket to the device: refused with 403 before any command can be
/// sent, the LED stays off, and the clients already there see nothing.
#[tokio::test]
async fn a_foreign_origin_cannot_open_a_websocket_to_the_device() {
    let device = DeviceUnderTest::start(LED_BOARD);
    let addr = device.addr();
    let mut watching = watcher(&device).await;
    for origin in [
        "http://evil.example",
        "https://evil.example",
        "null",
        "file://",
        "file:///home/user/attack.html",
        &format!("http://evil.example:{}", addr.port()),
        // Same host, other port: another origin.
        &format!("http://127.0.0.1:{}", addr.port() + 1),
        &format!("https://127.0.0.1:{}", addr.port()),
        "not an origin",
        "",
    ] {
        let host = addr.to_string();
        let mut conn = common::HttpConn::connect(addr).await;
        conn.send(&upgrade_with(
            "/",
            &host,
            &format!("Origin: {origin}\r\nSec-WebSocket-Protocol: pinsocket\r\n"),
        ))
        .await;
        let response = conn.response(true).await;
        assert_status(&response, 403, &format!("Origin {origin:?}"));
        // Whatever comes after the refusal is never taken as a frame.
        use tokio::io::AsyncWriteExt;
        let _ = conn
            .stream
            .write_all(&common::client_frame(
                common::OP_TEXT,
                br#"{"set":{"led":true}}"#,
            ))
            .await;
    }
    assert_eq!(device.sim.line(12), Some(Level::Low));
    assert_eq!(device.server.clients().len(), 1, "only the watcher");
    assert_heard_nothing(&mut watching).await;
    device.shutdown();
}

/// The device's own pages, and tools that send no Origin at all, still
/// connect and switch the LED.
#[tokio::test]
async fn the_devices_own_origin_and_no_origin_are_accepted() {
    let device = DeviceUnderTest::start(LED_BOARD);
    let addr = device.addr();
    let port = addr.port();
    for (host, origin) in [
        (addr.to_string(), Some(format!("http://{addr}"))),
        (
            format!("localhost:{port}"),
            Some(format!("http://localhost:{port}")),
        ),
        (
            format!("LocalHost:{port}"),
            Some(format!("HTTP://localhost:{port}")),
        ),
        (addr.to_string(), None),
    ] {
        let extra = origin
            .as_ref()
            .map_or(String::new(), |o| format!("Origin: {o}\r\n"));
        let mut ws = common::RawWs::tcp(addr).await;
        ws.write(&upgrade_with("/", &host, &extra)).await;
        ws.expect_switching_protocols().await;
        ws.write(&common::client_frame(common::OP_TEXT, b"LEDon"))
            .await;
        assert_eq!(ws.next_text().await, "Reply for LEDon", "{host} {origin:?}");
        assert_eq!(device.sim.line(12), Some(Level::High));
        ws.write(&common::client_frame(common::OP_TEXT, b"LEDoff"))
            .await;
        assert_eq!(ws.next_text().await, "Reply for LEDoff");
    }
    device.shutdown();
}

// ---- finding 2: DNS rebinding ---------------------------------------------------

/// A page whose name was rebound to the device's address sends its own
/// name as Host: the device answers 421 to pages, files, 404s and upgrades
/// alike — even when Origin names the same attacker host.
#[tokio::test]
async fn a_foreign_host_name_is_misdirected() {
    let device = DeviceUnderTest::start(LED_BOARD);
    let addr = device.addr();
    let port = addr.port();
    for host in [
        "evil.example".to_owned(),
        format!("evil.example:{port}"),
        "127.0.0.1.evil.example".to_owned(),
        "localhost.evil.example".to_owned(),
        "[::2]".to_owned(),
        "10.9.8.7".to_owned(),
        String::new(),
    ] {
        for path in ["/", "/led.html", "/missing"] {
            let response = request(addr, &get_with(path, &host, "")).await;
            assert_status(&response, 421, &format!("GET {path} Host {host:?}"));
            assert!(!response.text().contains("<html"), "{}", response.text());
        }
        let origin = format!("Origin: http://{host}\r\n");
        let response = request(addr, &upgrade_with("/", &host, &origin)).await;
        assert_status(&response, 421, &format!("upgrade Host {host:?}"));
    }
    assert_eq!(device.server.clients().len(), 0);
    // The names the device answers to, any case, the port ignored.
    for host in [
        addr.to_string(),
        "127.0.0.1".to_owned(),
        format!("localhost:{port}"),
        "LOCALHOST".to_owned(),
        format!("localhost.:{port}"),
    ] {
        let response = request(addr, &get_with("/", &host, "")).await;
        assert_status(&response, 200, &format!("Host {host:?}"));
    }
    device.shutdown();
}

// ---- finding 4: Host count (RFC 9112 §3.2) ----------------------------------------

/// HTTP/1.1 without Host, or any request with two, is 400; HTTP/1.0
/// without Host is served. Both in the library and the device server.
#[tokio::test]
async fn a_missing_or_repeated_host_is_a_bad_request() {
    let device = DeviceUnderTest::start(LED_BOARD);
    let library = echo_server();
    for addr in [device.addr(), library.local_addr()] {
        let host = addr.to_string();
        for (raw, status) in [
            (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(), 400),
            (
                format!("GET / HTTP/1.1\r\nHost: {host}\r\nHost: {host}\r\n\r\n").into_bytes(),
                400,
            ),
            (
                format!("GET / HTTP/1.1\r\nHost: {host}\r\nHost: evil.example\r\n\r\n")
                    .into_bytes(),
                400,
            ),
            (
                format!("GET / HTTP/1.0\r\nHost: {host}\r\nHost: {host}\r\n\r\n").into_bytes(),
                400,
            ),
            (b"GET / HTTP/1.0\r\n\r\n".to_vec(), 200),
            (get_with("/", &host, ""), 200),
        ] {
            let response = request(addr, &raw).await;
            assert_status(&response, status, &String::from_utf8_lossy(&raw));
        }
        // An upgrade with two Hosts is refused too.
        let raw = upgrade_with("/", &host, &format!("Host: {host}\r\n"));
        assert_status(&request(addr, &raw).await, 400, "upgrade with two Hosts");
    }
    assert!(device.server.clients().is_empty() && library.clients().is_empty());
    library.shutdown();
    device.shutdown();
}

// ---- finding 5: subprotocol chosen exactly ------------------------------------------

/// RFC 6455 §4.2.2: the server picks one of the client's values, as
/// written. `PINSOCKET` is not `pinsocket`: no subprotocol, and the client
/// is served as one of the original's pages.
#[tokio::test]
async fn a_subprotocol_is_chosen_exactly_as_the_client_wrote_it() {
    let device = DeviceUnderTest::start(LED_BOARD);
    let addr = device.addr();
    let host = addr.to_string();
    for (offer, chosen) in [
        ("PINSOCKET", None),
        ("Pinsocket", None),
        ("chat, PINSOCKET", None),
        ("chat, pinsocket", Some("pinsocket")),
        ("pinsocket", Some("pinsocket")),
    ] {
        let mut conn = common::HttpConn::connect(addr).await;
        conn.send(&upgrade_with(
            "/",
            &host,
            &format!("Sec-WebSocket-Protocol: {offer}\r\n"),
        ))
        .await;
        let response = conn.response(true).await;
        assert_status(&response, 101, offer);
        assert_eq!(
            response.header("sec-websocket-protocol"),
            chosen,
            "offered {offer:?}"
        );
    }
    device.shutdown();
}

// ---- finding 6: framing and sniffing headers ----------------------------------------

/// The headers every page, file and error response carries.
const SECURITY_HEADERS: [(&str, &str); 3] = [
    ("x-frame-options", "DENY"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
];

fn assert_security_headers(response: &Response, what: &str) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            response.header(name),
            Some(value),
            "{what}: {name}\n{}",
            response.head
        );
    }
}

/// The control page cannot be framed by another site (clickjacking), and
/// no response is sniffed into another type: pages, 304s, 404s, errors,
/// from the device server and from the library.
#[tokio::test]
async fn every_response_forbids_framing_and_sniffing() {
    let device = DeviceUnderTest::start(LED_BOARD);
    let library = echo_server();
    for addr in [device.addr(), library.local_addr()] {
        let host = addr.to_string();
        for path in ["/", "/index.html", "/led.html", "/wstest.html", "/missing"] {
            let response = request(addr, &get_with(path, &host, "")).await;
            assert_security_headers(&response, &format!("GET {path}"));
            let head = format!("HEAD {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let response = request(addr, head.as_bytes()).await;
            assert_security_headers(&response, &format!("HEAD {path}"));
        }
        let page = request(addr, &get_with("/", &host, "")).await;
        let etag = page.header("etag").unwrap().to_owned();
        let response = request(
            addr,
            &get_with("/", &host, &format!("If-None-Match: {etag}\r\n")),
        )
        .await;
        assert_status(&response, 304, "If-None-Match");
        assert_security_headers(&response, "304");
        let response = request(
            addr,
            format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
        )
        .await;
        assert_status(&response, 405, "POST");
        assert_security_headers(&response, "405");
    }
    library.shutdown();
    device.shutdown();
}

// ---- finding 3: authentication ---------------------------------------------------

/// The token of the device under test (tests never print it, nor guess it).
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// The LED board with [`TOKEN`] configured.
fn token_board() -> String {
    format!("{LED_BOARD}\n[access]\ntoken = \"{TOKEN}\"\n")
}

/// Without the token, nothing: no page, no file, no 404, no WebSocket —
/// a 401 with a page that says what to open. A wrong token is no better.
#[tokio::test]
async fn without_the_token_every_request_is_unauthorized() {
    let device = DeviceUnderTest::start(&token_board());
    let addr = device.addr();
    let host = addr.to_string();
    let wrong = "0123456789abcdef0123456789abcdeX";
    let requests = [
        get_with("/", &host, ""),
        get_with("/led.html", &host, ""),
        get_with("/missing", &host, ""),
        format!("HEAD / HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
        format!("POST / HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n").into_bytes(),
        upgrade_with("/", &host, ""),
        upgrade_with("/", &host, &format!("Origin: http://{host}\r\n")),
        get_with(&format!("/?token={wrong}"), &host, ""),
        get_with("/?token=", &host, ""),
        get_with(&format!("/?token={}", &TOKEN[1..]), &host, ""),
        get_with("/", &host, &format!("Cookie: pinsocket_token={wrong}\r\n")),
        get_with("/", &host, &format!("Cookie: other_token={TOKEN}\r\n")),
        get_with("/", &host, &format!("Authorization: Bearer {wrong}\r\n")),
        get_with("/", &host, &format!("Authorization: Basic {TOKEN}\r\n")),
        upgrade_with(&format!("/?token={wrong}"), &host, ""),
        upgrade_with("/", &host, &format!("Cookie: pinsocket_token={wrong}\r\n")),
    ];
    for raw in requests {
        let what = String::from_utf8_lossy(&raw).into_owned();
        let head_only = raw.starts_with(b"HEAD ");
        let mut conn = common::HttpConn::connect(addr).await;
        conn.send(&raw).await;
        let response = conn.response(head_only).await;
        assert_status(&response, 401, &what);
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"pinsocket\"")
        );
        assert_security_headers(&response, &what);
        assert!(response.header("set-cookie").is_none(), "{what}");
        if head_only {
            // Nothing follows the head.
            conn.expect_eof().await;
        } else {
            assert_eq!(
                response.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            let page = response.text();
            assert!(
                page.contains("?token=") && page.contains("printed"),
                "{page}"
            );
            assert!(!page.contains(TOKEN), "the page gives the token away");
        }
    }
    assert_eq!(device.server.clients().len(), 0);
    assert_eq!(device.sim.line(12), Some(Level::Low));
    device.shutdown();
}

/// Opening the printed URL trades the token for a cookie: 303 to the same
/// page without the token, the cookie out of scripts' reach and kept from
/// other sites' requests. The cookie then opens pages and WebSockets,
/// which switch the LED.
#[tokio::test]
async fn the_token_in_the_url_becomes_a_cookie_that_opens_pages_and_websockets() {
    let device = DeviceUnderTest::start(&token_board());
    let addr = device.addr();
    let host = addr.to_string();
    for (target, location) in [
        (format!("/?token={TOKEN}"), "/"),
        (
            format!("/led.html?x=1&token={TOKEN}&y=2"),
            "/led.html?x=1&y=2",
        ),
        (format!("/wstest.html?token={TOKEN}"), "/wstest.html"),
    ] {
        let response = request(addr, &get_with(&target, &host, "")).await;
        assert_status(&response, 303, &target);
        assert_eq!(response.header("location"), Some(location), "{target}");
        assert_eq!(
            response.header("set-cookie"),
            Some(&*format!(
                "pinsocket_token={TOKEN}; Path=/; HttpOnly; SameSite=Strict"
            )),
            "no Secure over plain http"
        );
        assert_eq!(response.header("cache-control"), Some("no-store"));
        assert_security_headers(&response, "303");
    }

    let cookie = format!("Cookie: theme=dark; pinsocket_token={TOKEN}\r\n");
    for path in ["/", "/led.html", "/wstest.html"] {
        let response = request(addr, &get_with(path, &host, &cookie)).await;
        assert_status(&response, 200, path);
    }
    assert_status(
        &request(addr, &get_with("/missing", &host, &cookie)).await,
        404,
        "a 404 with the cookie",
    );

    // The control page's WebSocket carries the cookie and its Origin.
    let mut ws = common::RawWs::tcp(addr).await;
    ws.write(&upgrade_with(
        "/",
        &host,
        &format!("Origin: http://{host}\r\n{cookie}"),
    ))
    .await;
    ws.expect_switching_protocols().await;
    ws.write(&common::client_frame(common::OP_TEXT, b"LEDon"))
        .await;
    assert_eq!(ws.next_text().await, "Reply for LEDon");
    assert_eq!(device.sim.line(12), Some(Level::High));
    device.shutdown();
}

/// Scripts authenticate with `Authorization: Bearer`, or with `?token=` on
/// the WebSocket URL (a handshake is never redirected).
#[tokio::test]
async fn scripts_authenticate_with_a_bearer_token_or_the_websocket_url() {
    let device = DeviceUnderTest::start(&token_board());
    let addr = device.addr();
    let host = addr.to_string();
    let bearer = format!("Authorization: Bearer {TOKEN}\r\n");
    assert_status(
        &request(addr, &get_with("/", &host, &bearer)).await,
        200,
        "Bearer",
    );
    // A token in the URL of a request that is not a page GET is just checked.
    let head = format!("HEAD /?token={TOKEN} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut conn = common::HttpConn::connect(addr).await;
    conn.send(head.as_bytes()).await;
    assert_status(&conn.response(true).await, 200, "HEAD with ?token=");
    for (path, extra) in [
        ("/".to_owned(), bearer.clone()),
        (format!("/?token={TOKEN}"), String::new()),
    ] {
        let mut ws = common::RawWs::tcp(addr).await;
        ws.write(&upgrade_with(&path, &host, &extra)).await;
        ws.expect_switching_protocols().await;
        ws.write(&common::client_frame(
            common::OP_TEXT,
            br#"{"set":{"led":true}}"#,
        ))
        .await;
        wait_line(&device, Level::High).await;
        ws.write(&common::client_frame(
            common::OP_TEXT,
            br#"{"set":{"led":false}}"#,
        ))
        .await;
        wait_line(&device, Level::Low).await;
    }
    device.shutdown();
}

/// Waits for the simulated line 12 to reach `level`.
async fn wait_line(device: &DeviceUnderTest, level: Level) {
    common::wait_until(&format!("line 12 {level:?}"), LIMIT, || {
        device.sim.line(12) == Some(level)
    })
    .await;
}

/// On loopback the device server asks for no token; beyond it, a random
/// one unless turned off; `auth = true` asks for one on loopback too.
#[test]
fn the_device_server_makes_a_token_when_listening_beyond_loopback() {
    let app = |toml: &str, listen: &str| {
        let config = pinsocket_device::Config::parse(toml, std::path::Path::new("t.toml")).unwrap();
        pinsocket_device::App::new(config, Some(listen.parse().unwrap()), None).unwrap()
    };
    assert_eq!(app("", "127.0.0.1:0").token, None);
    assert_eq!(app("", "[::1]:0").token, None);
    let a = app("", "0.0.0.0:0").token.unwrap();
    let b = app("", "[::]:0").token.unwrap();
    for token in [&a, &b] {
        assert_eq!(token.len(), 32, "128 bits in hex: {token}");
        assert!(token.bytes().all(|c| c.is_ascii_hexdigit()), "{token}");
    }
    assert_ne!(a, b, "each start makes a new one");
    assert_eq!(app("[access]\nauth = false\n", "0.0.0.0:0").token, None);
    assert_eq!(
        app("[access]\nauth = true\n", "127.0.0.1:0")
            .token
            .map(|t| t.len()),
        Some(32)
    );
    assert_eq!(
        app(&format!("[access]\ntoken = \"{TOKEN}\"\n"), "0.0.0.0:0")
            .token
            .as_deref(),
        Some(TOKEN)
    );
}

// ---- the library: the same checks, one builder call ------------------------------

/// A library server checks nothing unless asked: a program that wants
/// plain pages and WebSockets keeps them (the RFC rules and the headers
/// still apply).
#[tokio::test]
async fn a_library_server_checks_nothing_by_default() {
    let server = echo_server();
    let addr = server.local_addr();
    let response = request(addr, &get_with("/", "evil.example", "")).await;
    assert_status(&response, 200, "default Host");
    assert_security_headers(&response, "library page");
    let mut ws = common::RawWs::tcp(addr).await;
    ws.write(&upgrade_with(
        "/",
        "evil.example",
        "Origin: http://evil.example\r\n",
    ))
    .await;
    ws.expect_switching_protocols().await;
    drop(ws);
    server.shutdown();
}

/// `Access::guarded()` gives a library server the device server's Host
/// and Origin checks; `allow_host` and `allow_origin` add to them; a token
/// works as the device server's does.
#[tokio::test]
async fn access_guarded_gives_a_library_server_the_same_checks() {
    let server = common::echo_builder()
        .access(
            Access::guarded()
                .allow_host("pi.example.org")
                .allow_origin("https://dash.example"),
        )
        .start()
        .unwrap();
    let addr = server.local_addr();
    let port = addr.port();
    let host = addr.to_string();
    assert_status(
        &request(addr, &get_with("/", "evil.example", "")).await,
        421,
        "evil Host",
    );
    assert_status(
        &request(addr, &upgrade_with("/", "evil.example", "")).await,
        421,
        "evil Host upgrade",
    );
    assert_status(
        &request(addr, &get_with("/", "PI.example.org.", "")).await,
        200,
        "allowed",
    );
    assert_status(
        &request(
            addr,
            &upgrade_with("/", &host, "Origin: http://evil.example\r\n"),
        )
        .await,
        403,
        "evil Origin",
    );
    assert_status(
        &request(addr, &upgrade_with("/", &host, "Origin: null\r\n")).await,
        403,
        "null Origin",
    );
    for (host, origin) in [
        (host.clone(), format!("http://{host}")),
        (
            format!("pi.example.org:{port}"),
            format!("http://pi.example.org:{port}"),
        ),
        (host.clone(), "https://dash.example".to_owned()),
    ] {
        let mut ws = common::RawWs::tcp(addr).await;
        ws.write(&upgrade_with("/", &host, &format!("Origin: {origin}\r\n")))
            .await;
        ws.expect_switching_protocols().await;
    }
    server.shutdown();

    let server = common::echo_builder()
        .access(Access::new().token(TOKEN))
        .start()
        .unwrap();
    let addr = server.local_addr();
    assert_eq!(
        server_token_cookie(addr, "evil.example").await,
        303,
        "Host not checked"
    );
    assert_status(
        &request(addr, &get_with("/", "x", "")).await,
        401,
        "no token",
    );
    assert_status(
        &request(
            addr,
            &get_with("/", "x", &format!("Authorization: Bearer {TOKEN}\r\n")),
        )
        .await,
        200,
        "Bearer",
    );
    server.shutdown();
}

/// The status of `GET /?token=TOKEN` naming `host`.
async fn server_token_cookie(addr: SocketAddr, host: &str) -> u16 {
    request(addr, &get_with(&format!("/?token={TOKEN}"), host, ""))
        .await
        .status
}
