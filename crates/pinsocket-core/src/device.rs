//! The device model: a board of named digital outputs and inputs, their
//! levels, and how a command changes them.
//!
//! Levels here are logical: [`Level::High`] is "on" / "active". A pin wired
//! active-low is driven low for `High`; only the backend that touches the
//! hardware applies that inversion ([`Pin::physical`]).

use crate::command::{Command, CommandError, MAX_SET, Refusal, SetList};

/// A digital level.
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

/// An input's bias resistor.
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
pub fn find<S: AsRef<str>>(pins: &[Pin<S>], name: &str) -> Option<usize> {
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

/// Checks a command against the board and returns the changes it asks for.
///
/// The same as [`resolve_command`], whose refusal also names the pin; this
/// gives the reason only.
pub fn resolve<S: AsRef<str>>(
    pins: &[Pin<S>],
    levels: &[Level],
    command: &Command<'_>,
) -> Result<Changes, CommandError> {
    resolve_command(pins, levels, command).map_err(|refusal| refusal.error)
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
        let pin = find(pins, name).ok_or(Refusal::naming(CommandError::UnknownPin, name))?;
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
    let pin = find(pins, name).ok_or(Refusal::naming(CommandError::UnknownPin, name))?;
    if pins.get(pin).is_some_and(Pin::is_output) {
        Ok(pin)
    } else {
        Err(Refusal::naming(CommandError::NotAnOutput, name))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::command::parse;

    fn board() -> [Pin<&'static str>; 3] {
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

    fn run(msg: &str, levels: &[Level]) -> Result<Changes, CommandError> {
        resolve(&board(), levels, &parse(msg)?)
    }

    const LOW3: [Level; 3] = [Level::Low; 3];

    #[test]
    fn json_set_and_toggle() {
        let c = run(r#"{"set":{"led":true,"fan":false}}"#, &LOW3).unwrap();
        assert_eq!(
            c.as_slice(),
            [
                Change {
                    pin: 0,
                    level: Level::High
                },
                Change {
                    pin: 1,
                    level: Level::Low
                }
            ]
        );
        let c = run(
            r#"{"toggle":"led"}"#,
            &[Level::High, Level::Low, Level::Low],
        )
        .unwrap();
        assert_eq!(
            c.as_slice(),
            [Change {
                pin: 0,
                level: Level::Low
            }]
        );
    }

    #[test]
    fn plain_text_matches_outputs_case_insensitively() {
        for (msg, level) in [
            ("LEDOn", Level::High),
            ("LEDon", Level::High),
            ("ledOFF", Level::Low),
            ("FanOn", Level::High),
        ] {
            let c = run(msg, &LOW3).unwrap();
            assert_eq!(c.as_slice().len(), 1, "{msg}");
            assert_eq!(c.as_slice()[0].level, level, "{msg}");
        }
        assert_eq!(run("LEDon", &LOW3).unwrap().as_slice()[0].pin, 0);
        // Plain text naming no output changes nothing, and is no error.
        for msg in [
            "HELLO from button",
            "buttonOn",
            "On",
            "Hello world :)",
            "LED on",
        ] {
            assert_eq!(run(msg, &LOW3).unwrap().as_slice(), [], "{msg}");
        }
    }

    #[test]
    fn plain_text_folds_ascii_case_only() {
        let pins = [
            Pin {
                name: "ä",
                line: 1,
                mode: Mode::Output(Output::default()),
            },
            Pin {
                name: "Lamp",
                line: 2,
                mode: Mode::Output(Output::default()),
            },
            Pin {
                name: "lamp",
                line: 3,
                mode: Mode::Output(Output::default()),
            },
        ];
        let run = |msg| resolve(&pins, &LOW3, &parse(msg).unwrap()).unwrap();
        assert_eq!(run("ÄOn").as_slice(), []);
        assert_eq!(
            run("äON").as_slice(),
            [Change {
                pin: 0,
                level: Level::High
            }]
        );
        // Names that differ only in case: the first in board order.
        assert_eq!(
            run("LAMPoff").as_slice(),
            [Change {
                pin: 1,
                level: Level::Low
            }]
        );
        // JSON names match exactly.
        assert_eq!(
            resolve(&pins, &LOW3, &parse(r#"{"toggle":"LAMP"}"#).unwrap()),
            Err(CommandError::UnknownPin)
        );
    }

    #[test]
    fn bad_commands_change_nothing() {
        assert_eq!(
            run(r#"{"set":{"nope":true}}"#, &LOW3),
            Err(CommandError::UnknownPin)
        );
        assert_eq!(
            run(r#"{"set":{"button":true}}"#, &LOW3),
            Err(CommandError::NotAnOutput)
        );
        assert_eq!(
            run(r#"{"toggle":"button"}"#, &LOW3),
            Err(CommandError::NotAnOutput)
        );
        // One bad name refuses the whole set.
        assert_eq!(
            run(r#"{"set":{"led":true,"nope":true}}"#, &LOW3),
            Err(CommandError::UnknownPin)
        );
    }

    fn refusal(msg: &str) -> Refusal<'_> {
        let command = parse(msg).unwrap();
        let refusal = resolve_command(&board(), &LOW3, &command).unwrap_err();
        // The old entry point gives the same reason, without the name.
        assert_eq!(
            resolve(&board(), &LOW3, &command),
            Err(refusal.error),
            "{msg}"
        );
        refusal
    }

    #[test]
    fn refusals_name_the_pin() {
        use CommandError::{NotAnOutput, UnknownPin};
        let cases = [
            (r#"{"toggle":"nope"}"#, Refusal::naming(UnknownPin, "nope")),
            (
                r#"{"set":{"nope":true}}"#,
                Refusal::naming(UnknownPin, "nope"),
            ),
            // The first bad name of a set, in the command's order.
            (
                r#"{"set":{"led":true,"nope":true,"nada":false}}"#,
                Refusal::naming(UnknownPin, "nope"),
            ),
            (
                r#"{"set":{"led":true,"button":true,"nope":false}}"#,
                Refusal::naming(NotAnOutput, "button"),
            ),
            (
                r#"{"toggle":"button"}"#,
                Refusal::naming(NotAnOutput, "button"),
            ),
            // Names are case-sensitive in JSON.
            (r#"{"toggle":"LED"}"#, Refusal::naming(UnknownPin, "LED")),
            // Anything the parser lets through is named as written.
            (
                "{\"toggle\":\"a\u{1}\n\"}",
                Refusal::naming(UnknownPin, "a\u{1}\n"),
            ),
            // A simulate is for resolve_simulate; resolve_command refuses it.
            (
                r#"{"simulate":{"button":true}}"#,
                Refusal::new(CommandError::NotSimulated),
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(refusal(msg), want, "{msg}");
        }
        // Successes are the same as resolve's.
        let command = parse(r#"{"set":{"led":"high","fan":false}}"#).unwrap();
        assert_eq!(
            resolve_command(&board(), &LOW3, &command).map(|c| c.as_slice().to_vec()),
            Ok([
                Change {
                    pin: 0,
                    level: Level::High
                },
                Change {
                    pin: 1,
                    level: Level::Low
                }
            ]
            .to_vec())
        );
    }

    fn simulate(msg: &str) -> Result<Changes, Refusal<'_>> {
        match parse(msg) {
            Ok(Command::Simulate(list)) => resolve_simulate(&board(), &list),
            other => panic!("{msg}: {other:?}"),
        }
    }

    #[test]
    fn simulate_changes_inputs_only() {
        let c = simulate(r#"{"simulate":{"button":"high"}}"#).unwrap();
        assert_eq!(
            c.as_slice(),
            [Change {
                pin: 2,
                level: Level::High
            }]
        );
        let c = simulate(r#"{"simulate":{"button":true,"button":false}}"#).unwrap();
        assert_eq!(
            c.as_slice(),
            [
                Change {
                    pin: 2,
                    level: Level::High
                },
                Change {
                    pin: 2,
                    level: Level::Low
                }
            ]
        );
        assert_eq!(simulate(r#"{"simulate":{}}"#).unwrap().as_slice(), []);
        assert_eq!(
            simulate(r#"{"simulate":{"button":true,"led":true}}"#),
            Err(Refusal::naming(CommandError::NotAnInput, "led"))
        );
        assert_eq!(
            simulate(r#"{"simulate":{"button":true,"Button":true,"led":true}}"#),
            Err(Refusal::naming(CommandError::UnknownPin, "Button"))
        );
    }

    #[test]
    fn physical_level_honours_active_low() {
        let b = board();
        assert_eq!(b[0].physical(Level::High), Level::High);
        assert_eq!(b[1].physical(Level::High), Level::Low);
    }
}
