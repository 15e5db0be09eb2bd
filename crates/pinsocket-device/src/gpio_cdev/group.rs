//! Pins grouped into requests: one chip and one set of line settings per
//! request, at most the uAPI's 64 lines.

use std::path::PathBuf;

use pinsocket_core::{Mode, Pin, Pull};

use crate::backend::BackendError;

/// `output "led"` or `input "button"`.
pub(super) fn who<S: AsRef<str>>(pin: &Pin<S>) -> String {
    let kind = if pin.is_output() { "output" } else { "input" };
    format!("{kind} \"{}\"", pin.name())
}

/// Most lines in one request (the uAPI's `GPIO_V2_LINES_MAX`).
const MAX_LINES: usize = 64;

/// How the lines of a request are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settings {
    /// Outputs, each driven to its own initial level.
    Output,
    /// Inputs with this bias and debounce period, watched for both edges.
    Input { pull: Pull, debounce_ms: u32 },
}

/// Lines requested together: one chip, one [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Group {
    pub(super) chip: PathBuf,
    pub(super) settings: Settings,
    pub(super) lines: Vec<GroupLine>,
}

/// One line of a [`Group`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GroupLine {
    /// Index into the board's pins.
    pub(super) pin: usize,
    /// Offset on the chip.
    pub(super) offset: u32,
}

/// The settings a pin's line is requested with.
fn settings<S>(pin: &Pin<S>) -> Settings {
    match pin.mode {
        Mode::Output(_) => Settings::Output,
        Mode::Input(i) => Settings::Input {
            pull: i.pull,
            debounce_ms: i.debounce_ms,
        },
    }
}

/// Groups pins (`pins[i]` on `chips[i]`) into requests: same chip and same
/// settings, at most [`MAX_LINES`] lines, in the order of each group's first
/// pin, pins in board order. A pin without a chip, or two pins on one line
/// of one chip, is an error naming them.
pub(super) fn group<S: AsRef<str>>(
    pins: &[Pin<S>],
    chips: &[PathBuf],
) -> Result<Vec<Group>, BackendError> {
    let mut groups: Vec<Group> = Vec::new();
    for (i, pin) in pins.iter().enumerate() {
        let chip = chips
            .get(i)
            .ok_or_else(|| BackendError::new(format!("{}: no chip given", who(pin))))?;
        let earlier = pins
            .iter()
            .zip(chips)
            .take(i)
            .find(|(other, other_chip)| other.line == pin.line && *other_chip == chip);
        if let Some((other, _)) = earlier {
            return Err(BackendError::new(format!(
                "{}: line {} of {} is also used by {}",
                who(pin),
                pin.line,
                chip.display(),
                who(other)
            )));
        }
        let settings = settings(pin);
        let line = GroupLine {
            pin: i,
            offset: pin.line,
        };
        let open = groups
            .iter_mut()
            .find(|g| g.chip == *chip && g.settings == settings && g.lines.len() < MAX_LINES);
        match open {
            Some(g) => g.lines.push(line),
            None => groups.push(Group {
                chip: chip.clone(),
                settings,
                lines: vec![line],
            }),
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use pinsocket_core::Level;

    use super::super::test_pins::{input, output};
    use super::*;

    #[test]
    fn groups_by_chip_and_settings_in_board_order() {
        let pins = [
            output("a", 1, false, Level::Low),
            input("b", 2, Pull::Up, 0),
            output("c", 3, true, Level::High),
            input("d", 4, Pull::Up, 0),
            input("e", 5, Pull::Up, 10),
            output("f", 1, false, Level::Low),
            input("g", 6, Pull::Down, 0),
        ];
        let chip0 = PathBuf::from("/dev/gpiochip0");
        let chip1 = PathBuf::from("/dev/gpiochip1");
        let chips = [
            chip0.clone(),
            chip0.clone(),
            chip0.clone(),
            chip0.clone(),
            chip0.clone(),
            chip1.clone(),
            chip0.clone(),
        ];
        let line = |pin, offset| GroupLine { pin, offset };
        let up = |debounce_ms| Settings::Input {
            pull: Pull::Up,
            debounce_ms,
        };
        assert_eq!(
            group(&pins, &chips).unwrap(),
            [
                Group {
                    chip: chip0.clone(),
                    settings: Settings::Output,
                    lines: vec![line(0, 1), line(2, 3)],
                },
                Group {
                    chip: chip0.clone(),
                    settings: up(0),
                    lines: vec![line(1, 2), line(3, 4)],
                },
                Group {
                    chip: chip0.clone(),
                    settings: up(10),
                    lines: vec![line(4, 5)],
                },
                Group {
                    chip: chip1,
                    settings: Settings::Output,
                    lines: vec![line(5, 1)],
                },
                Group {
                    chip: chip0,
                    settings: Settings::Input {
                        pull: Pull::Down,
                        debounce_ms: 0
                    },
                    lines: vec![line(6, 6)],
                },
            ]
        );
    }

    #[test]
    fn groups_split_at_the_request_limit() {
        let pins: Vec<Pin<String>> = (0..70)
            .map(|i| output(&format!("p{i}"), i, false, Level::Low))
            .collect();
        let chips = vec![PathBuf::from("/dev/gpiochip0"); pins.len()];
        let groups = group(&pins, &chips).unwrap();
        let sizes: Vec<usize> = groups.iter().map(|g| g.lines.len()).collect();
        assert_eq!(sizes, [64, 6]);
        assert_eq!(
            groups[1].lines[0],
            GroupLine {
                pin: 64,
                offset: 64
            }
        );
    }
}
