//! Outputs driven to their safe level by a process of their own, after the
//! server has ended — however it ended.
//!
//! The server drives every output safe on each exit it can see (a stop
//! signal, a panic, the device dropped). It cannot when the kernel ends it:
//! `SIGKILL`, the out-of-memory killer, an abort. The kernel then releases
//! the GPIO lines without driving them, and on most boards (the Raspberry
//! Pi's among them) an output keeps its last level: a relay stays on. A
//! service manager closes that gap by running `pinsocket safe` after the
//! server's process is gone (systemd: `ExecStopPost=`), which requests every
//! output line once more, at its safe level, and lets go.

use std::sync::Weak;

use pinsocket_core::{Level, Mode, Pin};

use crate::backend::{BackendError, EventSink};
use crate::config::{BackendKind, Config};

/// What [`drive_outputs_safe`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AfterExit {
    /// The board is simulated: no line to drive.
    Simulated,
    /// Each output (name, safe level) was driven to its safe level.
    Driven(Vec<(String, Level)>),
}

/// Drives every output of the configured board to its safe level, then
/// releases the lines; inputs are not touched. For the `gpio-cdev` backend
/// this requests the lines, so it fails while another process (a running
/// server) holds them.
pub fn drive_outputs_safe(config: &Config) -> Result<AfterExit, BackendError> {
    let (pins, chips) = outputs_at_safe(&config.board.pins, &config.chips);
    match &config.backend {
        BackendKind::Sim => Ok(AfterExit::Simulated),
        #[cfg(target_os = "linux")]
        BackendKind::GpioCdev { .. } => {
            if pins.is_empty() {
                return Ok(AfterExit::Driven(Vec::new()));
            }
            // The request drives each line to its initial level, here the
            // safe one; dropping the backend releases the lines.
            let sink = EventSink { hub: Weak::new() };
            drop(crate::GpioCdev::open(&pins, &chips, sink)?);
            Ok(AfterExit::Driven(
                pins.iter().map(|p| (p.name.clone(), p.initial())).collect(),
            ))
        }
        #[cfg(not(target_os = "linux"))]
        BackendKind::GpioCdev { .. } => Err(BackendError::new("the gpio-cdev backend needs Linux")),
    }
}

/// The outputs of `pins`, each starting at its safe level, with their chips
/// (`chips[i]` is the chip of `pins[i]`, as in [`Config::chips`]).
fn outputs_at_safe(
    pins: &[Pin<String>],
    chips: &[std::path::PathBuf],
) -> (Vec<Pin<String>>, Vec<std::path::PathBuf>) {
    pins.iter()
        .zip(chips.iter().map(Some).chain(std::iter::repeat(None)))
        .filter_map(|(pin, chip)| match pin.mode {
            Mode::Output(mut output) => {
                output.initial = output.safe;
                let pin = Pin {
                    name: pin.name.clone(),
                    line: pin.line,
                    mode: Mode::Output(output),
                };
                Some((pin, chip.cloned().unwrap_or_default()))
            }
            Mode::Input(_) => None,
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("pins.toml")).unwrap()
    }

    #[test]
    fn outputs_start_at_their_safe_level_and_inputs_are_left_alone() {
        let c = config(
            "backend = \"gpio-cdev\"\nchip = \"/dev/gpiochip0\"\n\
             [[output]]\nname = \"relay\"\nline = 5\nchip = \"/dev/gpiochip1\"\n\
             initial = \"high\"\nsafe = \"low\"\n\
             [[output]]\nname = \"brake\"\nline = 6\ninitial = \"low\"\nsafe = \"high\"\n\
             active_low = true\n\
             [[input]]\nname = \"button\"\nline = 17\n",
        );
        let (pins, chips) = outputs_at_safe(&c.board.pins, &c.chips);
        let shown: Vec<(&str, u32, Level)> = pins
            .iter()
            .map(|p| (p.name.as_str(), p.line, p.initial()))
            .collect();
        assert_eq!(shown, [("relay", 5, Level::Low), ("brake", 6, Level::High)]);
        assert_eq!(
            chips,
            [Path::new("/dev/gpiochip1"), Path::new("/dev/gpiochip0")]
        );
        // Active-low is kept, so the physical level is right too.
        assert_eq!(pins[1].physical(pins[1].initial()), Level::Low);
    }

    #[test]
    fn a_simulated_board_has_nothing_to_drive() {
        assert_eq!(
            drive_outputs_safe(&config("")).unwrap(),
            AfterExit::Simulated
        );
    }

    #[test]
    fn a_missing_chip_is_an_error_naming_it() {
        let c = config(
            "backend = \"gpio-cdev\"\nchip = \"/nonexistent/gpiochip9\"\n\
             [[output]]\nname = \"relay\"\nline = 5\n",
        );
        let err = drive_outputs_safe(&c).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/gpiochip9"), "{err}");
    }
}
