//! What the session does with input: decodes it, hands each message to
//! `on_text` or `on_binary`, answers pings, echoes the client's close, and
//! fails the connection on a protocol violation.
//!
//! Replies are backpressured within a read: once what the connection holds
//! for writing reaches its queue limit (or the server's output budget is
//! spent and it holds some of it), the rest of the read is kept, undecoded,
//! and the session writes; it decodes on once all is written (see
//! `Session::poll_read`). So a client whose small messages each ask for a
//! large answer, and that never reads them, holds at most about one queue
//! limit of replies and one read of input, and nothing is dropped.

use std::panic::{self, AssertUnwindSafe};

use pinsocket_core::{Close, CloseCode, DataKind, Event, OpCode, ProtocolError};

use super::Session;
use crate::connection::{Dispatch, State, queue_close};

impl Session {
    /// Decodes everything in `input`, running callbacks; keeps an
    /// incomplete tail in `leftover`, and the rest of the input if the
    /// replies back up (the session is then `paused`, and that input is
    /// counted in the budget until it is decoded).
    pub(super) fn process(&mut self, input: &mut [u8]) {
        let dispatch = Dispatch::enter(&self.link.conn);
        let mut pos = 0;
        let mut pause = false;
        loop {
            // After some progress (so a resumed session always moves on):
            // stop handing input over while the replies back up.
            if pos > 0
                && self.open
                && self
                    .link
                    .conn
                    .should_pause(self.link.inner.clients.budget())
            {
                pause = true;
                break;
            }
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
                // The core may report more in a later version; nothing to do.
                Some(_) => {}
            }
        }
        drop(dispatch);
        if !self.rx.is_closed()
            && let Some(rest) = input.get(pos..).filter(|r| !r.is_empty())
        {
            self.held.set_leftover(rest);
            if pause {
                self.paused = true;
                self.link
                    .conn
                    .charge(rest.len(), self.link.inner.clients.budget());
            }
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
            // A kind of data this server does not know has no callback.
            _ => Ok(()),
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
