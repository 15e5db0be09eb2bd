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

/// The raw TCP floor.
mod floor {
    use pinsocket_core::{FrameHeader, OpCode, apply_mask};

    use super::*;
    use crate::client;

    /// The 101 response pinsocket writes for the client's fixed key.
    const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    /// The frame answering the 22-byte request frame.
    const REPLY_FRAME: &[u8] = b"\x81\x1aReply for 0123456789abcdef";

    /// A WebSocket of the floor: its socket and a lock that keeps a
    /// broadcast from interleaving with a reply.
    struct Conn {
        stream: TcpStream,
        write: Mutex<()>,
    }

    impl Conn {
        /// Writes `bytes` whole or fails: the floor never queues. (Small
        /// frames into an empty loopback socket buffer always fit.)
        fn write_now(&self, bytes: &[u8]) -> io::Result<()> {
            let _guard = self
                .write
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match self.stream.try_write(bytes) {
                Ok(n) if n == bytes.len() => Ok(()),
                Ok(_) => Err(io::Error::other("socket buffer full")),
                Err(e) => Err(e),
            }
        }
    }

    #[derive(Default)]
    struct Registry {
        conns: Mutex<HashMap<u64, Arc<Conn>>>,
        next: AtomicU64,
    }

    impl Registry {
        fn all(&self) -> Vec<Arc<Conn>> {
            self.conns
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .values()
                .cloned()
                .collect()
        }
    }

    pub(super) async fn accept_loop(listener: TcpListener) {
        accept_each(listener, Arc::new(Registry::default()), serve).await;
    }

    fn canned_page() -> &'static [u8] {
        static PAGE: OnceLock<Vec<u8>> = OnceLock::new();
        PAGE.get_or_init(|| {
            let page = index_page();
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\nCache-Control: no-cache\r\n\r\n",
                page.len()
            )
            .into_bytes();
            out.extend_from_slice(page);
            out
        })
    }

    async fn serve(stream: TcpStream, registry: Arc<Registry>) {
        let conn = Arc::new(Conn {
            stream,
            write: Mutex::new(()),
        });
        let mut buf = [0u8; 512];
        let mut end = 0;
        let mut ws_id = None;
        let mut out = Vec::new();
        'conn: loop {
            if conn.stream.readable().await.is_err() {
                break;
            }
            match conn.stream.try_read(&mut buf[end..]) {
                Ok(0) => break,
                Ok(n) => end += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(_) => break,
            }
            let mut start = 0;
            out.clear();
            loop {
                let input = &buf[start..end];
                if ws_id.is_none() {
                    // HTTP: a GET head, answered with canned bytes.
                    let Some(len) = input.windows(4).position(|w| w == b"\r\n\r\n") else {
                        break;
                    };
                    let head = &input[..len];
                    start += len + 4;
                    if contains(head, b"Upgrade: websocket") {
                        out.extend_from_slice(SWITCHING);
                        let id = registry.next.fetch_add(1, Ordering::Relaxed);
                        registry
                            .conns
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .insert(id, conn.clone());
                        ws_id = Some(id);
                    } else {
                        let close = contains(head, b"Connection: close");
                        if conn.write_now(canned_page()).is_err() || close {
                            break 'conn;
                        }
                    }
                    continue;
                }
                // WebSocket: short masked frames only.
                let [b0, b1, ..] = *input else { break };
                let len = usize::from(b1 & 0x7f);
                if b1 & 0x80 == 0 || len >= 126 {
                    break 'conn;
                }
                if input.len() < 6 + len {
                    break;
                }
                start += 6 + len;
                match b0 & 0x0f {
                    8 => {
                        out.extend_from_slice(b"\x88\x02\x03\xe8");
                        let _ = conn.write_now(&out);
                        break 'conn;
                    }
                    1 if len == 16 => out.extend_from_slice(REPLY_FRAME),
                    1 => {
                        let mut payload = input[6..6 + len].to_vec();
                        apply_mask(&mut payload, [input[2], input[3], input[4], input[5]], 0);
                        if let Some(rest) = payload.strip_prefix(BROADCAST_PREFIX.as_bytes()) {
                            let frame = client::frame(
                                FrameHeader::new(OpCode::Text, rest.len() as u64),
                                rest,
                            );
                            for other in registry.all() {
                                let _ = other.write_now(&frame);
                            }
                        }
                    }
                    _ => {}
                }
            }
            buf.copy_within(start..end, 0);
            end -= start;
            if end == buf.len() {
                break;
            }
            if !out.is_empty() && conn.write_now(&out).is_err() {
                break;
            }
        }
        if let Some(id) = ws_id {
            registry
                .conns
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&id);
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    }
}

/// fastwebsockets behind hyper's HTTP/1 server.
mod fastws {
    use fastwebsockets::upgrade::{self, UpgradeFut};
    use fastwebsockets::{
        FragmentCollector, FragmentCollectorRead, Frame, OpCode, Payload, WebSocketError,
    };
    use http_body_util::Full;
    use hyper::body::Incoming;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper::{Request, Response, StatusCode};
    use hyper_util::rt::TokioIo;

    use super::*;

