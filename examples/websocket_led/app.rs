//! The LED app's server, apart from `main` so that tests can start it:
//! `LEDOn` / `LEDOff` (any case) switch the [`Led`], every message is
//! answered `Reply for <msg>`, and the pages are led.html's.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pinsocket::{Page, Server};

/// The original's LED page.
const LED_HTML: &[u8] = include_bytes!("../../web/led.html");

/// The app's pages: led.html, also at `/` (its Home), and the favicon. Not
/// the built-in control page, which speaks the device server's protocol.
pub(crate) static PAGES: &[Page] = &[
    Page::new("index.html", LED_HTML),
    Page::new("led.html", LED_HTML),
    Page::new("favicon.ico", include_bytes!("../../web/favicon.ico")),
];

/// The GPIO line the original wired its LED to.
const LED_LINE: u32 = 12;

/// The LED on line 12 of a simulated board. Clones share the one line.
#[derive(Clone, Default)]
pub(crate) struct Led {
    high: Arc<AtomicBool>,
}

impl Led {
    /// Whether the line is high (the LED is on).
    pub(crate) fn is_on(&self) -> bool {
        self.high.load(Ordering::SeqCst)
    }

    /// Drives the line, printing its level when it changes.
    fn set(&self, high: bool) {
        let was = self.high.swap(high, Ordering::SeqCst);
        if was != high {
            println!("{self}");
        }
    }
}

/// `GPIO12 -> high (on)` or `GPIO12 -> low (off)`: what the program prints.
impl fmt::Display for Led {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = if self.is_on() {
            "high (on)"
        } else {
            "low (off)"
        };
        write!(f, "GPIO{LED_LINE} -> {level}")
    }
}

/// The app's server, not yet bound: its [`PAGES`], and messages up to 256
/// bytes (the original's limit), each one printed and answered, switching
/// `led`.
pub(crate) fn server(led: Led) -> Server {
    Server::new()
        .pages(PAGES)
        .max_message_len(256)
        .on_accept(|conn, _request| {
            println!("WS ACCEPT from {}", conn.peer_addr());
            Ok(())
        })
        .on_text(move |conn, msg| {
            println!("WS RECV TEXT : {msg}");
            if msg.eq_ignore_ascii_case("LEDOn") {
                led.set(true);
            } else if msg.eq_ignore_ascii_case("LEDOff") {
                led.set(false);
            }
            let _ = conn.send_text(&format!("Reply for {msg}"));
        })
        .on_close(|conn, code, _reason| {
            println!("WS CLOSED {} ({code})", conn.peer_addr());
        })
}
