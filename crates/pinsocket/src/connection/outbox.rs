//! [`Outbox`]: the frames queued on one connection, waiting for its session
//! to write them, [`queue_close`], which ends what may be queued, and
//! [`OutputBudget`], the bytes queued on all of a server's connections.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::sync::Arc;

use bytes::Bytes;
use pinsocket_core::{CloseCode, FrameHeader, MAX_HEADER_LEN, OpCode, encode_close_payload};

use super::State;

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
    /// Kept plus one, so that `None` costs no more room.
    pub(crate) latest: Option<NonZeroU32>,
    /// When the close frame was queued, for the close timeout: the server
    /// clock in milliseconds (see `clock`), 0 while not closing.
    pub(crate) closing_since: u64,
    /// The server's output budget, which counts what is queued here (see
    /// `OutboxGuard`); set when the connection is registered.
    pub(crate) budget: Option<Arc<OutputBudget>>,
}

impl Outbox {
    /// An empty queue of an open connection.
    pub(super) fn new() -> Outbox {
        Outbox {
            frames: VecDeque::new(),
            tail: Vec::new(),
            queued: 0,
            state: State::Open,
            close: None,
            latest: None,
            closing_since: 0,
            budget: None,
        }
    }

    pub(super) fn push_shared(&mut self, frame: Bytes) {
        if !self.tail.is_empty() {
            let tail = std::mem::take(&mut self.tail);
            self.frames.push_back(Bytes::from(tail));
        }
        self.queued += frame.len();
        self.frames.push_back(frame);
    }

    /// Queues `frame`, or puts it in place of the previous "latest" frame if
    /// that one is still waiting. Returns the bytes added to the queue.
    pub(super) fn push_latest(&mut self, frame: Bytes) -> usize {
        if let Some(slot) = self.latest_index().and_then(|i| self.frames.get_mut(i)) {
            let old = std::mem::replace(slot, frame.clone());
            self.queued = self.queued - old.len() + frame.len();
            return frame.len().saturating_sub(old.len());
        }
        let added = frame.len();
        self.push_shared(frame);
        // A queue of 4 billion frames would have hit the queue limit long
        // before; past that, the frame simply is not replaceable.
        self.latest = u32::try_from(self.frames.len())
            .ok()
            .and_then(NonZeroU32::new);
        added
    }

    /// Position in `frames` of the frame a newer "latest" one replaces.
    pub(super) fn latest_index(&self) -> Option<usize> {
        self.latest.map(|n| n.get() as usize - 1)
    }

    /// Empties the queue, as when its contents were taken for writing or dropped.
    pub(crate) fn clear(&mut self) {
        self.frames.clear();
        self.tail.clear();
        self.queued = 0;
        self.latest = None;
    }

    /// Encodes a frame onto the end of `tail`.
    pub(super) fn push_frame(&mut self, opcode: OpCode, payload: &[u8]) {
        let mut header = [0u8; MAX_HEADER_LEN];
        let n = FrameHeader::new(opcode, payload.len() as u64).encode(&mut header);
        self.tail.reserve(n + payload.len());
        self.tail.extend_from_slice(&header[..n]);
        self.tail.extend_from_slice(payload);
        self.queued += n + payload.len();
    }
}

/// Queues a close frame and moves to [`State::Closing`].
pub(crate) fn queue_close(out: &mut Outbox, code: CloseCode, reason: &str) {
    let mut payload = [0u8; 125];
    let n = encode_close_payload(code, reason, &mut payload);
    out.push_frame(OpCode::Close, &payload[..n]);
    out.state = State::Closing;
    out.closing_since = super::now_ms();
    if out.close.is_none() {
        out.close = Some(Box::new((code, reason.into())));
    }
}

/// The bytes queued for writing on all the connections of one server, and
/// how many may be: every frame is counted from when it is queued until it
/// is written or its connection ends.
///
/// Counted, not enforced, here: a send from another thread or a broadcast
/// that would pass it closes its client with 1008 (see
/// `Connection::send`), and a session's own callbacks stop being handed
/// input while it is spent (see `session::decode`).
#[derive(Debug)]
pub(crate) struct OutputBudget {
    used: AtomicUsize,
    limit: AtomicUsize,
}

impl OutputBudget {
    pub(crate) fn new(limit: usize) -> OutputBudget {
        OutputBudget {
            used: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit),
        }
    }

    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes queued now on every connection.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// True if `adding` more bytes would pass the limit.
    pub(crate) fn would_exceed(&self, adding: usize) -> bool {
        self.used().saturating_add(adding) > self.limit.load(Ordering::Relaxed)
    }

    pub(super) fn charge(&self, bytes: usize) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(super) fn release(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}
