//! The `receiver` target: frames in, messages out, however the bytes are split.
//!
//! Input: one flags byte, then either raw wire bytes or, structure-aware, a
//! stream of frames generated with `arbitrary`:
//!
//! - flags bit 0: 0 raw, 1 structured;
//! - flags bit 1: the receiver's role, 0 server (frames must be masked), 1 client;
//! - flags bits 2-4: the maximum message length, an index into [`MAX_LENS`].
//!
//! Raw: a byte `n` (taken modulo 16), `n` big-endian u16 split points, then
//! the bytes on the wire. Structured: the rest goes to [`Stream`].
//!
//! The bytes are fed to a `Receiver` whole, split at the given points and one
//! byte at a time, assembling messages like a caller; all three must agree.
//! For generated streams, the result must also match a model of RFC 6455
//! written from the frames rather than the bytes.

use arbitrary::{Arbitrary, Unstructured};
use pinsocket_core::{
    CloseCode, DataKind, Event, FrameHeader, MAX_CLOSE_REASON, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
    ProtocolError, Receiver, Role, Utf8Validator, apply_mask,
};

use super::cut_points;

/// Maximum message lengths a fuzz input can choose from.
pub(crate) const MAX_LENS: [u64; 8] = [0, 1, 125, 126, 1000, 65535, 65536, 1 << 20];

/// Inputs longer than this are not also fed one byte at a time.
const BYTEWISE_LIMIT: usize = 4096;

/// Generated streams stop growing past this many payload bytes.
const STREAM_LIMIT: usize = 256 << 10;

/// A whole message or control frame as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Msg {
    /// A text message, assembled.
    Text(String),
    /// A binary message, assembled.
    Binary(Vec<u8>),
    /// A ping's payload.
    Ping(Vec<u8>),
    /// A pong's payload.
    Pong(Vec<u8>),
    /// A close frame's code and reason.
    Close(u16, String),
}

/// Everything observable about feeding one input to a receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Complete messages, in order.
    pub(crate) msgs: Vec<Msg>,
    /// The error that ended the connection, if any.
    pub(crate) error: Option<ProtocolError>,
    /// Bytes the receiver left unconsumed at the end (0 after an error).
    pub(crate) leftover: usize,
    /// `Receiver::is_idle` at the end (false after an error).
    pub(crate) idle: bool,
    /// `Receiver::is_closed` at the end.
    pub(crate) closed: bool,
}

