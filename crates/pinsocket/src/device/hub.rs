//! The hub: one owner of the board's state. Every change — from a client,
//! an input edge or the failsafe — is applied once, under one lock, and
//! broadcast to every client in the order applied.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use pinsocket_core::command::{self, Command, CommandError};
use pinsocket_core::device::{self, Level, Mode, Pin};
use pinsocket_core::json;

use super::backend::{Backend, BackendError, EventSink};
use crate::{Clients, Connection, Server};

/// The WebSocket subprotocol of the device protocol (docs/PROTOCOL.md). A
/// client that asks for it receives the state on connect and every change.
pub const PROTOCOL: &str = "pinsocket";

/// A board: its pins and how the failsafe behaves.
#[derive(Debug, Clone)]
pub struct Board {
    /// The pins, outputs and inputs, with unique names.
    pub pins: Vec<Pin<String>>,
    /// Return failsafe outputs to their safe level when no message came
    /// from any client for this long. `None` (the default) turns it off.
    pub heartbeat_timeout: Option<Duration>,
}

impl Board {
    /// The default board: one output `led` on line 12 (the original's
    /// GPIO12), off at start, and back off when its last client leaves.
    pub fn led() -> Board {
        Board {
            pins: vec![Pin {
                name: "led".to_owned(),
                line: 12,
                mode: Mode::Output(pinsocket_core::Output {
                    active_low: false,
                    initial: Level::Low,
                    safe: Level::Low,
                    failsafe: true,
                }),
            }],
            heartbeat_timeout: None,
        }
    }
}

/// A board served to WebSocket clients. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Device {
    inner: Arc<HubInner>,
}

#[derive(Debug)]
pub(crate) struct HubInner {
    pins: Vec<Pin<String>>,
    state: Mutex<HubState>,
    clients: OnceLock<Clients>,
    heartbeat_timeout: Option<Duration>,
}

struct HubState {
    /// Logical level of each pin.
    levels: Vec<Level>,
    /// Connections sent state and events: those that asked for the
    /// `pinsocket` subprotocol or spoke JSON. Clients that only speak the
    /// original's plain text see exactly the original's conversation.
    subscribers: HashSet<u64>,
    version: u64,
    backend: Option<Box<dyn Backend>>,
    last_message: Instant,
    /// The failsafe has acted since the last client message.
    failsafe_done: bool,
}

impl std::fmt::Debug for HubState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubState")
            .field("levels", &self.levels)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A snapshot of the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Grows by one with every change.
    pub version: u64,
    /// (name, logical level) of every pin, in board order.
    pub levels: Vec<(String, Level)>,
}

impl Device {
    /// Opens the board: `open` builds the backend, given where to report
    /// input edges; inputs are read once so the first snapshot is true.
    pub fn new<B: Backend>(
        board: Board,
        open: impl FnOnce(&[Pin<String>], EventSink) -> Result<B, BackendError>,
    ) -> Result<Device, BackendError> {
        let levels = board.pins.iter().map(Pin::initial).collect();
        let inner = Arc::new(HubInner {
            pins: board.pins,
            state: Mutex::new(HubState {
                levels,
                subscribers: HashSet::new(),
                version: 1,
                backend: None,
                last_message: Instant::now(),
                failsafe_done: false,
            }),
            clients: OnceLock::new(),
            heartbeat_timeout: board.heartbeat_timeout,
        });
        let sink = EventSink {
            hub: Arc::downgrade(&inner),
        };
        let mut backend = open(&inner.pins, sink)?;
        {
            let mut state = inner.lock();
            for (i, pin) in inner.pins.iter().enumerate() {
                if !pin.is_output() {
                    let physical = backend.read_input(i)?;
                    if let Some(level) = state.levels.get_mut(i) {
                        *level = pin.physical(physical);
                    }
                }
            }
            state.backend = Some(Box::new(backend));
        }
        if let Some(timeout) = inner.heartbeat_timeout {
            spawn_heartbeat(Arc::downgrade(&inner), timeout);
        }
        Ok(Device { inner })
    }

