//! [`Handoffs`]: the inner connections the TLS terminator is making to the
//! plain server, by the port of the terminator's side, each with the real
//! client's address and its place under `max_connections`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::connection::lock;
use crate::server::Tracked;

/// Inner connections registered by the terminator and not yet claimed by
/// the accept loop. Touched twice per TLS connection, never per message.
#[derive(Debug, Default)]
pub(crate) struct Handoffs {
    waiting: Mutex<HashMap<u16, Waiting>>,
    serial: AtomicU64,
}

/// One registered inner connection.
#[derive(Debug)]
struct Waiting {
    /// Tells this registration from a later one on the same port.
    serial: u64,
    peer: SocketAddr,
    tracked: Tracked,
}

/// Held by the terminator's task while its inner connection may still be
/// unclaimed: dropping it removes the registration if it is still there
/// (the connect failed, or the server stopped accepting first), which
/// frees its place under the connection limit.
#[derive(Debug)]
pub(crate) struct Ticket {
    handoffs: Arc<Handoffs>,
    port: u16,
    serial: u64,
}

impl Handoffs {
    /// Registers the inner connection that will come from 127.0.0.1:`port`
    /// for the client at `peer`, before it connects.
    pub(crate) fn register(
        self: &Arc<Self>,
        port: u16,
        peer: SocketAddr,
        tracked: Tracked,
    ) -> Ticket {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let old = lock(&self.waiting).insert(
            port,
            Waiting {
                serial,
                peer,
                tracked,
            },
        );
        drop(old);
        Ticket {
            handoffs: self.clone(),
            port,
            serial,
        }
    }

    /// For a connection accepted on the private listener from `from`: the
    /// real client's address and the connection's tracker guard, if the
    /// terminator made it; `None` for anything else, which is refused.
    pub(crate) fn claim(&self, from: SocketAddr) -> Option<(SocketAddr, Tracked)> {
        if from.ip() != Ipv4Addr::LOCALHOST {
            return None;
        }
        let waiting = lock(&self.waiting).remove(&from.port())?;
        Some((waiting.peer, waiting.tracked))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let stale = {
            let mut waiting = lock(&self.handoffs.waiting);
            match waiting.get(&self.port) {
                Some(w) if w.serial == self.serial => waiting.remove(&self.port),
                _ => None,
            }
        };
        // The tracker guard goes outside the lock.
        drop(stale);
    }
}
