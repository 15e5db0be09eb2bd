//! The four servers, each run in a process of its own by the hidden
//! `serve <kind>` subcommand, all answering the original's echo app:
//! `Reply for <msg>` to every text message, and — for the broadcast test — a
//! message starting with `broadcast:` sent on to every open WebSocket.
//!
//! - `pinsocket`: the library, as its README shows it.
//! - `floor`: raw tokio TCP that exchanges the same bytes and does nothing
//!   else: canned handshake and page responses, the canned 28-byte reply to
//!   each 22-byte frame, broadcasts written straight to every socket.
//! - `fastwebsockets`: hyper's HTTP/1 server with fastwebsockets' upgrade,
//!   serving the same page bytes.
//! - `tokio-tungstenite`: `accept_async` with the default configuration (it
//!   has no HTTP server, so the page test is n/a).
//!
//! Every server sets `TCP_NODELAY` on accepted sockets and runs on a
//! multi-threaded tokio runtime with the same number of worker threads.
//! With `--app echo`, the peers run one task per connection with no
//! broadcast machinery (their cheapest shape); with `--app broadcast` they
//! add what their users write for it: a `tokio::sync::broadcast` channel
//! that every connection subscribes to.

use std::any::Any;
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

use crate::client::BROADCAST_PREFIX;

/// A server process ends by itself after this long, whatever happens.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Messages a lagging subscriber may fall behind in the peers' broadcast channel.
const BROADCAST_CAPACITY: usize = 1024;

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub(crate) enum Kind {
    /// pinsocket, the library under test.
    Pinsocket,
    /// Raw TCP exchanging the same bytes: the floor.
    Floor,
    /// fastwebsockets with hyper's upgrade.
    Fastwebsockets,
    /// tokio-tungstenite with default settings.
    #[value(name = "tokio-tungstenite")]
    Tungstenite,
}

impl Kind {
    /// Table order.
    pub(crate) const ALL: [Kind; 4] = [
        Kind::Pinsocket,
        Kind::Floor,
        Kind::Fastwebsockets,
        Kind::Tungstenite,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Pinsocket => "pinsocket",
            Kind::Floor => "floor",
            Kind::Fastwebsockets => "fastwebsockets",
            Kind::Tungstenite => "tokio-tungstenite",
        }
    }

    /// Whether it serves the page over HTTP.
    pub(crate) fn serves_pages(self) -> bool {
        self != Kind::Tungstenite
    }
}

/// What the server's WebSockets do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum App {
    /// Reply to each message.
    Echo,
    /// Reply, and broadcast `broadcast:` messages to every client.
    Broadcast,
}

impl App {
    pub(crate) fn name(self) -> &'static str {
        match self {
            App::Echo => "echo",
            App::Broadcast => "broadcast",
        }
    }
}

/// The page every server serves at `/index.html`: pinsocket's built-in index.
pub(crate) fn index_page() -> &'static [u8] {
    pinsocket::PAGES
        .iter()
        .find(|p| p.path() == "index.html")
        .map_or(b"", |p| p.contents())
}

fn local() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// The `serve` subcommand: start `kind`, print `listening <addr>` on stdout,
/// serve until stdin closes (or [`MAX_LIFETIME`]), then exit.
pub(crate) fn serve(kind: Kind, app: App, threads: usize) -> anyhow::Result<()> {
    crate::proc::raise_fd_limit();
    std::thread::spawn(|| {
        std::thread::sleep(MAX_LIFETIME);
        eprintln!("server: lifetime over, exiting");
        std::process::exit(2);
    });
    // Kept alive until the process exits.
    let (addr, _running): (SocketAddr, Box<dyn Any>) = match kind {
        Kind::Pinsocket => {
            let server = start_pinsocket(threads)?;
            (server.local_addr(), Box::new(server))
        }
        _ => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()?;
            let listener = runtime.block_on(TcpListener::bind(local()))?;
            let addr = listener.local_addr()?;
            let broadcasting = app == App::Broadcast;
            match kind {
                Kind::Floor => {
                    runtime.spawn(floor::accept_loop(listener));
                }
                Kind::Fastwebsockets => {
                    let bcast = broadcasting.then(|| broadcast::channel(BROADCAST_CAPACITY).0);
                    runtime.spawn(fastws::accept_loop(listener, bcast));
                }
                _ => {
                    let bcast = broadcasting.then(|| broadcast::channel(BROADCAST_CAPACITY).0);
                    runtime.spawn(tungstenite::accept_loop(listener, bcast));
                }
            }
            (addr, Box::new(runtime))
        }
    };
    let mut out = io::stdout().lock();
    writeln!(out, "listening {addr}")?;
    out.flush()?;
    drop(out);
    // Serve until the bench closes our stdin (or dies).
    let mut sink = [0u8; 64];
    while io::stdin().read(&mut sink).is_ok_and(|n| n > 0) {}
    // No graceful shutdown: the bench is done with us.
    std::process::exit(0);
}

/// pinsocket, as its README shows it: the echo app, plus broadcast through
/// `Clients::broadcast_text`. The same app serves both `--app` modes: its
/// registry of open connections exists either way.
fn start_pinsocket(threads: usize) -> anyhow::Result<pinsocket::RunningServer> {
    let server = pinsocket::Server::new().bind(local()).threads(threads);
    let clients = server.clients();
    let server = server
        .on_text(move |conn, msg| match msg.strip_prefix(BROADCAST_PREFIX) {
            Some(rest) => {
                clients.broadcast_text(rest);
            }
            None => {
                let _ = conn.send_text(&format!("Reply for {msg}"));
            }
        })
        .start()
        .context("starting pinsocket")?;
    Ok(server)
}

/// Accepts until the runtime ends, handing each socket to `serve` with a
/// clone of `shared` (what every connection of the server uses).
async fn accept_each<S, F, Fut>(listener: TcpListener, shared: S, serve: F)
where
    S: Clone,
    F: Fn(TcpStream, S) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, shared.clone()));
            }
            // Out of descriptors: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

mod floor;

mod fastws;

mod tungstenite;
