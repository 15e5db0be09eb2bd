//! [`Outgoing`]: the frames a session took from its outbox and is writing,
//! one `send` for a single buffer, `writev` for several.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::{Buf, Bytes};
use tokio::net::TcpStream;

use crate::connection::{Connection, OutboxGuard, OutputBudget};

/// A tail buffer that grew past this is released once written; smaller
/// ones are kept while the connection is busy, so steady traffic allocates
/// nothing, and released when it rests.
const KEEP_CAPACITY: usize = 64 * 1024;

/// Bytes taken from the outbox and being written, in order.
#[derive(Default)]
pub(super) struct Outgoing {
    frames: VecDeque<Bytes>,
    tail: Vec<u8>,
    tail_pos: usize,
}

impl Outgoing {
    fn is_empty(&self) -> bool {
        self.frames.is_empty() && self.tail_pos >= self.tail.len()
    }

    /// Lets go of the tail's buffer once all is written: a session that
    /// paused (its replies backed up) is not steady traffic, and each one
    /// kept would hold up to [`KEEP_CAPACITY`] beyond what is counted.
    pub(super) fn release_buffer(&mut self) {
        if self.is_empty() {
            self.tail = Vec::new();
            self.tail_pos = 0;
        }
    }

    /// Takes everything queued, once what was taken before is written.
    /// Swapping keeps both sides' buffers, so steady traffic allocates nothing.
    /// The bytes taken stay counted against the connection's limit and the
    /// server's budget until written.
    pub(super) fn refill(&mut self, out: &mut OutboxGuard<'_>) {
        if !self.is_empty() || out.queued == 0 {
            return;
        }
        self.tail.clear();
        self.tail_pos = 0;
        std::mem::swap(&mut self.frames, &mut out.frames);
        std::mem::swap(&mut self.tail, &mut out.tail);
        out.hand_over();
    }

    /// Writes as much as the socket takes without waiting, at most 16
    /// buffers a system call. Returns whether everything is written, and
    /// whether any bytes were.
    /// What is written stops counting for `conn` and in `budget` (see
    /// [`Connection::release`]).
    pub(super) fn write_to(
        &mut self,
        stream: &TcpStream,
        conn: &Connection,
        budget: &OutputBudget,
    ) -> io::Result<(bool, bool)> {
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
            conn.release(written, budget);
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
