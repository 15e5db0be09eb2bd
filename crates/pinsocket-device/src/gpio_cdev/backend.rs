//! [`GpioCdev`]: every pin's line requested when it opens, outputs driven
//! and lines read through their requests, all released when it drops.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gpiocdev::{Chip, Request};
use pinsocket_core::{Level, Mode, Pin};

use super::group::{Settings, group, who};
use super::request::{build_request, level, value};
use super::validate::{check_exists, check_free, describe, error_text, open_chip, request_error};
use super::watch::Watchers;
use crate::backend::{Backend, BackendError, EventSink};
use crate::hub::log_summary::ChangeLog;

/// How long an edge watcher waits for an event before it checks whether
/// the backend was dropped; also its pause after a failed read.
const POLL: Duration = Duration::from_millis(100);

/// Drives pins on Linux GPIO character devices.
///
/// Dropping it stops the edge watchers (waiting for them, at most about
/// 100 ms) and releases every line.
#[derive(Debug)]
pub struct GpioCdev {
    /// Per pin, in the board's order.
    lines: Vec<Line>,
    /// Each watcher holds its own reference to its request: a line is
    /// released once `lines` and its watcher are both gone.
    watchers: Watchers,
    /// Outputs driven, at debug each and at info at a bounded rate.
    log: ChangeLog,
}

/// A pin's requested line.
#[derive(Debug)]
struct Line {
    /// `output "led"`, for messages.
    who: String,
    chip: PathBuf,
    offset: u32,
    output: bool,
    request: Arc<Request>,
}

impl GpioCdev {
    /// Requests every pin's line (`pins[i]` on chip `chips[i]`): outputs
    /// driven to their initial level (physical, so `pin.physical(initial)`),
    /// inputs with their bias (pull), debounce period and both-edge
    /// detection. Edges on inputs are reported as
    /// `sink.input_changed(pin_index, physical_level)` by one thread per
    /// input request.
    ///
    /// A chip that is missing or not a GPIO chip, a line the chip lacks, or
    /// a line some other program or driver holds is an error naming the pin
    /// and the chip.
    pub fn open(
        pins: &[Pin<String>],
        chips: &[PathBuf],
        sink: EventSink,
    ) -> Result<GpioCdev, BackendError> {
        if pins.is_empty() {
            // Never guess which lines of real hardware to drive.
            return Err(BackendError::new(
                "gpio-cdev: no pins configured; add an [[output]] or [[input]] for each line",
            ));
        }
        let groups = group(pins, chips)?;
        // Built as requests succeed: an early return drops the watchers
        // started so far (stopping them) and the requests made so far.
        let mut watchers = Watchers::default();
        let mut requested: Vec<Option<Arc<Request>>> = vec![None; pins.len()];
        let mut open_chips: Vec<(PathBuf, Chip, u32)> = Vec::new();
        for g in &groups {
            let members: Vec<(&Pin<String>, u32)> = g
                .lines
                .iter()
                .filter_map(|l| pins.get(l.pin).map(|p| (p, l.offset)))
                .collect();
            let Some(&(first, _)) = members.first() else {
                continue;
            };
            // Groups come in the order of their first pin, so the pin named
            // when a chip cannot be opened is the first one using it.
            if !open_chips.iter().any(|(path, _, _)| *path == g.chip) {
                let (chip, num_lines) = open_chip(&g.chip, first)?;
                open_chips.push((g.chip.clone(), chip, num_lines));
            }
            let Some((_, chip, num_lines)) = open_chips.iter().find(|(path, _, _)| *path == g.chip)
            else {
                continue;
            };
            for &(pin, offset) in &members {
                check_exists(&g.chip, *num_lines, pin, offset)?;
                check_free(chip, &g.chip, pin, offset)?;
            }
            let request = match build_request(g, pins) {
                Ok(request) => Arc::new(request),
                Err(e) => {
                    // Taken since the check above, or refused for another
                    // reason (a bias or debounce the chip cannot do).
                    for &(pin, offset) in &members {
                        check_free(chip, &g.chip, pin, offset)?;
                    }
                    return Err(request_error(pins, g, &e));
                }
            };
            for &(pin, offset) in &members {
                if let Mode::Output(_) = pin.mode {
                    tracing::info!(
                        "gpio-cdev: {} (line {offset} of {}) starts {}",
                        who(pin),
                        g.chip.display(),
                        pin.physical(pin.initial()).as_str()
                    );
                }
            }
            for l in &g.lines {
                if let Some(slot) = requested.get_mut(l.pin) {
                    *slot = Some(request.clone());
                }
            }
            if let Settings::Input { .. } = g.settings {
                let what = format!("{} on {}", describe(pins, g), g.chip.display());
                let edges = g.lines.iter().map(|l| (l.offset, l.pin)).collect();
                let sink = sink.clone();
                watchers
                    .spawn(request, edges, POLL, what.clone(), move |pin, level| {
                        sink.input_changed(pin, level);
                    })
                    .map_err(|e| {
                        BackendError::new(format!("{what}: cannot start the edge watcher: {e}"))
                    })?;
            }
        }
        let mut lines = Vec::with_capacity(pins.len());
        for ((pin, chip), request) in pins.iter().zip(chips).zip(requested) {
            let request = request.ok_or_else(|| {
                BackendError::new(format!("{}: line {} not requested", who(pin), pin.line))
            })?;
            lines.push(Line {
                who: who(pin),
                chip: chip.clone(),
                offset: pin.line,
                output: pin.is_output(),
                request,
            });
        }
        let log = ChangeLog::new(
            "gpio-cdev: ",
            lines
                .iter()
                .map(|l| format!("{} (line {} of {})", l.who, l.offset, l.chip.display()))
                .collect(),
        );
        Ok(GpioCdev {
            lines,
            watchers,
            log,
        })
    }

