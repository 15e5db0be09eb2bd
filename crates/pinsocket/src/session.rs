//! One WebSocket after the handshake: read, dispatch to callbacks, write
//! what is queued, and close.
//!
//! Reads go into a per-thread scratch buffer, so an idle connection holds no
//! receive buffer; only a frame header or control frame cut by a read (at
//! most 131 bytes) or a message that spans reads is copied into memory of
//! its own, and that memory is released as soon as the message is complete.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes};
use pinsocket_core::{Close, CloseCode, DataKind, Event, OpCode, ProtocolError, Receiver, Role};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::clients::Registration;
use crate::connection::{Connection, Dispatch, Outbox, State, queue_close};
use crate::http_conn::Upgraded;
use crate::server::{Inner, Tracked};

/// Size of each worker thread's receive buffer.
const SCRATCH_LEN: usize = 64 * 1024;
/// Send buffers that grew past this are released once drained; smaller
/// ones are kept while the connection is busy, so steady traffic allocates
/// nothing, and released when it parks.
const KEEP_CAPACITY: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_LEN]);
}

/// How the session ended.
enum End {
    /// The close handshake ran (either side began it).
    Closed,
    /// The connection dropped without a close frame, or I/O failed.
    Abnormal,
    /// The client did not answer a ping in time.
    TimedOut,
    /// The client took none of our bytes for the send timeout.
    Stalled,
    /// Not ended: quiet, and asked to park (see [`Session::park`]).
    Parked,
}

/// What a read asks the session loop to do next.
enum Flow {
    Continue,
    /// Nothing to do, and parking is due (see [`Session::may_park`]).
    Park,
    Eof,
    Failed(io::Error),
}

/// Everything one WebSocket holds while open: this is its task's future,
/// less the little that waiting takes, so every field costs each idle
/// connection its size.
pub(crate) struct Session {
    stream: TcpStream,
    rx: Receiver,
    /// Bytes held between reads; none at all while the connection is idle.
    held: Held,
    pending: Pending,
    /// Still delivering messages to callbacks.
    open: bool,
    /// The client sent a close frame.
    peer_closed: bool,
    /// When the session last parked: the server clock in ms, wrapping at
    /// 32 bits (only spans of under 49 days are compared); 0 for a new one.
    parked_since: u32,
    /// Park again as soon as there is nothing to do: set when a task was
    /// started for a session that had been quiet (see [`Parked::resume`]).
    park_when_idle: bool,
    /// In the registry until the session ends.
    registration: Registration,
    /// Counted among the server's connections until the session ends.
    tracked: Tracked,
    /// The server and the connection, and the `on_close` owed to it. Last,
    /// so that a session dropped without ending (its runtime went away)
    /// closes the socket and leaves the registry before `on_close` runs.
    link: Link,
}

/// An accepted WebSocket whose `on_close` is still owed: reported once, by
/// [`Link::report`], or with 1006 if dropped unreported (a handshake whose
/// `101` could not be written, a task dropped with its runtime).
pub(crate) struct Link {
    pub(crate) inner: Arc<Inner>,
    pub(crate) conn: Connection,
}

impl Link {
    fn report(self, code: CloseCode, reason: &str) {
        closed(&self.inner, &self.conn, code, reason);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        if self.conn.outbox().state != State::Closed {
            closed(&self.inner, &self.conn, CloseCode::ABNORMAL, "");
        }
    }
}

impl Session {
    /// A session for an accepted WebSocket. Built before its task is
    /// spawned, so the task's future holds it once, not beside the parts it
    /// was made of.
    pub(crate) fn new(stream: TcpStream, ws: Upgraded, tracked: Tracked) -> Session {
        let Upgraded {
            link,
            registration,
            leftover,
            ..
        } = ws;
        Session {
            rx: Receiver::new(Role::Server, link.inner.config.max_message_len as u64),
            stream,
            held: Held::with_leftover(leftover),
            pending: Pending::default(),
            open: true,
            peer_closed: false,
            parked_since: 0,
            park_when_idle: false,
            registration,
            tracked,
            link,
        }
    }

