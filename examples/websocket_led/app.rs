//! The LED app's server, apart from `main` so that tests can start it:
//! `LEDOn` / `LEDOff` (any case) switch the [`Led`], every message is
//! answered `Reply for <msg>`, and the pages are led.html's.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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

/// Where the app prints what clients do: standard output, or for tests a
/// buffer. Clones share the one place.
#[derive(Clone, Default)]
pub(crate) struct Console {
    /// `None` for standard output.
    captured: Option<Arc<Mutex<String>>>,
}

impl Console {
    /// A console that keeps what is printed, for [`Console::text`].
    #[allow(dead_code)]
    pub(crate) fn capture() -> Console {
        Console {
            captured: Some(Arc::default()),
        }
    }

    /// What a capturing console holds so far.
    #[allow(dead_code)]
    pub(crate) fn text(&self) -> String {
        self.captured
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .unwrap_or_default()
    }

    /// Prints one line.
    fn line(&self, line: fmt::Arguments<'_>) {
        match &self.captured {
            None => println!("{line}"),
            Some(c) => {
                let mut c = c.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = writeln!(c, "{line}");
            }
        }
    }
}

/// The app's server, not yet bound: its [`PAGES`], and messages up to 256
/// bytes (the original's limit), each one printed and answered, switching
/// `led`.
pub(crate) fn server(led: Led) -> Server {
    server_printing_to(led, Console::default())
}

/// [`server`], printing to `console`.
pub(crate) fn server_printing_to(led: Led, console: Console) -> Server {
    let (on_accept, on_text, on_close) = (console.clone(), console.clone(), console);
    Server::new()
        .pages(PAGES)
        .max_message_len(256)
        .on_accept(move |conn, _request| {
            on_accept.line(format_args!("WS ACCEPT from {}", conn.peer_addr()));
            Ok(())
        })
        .on_text(move |conn, msg| {
            // Shown escaped: the client's text must not forge lines of
            // this program's output or drive the terminal.
            on_text.line(format_args!("WS RECV TEXT : {}", Escaped(msg)));
            if msg.eq_ignore_ascii_case("LEDOn") {
                led.set(true);
            } else if msg.eq_ignore_ascii_case("LEDOff") {
                led.set(false);
            }
            let _ = conn.send_text(&format!("Reply for {msg}"));
        })
        .on_close(move |conn, code, _reason| {
            on_close.line(format_args!("WS CLOSED {} ({code})", conn.peer_addr()));
        })
}

/// A client's text as it is printed: on one line and inert in a terminal.
/// Control characters (CR, LF, ESC, …), the Unicode line separators and
/// the bidirectional overrides are shown as Rust escapes (`\r`, `\n`,
/// `\u{1b}`), and a backslash as `\\`, so an escape shown always stands
/// for one character. Other text, non-ASCII letters included, is shown as
/// it is.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut start = 0;
        for (i, c) in self.0.char_indices() {
            let unsafe_char = c == '\\'
                || c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                        | '\u{2066}'..='\u{2069}'
                );
            if !unsafe_char {
                continue;
            }
            f.write_str(self.0.get(start..i).unwrap_or_default())?;
            write!(f, "{}", c.escape_debug())?;
            start = i + c.len_utf8();
        }
        f.write_str(self.0.get(start..).unwrap_or_default())
    }
}
