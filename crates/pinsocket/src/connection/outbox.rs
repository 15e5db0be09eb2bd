//! [`Outbox`]: the frames queued on one connection, waiting for its session
//! to write them, and [`queue_close`], which ends what may be queued.

use std::collections::VecDeque;
use std::time::Instant;

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
    pub(crate) latest: Option<u32>,
    /// When the close frame was queued, for the close timeout.
    pub(crate) closing_since: Option<Instant>,
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
            closing_since: None,
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
    out.closing_since = Some(Instant::now());
    if out.close.is_none() {
        out.close = Some(Box::new((code, reason.into())));
    }
}
