//! The device model: a board of named digital outputs and inputs, their
//! levels, and how a command changes them.
//!
//! Levels here are logical: [`Level::High`] is "on" / "active". A pin wired
//! active-low is driven low for `High`; only the backend that touches the
//! hardware applies that inversion ([`Pin::physical`]).

use crate::command::{Command, CommandError, MAX_SET, Refusal, SetList};

/// A digital level. Exhaustive on purpose: a line is high or low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Level {
    /// Off, inactive.
    #[default]
    Low,
    /// On, active.
    High,
}

impl Level {
    /// `High` for true.
    pub fn from_bool(high: bool) -> Level {
        if high { Level::High } else { Level::Low }
    }

    /// True for `High`.
    pub fn is_high(self) -> bool {
        self == Level::High
    }

    /// The other level.
    pub fn toggled(self) -> Level {
        match self {
            Level::Low => Level::High,
            Level::High => Level::Low,
        }
    }

    /// `"high"` or `"low"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::High => "high",
        }
    }
}

/// An input's bias resistor (exhaustive on purpose; see [`Mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pull {
    /// No bias: the line floats unless driven.
    #[default]
    None,
    /// Pulled up.
    Up,
    /// Pulled down.
    Down,
}

/// A digital output's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Output {
    /// The line is driven low when the output is on.
    pub active_low: bool,
    /// The level set when the board starts.
    pub initial: Level,
    /// The level the failsafe returns the output to.
    pub safe: Level,
    /// Whether the failsafe applies to this output.
    pub failsafe: bool,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            active_low: false,
            initial: Level::Low,
            safe: Level::Low,
            failsafe: false,
        }
    }
}

/// A digital input's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Input {
    /// The input reads `High` when the line is low.
    pub active_low: bool,
    /// Bias resistor.
    pub pull: Pull,
    /// Edges closer together than this are ignored, in milliseconds.
    pub debounce_ms: u32,
}

/// Whether a pin drives or reads its line.
///
/// Exhaustive on purpose, like [`Pull`]: every backend matches on it, and a
/// new mode must fail to compile there rather than at run time on a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Driven by commands.
    Output(Output),
    /// Read; its edges become events.
    Input(Input),
}

/// One named pin. `S` is the name's storage: `&str` on a microcontroller,
/// `String` where names come from a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin<S> {
    /// The name clients use, e.g. `led`.
    pub name: S,
    /// The line offset on its GPIO chip.
    pub line: u32,
    /// Output or input, with settings.
    pub mode: Mode,
}

impl<S: AsRef<str>> Pin<S> {
    /// The pin's name.
    pub fn name(&self) -> &str {
        self.name.as_ref()
    }

    /// True for outputs.
    pub fn is_output(&self) -> bool {
        matches!(self.mode, Mode::Output(_))
    }

    /// The electrical level of the line for a logical level.
    pub fn physical(&self, level: Level) -> Level {
        let active_low = match self.mode {
            Mode::Output(o) => o.active_low,
            Mode::Input(i) => i.active_low,
        };
        if active_low { level.toggled() } else { level }
    }

    /// The level a board starts with: outputs their initial level, inputs low
    /// until read.
    pub fn initial(&self) -> Level {
        match self.mode {
            Mode::Output(o) => o.initial,
            Mode::Input(_) => Level::Low,
        }
    }
}

/// Index of the pin named exactly `name`.
pub fn find_pin<S: AsRef<str>>(pins: &[Pin<S>], name: &str) -> Option<usize> {
    pins.iter().position(|p| p.name() == name)
}

/// A level to set on one pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Index into the board's pins.
    pub pin: usize,
    /// The new logical level.
    pub level: Level,
}

/// The changes one command asks for: all valid, or none applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    items: [Change; MAX_SET],
    len: usize,
}

impl Changes {
    const EMPTY: Changes = Changes {
        items: [Change {
            pin: 0,
            level: Level::Low,
        }; MAX_SET],
        len: 0,
    };

