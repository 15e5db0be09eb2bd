//! Messages from clients: commands carried out, pings answered, refusals
//! sent back, in JSON or the original's plain text.

use std::sync::MutexGuard;
use std::time::Instant;

use pinsocket::{CloseCode, Connection};
use pinsocket_core::{
    Command, CommandError, MAX_ERROR_LEN, MAX_PONG_LEN, Refusal, SetList, encode_pong,
    encode_refusal, parse_command, plain_switch, resolve_command, resolve_simulate,
};

use super::fanout::event_message;
use super::limits::Refused;
use super::{Hub, HubState};
use crate::lock::lock;

/// The answer to plain text over the rate limit. The original's pages show
/// every answer; this one says the command was not carried out.
pub(super) const PLAIN_RATE_LIMITED: &str =
    "Rate limited: too many commands; this one was not carried out";

/// The reason sent with 1008 to a client closed for too many refusals.
pub(super) const TOO_MANY_REFUSED: &str = "too many refused commands";

impl Hub {
    /// A text message from `conn`. A client that speaks JSON is subscribed
    /// first, whatever the message says. Every message counts against the
    /// client's [`CommandLimits`](super::CommandLimits): over the limit it
    /// is refused, and a client refused too often is closed (1008).
    pub(super) fn on_text(&self, conn: &Connection, msg: &str) {
        let json = msg.trim_start().starts_with('{');
        let parsed = parse_command(msg);
        let now = Instant::now();
        let mut state = lock(&self.state);
        if let Some(client) = state.clients.get_mut(&conn.id()) {
            if client.limits.closing() {
                // Being closed for too many refusals: ignored.
                return;
            }
            if !client.limits.admit(&self.limits, now) {
                if json {
                    self.subscribe(&mut state, conn);
                }
                drop(state);
                self.refuse(conn, json, Refusal::new(CommandError::RateLimited), now);
                return;
            }
        }
        if json {
            // A client speaking JSON wants the state, subprotocol or not.
            self.subscribe(&mut state, conn);
        }
        let command = match parsed {
            Ok(Command::Ping(n)) => {
                drop(state);
                let mut out = [0u8; MAX_PONG_LEN];
                if let Ok(len) = encode_pong(n, &mut out) {
                    let _ = conn.send_text(std::str::from_utf8(&out[..len]).unwrap_or_default());
                }
                return;
            }
            Ok(command) => command,
            Err(e) => {
                drop(state);
                self.refuse(conn, json, Refusal::new(e), now);
                return;
            }
        };
        let result = match command {
            Command::Simulate(ref list) => self.simulate(state, list),
            _ => self.command(state, conn, &command),
        };
        if let Err(refusal) = result {
            self.refuse(conn, json, refusal, now);
        }
        if let Command::Plain(text) = command {
            // The original answered every message so; its pages expect it.
            let _ = conn.send_text(&format!("Reply for {text}"));
        }
    }

    /// Answers a refused command (a JSON error, or for plain text over
    /// the rate limit a plain line) and counts it against the client's cap
    /// on refusals, closing it (1008) the first time it goes over. A
    /// hardware failure is not the client's doing and is not counted.
    fn refuse(&self, conn: &Connection, json: bool, refusal: Refusal<'_>, now: Instant) {
        let counted = refusal.error != CommandError::Hardware;
        let close = counted && {
            let mut state = lock(&self.state);
            state
                .clients
                .get_mut(&conn.id())
                .is_some_and(|c| c.limits.refused(&self.limits, now) == Refused::Close)
        };
        if json || refusal.error != CommandError::RateLimited {
            send_refusal(conn, refusal);
        } else {
            let _ = conn.send_text(PLAIN_RATE_LIMITED);
        }
        if close {
            tracing::info!(
                id = conn.id(),
                "client {} closed (1008): more than {} refused commands within {:.1} s",
                conn.peer_addr(),
                self.limits.max_refused,
                self.limits.refused_window.as_secs_f64()
            );
            let _ = conn.close(CloseCode::POLICY_VIOLATION, TOO_MANY_REFUSED);
        }
    }

