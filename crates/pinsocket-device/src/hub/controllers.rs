//! Controllers: the client that controls each failsafe output away from
//! its safe level, and the watchdog's round that pings silent controllers
//! and drives safe the outputs of those gone quiet too long.

use std::time::{Duration, Instant};

use pinsocket_core::{Level, Mode};

use super::{Hub, HubState};
use crate::failsafe;
use crate::lock::lock;

impl Hub {
    /// The safe level of pin `i` if it is a failsafe output.
    pub(super) fn failsafe_level(&self, i: usize) -> Option<Level> {
        match self.pins.get(i)?.mode {
            Mode::Output(o) if o.failsafe => Some(o.safe),
            _ => None,
        }
    }

    /// A client now controls a failsafe output: the watchdog starts pinging it.
    pub(super) fn became_controller(&self, state: &mut HubState, id: u64) {
        if let Some(client) = state.clients.get_mut(&id)
            && client.pinged.is_none()
        {
            client.pinged = Some(Instant::now());
            failsafe::wake(self);
        }
    }

    /// One round of the failsafe: outputs of controllers silent for the
    /// timeout go safe, silent controllers are pinged. Returns how long
    /// until the next round is due, if any client controls anything.
    pub(crate) fn failsafe_round(&self, now: Instant) -> Option<Duration> {
        let mut state = lock(&self.state);
        let controllers: Vec<u64> = {
            let mut ids: Vec<u64> = state.controlled_by.iter().flatten().copied().collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let mut lapsed = Vec::new();
        let mut next: Option<Instant> = None;
        for &id in &controllers {
            let Some(client) = state.clients.get_mut(&id) else {
                // Gone without on_close having run yet: it will.
                continue;
            };
            let heard = client.conn.last_heard();
            if now.saturating_duration_since(heard) >= self.failsafe_timeout {
                lapsed.push(id);
                continue;
            }
            let pinged = client.pinged.unwrap_or(heard).max(heard);
            let mut ping_at = pinged + self.failsafe_ping;
            if ping_at <= now {
                let _ = client.conn.ping(b"");
                client.pinged = Some(now);
                ping_at = now + self.failsafe_ping;
            }
            let due = ping_at.min(heard + self.failsafe_timeout);
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        for client in state.clients.values_mut() {
            if !controllers.contains(&client.conn.id()) {
                client.pinged = None;
            }
        }
        if !lapsed.is_empty() {
            let pins: Vec<usize> = (0..self.pins.len())
                .filter(|&i| {
                    state
                        .controlled_by
                        .get(i)
                        .copied()
                        .flatten()
                        .is_some_and(|id| lapsed.contains(&id))
                })
                .collect();
            for id in &lapsed {
                if let Some(client) = state.clients.get(id) {
                    tracing::warn!(
                        id,
                        "client {} silent for {:?}: it no longer controls its outputs",
                        client.conn.peer_addr(),
                        self.failsafe_timeout
                    );
                }
            }
            let _ = self.drive_safe(state, &pins, "its controlling client went silent");
        }
        next.map(|at| at.saturating_duration_since(now))
    }
}
