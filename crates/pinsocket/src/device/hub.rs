//! The hub: one owner of the board's state. Every change — from a client,
//! an input edge or the failsafe — is applied once, under one lock, and
//! sent to every subscribed client in the order applied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use pinsocket_core::command::{self, Command, CommandError, Refusal};
use pinsocket_core::device::{self, Change, Level, Mode, Pin};
use pinsocket_core::json;

use super::backend::{Backend, BackendError, EventSink};
use super::failsafe;
use crate::{CloseCode, Connection, Prepared, Server};

/// The WebSocket subprotocol of the device protocol (docs/PROTOCOL.md). A
/// client that asks for it receives the state on connect and every change.
pub const PROTOCOL: &str = "pinsocket";

/// Sent to subscribers of a simulated board before its first state, so a
/// page can offer to drive its inputs.
const SIMULATED: &str = r#"{"board":{"simulated":true}}"#;

/// A board: its pins and how the failsafe watches the clients that
/// control them.
#[derive(Debug, Clone)]
pub struct Board {
    /// The pins, outputs and inputs, with unique names.
    pub pins: Vec<Pin<String>>,
    /// How often a client that controls a failsafe output is pinged while
    /// it is silent. Default 250 ms.
    pub failsafe_ping: Duration,
    /// How long a client that controls a failsafe output may go without
    /// sending anything (a pong, a message) before the outputs it controls
    /// go to their safe level. Default 1 s.
    pub failsafe_timeout: Duration,
}

impl Board {
    /// The default board: one failsafe output `led` on line 12 (the
    /// original's GPIO12), off at start and safe when off.
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
            failsafe_ping: Duration::from_millis(250),
            failsafe_timeout: Duration::from_secs(1),
        }
    }
}

/// A board served to WebSocket clients. Cheap to clone.
///
/// # Failsafe
///
/// An output configured `failsafe` is *controlled* by the client whose
/// command last left it away from its safe level (switched it on, or asked
/// for on while it was on). It returns to its safe level, and every client
/// is told, as soon as:
/// - its controller disconnects, however it goes; or
/// - its controller has sent nothing — no message, no answer to a ping —
///   for [`Board::failsafe_timeout`]. The device pings a controller every
///   [`Board::failsafe_ping`] while it is silent, and every WebSocket client
///   answers pings by itself (browsers do, whatever the page does), so a
///   client only goes silent when it is gone: a phone out of Wi-Fi range,
///   a crashed program, a pulled cable; or
/// - the last client disconnects (this also covers failsafe outputs that no
///   client controls, such as one configured to start on).
///
/// Another client merely watching the page does not keep an output on: only
/// the controller does. Commands that set a failsafe output to its safe
/// level leave it without a controller.
///
/// On exit — [`Device::all_safe`], the device being dropped, or a panic
/// anywhere in the process — every output, failsafe or not, goes to its
/// safe level, and clients still connected are told.
#[derive(Clone, Debug)]
pub struct Device {
    inner: Arc<HubInner>,
}

#[derive(Debug)]
pub(crate) struct HubInner {
    pins: Vec<Pin<String>>,
    pub(super) failsafe_ping: Duration,
    pub(super) failsafe_timeout: Duration,
    state: Mutex<HubState>,
    /// Held while states and events are queued on clients. Taken while
    /// the state lock is held, just before it is released, so what one
    /// change sends goes out before the next change's, while the state
    /// lock is free for commands to be checked meanwhile.
    fanout: Mutex<()>,
    /// The failsafe's watchdog thread, woken when a controller appears.
    pub(super) watchdog: OnceLock<std::thread::Thread>,
}

struct HubState {
    /// Logical level of each pin.
    levels: Vec<Level>,
    /// For each failsafe output away from its safe level, the client that
    /// controls it (see [`Device`]).
    holders: Vec<Option<u64>>,
    /// Every connected client.
    clients: HashMap<u64, Client>,
    /// The subscribed clients, rebuilt after a client subscribes or leaves.
    subscribers: Option<Arc<[Connection]>>,
    version: u64,
    backend: Option<Box<dyn Backend>>,
}

