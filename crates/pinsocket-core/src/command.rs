//! The command language clients speak on the WebSocket.
//!
//! Two languages share the socket, told apart by the first byte:
//! - JSON (first non-blank byte `{`): `{"set":{"led":true}}`,
//!   `{"toggle":"led"}`, `{"ping":7}`, `{"simulate":{"button":"high"}}`. Keys,
//!   pin names and the level strings `"high"` / `"low"` are case-sensitive;
//! - the original's plain text, anything else: `LEDOn` / `LEDOff` and, for
//!   every output, `<name>On` / `<name>Off`, case-insensitive. Plain text is
//!   always answered `Reply for <msg>`, as the original did.
//!
//! Parsing borrows from the message and allocates nothing.

use core::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use crate::device::Level;

/// Most pins one `set` or `simulate` command may name.
pub const MAX_SET: usize = 16;

/// Longest part of a pin name a [`Refusal`]'s message shows, in bytes; a
/// longer name is cut on a character boundary and marked `…`.
pub const MAX_NAME_SHOWN: usize = 64;

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
    #[error("expected exactly one of \"set\", \"toggle\", \"ping\" or \"simulate\"")]
    BadCommand,
    /// A value of the wrong type, e.g. `{"set":{"led":"yes"}}` (`wrong_type`).
    #[error(
        "wrong type: set and simulate take true/false or \"high\"/\"low\", toggle a pin name, ping a number"
    )]
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
        }
    }
}