    /// Starts serving the connection. With nothing to do yet (no input came
    /// with the handshake, nothing queued), it starts parked: a connection
    /// that stays quiet never holds a task.
    pub(crate) fn start(self) {
        if self.held.is_empty() && self.link.inner.config.park_after != Duration::MAX {
            self.park(0);
        } else {
            let runtime = self.link.inner.runtime.clone();
            runtime.spawn(self.run());
        }
    }

    /// Runs the connection to its end, then reports the close.
    // Not an `async fn`: one of those would keep its argument and a moved
    // copy of it side by side in the future, twice the session's size.
    #[allow(clippy::manual_async_fn)]
    pub(crate) fn run(mut self) -> impl Future<Output = ()> + Send {
        async move {
            match self.drive().await {
                End::Parked => {
                    // Truncated on purpose: see `parked_since`.
                    #[allow(clippy::cast_possible_truncation)]
                    let now = self.link.inner.clients.now_ms() as u32;
                    self.park(now.max(1));
                }
                end => self.end(end),
            }
        }
    }

    /// True if the session may park now: asked to (by the sweep, or by
    /// having been quiet before this task started), open, and holding no
    /// input (its replies are written, as it only waits to read then).
    fn may_park(&self, state: State) -> bool {
        state == State::Open
            && self.held.is_empty()
            && (self.park_when_idle || self.link.conn.shared.park.is_requested())
    }

    /// Ends the task but not the connection: the session moves into a
    /// [`Parked`] whose waker is registered for input and for the
    /// connection's wake-ups; either spawns a task for it again.
    ///
    /// `since` is now on the server clock (see `parked_since`), or 0 for a
    /// new connection.
    fn park(mut self, since: u32) {
        let shared = self.link.conn.shared.clone();
        shared.park.set_parked();
        self.parked_since = since;
        // A quiet connection keeps no buffers: both sides of the send
        // queue's swap are empty now (or the wake-up registered below
        // resumes the session at once).
        self.pending = Pending::default();
        {
            let mut out = self.link.conn.outbox();
            if out.queued == 0 {
                out.frames = VecDeque::new();
                out.tail = Vec::new();
            }
        }
        let parked = Arc::new(Parked::default());
        let waker = Waker::from(parked.clone());
        let cx = &mut Context::from_waker(&waker);
        // Register before storing the session: a wake-up in between finds
        // no session and leaves a note, read below, so none is lost.
        let mut due = self.stream.poll_read_ready(cx).is_ready();
        due |= shared.wake.poll(cx).is_ready();
        *parked.slot() = Some(self);
        if due || parked.woken_early.swap(false, Ordering::AcqRel) {
            parked.resume();
        }
    }

    fn end(self, end: End) {
        let Session {
            stream,
            registration,
            tracked,
            link,
            ..
        } = self;
        // The socket closes first, then the registry lets go: by the time
        // on_close runs, the client is gone from both.
        drop(stream);
        drop(registration);
        drop(tracked);
        let (code, reason) = match end {
            End::Closed => link
                .conn
                .outbox()
                .close
                .as_deref()
                .cloned()
                .unwrap_or((CloseCode::NO_STATUS, "".into())),
            End::Abnormal => (CloseCode::ABNORMAL, "".into()),
            End::TimedOut => (CloseCode::ABNORMAL, "ping timeout".into()),
            End::Stalled => (CloseCode::POLICY_VIOLATION, "client too slow".into()),
            // `run` parks instead of ending.
            End::Parked => (CloseCode::ABNORMAL, "".into()),
        };
        link.report(code, &reason);
    }
}

