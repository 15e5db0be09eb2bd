//! Strings as serde-json-core hands them over: borrowed from the message as
//! written, escapes and all, since it is given no buffer to unescape into.
//! Checks their escapes, reads level strings as JSON would, and refuses
//! escaped pin names.

use super::CommandError;

/// Reads a level string as JSON reads it (`raw` is as written, escapes and
/// all): `"high"` is true, `"low"` false, exactly and in lowercase.
pub(super) fn level_string(raw: &str) -> Result<bool, CommandError> {
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
pub(super) fn name_fault(name: &str) -> Result<(), CommandError> {
    match name.contains('\\') {
        false => Ok(()),
        true if escapes_are_valid(name) => Err(CommandError::EscapedName),
        true => Err(CommandError::BadJson),
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