/// A parsed message.
// Without an allocator a set list is a fixed array; a command lives briefly
// on the stack, so its size costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `{"set":{"<pin>":true|false|"high"|"low", ...}}`: set outputs.
    Set(SetList<'a>),
    /// `{"toggle":"<pin>"}`: invert an output.
    Toggle(&'a str),
    /// `{"ping":<n>}`: answered `{"pong":<n>}`. Any JSON number, as a
    /// browser's numbers are doubles.
    Ping(f64),
    /// Plain text: maybe `<name>On` / `<name>Off`; always answered `Reply for <msg>`.
    Plain(&'a str),
    /// `{"simulate":{"<input>":true|false|"high"|"low", ...}}`: drive the
    /// simulated board's inputs. Only a simulated board takes it (see
    /// [`crate::device::resolve_simulate`]).
    Simulate(SetList<'a>),
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

/// The (pin, level) pairs of a `set` or `simulate` command, in order;
/// `true` is high. A pin named twice appears twice (the last one wins when
/// applied in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetList<'a> {
    items: [(&'a str, bool); MAX_SET],
    len: usize,
}

impl<'a> SetList<'a> {
    const EMPTY: SetList<'a> = SetList {
        items: [("", false); MAX_SET],
        len: 0,
    };

    /// The pairs.
    pub fn as_slice(&self) -> &[(&'a str, bool)] {
        self.items.get(..self.len).unwrap_or_default()
    }
}

/// A `set` or `simulate` object as read: its first [`MAX_SET`] pairs, how
/// many there were, and the worst fault found in any name or level. The
/// whole object is read even past the limit, so that bad JSON or a wrong
/// value anywhere in it is reported as such.
struct RawList<'a> {
    list: SetList<'a>,
    count: usize,
    fault: Option<CommandError>,
}

impl<'a> RawList<'a> {
    /// Keeps the more serious of the fault so far and `fault`.
    fn note(&mut self, fault: Option<CommandError>) {
        let rank = |e: CommandError| match e {
            CommandError::BadJson => 0,
            CommandError::WrongType => 1,
            _ => 2,
        };
        if let Some(new) = fault
            && self.fault.is_none_or(|old| rank(new) < rank(old))
        {
            self.fault = Some(new);
        }
    }

    /// The list, or why it is refused: bad JSON, then a wrong level, then
    /// too many pins, then an escaped name.
    fn finish(self) -> Result<SetList<'a>, CommandError> {
        match self.fault {
            Some(e @ (CommandError::BadJson | CommandError::WrongType)) => Err(e),
            _ if self.count > MAX_SET => Err(CommandError::TooManyPins),
            Some(e) => Err(e),
            None => Ok(self.list),
        }
    }
}

/// Reads a `set` / `simulate` object. Holds the whole message: a level may
/// be a boolean or a string, and serde-json-core cannot say which is next
/// (it has no `deserialize_any`), so the byte after the name's colon is
/// looked up in the message, where the name was borrowed from.
struct ListSeed<'a> {
    msg: &'a str,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for ListSeed<'a> {
    type Value = RawList<'a>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for ListSeed<'a> {
    type Value = RawList<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of pin names to true/false or \"high\"/\"low\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut raw = RawList {
            list: SetList::EMPTY,
            count: 0,
            fault: None,
        };
        while let Some(name) = map.next_key::<&'a str>()? {
            raw.note(name_fault(name).err());
            let high = if value_start(self.msg, name) == Some(b'"') {
                let level = level_string(map.next_value::<&'a str>()?);
                raw.note(level.err());
                level.unwrap_or(false)
            } else {
                // Anything but `true` / `false` is a type error here.
                map.next_value::<bool>()?
            };
            if let Some(slot) = raw.list.items.get_mut(raw.list.len) {
                *slot = (name, high);
                raw.list.len += 1;
            }
            raw.count = raw.count.saturating_add(1);
        }
        Ok(raw)
    }
}

/// The first byte of the value that follows `key` in `msg`, where `key`
/// is a string borrowed from `msg`: past the key's closing quote, blanks,
/// the colon and blanks, as the deserializer reads them. `None` if `key`
/// is not inside `msg` or the text is not shaped so (it always is for a key
/// the deserializer just read).
fn value_start(msg: &str, key: &str) -> Option<u8> {
    let offset = (key.as_ptr() as usize).checked_sub(msg.as_ptr() as usize)?;
    let after_key = offset.checked_add(key.len())?;
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let mut rest = msg.as_bytes().get(after_key..)?.iter().copied();
    if rest.next() != Some(b'"') {
        return None;
    }
    let mut rest = rest.skip_while(blank);
    if rest.next() != Some(b':') {
        return None;
    }
    rest.find(|b| !blank(b))
}

/// Reads a level string as JSON reads it (`raw` is as written, escapes and
/// all): `"high"` is true, `"low"` false, exactly and in lowercase.
fn level_string(raw: &str) -> Result<bool, CommandError> {
    if raw.contains('\\') && !escapes_are_valid(raw) {
        return Err(CommandError::BadJson);
    }
    // Decoded, the two levels are ASCII and at most four bytes long.
    let mut decoded = [0u8; 4];
    let mut len = 0;
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        let byte = if b != b'\\' {
            b
        } else {
            match bytes.next() {
                Some(b'u') => {
                    let mut unit = 0u32;
                    for _ in 0..4 {
                        let digit = bytes.next().and_then(|h| char::from(h).to_digit(16));
                        unit = unit * 16 + digit.ok_or(CommandError::BadJson)?;
                    }
                    u8::try_from(unit)
                        .ok()
                        .filter(u8::is_ascii)
                        .ok_or(CommandError::WrongType)?
                }
                Some(b'b') => 0x08,
                Some(b'f') => 0x0c,
                Some(b'n') => b'\n',
                Some(b'r') => b'\r',
                Some(b't') => b'\t',
                // `"`, `\\` and `/` stand for themselves.
                Some(other) => other,
                None => return Err(CommandError::BadJson),
            }
        };
        let slot = decoded.get_mut(len).ok_or(CommandError::WrongType)?;
        *slot = byte;
        len += 1;
    }
    match decoded.get(..len) {
        Some(b"high") => Ok(true),
        Some(b"low") => Ok(false),
        _ => Err(CommandError::WrongType),
    }
}

/// A pin name as written: one with a backslash would be misread, as
/// serde-json-core, given no unescape buffer, hands strings over escapes and
/// all, so it is refused; it does not check escapes either, so an invalid
/// one is bad JSON.
fn name_fault(name: &str) -> Result<(), CommandError> {
    match name.contains('\\') {
        false => Ok(()),
        true if escapes_are_valid(name) => Err(CommandError::EscapedName),
        true => Err(CommandError::BadJson),
    }
}

/// A field that is `None` when absent and `Some(None)` when present as
/// `null`, so that `{"toggle":"led","ping":null}` counts two fields, as JSON
/// does.
type Field<T> = Option<Option<T>>;

/// The JSON form: exactly one field may be present.
#[derive(Default)]
struct Wire<'a> {
    set: Field<RawList<'a>>,
    toggle: Field<&'a str>,
    ping: Field<f64>,
    simulate: Field<RawList<'a>>,
}

/// Reads the command object. Unknown and repeated keys are refused as a
/// serde-derived struct with `deny_unknown_fields` would, at the key.
struct WireSeed<'a> {
    msg: &'a str,
}

