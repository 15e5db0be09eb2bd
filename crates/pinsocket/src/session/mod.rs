//! One WebSocket after the handshake: read, dispatch to callbacks, write
//! what is queued, close, and rest while quiet.
//!
//! Reads go into a per-thread scratch buffer, so an idle connection holds no
//! receive buffer; only a frame header or control frame cut by a read (at
//! most 131 bytes) or a message that spans reads or frames is copied into
//! memory of its own, and that memory is released as soon as the message is
//! complete.
//!
//! - `run`: the session's task, the loop that reads, writes and waits.
//! - `read`: reading the socket into the scratch buffer.
//! - `decode`: decoding input, running callbacks, answering pings and closes.
//! - `input`: the input kept between reads.
//! - `output`: the frames being written, by `send` or `writev`.
//! - `close`: the end of the close handshake.
//! - `rest`: a quiet session gives up its task and waits in [`Resting`](rest::Resting).
//! - `end`: how the session ended, and the `on_close` owed to it.

mod close;
mod decode;
mod end;
mod input;
mod output;
mod read;
mod rest;
mod run;

use std::time::Duration;

use pinsocket_core::{Receiver, Role};
use tokio::net::TcpStream;

use crate::clients::Registration;
use crate::server::Tracked;

pub(crate) use end::Link;
use input::Held;
use output::Outgoing;

/// Everything one WebSocket holds while open: this is its task's future,
/// less the little that waiting takes, and all a resting connection keeps,
/// so every field costs each idle connection its size.
pub(crate) struct Session {
    stream: TcpStream,
    rx: Receiver,
    /// Bytes held between reads; none at all while the connection is idle.
    held: Held,
    outgoing: Outgoing,
    /// Still delivering messages to callbacks.
    open: bool,
    /// The client sent a close frame.
    peer_closed: bool,
    /// Decoding stopped because the replies backed up: the rest of the
    /// input is held (and counted in the output budget) until what is
    /// queued is written. Nothing more is read meanwhile.
    paused: bool,
    /// When the session last began resting: the server clock in ms,
    /// wrapping at 32 bits (only spans of under 49 days are compared); 0
    /// for a new one.
    resting_since: u32,
    /// Rest again as soon as there is nothing to do: set when a task was
    /// started for a session that had been quiet (see [`rest::Resting`]).
    rest_when_idle: bool,
    /// In the registry until the session ends.
    registration: Registration,
    /// Counted among the server's connections until the session ends.
    tracked: Tracked,
    /// The server and the connection, and the `on_close` owed to it. Last,
    /// so that a session dropped without ending (its runtime went away)
    /// closes the socket and leaves the registry before `on_close` runs.
    link: Link,
}

impl Session {
    /// A session for an accepted WebSocket. Built before its task is
    /// spawned, so the task's future holds it once, not beside the parts it
    /// was made of.
    /// `leftover`: bytes that came after the handshake's head.
    pub(crate) fn new(
        stream: TcpStream,
        link: Link,
        registration: Registration,
        leftover: Vec<u8>,
        tracked: Tracked,
    ) -> Session {
        Session {
            rx: Receiver::new(Role::Server, link.inner.config.max_message_len as u64),
            stream,
            held: Held::with_leftover(leftover),
            outgoing: Outgoing::default(),
            open: true,
            peer_closed: false,
            paused: false,
            resting_since: 0,
            rest_when_idle: false,
            registration,
            tracked,
            link,
        }
    }

    /// Starts serving the connection. If no input came with the handshake,
    /// it starts resting (unless resting is turned off): a connection that
    /// stays quiet never holds a task. Anything already queued for it (by
    /// `on_accept`, or a shutdown's close) wakes it at once.
    pub(crate) fn start(self) {
        if self.held.is_empty() && self.link.inner.config.rest_after != Duration::MAX {
            self.rest(0);
        } else {
            let runtime = self.link.inner.runtime.clone();
            runtime.spawn(self.run());
        }
    }
}
