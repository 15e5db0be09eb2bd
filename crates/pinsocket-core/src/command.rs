//! The command language clients speak on the WebSocket.
//!
//! Two languages share the socket, told apart by the first byte:
//! - JSON (first non-blank byte `{`): `{"set":{"led":true}}`,
//!   `{"toggle":"led"}`, `{"ping":7}`;
//! - the original's plain text, anything else: `LEDOn` / `LEDOff` and, for
//!   every output, `<name>On` / `<name>Off`, case-insensitive. Plain text is
//!   always answered `Reply for <msg>`, as the original did.
//!
//! Parsing borrows from the message and allocates nothing.

use core::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::device::Level;

/// Most pins one `set` command may name.
pub const MAX_SET: usize = 16;

/// Longest JSON command accepted, in bytes.
pub const MAX_JSON_LEN: usize = 1024;

/// Why a command was refused. Each has a stable code for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// Not valid JSON (`bad_json`).
    #[error("message is not valid JSON")]
    BadJson,
    /// Valid JSON, but not one known command (`bad_command`).
    #[error("expected exactly one of \"set\", \"toggle\" or \"ping\"")]
    BadCommand,
    /// A value of the wrong type, e.g. `{"set":{"led":"yes"}}` (`wrong_type`).
    #[error("wrong type: set takes true/false, toggle a pin name, ping a number")]
    WrongType,
    /// A JSON command over [`MAX_JSON_LEN`] bytes (`too_large`).
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
        }
    }
}

/// A parsed message.
// Without an allocator a set list is a fixed array; a command lives briefly
// on the stack, so its size costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command<'a> {
    /// `{"set":{"<pin>":true|false, ...}}`: set outputs.
    Set(SetList<'a>),
    /// `{"toggle":"<pin>"}`: invert an output.
    Toggle(&'a str),
    /// `{"ping":<n>}`: answered `{"pong":<n>}`. Any JSON number, as a
    /// browser's numbers are doubles.
    Ping(f64),
    /// Plain text: maybe `<name>On` / `<name>Off`; always answered `Reply for <msg>`.
    Plain(&'a str),
}

/// The (pin, level) pairs of a `set` command, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetList<'a> {
    items: [(&'a str, bool); MAX_SET],
    len: usize,
}

impl<'a> SetList<'a> {
    /// The pairs.
    pub fn as_slice(&self) -> &[(&'a str, bool)] {
        self.items.get(..self.len).unwrap_or_default()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for SetList<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SetVisitor<'a>(core::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for SetVisitor<'a> {
            type Value = SetList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of pin names to true/false")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut list = SetList {
                    items: [("", false); MAX_SET],
                    len: 0,
                };
                while let Some((name, high)) = map.next_entry::<&'a str, bool>()? {
                    let slot = list
                        .items
                        .get_mut(list.len)
                        .ok_or_else(|| de::Error::custom("too many pins"))?;
                    *slot = (name, high);
                    list.len += 1;
                }
                Ok(list)
            }
        }
        d.deserialize_map(SetVisitor(core::marker::PhantomData))
    }
}

/// The JSON form: exactly one field may be present. Each is `None` when
/// absent and `Some(None)` when present as `null`, so that
/// `{"toggle":"led","ping":null}` counts two fields, as JSON does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    set: Option<Option<SetList<'a>>>,
    #[serde(borrow, default, deserialize_with = "present")]
    toggle: Option<Option<&'a str>>,
    #[serde(default, deserialize_with = "present")]
    ping: Option<Option<f64>>,
}

