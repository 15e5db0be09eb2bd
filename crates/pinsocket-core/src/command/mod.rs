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
//!
//! The parts, one to a file:
//! - `error`: why a command is refused ([`CommandError`], [`Refusal`]);
//! - `set_list`: the pins and levels of a `set` or `simulate` ([`SetList`])
//!   and how that object is read;
//! - `raw_string`: strings as serde-json-core hands them over, escapes and
//!   all: escape checks, level strings, pin names;
//! - `wire`: the JSON command object as read, before it is checked.

use serde::de;

use crate::board::Level;

mod error;
mod raw_string;
mod set_list;
#[cfg(test)]
mod tests;
mod wire;

pub use error::{CommandError, Refusal};
pub use set_list::SetList;

use raw_string::name_fault;
use wire::WireSeed;

/// Most pins one `set` or `simulate` command may name.
pub const MAX_SET: usize = 16;

/// Longest part of a pin name a [`Refusal`]'s message shows, in bytes; a
/// longer name is cut on a character boundary and marked `…`.
pub const MAX_NAME_SHOWN: usize = 64;

/// Longest JSON command accepted, in bytes.
pub const MAX_JSON_LEN: usize = 1024;

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
    /// [`crate::board::resolve_simulate`]).
    Simulate(SetList<'a>),
}

/// Parses one text message.
///
/// When a message has several faults, the first of these is reported:
/// bad JSON, or a value of the wrong type, found while reading (in the
/// message's order); not exactly one command; then, for the command's own
/// value: bad JSON in a string, a wrong level, too many pins, an escaped
/// name, a pin named twice.
pub fn parse_command(msg: &str) -> Result<Command<'_>, CommandError> {
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