impl<'de: 'a, 'a> Visitor<'de> for WireSeed<'a> {
    type Value = Wire<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a command object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        fn first<T, E: de::Error>(field: &Field<T>, key: &'static str) -> Result<(), E> {
            match field {
                Some(_) => Err(E::duplicate_field(key)),
                None => Ok(()),
            }
        }
        let msg = self.msg;
        let mut wire = Wire::default();
        while let Some(key) = map.next_key::<&'a str>()? {
            match key {
                "set" => {
                    first(&wire.set, "set")?;
                    wire.set = Some(map.next_value_seed(Nullable(ListSeed { msg }))?);
                }
                "simulate" => {
                    first(&wire.simulate, "simulate")?;
                    wire.simulate = Some(map.next_value_seed(Nullable(ListSeed { msg }))?);
                }
                "toggle" => {
                    first(&wire.toggle, "toggle")?;
                    wire.toggle = Some(map.next_value::<Option<&'a str>>()?);
                }
                "ping" => {
                    first(&wire.ping, "ping")?;
                    wire.ping = Some(map.next_value::<Option<f64>>()?);
                }
                other => return Err(de::Error::unknown_field(other, KEYS)),
            }
        }
        Ok(wire)
    }
}

/// The command keys.
const KEYS: &[&str] = &["set", "toggle", "ping", "simulate"];