/// Marks a field as present, whatever its value (`null` included).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: de::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// Parses one text message.
pub fn parse(msg: &str) -> Result<Command<'_>, CommandError> {
    let trimmed = msg.trim_start();
    if !trimmed.starts_with('{') {
        return Ok(Command::Plain(msg));
    }
    if msg.len() > MAX_JSON_LEN {
        return Err(CommandError::TooLarge);
    }
    let (wire, _) = serde_json_core::from_str::<Wire<'_>>(msg).map_err(|e| {
        use serde_json_core::de::Error as E;
        match e {
            E::InvalidType | E::InvalidNumber => CommandError::WrongType,
            E::CustomError => CommandError::BadCommand,
            _ => CommandError::BadJson,
        }
    })?;
    // serde-json-core, given no unescape buffer, hands strings over as
    // written, escapes and all: such a name would be read wrongly, so it is
    // refused instead.
    // It does not check escapes either: an invalid one is bad JSON.
    let escaped = |name: &str| -> Result<(), CommandError> {
        match name.contains('\\') {
            false => Ok(()),
            true if escapes_are_valid(name) => Err(CommandError::EscapedName),
            true => Err(CommandError::BadJson),
        }
    };
    let fields = usize::from(wire.set.is_some())
        + usize::from(wire.toggle.is_some())
        + usize::from(wire.ping.is_some());
    if fields != 1 {
        return Err(CommandError::BadCommand);
    }
    match (wire.set, wire.toggle, wire.ping) {
        (Some(Some(set)), _, _) => {
            // Bad JSON anywhere outranks an escaped name elsewhere.
            let names = set.as_slice().iter().map(|(name, _)| escaped(name));
            match names
                .filter_map(Result::err)
                .min_by_key(|e| *e != CommandError::BadJson)
            {
                Some(e) => Err(e),
                None => Ok(Command::Set(set)),
            }
        }
        (_, Some(Some(name)), _) => escaped(name).map(|()| Command::Toggle(name)),
        (_, _, Some(Some(n))) if n.is_finite() => Ok(Command::Ping(n)),
        // `null`, or a number out of range.
        _ => Err(CommandError::WrongType),
    }
}

/// True if every backslash in `raw` (a JSON string's contents as written)
/// starts a valid escape: one of `\" \\ \/ \b \f \n \r \t`, or `\u` and
/// four hex digits (RFC 8259 §7), where a surrogate must be a high one
/// followed at once by an escaped low one, as a string must decode to
/// Unicode text.
fn escapes_are_valid(raw: &str) -> bool {
    let mut bytes = raw.bytes();
    // A high surrogate was just read: the next escape must be its low half.
    let mut want_low = false;
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            if want_low {
                return false;
            }
            continue;
        }
        let unit = match bytes.next() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => None,
            Some(b'u') => {
                let mut unit = 0u32;
                for _ in 0..4 {
                    match bytes.next().and_then(|h| char::from(h).to_digit(16)) {
                        Some(digit) => unit = unit * 16 + digit,
                        None => return false,
                    }
                }
                Some(unit)
            }
            _ => return false,
        };
        let low = unit.is_some_and(|u| (0xDC00..=0xDFFF).contains(&u));
        if want_low != low {
            return false;
        }
        want_low = unit.is_some_and(|u| (0xD800..=0xDBFF).contains(&u));
    }
    !want_low
}

