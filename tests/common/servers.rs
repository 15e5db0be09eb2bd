//! Servers under test and what they report: the echo server of
//! `examples/echo`, the built-in pages, a server that hands over the
//! connections it accepts, an `on_close` recorder, and the wait for every
//! connection to be gone.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pinsocket::{CloseCode, Connection, RunningServer, Server};

use super::wait::wait_until;

/// The address every test server binds: loopback, a port the OS picks.
pub(crate) fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The largest message the echo server takes: examples/echo's default.
pub(crate) const ECHO_MAX_MESSAGE: usize = 16 << 20;

/// The server of `examples/echo` as a builder, for tests to add settings
/// (short timeouts, an `on_close`) before starting it: messages up to
/// 16 MiB, a 32 MiB send queue, every text and binary message echoed.
pub(crate) fn echo_builder() -> Server {
    Server::new()
        .bind(any_port())
        .max_message_len(ECHO_MAX_MESSAGE)
        .max_send_queue(2 * ECHO_MAX_MESSAGE)
        .on_text(|c, m| {
            let _ = c.send_text(m);
        })
        .on_binary(|c, d| {
            let _ = c.send_binary(d);
        })
}

/// The echo server of [`echo_builder`], started.
pub(crate) fn echo_server() -> RunningServer {
    echo_builder().start().unwrap()
}

/// The contents of a built-in page, by its path without the leading slash
/// (`index.html`, `led.html`, `wstest.html`).
pub(crate) fn builtin_page(path: &str) -> &'static [u8] {
    pinsocket::PAGES
        .iter()
        .find(|p| p.path() == path)
        .unwrap_or_else(|| panic!("no built-in page {path}"))
        .contents()
}

/// Records every `on_close` call: connection id, code and reason.
#[derive(Clone, Default)]
pub(crate) struct Closes(Arc<Mutex<Vec<(u64, u16, String)>>>);

impl Closes {
    /// A new, empty record.
    pub(crate) fn new() -> Closes {
        Closes::default()
    }

    /// The `on_close` callback that records into this.
    pub(crate) fn hook(&self) -> impl Fn(&Connection, CloseCode, &str) + Send + Sync + 'static {
        let log = self.clone();
        move |conn, code, reason| {
            log.0
                .lock()
                .unwrap()
                .push((conn.id(), code.0, reason.to_owned()));
        }
    }

    /// What was recorded so far.
    pub(crate) fn all(&self) -> Vec<(u64, u16, String)> {
        self.0.lock().unwrap().clone()
    }

    /// How many calls were recorded.
    pub(crate) fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits (at most `limit`) until `n` calls were recorded and returns
    /// their codes and reasons; fails the test if more than `n` were.
    pub(crate) async fn wait_for(&self, n: usize, limit: Duration) -> Vec<(u16, String)> {
        wait_until(&format!("{n} on_close calls"), limit, || self.count() >= n).await;
        let all = self.all();
        assert_eq!(all.len(), n, "more on_close calls than expected: {all:?}");
        all.into_iter()
            .map(|(_, code, reason)| (code, reason))
            .collect()
    }
}

/// Starts `server` with an `on_accept` that passes every accepted
/// connection on the returned channel (tests that do not want them drop
/// the receiver) and an `on_close` recorded in the returned [`Closes`].
pub(crate) fn start_capturing(
    server: Server,
) -> (RunningServer, Closes, mpsc::Receiver<Connection>) {
    let closes = Closes::new();
    let (tx, rx) = mpsc::channel();
    let server = server
        .on_accept(move |conn, _| {
            let _ = tx.send(conn.clone());
            Ok(())
        })
        .on_close(closes.hook())
        .start()
        .unwrap();
    (server, closes, rx)
}

/// Waits until the server holds no WebSocket and no TCP connection.
pub(crate) async fn wait_all_gone(server: &RunningServer, limit: Duration) {
    wait_until("no clients and no connections left", limit, || {
        server.clients().is_empty() && server.connections() == 0
    })
    .await;
}