/// Feeds `input` to a new receiver in pieces ending at `cuts` (sorted), as a
/// caller would: unconsumed bytes stay buffered and the next piece is appended.
/// Checks the per-call invariants on the way.
pub(crate) fn feed(input: &[u8], cuts: &[usize], role: Role, max: u64) -> Outcome {
    let mut rx = Receiver::new(role, max);
    let mut pending: Vec<u8> = Vec::new();
    let mut message: Option<(DataKind, Vec<u8>)> = None;
    let mut msgs = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        assert!(start <= end && end <= input.len(), "bad cut {end}");
        pending.extend_from_slice(&input[start..end]);
        start = end;
        // Each call either consumes bytes or ends the round; a bound on the
        // number of calls turns a livelock into a failure.
        let mut calls_left = pending.len() + 2;
        loop {
            assert!(calls_left > 0, "decode keeps answering without progress");
            calls_left -= 1;
            let available = pending.len();
            let was_closed = rx.is_closed();
            let decoded = match rx.decode(&mut pending) {
                Ok(d) => d,
                Err(error) => {
                    assert!(!was_closed, "an error after the connection ended");
                    assert!(rx.is_closed(), "an error must end the connection");
                    return Outcome {
                        msgs,
                        error: Some(error),
                        leftover: 0,
                        idle: false,
                        closed: true,
                    };
                }
            };
            let consumed = decoded.consumed;
            assert!(
                consumed <= available,
                "consumed {consumed} of {available} bytes"
            );
            if was_closed {
                assert_eq!(decoded.event, None, "an event after the connection ended");
                assert_eq!(consumed, available, "input after the end must be dropped");
            }
            let Some(event) = decoded.event else {
                if consumed == 0 {
                    break;
                }
                pending.drain(..consumed);
                continue;
            };
            assert!(consumed > 0, "an event that consumed no bytes");
            match event {
                Event::Data {
                    kind,
                    payload,
                    last,
                } => {
                    let (k, buf) = message.get_or_insert_with(|| (kind, Vec::new()));
                    assert_eq!(*k, kind, "the message changed kind");
                    buf.extend_from_slice(payload);
                    assert!(buf.len() as u64 <= max, "a message over the limit");
                    if kind == DataKind::Text
                        && let Err(e) = std::str::from_utf8(buf)
                    {
                        assert!(e.error_len().is_none(), "text delivered with invalid UTF-8");
                    }
                    assert_eq!(rx.is_idle(), last, "is_idle after a data piece");
                    if last {
                        let (kind, buf) = message.take().unwrap();
                        msgs.push(match kind {
                            DataKind::Text => {
                                Msg::Text(String::from_utf8(buf).expect("text is valid UTF-8"))
                            }
                            DataKind::Binary => Msg::Binary(buf),
                            other => panic!("a data kind this check does not know: {other:?}"),
                        });
                    }
                }
                Event::Ping(p) => {
                    assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                    msgs.push(Msg::Ping(p.to_vec()));
                }
                Event::Pong(p) => {
                    assert!(p.len() <= MAX_CONTROL_PAYLOAD);
                    msgs.push(Msg::Pong(p.to_vec()));
                }
                Event::Close(c) => {
                    assert!(rx.is_closed(), "a close frame must end the connection");
                    assert!(c.code.is_sendable() || c.code == CloseCode::NO_STATUS);
                    assert!(c.reason.len() <= MAX_CLOSE_REASON);
                    msgs.push(Msg::Close(c.code.0, c.reason.to_owned()));
                }
                other => panic!("an event this check does not know: {other:?}"),
            }
            pending.drain(..consumed);
        }
    }
    Outcome {
        msgs,
        error: None,
        leftover: pending.len(),
        idle: rx.is_idle(),
        closed: rx.is_closed(),
    }
}

/// Feeds `wire` whole, split at `cuts` and (if short) byte by byte; all must
/// agree. Returns the whole-input outcome.
fn feed_three_ways(wire: &[u8], cuts: &[usize], role: Role, max: u64) -> Outcome {
    let whole = feed(wire, &[], role, max);
    let split = feed(wire, cuts, role, max);
    assert_eq!(split, whole, "split at {cuts:?} differs from whole");
    if wire.len() <= BYTEWISE_LIMIT {
        let every: Vec<usize> = (1..wire.len()).collect();
        assert_eq!(
            feed(wire, &every, role, max),
            whole,
            "byte by byte differs from whole"
        );
    }
    whole
}

/// Runs the `receiver` target's checks on one fuzz input.
pub(crate) fn check_receiver(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let role = if flags & 2 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let max = MAX_LENS[usize::from(flags >> 2) & 7];
    if flags & 1 == 0 {
        check_raw(rest, role, max);
    } else {
        check_structured(rest, role, max);
    }
}

fn check_raw(data: &[u8], role: Role, max: u64) {
    let (n, rest) = match data.split_first() {
        Some((&n, rest)) => (usize::from(n % 16), rest),
        None => (0, data),
    };
    let (cut_bytes, wire) = rest.split_at((2 * n).min(rest.len()));
    let raw_cuts: Vec<u16> = cut_bytes
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let cuts = cut_points(&raw_cuts, wire.len());
    feed_three_ways(wire, &cuts, role, max);
    check_header(wire);
    check_utf8(wire, &cuts);
    check_mask(wire, &cuts);
}

