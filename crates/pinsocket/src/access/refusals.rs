//! The refusal log: a refused client is logged at warn once, not once per
//! request, so a page retrying in a loop (or an attacker) cannot fill the
//! log. The memory of who was logged is bounded: the oldest entry goes
//! when it is full, and that client may be logged once more later.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::connection::lock;

/// How many clients the log remembers.
const REMEMBERED: usize = 256;

/// What a client was refused for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reason {
    /// A `Host` this server does not answer to (421).
    Host,
    /// A WebSocket handshake from another site's page (403).
    Origin,
    /// A wrong token (401).
    Token,
}

/// The clients refused recently, by address and reason.
#[derive(Debug, Default)]
pub(super) struct RefusalLog {
    recent: Mutex<VecDeque<(IpAddr, Reason)>>,
}

impl RefusalLog {
    /// True the first time `ip` is refused for `reason` (or the first
    /// time since it was forgotten): the caller logs at warn; otherwise at
    /// debug.
    pub(super) fn first(&self, ip: IpAddr, reason: Reason) -> bool {
        // Each step pushes or pops one whole entry: never half-changed.
        let mut recent = lock(&self.recent);
        if recent.contains(&(ip, reason)) {
            return false;
        }
        if recent.len() == REMEMBERED {
            recent.pop_front();
        }
        recent.push_back((ip, reason));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_client_and_reason_within_a_bounded_memory() {
        let log = RefusalLog::default();
        let ip = |n: u32| IpAddr::from(n.to_be_bytes());
        assert!(log.first(ip(1), Reason::Host));
        assert!(!log.first(ip(1), Reason::Host));
        assert!(log.first(ip(1), Reason::Origin));
        for n in 2..=300 {
            assert!(log.first(ip(n), Reason::Host));
        }
        assert_eq!(lock(&log.recent).len(), REMEMBERED);
        // Forgotten, so logged again.
        assert!(log.first(ip(1), Reason::Host));
        assert!(!log.first(ip(300), Reason::Host));
    }
}
