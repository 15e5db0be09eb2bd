//! Why a command is refused: [`CommandError`], with its stable code for
//! clients, and [`Refusal`], the error with the pin it concerns and a
//! message that names that pin.

use core::fmt;

use super::{MAX_NAME_SHOWN, MAX_SET};

/// Why a command was refused. Each has a stable code for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Not valid JSON (`bad_json`).
    #[error("message is not valid JSON")]
    BadJson,
    /// Valid JSON, but not one known command (`bad_command`).
    #[error("expected exactly one of \"set\", \"toggle\", \"ping\" or \"simulate\"")]
    BadCommand,
    /// A value of the wrong type, e.g. `{"set":{"led":"yes"}}` (`wrong_type`).
    #[error(
        "wrong type: set and simulate take true/false or \"high\"/\"low\", toggle a pin name, ping a number"
    )]
    WrongType,
    /// A JSON command over [`MAX_JSON_LEN`](super::MAX_JSON_LEN) bytes (`too_large`).
    #[error("command too large")]
    TooLarge,
    /// No pin has that name (`unknown_pin`).
    #[error("no pin has that name")]
    UnknownPin,
    /// The pin is an input; only outputs can be set (`not_an_output`).
    #[error("that pin is an input; only outputs can be set")]
    NotAnOutput,
    /// The hardware refused the change (`hardware_error`); see the server log.
    #[error("the board could not switch the pin")]
    Hardware,
    /// A pin name written with a JSON escape such as `\u0064` (`escaped_name`).
    /// Pin names are plain letters, digits, `_` and `-`, so none needs one;
    /// refusing escapes keeps parsing free of copies and never misreads a name.
    #[error("pin names are written without escapes")]
    EscapedName,
    /// More than [`MAX_SET`] pins in one `set` or `simulate` (`too_many_pins`).
    #[error("at most {MAX_SET} pins per set or simulate")]
    TooManyPins,
    /// The pin is an output; only inputs can be simulated (`not_an_input`).
    #[error("that pin is an output; only inputs can be simulated")]
    NotAnInput,
    /// A `simulate` command sent to a device that drives real hardware
    /// (`not_simulated`). The core never returns it from parsing; the server
    /// does, when its backend is not the simulation.
    #[error("this device drives real hardware; inputs cannot be simulated")]
    NotSimulated,
    /// A `set` or `simulate` naming the same pin more than once
    /// (`duplicate_pin`), e.g. `{"set":{"led":true,"led":false}}`. Carried
    /// out in order it would drive the line twice, a pulse nobody asked
    /// for; nothing changes instead.
    #[error("a pin is named more than once; name each pin at most once per command")]
    DuplicatePin,
    /// The client sent commands faster than the device takes them
    /// (`rate_limited`): this one was not carried out. The core never
    /// returns it from parsing; the server does.
    #[error("too many commands; this one was not carried out, slow down")]
    RateLimited,
}

impl CommandError {
    /// The machine-readable code sent in `{"error":{"code":...}}`.
    pub fn code(self) -> &'static str {
        match self {
            CommandError::BadJson => "bad_json",
            CommandError::BadCommand => "bad_command",
            CommandError::WrongType => "wrong_type",
            CommandError::TooLarge => "too_large",
            CommandError::UnknownPin => "unknown_pin",
            CommandError::NotAnOutput => "not_an_output",
            CommandError::Hardware => "hardware_error",
            CommandError::EscapedName => "escaped_name",
            CommandError::TooManyPins => "too_many_pins",
            CommandError::NotAnInput => "not_an_input",
            CommandError::NotSimulated => "not_simulated",
            CommandError::DuplicatePin => "duplicate_pin",
            CommandError::RateLimited => "rate_limited",
        }
    }
}

/// A refused command: the reason, and the pin it concerns when the refusal
/// is about one pin. The name is borrowed from the command, as the client
/// wrote it. The message ([`Display`](fmt::Display)) shows the name for
/// [`CommandError::UnknownPin`], [`CommandError::NotAnOutput`],
/// [`CommandError::NotAnInput`] and [`CommandError::Hardware`]; other errors
/// keep their own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal<'a> {
    /// Why.
    pub error: CommandError,
    /// The pin named in the command that caused it, if any.
    pub pin: Option<&'a str>,
}

impl<'a> Refusal<'a> {
    /// A refusal that names no pin.
    pub fn new(error: CommandError) -> Refusal<'a> {
        Refusal { error, pin: None }
    }

    /// A refusal about the pin `pin`.
    pub fn naming(error: CommandError, pin: &'a str) -> Refusal<'a> {
        Refusal {
            error,
            pin: Some(pin),
        }
    }
}

impl From<CommandError> for Refusal<'_> {
    fn from(error: CommandError) -> Self {
        Refusal::new(error)
    }
}

/// The message names the pin: `no pin named "nope"`. The name is shown
/// with Rust's debug escapes (`"a\"b\n"`), so the text holds no control
/// characters and the quotes around the name are unambiguous, and it is cut
/// after [`MAX_NAME_SHOWN`] bytes.
impl fmt::Display for Refusal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(pin) = self.pin else {
            return fmt::Display::fmt(&self.error, f);
        };
        let (shown, cut) = shown_name(pin);
        let mark = if cut { "…" } else { "" };
        let name = shown.escape_debug();
        match self.error {
            CommandError::UnknownPin => write!(f, "no pin named \"{name}{mark}\""),
            CommandError::NotAnOutput => write!(
                f,
                "pin \"{name}{mark}\" is an input; only outputs can be set or toggled"
            ),
            CommandError::NotAnInput => write!(
                f,
                "pin \"{name}{mark}\" is an output; only inputs can be simulated"
            ),
            CommandError::Hardware => write!(f, "the board could not switch pin \"{name}{mark}\""),
            other => fmt::Display::fmt(&other, f),
        }
    }
}

/// The first [`MAX_NAME_SHOWN`] bytes of `name`, cut on a character
/// boundary, and whether anything was cut.
fn shown_name(name: &str) -> (&str, bool) {
    if name.len() <= MAX_NAME_SHOWN {
        return (name, false);
    }
    let mut end = MAX_NAME_SHOWN;
    // Index 0 is a boundary, so this stops.
    while !name.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    (name.get(..end).unwrap_or_default(), true)
}

impl core::error::Error for Refusal<'_> {}