/// Marks a connection closed and runs `on_close`, once it has left the set.
fn closed(inner: &Inner, conn: &Connection, code: CloseCode, reason: &str) {
    {
        // Sends after this point fail with Closed.
        let mut out = conn.outbox();
        out.state = State::Closed;
        out.clear();
        out.tail = Vec::new();
    }
    tracing::debug!(id = conn.id(), peer = %conn.peer_addr(), %code, reason, "websocket closed");
    if let Some(on_close) = &inner.callbacks.close
        && panic::catch_unwind(AssertUnwindSafe(|| on_close(conn, code, reason))).is_err()
    {
        tracing::error!(id = conn.id(), "on_close panicked");
    }
}

impl Session {
    async fn drive(&mut self) -> End {
        let mut first = self.held.take_leftover();
        if !first.is_empty() {
            self.process(&mut first);
        }
        loop {
            let state = {
                let mut out = self.link.conn.outbox();
                self.pending.refill(&mut out);
                out.state
            };
            match state {
                State::TimedOut => return End::TimedOut,
                State::Stalled => return End::Stalled,
                // Closed: on_close ran, which only happens after the session ended.
                State::CloseTimedOut | State::Closed => return End::Closed,
                State::Open | State::Closing => {}
            }
            let (flushed, progressed) = match self.pending.write_to(&self.stream) {
                Ok(result) => result,
                Err(_) => return End::Abnormal,
            };
            // For the sweep: since when have bytes waited with none taken?
            let stalled = &self.link.conn.shared.write_stalled_since;
            if flushed {
                stalled.store(0, Ordering::Relaxed);
            } else if progressed || stalled.load(Ordering::Relaxed) == 0 {
                stalled.store(self.link.inner.clients.now_ms(), Ordering::Relaxed);
            }
            if flushed && self.link.conn.outbox().queued > 0 {
                // Queued while the previous batch was being written.
                continue;
            }
            if flushed && state == State::Closing {
                // Boxed: its timers live on the heap only while closing,
                // not in every idle connection's task.
                return Box::pin(self.finish_close()).await;
            }
            // Wait for a wake-up, or for the socket: writable while bytes
            // wait, else readable (input is read as soon as it is there).
            let wait = poll_fn(|cx| {
                if self.link.conn.shared.wake.poll(cx).is_ready() {
                    return Poll::Ready(Flow::Continue);
                }
                if flushed {
                    match self.poll_read(cx) {
                        Poll::Pending if self.may_park(state) => Poll::Ready(Flow::Park),
                        other => other,
                    }
                } else {
                    self.stream.poll_write_ready(cx).map(|ready| match ready {
                        Ok(()) => Flow::Continue,
                        Err(e) => Flow::Failed(e),
                    })
                }
            });
            match wait.await {
                Flow::Continue => {}
                Flow::Park => return End::Parked,
                Flow::Eof => return End::Abnormal,
                Flow::Failed(e) => {
                    tracing::debug!(id = self.link.conn.id(), "socket failed: {e}");
                    return End::Abnormal;
                }
            }
        }
    }

    /// Our close frame (or the echo of the client's) is written. If the
    /// client may still answer with its own, wait for it; then close our
    /// side first, as RFC 6455 §7.1.1 asks of servers. After a protocol
    /// error the client may still be sending: read until its FIN, since
    /// unread input would turn the close into a reset, which can destroy
    /// the close frame before the client reads it.
    async fn finish_close(&mut self) -> End {
        self.open = false;
        let deadline = Instant::now() + self.link.inner.config.close_timeout;
        if !self.rx.is_closed() {
            let _ = timeout_at(deadline, async {
                while !self.rx.is_closed() {
                    if !self.read_when_ready().await {
                        return;
                    }
                }
            })
            .await;
        }
        let _ = self.stream.shutdown().await;
        if !self.peer_closed {
            let _ = timeout_at(deadline, async { while self.read_when_ready().await {} }).await;
        }
        End::Closed
    }

    /// Waits for input and reads it; false at EOF or on an error.
    async fn read_when_ready(&mut self) -> bool {
        matches!(poll_fn(|cx| self.poll_read(cx)).await, Flow::Continue)
    }