struct Client {
    conn: Connection,
    /// Sent state and events: asked for the `pinsocket` subprotocol or
    /// spoke JSON. Clients that only speak the original's plain text see
    /// exactly the original's conversation.
    subscribed: bool,
    /// When the failsafe last pinged it, if it controls an output.
    pinged: Option<Instant>,
}

impl std::fmt::Debug for HubState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubState")
            .field("levels", &self.levels)
            .field("holders", &self.holders)
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

/// Outputs the hardware did not drive to their safe level; each is logged
/// as it happens, and every other output was still tried.
#[derive(Debug, thiserror::Error)]
#[error("{} output(s) not driven to their safe level: {}", failures.len(), list(failures))]
pub struct SafeError {
    /// One error per output that failed, naming it.
    pub failures: Vec<BackendError>,
}

fn list(failures: &[BackendError]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Device {
    /// Opens the board: `open` builds the backend, given where to report
    /// input edges; inputs are read once so the first snapshot is true.
    /// Starts the failsafe's watchdog thread.
    pub fn new<B: Backend>(
        board: Board,
        open: impl FnOnce(&[Pin<String>], EventSink) -> Result<B, BackendError>,
    ) -> Result<Device, BackendError> {
        let levels = board.pins.iter().map(Pin::initial).collect();
        let holders = vec![None; board.pins.len()];
        let inner = Arc::new(HubInner {
            pins: board.pins,
            failsafe_ping: board.failsafe_ping,
            failsafe_timeout: board.failsafe_timeout,
            state: Mutex::new(HubState {
                levels,
                holders,
                clients: HashMap::new(),
                subscribers: None,
                version: 1,
                backend: None,
            }),
            fanout: Mutex::new(()),
            watchdog: OnceLock::new(),
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
        failsafe::watch(&inner)?;
        Ok(Device { inner })
    }

    /// Installs the device's callbacks on `server`. Clients that ask for
    /// the [`PROTOCOL`] subprotocol get the state on connect and after every
    /// change; so do clients once they send JSON. Every client may send
    /// commands; plain text is answered `Reply for <msg>`.
    pub fn serve(&self, server: Server) -> Server {
        let (on_accept, on_text, on_close) =
            (self.inner.clone(), self.inner.clone(), self.inner.clone());
        server
            .protocols(&[PROTOCOL])
            .on_accept(move |conn, _req| {
                on_accept.client_joined(conn);
                Ok(())
            })
            .on_text(move |conn, msg| on_text.on_text(conn, msg))
            .on_close(move |conn, code, reason| on_close.client_left(conn, code, reason))
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

    /// The client controlling each failsafe output that is away from its
    /// safe level: (pin name, connection id).
    pub fn controllers(&self) -> Vec<(String, u64)> {
        let state = self.inner.lock();
        self.inner
            .pins
            .iter()
            .zip(&state.holders)
            .filter_map(|(pin, holder)| holder.map(|id| (pin.name.clone(), id)))
            .collect()
    }

    /// Drives every output, failsafe or not, to its safe level and tells
    /// the clients, as at exit. Every output is tried; those the hardware
    /// refused are logged and returned.
    pub fn all_safe(&self) -> Result<(), SafeError> {
        self.inner.all_safe("shutting down")
    }
}

impl HubInner {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        // Every update completes under the lock before it is released.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn client_joined(&self, conn: &Connection) {
        tracing::info!(
            id = conn.id(),
            "client connected from {} ({})",
            conn.peer_addr(),
            conn.protocol().unwrap_or("plain text")
        );
        let mut state = self.lock();
        state.clients.insert(
            conn.id(),
            Client {
                conn: conn.clone(),
                subscribed: false,
                pinged: None,
            },
        );
        if conn.protocol() == Some(PROTOCOL) {
            self.subscribe(&mut state, conn);
        }
    }

    /// Adds a client to those sent state and events, starting with the
    /// current state (and, on a simulated board, a note saying so).
    fn subscribe(&self, state: &mut HubState, conn: &Connection) {
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
        let _ = conn.send_latest_text(&self.encode_state(state));
    }

    fn on_text(&self, conn: &Connection, msg: &str) {
        let command = match command::parse(msg) {
            Ok(Command::Ping(n)) => {
                if msg.trim_start().starts_with('{') {
                    let mut state = self.lock();
                    self.subscribe(&mut state, conn);
                }
                let mut out = [0u8; json::MAX_PONG_LEN];
                if let Ok(len) = json::encode_pong(n, &mut out) {
                    let _ = conn.send_text(std::str::from_utf8(&out[..len]).unwrap_or_default());
                }
                return;
            }
            Ok(command) => command,
            Err(e) => {
                if msg.trim_start().starts_with('{') {
                    let mut state = self.lock();
                    self.subscribe(&mut state, conn);
                }
                send_refusal(conn, Refusal::new(e));
                return;
            }
        };
        let mut state = self.lock();
        if msg.trim_start().starts_with('{') {
            // A client speaking JSON wants the state, subprotocol or not.
            self.subscribe(&mut state, conn);
        }
        let result = match command {
            Command::Simulate(ref list) => self.simulate(state, list),
            _ => self.command(state, conn, &command),
        };
        if let Err(refusal) = result {
            send_refusal(conn, refusal);
        }
        if let Command::Plain(text) = command {
            // The original answered every message so; its pages expect it.
            let _ = conn.send_text(&format!("Reply for {text}"));
        }
    }

    /// Applies a `set`, `toggle` or plain-text command from `conn`.
    fn command<'c>(
        &self,
        mut state: MutexGuard<'_, HubState>,
        conn: &Connection,
        command: &Command<'c>,
    ) -> Result<(), Refusal<'c>> {
        let changes = device::resolve_command(&self.pins, &state.levels, command)?;
        let changes = changes.as_slice();
        match self.apply(&mut state, changes) {
            Ok(changed) => {
                let controller = Some(conn.id());
                let mut controls = false;
                for change in changes {
                    if let Some(safe) = self.failsafe_level(change.pin)
                        && let Some(holder) = state.holders.get_mut(change.pin)
                    {
                        let away = change.level != safe;
                        *holder = if away { controller } else { None };
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
                    let text = self.encode_state(&state);
                    let _order = self.fanout();
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

    /// A client now controls a failsafe output: the watchdog starts pinging it.
    fn became_controller(&self, state: &mut HubState, id: u64) {
        if let Some(client) = state.clients.get_mut(&id)
            && client.pinged.is_none()
        {
            client.pinged = Some(Instant::now());
            failsafe::wake(self);
        }
    }

    /// Applies a `simulate` command: drives simulated inputs, which then
    /// report their edges like real ones.
    fn simulate<'c>(
        &self,
        mut state: MutexGuard<'_, HubState>,
        list: &command::SetList<'c>,
    ) -> Result<(), Refusal<'c>> {
        if !state.backend.as_ref().is_some_and(|b| b.simulates_inputs()) {
            return Err(Refusal::new(CommandError::NotSimulated));
        }
        let changes = device::resolve_simulate(&self.pins, list)?;
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
            tracing::info!("sim: input {} -> {}", pin.name(), change.level.as_str());
            events.push(encode_event(pin.name(), change.level));
        }
        if !events.is_empty() {
            self.publish(state, Some(events));
        }
        Ok(())
    }

    /// The safe level of pin `i` if it is a failsafe output.
    fn failsafe_level(&self, i: usize) -> Option<Level> {
        match self.pins.get(i)?.mode {
            Mode::Output(o) if o.failsafe => Some(o.safe),
            _ => None,
        }
    }

    /// Applies changes to the hardware and the state, all or nothing:
    /// if the hardware refuses one, those already made are put back.
    /// Returns whether anything changed.
    fn apply(&self, state: &mut HubState, changes: &[Change]) -> Result<bool, ApplyFailure> {
        let mut done: Vec<(usize, Level)> = Vec::new();
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
            if let Err(e) = drive(state, change.pin, pin.physical(change.level)) {
                tracing::error!("cannot set output {}: {e}", pin.name());
                let rollback_failed = self.undo(state, &done);
                return Err(ApplyFailure {
                    pin: change.pin,
                    rollback_failed,
                });
            }
            done.push((change.pin, current));
            if let Some(level) = state.levels.get_mut(change.pin) {
                *level = change.level;
            }
        }
        Ok(!done.is_empty())
    }

    /// Puts back the outputs a failed command already switched, latest
    /// first. Returns true if one of them could not be put back (its level
    /// in the state is then what the hardware holds).
    fn undo(&self, state: &mut HubState, done: &[(usize, Level)]) -> bool {
        let mut failed = false;
        for &(i, before) in done.iter().rev() {
            let Some(pin) = self.pins.get(i) else {
                continue;
            };
            match drive(state, i, pin.physical(before)) {
                Ok(()) => {
                    if let Some(level) = state.levels.get_mut(i) {
                        *level = before;
                    }
                }
                Err(e) => {
                    tracing::error!("cannot put output {} back: {e}", pin.name());
                    failed = true;
                }
            }
        }
        failed
    }

    /// Counts a change and sends `events` (if any), then the state, to every
    /// subscriber. The state lock is released as soon as the sending order
    /// is secured (see `fanout`), so the O(clients) work runs outside it.
    fn publish(&self, mut state: MutexGuard<'_, HubState>, events: Option<Vec<String>>) {
        state.version += 1;
        let text = self.encode_state(&state);
        let to = subscribers(&mut state);
        let _order = self.fanout();
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

    fn fanout(&self) -> MutexGuard<'_, ()> {
        self.fanout.lock().unwrap_or_else(|p| p.into_inner())
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
        self.publish(state, Some(vec![encode_event(p.name(), level)]));
    }

    /// A client disconnected: the outputs it controlled go safe, and all
    /// failsafe outputs do when it was the last client.
    fn client_left(&self, conn: &Connection, code: CloseCode, reason: &str) {
        tracing::info!(
            id = conn.id(),
            "client {} left: {code}{}{reason}",
            conn.peer_addr(),
            if reason.is_empty() { "" } else { " " }
        );
        let mut state = self.lock();
        if let Some(client) = state.clients.remove(&conn.id())
            && client.subscribed
        {
            state.subscribers = None;
        }
        let last = state.clients.is_empty();
        let held = |state: &HubState, i: usize| {
            last || state.holders.get(i).copied().flatten() == Some(conn.id())
        };
        let pins: Vec<usize> = (0..self.pins.len())
            .filter(|&i| self.failsafe_level(i).is_some() && held(&state, i))
            .collect();
        let why = if last {
            "the last client disconnected"
        } else {
            "its controlling client disconnected"
        };
        let _ = self.to_safe(state, &pins, why);
    }

    /// Drives the outputs `pins` to their safe level, trying every one;
    /// publishes the change and returns the failures, each logged.
    /// Called with the lock held since the decision to act: no command can
    /// come between the decision and the action.
    fn to_safe(
        &self,
        mut state: MutexGuard<'_, HubState>,
        pins: &[usize],
        why: &str,
    ) -> Result<(), SafeError> {
        let mut failures = Vec::new();
        let mut changed = 0;
        for &i in pins {
            let (Some(pin), Some(current)) = (self.pins.get(i), state.levels.get(i).copied())
            else {
                continue;
            };
            let Mode::Output(output) = pin.mode else {
                continue;
            };
            if let Some(holder) = state.holders.get_mut(i) {
                *holder = None;
            }
            if current == output.safe {
                continue;
            }
            match drive(&mut state, i, pin.physical(output.safe)) {
                Ok(()) => {
                    if let Some(level) = state.levels.get_mut(i) {
                        *level = output.safe;
                    }
                    changed += 1;
                }
                Err(e) => {
                    tracing::error!("failsafe ({why}): cannot drive {} safe: {e}", pin.name());
                    failures.push(BackendError::new(format!("{}: {e}", pin.name())));
                }
            }
        }
        if changed > 0 {
            tracing::warn!("failsafe ({why}): {changed} output(s) to their safe level");
            self.publish(state, None);
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(SafeError { failures })
        }
    }

    /// Every output to its safe level, including those already there (the
    /// hardware is driven again, in case it disagrees), and every client told.
    pub(super) fn all_safe(&self, why: &str) -> Result<(), SafeError> {
        let mut state = self.lock();
        let outputs: Vec<usize> = (0..self.pins.len())
            .filter(|&i| self.pins.get(i).is_some_and(Pin::is_output))
            .collect();
        // Already safe by the state: drive them anyway, quietly.
        for &i in &outputs {
            let (Some(pin), Some(current)) = (self.pins.get(i), state.levels.get(i).copied())
            else {
                continue;
            };
            if let Mode::Output(o) = pin.mode
                && current == o.safe
                && let Err(e) = drive(&mut state, i, pin.physical(o.safe))
            {
                tracing::error!("{why}: cannot drive {} safe: {e}", pin.name());
            }
        }
        self.to_safe(state, &outputs, why)
    }

    /// One round of the failsafe: outputs of controllers silent for the
    /// timeout go safe, silent controllers are pinged. Returns how long
    /// until the next round is due, if any client controls anything.
    pub(super) fn failsafe_round(&self, now: Instant) -> Option<Duration> {
        let mut state = self.lock();
        let controllers: Vec<u64> = {
            let mut ids: Vec<u64> = state.holders.iter().flatten().copied().collect();
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
                        .holders
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
            let _ = self.to_safe(state, &pins, "its controlling client went silent");
        }
        next.map(|at| at.saturating_duration_since(now))
    }
}

impl Drop for HubInner {
    /// The device is going away: its outputs go safe before the backend
    /// lets go of the lines.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        let Some(backend) = state.backend.as_mut() else {
            return;
        };
        for (i, pin) in self.pins.iter().enumerate() {
            if let Mode::Output(o) = pin.mode
                && let Err(e) = backend.set_output(i, pin.physical(o.safe))
            {
                tracing::error!("device closing: cannot drive {} safe: {e}", pin.name());
            }
        }
        if let Some(watchdog) = self.watchdog.get() {
            watchdog.unpark();
        }
    }
}