    /// The changes, in the command's order.
    pub fn as_slice(&self) -> &[Change] {
        self.items.get(..self.len).unwrap_or_default()
    }

    fn push(&mut self, change: Change) -> Result<(), CommandError> {
        let slot = self
            .items
            .get_mut(self.len)
            .ok_or(CommandError::BadCommand)?;
        *slot = change;
        self.len += 1;
        Ok(())
    }
}

/// Checks a command against the board and returns the output changes it
/// asks for; a refusal names the pin it is about.
///
/// Every named pin must exist and be an output, or nothing changes; the
/// refusal names the first bad pin in the command's order
/// ([`CommandError::UnknownPin`] or [`CommandError::NotAnOutput`]). JSON
/// names match exactly (case-sensitively).
/// `levels` holds the current logical level of each pin (for toggling).
/// Commands that change no pin ([`Command::Ping`], plain text that names no
/// output) give an empty list. Plain-text `<name>On` / `<name>Off` matches
/// output names ASCII-case-insensitively, as the original's `LEDOn` did.
/// [`Command::Simulate`] changes inputs, not outputs: it is refused with
/// [`CommandError::NotSimulated`] here; a simulated board resolves it with
/// [`resolve_simulate`].
pub fn resolve_command<'c, S: AsRef<str>>(
    pins: &[Pin<S>],
    levels: &[Level],
    command: &Command<'c>,
) -> Result<Changes, Refusal<'c>> {
    let mut changes = Changes::EMPTY;
    match *command {
        Command::Set(ref list) => {
            for &(name, high) in list.as_slice() {
                let pin = output(pins, name)?;
                changes.push(Change {
                    pin,
                    level: Level::from_bool(high),
                })?;
            }
        }
        Command::Toggle(name) => {
            let pin = output(pins, name)?;
            let current = levels.get(pin).copied().unwrap_or_default();
            changes.push(Change {
                pin,
                level: current.toggled(),
            })?;
        }
        Command::Ping(_) => {}
        Command::Simulate(_) => return Err(Refusal::new(CommandError::NotSimulated)),
        Command::Plain(text) => {
            if let Some((name, level)) = crate::command::plain_switch(text)
                && let Some(pin) = pins
                    .iter()
                    .position(|p| p.is_output() && p.name().eq_ignore_ascii_case(name))
            {
                changes.push(Change { pin, level })?;
            }
        }
    }
    Ok(changes)
}

/// Checks a `simulate` command ([`Command::Simulate`]) against the board and
/// returns the input changes it asks for, in logical levels.
///
/// Every named pin must exist and be an input, or nothing changes; the
/// refusal names the first bad pin ([`CommandError::UnknownPin`] or
/// [`CommandError::NotAnInput`]). Whether the board may be simulated at all
/// is the caller's to decide ([`CommandError::NotSimulated`]).
pub fn resolve_simulate<'c, S: AsRef<str>>(
    pins: &[Pin<S>],
    list: &SetList<'c>,
) -> Result<Changes, Refusal<'c>> {
    let mut changes = Changes::EMPTY;
    for &(name, high) in list.as_slice() {
        let pin = find_pin(pins, name).ok_or(Refusal::naming(CommandError::UnknownPin, name))?;
        if pins.get(pin).is_some_and(Pin::is_output) {
            return Err(Refusal::naming(CommandError::NotAnInput, name));
        }
        changes.push(Change {
            pin,
            level: Level::from_bool(high),
        })?;
    }
    Ok(changes)
}

fn output<'c, S: AsRef<str>>(pins: &[Pin<S>], name: &'c str) -> Result<usize, Refusal<'c>> {
    let pin = find_pin(pins, name).ok_or(Refusal::naming(CommandError::UnknownPin, name))?;
    if pins.get(pin).is_some_and(Pin::is_output) {
        Ok(pin)
    } else {
        Err(Refusal::naming(CommandError::NotAnOutput, name))
    }
}

#[cfg(test)]
mod tests;
