//! The small device board the `command` checks run against: `led`, `fan`
//! (active-low) and `button`, the board of the board model's unit tests,
//! then three pins that test more (names that need escaping in JSON, an
//! active-low input).
//!
//! It names `Input`, `Mode`, `Output` and `Pin` as its including module
//! does (`super::`), so that the unit tests in `src/board/` can include this
//! same file (`#[path = "../../tests/fuzz_checks/board.rs"]`) rather than
//! keep a copy of the three pins.
#![allow(dead_code)]

use super::{Input, Mode, Output, Pin};

/// `led` (line 12) and `fan` (line 13, active-low), outputs, and `button`
/// (line 5), an input.
pub(crate) fn led_fan_button() -> [Pin<&'static str>; 3] {
    [
        Pin {
            name: "led",
            line: 12,
            mode: Mode::Output(Output::default()),
        },
        Pin {
            name: "fan",
            line: 13,
            mode: Mode::Output(Output {
                active_low: true,
                ..Output::default()
            }),
        },
        Pin {
            name: "button",
            line: 5,
            mode: Mode::Input(Input::default()),
        },
    ]
}

/// [`led_fan_button`], then outputs and inputs, some with names that need
/// escaping in JSON.
pub(crate) fn board() -> [Pin<&'static str>; 6] {
    let [led, fan, button] = led_fan_button();
    let output = Mode::Output(Output::default());
    [
        led,
        fan,
        button,
        Pin {
            name: "Relay_2",
            line: 6,
            mode: output,
        },
        Pin {
            name: "lamp \"ü\"\n\u{1}",
            line: 7,
            mode: output,
        },
        Pin {
            name: "door",
            line: 8,
            mode: Mode::Input(Input {
                active_low: true,
                ..Input::default()
            }),
        },
    ]
}
