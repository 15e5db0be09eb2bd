//! Property tests of the protocol core: encode→decode identities, chunking
//! invariance of the frame receiver and the request-head parser, and the
//! UTF-8 validator against `core::str::from_utf8`.
//!
//! Case counts are kept modest so `cargo test -p pinsocket-core` stays fast;
//! the fuzz targets in `fuzz/` search the same ground for longer.
#![allow(clippy::unwrap_used)]

mod fuzz_checks;

use fuzz_checks::{Msg, check_command, check_utf8, cut_points, feed};
use pinsocket_core::{
    Close, CloseCode, EMPTY_HEADER, FrameHeader, HeadLimits, MAX_CLOSE_REASON, MAX_HEADER_LEN,
    OpCode, Role, apply_mask, encode_close_payload, parse_request,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures print their minimal input; nothing is written to the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Payload lengths around every encoding boundary, and anywhere below 2^63.
fn payload_len() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..=130,
        0xFFF0u64..=0x1_0010,
        0u64..(1 << 63),
        Just((1u64 << 63) - 1),
    ]
}

/// Any header `FrameHeader::parse` accepts.
fn header() -> impl Strategy<Value = FrameHeader> {
    let data_op = prop_oneof![
        Just(OpCode::Continuation),
        Just(OpCode::Text),
        Just(OpCode::Binary),
    ];
    let control_op = prop_oneof![Just(OpCode::Close), Just(OpCode::Ping), Just(OpCode::Pong)];
    let data = (
        any::<bool>(),
        0u8..8,
        data_op,
        any::<Option<[u8; 4]>>(),
        payload_len(),
    )
        .prop_map(|(fin, rsv, opcode, mask, payload_len)| FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len,
        });
    let control = (0u8..8, control_op, any::<Option<[u8; 4]>>(), 0u64..=125).prop_map(
        |(rsv, opcode, mask, payload_len)| FrameHeader {
            fin: true,
            rsv,
            opcode,
            mask,
            payload_len,
        },
    );
    prop_oneof![3 => data, 1 => control]
}

/// A frame on the wire: header by `FrameHeader::encode`, payload masked with `key`.
fn wire_frame(b0: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 7,
        opcode: OpCode::Binary,
        mask: key,
        payload_len: payload.len() as u64,
    };
    let mut out = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut out);
    // The first byte as given, reserved opcodes included.
    out[0] = b0;
    let mut frame = out[..n].to_vec();
    let start = frame.len();
    frame.extend_from_slice(payload);
    if let Some(key) = key {
        apply_mask(&mut frame[start..], key, 0);
    }
    frame
}

/// One whole message or control frame and what a receiver should make of it.
fn message() -> impl Strategy<Value = (u8, Vec<u8>, Msg)> {
    prop_oneof![
        any::<String>().prop_map(|s| (0x81, s.clone().into_bytes(), Msg::Text(s))),
        vec(any::<u8>(), 0..300).prop_map(|b| (0x82, b.clone(), Msg::Binary(b))),
        vec(any::<u8>(), 0..=125).prop_map(|b| (0x89, b.clone(), Msg::Ping(b))),
        vec(any::<u8>(), 0..=125).prop_map(|b| (0x8A, b.clone(), Msg::Pong(b))),
        (close_code(), "[a-zA-Z0-9 é€𐍈]{0,30}").prop_map(|(code, reason)| {
            let mut p = code.0.to_be_bytes().to_vec();
            p.extend_from_slice(reason.as_bytes());
            (0x88, p, Msg::Close(code.0, reason))
        }),
        Just((0x88, Vec::new(), Msg::Close(1005, String::new()))),
    ]
}

fn close_code() -> impl Strategy<Value = CloseCode> {
    prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999].prop_map(CloseCode)
}

