//! WebSocket frames as bytes, the one frame builder of the tests: masked
//! client frames and unmasked server frames in any length encoding, with
//! any first byte (reserved bits and opcodes included), and close payloads.

/// The masking key of every frame the raw client sends.
pub(crate) const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub(crate) const OP_CONT: u8 = 0x0;
pub(crate) const OP_TEXT: u8 = 0x1;
pub(crate) const OP_BINARY: u8 = 0x2;
pub(crate) const OP_CLOSE: u8 = 0x8;
pub(crate) const OP_PING: u8 = 0x9;
pub(crate) const OP_PONG: u8 = 0xA;

/// Encodes a frame. `rsv` is RSV1..3 as the low three bits; `mask` masks
/// the payload with [`MASK`] as a client must.
pub(crate) fn encode_frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let b0 = (u8::from(fin) << 7) | ((rsv & 7) << 4) | (opcode & 0x0f);
    frame_bytes(b0, payload, LenForm::Minimal, mask)
}

/// How a frame header writes its payload length (RFC 6455 §5.2): the
/// 7-bit field alone, or 126 and a 16-bit length, or 127 and a 64-bit one.
/// The RFC asks senders for the shortest; the longer ones are "non-minimal".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LenForm {
    /// The shortest encoding of the length.
    Minimal,
    /// 126 and a 16-bit length, whatever the length.
    Bits16,
    /// 127 and a 64-bit length, whatever the length.
    Bits64,
}

/// A frame header: first byte `b0` (FIN, RSV, opcode as given), the length
/// `len` written in `form`, then [`MASK`] if `mask`. Lets a test announce a
/// length and send less (or none) of the payload.
pub(crate) fn header_bytes(b0: u8, len: u64, form: LenForm, mask: bool) -> Vec<u8> {
    let mask_bit = if mask { 0x80 } else { 0 };
    let form = match form {
        LenForm::Minimal if len < 126 => None,
        LenForm::Minimal if len <= u64::from(u16::MAX) => Some(LenForm::Bits16),
        LenForm::Minimal => Some(LenForm::Bits64),
        other => Some(other),
    };
    let mut out = vec![b0];
    match form {
        None => out.push(mask_bit | len as u8),
        Some(LenForm::Bits16) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
        }
        Some(_) => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if mask {
        out.extend_from_slice(&MASK);
    }
    out
}

/// XORs `data` with [`MASK`] as payload bytes starting at `offset` in
/// their frame.
pub(crate) fn mask_in_place(data: &mut [u8], offset: usize) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= MASK[(offset + i) % 4];
    }
}

/// A masked frame with the first byte `b0` as given (so reserved opcodes
/// and bits go out unchanged) and its length written in `form`.
pub(crate) fn frame_as(b0: u8, payload: &[u8], form: LenForm) -> Vec<u8> {
    frame_bytes(b0, payload, form, true)
}

/// The header of [`header_bytes`], then `payload`, masked if `mask`.
fn frame_bytes(b0: u8, payload: &[u8], form: LenForm, mask: bool) -> Vec<u8> {
    let mut out = header_bytes(b0, payload.len() as u64, form, mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if mask {
        mask_in_place(&mut out[start..], 0);
    }
    out
}

/// The exact bytes of an unmasked final frame as the server sends it:
/// minimal length encoding, then the payload.
pub(crate) fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    encode_frame(true, 0, opcode, payload, false)
}

/// A masked, final, RSV-free frame: what a well-behaved client sends.
pub(crate) fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    encode_frame(true, 0, opcode, payload, true)
}

/// A close frame payload: code then reason.
pub(crate) fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}
