//! Message payloads a test can tell apart: each starts with its number.

/// A `len`-byte text message that starts with its number `i`: eight
/// digits and a colon, then `x` up to `len`.
pub(crate) fn numbered(i: usize, len: usize) -> String {
    let mut msg = format!("{i:08}:");
    msg.extend(std::iter::repeat_n('x', len - msg.len()));
    msg
}

/// The number a [`numbered`] message starts with.
pub(crate) fn number_of(payload: &[u8]) -> usize {
    std::str::from_utf8(&payload[..8]).unwrap().parse().unwrap()
}
