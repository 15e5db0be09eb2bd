//! [`Terminator`]: the public listener of a TLS server and one task per
//! connection: peek, handshake, inner connection, copy both ways.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::PRIVATE_ADDR;
use super::handoff::{Handoffs, Ticket};
use super::identity::TlsSetting;
use crate::server::{ServerShared, Tracked, until_shutdown};

/// The first byte of a TLS handshake record (RFC 8446 §5.1).
const HANDSHAKE_RECORD: u8 = 0x16;

/// Bytes buffered in each direction between the client and the plain
/// server, for the connection's whole life: small, as most connections
/// are quiet WebSockets; a larger message just takes more reads.
const COPY_BUFFER: usize = 8 * 1024;

/// The TLS side of a server: its identity and the inner connections it
/// registers. [`Terminator::run`] serves the public listener.
pub(crate) struct Terminator {
    acceptor: TlsAcceptor,
    handoffs: Arc<Handoffs>,
}

impl Terminator {
    /// Loads the identity (errors name the file); `None` without a setting.
    pub(crate) fn load(setting: Option<TlsSetting>) -> io::Result<Option<Terminator>> {
        let Some(setting) = setting else {
            return Ok(None);
        };
        let config = setting.load()?;
        Ok(Some(Terminator {
            acceptor: TlsAcceptor::from(config.server),
            handoffs: Arc::default(),
        }))
    }

    /// The registry the accept loop claims inner connections from.
    pub(crate) fn handoffs(&self) -> Arc<Handoffs> {
        self.handoffs.clone()
    }

    /// Accepts TLS clients on `public` until shutdown begins, each on a
    /// task of its own that ends up connected to the plain server at
    /// `plain`.
    pub(crate) async fn run(
        self,
        inner: Arc<ServerShared>,
        public: TcpListener,
        plain: SocketAddr,
    ) {
        let mut shutdown = inner.shutdown.clone();
        loop {
            tokio::select! {
                () = until_shutdown(&mut shutdown) => break,
                accepted = public.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if inner.tracker.count() >= inner.config.max_connections {
                            // A 503 would need a handshake first: under
                            // overload the cheapest answer is to close.
                            tracing::warn!(%peer, "connection limit reached: closing a TLS connection");
                            continue;
                        }
                        let tracked = inner.tracker.track();
                        let conn = Conn {
                            inner: inner.clone(),
                            acceptor: self.acceptor.clone(),
                            handoffs: self.handoffs.clone(),
                            peer,
                            plain,
                        };
                        tokio::spawn(conn.serve(stream, tracked));
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }
}

/// One client of the public listener.
struct Conn {
    inner: Arc<ServerShared>,
    acceptor: TlsAcceptor,
    handoffs: Arc<Handoffs>,
    peer: SocketAddr,
    plain: SocketAddr,
}

impl Conn {
    /// Peek, handshake and inner connection, within the header timeout
    /// and given up when shutdown begins; then the bytes both ways until
    /// both sides have closed.
    async fn serve(self, stream: TcpStream, tracked: Tracked) {
        let peer = self.peer;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, "set_nodelay: {e}");
        }
        let deadline = Instant::now() + self.inner.config.header_timeout;
        let mut shutdown = self.inner.shutdown.clone();
        let opened = tokio::select! {
            () = until_shutdown(&mut shutdown) => return,
            opened = timeout_at(deadline, self.open(stream, tracked)) => opened,
        };
        let (mut client, mut server, ticket) = match opened {
            Ok(Ok(Opened::Tls(client, server, ticket))) => (client, server, ticket),
            Ok(Ok(Opened::Plain(mut stream, tracked))) => {
                tracing::debug!(%peer, "plain HTTP on the TLS port: answering 400");
                tokio::select! {
                    () = until_shutdown(&mut shutdown) => {}
                    () = super::plain::answer(&self.inner, &mut stream, deadline) => {}
                }
                drop(tracked);
                return;
            }
            Ok(Ok(Opened::Gone)) => return,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "TLS connection: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake not done within the header timeout");
                return;
            }
        };
        match tokio::io::copy_bidirectional_with_sizes(
            &mut client,
            &mut server,
            COPY_BUFFER,
            COPY_BUFFER,
        )
        .await
        {
            Ok((up, down)) => tracing::trace!(%peer, up, down, "TLS connection ended"),
            Err(e) => tracing::debug!(%peer, "TLS connection ended: {e}"),
        }
        drop(ticket);
    }

    /// Peeks the first byte; for a TLS client, runs the handshake, then
    /// registers and makes the inner connection.
    async fn open(&self, stream: TcpStream, tracked: Tracked) -> io::Result<Opened> {
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 0 {
            return Ok(Opened::Gone);
        }
        if first[0] != HANDSHAKE_RECORD {
            return Ok(Opened::Plain(stream, tracked));
        }
        let client = self.acceptor.accept(stream).await?;
        let socket = TcpSocket::new_v4()?;
        socket.bind(PRIVATE_ADDR)?;
        let port = socket.local_addr()?.port();
        // Registered before connecting: the accept loop may take the
        // connection before `connect` returns here.
        let ticket = self.handoffs.register(port, self.peer, tracked);
        let server = socket.connect(self.plain).await?;
        server.set_nodelay(true)?;
        Ok(Opened::Tls(Box::new(client), server, ticket))
    }
}

/// How a connection to the public listener began.
enum Opened {
    /// A TLS client, handshake done: its stream, the inner connection, and
    /// the registration the accept loop claims.
    Tls(Box<TlsStream<TcpStream>>, TcpStream, Ticket),
    /// Plain bytes: to be answered 400.
    Plain(TcpStream, Tracked),
    /// Closed before its first byte.
    Gone,
}
