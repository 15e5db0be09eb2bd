//! The echo test's server, apart from `main` so that tests can start it:
//! every text message is printed and answered `Reply for <msg>`, and the
//! pages are wstest.html's.

use pinsocket::{Page, Server};

/// The original's echo test page.
const WSTEST_HTML: &[u8] = include_bytes!("../../web/wstest.html");

/// The app's pages: wstest.html, also at `/` (its Home), and the favicon.
/// Not the built-in control page, which speaks the device server's
/// protocol.
pub(crate) static PAGES: &[Page] = &[
    Page::new("index.html", WSTEST_HTML),
    Page::new("wstest.html", WSTEST_HTML),
    Page::new("favicon.ico", include_bytes!("../../web/favicon.ico")),
];

/// The app's server, not yet bound: its [`PAGES`], and messages up to 256
/// bytes (the original's limit), each one printed and answered.
pub(crate) fn server() -> Server {
    Server::new()
        .pages(PAGES)
        .max_message_len(256)
        .on_accept(|conn, _request| {
            println!("WS ACCEPT from {}", conn.peer_addr());
            Ok(())
        })
        .on_text(|conn, msg| {
            println!("WS RECV TEXT : {msg}");
            let _ = conn.send_text(&format!("Reply for {msg}"));
        })
        .on_close(|conn, code, _reason| {
            println!("WS CLOSED {} ({code})", conn.peer_addr());
        })
}