/// Which pin a hardware failure was about, and whether putting the
/// others back failed too.
struct ApplyFailure {
    pin: usize,
    rollback_failed: bool,
}

/// Drives pin `i` through the backend (`physical` level).
fn drive(state: &mut HubState, i: usize, physical: Level) -> Result<(), BackendError> {
    match state.backend.as_mut() {
        Some(backend) => backend.set_output(i, physical),
        None => Err(BackendError::new("no backend")),
    }
}

/// The subscribers, rebuilt if a client subscribed or left since.
fn subscribers(state: &mut HubState) -> Arc<[Connection]> {
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

/// The pin name as the command wrote it (plain text matches names
/// case-insensitively), so a refusal can borrow it from the command.
fn command_name<'c>(command: &Command<'c>, name: &str) -> Option<&'c str> {
    match *command {
        Command::Set(ref list) => list.as_slice().iter().map(|&(n, _)| n).find(|n| *n == name),
        Command::Toggle(n) => Some(n),
        Command::Plain(text) => command::plain_switch(text).map(|(n, _)| n),
        _ => None,
    }
}

fn encode_event(name: &str, level: Level) -> String {
    let mut out = vec![0u8; 64 + 2 * name.len()];
    let len = json::encode_event(name, level, &mut out).unwrap_or(0);
    out.truncate(len);
    String::from_utf8(out).unwrap_or_default()
}

fn send_refusal(conn: &Connection, refusal: Refusal<'_>) {
    let mut out = [0u8; json::MAX_ERROR_LEN];
    if let Ok(len) = json::encode_refusal(refusal, &mut out) {
        let _ = conn.send_text(std::str::from_utf8(&out[..len]).unwrap_or_default());
    }
}
