//! The hub's record of its clients: who is connected, who is sent state
//! and events, and what happens when one leaves.

use std::sync::Arc;
use std::time::Instant;

use pinsocket::{CloseCode, Connection};

use super::device::PROTOCOL;
use super::limits::ClientLimits;
use super::{Hub, HubState};
use crate::lock::lock;

/// Sent to subscribers of a simulated board before its first state, so a
/// page can offer to drive its inputs.
const SIMULATED: &str = r#"{"board":{"simulated":true}}"#;

/// A connected client.
pub(super) struct Client {
    pub(super) conn: Connection,
    /// Sent state and events: asked for the `pinsocket` subprotocol or
    /// spoke JSON. Clients that only speak the original's plain text see
    /// exactly the original's conversation.
    pub(super) subscribed: bool,
    /// When the failsafe last pinged it, if it controls an output.
    pub(super) pinged: Option<Instant>,
    /// Its bucket of commands and its count of refusals.
    pub(super) limits: ClientLimits,
}

impl Hub {
    /// A client connected: it is recorded, and subscribed at once if it
    /// asked for the [`PROTOCOL`] subprotocol.
    pub(super) fn client_joined(&self, conn: &Connection) {
        tracing::info!(
            id = conn.id(),
            "client connected from {} ({})",
            conn.peer_addr(),
            conn.protocol().unwrap_or("plain text")
        );
        let mut state = lock(&self.state);
        state.clients.insert(
            conn.id(),
            Client {
                conn: conn.clone(),
                subscribed: false,
                pinged: None,
                limits: ClientLimits::new(&self.limits, Instant::now()),
            },
        );
        if conn.protocol() == Some(PROTOCOL) {
            self.subscribe(&mut state, conn);
        }
    }

    /// Adds a client to those sent state and events, starting with the
    /// current state (and, on a simulated board, a note saying so).
    pub(super) fn subscribe(&self, state: &mut HubState, conn: &Connection) {
        let Some(client) = state.clients.get_mut(&conn.id()) else {
            return;
        };
        if client.subscribed {
            return;
        }
        client.subscribed = true;
        state.subscribers = None;
        if state.backend.as_ref().is_some_and(|b| b.simulates_inputs()) {
            let _ = conn.send_text(SIMULATED);
        }
        // No change can be on its way to this client (it was not among the
        // subscribers), and the next one waits for this lock.
        let _ = conn.send_latest_text(&self.state_message(state));
    }

    /// A client disconnected: the outputs it controlled go safe, and all
    /// failsafe outputs do when it was the last client.
    pub(super) fn client_left(&self, conn: &Connection, code: CloseCode, reason: &str) {
        tracing::info!(
            id = conn.id(),
            "client {} left: {code}{}{reason}",
            conn.peer_addr(),
            if reason.is_empty() { "" } else { " " }
        );
        let mut state = lock(&self.state);
        if let Some(client) = state.clients.remove(&conn.id())
            && client.subscribed
        {
            state.subscribers = None;
        }
        let last = state.clients.is_empty();
        let held = |state: &HubState, i: usize| {
            last || state.controlled_by.get(i).copied().flatten() == Some(conn.id())
        };
        let pins: Vec<usize> = (0..self.pins.len())
            .filter(|&i| self.failsafe_level(i).is_some() && held(&state, i))
            .collect();
        let why = if last {
            "the last client disconnected"
        } else {
            "its controlling client disconnected"
        };
        let _ = self.drive_safe(state, &pins, why);
    }
}

/// The subscribers, rebuilt if a client subscribed or left since.
pub(super) fn subscribers(state: &mut HubState) -> Arc<[Connection]> {
    if let Some(list) = &state.subscribers {
        return list.clone();
    }
    let list: Arc<[Connection]> = state
        .clients
        .values()
        .filter(|c| c.subscribed)
        .map(|c| c.conn.clone())
        .collect();
    state.subscribers = Some(list.clone());
    list
}