    /// Installs the device's callbacks on `server`. Clients that ask for
    /// the [`PROTOCOL`] subprotocol get the state on connect and after every
    /// change; so do clients once they send JSON. Every client may send
    /// commands; plain text is answered `Reply for <msg>`.
    pub fn serve(&self, server: Server) -> Server {
        let _ = self.inner.clients.set(server.clients());
        let (on_accept, on_text, on_close) =
            (self.inner.clone(), self.inner.clone(), self.inner.clone());
        server
            .protocols(&[PROTOCOL])
            .on_accept(move |conn, _req| {
                if conn.protocol() == Some(PROTOCOL) {
                    on_accept.subscribe(conn);
                }
                Ok(())
            })
            .on_text(move |conn, msg| on_text.on_text(conn, msg))
            .on_close(move |conn, _code, _reason| on_close.client_left(conn))
    }

    /// The board's pins.
    pub fn pins(&self) -> &[Pin<String>] {
        &self.inner.pins
    }

    /// The current state.
    pub fn snapshot(&self) -> Snapshot {
        let state = self.inner.lock();
        Snapshot {
            version: state.version,
            levels: self
                .inner
                .pins
                .iter()
                .map(|p| p.name.clone())
                .zip(state.levels.iter().copied())
                .collect(),
        }
    }

    /// Drives every output to its safe level (failsafe or not), as at exit.
    pub fn all_safe(&self) {
        self.inner.to_safe("shutting down", |_| true);
    }
}

impl HubInner {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        // Every update completes under the lock before it is released.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a client to those sent state and events, starting with the
    /// current state.
    fn subscribe(&self, conn: &Connection) {
        let mut state = self.lock();
        Self::subscribe_locked(&mut state, conn, self);
    }

    fn subscribe_locked(state: &mut HubState, conn: &Connection, hub: &HubInner) {
        if state.subscribers.insert(conn.id()) {
            let _ = conn.send_latest_text(&hub.encode_state(state));
        }
    }

    fn on_text(&self, conn: &Connection, msg: &str) {
        let parsed = command::parse(msg);
        let mut state = self.lock();
        state.last_message = Instant::now();
        state.failsafe_done = false;
        if msg.trim_start().starts_with('{') {
            // A client speaking JSON wants the state, subprotocol or not.
            Self::subscribe_locked(&mut state, conn, self);
        }
        let command = match parsed {
            Ok(command) => command,
            Err(e) => {
                drop(state);
                send_error(conn, e);
                return;
            }
        };
        if let Command::Ping(n) = command {
            drop(state);
            let mut out = [0u8; json::MAX_PONG_LEN];
            if let Ok(len) = json::encode_pong(n, &mut out) {
                let _ = conn.send_text(std::str::from_utf8(&out[..len]).unwrap_or_default());
            }
            return;
        }
        let result = device::resolve(&self.pins, &state.levels, &command)
            .and_then(|changes| self.apply(&mut state, changes.as_slice()));
        match result {
            Ok(true) => {}
            // Nothing changed: tell the sender the state it asked about.
            Ok(false) if !matches!(command, Command::Plain(_)) => {
                let _ = conn.send_latest_text(&self.encode_state(&state));
            }
            Ok(false) => {}
            Err(e) => {
                drop(state);
                send_error(conn, e);
                return;
            }
        }
        drop(state);
        if let Command::Plain(text) = command {
            // The original answered every message so; its pages expect it.
            let _ = conn.send_text(&format!("Reply for {text}"));
        }
    }

    /// Applies changes to the hardware and the state, then broadcasts the
    /// new state. Returns whether anything changed.
    fn apply(
        &self,
        state: &mut HubState,
        changes: &[device::Change],
    ) -> Result<bool, CommandError> {
        let mut changed = false;
        let mut result = Ok(());
        for change in changes {
            let (Some(pin), Some(current)) = (
                self.pins.get(change.pin),
                state.levels.get(change.pin).copied(),
            ) else {
                continue;
            };
            if current == change.level {
                continue;
            }
            let physical = pin.physical(change.level);
            let outcome = match state.backend.as_mut() {
                Some(backend) => backend.set_output(change.pin, physical),
                None => Err(BackendError::new("no backend")),
            };
            if let Err(e) = outcome {
                tracing::error!("cannot set output {}: {e}", pin.name());
                result = Err(CommandError::Hardware);
                break;
            }
            if let Some(level) = state.levels.get_mut(change.pin) {
                *level = change.level;
            }
            changed = true;
        }
        if changed {
            self.publish(state);
        }
        result.map(|()| changed)
    }