/// `FrameHeader::parse` on raw bytes: prefixes, lengths, and encode round trip.
fn check_header(wire: &[u8]) {
    match FrameHeader::parse(wire) {
        Ok(Some((h, n))) => {
            assert!((2..=MAX_HEADER_LEN).contains(&n) && n <= wire.len());
            assert!(h.rsv <= 7 && h.payload_len >> 63 == 0);
            for p in 0..n {
                assert_eq!(FrameHeader::parse(&wire[..p]), Ok(None), "prefix {p}");
            }
            let mut out = [0u8; MAX_HEADER_LEN];
            let m = h.encode(&mut out);
            assert_eq!(m, h.encoded_len());
            assert!(m <= n, "the minimal encoding is longer than the parsed one");
            assert_eq!(FrameHeader::parse(&out[..m]), Ok(Some((h, m))));
            if m == n {
                assert_eq!(&out[..m], &wire[..n], "same length, other bytes");
            }
        }
        Ok(None) => assert!(wire.len() < MAX_HEADER_LEN),
        Err(_) => assert!(wire.len() >= 2),
    }
}

/// The validator, fed `bytes` in pieces, agrees with `core::str::from_utf8`
/// and fails at the first piece that makes the bytes so far impossible.
pub(crate) fn check_utf8(bytes: &[u8], cuts: &[usize]) {
    let mut v = Utf8Validator::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([bytes.len()]) {
        let fed = v.feed(&bytes[start..end]);
        let core = std::str::from_utf8(&bytes[..end]);
        match fed {
            Ok(()) => {
                assert!(
                    core.as_ref().err().is_none_or(|e| e.error_len().is_none()),
                    "accepted invalid UTF-8 up to {end}"
                );
                assert_eq!(v.is_complete(), core.is_ok());
            }
            Err(_) => {
                assert!(
                    core.err().is_some_and(|e| e.error_len().is_some()),
                    "refused valid UTF-8 up to {end}"
                );
                return;
            }
        }
        start = end;
    }
    assert_eq!(v.finish().is_ok(), std::str::from_utf8(bytes).is_ok());
    assert!(v.is_complete(), "finish resets the validator");
}

/// `apply_mask` in pieces equals the byte-wise definition (§5.3).
fn check_mask(bytes: &[u8], cuts: &[usize]) {
    let key = match bytes {
        [a, b, c, d, ..] => [*a, *b, *c, *d],
        _ => [0x37, 0xfa, 0x21, 0x3d],
    };
    let expected: Vec<u8> = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    let mut data = bytes.to_vec();
    let mut start = 0;
    for end in cuts.iter().copied().chain([bytes.len()]) {
        apply_mask(&mut data[start..end], key, start);
        start = end;
    }
    assert_eq!(data, expected);
}

/// A generated stream: frames, then raw bytes, and where to split.
#[derive(Debug, Arbitrary)]
pub(crate) struct Stream {
    pieces: Vec<Piece>,
    tail: Vec<u8>,
    cuts: Vec<u16>,
}

#[derive(Debug, Arbitrary)]
enum Piece {
    /// One frame, its fields mostly valid.
    Frame(FrameSpec),
    /// A message cut into fragments anywhere (inside code points too),
    /// perhaps with a ping between fragments and one byte replaced.
    Fragmented(FragmentedSpec),
}

#[derive(Debug, Arbitrary)]
struct FrameSpec {
    /// FIN unless 0xE0 or more.
    fin: u8,
    /// No RSV bits unless 0xF8 or more, then the low three.
    rsv: u8,
    /// Below 0xA0: a data frame that fits (text or binary, or continuation
    /// inside a message); below 0xD0: a control frame; below 0xF0 any valid
    /// opcode; else the low four bits, reserved ones included.
    opcode: u8,
    /// The mask the role asks for, unless 0xF8 or more.
    wrong_mask: u8,
    key: [u8; 4],
    /// Below 0xE0 the minimal length encoding; then 16-bit, 64-bit, and from
    /// 0xF8 a 64-bit length of `declared | 1 << 32` that the payload does not
    /// match (always refused before the payload).
    len: u8,
    declared: u64,
    payload: PayloadSpec,
}

