//! Every open WebSocket of a server: lookup, broadcast and the liveness sweep.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pinsocket_core::{CloseCode, OpCode};

use crate::connection::{Connection, OutputBudget, State, encode_shared, lock};

/// The set of open WebSocket connections of one server.
///
/// Cloning gives another handle to the same set. Get it from
/// [`Server::clients`](crate::Server::clients) before starting the server to
/// use it in callbacks, or from [`RunningServer::clients`](crate::RunningServer::clients).
#[derive(Clone, Debug)]
pub struct Clients {
    inner: Arc<Registry>,
}

#[derive(Debug)]
struct Registry {
    conns: Mutex<HashMap<u64, Connection>>,
    next_id: AtomicU64,
    /// What every registered connection queues is counted here.
    budget: Arc<OutputBudget>,
}

/// The default of [`Server::output_budget`](crate::Server::output_budget):
/// 64 MiB, a sixteenth of a 1 GiB board's memory.
pub(crate) const DEFAULT_OUTPUT_BUDGET: usize = 64 << 20;

impl Default for Clients {
    fn default() -> Self {
        Clients {
            inner: Arc::new(Registry {
                conns: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                budget: Arc::new(OutputBudget::new(DEFAULT_OUTPUT_BUDGET)),
            }),
        }
    }
}

impl Clients {
    /// The number of open WebSocket connections.
    pub fn len(&self) -> usize {
        self.conns().len()
    }

    /// Connections whose session is resting (has no task).
    pub(crate) fn resting(&self) -> usize {
        self.conns()
            .values()
            .filter(|c| c.shared.rest.is_resting())
            .count()
    }

    /// Bytes waiting to be written to all the open WebSockets together:
    /// queued, being written, or held back as input while a client's
    /// replies back up. Bounded by
    /// [`Server::output_budget`](crate::Server::output_budget) (give or take
    /// one message per client); 0 once every client has left.
    pub fn queued_bytes(&self) -> usize {
        self.inner.budget.used()
    }

    /// The output budget of every registered connection.
    pub(crate) fn budget(&self) -> &OutputBudget {
        &self.inner.budget
    }

    /// Sets the limit of the output budget (see `Server::output_budget`).
    pub(crate) fn set_output_budget(&self, bytes: usize) {
        self.inner.budget.set_limit(bytes);
    }

    /// True if no WebSocket is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The connection with this id, if it is still open.
    pub fn get(&self, id: u64) -> Option<Connection> {
        self.conns().get(&id).cloned()
    }

    /// A snapshot of the open connections.
    pub fn all(&self) -> Vec<Connection> {
        self.conns().values().cloned().collect()
    }

    /// Sends a text message to every open WebSocket. The frame is encoded
    /// once and shared. Returns how many connections it was queued on; a
    /// client whose queue is full is closed with 1008 instead.
    pub fn broadcast_text(&self, text: &str) -> usize {
        self.broadcast(OpCode::Text, text.as_bytes())
    }

    /// Sends a text message to every open WebSocket with
    /// [`Connection::send_latest_text`] semantics: on a client that has not
    /// yet been sent the previous such message, this one replaces it. Use it
    /// for state snapshots; returns how many connections it was queued on.
    pub fn broadcast_latest_text(&self, text: &str) -> usize {
        self.broadcast_latest_text_to(text, |_| true)
    }

    /// [`Clients::broadcast_latest_text`] to the connections `to` selects.
    ///
    /// `to` runs on a snapshot of the set, outside its lock, so it may use
    /// this `Clients` (or take locks of its own that other threads hold
    /// while calling it).
    pub fn broadcast_latest_text_to(&self, text: &str, to: impl Fn(&Connection) -> bool) -> usize {
        let frame = encode_shared(OpCode::Text, text.as_bytes());
        self.all()
            .iter()
            .filter(|conn| to(conn) && conn.send_latest(&frame).is_ok())
            .count()
    }

    /// [`Clients::broadcast_text`] to the connections `to` selects; `to`
    /// runs outside the set's lock, as for [`Clients::broadcast_latest_text_to`].
    pub fn broadcast_text_to(&self, text: &str, to: impl Fn(&Connection) -> bool) -> usize {
        let frame = encode_shared(OpCode::Text, text.as_bytes());
        self.all()
            .iter()
            .filter(|conn| to(conn) && conn.send_shared(&frame).is_ok())
            .count()
    }