/// Frames for the chunking test: mostly valid, some broken in every way the
/// receiver refuses, some plain garbage.
fn any_frames() -> impl Strategy<Value = Vec<u8>> {
    let key = any::<[u8; 4]>();
    prop_oneof![
        // A whole message or control frame.
        4 => (message(), key).prop_map(|((b0, p, _), k)| wire_frame(b0, Some(k), &p)),
        // A text message fragmented anywhere, code points included, with a
        // ping in the middle.
        2 => (any::<String>(), vec(any::<u16>(), 0..4), key).prop_map(|(s, cuts, k)| {
            let bytes = s.as_bytes();
            let mut ends = cut_points(&cuts, bytes.len());
            ends.retain(|&c| c > 0 && c < bytes.len());
            ends.push(bytes.len());
            let mut out = Vec::new();
            let mut start = 0;
            for (i, &end) in ends.iter().enumerate() {
                let op = if i == 0 { 0x01 } else { 0x00 };
                let fin = if end == bytes.len() { 0x80 } else { 0 };
                out.extend(wire_frame(op | fin, Some(k), &bytes[start..end]));
                if i == 0 {
                    out.extend(wire_frame(0x89, Some(k), b"mid"));
                }
                start = end;
            }
            out
        }),
        // Any first byte (reserved opcodes and bits, fragments out of order).
        2 => (any::<u8>(), vec(any::<u8>(), 0..140), key)
            .prop_map(|(b0, p, k)| wire_frame(b0, Some(k), &p)),
        // Not masked.
        1 => (message(), Just(())).prop_map(|((b0, p, _), ())| wire_frame(b0, None, &p)),
        // Invalid UTF-8 somewhere in a text frame.
        1 => (vec(any::<u8>(), 1..40), key)
            .prop_map(|(p, k)| wire_frame(0x81, Some(k), &p)),
        // Garbage.
        1 => vec(any::<u8>(), 0..6),
    ]
}

/// Bytes that are often almost UTF-8.
fn utf8ish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<String>().prop_map(String::into_bytes),
        (any::<String>(), any::<usize>(), any::<u8>()).prop_map(|(s, at, b)| {
            let mut v = s.into_bytes();
            if !v.is_empty() {
                let at = at % v.len();
                v[at] = b;
            }
            v
        }),
        vec(any::<u8>(), 0..64),
        vec(prop_oneof![0u8..0x80, 0x80u8..0xC0, 0xC0u8..=0xFF], 0..32),
    ]
}

/// A well-formed request head (and its parts) a client might send.
fn request_head() -> impl Strategy<Value = (Vec<u8>, String, String, u8, Vec<(String, String)>)> {
    (
        prop_oneof![
            Just("GET".to_owned()),
            Just("POST".to_owned()),
            "[A-Z]{1,12}"
        ],
        "/[a-zA-Z0-9._~/?=&%-]{0,60}",
        0u8..=1,
        vec(("[A-Za-z][A-Za-z0-9-]{0,20}", "([!-~]+( [!-~]+)*)?"), 0..10),
        any::<bool>(),
    )
        .prop_map(|(method, target, minor, headers, crlf)| {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut head = format!("{method} {target} HTTP/1.{minor}{eol}");
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}{eol}"));
            }
            head.push_str(eol);
            (head.into_bytes(), method, target, minor, headers)
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// `FrameHeader::encode` then `parse` gives the header back, whatever
    /// follows it, and no strict prefix parses.
    #[test]
    fn frame_header_encode_parse_identity(h in header(), after in vec(any::<u8>(), 0..8)) {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut out);
        prop_assert_eq!(n, h.encoded_len());
        prop_assert_eq!(FrameHeader::parse(&out[..n]), Ok(Some((h, n))));
        let mut longer = out[..n].to_vec();
        longer.extend_from_slice(&after);
        prop_assert_eq!(FrameHeader::parse(&longer), Ok(Some((h, n))));
        for p in 0..n {
            prop_assert_eq!(FrameHeader::parse(&out[..p]), Ok(None));
        }
    }

    /// `encode_close_payload` then `Close::parse` gives the code back, and the
    /// reason cut to 123 bytes on a character boundary.
    #[test]
    fn close_payload_encode_parse_identity(code in close_code(), reason in any::<String>()) {
        let mut out = [0u8; 125];
        let n = encode_close_payload(code, &reason, &mut out);
        let mut end = reason.len().min(MAX_CLOSE_REASON);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        prop_assert_eq!(n, 2 + end);
        prop_assert_eq!(Close::parse(&out[..n]), Ok(Close { code, reason: &reason[..end] }));
    }
}