/// Reads `<name>On` / `<name>Off` (case-insensitive) as a name and a level.
pub fn plain_switch(text: &str) -> Option<(&str, Level)> {
    let bytes = text.as_bytes();
    let (cut, level) = if bytes.len() > 3 && bytes[bytes.len() - 3..].eq_ignore_ascii_case(b"off") {
        (bytes.len() - 3, Level::Low)
    } else if bytes.len() > 2 && bytes[bytes.len() - 2..].eq_ignore_ascii_case(b"on") {
        (bytes.len() - 2, Level::High)
    } else {
        return None;
    };
    // The cut is before ASCII letters, so it is a character boundary.
    text.get(..cut).map(|name| (name, level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_commands() {
        let Command::Set(set) = parse(r#"{"set":{"led":true}}"#).unwrap() else {
            panic!("not a set")
        };
        assert_eq!(set.as_slice(), [("led", true)]);
        assert_eq!(parse(r#" {"toggle":"led"} "#), Ok(Command::Toggle("led")));
        assert_eq!(parse(r#"{"ping":42}"#), Ok(Command::Ping(42.0)));
        assert_eq!(parse(r#"{"ping":-1.5e3}"#), Ok(Command::Ping(-1500.0)));
    }

    #[test]
    fn plain_text_is_plain() {
        assert_eq!(parse("LEDon"), Ok(Command::Plain("LEDon")));
        assert_eq!(
            parse("Hello world :)"),
            Ok(Command::Plain("Hello world :)"))
        );
        assert_eq!(parse(""), Ok(Command::Plain("")));
        assert_eq!(plain_switch("LEDOn"), Some(("LED", Level::High)));
        assert_eq!(plain_switch("ledoff"), Some(("led", Level::Low)));
        assert_eq!(plain_switch("On"), None);
        assert_eq!(plain_switch("Off"), None);
        assert_eq!(plain_switch("κόσμεOn"), Some(("κόσμε", Level::High)));
    }

    #[test]
    fn errors_have_codes() {
        let cases = [
            (
                r#"{"set":{"led":"yes"}}"#,
                CommandError::WrongType,
                "wrong_type",
            ),
            (r#"{"ping":"x"}"#, CommandError::WrongType, "wrong_type"),
            (r#"{"ping":true}"#, CommandError::WrongType, "wrong_type"),
            (r#"{"toggle":5}"#, CommandError::WrongType, "wrong_type"),
            (r#"{"set":{"led":true}"#, CommandError::BadJson, "bad_json"),
            (r#"{"set" "#, CommandError::BadJson, "bad_json"),
            ("{", CommandError::BadJson, "bad_json"),
            (r#"{"jump":1}"#, CommandError::BadCommand, "bad_command"),
            (r#"{}"#, CommandError::BadCommand, "bad_command"),
            (
                r#"{"toggle":"led","ping":1}"#,
                CommandError::BadCommand,
                "bad_command",
            ),
            (
                r#"{"toggle":"le\u0064"}"#,
                CommandError::EscapedName,
                "escaped_name",
            ),
            (
                r#"{"set":{"led":true,"f\"":false}}"#,
                CommandError::EscapedName,
                "escaped_name",
            ),
            (r#"{"toggle":"le\x64"}"#, CommandError::BadJson, "bad_json"),
            (
                r#"{"toggle":"led","ping":null}"#,
                CommandError::BadCommand,
                "bad_command",
            ),
            (r#"{"toggle":null}"#, CommandError::WrongType, "wrong_type"),
            (r#"{"set":null}"#, CommandError::WrongType, "wrong_type"),
            (r#"{"toggle":"\udfff"}"#, CommandError::BadJson, "bad_json"),
            (r#"{"toggle":"\ud83d"}"#, CommandError::BadJson, "bad_json"),
            (r#"{"toggle":"\ud83dx"}"#, CommandError::BadJson, "bad_json"),
            (
                r#"{"toggle":"\ud83d\ude00"}"#,
                CommandError::EscapedName,
                "escaped_name",
            ),
            (
                r#"{"set":{"f\/":true,"g\p":true}}"#,
                CommandError::BadJson,
                "bad_json",
            ),
            (r#"{"toggle":"le\u006"}"#, CommandError::BadJson, "bad_json"),
        ];
        for (msg, err, code) in cases {
            assert_eq!(parse(msg), Err(err), "{msg}");
            assert_eq!(err.code(), code);
        }
        let mut big = [b' '; MAX_JSON_LEN + 1];
        big[0] = b'{';
        let big = core::str::from_utf8(&big).unwrap();
        assert_eq!(parse(big), Err(CommandError::TooLarge));
    }

    #[test]
    fn set_with_too_many_pins_is_refused() {
        extern crate std;
        use std::string::String;
        let mut msg = String::from(r#"{"set":{"#);
        for i in 0..=MAX_SET {
            if i > 0 {
                msg.push(',');
            }
            msg.push_str(&std::format!("\"p{i}\":true"));
        }
        msg.push_str("}}");
        assert_eq!(parse(&msg), Err(CommandError::BadCommand));
    }
}
