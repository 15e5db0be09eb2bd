//! Fan-out: the state and events of each change sent to every subscriber,
//! in the order the changes were applied, with the O(clients) work done
//! outside the state lock.

use std::sync::MutexGuard;

use pinsocket::Prepared;
use pinsocket_core::{Level, encode_event, encode_state};

use super::clients::subscribers;
use super::{Hub, HubState};
use crate::lock::lock;

impl Hub {
    /// Counts a change and sends `events` (if any), then the state, to every
    /// subscriber. The state lock is released as soon as the sending order
    /// is secured (see `fanout`), so the O(clients) work runs outside it.
    pub(super) fn publish(&self, mut state: MutexGuard<'_, HubState>, events: Option<Vec<String>>) {
        state.version += 1;
        let text = self.state_message(&state);
        let to = subscribers(&mut state);
        let _order = lock(&self.fanout);
        drop(state);
        for event in events.iter().flatten() {
            let event = Prepared::text(event);
            for conn in to.iter() {
                let _ = conn.send_prepared(&event);
            }
        }
        let message = Prepared::text(&text);
        for conn in to.iter() {
            let _ = conn.send_latest_prepared(&message);
        }
    }

    /// The JSON state message: every pin's level and the version.
    pub(super) fn state_message(&self, state: &HubState) -> String {
        let room = 96
            + self
                .pins
                .iter()
                .map(|p| 2 * p.name().len() + 16)
                .sum::<usize>();
        let mut buf = vec![0u8; room];
        let len = encode_state(&self.pins, &state.levels, state.version, &mut buf).unwrap_or(0);
        buf.truncate(len);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// The JSON event message for input `name` changing to `level`.
pub(super) fn event_message(name: &str, level: Level) -> String {
    let mut out = vec![0u8; 64 + 2 * name.len()];
    let len = encode_event(name, level, &mut out).unwrap_or(0);
    out.truncate(len);
    String::from_utf8(out).unwrap_or_default()
}
