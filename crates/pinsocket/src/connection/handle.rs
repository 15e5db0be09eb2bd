//! [`Connection`], the handle to one WebSocket, and [`Shared`], what every
//! clone of it and the connection's session share.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pinsocket_core::{CloseCode, MAX_HEADER_LEN, OpCode};

use super::clock::epoch;
use super::peer::PeerAddr;
use super::rest_state::RestState;
use super::wakeup::Wakeup;
use super::{Outbox, Prepared, SendError, State, encode_shared, lock, queue_close};

/// What the handles of one connection and its session share.
pub(crate) struct Shared {
    id: u64,
    peer: PeerAddr,
    path: Box<str>,
    /// An element of the server's `protocols` (a thin pointer to it).
    protocol: Option<&'static &'static str>,
    outbox: Mutex<Outbox>,
    /// Wakes the session: something was queued or the state changed.
    pub(crate) wakeup: Wakeup,
    /// Whether the session's task is running, asked to rest, or resting.
    pub(crate) rest: RestState,
    /// Milliseconds (server clock) of the last bytes received.
    pub(crate) last_rx: AtomicU64,
    /// Milliseconds (server clock) when the outstanding ping was sent; 0 if none.
    pub(crate) ping_sent: AtomicU64,
    /// Milliseconds (server clock) since bytes have been waiting to be
    /// written without the client taking any; 0 when nothing waits.
    pub(crate) write_stalled_since: AtomicU64,
    max_queue: usize,
}

/// A handle to one WebSocket connection.
///
/// Clone it freely and keep it: it stays valid after the connection closes
/// (sends then fail with [`SendError::Closed`]).
#[derive(Clone)]
pub struct Connection {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id())
            .field("peer", &self.peer_addr())
            .field("path", &self.path())
            .finish()
    }
}

