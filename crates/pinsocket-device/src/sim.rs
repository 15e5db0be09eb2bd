//! A simulated board: outputs are remembered and logged; inputs are driven
//! by [`SimBoard::set_input`] (from a test) or by the clients' `simulate`
//! command (from the page).
//!
//! Every output driven is logged at debug (`sim: output led (line 12) ->
//! high`), and at info as long as changes come at a person's pace; a storm
//! of changes is summarised at info, a line a second (see
//! `hub::log_summary`).

use std::sync::{Arc, Mutex};

use pinsocket_core::{Level, Pin};

use crate::backend::{Backend, BackendError, EventSink};
use crate::hub::log_summary::ChangeLog;
use crate::lock::lock;

/// The simulated lines, shared by the backend and its [`SimBoard`] handles.
#[derive(Debug)]
struct Lines {
    names: Vec<String>,
    numbers: Vec<u32>,
    levels: Vec<Level>,
    /// Outputs that refuse to switch (a simulated fault, for tests).
    faulty: Vec<bool>,
    /// How many times each output has been driven since the board was
    /// made, whether or not its level changed.
    drives: Vec<u64>,
    sink: Option<EventSink>,
}

/// A handle on a simulated board: read what the outputs drive, and drive
/// the inputs. Clone it freely.
#[derive(Clone, Debug)]
pub struct SimBoard {
    lines: Arc<Mutex<Lines>>,
}

/// The [`Backend`] half of a simulated board.
#[derive(Debug)]
pub struct SimBackend {
    lines: Arc<Mutex<Lines>>,
    /// Outputs driven, at debug each and at info at a bounded rate.
    log: ChangeLog,
}

impl SimBoard {
    /// A simulated board for `pins`, with outputs at their initial levels
    /// and inputs at rest: logically low, so physically high if active-low.
    pub fn new<S: AsRef<str>>(pins: &[Pin<S>]) -> SimBoard {
        let lines = Lines {
            names: pins.iter().map(|p| p.name().to_owned()).collect(),
            numbers: pins.iter().map(|p| p.line).collect(),
            levels: pins.iter().map(|p| p.physical(p.initial())).collect(),
            faulty: vec![false; pins.len()],
            drives: vec![0; pins.len()],
            sink: None,
        };
        for (pin, level) in pins.iter().zip(&lines.levels) {
            if pin.is_output() {
                tracing::info!(
                    "sim: output {} (line {}) starts {}",
                    pin.name(),
                    pin.line,
                    level.as_str()
                );
            }
        }
        SimBoard {
            lines: Arc::new(Mutex::new(lines)),
        }
    }

    /// The backend for a device; input edges go to `sink`.
    pub fn backend(&self, sink: EventSink) -> SimBackend {
        let mut lines = lock(&self.lines);
        lines.sink = Some(sink);
        let labels = lines
            .names
            .iter()
            .zip(&lines.numbers)
            .map(|(name, line)| format!("output {name} (line {line})"))
            .collect();
        drop(lines);
        SimBackend {
            lines: self.lines.clone(),
            log: ChangeLog::new("sim: ", labels),
        }
    }

    /// The physical level of the pin named `name`.
    pub fn level(&self, name: &str) -> Option<Level> {
        let lines = lock(&self.lines);
        let i = lines.names.iter().position(|n| n == name)?;
        lines.levels.get(i).copied()
    }

    /// The physical level of line `line`.
    pub fn line(&self, line: u32) -> Option<Level> {
        let lines = lock(&self.lines);
        let i = lines.numbers.iter().position(|n| *n == line)?;
        lines.levels.get(i).copied()
    }

    /// How many times the device has driven the output named `name` since
    /// the board was made, whether or not its level changed: a test can
    /// tell that a command drove nothing, or that a line was not pulsed
    /// (driven away and back between two looks at its level).
    pub fn drive_count(&self, name: &str) -> Option<u64> {
        let lines = lock(&self.lines);
        let i = lines.names.iter().position(|n| n == name)?;
        lines.drives.get(i).copied()
    }

    /// Drives the input named `name` to a physical `level`, as a button or
    /// sensor would; an edge is reported to the device. Returns false if no
    /// pin has that name. An output's line is changed too if named, but
    /// the device ignores what is reported for outputs.
    pub fn set_input(&self, name: &str, level: Level) -> bool {
        let (pin, sink, changed) = {
            let mut lines = lock(&self.lines);
            let Some(pin) = lines.names.iter().position(|n| n == name) else {
                return false;
            };
            let Some(slot) = lines.levels.get_mut(pin) else {
                return false;
            };
            let changed = *slot != level;
            *slot = level;
            (pin, lines.sink.clone(), changed)
        };
        if changed && let Some(sink) = sink {
            sink.input_changed(pin, level);
        }
        true
    }

    /// Makes output `name` fail every change from now on (`faulty`), as a
    /// driver error would, or work again. Returns false if no pin has that
    /// name. For testing how the device copes with hardware that fails.
    pub fn set_faulty(&self, name: &str, faulty: bool) -> bool {
        let mut lines = lock(&self.lines);
        let Some(pin) = lines.names.iter().position(|n| n == name) else {
            return false;
        };
        match lines.faulty.get_mut(pin) {
            Some(slot) => {
                *slot = faulty;
                true
            }
            None => false,
        }
    }
}

impl Backend for SimBackend {
    fn set_output(&mut self, pin: usize, level: Level) -> Result<(), BackendError> {
        let mut lines = lock(&self.lines);
        if lines.faulty.get(pin).copied().unwrap_or(false) {
            let name = lines.names.get(pin).map_or("", String::as_str);
            let line = lines.numbers.get(pin).copied().unwrap_or_default();
            return Err(BackendError::new(format!(
                "sim: output {name} (line {line}) is faulty (simulated)"
            )));
        }
        let slot = lines
            .levels
            .get_mut(pin)
            .ok_or_else(|| BackendError::new(format!("sim: no pin {pin}")))?;
        *slot = level;
        if let Some(count) = lines.drives.get_mut(pin) {
            *count += 1;
        }
        drop(lines);
        self.log.changed(pin, level);
        Ok(())
    }

    fn read_input(&mut self, pin: usize) -> Result<Level, BackendError> {
        lock(&self.lines)
            .levels
            .get(pin)
            .copied()
            .ok_or_else(|| BackendError::new(format!("sim: no pin {pin}")))
    }

    fn simulates_inputs(&self) -> bool {
        true
    }

    fn simulate_input(&mut self, pin: usize, level: Level) -> Result<(), BackendError> {
        let mut lines = lock(&self.lines);
        let slot = lines
            .levels
            .get_mut(pin)
            .ok_or_else(|| BackendError::new(format!("sim: no pin {pin}")))?;
        *slot = level;
        Ok(())
    }
}