    /// Sends a binary message to every open WebSocket; see [`Clients::broadcast_text`].
    pub fn broadcast_binary(&self, data: &[u8]) -> usize {
        self.broadcast(OpCode::Binary, data)
    }

    /// Starts the closing handshake on every open WebSocket.
    pub fn close_all(&self, code: CloseCode, reason: &str) {
        for conn in self.all() {
            let _ = conn.close(code, reason);
        }
    }

    fn broadcast(&self, opcode: OpCode, payload: &[u8]) -> usize {
        let frame = encode_shared(opcode, payload);
        let conns = self.conns();
        conns
            .values()
            .filter(|conn| conn.send_shared(&frame).is_ok())
            .count()
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn insert(&self, conn: Connection) {
        self.conns().insert(conn.id(), conn);
    }

    fn remove(&self, id: u64) {
        self.conns().remove(&id);
    }

    /// Milliseconds on the server clock; never 0, which means "never".
    pub(crate) fn now_ms(&self) -> u64 {
        crate::connection::now_ms()
    }

    /// One pass of the liveness check: drops connections whose close took
    /// over `close_timeout` and those that took none of our bytes for
    /// `send_timeout`, times out those whose ping went unanswered for
    /// `ping_timeout`, pings those that sent nothing for `ping_interval`,
    /// and asks those that sent nothing for `rest_after` to rest.
    pub(crate) fn sweep(&self, timeouts: &Timeouts) {
        let now = self.now_ms();
        let interval = duration_ms(timeouts.ping_interval);
        let timeout = duration_ms(timeouts.ping_timeout);
        let send_timeout = duration_ms(timeouts.send_timeout);
        let rest_after = duration_ms(timeouts.rest_after);
        let close_timeout = duration_ms(timeouts.close_timeout);
        for conn in self.conns().values() {
            let shared = &conn.shared;
            {
                let mut out = conn.outbox();
                if out.state == State::Closing
                    && out.closing_since != 0
                    && now.saturating_sub(out.closing_since) >= close_timeout
                {
                    out.state = State::CloseTimedOut;
                    drop(out);
                    tracing::debug!(id = conn.id(), "close timed out: dropping the connection");
                    shared.wakeup.notify();
                    continue;
                }
            }
            let stalled = shared.write_stalled_since.load(Ordering::Relaxed);
            if stalled != 0 && now.saturating_sub(stalled) >= send_timeout {
                tracing::warn!(id = conn.id(), peer = %conn.peer_addr(), "client too slow: took no data for the send timeout, dropping it (1008)");
                conn.abort(State::Stalled);
                continue;
            }
            let ping_sent = shared.ping_sent.load(Ordering::Relaxed);
            if ping_sent != 0 {
                if now.saturating_sub(ping_sent) >= timeout {
                    tracing::info!(id = conn.id(), peer = %conn.peer_addr(), "no answer to ping: dropping connection");
                    conn.abort(State::TimedOut);
                }
            } else if now.saturating_sub(shared.last_rx.load(Ordering::Relaxed)) >= interval {
                shared.ping_sent.store(now, Ordering::Relaxed);
                conn.send_control(OpCode::Ping, b"");
                shared.wakeup.notify();
            } else if now.saturating_sub(shared.last_rx.load(Ordering::Relaxed)) >= rest_after
                && shared.rest.request()
            {
                // Quiet for a while: ask the session to rest.
                shared.wakeup.notify();
            }
        }
    }

    fn conns(&self) -> MutexGuard<'_, HashMap<u64, Connection>> {
        // The map is only ever inserted into or removed from: always consistent.
        lock(&self.inner.conns)
    }
}

/// The deadlines the sweep enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) rest_after: Duration,
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A connection's place in the set: removed when this is dropped, however
/// the connection ends (even if a callback panics).
#[derive(Debug)]
pub(crate) struct Registration {
    clients: Clients,
    id: u64,
}

impl Registration {
    /// Registers `conn`, which from now on queues within the server's
    /// output budget.
    pub(crate) fn new(clients: &Clients, conn: &Connection) -> Registration {
        conn.join_budget(&clients.inner.budget);
        clients.insert(conn.clone());
        Registration {
            clients: clients.clone(),
            id: conn.id(),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.clients.remove(self.id);
    }
}
