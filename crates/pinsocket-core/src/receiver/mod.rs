//! Turning received bytes into messages: the sans-IO WebSocket reader.
//!
//! [`Receiver::decode`] takes the bytes the caller has, unmasks them in place
//! and reports at most one [`Event`] per call, with how many bytes it used.
//! Data arrives as pieces of a message ([`Event::Data`]) as soon as its bytes
//! do, so a caller can stream or assemble it in a buffer of its own; control
//! frames (at most 125 bytes) are only reported whole. The receiver keeps no
//! buffer itself: a few words of state between calls.

use crate::close::Close;
use crate::error::ProtocolError;
use crate::frame::{FrameHeader, OpCode, apply_mask};
use crate::utf8::Utf8Validator;

/// Which side of the connection this receiver is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// Receives client frames, which must be masked.
    Server,
    /// Receives server frames, which must not be masked.
    Client,
}

/// The kind of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

/// Something [`Receiver::decode`] found.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The next piece of a text or binary message, unmasked. For text, the
    /// bytes so far are valid UTF-8 (a code point may be cut at the end of a
    /// piece). `last` marks the end of the message; a message may consist of
    /// a single empty piece.
    Data {
        /// Text or binary.
        kind: DataKind,
        /// The bytes.
        payload: &'a [u8],
        /// The message is complete after this piece.
        last: bool,
    },
    /// A ping; answer it with a pong carrying the same payload.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// A close frame. The receiver reports nothing after it.
    Close(Close<'a>),
}

/// The result of one [`Receiver::decode`] call.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// Bytes of the input used; the caller drops them before the next call.
    pub consumed: usize,
    /// What those bytes completed, if anything. `consumed == 0` with no event
    /// means more bytes are needed.
    pub event: Option<Event<'a>>,
}

/// The data frame being read.
#[derive(Debug, Clone, Copy)]
struct Frame {
    fin: bool,
    mask: Option<[u8; 4]>,
    remaining: u64,
    /// Payload bytes already read, for the mask's phase.
    offset: u64,
}

/// The state of one direction of a WebSocket connection.
#[derive(Debug, Clone)]
pub struct Receiver {
    role: Role,
    max_message_len: u64,
    /// RSV bits an extension has claimed; zero when none was negotiated.
    allowed_rsv: u8,
    frame: Option<Frame>,
    /// The message in progress and its length so far.
    message: Option<(DataKind, u64)>,
    utf8: Utf8Validator,
    closed: bool,
}

impl Receiver {
    /// A receiver for `role` that refuses messages over `max_message_len` bytes.
    pub fn new(role: Role, max_message_len: u64) -> Receiver {
        Receiver {
            role,
            max_message_len,
            allowed_rsv: 0,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            closed: false,
        }
    }

    /// The largest message accepted, in bytes.
    pub fn max_message_len(&self) -> u64 {
        self.max_message_len
    }

    /// True once a close frame was received.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// True while no frame or fragmented message is half read: the caller
    /// holds no partial message and can release its buffers.
    pub fn is_idle(&self) -> bool {
        self.frame.is_none() && self.message.is_none()
    }

    /// Reads from `buf`, unmasking in place.
    ///
    /// Uses whole frame headers and whole control frames only, and data
    /// payload as far as it goes. After a close frame, or once an error was
    /// returned, the connection is over: further input is reported as consumed
    /// and ignored.
    pub fn decode<'a>(&mut self, buf: &'a mut [u8]) -> Result<Decoded<'a>, ProtocolError> {
        if self.closed {
            return Ok(Decoded {
                consumed: buf.len(),
                event: None,
            });
        }
        let result = self.decode_inner(buf);
        if result.is_err() {
            self.closed = true;
        }
        result
    }

    fn decode_inner<'a>(&mut self, buf: &'a mut [u8]) -> Result<Decoded<'a>, ProtocolError> {
        if let Some(frame) = self.frame {
            return self.payload(frame, buf, 0);
        }
        let Some((header, header_len)) = FrameHeader::parse(buf)? else {
            return Ok(Decoded {
                consumed: 0,
                event: None,
            });
        };
        match (self.role, header.mask) {
            (Role::Server, None) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, Some(_)) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.rsv & !self.allowed_rsv != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        if header.opcode.is_control() {
            return self.control(header, header_len, buf);
        }
        let so_far = match (header.opcode, self.message) {
            (OpCode::Continuation, Some((_, len))) => len,
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
            (_, None) => 0,
        };
        let total = so_far.saturating_add(header.payload_len);
        if total > self.max_message_len {
            return Err(ProtocolError::MessageTooLarge);
        }
        let kind = match (header.opcode, self.message) {
            (OpCode::Text, _) => DataKind::Text,
            (OpCode::Binary, _) => DataKind::Binary,
            (_, Some((kind, _))) => kind,
            (_, None) => return Err(ProtocolError::UnexpectedContinuation),
        };
        if self.message.is_none() {
            self.utf8.reset();
        }
        self.message = Some((kind, total));
        let frame = Frame {
            fin: header.fin,
            mask: header.mask,
            remaining: header.payload_len,
            offset: 0,
        };
        let rest = buf.get_mut(header_len..).unwrap_or_default();
        self.payload(frame, rest, header_len)
    }

    /// Delivers as much of the current data frame's payload as `buf` holds.
    /// `already` is what this call consumed before `buf` (the header).
    fn payload<'a>(
        &mut self,
        mut frame: Frame,
        buf: &'a mut [u8],
        already: usize,
    ) -> Result<Decoded<'a>, ProtocolError> {
        let Some((kind, _)) = self.message else {
            // Unreachable by construction; refuse rather than panic.
            return Err(ProtocolError::UnexpectedContinuation);
        };
        let take = usize::try_from(frame.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if take == 0 && frame.remaining > 0 {
            self.frame = Some(frame);
            return Ok(Decoded {
                consumed: already,
                event: None,
            });
        }
        let chunk = &mut buf[..take];
        if let Some(mask) = frame.mask {
            // Only the phase matters, so the offset's low bits suffice.
            apply_mask(chunk, mask, (frame.offset % 4) as usize);
        }
        if kind == DataKind::Text {
            self.utf8
                .feed(chunk)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        frame.remaining -= take as u64;
        frame.offset += take as u64;
        let frame_done = frame.remaining == 0;
        let last = frame_done && frame.fin;
        self.frame = if frame_done { None } else { Some(frame) };
        if last {
            if kind == DataKind::Text {
                self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            self.message = None;
        }
        Ok(Decoded {
            consumed: already + take,
            event: Some(Event::Data {
                kind,
                payload: chunk,
                last,
            }),
        })
    }

    fn control<'a>(
        &mut self,
        header: FrameHeader,
        header_len: usize,
        buf: &'a mut [u8],
    ) -> Result<Decoded<'a>, ProtocolError> {
        // parse() already refused control payloads over 125 bytes.
        let end = header_len + header.payload_len as usize;
        let Some(payload) = buf.get_mut(header_len..end) else {
            return Ok(Decoded {
                consumed: 0,
                event: None,
            });
        };
        if let Some(mask) = header.mask {
            apply_mask(payload, mask, 0);
        }
        let payload: &'a [u8] = payload;
        let event = match header.opcode {
            OpCode::Ping => Event::Ping(payload),
            OpCode::Pong => Event::Pong(payload),
            _ => {
                let close = Close::parse(payload)?;
                self.closed = true;
                Event::Close(close)
            }
        };
        Ok(Decoded {
            consumed: end,
            event: Some(event),
        })
    }
}

#[cfg(test)]
mod tests;
