//! [`Connection`], the handle to one WebSocket, and [`Shared`], what every
//! clone of it and the connection's session share.

use std::fmt;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pinsocket_core::{CloseCode, MAX_HEADER_LEN, OpCode};

use super::clock::epoch;
use super::peer::PeerAddr;
use super::rest_state::RestState;
use super::wakeup::Wakeup;
use super::{Outbox, OutputBudget, Prepared, SendError, State, encode_shared, lock, queue_close};

/// Bytes of each connection's queue that sends from other threads may fill
/// even while the output budget is spent (see `Connection::over_limit`):
/// room for a few state messages, so the budget can only be held against
/// clients that fall behind. At most this much per connection over the
/// budget.
pub(crate) const BUDGET_RESERVE: usize = 4 * 1024;

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
    /// Bytes this connection holds for writing: its outbox, what its
    /// session took from it and has not written yet, and input a paused
    /// session holds back (see `session::decode`). Each is counted in the
    /// server's budget too (kept in the outbox: `Outbox::budget`).
    charged: AtomicUsize,
}

impl Shared {
    fn charge(&self, bytes: usize, budget: Option<&OutputBudget>) {
        self.charged.fetch_add(bytes, Ordering::Relaxed);
        if let Some(budget) = budget {
            budget.charge(bytes);
        }
    }

    fn release(&self, bytes: usize, budget: Option<&OutputBudget>) {
        self.charged.fetch_sub(bytes, Ordering::Relaxed);
        if let Some(budget) = budget {
            budget.release(bytes);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Whatever is still counted (a connection refused by on_accept
        // after a greeting was queued) leaves the budget with it.
        let left = *self.charged.get_mut();
        let out = self
            .outbox
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(budget) = &out.budget {
            budget.release(left);
        }
    }
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
                charged: AtomicUsize::new(0),
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
        let replaces = out.latest_index().is_some_and(|i| i < out.frames.len());
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
    /// message is never refused; beyond that the queue is bounded, by the
    /// connection's limit and by the server's output budget. (Counted are
    /// the bytes not yet written, whether still queued or being written.)
    ///
    /// The first [`BUDGET_RESERVE`] bytes of each queue are not held to the
    /// budget: a client that keeps up is not cut off because others
    /// stopped reading and spent it.
    fn over_limit(&self, out: &Outbox, adding: usize) -> bool {
        let charged = self.charged();
        let after = charged.saturating_add(adding);
        charged > 0
            && (after > self.shared.max_queue
                || (after > BUDGET_RESERVE
                    && out.budget.as_ref().is_some_and(|b| b.would_exceed(adding))))
    }

    fn overflow(&self, mut out: OutboxGuard<'_>) {
        tracing::warn!(
            id = self.shared.id,
            peer = %self.peer_addr(),
            queued = self.charged(),
            budget_used = out.budget.as_ref().map_or(0, |b| b.used()),
            "client too slow, send queue full or output budget spent: closing with 1008"
        );
        // What the client has not taken is dropped; the close tells it so.
        out.clear();
        queue_close(&mut out, CloseCode::POLICY_VIOLATION, "client too slow");
        drop(out);
        self.shared.wakeup.notify();
    }

    /// Locks the outbox. What the holder adds to or removes from it is
    /// counted (for this connection and in the server's budget) when the
    /// guard is dropped.
    pub(crate) fn outbox(&self) -> OutboxGuard<'_> {
        // A callback that panicked while sending cannot leave the queue
        // half-written (every push completes), so a poisoned lock is usable.
        let out = lock(&self.shared.outbox);
        let before = out.queued;
        OutboxGuard {
            out,
            shared: &self.shared,
            before,
        }
    }

    /// Joins the server's output budget (on registration, before anything
    /// is queued).
    pub(crate) fn join_budget(&self, budget: &Arc<OutputBudget>) {
        let mut out = self.outbox();
        debug_assert_eq!(self.charged(), 0);
        out.budget = Some(budget.clone());
    }

    /// Bytes this connection holds for writing (see `Shared::charged`).
    fn charged(&self) -> usize {
        self.shared.charged.load(Ordering::Relaxed)
    }

    /// True if the session should hand its callbacks no more input for now:
    /// what it holds for writing reached the queue limit, or the server's
    /// `budget` is spent and this connection holds some of it.
    pub(crate) fn should_pause(&self, budget: &OutputBudget) -> bool {
        let charged = self.charged();
        charged >= self.shared.max_queue || (charged > 0 && budget.would_exceed(0))
    }

    /// Counts `bytes` more held for this connection, in the server's
    /// `budget` too (the session's side: input it holds back).
    pub(crate) fn charge(&self, bytes: usize, budget: &OutputBudget) {
        self.shared.charge(bytes, Some(budget));
    }

    /// Counts `bytes` fewer held (written, or no longer held back).
    pub(crate) fn release(&self, bytes: usize, budget: &OutputBudget) {
        self.shared.release(bytes, Some(budget));
    }

    /// Releases everything still counted for this connection, once it has
    /// ended and nothing of it will be written.
    pub(crate) fn release_all(&self, budget: &OutputBudget) {
        let left = self.shared.charged.swap(0, Ordering::Relaxed);
        budget.release(left);
    }

    /// Ends the connection without a close handshake: `state` is
    /// [`State::TimedOut`] (no answer to a ping) or [`State::Stalled`]
    /// (the client stopped taking our bytes).
    pub(crate) fn abort(&self, state: State) {
        self.outbox().state = state;
        self.shared.wakeup.notify();
    }
}

/// The locked outbox of a connection. When dropped (still under the lock),
/// the change in its queued bytes is counted for the connection and in the
/// server's budget, so no way of queueing or dropping frames escapes it.
pub(crate) struct OutboxGuard<'a> {
    out: MutexGuard<'a, Outbox>,
    shared: &'a Shared,
    /// `queued` when locked, less what was handed to the session.
    before: usize,
}

impl OutboxGuard<'_> {
    /// Empties the outbox into the session's hands: those bytes stay
    /// counted until the session has written them (see
    /// [`Connection::release`]).
    pub(crate) fn hand_over(&mut self) {
        self.before -= self.out.queued;
        self.out.queued = 0;
        self.out.latest = None;
    }
}

impl Deref for OutboxGuard<'_> {
    type Target = Outbox;

    fn deref(&self) -> &Outbox {
        &self.out
    }
}

impl DerefMut for OutboxGuard<'_> {
    fn deref_mut(&mut self) -> &mut Outbox {
        &mut self.out
    }
}

impl Drop for OutboxGuard<'_> {
    fn drop(&mut self) {
        let after = self.out.queued;
        if after == self.before {
            return;
        }
        let budget = self.out.budget.as_deref();
        if after > self.before {
            self.shared.charge(after - self.before, budget);
        } else {
            self.shared.release(self.before - after, budget);
        }
    }
}
