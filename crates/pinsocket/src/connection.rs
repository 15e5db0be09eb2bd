//! The handle to one open WebSocket, and its outbound queue.
//!
//! A [`Connection`] is cheap to clone and may be used from any thread or task:
//! sending only encodes the frame into the connection's queue and wakes its
//! session task, which writes everything queued in one system call.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pinsocket_core::{CloseCode, FrameHeader, MAX_HEADER_LEN, OpCode, encode_close_payload};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closing or closed; nothing more can be sent.
    #[error("connection is closed")]
    Closed,
    /// The client fell too far behind: its queue was full. The connection is
    /// being closed with 1008 so the client knows messages were not delivered.
    #[error("client too slow: send queue full, connection closed with 1008")]
    QueueFull,
    /// The close code may not be sent on the wire (see [`CloseCode::is_sendable`]).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// A control frame's payload is limited to 125 bytes (RFC 6455 §5.5).
    #[error("a ping carries at most 125 bytes")]
    TooLarge,
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    /// A close frame is queued or sent; nothing else may follow it.
    Closing,
    /// The peer did not answer a ping in time.
    TimedOut,
    /// The peer took none of our bytes for the send timeout.
    Stalled,
    /// Closing took longer than the close timeout (the close frame could
    /// not even be written): the connection is dropped.
    CloseTimedOut,
    /// The connection is gone and `on_close` has run.
    Closed,
}

/// Frames waiting to be written, in order: `frames` first, then `tail`.
///
/// Frames a sender encodes itself are appended to `tail`, so a burst of small
/// messages costs no allocation; frames shared by many connections (a
/// broadcast) are queued as [`Bytes`] without copying.
#[derive(Debug)]
pub(crate) struct Outbox {
    pub(crate) frames: VecDeque<Bytes>,
    pub(crate) tail: Vec<u8>,
    /// Bytes in `frames` and `tail`.
    pub(crate) queued: usize,
    pub(crate) state: State,
    /// The close we sent or echoed, reported to `on_close` (boxed: most
    /// of a connection's life it is `None`, and then costs one pointer).
    pub(crate) close: Option<Box<(CloseCode, Box<str>)>>,
    /// Position in `frames` of the queued message that a newer "latest"
    /// message replaces instead of queueing behind.
    pub(crate) latest: Option<u32>,
    /// When the close frame was queued, for the close timeout.
    pub(crate) closing_since: Option<Instant>,
}

impl Outbox {
    fn push_shared(&mut self, frame: Bytes) {
        if !self.tail.is_empty() {
            let tail = std::mem::take(&mut self.tail);
            self.frames.push_back(Bytes::from(tail));
        }
        self.queued += frame.len();
        self.frames.push_back(frame);
    }

    /// Queues `frame`, or puts it in place of the previous "latest" frame if
    /// that one is still waiting. Returns the bytes added to the queue.
    fn push_latest(&mut self, frame: Bytes) -> usize {
        if let Some(slot) = self.latest.and_then(|i| self.frames.get_mut(i as usize)) {
            let old = std::mem::replace(slot, frame.clone());
            self.queued = self.queued - old.len() + frame.len();
            return frame.len().saturating_sub(old.len());
        }
        let added = frame.len();
        self.push_shared(frame);
        // A queue of 4 billion frames would have hit the queue limit long
        // before; past that, the frame simply is not replaceable.
        self.latest = u32::try_from(self.frames.len() - 1).ok();
        added
    }

    /// Empties the queue, as when its contents were taken for writing or dropped.
    pub(crate) fn clear(&mut self) {
        self.frames.clear();
        self.tail.clear();
        self.queued = 0;
        self.latest = None;
    }

    fn push_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        let mut header = [0u8; MAX_HEADER_LEN];
        let n = FrameHeader::new(opcode, payload.len() as u64).encode(&mut header);
        self.tail.reserve(n + payload.len());
        self.tail.extend_from_slice(&header[..n]);
        self.tail.extend_from_slice(payload);
        self.queued += n + payload.len();
    }
}