    pub(super) async fn accept_loop(
        listener: TcpListener,
        bcast: Option<broadcast::Sender<Bytes>>,
    ) {
        accept_each(listener, bcast, |stream, bcast| async move {
            let service = service_fn(move |req| respond(req, bcast.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        })
        .await;
    }

    async fn respond(
        mut req: Request<Incoming>,
        bcast: Option<broadcast::Sender<Bytes>>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let status = |code: StatusCode| {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = code;
            Ok(response)
        };
        if upgrade::is_upgrade_request(&req) {
            let Ok((response, fut)) = upgrade::upgrade(&mut req) else {
                return status(StatusCode::BAD_REQUEST);
            };
            match bcast {
                None => tokio::spawn(echo(fut)),
                Some(bcast) => tokio::spawn(with_broadcast(fut, bcast)),
            };
            return Ok(response.map(|_| Full::new(Bytes::new())));
        }
        match req.uri().path() {
            "/" | "/index.html" => Ok(Response::builder()
                .header("Content-Type", "text/html; charset=utf-8")
                .header("Cache-Control", "no-cache")
                .body(Full::new(Bytes::from_static(index_page())))
                .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))),
            _ => status(StatusCode::NOT_FOUND),
        }
    }

    fn reply_to(payload: &[u8]) -> Option<String> {
        std::str::from_utf8(payload)
            .ok()
            .map(|msg| format!("Reply for {msg}"))
    }

    /// One task per connection, as fastwebsockets' examples do.
    async fn echo(fut: UpgradeFut) -> Result<(), WebSocketError> {
        let mut ws = FragmentCollector::new(fut.await?);
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                OpCode::Close => return Ok(()),
                OpCode::Text => {
                    if let Some(reply) = reply_to(&frame.payload) {
                        ws.write_frame(Frame::text(Payload::Owned(reply.into_bytes())))
                            .await?;
                    }
                }
                _ => {}
            }
        }
    }

    /// fastwebsockets' `read_frame` cannot be cancelled part-way, so a
    /// connection that must also send broadcasts splits: this task reads and
    /// replies, a second one forwards the broadcast channel, and the write
    /// half is shared behind an async mutex.
    async fn with_broadcast(
        fut: UpgradeFut,
        bcast: broadcast::Sender<Bytes>,
    ) -> Result<(), WebSocketError> {
        let ws = fut.await?;
        let (rx, tx) = ws.split(tokio::io::split);
        let mut rx = FragmentCollectorRead::new(rx);
        let tx = Arc::new(tokio::sync::Mutex::new(tx));
        let mut sub = bcast.subscribe();
        let forward = tokio::spawn({
            let tx = tx.clone();
            async move {
                loop {
                    match sub.recv().await {
                        Ok(msg) => {
                            let frame = Frame::text(Payload::Borrowed(&msg));
                            if tx.lock().await.write_frame(frame).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        });
        let result = async {
            loop {
                let mut obligated = |frame: Frame<'static>| {
                    let tx = tx.clone();
                    async move { tx.lock().await.write_frame(frame).await }
                };
                let frame = rx.read_frame(&mut obligated).await?;
                match frame.opcode {
                    OpCode::Close => return Ok(()),
                    OpCode::Text => match frame.payload.strip_prefix(BROADCAST_PREFIX.as_bytes()) {
                        Some(rest) => {
                            let _ = bcast.send(Bytes::copy_from_slice(rest));
                        }
                        None => {
                            if let Some(reply) = reply_to(&frame.payload) {
                                let reply = Frame::text(Payload::Owned(reply.into_bytes()));
                                tx.lock().await.write_frame(reply).await?;
                            }
                        }
                    },
                    _ => {}
                }
            }
        }
        .await;
        forward.abort();
        result
    }
}

/// tokio-tungstenite with its default configuration.
mod tungstenite {
    use tokio_tungstenite::tungstenite::Message;

    use super::*;

    pub(super) async fn accept_loop(
        listener: TcpListener,
        bcast: Option<broadcast::Sender<Message>>,
    ) {
        accept_each(listener, bcast, |stream, bcast| async move {
            let _ = serve(stream, bcast).await;
        })
        .await;
    }

    async fn serve(
        stream: TcpStream,
        bcast: Option<broadcast::Sender<Message>>,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let mut ws = tokio_tungstenite::accept_async(stream).await?;
        let Some(bcast) = bcast else {
            // One task, read then reply: tokio-tungstenite's echo example.
            while let Some(msg) = ws.next().await {
                if let Message::Text(text) = msg? {
                    ws.send(Message::text(format!("Reply for {}", text.as_str())))
                        .await?;
                }
            }
            return Ok(());
        };
        // The stream's `next` may be cancelled, so one task selects
        // between the socket and the broadcast channel.
        let mut sub = bcast.subscribe();
        loop {
            tokio::select! {
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(text))) => match text.as_str().strip_prefix(BROADCAST_PREFIX) {
                        Some(rest) => {
                            let _ = bcast.send(Message::text(rest));
                        }
                        None => ws.send(Message::text(format!("Reply for {}", text.as_str()))).await?,
                    },
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => return Ok(()),
                },
                msg = sub.recv() => match msg {
                    Ok(msg) => ws.send(msg).await?,
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
}