#[derive(Debug, Arbitrary)]
enum PayloadSpec {
    Bytes(Vec<u8>),
    Text(String),
    Close { code: u16, reason: String },
    Repeat { byte: u8, len: u16 },
}

#[derive(Debug, Arbitrary)]
struct FragmentedSpec {
    text: String,
    binary: bool,
    cuts: Vec<u16>,
    ping_after: Option<u8>,
    replace: Option<(u16, u8)>,
    key: [u8; 4],
}

/// Close codes worth trying, valid and not.
const CLOSE_CODES: [u16; 18] = [
    1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1011, 1012, 1014, 1015, 1016, 2999, 3000, 4999,
    5000, 0,
];

/// How a frame's length is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LenField {
    Minimal,
    Ext16,
    Ext64,
    /// A 64-bit length unrelated to the payload.
    Declared(u64),
}

/// One frame as it goes on the wire.
#[derive(Debug, Clone)]
struct WireFrame {
    fin: bool,
    rsv: u8,
    /// Four bits, reserved values included.
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: LenField,
    /// Unmasked.
    payload: Vec<u8>,
}

impl WireFrame {
    /// The 7-bit length field and the length it announces.
    fn lengths(&self) -> (u8, u64) {
        let n = self.payload.len() as u64;
        match self.len {
            LenField::Minimal if n <= 125 => (n as u8, n),
            LenField::Minimal | LenField::Ext16 if n <= 0xFFFF => (126, n),
            LenField::Declared(d) => (127, d),
            _ => (127, n),
        }
    }

