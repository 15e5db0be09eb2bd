//! What a device is built from: the board's pins and the failsafe's two
//! timings.

use std::time::Duration;

use pinsocket_core::{Level, Mode, Output, Pin};

/// A board: its pins and how the failsafe watches the clients that
/// control them.
#[derive(Debug, Clone)]
pub struct Board {
    /// The pins, outputs and inputs, with unique names.
    pub pins: Vec<Pin<String>>,
    /// How often a client that controls a failsafe output is pinged while
    /// it is silent. 250 ms on [`Board::led`] and when a configuration
    /// file does not say.
    pub failsafe_ping: Duration,
    /// How long a client that controls a failsafe output may go without
    /// sending anything (a pong, a message) before the outputs it controls
    /// go to their safe level. 1 s on [`Board::led`] and when a
    /// configuration file does not say.
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
                mode: Mode::Output(Output {
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
