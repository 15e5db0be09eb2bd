//! One WebSocket after the handshake: read, dispatch to callbacks, write
//! what is queued, and close.
//!
//! Reads go into a per-thread scratch buffer, so an idle connection holds no
//! receive buffer; only a frame header or control frame cut by a read (at
//! most 131 bytes) or a message that spans reads is copied into memory of
//! its own, and that memory is released as soon as the message is complete.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Buf, Bytes};
use pinsocket_core::{Close, CloseCode, DataKind, Event, OpCode, ProtocolError, Receiver, Role};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::connection::{Connection, Outbox, State, queue_close};
use crate::http_conn::Upgraded;
use crate::server::{Inner, Tracked};

/// Size of each worker thread's receive buffer.
const SCRATCH_LEN: usize = 64 * 1024;
/// Buffers that grew past this are released once drained.
const KEEP_CAPACITY: usize = 4096;

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
}

/// What a read asks the session loop to do next.
enum Flow {
    Continue,
    Eof,
    Failed(io::Error),
}

struct Session {
    inner: Arc<Inner>,
    stream: TcpStream,
    conn: Connection,
    rx: Receiver,
    /// Unconsumed input cut by the end of a read.
    leftover: Vec<u8>,
    /// A message that spans reads or frames.
    message: Vec<u8>,
    pending: Pending,
    /// Still delivering messages to callbacks.
    open: bool,
    /// The client sent a close frame.
    peer_closed: bool,
}

pub(crate) async fn run(inner: Arc<Inner>, stream: TcpStream, ws: Upgraded, _tracked: Tracked) {
    let Upgraded {
        conn,
        registration,
        leftover,
        ..
    } = ws;
    let mut session = Session {
        rx: Receiver::new(Role::Server, inner.config.max_message_len as u64),
        inner: inner.clone(),
        stream,
        conn: conn.clone(),
        leftover,
        message: Vec::new(),
        pending: Pending::default(),
        open: true,
        peer_closed: false,
    };
    let end = session.drive().await;
    drop(session);
    drop(registration);
    let (code, reason) = match end {
        End::Closed => conn
            .outbox()
            .close
            .clone()
            .unwrap_or((CloseCode::NO_STATUS, String::new())),
        End::Abnormal => (CloseCode::ABNORMAL, String::new()),
        End::TimedOut => (CloseCode::ABNORMAL, "ping timeout".to_owned()),
        End::Stalled => (CloseCode::POLICY_VIOLATION, "client too slow".to_owned()),
    };
    closed(&inner, &conn, code, &reason);
}