/// `null` as `None`, else what the seed reads.
struct Nullable<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// Parses one text message.
///
/// When a message has several faults, the first of these is reported:
/// bad JSON, or a value of the wrong type, found while reading (in the
/// message's order); not exactly one command; then, for the command's own
/// value: bad JSON in a string, a wrong level, too many pins, an escaped
/// name.
pub fn parse(msg: &str) -> Result<Command<'_>, CommandError> {
    let trimmed = msg.trim_start();
    if !trimmed.starts_with('{') {
        return Ok(Command::Plain(msg));
    }
    if msg.len() > MAX_JSON_LEN {
        return Err(CommandError::TooLarge);
    }
    let mut de = serde_json_core::de::Deserializer::new(msg.as_bytes(), None);
    let wire = de::Deserializer::deserialize_map(&mut de, WireSeed { msg })
        .and_then(|wire| de.end().map(|_| wire))
        .map_err(|e| {
            use serde_json_core::de::Error as E;
            match e {
                E::InvalidType | E::InvalidNumber => CommandError::WrongType,
                E::CustomError => CommandError::BadCommand,
                _ => CommandError::BadJson,
            }
        })?;
    let fields = usize::from(wire.set.is_some())
        + usize::from(wire.toggle.is_some())
        + usize::from(wire.ping.is_some())
        + usize::from(wire.simulate.is_some());
    if fields != 1 {
        return Err(CommandError::BadCommand);
    }
    match (wire.set, wire.toggle, wire.ping, wire.simulate) {
        (Some(Some(set)), ..) => set.finish().map(Command::Set),
        (_, _, _, Some(Some(simulate))) => simulate.finish().map(Command::Simulate),
        (_, Some(Some(name)), ..) => name_fault(name).map(|()| Command::Toggle(name)),
        (_, _, Some(Some(n)), _) if n.is_finite() => Ok(Command::Ping(n)),
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

    /// `{"<key>":{"p0":true,...}}` naming `n` pins, then `tail` before the
    /// closing braces.
    fn many_pins(key: &str, n: usize, tail: &str) -> std::string::String {
        extern crate std;
        let mut msg = std::format!("{{\"{key}\":{{");
        for i in 0..n {
            if i > 0 {
                msg.push(',');
            }
            msg.push_str(&std::format!("\"p{i}\":true"));
        }
        msg.push_str(tail);
        msg.push_str("}}");
        msg
    }

    extern crate std;

    #[test]
    fn set_with_too_many_pins_is_refused() {
        for key in ["set", "simulate"] {
            let msg = many_pins(key, MAX_SET + 1, "");
            assert_eq!(parse(&msg), Err(CommandError::TooManyPins), "{msg}");
            // Exactly the most is fine.
            let msg = many_pins(key, MAX_SET, "");
            let list = match parse(&msg) {
                Ok(Command::Set(list) | Command::Simulate(list)) => list,
                other => panic!("{other:?}"),
            };
            assert_eq!(list.as_slice().len(), MAX_SET);
            assert_eq!(list.as_slice()[MAX_SET - 1], ("p15", true));
        }
        let err = CommandError::TooManyPins;
        assert_eq!(err.code(), "too_many_pins");
        assert_eq!(std::format!("{err}"), "at most 16 pins per set or simulate");
        // The pins past the sixteenth are still read: bad JSON or a wrong
        // type there is reported as such.
        assert_eq!(
            parse(&many_pins("set", MAX_SET + 1, r#","x":tru"#)),
            Err(CommandError::BadJson)
        );
        assert_eq!(
            parse(&many_pins("set", MAX_SET + 1, r#","x":"up""#)),
            Err(CommandError::WrongType)
        );
        assert_eq!(
            parse(&many_pins("set", MAX_SET + 1, r#","x\q":true"#)),
            Err(CommandError::BadJson)
        );
        // Too many outranks an escaped name.
        assert_eq!(
            parse(&many_pins("set", MAX_SET + 1, r#","x\n":true"#)),
            Err(CommandError::TooManyPins)
        );
    }

    fn set_list(msg: &str) -> std::vec::Vec<(&str, bool)> {
        match parse(msg) {
            Ok(Command::Set(list)) => list.as_slice().to_vec(),
            other => panic!("{msg}: {other:?}"),
        }
    }

    #[test]
    fn set_takes_high_and_low_strings() {
        assert_eq!(set_list(r#"{"set":{"led":"high"}}"#), [("led", true)]);
        assert_eq!(
            set_list(r#"{"set":{"led":"low","fan":true,"x":"high","y":false}}"#),
            [("led", false), ("fan", true), ("x", true), ("y", false)]
        );
        assert_eq!(
            set_list(r#"{ "set" : { "led" : "high" , "fan" :  "low" } }"#),
            [("led", true), ("fan", false)]
        );
        // A level string is read as JSON reads it, escapes included.
        assert_eq!(set_list(r#"{"set":{"led":"hig\u0068"}}"#), [("led", true)]);
        assert_eq!(set_list(r#"{"set":{"led":"\u006Cow"}}"#), [("led", false)]);
        // Exactly "high" and "low", lowercase: nothing else.
        for level in [
            r#""HIGH""#,
            r#""High""#,
            r#""LOW""#,
            r#""on""#,
            r#""off""#,
            r#""true""#,
            r#""1""#,
            r#""""#,
            r#"" high""#,
            r#""high ""#,
            r#""highh""#,
            r#""\u0048IGH""#,
            r#""hi\nh""#,
            "1",
            "null",
            "[]",
            "{}",
        ] {
            let msg = std::format!(r#"{{"set":{{"led":{level}}}}}"#);
            assert_eq!(parse(&msg), Err(CommandError::WrongType), "{msg}");
        }
        // A level string with an invalid escape is not JSON.
        for level in [r#""hig\h""#, r#""\u00""#, r#""\ud800""#] {
            let msg = std::format!(r#"{{"set":{{"led":{level}}}}}"#);
            assert_eq!(parse(&msg), Err(CommandError::BadJson), "{msg}");
        }
        assert_eq!(parse(r#"{"set":{"led":"high""#), Err(CommandError::BadJson));
    }

    #[test]
    fn simulate_is_parsed_like_set() {
        match parse(r#"{"simulate":{"button":true,"door":"low","b2":"high"}}"#) {
            Ok(Command::Simulate(list)) => assert_eq!(
                list.as_slice(),
                [("button", true), ("door", false), ("b2", true)]
            ),
            other => panic!("{other:?}"),
        }
        match parse(r#"{"simulate":{}}"#) {
            Ok(Command::Simulate(list)) => assert_eq!(list.as_slice(), []),
            other => panic!("{other:?}"),
        }
        let cases = [
            (r#"{"simulate":null}"#, CommandError::WrongType),
            (r#"{"simulate":"button"}"#, CommandError::WrongType),
            (r#"{"simulate":{"button":1}}"#, CommandError::WrongType),
            (r#"{"simulate":{"button":"on"}}"#, CommandError::WrongType),
            (
                r#"{"simulate":{"butto\u006e":true}}"#,
                CommandError::EscapedName,
            ),
            (r#"{"simulate":{"butto\x":true}}"#, CommandError::BadJson),
            (
                r#"{"simulate":{"button":true},"set":{"led":true}}"#,
                CommandError::BadCommand,
            ),
            (
                r#"{"simulate":{"button":true},"simulate":{"button":false}}"#,
                CommandError::BadCommand,
            ),
            (r#"{"Simulate":{"button":true}}"#, CommandError::BadCommand),
        ];
        for (msg, err) in cases {
            assert_eq!(parse(msg), Err(err), "{msg}");
        }
        assert_eq!(CommandError::NotAnInput.code(), "not_an_input");
        assert_eq!(CommandError::NotSimulated.code(), "not_simulated");
        assert_eq!(
            std::format!("{}", CommandError::NotSimulated),
            "this device drives real hardware; inputs cannot be simulated"
        );
        assert_eq!(
            std::format!("{}", CommandError::BadCommand),
            r#"expected exactly one of "set", "toggle", "ping" or "simulate""#
        );
    }

    #[test]
    fn json_keys_are_case_sensitive() {
        for msg in [
            r#"{"Set":{"led":true}}"#,
            r#"{"SET":{"led":true}}"#,
            r#"{"Toggle":"led"}"#,
            r#"{"PING":1}"#,
        ] {
            assert_eq!(parse(msg), Err(CommandError::BadCommand), "{msg}");
        }
        // Names are taken as written; the board decides whether they exist.
        assert_eq!(set_list(r#"{"set":{"LED":true}}"#), [("LED", true)]);
    }
}
