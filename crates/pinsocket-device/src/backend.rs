//! What a board needs from the hardware: drive outputs, read inputs, and
//! report input edges.

use std::sync::Weak;

use pinsocket_core::Level;

use crate::hub::Hub;

/// A failure of the hardware or its driver, naming the pin concerned.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    message: String,
}

impl BackendError {
    /// An error with a message that says what failed and for which pin.
    pub fn new(message: impl Into<String>) -> BackendError {
        BackendError {
            message: message.into(),
        }
    }
}

/// Drives a board's lines. Pins are identified by their index in the
/// board's pin list; levels are physical (active-low already applied).
///
/// Outputs are driven to their initial level when the backend is opened
/// and held until it is dropped.
pub trait Backend: Send + 'static {
    /// Drives output `pin` to `level`.
    fn set_output(&mut self, pin: usize, level: Level) -> Result<(), BackendError>;
    /// Reads the current level of input `pin`.
    fn read_input(&mut self, pin: usize) -> Result<Level, BackendError>;

    /// True if inputs are simulated and may be driven by clients (the
    /// `simulate` command). Real hardware says no, the default.
    fn simulates_inputs(&self) -> bool {
        false
    }

    /// Drives simulated input `pin` to `level`, as a button would. Called
    /// by the device, which reports the edge itself: unlike
    /// [`SimBoard::set_input`](crate::SimBoard::set_input), this must not
    /// report it to the [`EventSink`].
    fn simulate_input(&mut self, pin: usize, level: Level) -> Result<(), BackendError> {
        let _ = (pin, level);
        Err(BackendError::new(
            "inputs of real hardware cannot be simulated",
        ))
    }
}

/// Where a backend reports input edges. Cheap to clone; reporting after
/// the device is gone does nothing.
#[derive(Clone, Debug)]
pub struct EventSink {
    pub(crate) hub: Weak<Hub>,
}

impl EventSink {
    /// Reports that input `pin` now reads `level` (physical).
    pub fn input_changed(&self, pin: usize, level: Level) {
        if let Some(hub) = self.hub.upgrade() {
            hub.input_changed(pin, level);
        }
    }
}