    /// Reads what the socket has, if anything, and processes it.
    ///
    /// Through `poll_read`, which forgets the socket's readiness after a
    /// short read: the next wait goes straight to epoll instead of trying
    /// a read that would fail with `EAGAIN`.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<Flow> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let leftover = self.held.leftover();
            let held = leftover.len();
            if let Some(dst) = scratch.get_mut(..held) {
                dst.copy_from_slice(leftover);
            }
            let mut room = ReadBuf::new(scratch.get_mut(held..).unwrap_or_default());
            let n = match Pin::new(&mut self.stream).poll_read(cx, &mut room) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Flow::Failed(e)),
                Poll::Ready(Ok(())) => room.filled().len(),
            };
            if n == 0 {
                return Poll::Ready(Flow::Eof);
            }
            self.held.take_leftover();
            let shared = &self.link.conn.shared;
            shared
                .last_rx
                .store(self.link.inner.clients.now_ms(), Ordering::Relaxed);
            shared.ping_sent.store(0, Ordering::Relaxed);
            if let Some(input) = scratch.get_mut(..held + n) {
                self.process(input);
            }
            Poll::Ready(Flow::Continue)
        })
    }

    /// Decodes everything in `input`, running callbacks; keeps an
    /// incomplete tail in `leftover`.
    fn process(&mut self, input: &mut [u8]) {
        let dispatch = Dispatch::enter(&self.link.conn);
        let mut pos = 0;
        loop {
            let decoded = match self.rx.decode(input.get_mut(pos..).unwrap_or_default()) {
                Ok(decoded) => decoded,
                Err(e) => {
                    self.fail(e);
                    break;
                }
            };
            pos += decoded.consumed;
            match decoded.event {
                None if decoded.consumed == 0 => break,
                None => {}
                Some(Event::Data {
                    kind,
                    payload,
                    last,
                }) if self.open => {
                    if let Err(e) = self.on_data(kind, payload, last) {
                        self.fail(e);
                        break;
                    }
                }
                Some(Event::Ping(payload)) if self.open => {
                    self.link.conn.send_control(OpCode::Pong, payload);
                }
                // After our close frame, data and pings are not answered.
                Some(Event::Data { .. } | Event::Ping(_) | Event::Pong(_)) => {}
                Some(Event::Close(close)) => {
                    self.on_peer_close(close);
                    break;
                }
            }
        }
        drop(dispatch);
        if !self.rx.is_closed()
            && let Some(rest) = input.get(pos..).filter(|r| !r.is_empty())
        {
            self.held.set_leftover(rest);
        }
    }

    fn on_data(&mut self, kind: DataKind, payload: &[u8], last: bool) -> Result<(), ProtocolError> {
        if last && !self.held.has_message() {
            // The whole message came in one read: hand it over in place.
            return self.dispatch(kind, payload);
        }
        self.held.message().extend_from_slice(payload);
        if last {
            let message = self.held.take_message();
            return self.dispatch(kind, &message);
        }
        Ok(())
    }

    fn dispatch(&mut self, kind: DataKind, payload: &[u8]) -> Result<(), ProtocolError> {
        let callbacks = &self.link.inner.callbacks;
        let conn = &self.link.conn;
        // A panicking callback fails only its own connection, with 1011.
        let outcome = match kind {
            DataKind::Text => {
                // The receiver validated it already; this only proves it to the type system.
                let text = std::str::from_utf8(payload).map_err(|_| ProtocolError::InvalidUtf8)?;
                match &callbacks.text {
                    Some(on_text) => panic::catch_unwind(AssertUnwindSafe(|| on_text(conn, text))),
                    None => Ok(()),
                }
            }
            DataKind::Binary => match &callbacks.binary {
                Some(on_binary) => {
                    panic::catch_unwind(AssertUnwindSafe(|| on_binary(conn, payload)))
                }
                None => Ok(()),
            },
        };
        if outcome.is_err() {
            tracing::error!(id = conn.id(), peer = %conn.peer_addr(), "message callback panicked; closing with 1011");
            self.open = false;
            self.held.take_message();
            let mut out = self.link.conn.outbox();
            if out.state == State::Open {
                queue_close(&mut out, CloseCode::INTERNAL_ERROR, "internal error");
            }
        }
        Ok(())
    }

    /// Fails the connection: close frame with the violation's code.
    fn fail(&mut self, e: ProtocolError) {
        tracing::debug!(id = self.link.conn.id(), peer = %self.link.conn.peer_addr(), "protocol error: {e}");
        self.open = false;
        self.held.take_message();
        let mut out = self.link.conn.outbox();
        if out.state == State::Open {
            queue_close(&mut out, e.close_code(), &e.to_string());
        }
    }

    fn on_peer_close(&mut self, close: Close<'_>) {
        self.open = false;
        self.peer_closed = true;
        self.held.take_message();
        let mut out = self.link.conn.outbox();
        if out.state == State::Open {
            // Echo the code (RFC 6455 §5.5.1); an empty close gets an empty one.
            queue_close(&mut out, close.code, "");
            out.close = Some(Box::new((close.code, close.reason.into())));
        }
    }
}