impl Connection {
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        path: String,
        protocol: Option<&'static &'static str>,
        max_queue: usize,
        now_ms: u64,
    ) -> Connection {
        Connection {
            shared: Arc::new(Shared {
                id,
                peer: PeerAddr::from(peer),
                path: path.into_boxed_str(),
                protocol,
                outbox: Mutex::new(Outbox::new()),
                wakeup: Wakeup::default(),
                rest: RestState::default(),
                last_rx: AtomicU64::new(now_ms),
                ping_sent: AtomicU64::new(0),
                write_stalled_since: AtomicU64::new(0),
                max_queue,
            }),
        }
    }

    /// A number unique to this connection within the server.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.shared.peer.into()
    }

    /// The request target of the upgrade request, e.g. `/` or `/ws?room=1`.
    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// The subprotocol agreed in the handshake, if any (see
    /// [`Server::protocols`](crate::Server::protocols)).
    pub fn protocol(&self) -> Option<&'static str> {
        self.shared.protocol.copied()
    }

    /// True until the connection starts closing.
    pub fn is_open(&self) -> bool {
        self.outbox().state == State::Open
    }

    /// When bytes last arrived from the client (any frame: a message, a
    /// pong, part of either), or when the connection opened if none have.
    /// Millisecond resolution. With [`Connection::ping`] this tells whether
    /// a client is still there: every WebSocket client answers a ping.
    pub fn last_heard(&self) -> Instant {
        epoch() + Duration::from_millis(self.shared.last_rx.load(Ordering::Relaxed))
    }

    /// Sends a ping with `payload` (at most 125 bytes); the client answers
    /// with a pong, which updates [`Connection::last_heard`]. Browsers
    /// answer by themselves, whatever the page does. Pings are not counted
    /// against the send queue.
    pub fn ping(&self, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > 125 {
            return Err(SendError::TooLarge);
        }
        let own = self.is_dispatching_here();
        let mut out = self.outbox();
        if out.state != State::Open {
            return Err(SendError::Closed);
        }
        out.push_frame(OpCode::Ping, payload);
        drop(out);
        if !own {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    /// Queues a text message.
    pub fn send_text(&self, text: &str) -> Result<(), SendError> {
        self.send(OpCode::Text, text.as_bytes())
    }

    /// Queues a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), SendError> {
        self.send(OpCode::Binary, data)
    }

    /// Starts the closing handshake with `code` and `reason` (cut to 123
    /// bytes). Messages queued before it are still delivered; the connection
    /// ends when the client answers or after the server's close timeout.
    pub fn close(&self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        let mut out = self.outbox();
        if out.state != State::Open {
            return Err(SendError::Closed);
        }
        queue_close(&mut out, code, reason);
        drop(out);
        self.shared.wakeup.notify();
        Ok(())
    }

    fn send(&self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        let own = self.is_dispatching_here();
        let mut out = self.outbox();
        if out.state != State::Open {
            return Err(SendError::Closed);
        }
        if !own && self.over_limit(&out, payload.len() + MAX_HEADER_LEN) {
            self.overflow(out);
            return Err(SendError::QueueFull);
        }
        out.push_frame(opcode, payload);
        drop(out);
        if !own {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    /// Queues a text message that supersedes the previous one sent this way
    /// if the client has not been sent that yet: a client that reads slowly
    /// gets only the newest, never one older than what it already has. Meant
    /// for state snapshots, where only the latest matters.
    pub fn send_latest_text(&self, text: &str) -> Result<(), SendError> {
        self.send_latest(&encode_shared(OpCode::Text, text.as_bytes()))
    }

    /// [`Connection::send_latest_text`] with a frame encoded once for many connections.
    pub(crate) fn send_latest(&self, frame: &Bytes) -> Result<(), SendError> {
        let own = self.is_dispatching_here();
        let mut out = self.outbox();
        if out.state != State::Open {
            return Err(SendError::Closed);
        }
        let replaces = out.latest.is_some_and(|i| (i as usize) < out.frames.len());
        if !own && !replaces && self.over_limit(&out, frame.len()) {
            self.overflow(out);
            return Err(SendError::QueueFull);
        }
        out.push_latest(frame.clone());
        drop(out);
        if !own {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    /// Queues a frame encoded once for many connections.
    pub(crate) fn send_shared(&self, frame: &Bytes) -> Result<(), SendError> {
        let own = self.is_dispatching_here();
        let mut out = self.outbox();
        if out.state != State::Open {
            return Err(SendError::Closed);
        }
        if !own && self.over_limit(&out, frame.len()) {
            self.overflow(out);
            return Err(SendError::QueueFull);
        }
        out.push_shared(frame.clone());
        drop(out);
        if !own {
            self.shared.wakeup.notify();
        }
        Ok(())
    }

    /// Queues a message encoded once for many connections (see [`Prepared`]).
    pub fn send_prepared(&self, message: &Prepared) -> Result<(), SendError> {
        self.send_shared(&message.frame)
    }

    /// [`Connection::send_latest_text`] with a message encoded once for many
    /// connections: it supersedes the previous message sent this way if
    /// that one has not been sent yet.
    pub fn send_latest_prepared(&self, message: &Prepared) -> Result<(), SendError> {
        self.send_latest(&message.frame)
    }

    /// Queues a control frame (pong, ping) regardless of the queue limit:
    /// control frames are at most 127 bytes. Wakes no one: the caller
    /// does, unless it is the session itself.
    pub(crate) fn send_control(&self, opcode: OpCode, payload: &[u8]) {
        let mut out = self.outbox();
        if out.state == State::Open {
            out.push_frame(opcode, payload);
        }
    }

    /// One message always fits in an empty queue, so a large reply to a large
    /// message is never refused; beyond that the queue is bounded.
    fn over_limit(&self, out: &Outbox, adding: usize) -> bool {
        out.queued > 0 && out.queued.saturating_add(adding) > self.shared.max_queue
    }

    fn overflow(&self, mut out: MutexGuard<'_, Outbox>) {
        tracing::warn!(
            id = self.shared.id,
            peer = %self.peer_addr(),
            queued = out.queued,
            "client too slow, send queue full: closing with 1008"
        );
        // What the client has not taken is dropped; the close tells it so.
        out.clear();
        queue_close(&mut out, CloseCode::POLICY_VIOLATION, "client too slow");
        drop(out);
        self.shared.wakeup.notify();
    }

    pub(crate) fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // A callback that panicked while sending cannot leave the queue
        // half-written (every push completes), so a poisoned lock is usable.
        lock(&self.shared.outbox)
    }

    /// Ends the connection without a close handshake: `state` is
    /// [`State::TimedOut`] (no answer to a ping) or [`State::Stalled`]
    /// (the client stopped taking our bytes).
    pub(crate) fn abort(&self, state: State) {
        self.outbox().state = state;
        self.shared.wakeup.notify();
    }
}
