//! The echo server, apart from `main` so that tests can start it: every
//! text and binary message goes back unchanged, and the page is
//! wstest.html, which shows it.

use pinsocket::{Page, Server};

/// The original's echo test page: it logs whatever comes back.
const WSTEST_HTML: &[u8] = include_bytes!("../../web/wstest.html");

/// The server's pages: wstest.html, also at `/` (its Home), and the favicon.
pub(crate) static PAGES: &[Page] = &[
    Page::new("index.html", WSTEST_HTML),
    Page::new("wstest.html", WSTEST_HTML),
    Page::new("favicon.ico", include_bytes!("../../web/favicon.ico")),
];

/// The echo server, not yet bound: its [`PAGES`], and messages up to
/// `max_message` bytes (larger ones are closed with 1009).
pub(crate) fn server(max_message: usize) -> Server {
    Server::new()
        .pages(PAGES)
        .max_message_len(max_message)
        // An echo reply may be as large as the largest message.
        .max_send_queue(max_message.saturating_mul(2))
        .on_text(|conn, msg| {
            let _ = conn.send_text(msg);
        })
        .on_binary(|conn, data| {
            let _ = conn.send_binary(data);
        })
}