/// A parked session: no task, only this allocation, until its waker runs.
#[derive(Default)]
struct Parked {
    session: Mutex<Option<Session>>,
    /// A wake-up came before the session was stored.
    woken_early: AtomicBool,
}

impl Parked {
    fn slot(&self) -> MutexGuard<'_, Option<Session>> {
        // Only ever holds or takes a whole session: a poisoned lock is fine.
        self.session
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Spawns the session's task again, if no other wake-up did.
    fn resume(&self) {
        let session = self.slot().take();
        match session {
            Some(mut session) => {
                session.link.conn.shared.park.set_running();
                // A new connection, or one quiet for the park delay, is
                // likely to go quiet again after this burst (a page that
                // sends now and then, a client that only listens): its
                // task ends as soon as it has nothing to do, instead of
                // waiting for the sweep. One that parked only briefly is
                // busy: it keeps its task until the sweep finds it quiet.
                #[allow(clippy::cast_possible_truncation)]
                let now = session.link.inner.clients.now_ms() as u32;
                let quiet_ms = now.wrapping_sub(session.parked_since);
                let park_after = session.link.inner.config.park_after.as_millis();
                session.park_when_idle = session.link.inner.config.park_after != Duration::MAX
                    && (session.parked_since == 0 || u128::from(quiet_ms) >= park_after);
                let runtime = session.link.inner.runtime.clone();
                runtime.spawn(session.run());
            }
            None => self.woken_early.store(true, Ordering::Release),
        }
    }
}

impl Wake for Parked {
    fn wake(self: Arc<Self>) {
        self.resume();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.resume();
    }
}

/// Input kept between reads: the unconsumed end of a read (a frame cut in
/// two) and a message that spans reads or frames. Boxed, and only while
/// either holds bytes, so an idle session pays one pointer for both.
#[derive(Default)]
struct Held(Option<Box<HeldBytes>>);

#[derive(Default)]
struct HeldBytes {
    leftover: Vec<u8>,
    message: Vec<u8>,
}

impl Held {
    fn with_leftover(leftover: Vec<u8>) -> Held {
        let mut held = Held::default();
        if !leftover.is_empty() {
            held.bytes().leftover = leftover;
        }
        held
    }

    fn bytes(&mut self) -> &mut HeldBytes {
        self.0.get_or_insert_with(Box::default)
    }

