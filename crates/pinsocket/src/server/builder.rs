//! [`Server`]: a server's configuration, set builder-style.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pinsocket_core::{CloseCode, HeadLimits};

use super::config::Config;
use crate::callbacks::{Callbacks, Reject, Request};
use crate::clients::Clients;
use crate::connection::Connection;
use crate::pages::PAGES;
use crate::static_files::Page;

/// A WebSocket and static-file server on one port, configured builder-style.
///
/// ```no_run
/// use pinsocket::Server;
///
/// let server = Server::new()
///     .bind("127.0.0.1:8080".parse().unwrap())
///     .max_message_len(256)
///     .on_text(|conn, msg| {
///         let _ = conn.send_text(&format!("Reply for {msg}"));
///     })
///     .start()
///     .unwrap();
/// println!("open http://{}/wstest.html", server.local_addr());
/// # server.shutdown();
/// ```
pub struct Server {
    pub(super) addr: SocketAddr,
    pub(super) web_root: Option<PathBuf>,
    pub(super) pages: &'static [Page],
    pub(super) threads: Option<usize>,
    pub(super) config: Config,
    pub(super) callbacks: Callbacks,
    pub(super) clients: Clients,
    /// https and wss, if set (the `tls` feature).
    pub(super) tls: Option<crate::tls::TlsSetting>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("web_root", &self.web_root)
            .field("config", &self.config)
            .field("callbacks", &self.callbacks)
            .finish_non_exhaustive()
    }
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server on 127.0.0.1:8080 serving the built-in pages, with no callbacks.
    pub fn new() -> Server {
        Server {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            web_root: None,
            pages: PAGES,
            threads: None,
            config: Config::default(),
            callbacks: Callbacks::default(),
            clients: Clients::default(),
            tls: None,
        }
    }

    /// The address to listen on. Default `127.0.0.1:8080`; port 0 picks a
    /// free port (see [`RunningServer::local_addr`](super::RunningServer::local_addr)).
    pub fn bind(mut self, addr: SocketAddr) -> Server {
        self.addr = addr;
        self
    }

    /// Serve files from this folder (the original's `webPath`). Without it,
    /// the pages compiled into the binary are served.
    pub fn web_root(mut self, path: impl Into<PathBuf>) -> Server {
        self.web_root = Some(path.into());
        self
    }

    /// Pages compiled into the binary, served when no web root is set.
    /// Default: [`PAGES`](crate::PAGES), the original's `led.html` and
    /// `wstest.html` and an index.
    pub fn pages(mut self, pages: &'static [Page]) -> Server {
        self.pages = pages;
        self
    }

    /// The largest message accepted, in bytes (the original's
    /// `MaxWebSocketRecvLen`). Larger ones close the connection with 1009.
    /// Default 64 KiB.
    pub fn max_message_len(mut self, bytes: usize) -> Server {
        self.config.max_message_len = bytes;
        self
    }

    /// Bytes that may wait to be written to one connection (queued or
    /// being written). A send that would exceed it from a broadcast or
    /// another thread closes that connection with 1008 instead of growing
    /// without bound. Replies sent from the connection's own callbacks are
    /// never refused: once they reach this limit, the server hands that
    /// connection's callbacks no further messages (keeping the rest of the
    /// input) until what is queued has been written. One message always
    /// fits in an empty queue. Default 1 MiB.
    pub fn max_send_queue(mut self, bytes: usize) -> Server {
        self.config.max_send_queue = bytes;
        self
    }

    /// Bytes that may wait to be written to all connections together: what
    /// bounds the server's memory for output however many clients stop
    /// reading. A send from a broadcast or another thread that would pass
    /// it closes its client with 1008 (unless that client's queue is
    /// empty: one message always fits); a connection's own callbacks are
    /// handed no further input while it is spent and their connection has
    /// anything queued. Input held back that way counts too.
    /// [`Clients::queued_bytes`] tells how much is used. Default 64 MiB, a
    /// sixteenth of a 1 GiB board.
    pub fn output_budget(self, bytes: usize) -> Server {
        self.clients.set_output_budget(bytes);
        self
    }

    /// A connection silent for this long is pinged. Default 30 s.
    pub fn ping_interval(mut self, interval: Duration) -> Server {
        self.config.ping_interval = interval;
        self
    }

    /// A pinged connection that sends nothing for this long is dropped, so
    /// clients that vanish without a close frame free their resources.
    /// Default 10 s.
    pub fn ping_timeout(mut self, timeout: Duration) -> Server {
        self.config.ping_timeout = timeout;
        self
    }

    /// How long to wait for the client's close frame after sending ours,
    /// and for shutdown to finish. Default 5 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Server {
        self.config.close_timeout = timeout;
        self
    }

    /// A client that takes none of the bytes waiting for it for this long is
    /// dropped (reported to `on_close` as 1008), so a client that stops
    /// reading cannot hold its queue forever. Default 30 s.
    pub fn send_timeout(mut self, timeout: Duration) -> Server {
        self.config.send_timeout = timeout;
        self
    }

    /// How long a client may take to send a request head, from its first
    /// byte (or from connecting). Default 10 s.
    pub fn header_timeout(mut self, timeout: Duration) -> Server {
        self.config.header_timeout = timeout;
        self
    }

    /// How long an idle keep-alive HTTP connection is kept. Default 30 s.
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Server {
        self.config.keep_alive_timeout = timeout;
        self
    }

    /// Most TCP connections (HTTP and WebSocket) served at once. Beyond it a
    /// new connection is answered `503 Service Unavailable` and closed;
    /// the open ones are unaffected. Default 16,384 (the process also needs
    /// an open-file limit above it).
    pub fn max_connections(mut self, n: usize) -> Server {
        self.config.max_connections = n;
        self
    }

    /// Length of the kernel's queue of connections not yet accepted. A burst
    /// of clients beyond it (a restart with many pages open) has SYNs
    /// dropped and retried a second later. Default 1024; Linux caps it at
    /// `net.core.somaxconn` (4096 on current kernels).
    pub fn backlog(mut self, n: u32) -> Server {
        self.config.backlog = n;
        self
    }

    /// How long a WebSocket may go without input before it rests: its task
    /// ends, and the connection's state waits in a small allocation of its
    /// own (about 250 bytes instead of a task of 400 and more) until input
    /// arrives or something is sent to it, which starts a task again at
    /// once. The liveness sweep checks, so this may take up to about a
    /// second more. A new connection starts resting, and one woken after
    /// resting this long rests again as soon as it has nothing to do; a
    /// busy one keeps its task.
    ///
    /// This trades memory for wake-up cost. Shorter, a server with many
    /// mostly quiet clients holds less memory for them; longer, a client
    /// that talks every few seconds keeps its task, and its messages do not
    /// each pay for starting one (about a microsecond). Default 1 s;
    /// `Duration::MAX` never rests (every WebSocket keeps a task for its
    /// whole life).
    pub fn rest_idle_after(mut self, idle: Duration) -> Server {
        self.config.rest_after = idle;
        self
    }

    /// Subprotocols the server speaks, most preferred first. A client that
    /// offers one of them in `Sec-WebSocket-Protocol` gets the first match
    /// confirmed in the handshake ([`Connection::protocol`]); a client that
    /// offers none, or none of these, is served without one. Default: none.
    pub fn protocols(mut self, protocols: &'static [&'static str]) -> Server {
        self.config.protocols = protocols;
        self
    }

    /// Limits on request heads (default 8 KiB head, 2 KiB target).
    pub fn limits(mut self, limits: HeadLimits) -> Server {
        self.config.limits = limits;
        self
    }

    /// Worker threads of the runtime that [`Server::start`] and
    /// [`Server::run`] create. Default: one per CPU.
    pub fn threads(mut self, threads: usize) -> Server {
        self.threads = Some(threads.max(1));
        self
    }

    /// Runs when a WebSocket handshake arrives, before it is accepted (the
    /// original's `AcceptWebSocketCallback`). Return `Err` to refuse with an
    /// HTTP status. Messages sent here are delivered right after the handshake.
    pub fn on_accept(
        mut self,
        f: impl Fn(&Connection, &Request<'_>) -> Result<(), Reject> + Send + Sync + 'static,
    ) -> Server {
        self.callbacks.accept = Some(Box::new(f));
        self
    }

    /// Runs for every complete text message (`RecvTextCallback`).
    pub fn on_text(mut self, f: impl Fn(&Connection, &str) + Send + Sync + 'static) -> Server {
        self.callbacks.text = Some(Box::new(f));
        self
    }

    /// Runs for every complete binary message (`RecvBinaryCallback`).
    pub fn on_binary(mut self, f: impl Fn(&Connection, &[u8]) + Send + Sync + 'static) -> Server {
        self.callbacks.binary = Some(Box::new(f));
        self
    }

    /// Runs once when a WebSocket has closed (`ClosedCallback`), with the
    /// close code and reason: the client's if it closed, the server's if the
    /// server did, 1006 if the connection dropped without a close frame.
    pub fn on_close(
        mut self,
        f: impl Fn(&Connection, CloseCode, &str) + Send + Sync + 'static,
    ) -> Server {
        self.callbacks.close = Some(Box::new(f));
        self
    }

    /// Serve https and wss instead of http and ws, with this identity. The
    /// server's address then takes TLS only: a plain HTTP request there is
    /// answered `400 Bad Request` naming the https:// address. Every
    /// callback, limit and timeout applies as before, and
    /// [`Request::peer_addr`] is the client's address. Each TLS connection
    /// holds a task and its TLS buffers for its whole life (it does not
    /// rest the way a plain WebSocket does). Beyond
    /// [`max_connections`](Server::max_connections) a new connection is
    /// closed at once (a 503 would need a handshake first). Needs the `tls`
    /// feature.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::TlsConfig) -> Server {
        self.tls = Some(crate::tls::TlsSetting::Ready(config));
        self.config.tls = true;
        self
    }

    /// Like [`Server::tls`], with the certificate chain and private key
    /// read from these PEM files when the server starts (see
    /// [`TlsConfig::from_pem_files`](crate::TlsConfig::from_pem_files)):
    /// starting then fails with an error naming a file that cannot be read
    /// or used. Needs the `tls` feature.
    #[cfg(feature = "tls")]
    pub fn tls_pem(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Server {
        self.tls = Some(crate::tls::TlsSetting::Pem {
            cert: cert.into(),
            key: key.into(),
        });
        self.config.tls = true;
        self
    }

    /// Who may use the server: the `Host` names it answers to, the
    /// origins whose pages may open WebSockets, and an access token (see
    /// [`Access`](crate::Access)). Replaces any earlier setting. Default:
    /// [`Access::new`](crate::Access::new), nothing checked; a server that
    /// drives hardware wants at least
    /// [`Access::guarded`](crate::Access::guarded).
    pub fn access(mut self, access: crate::Access) -> Server {
        self.config.access = access;
        self
    }

    /// The set of open WebSockets, for broadcasting from callbacks or other
    /// threads. Take it before starting the server.
    pub fn clients(&self) -> Clients {
        self.clients.clone()
    }
}