    /// Counts a change and broadcasts the state. Called with the lock held,
    /// so every client receives states in version order.
    fn publish(&self, state: &mut HubState) {
        state.version += 1;
        let text = self.encode_state(state);
        if let Some(clients) = self.clients.get() {
            clients.broadcast_latest_text_to(&text, |c| state.subscribers.contains(&c.id()));
        }
    }

    fn encode_state(&self, state: &HubState) -> String {
        let room = 96
            + self
                .pins
                .iter()
                .map(|p| 2 * p.name().len() + 16)
                .sum::<usize>();
        let mut buf = vec![0u8; room];
        let len =
            json::encode_state(&self.pins, &state.levels, state.version, &mut buf).unwrap_or(0);
        buf.truncate(len);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// An input edge from the backend.
    pub(crate) fn input_changed(&self, pin: usize, physical: Level) {
        let Some(p) = self.pins.get(pin).filter(|p| !p.is_output()) else {
            return;
        };
        let level = p.physical(physical);
        let mut state = self.lock();
        let Some(slot) = state.levels.get_mut(pin) else {
            return;
        };
        if *slot == level {
            return;
        }
        *slot = level;
        tracing::info!("input {} -> {}", p.name(), level.as_str());
        let mut out = vec![0u8; 64 + 2 * p.name().len()];
        if let Ok(len) = json::encode_event(p.name(), level, &mut out)
            && let Some(clients) = self.clients.get()
        {
            let text = std::str::from_utf8(&out[..len]).unwrap_or_default();
            clients.broadcast_text_to(text, |c| state.subscribers.contains(&c.id()));
        }
        self.publish(&mut state);
    }

    /// A client disconnected; the last one leaving trips the failsafe.
    fn client_left(&self, conn: &Connection) {
        self.lock().subscribers.remove(&conn.id());
        if self.clients.get().is_some_and(Clients::is_empty) {
            self.to_safe("last client disconnected", |o| o.failsafe);
        }
    }

    /// Drives the outputs `select` picks to their safe level, and broadcasts.
    fn to_safe(&self, why: &str, select: impl Fn(&pinsocket_core::Output) -> bool) {
        let mut state = self.lock();
        let changes: Vec<device::Change> = self
            .pins
            .iter()
            .enumerate()
            .filter_map(|(i, pin)| match pin.mode {
                Mode::Output(o) if select(&o) && state.levels.get(i) != Some(&o.safe) => {
                    Some(device::Change {
                        pin: i,
                        level: o.safe,
                    })
                }
                _ => None,
            })
            .collect();
        if changes.is_empty() {
            return;
        }
        tracing::warn!(
            "failsafe ({why}): {} output(s) to their safe level",
            changes.len()
        );
        let _ = self.apply(&mut state, &changes);
        state.failsafe_done = true;
    }

    fn heartbeat_check(&self, timeout: Duration) {
        let silent = {
            let state = self.lock();
            !state.failsafe_done && state.last_message.elapsed() >= timeout
        };
        if silent {
            self.to_safe("no message within the heartbeat timeout", |o| o.failsafe);
            self.lock().failsafe_done = true;
        }
    }
}

fn send_error(conn: &Connection, e: CommandError) {
    let mut out = [0u8; 256];
    if let Ok(len) = json::encode_error(e, &mut out) {
        let _ = conn.send_text(std::str::from_utf8(&out[..len]).unwrap_or_default());
    }
}

/// Checks for silence a few times per timeout, until the device is dropped.
fn spawn_heartbeat(hub: Weak<HubInner>, timeout: Duration) {
    let tick = (timeout / 4).max(Duration::from_millis(5));
    let spawned = std::thread::Builder::new()
        .name("pinsocket-heartbeat".into())
        .spawn(move || {
            while let Some(hub) = hub.upgrade() {
                hub.heartbeat_check(timeout);
                drop(hub);
                std::thread::sleep(tick);
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the heartbeat thread: {e}");
    }
}
