//! [`Device`], the public handle on a board served to WebSocket clients,
//! and [`Snapshot`], what it reports of the board's state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use pinsocket::Server;
use pinsocket_core::{Level, Pin};

use super::log_summary::ChangeLog;
use super::safe::SafeError;
use super::{CommandLimits, Hub, HubState};
use crate::backend::{Backend, BackendError, EventSink};
use crate::board::Board;
use crate::failsafe;
use crate::lock::lock;

/// The WebSocket subprotocol of the device protocol (docs/PROTOCOL.md). A
/// client that asks for it receives the state on connect and every change.
pub const PROTOCOL: &str = "pinsocket";

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
/// On exit — [`Device::all_safe`], or a panic anywhere in the process —
/// every output, failsafe or not, goes to its safe level, and clients still
/// connected are told. When the last handle on the device goes (the
/// server's callbacks hold one too), every output is driven to its safe
/// level before the backend lets go of the lines.
#[derive(Clone, Debug)]
pub struct Device {
    hub: Arc<Hub>,
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
    /// Starts the failsafe's watchdog thread. Each client may send what
    /// [`CommandLimits::default`] allows.
    pub fn new<B: Backend>(
        board: Board,
        open: impl FnOnce(&[Pin<String>], EventSink) -> Result<B, BackendError>,
    ) -> Result<Device, BackendError> {
        Device::with_limits(board, CommandLimits::default(), open)
    }

    /// [`Device::new`] with `limits` on what each client may send instead
    /// of the defaults (see [`CommandLimits`]).
    pub fn with_limits<B: Backend>(
        board: Board,
        limits: CommandLimits,
        open: impl FnOnce(&[Pin<String>], EventSink) -> Result<B, BackendError>,
    ) -> Result<Device, BackendError> {
        let inputs_log = ChangeLog::new(
            "",
            board
                .pins
                .iter()
                .map(|p| format!("input {}", p.name()))
                .collect(),
        );
        let levels = board.pins.iter().map(Pin::initial).collect();
        let controlled_by = vec![None; board.pins.len()];
        let hub = Arc::new(Hub {
            pins: board.pins,
            failsafe_ping: board.failsafe_ping,
            failsafe_timeout: board.failsafe_timeout,
            state: Mutex::new(HubState {
                levels,
                controlled_by,
                clients: HashMap::new(),
                subscribers: None,
                version: 1,
                backend: None,
            }),
            fanout: Mutex::new(()),
            watchdog: OnceLock::new(),
            limits,
            inputs_log,
        });
        let sink = EventSink {
            hub: Arc::downgrade(&hub),
        };
        let mut backend = open(&hub.pins, sink)?;
        {
            let mut state = lock(&hub.state);
            for (i, pin) in hub.pins.iter().enumerate() {
                if !pin.is_output() {
                    let physical = backend.read_input(i)?;
                    if let Some(level) = state.levels.get_mut(i) {
                        *level = pin.physical(physical);
                    }
                }
            }
            state.backend = Some(Box::new(backend));
        }
        failsafe::watch(&hub)?;
        Ok(Device { hub })
    }

    /// Installs the device's callbacks on `server`. Clients that ask for
    /// the [`PROTOCOL`] subprotocol get the state on connect and after every
    /// change; so do clients once they send JSON. Every client may send
    /// commands; plain text is answered `Reply for <msg>`.
    pub fn serve(&self, server: Server) -> Server {
        let (on_accept, on_text, on_close) = (self.hub.clone(), self.hub.clone(), self.hub.clone());
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
        &self.hub.pins
    }

    /// The current state.
    pub fn snapshot(&self) -> Snapshot {
        let state = lock(&self.hub.state);
        Snapshot {
            version: state.version,
            levels: self
                .hub
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
        let state = lock(&self.hub.state);
        self.hub
            .pins
            .iter()
            .zip(&state.controlled_by)
            .filter_map(|(pin, id)| id.map(|id| (pin.name.clone(), id)))
            .collect()
    }

    /// Drives every output, failsafe or not, to its safe level, as at
    /// exit, and tells the clients of what changed. Every output is driven,
    /// even one the state says is safe, in case the hardware disagrees;
    /// each failure is logged, and those of outputs that were away from
    /// their safe level are returned.
    pub fn all_safe(&self) -> Result<(), SafeError> {
        self.hub.all_safe("shutting down")
    }
}
