//! Pins for the unit tests of the `gpio-cdev` backend.

use pinsocket_core::{Input, Level, Mode, Output, Pin, Pull};

/// An output `name` on `line`, safe low and not failsafe.
pub(super) fn output(name: &str, line: u32, active_low: bool, initial: Level) -> Pin<String> {
    Pin {
        name: name.to_owned(),
        line,
        mode: Mode::Output(Output {
            active_low,
            initial,
            ..Output::default()
        }),
    }
}

/// An active-high input `name` on `line`.
pub(super) fn input(name: &str, line: u32, pull: Pull, debounce_ms: u32) -> Pin<String> {
    Pin {
        name: name.to_owned(),
        line,
        mode: Mode::Input(Input {
            active_low: false,
            pull,
            debounce_ms,
        }),
    }
}