/// Marks a connection closed and runs `on_close`, once it has left the set.
pub(crate) fn closed(inner: &Inner, conn: &Connection, code: CloseCode, reason: &str) {
    {
        // Sends after this point fail with Closed.
        let mut out = conn.outbox();
        out.state = State::Closing;
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
        if !self.leftover.is_empty() {
            let mut first = std::mem::take(&mut self.leftover);
            self.process(&mut first);
        }
        loop {
            let state = {
                let mut out = self.conn.outbox();
                self.pending.refill(&mut out);
                out.state
            };
            match state {
                State::TimedOut => return End::TimedOut,
                State::Stalled => return End::Stalled,
                State::CloseTimedOut => return End::Closed,
                State::Open | State::Closing => {}
            }
            let (flushed, progressed) = match self.pending.write_to(&self.stream) {
                Ok(result) => result,
                Err(_) => return End::Abnormal,
            };
            // For the sweep: since when have bytes waited with none taken?
            let stalled = &self.conn.shared.write_stalled_since;
            if flushed {
                stalled.store(0, Ordering::Relaxed);
            } else if progressed || stalled.load(Ordering::Relaxed) == 0 {
                stalled.store(self.inner.clients.now_ms(), Ordering::Relaxed);
            }
            if flushed && self.conn.outbox().queued > 0 {
                // Queued while the previous batch was being written.
                continue;
            }
            if flushed && state == State::Closing {
                return self.finish_close().await;
            }
            let shared = self.conn.shared.clone();
            tokio::select! {
                biased;
                _ = shared.wake.notified() => {}
                ready = self.stream.writable(), if !flushed => {
                    if ready.is_err() {
                        return End::Abnormal;
                    }
                }
                ready = self.stream.readable(), if flushed => {
                    if ready.is_err() {
                        return End::Abnormal;
                    }
                    match self.read() {
                        Flow::Continue => {}
                        Flow::Eof => return End::Abnormal,
                        Flow::Failed(e) => {
                            tracing::debug!(id = self.conn.id(), "read failed: {e}");
                            return End::Abnormal;
                        }
                    }
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
        let deadline = Instant::now() + self.inner.config.close_timeout;
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
        self.stream.readable().await.is_ok() && matches!(self.read(), Flow::Continue)
    }

    /// Reads what the socket has and processes it.
    fn read(&mut self) -> Flow {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let held = self.leftover.len();
            if let Some(dst) = scratch.get_mut(..held) {
                dst.copy_from_slice(&self.leftover);
            }
            let result = match scratch.get_mut(held..) {
                Some(room) => self.stream.try_read(room),
                None => Ok(0),
            };
            match result {
                Ok(0) => Flow::Eof,
                Ok(n) => {
                    self.leftover = Vec::new();
                    let shared = &self.conn.shared;
                    shared
                        .last_rx
                        .store(self.inner.clients.now_ms(), Ordering::Relaxed);
                    shared.ping_sent.store(0, Ordering::Relaxed);
                    if let Some(input) = scratch.get_mut(..held + n) {
                        self.process(input);
                    }
                    Flow::Continue
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Flow::Continue,
                Err(e) => Flow::Failed(e),
            }
        })
    }

    /// Decodes everything in `input`, running callbacks; keeps an
    /// incomplete tail in `leftover`.
    fn process(&mut self, input: &mut [u8]) {
        let shared = self.conn.shared.clone();
        shared.dispatching.store(true, Ordering::Relaxed);
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
                    self.conn.send_control(OpCode::Pong, payload);
                }
                // After our close frame, data and pings are not answered.
                Some(Event::Data { .. } | Event::Ping(_) | Event::Pong(_)) => {}
                Some(Event::Close(close)) => {
                    self.on_peer_close(close);
                    break;
                }
            }
        }
        shared.dispatching.store(false, Ordering::Relaxed);
        if !self.rx.is_closed()
            && let Some(rest) = input.get(pos..).filter(|r| !r.is_empty())
        {
            self.leftover = rest.to_vec();
        }
    }

    fn on_data(&mut self, kind: DataKind, payload: &[u8], last: bool) -> Result<(), ProtocolError> {
        if last && self.message.is_empty() {
            // The whole message came in one read: hand it over in place.
            return self.dispatch(kind, payload);
        }
        self.message.extend_from_slice(payload);
        if last {
            let message = std::mem::take(&mut self.message);
            return self.dispatch(kind, &message);
        }
        Ok(())
    }

    fn dispatch(&mut self, kind: DataKind, payload: &[u8]) -> Result<(), ProtocolError> {
        let callbacks = &self.inner.callbacks;
        let conn = &self.conn;
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
            self.message = Vec::new();
            let mut out = self.conn.outbox();
            if out.state == State::Open {
                queue_close(&mut out, CloseCode::INTERNAL_ERROR, "internal error");
            }
        }
        Ok(())
    }

    /// Fails the connection: close frame with the violation's code.
    fn fail(&mut self, e: ProtocolError) {
        tracing::debug!(id = self.conn.id(), peer = %self.conn.peer_addr(), "protocol error: {e}");
        self.open = false;
        self.message = Vec::new();
        let mut out = self.conn.outbox();
        if out.state == State::Open {
            queue_close(&mut out, e.close_code(), &e.to_string());
        }
    }

    fn on_peer_close(&mut self, close: Close<'_>) {
        self.open = false;
        self.peer_closed = true;
        self.message = Vec::new();
        let mut out = self.conn.outbox();
        if out.state == State::Open {
            // Echo the code (RFC 6455 §5.5.1); an empty close gets an empty one.
            queue_close(&mut out, close.code, "");
            out.close = Some((close.code, close.reason.to_owned()));
        }
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
            let mut written = match stream.try_write_vectored(&slices[..n]) {
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
