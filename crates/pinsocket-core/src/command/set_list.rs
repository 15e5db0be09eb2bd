//! The (pin, level) pairs of a `set` or `simulate` command ([`SetList`]),
//! and how its JSON object is read: every pair, even past [`MAX_SET`], with
//! the worst fault found in a name or a level.

use core::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use super::raw_string::{level_string, name_fault};
use super::{CommandError, MAX_SET};

/// The (pin, level) pairs of a `set` or `simulate` command, in order;
/// `true` is high. Each pin is named at most once: a list that names one
/// twice is refused ([`CommandError::DuplicatePin`]).
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

    /// True if a name appears twice. Names reaching here hold no escape
    /// (those are refused first), so equal text is the same name. At most
    /// [`MAX_SET`] names: comparing every pair costs less than sorting.
    fn has_duplicate(&self) -> bool {
        let pairs = self.as_slice();
        pairs.iter().enumerate().any(|(i, (name, _))| {
            pairs
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .any(|(other, _)| other == name)
        })
    }
}

/// A `set` or `simulate` object as read: its first [`MAX_SET`] pairs, how
/// many there were, and the worst fault found in any name or level. The
/// whole object is read even past the limit, so that bad JSON or a wrong
/// value anywhere in it is reported as such.
pub(super) struct RawList<'a> {
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
    /// too many pins, then an escaped name, then a pin named twice.
    pub(super) fn finish(self) -> Result<SetList<'a>, CommandError> {
        match self.fault {
            Some(e @ (CommandError::BadJson | CommandError::WrongType)) => Err(e),
            _ if self.count > MAX_SET => Err(CommandError::TooManyPins),
            Some(e) => Err(e),
            None if self.list.has_duplicate() => Err(CommandError::DuplicatePin),
            None => Ok(self.list),
        }
    }
}

/// Reads a `set` / `simulate` object. Holds the whole message: a level may
/// be a boolean or a string, and serde-json-core cannot say which is next
/// (it has no `deserialize_any`), so the byte after the name's colon is
/// looked up in the message, where the name was borrowed from.
pub(super) struct ListSeed<'a> {
    pub(super) msg: &'a str,
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