/// A wake-up for one task, kept until taken, as a `Notify` permit is, but
/// without its waiter list: registering is a compare-and-swap, and the task
/// re-registers only when its waker changed.
#[derive(Default)]
pub(crate) struct Wake {
    pending: AtomicBool,
    waker: AtomicWaker,
}

impl Wake {
    /// Wakes the task, now or at its next poll.
    pub(crate) fn notify(&self) {
        self.pending.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ready (and consumed) if `notify` ran since the last ready poll.
    pub(crate) fn poll(&self, cx: &Context<'_>) -> Poll<()> {
        if self.pending.swap(false, Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // A notify between the check and the registration woke no one.
        if self.pending.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A session's task state as the sweep sees it: running, asked to park
/// (after a quiet spell), or parked (no task; see `session::park`).
#[derive(Default)]
pub(crate) struct Park(AtomicU8);

const RUNNING: u8 = 0;
const REQUESTED: u8 = 1;
const PARKED: u8 = 2;

impl Park {
    /// Asks a running session to park; false if it is not running.
    pub(crate) fn request(&self) -> bool {
        self.0
            .compare_exchange(RUNNING, REQUESTED, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    pub(crate) fn is_requested(&self) -> bool {
        self.0.load(Ordering::Relaxed) == REQUESTED
    }

    pub(crate) fn set_parked(&self) {
        self.0.store(PARKED, Ordering::Relaxed);
    }

    pub(crate) fn set_running(&self) {
        self.0.store(RUNNING, Ordering::Relaxed);
    }

    pub(crate) fn is_parked(&self) -> bool {
        self.0.load(Ordering::Relaxed) == PARKED
    }
}

thread_local! {
    /// The connection whose callbacks this thread is running, as the
    /// address of its [`Shared`] (unique while the session holds it); 0
    /// when none.
    static DISPATCHING: Cell<usize> = const { Cell::new(0) };
}

/// Marks this thread as running `conn`'s callbacks until dropped; a
/// session holds one while it decodes input and dispatches it.
pub(crate) struct Dispatch {
    previous: usize,
}

impl Dispatch {
    pub(crate) fn enter(conn: &Connection) -> Dispatch {
        let previous = DISPATCHING.replace(Arc::as_ptr(&conn.shared) as usize);
        Dispatch { previous }
    }
}

impl Drop for Dispatch {
    fn drop(&mut self) {
        DISPATCHING.set(self.previous);
    }
}

/// A peer's address in 19 bytes rather than `SocketAddr`'s 32: IPv6 flow
/// labels and scope ids do not matter for a TCP client's address here.
#[derive(Clone, Copy)]
struct PeerAddr {
    ip: [u8; 16],
    port: [u8; 2],
    v4: bool,
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> PeerAddr {
        let (ip, v4) = match addr.ip() {
            std::net::IpAddr::V4(ip) => (ip.to_ipv6_mapped().octets(), true),
            std::net::IpAddr::V6(ip) => (ip.octets(), false),
        };
        PeerAddr {
            ip,
            port: addr.port().to_ne_bytes(),
            v4,
        }
    }
}

impl From<PeerAddr> for SocketAddr {
    fn from(peer: PeerAddr) -> SocketAddr {
        let v6 = std::net::Ipv6Addr::from(peer.ip);
        let ip = match v6.to_ipv4_mapped() {
            Some(v4) if peer.v4 => std::net::IpAddr::V4(v4),
            _ => std::net::IpAddr::V6(v6),
        };
        SocketAddr::new(ip, u16::from_ne_bytes(peer.port))
    }
}

pub(crate) struct Shared {
    id: u64,
    peer: PeerAddr,
    path: Box<str>,
    /// An element of the server's `protocols` (a thin pointer to it).
    protocol: Option<&'static &'static str>,
    outbox: Mutex<Outbox>,
    /// Wakes the session task: something was queued or the state changed.
    pub(crate) wake: Wake,
    /// Whether the session's task is running, asked to park, or parked.
    pub(crate) park: Park,
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
                outbox: Mutex::new(Outbox {
                    frames: VecDeque::new(),
                    tail: Vec::new(),
                    queued: 0,
                    state: State::Open,
                    close: None,
                    latest: None,
                    closing_since: None,
                }),
                wake: Wake::default(),
                park: Park::default(),
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
            self.shared.wake.notify();
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
        self.shared.wake.notify();
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
            self.shared.wake.notify();
        }
        Ok(())
    }

    /// True if this thread is running one of this connection's own
    /// callbacks (see [`Dispatch`]): its session writes what they queue as
    /// soon as they return, so their sends need no wake-up, and reads no
    /// more input until that is written (backpressure), so they are not
    /// held to the queue limit. Any other sender — another thread, or
    /// another connection's callback — must wake the session, or what it
    /// queued could wait for an unrelated wake-up.
    fn is_dispatching_here(&self) -> bool {
        DISPATCHING.with(Cell::get) == Arc::as_ptr(&self.shared) as usize
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
            self.shared.wake.notify();
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
            self.shared.wake.notify();
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
    /// control frames are at most 127 bytes.
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
        self.shared.wake.notify();
    }

    pub(crate) fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // A callback that panicked while sending cannot leave the queue
        // half-written (every push completes), so a poisoned lock is usable.
        self.shared
            .outbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends the connection without a close handshake: `state` is
    /// [`State::TimedOut`] (no answer to a ping) or [`State::Stalled`]
    /// (the client stopped taking our bytes).
    pub(crate) fn abort(&self, state: State) {
        self.outbox().state = state;
        self.shared.wake.notify();
    }
}

/// The server clock's origin, shared by every server in the process.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds on the server clock; never 0, which means "never".
pub(crate) fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Queues a close frame and moves to [`State::Closing`].
pub(crate) fn queue_close(out: &mut Outbox, code: CloseCode, reason: &str) {
    let mut payload = [0u8; 125];
    let n = encode_close_payload(code, reason, &mut payload);
    out.push_frame(OpCode::Close, &payload[..n]);
    out.state = State::Closing;
    out.closing_since = Some(Instant::now());
    if out.close.is_none() {
        out.close = Some(Box::new((code, reason.into())));
    }
}

/// A message encoded once, to be queued on many connections without being
/// copied for each: what [`Clients::broadcast_text`](crate::Clients::broadcast_text)
/// does, for a list of connections of your own.
///
/// ```
/// # fn fan_out(subscribers: &[pinsocket::Connection]) {
/// let state = pinsocket::Prepared::text(r#"{"led":true}"#);
/// for conn in subscribers {
///     let _ = conn.send_prepared(&state);
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Prepared {
    frame: Bytes,
}

impl Prepared {
    /// A text message.
    pub fn text(text: &str) -> Prepared {
        Prepared {
            frame: encode_shared(OpCode::Text, text.as_bytes()),
        }
    }

    /// A binary message.
    pub fn binary(data: &[u8]) -> Prepared {
        Prepared {
            frame: encode_shared(OpCode::Binary, data),
        }
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("frame_len", &self.frame.len())
            .finish()
    }
}

/// Encodes a whole unmasked frame once, to be shared by many connections.
pub(crate) fn encode_shared(opcode: OpCode, payload: &[u8]) -> Bytes {
    let mut header = [0u8; MAX_HEADER_LEN];
    let n = FrameHeader::new(opcode, payload.len() as u64).encode(&mut header);
    let mut frame = Vec::with_capacity(n + payload.len());
    frame.extend_from_slice(&header[..n]);
    frame.extend_from_slice(payload);
    Bytes::from(frame)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::PeerAddr;

    #[test]
    fn peer_addresses_survive_the_compact_form() {
        for text in [
            "127.0.0.1:8080",
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "[::1]:443",
            "[::ffff:10.0.0.1]:80",
            "[2001:db8::7]:1",
        ] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(SocketAddr::from(PeerAddr::from(addr)), addr, "{text}");
        }
    }
}