    /// Frees the box once it holds nothing.
    fn release_if_empty(&mut self) {
        if self
            .0
            .as_ref()
            .is_some_and(|b| b.leftover.is_empty() && b.message.is_empty())
        {
            self.0 = None;
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    fn leftover(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |b| &b.leftover)
    }

    fn take_leftover(&mut self) -> Vec<u8> {
        self.take(|b| &mut b.leftover)
    }

    /// Takes one of the buffers, freeing the box if both are then empty.
    fn take(&mut self, which: impl FnOnce(&mut HeldBytes) -> &mut Vec<u8>) -> Vec<u8> {
        let taken = self
            .0
            .as_mut()
            .map(|b| std::mem::take(which(b)))
            .unwrap_or_default();
        self.release_if_empty();
        taken
    }

    fn set_leftover(&mut self, rest: &[u8]) {
        self.bytes().leftover = rest.to_vec();
    }

    fn has_message(&self) -> bool {
        self.0.as_ref().is_some_and(|b| !b.message.is_empty())
    }

    /// The message being assembled (allocating the box if need be).
    fn message(&mut self) -> &mut Vec<u8> {
        &mut self.bytes().message
    }

    fn take_message(&mut self) -> Vec<u8> {
        self.take(|b| &mut b.message)
    }
}

/// Bytes taken from the outbox and being written, in order.
#[derive(Default)]
struct Pending {
    frames: VecDeque<Bytes>,
    tail: Vec<u8>,
    tail_pos: usize,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.tail_pos >= self.tail.len()
    }

    /// Takes everything queued, once what was taken before is written.
    /// Swapping keeps both sides' buffers, so steady traffic allocates nothing.
    fn refill(&mut self, out: &mut Outbox) {
        if !self.is_empty() || out.queued == 0 {
            return;
        }
        self.tail.clear();
        self.tail_pos = 0;
        std::mem::swap(&mut self.frames, &mut out.frames);
        std::mem::swap(&mut self.tail, &mut out.tail);
        out.queued = 0;
        out.latest = None;
    }

    /// Writes as much as the socket takes without waiting. Returns whether
    /// everything is written, and whether any bytes were.
    fn write_to(&mut self, stream: &TcpStream) -> io::Result<(bool, bool)> {
        const MAX_SLICES: usize = 16;
        let mut progressed = false;
        loop {
            if self.is_empty() {
                if self.tail.capacity() > KEEP_CAPACITY {
                    self.tail = Vec::new();
                }
                return Ok((true, progressed));
            }
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut n = 0;
            for frame in self.frames.iter().take(MAX_SLICES - 1) {
                slices[n] = IoSlice::new(frame);
                n += 1;
            }
            // The tail follows the frames: only once all of them are in.
            if self.frames.len() < MAX_SLICES
                && let Some(tail) = self.tail.get(self.tail_pos..).filter(|t| !t.is_empty())
            {
                slices[n] = IoSlice::new(tail);
                n += 1;
            }
            // One slice (the usual reply) goes by send(2), cheaper than writev(2).
            let result = match &slices[..n] {
                [one] => stream.try_write(one),
                many => stream.try_write_vectored(many),
            };
            let mut written = match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => written,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((false, progressed)),
                Err(e) => return Err(e),
            };
            progressed = true;
            while written > 0 {
                match self.frames.front_mut() {
                    Some(frame) if written >= frame.len() => {
                        written -= frame.len();
                        self.frames.pop_front();
                    }
                    Some(frame) => {
                        frame.advance(written);
                        written = 0;
                    }
                    None => {
                        self.tail_pos += written;
                        written = 0;
                    }
                }
            }
            if self.is_empty() {
                self.tail.clear();
                self.tail_pos = 0;
            }
        }
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use std::mem::size_of;

    /// What a parked connection holds, besides tokio's socket registration
    /// and the registry entry. With the `Arc` counts and glibc's 8-byte
    /// chunk header, each takes a 256-byte chunk; a field more in either
    /// moves it to the next 16 bytes, which shows in the idle-memory
    /// figures of BENCHMARKS.md.
    #[test]
    fn a_parked_connection_stays_small() {
        assert!(
            size_of::<super::Session>() <= 216,
            "{}",
            size_of::<super::Session>()
        );
        assert!(
            size_of::<super::Parked>() <= 232,
            "{}",
            size_of::<super::Parked>()
        );
        let shared = size_of::<crate::connection::Shared>();
        assert!(shared <= 232, "{shared}");
    }
}