proptest! {
    #![proptest_config(config(128))]

    /// A masked client frame built from a random message, decoded by a server
    /// receiver, gives the message back; unmasked, so does a client receiver.
    #[test]
    fn frames_decode_to_their_payload(
        (b0, payload, msg) in message(),
        key in any::<[u8; 4]>(),
        cuts in vec(any::<u16>(), 0..4),
    ) {
        for (role, mask) in [(Role::Server, Some(key)), (Role::Client, None)] {
            let wire = wire_frame(b0, mask, &payload);
            let cuts = cut_points(&cuts, wire.len());
            let got = feed(&wire, &cuts, role, 1 << 20);
            prop_assert_eq!(&got.msgs, std::slice::from_ref(&msg));
            prop_assert_eq!(got.error, None);
            prop_assert_eq!(got.leftover, 0);
        }
    }

    /// Valid and invalid frames, split anywhere: exactly the messages and the
    /// error of feeding the bytes whole, and of feeding them byte by byte.
    #[test]
    fn chunking_does_not_change_messages_or_errors(
        frames in vec(any_frames(), 0..12),
        cuts in vec(any::<u16>(), 0..12),
        max in prop_oneof![Just(0u64), Just(10), Just(1 << 20)],
    ) {
        let wire = frames.concat();
        let whole = feed(&wire, &[], Role::Server, max);
        let cuts = cut_points(&cuts, wire.len());
        prop_assert_eq!(&feed(&wire, &cuts, Role::Server, max), &whole);
        let every: Vec<usize> = (1..wire.len()).collect();
        prop_assert_eq!(&feed(&wire, &every, Role::Server, max), &whole);
    }

    /// The UTF-8 validator, fed random bytes in random pieces (and byte by
    /// byte), agrees with `core::str::from_utf8` and fails at the first
    /// impossible byte.
    #[test]
    fn utf8_validator_agrees_with_core(bytes in utf8ish(), cuts in vec(any::<u16>(), 0..8)) {
        check_utf8(&bytes, &cut_points(&cuts, bytes.len()));
        let every: Vec<usize> = (1..bytes.len()).collect();
        check_utf8(&bytes, &every);
    }

    /// A request head, with a body after it: every strict prefix is
    /// incomplete, then the whole head parses to what was sent.
    #[test]
    fn request_head_split_anywhere(
        (head, method, target, minor, headers) in request_head(),
        body in vec(any::<u8>(), 0..16),
    ) {
        let limits = HeadLimits::default();
        let mut buf = head.clone();
        buf.extend_from_slice(&body);
        for p in 0..head.len() {
            let mut slots = [EMPTY_HEADER; 16];
            prop_assert!(matches!(parse_request(&buf[..p], &mut slots, &limits), Ok(None)), "prefix {}", p);
        }
        let mut slots = [EMPTY_HEADER; 16];
        let (req, n) = parse_request(&buf, &mut slots, &limits).unwrap().unwrap();
        prop_assert_eq!(n, head.len());
        prop_assert_eq!(req.method, method);
        prop_assert_eq!(req.target, target);
        prop_assert_eq!(req.minor_version, minor);
        let got: Vec<(&str, &[u8])> = req.headers.iter().map(|h| (h.name, h.value)).collect();
        let sent: Vec<(&str, &[u8])> =
            headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
        prop_assert_eq!(got, sent);
    }

    /// The command target's checks (parse, resolve, and the JSON encoders,
    /// read back with serde_json) on generated commands and free text.
    #[test]
    fn command_checks_hold(
        levels in any::<u8>(),
        name in prop_oneof![
            Just("led".to_owned()),
            Just("button".to_owned()),
            Just("Relay_2".to_owned()),
            "[a-zA-Z_ ]{0,10}",
        ],
        high in any::<bool>(),
        level in prop_oneof![
            Just("true"),
            Just("false"),
            Just(r#""high""#),
            Just(r#""low""#),
            Just(r#""High""#),
            Just(r#""on""#),
            Just(r#""hig\u0068""#),
            Just(r#""lo\w""#),
            Just("1"),
        ],
        pins in 0usize..20,
        n in any::<f64>().prop_filter("finite", |n| n.is_finite()),
        text in any::<String>(),
        which in 0u8..8,
    ) {
        let list = |key: &str| {
            let mut pairs = vec![format!(r#""{name}":{level}"#)];
            pairs.extend((1..pins).map(|i| format!(r#""p{i}":{high}"#)));
            format!(r#"{{"{key}":{{{}}}}}"#, pairs.join(","))
        };
        let msg = match which {
            0 => format!(r#"{{"set":{{"{name}":{high},"fan":{}}}}}"#, !high),
            1 => format!(r#"{{"toggle":"{name}"}}"#),
            2 => format!(r#"{{"ping":{n:e}}}"#),
            3 => format!("{name}{}", if high { "On" } else { "OFF" }),
            4 => list("set"),
            5 => list("simulate"),
            6 => format!(r#"{{"simulate":{{"{name}":{level},"door":{level}}}}}"#),
            _ => text,
        };
        let mut input = vec![levels];
        input.extend_from_slice(msg.as_bytes());
        check_command(&input);
    }
}
