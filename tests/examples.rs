//! The example programs as a new user meets them: each one serves at `/`
//! a page that works with it (the page's WebSocket, opened without a
//! subprotocol, is accepted and answered as the page expects), the links
//! on its pages stay among its own pages, and every page set (the
//! built-in pages and each example's) has a favicon.
//!
//! The examples' servers come from their `app.rs` modules, the same code
//! `cargo run --example` runs. `tests/browser.rs` loads the same pages in
//! a real browser.
#![allow(clippy::unwrap_used)]

mod common;

#[path = "../examples/echo/app.rs"]
mod echo;
#[path = "../examples/websocket_led/app.rs"]
mod websocket_led;
#[path = "../examples/wstest/app.rs"]
mod wstest;

use std::net::SocketAddr;

use common::{
    ECHO_MAX_MESSAGE, Response, any_port, close_ws, get, next_message, request, send, ws_connect,
};
use pinsocket::{RunningServer, Server};
use tokio_tungstenite::tungstenite::Message;

const LED_HTML: &[u8] = include_bytes!("../web/led.html");
const WSTEST_HTML: &[u8] = include_bytes!("../web/wstest.html");
const FAVICON: &[u8] = include_bytes!("../web/favicon.ico");

fn start(server: Server) -> RunningServer {
    server.bind(any_port()).start().unwrap()
}

async fn fetch(addr: SocketAddr, path: &str) -> Response {
    request(addr, &get(path)).await
}

/// The `<title>` of an HTML page, to name it in failures.
fn title(html: &[u8]) -> String {
    let html = String::from_utf8_lossy(html);
    html.split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map_or_else(|| "(no title)".to_owned(), |(title, _)| title.to_owned())
}

/// Asserts that `path` serves `expected`, an HTML page.
async fn expect_page(addr: SocketAddr, path: &str, expected: &[u8]) {
    let response = fetch(addr, path).await;
    assert_eq!(response.status, 200, "GET {path}:\n{}", response.head);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8"),
        "GET {path}"
    );
    assert!(
        response.body == expected,
        "GET {path} served the page titled {:?}, expected {:?}",
        title(&response.body),
        title(expected)
    );
}

/// The local targets of the `href` attributes in an HTML page.
fn local_links(html: &[u8]) -> Vec<String> {
    let html = String::from_utf8_lossy(html);
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(href, _)| href))
        .filter(|href| !href.contains(':') && !href.starts_with('#'))
        .map(|href| {
            if href.starts_with('/') {
                href.to_owned()
            } else {
                format!("/{href}")
            }
        })
        .collect()
}

/// Asserts that every local link on the page at `path` of the server
/// `name` leads to one of `working`, the pages that work with it.
async fn expect_links_stay_among(name: &str, addr: SocketAddr, path: &str, working: &[&[u8]]) {
    let page = fetch(addr, path).await;
    assert_eq!(page.status, 200, "{name}: GET {path}");
    let links = local_links(&page.body);
    assert!(!links.is_empty(), "{name}: {path} links nowhere");
    for link in links {
        let response = fetch(addr, &link).await;
        assert_eq!(response.status, 200, "{name}: {path} links to {link}");
        assert!(
            working.contains(&response.body.as_slice()),
            "{name}: {path} links to {link}, the page titled {:?}, which does not work with {name}",
            title(&response.body)
        );
    }
}

/// Asserts that `/favicon.ico` is the icon, as an icon.
async fn expect_favicon(addr: SocketAddr, server: &str) {
    let response = fetch(addr, "/favicon.ico").await;
    assert_eq!(
        response.status, 200,
        "GET /favicon.ico from {server}:\n{}",
        response.head
    );
    assert_eq!(
        response.header("content-type"),
        Some("image/x-icon"),
        "{server}"
    );
    assert!(response.body == FAVICON, "{server} serves another icon");
}

#[tokio::test]
async fn websocket_led_serves_the_led_page_at_root_and_its_commands_switch_the_led() {
    let led = websocket_led::Led::default();
    let server = start(websocket_led::server(led.clone()));
    let addr = server.local_addr();
    for path in ["/", "/index.html", "/led.html"] {
        expect_page(addr, path, LED_HTML).await;
    }

    // What led.html does: a WebSocket to `/` with no subprotocol, then its
    // plain-text commands.
    let mut ws = ws_connect(addr, "/").await;
    assert!(!led.is_on());
    send(&mut ws, Message::text("LEDon")).await;
    assert_eq!(
        next_message(&mut ws).await,
        Message::text("Reply for LEDon")
    );
    assert!(led.is_on(), "LEDon did not switch the LED on");
    send(&mut ws, Message::text("LEDoff")).await;
    assert_eq!(
        next_message(&mut ws).await,
        Message::text("Reply for LEDoff")
    );
    assert!(!led.is_on(), "LEDoff did not switch the LED off");
    close_ws(ws).await;
    server.shutdown();
}

#[tokio::test]
async fn wstest_serves_the_test_page_at_root_and_answers_it() {
    let server = start(wstest::server());
    let addr = server.local_addr();
    for path in ["/", "/index.html", "/wstest.html"] {
        expect_page(addr, path, WSTEST_HTML).await;
    }
    let mut ws = ws_connect(addr, "/").await;
    send(&mut ws, Message::text("Hello world :)")).await;
    assert_eq!(
        next_message(&mut ws).await,
        Message::text("Reply for Hello world :)")
    );
    close_ws(ws).await;
    server.shutdown();
}