    /// Applies a `set`, `toggle` or plain-text command from `conn`.
    fn command<'c>(
        &self,
        mut state: MutexGuard<'_, HubState>,
        conn: &Connection,
        command: &Command<'c>,
    ) -> Result<(), Refusal<'c>> {
        let changes = resolve_command(&self.pins, &state.levels, command)?;
        let changes = changes.as_slice();
        match self.apply(&mut state, changes) {
            Ok(changed) => {
                let controller = Some(conn.id());
                let mut controls = false;
                for change in changes {
                    if let Some(safe) = self.failsafe_level(change.pin)
                        && let Some(id) = state.controlled_by.get_mut(change.pin)
                    {
                        let away = change.level != safe;
                        *id = if away { controller } else { None };
                        controls |= away;
                    }
                }
                if controls {
                    self.became_controller(&mut state, conn.id());
                }
                if changed {
                    self.publish(state, None);
                } else if !matches!(command, Command::Plain(_)) {
                    // Nothing changed: tell the sender the state it asked
                    // about, after any change still on its way to it.
                    let text = self.state_message(&state);
                    let _order = lock(&self.fanout);
                    drop(state);
                    let _ = conn.send_latest_text(&text);
                }
                Ok(())
            }
            Err(failure) => {
                if failure.rollback_failed {
                    // The hardware is not where it was: say where it is.
                    self.publish(state, None);
                }
                let name = self.pins.get(failure.pin).map_or("", |p| p.name.as_str());
                // The refusal borrows from the command; name the pin from
                // the command's own words where it names it.
                let named = command_name(command, name).unwrap_or("");
                Err(Refusal::naming(CommandError::Hardware, named))
            }
        }
    }

    /// Applies a `simulate` command: drives simulated inputs, which then
    /// report their edges like real ones.
    fn simulate<'c>(
        &self,
        mut state: MutexGuard<'_, HubState>,
        list: &SetList<'c>,
    ) -> Result<(), Refusal<'c>> {
        if !state.backend.as_ref().is_some_and(|b| b.simulates_inputs()) {
            return Err(Refusal::new(CommandError::NotSimulated));
        }
        let changes = resolve_simulate(&self.pins, list)?;
        let mut events = Vec::new();
        for change in changes.as_slice() {
            let Some(pin) = self.pins.get(change.pin) else {
                continue;
            };
            if state.levels.get(change.pin) == Some(&change.level) {
                continue;
            }
            let physical = pin.physical(change.level);
            if let Some(backend) = state.backend.as_mut()
                && let Err(e) = backend.simulate_input(change.pin, physical)
            {
                tracing::error!("cannot simulate input {}: {e}", pin.name());
                continue;
            }
            if let Some(level) = state.levels.get_mut(change.pin) {
                *level = change.level;
            }
            self.inputs_log.changed(change.pin, change.level);
            events.push(event_message(pin.name(), change.level));
        }
        if !events.is_empty() {
            self.publish(state, Some(events));
        }
        Ok(())
    }
}

/// The pin name as the command wrote it (plain text matches names
/// case-insensitively), so a refusal can borrow it from the command.
fn command_name<'c>(command: &Command<'c>, name: &str) -> Option<&'c str> {
    match *command {
        Command::Set(ref list) => list.as_slice().iter().map(|&(n, _)| n).find(|n| *n == name),
        Command::Toggle(n) => Some(n),
        Command::Plain(text) => plain_switch(text).map(|(n, _)| n),
        _ => None,
    }
}

/// Sends `refusal` to `conn` as a JSON error message.
fn send_refusal(conn: &Connection, refusal: Refusal<'_>) {
    let mut out = [0u8; MAX_ERROR_LEN];
    if let Ok(len) = encode_refusal(refusal, &mut out) {
        let _ = conn.send_text(std::str::from_utf8(&out[..len]).unwrap_or_default());
    }
}