    /// Writes the frame with our own encoder, independent of `FrameHeader::encode`.
    fn encode(&self, out: &mut Vec<u8>) {
        out.push((u8::from(self.fin) << 7) | ((self.rsv & 7) << 4) | (self.opcode & 0x0F));
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let (len7, announced) = self.lengths();
        out.push(mask_bit | len7);
        match len7 {
            126 => out.extend_from_slice(&(announced as u16).to_be_bytes()),
            127 => out.extend_from_slice(&announced.to_be_bytes()),
            _ => {}
        }
        match self.mask {
            Some(key) => {
                out.extend_from_slice(&key);
                out.extend(self.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => out.extend_from_slice(&self.payload),
        }
    }
}

fn role_mask(role: Role, wrong: bool, key: [u8; 4]) -> Option<[u8; 4]> {
    match (role, wrong) {
        (Role::Server, false) | (Role::Client, true) => Some(key),
        _ => None,
    }
}

/// Turns the generated pieces into frames.
fn expand(pieces: &[Piece], role: Role) -> Vec<WireFrame> {
    let mut frames = Vec::new();
    let mut in_message = false;
    let mut total = 0;
    for piece in pieces {
        if total > STREAM_LIMIT {
            break;
        }
        match piece {
            Piece::Frame(spec) => {
                let f = frame(spec, role, in_message);
                if f.opcode < 8 {
                    in_message = !f.fin;
                }
                total += f.payload.len();
                frames.push(f);
            }
            Piece::Fragmented(spec) => {
                let mut bytes = spec.text.as_bytes().to_vec();
                if let (Some((at, b)), false) = (spec.replace, bytes.is_empty()) {
                    let at = usize::from(at) % bytes.len();
                    bytes[at] = b;
                }
                let mut ends = cut_points(&spec.cuts, bytes.len());
                ends.retain(|&c| c > 0 && c < bytes.len());
                ends.push(bytes.len());
                let ping_after = spec.ping_after.map(|p| usize::from(p) % ends.len());
                let mut start = 0;
                for (i, &end) in ends.iter().enumerate() {
                    let opcode = match (i, spec.binary) {
                        (0, false) => 1,
                        (0, true) => 2,
                        _ => 0,
                    };
                    frames.push(WireFrame {
                        fin: end == bytes.len(),
                        rsv: 0,
                        opcode,
                        mask: role_mask(role, false, spec.key),
                        len: LenField::Minimal,
                        payload: bytes[start..end].to_vec(),
                    });
                    if ping_after == Some(i) {
                        frames.push(WireFrame {
                            fin: true,
                            rsv: 0,
                            opcode: 9,
                            mask: role_mask(role, false, spec.key),
                            len: LenField::Minimal,
                            payload: b"between".to_vec(),
                        });
                    }
                    start = end;
                }
                total += bytes.len();
                in_message = false;
            }
        }
    }
    frames
}

fn frame(spec: &FrameSpec, role: Role, in_message: bool) -> WireFrame {
    let fin = spec.fin < 0xE0;
    let opcode = match spec.opcode {
        0x00..=0x9F if in_message => 0,
        0x00..=0x9F => 1 + (spec.opcode & 1),
        0xA0..=0xCF => [8, 9, 10][usize::from(spec.opcode % 3)],
        0xD0..=0xEF => [0, 1, 2, 8, 9, 10][usize::from(spec.opcode % 6)],
        _ => spec.opcode & 0x0F,
    };
    let mut payload = match &spec.payload {
        PayloadSpec::Bytes(b) => b.clone(),
        PayloadSpec::Text(s) => s.as_bytes().to_vec(),
        PayloadSpec::Close { code, reason } => {
            let code = if *code < 0x8000 {
                CLOSE_CODES[usize::from(*code) % CLOSE_CODES.len()]
            } else {
                *code
            };
            let mut p = code.to_be_bytes().to_vec();
            p.extend_from_slice(reason.as_bytes());
            p
        }
        PayloadSpec::Repeat { byte, len } => vec![*byte; usize::from(*len)],
    };
    // Control frames keep to 125 bytes, unless the length byte is odd.
    if opcode >= 8 && spec.len & 1 == 0 {
        payload.truncate(MAX_CONTROL_PAYLOAD);
    }
    let len = match spec.len {
        0x00..=0xDF => LenField::Minimal,
        0xE0..=0xEF => LenField::Ext16,
        0xF0..=0xF7 => LenField::Ext64,
        _ => LenField::Declared(spec.declared | 1 << 32),
    };
    WireFrame {
        // Control frames are final unless `fin` is 0xFC or more.
        fin: if opcode >= 8 { spec.fin < 0xFC } else { fin },
        rsv: if spec.rsv >= 0xF8 { spec.rsv & 7 } else { 0 },
        opcode,
        mask: role_mask(role, spec.wrong_mask >= 0xF8, spec.key),
        len,
        payload,
    }
}

/// What RFC 6455 (and this receiver's order of checks) makes of `frames`.
struct Model {
    msgs: Vec<Msg>,
    error: Option<ProtocolError>,
    /// A close frame or an error ended the connection.
    ended: bool,
    /// No message is in progress after the last frame.
    idle: bool,
}

fn model(frames: &[WireFrame], role: Role, max: u64) -> Model {
    let mut msgs = Vec::new();
    let mut current: Option<(bool, Vec<u8>)> = None;
    let fail = |msgs: Vec<Msg>, e: ProtocolError| Model {
        msgs,
        error: Some(e),
        ended: true,
        idle: false,
    };
    for f in frames {
        let op = f.opcode;
        if !matches!(op, 0 | 1 | 2 | 8 | 9 | 10) {
            return fail(msgs, ProtocolError::ReservedOpcode(op));
        }
        let control = op >= 8;
        let (len7, announced) = f.lengths();
        if control && !f.fin {
            return fail(msgs, ProtocolError::FragmentedControl);
        }
        if control && len7 > 125 {
            return fail(msgs, ProtocolError::ControlTooLong);
        }
        if announced >> 63 != 0 {
            return fail(msgs, ProtocolError::InvalidLength);
        }
        match (role, f.mask) {
            (Role::Server, None) => return fail(msgs, ProtocolError::UnmaskedFrame),
            (Role::Client, Some(_)) => return fail(msgs, ProtocolError::MaskedFrame),
            _ => {}
        }
        if f.rsv != 0 {
            return fail(msgs, ProtocolError::ReservedBits);
        }
        if control {
            match op {
                9 => msgs.push(Msg::Ping(f.payload.clone())),
                10 => msgs.push(Msg::Pong(f.payload.clone())),
                _ => match close_model(&f.payload) {
                    Ok((code, reason)) => {
                        msgs.push(Msg::Close(code, reason));
                        return Model {
                            msgs,
                            error: None,
                            ended: true,
                            idle: current.is_none(),
                        };
                    }
                    Err(e) => return fail(msgs, e),
                },
            }
            continue;
        }
        let so_far = match (op, &current) {
            (0, Some((_, buf))) => buf.len() as u64,
            (0, None) => return fail(msgs, ProtocolError::UnexpectedContinuation),
            (_, Some(_)) => return fail(msgs, ProtocolError::ExpectedContinuation),
            (_, None) => 0,
        };
        if so_far.saturating_add(announced) > max {
            return fail(msgs, ProtocolError::MessageTooLarge);
        }
        assert!(
            !matches!(f.len, LenField::Declared(_)),
            "model: a declared length passed"
        );
        let (text, buf) = current.get_or_insert_with(|| (op == 1, Vec::new()));
        buf.extend_from_slice(&f.payload);
        if *text
            && let Err(e) = std::str::from_utf8(buf)
            && (e.error_len().is_some() || f.fin)
        {
            return fail(msgs, ProtocolError::InvalidUtf8);
        }
        if f.fin {
            let (text, buf) = current.take().unwrap();
            msgs.push(if text {
                Msg::Text(String::from_utf8(buf).unwrap())
            } else {
                Msg::Binary(buf)
            });
        }
    }
    Model {
        msgs,
        error: None,
        ended: false,
        idle: current.is_none(),
    }
}

/// A close payload per §5.5.1 and §7.4.1 (with 1012-1014 from the IANA registry).
fn close_model(p: &[u8]) -> Result<(u16, String), ProtocolError> {
    match p {
        [] => Ok((1005, String::new())),
        [_] => Err(ProtocolError::ClosePayloadTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                return Err(ProtocolError::InvalidCloseCode(code));
            }
            let reason =
                std::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
            Ok((code, reason.to_owned()))
        }
    }
}

fn check_structured(data: &[u8], role: Role, max: u64) {
    let Ok(stream) = Stream::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let frames = expand(&stream.pieces, role);
    let mut wire = Vec::new();
    for f in &frames {
        f.encode(&mut wire);
    }
    wire.extend_from_slice(&stream.tail);
    let cuts = cut_points(&stream.cuts, wire.len());
    let got = feed_three_ways(&wire, &cuts, role, max);
    let want = model(&frames, role, max);
    if want.ended || stream.tail.is_empty() {
        assert_eq!(got.msgs, want.msgs, "messages differ from the model");
        assert_eq!(got.error, want.error, "error differs from the model");
        if want.error.is_none() {
            assert_eq!(got.leftover, 0, "complete frames left bytes");
            assert_eq!(got.closed, want.ended);
            if !want.ended {
                assert_eq!(got.idle, want.idle);
            }
        }
    } else {
        assert!(
            got.msgs.starts_with(&want.msgs),
            "bytes after the frames changed the frames' messages"
        );
    }
}