#[tokio::test]
async fn echo_serves_the_test_page_at_root_and_echoes_it() {
    let server = start(echo::server(ECHO_MAX_MESSAGE));
    let addr = server.local_addr();
    for path in ["/", "/index.html", "/wstest.html"] {
        expect_page(addr, path, WSTEST_HTML).await;
    }
    let mut ws = ws_connect(addr, "/").await;
    send(&mut ws, Message::text("Hello world :)")).await;
    assert_eq!(next_message(&mut ws).await, Message::text("Hello world :)"));
    close_ws(ws).await;
    server.shutdown();
}

/// led.html's and wstest.html's Home link, followed in an example, must
/// not lead to the device server's control page.
#[tokio::test]
async fn the_examples_pages_link_only_to_pages_that_work_with_them() {
    let examples = [
        (
            "websocket_led",
            websocket_led::server(websocket_led::Led::default()),
            "/led.html",
            LED_HTML,
        ),
        ("wstest", wstest::server(), "/wstest.html", WSTEST_HTML),
        (
            "echo",
            echo::server(ECHO_MAX_MESSAGE),
            "/wstest.html",
            WSTEST_HTML,
        ),
    ];
    for (name, server, page, html) in examples {
        let server = start(server);
        for path in ["/", page] {
            expect_links_stay_among(name, server.local_addr(), path, &[html]).await;
        }
        server.shutdown();
    }
}

#[tokio::test]
async fn every_page_set_serves_the_favicon() {
    let servers = [
        ("the built-in pages", Server::new()),
        (
            "websocket_led",
            websocket_led::server(websocket_led::Led::default()),
        ),
        ("wstest", wstest::server()),
        ("echo", echo::server(ECHO_MAX_MESSAGE)),
    ];
    for (name, server) in servers {
        let server = start(server);
        expect_favicon(server.local_addr(), name).await;
        server.shutdown();
    }
}

/// web/favicon.ico is a well-formed icon: 16 and 32 pixel PNG images.
#[test]
fn the_favicon_is_an_icon_of_16_and_32_pixel_pngs() {
    let u16_at = |at: usize| u16::from_le_bytes([FAVICON[at], FAVICON[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(FAVICON[at..at + 4].try_into().unwrap());
    assert_eq!(u16_at(0), 0, "reserved");
    assert_eq!(u16_at(2), 1, "type: icon");
    let count = usize::from(u16_at(4));
    let mut sizes = Vec::new();
    for i in 0..count {
        let entry = 6 + 16 * i;
        let (width, height) = (FAVICON[entry], FAVICON[entry + 1]);
        let len = u32_at(entry + 8) as usize;
        let offset = u32_at(entry + 12) as usize;
        let image = FAVICON
            .get(offset..offset + len)
            .unwrap_or_else(|| panic!("image {i} lies outside the file"));
        assert!(
            image.starts_with(b"\x89PNG\r\n\x1a\n"),
            "image {i} is a PNG"
        );
        // The PNG's own size, from its IHDR chunk, matches the directory.
        let png_width = u32::from_be_bytes(image[16..20].try_into().unwrap());
        let png_height = u32::from_be_bytes(image[20..24].try_into().unwrap());
        assert_eq!((png_width, png_height), (width.into(), height.into()));
        sizes.push(width);
    }
    assert_eq!(sizes, [16, 32]);
}

/// A client's text is printed by websocket_led with its control characters
/// escaped: a message holding CR, LF or an ANSI escape cannot forge a line
/// of the program's output (`WS CLOSED …`) or drive the terminal.
#[tokio::test]
async fn websocket_led_prints_client_text_escaped() {
    let console = websocket_led::Console::capture();
    let server = start(websocket_led::server_printing_to(
        websocket_led::Led::default(),
        console.clone(),
    ));
    let mut ws = ws_connect(server.local_addr(), "/").await;
    let forged = "a\r\nWS CLOSED fake\x1b[2J";
    send(&mut ws, Message::text(forged)).await;
    // Answered as ever: the reply is the client's own text, unchanged.
    assert_eq!(
        next_message(&mut ws).await,
        Message::text(format!("Reply for {forged}"))
    );
    close_ws(ws).await;
    server.shutdown();
    let printed = console.text();
    let line = printed
        .lines()
        .find(|l| l.starts_with("WS RECV TEXT : "))
        .unwrap_or_else(|| panic!("the message was not printed:\n{printed}"));
    assert_eq!(line, r"WS RECV TEXT : a\r\nWS CLOSED fake\u{1b}[2J");
    assert!(
        !printed.contains(['\r', '\x1b']),
        "raw control characters printed: {printed:?}"
    );
    assert!(
        !printed.lines().any(|l| l.starts_with("WS CLOSED fake")),
        "a forged line was printed: {printed:?}"
    );
    // Every line is one the program wrote.
    for l in printed.lines() {
        assert!(
            l.starts_with("WS ACCEPT from ")
                || l.starts_with("WS RECV TEXT : ")
                || l.starts_with("WS CLOSED 127.0.0.1:"),
            "{l:?} in {printed:?}"
        );
    }
}