    /// Pin `pin`'s line, or an error if the board has no such pin.
    fn line(&self, pin: usize) -> Result<&Line, BackendError> {
        self.lines
            .get(pin)
            .ok_or_else(|| BackendError::new(format!("gpio-cdev: no pin {pin}")))
    }
}

impl Backend for GpioCdev {
    fn set_output(&mut self, pin: usize, level: Level) -> Result<(), BackendError> {
        let line = self.line(pin)?;
        if !line.output {
            return Err(BackendError::new(format!("{}: not an output", line.who)));
        }
        line.request
            .set_value(line.offset, value(level))
            .map_err(|e| {
                BackendError::new(format!(
                    "{}: cannot set line {} of {}: {}",
                    line.who,
                    line.offset,
                    line.chip.display(),
                    error_text(&e)
                ))
            })?;
        self.log.changed(pin, level);
        Ok(())
    }

    /// Reads any pin's line; for an output, what the chip reports back
    /// (usually the driven level, depending on the driver).
    fn read_input(&mut self, pin: usize) -> Result<Level, BackendError> {
        let line = self.line(pin)?;
        line.request.value(line.offset).map(level).map_err(|e| {
            BackendError::new(format!(
                "{}: cannot read line {} of {}: {}",
                line.who,
                line.offset,
                line.chip.display(),
                error_text(&e)
            ))
        })
    }
}

impl Drop for GpioCdev {
    fn drop(&mut self) {
        // Stop the watchers before the lines go, so that every line is
        // released when the drop returns.
        self.watchers.stop();
        self.lines.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Weak;

    use pinsocket_core::Pull;

    use super::super::test_pins::{input, output};
    use super::*;

    fn sink() -> EventSink {
        EventSink { hub: Weak::new() }
    }

    fn open_error(pins: &[Pin<String>], chips: &[&str]) -> String {
        let chips: Vec<PathBuf> = chips.iter().map(PathBuf::from).collect();
        GpioCdev::open(pins, &chips, sink())
            .unwrap_err()
            .to_string()
    }

    const MISSING: &str = "/dev/pinsocket-test-no-such-gpiochip";

    /// With no pins, the backend drives nothing rather than guess a line.
    #[test]
    fn no_pins_is_refused() {
        assert_eq!(
            open_error(&[], &[]),
            "gpio-cdev: no pins configured; add an [[output]] or [[input]] for each line"
        );
    }

    #[test]
    fn missing_chip_names_pin_and_path() {
        assert_eq!(
            open_error(&[output("led", 12, false, Level::Low)], &[MISSING]),
            format!("output \"led\": cannot open {MISSING}: No such file or directory")
        );
        // The pin named is the first on the chip that fails.
        assert_eq!(
            open_error(
                &[
                    input("button", 5, Pull::Up, 0),
                    output("led", 12, false, Level::Low)
                ],
                &[MISSING, MISSING]
            ),
            format!("input \"button\": cannot open {MISSING}: No such file or directory")
        );
    }

    #[test]
    fn path_that_is_not_a_gpio_chip_names_pin() {
        assert_eq!(
            open_error(&[input("button", 5, Pull::None, 0)], &["/dev/null"]),
            "input \"button\": /dev/null is not a GPIO chip"
        );
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        assert_eq!(
            open_error(&[output("led", 12, false, Level::Low)], &[file]),
            format!("output \"led\": {file} is not a GPIO chip")
        );
        assert_eq!(
            open_error(&[output("led", 12, false, Level::Low)], &["/"]),
            "output \"led\": / is not a GPIO chip"
        );
    }

    #[test]
    fn pins_without_chip_or_sharing_a_line_are_refused() {
        assert_eq!(
            open_error(
                &[
                    output("led", 12, false, Level::Low),
                    input("button", 5, Pull::None, 0)
                ],
                &["/dev/gpiochip0"]
            ),
            "input \"button\": no chip given"
        );
        assert_eq!(
            open_error(
                &[
                    output("led", 12, false, Level::Low),
                    input("button", 12, Pull::None, 0)
                ],
                &[MISSING, MISSING]
            ),
            format!("input \"button\": line 12 of {MISSING} is also used by output \"led\"")
        );
    }
}
