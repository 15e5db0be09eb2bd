//! Unit tests of [`Receiver`]: frames built by hand, fed whole and cut at
//! every position, against RFC 6455's rules and examples.

extern crate std;
use super::*;
use crate::close::CloseCode;
use std::string::String;
use std::vec::Vec;

const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// Builds a masked client frame from the first byte (FIN|RSV|opcode) and payload.
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let h = FrameHeader {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 7,
        opcode: OpCode::from_u8(b0 & 0x0F).unwrap_or(OpCode::Binary),
        mask: Some(KEY),
        payload_len: payload.len() as u64,
    };
    let mut out = [0u8; crate::frame::MAX_HEADER_LEN];
    let n = h.encode(&mut out);
    out[0] = b0; // keep reserved opcodes exactly as given
    let mut v = out[..n].to_vec();
    let mut p = payload.to_vec();
    apply_mask(&mut p, KEY, 0);
    v.extend_from_slice(&p);
    v
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Msg {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, String),
}

/// Feeds `input` in pieces ending at `cuts`, keeping leftovers as a real
/// caller would, and assembles whole messages.
fn run(input: &[u8], cuts: &[usize], max: u64) -> (Vec<Msg>, Option<ProtocolError>) {
    let mut rx = Receiver::new(Role::Server, max);
    let mut pending: Vec<u8> = Vec::new();
    let mut message: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    let ends = cuts.iter().copied().chain([input.len()]);
    for end in ends {
        pending.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            let d = match rx.decode(&mut pending) {
                Ok(d) => d,
                Err(e) => return (out, Some(e)),
            };
            let consumed = d.consumed;
            let got = d.event.is_some();
            match d.event {
                Some(Event::Data {
                    kind,
                    payload,
                    last,
                }) => {
                    message.extend_from_slice(payload);
                    if last {
                        let m = core::mem::take(&mut message);
                        out.push(match kind {
                            DataKind::Text => Msg::Text(String::from_utf8(m).unwrap()),
                            DataKind::Binary => Msg::Binary(m),
                        });
                    }
                }
                Some(Event::Ping(p)) => out.push(Msg::Ping(p.to_vec())),
                Some(Event::Pong(p)) => out.push(Msg::Pong(p.to_vec())),
                Some(Event::Close(c)) => out.push(Msg::Close(c.code.0, c.reason.into())),
                None => {}
            }
            pending.drain(..consumed);
            if consumed == 0 && !got {
                break;
            }
        }
    }
    (out, None)
}

fn whole(input: &[u8]) -> (Vec<Msg>, Option<ProtocolError>) {
    run(input, &[], 1 << 20)
}

#[test]
fn single_text_message() {
    let (msgs, err) = whole(&frame(0x81, b"Hello world :)"));
    assert_eq!(msgs, [Msg::Text("Hello world :)".into())]);
    assert_eq!(err, None);
}

#[test]
fn rfc_example_frames() {
    // §5.7: masked "Hello", then an unmasked ping is refused from a client.
    let (msgs, _) = whole(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    assert_eq!(msgs, [Msg::Text("Hello".into())]);
    assert_eq!(
        whole(b"\x89\x05Hello").1,
        Some(ProtocolError::UnmaskedFrame)
    );
}

#[test]
fn unmasked_client_frame_is_1002() {
    let (_, err) = whole(b"\x81\x02hi");
    assert_eq!(err, Some(ProtocolError::UnmaskedFrame));
    assert_eq!(err.unwrap().close_code(), CloseCode::PROTOCOL_ERROR);
}

#[test]
fn client_role_refuses_masked_frames() {
    let mut rx = Receiver::new(Role::Client, 100);
    let mut f = frame(0x81, b"x");
    assert_eq!(rx.decode(&mut f), Err(ProtocolError::MaskedFrame));
    let mut rx = Receiver::new(Role::Client, 100);
    let mut f = *b"\x81\x02ok";
    let d = rx.decode(&mut f).unwrap();
    assert_eq!(
        d.event,
        Some(Event::Data {
            kind: DataKind::Text,
            payload: b"ok",
            last: true
        })
    );
}

#[test]
fn rsv_bits_without_extension_are_1002() {
    for b0 in [0xC1u8, 0xA1, 0x91, 0xF1, 0xC9] {
        assert_eq!(
            whole(&frame(b0, b"x")).1,
            Some(ProtocolError::ReservedBits),
            "{b0:#x}"
        );
    }
}

#[test]
fn reserved_opcodes_are_1002() {
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let (_, err) = whole(&frame(0x80 | op, b""));
        assert_eq!(err, Some(ProtocolError::ReservedOpcode(op)));
        assert_eq!(err.unwrap().close_code(), CloseCode::PROTOCOL_ERROR);
    }
}

#[test]
fn control_frame_rules_are_1002() {
    assert_eq!(
        whole(&frame(0x89, &[0; 126])).1,
        Some(ProtocolError::ControlTooLong)
    );
    assert_eq!(
        whole(&frame(0x09, b"x")).1,
        Some(ProtocolError::FragmentedControl)
    );
    let (msgs, err) = whole(&frame(0x89, &[7; 125]));
    assert_eq!((msgs, err), (std::vec![Msg::Ping([7; 125].to_vec())], None));
}

#[test]
fn fragmented_message_with_interleaved_controls() {
    let mut input = frame(0x01, b"Hel");
    input.extend(frame(0x89, b"p1"));
    input.extend(frame(0x00, b"lo "));
    input.extend(frame(0x8A, b"p2"));
    input.extend(frame(0x80, b"world"));
    let (msgs, err) = whole(&input);
    assert_eq!(err, None);
    assert_eq!(
        msgs,
        [
            Msg::Ping(b"p1".to_vec()),
            Msg::Pong(b"p2".to_vec()),
            Msg::Text("Hello world".into())
        ]
    );
}

#[test]
fn continuation_without_start_is_1002() {
    assert_eq!(
        whole(&frame(0x80, b"x")).1,
        Some(ProtocolError::UnexpectedContinuation)
    );
    assert_eq!(
        whole(&frame(0x00, b"x")).1,
        Some(ProtocolError::UnexpectedContinuation)
    );
}

#[test]
fn new_message_inside_fragmented_one_is_1002() {
    let mut input = frame(0x01, b"a");
    input.extend(frame(0x81, b"b"));
    assert_eq!(whole(&input).1, Some(ProtocolError::ExpectedContinuation));
    let mut input = frame(0x02, b"a");
    input.extend(frame(0x02, b"b"));
    assert_eq!(whole(&input).1, Some(ProtocolError::ExpectedContinuation));
}

#[test]
fn one_byte_fragments_assemble() {
    let text = "añ€𐍈";
    let bytes = text.as_bytes();
    let mut input = Vec::new();
    for (i, b) in bytes.iter().enumerate() {
        let op = if i == 0 { 0x01 } else { 0x00 };
        let fin = if i + 1 == bytes.len() { 0x80 } else { 0 };
        input.extend(frame(op | fin, &[*b]));
    }
    assert_eq!(whole(&input), (std::vec![Msg::Text(text.into())], None));
}

#[test]
fn zero_length_messages_are_valid() {
    let mut input = frame(0x81, b"");
    input.extend(frame(0x82, b""));
    input.extend(frame(0x01, b""));
    input.extend(frame(0x80, b""));
    assert_eq!(
        whole(&input),
        (
            std::vec![
                Msg::Text("".into()),
                Msg::Binary(Vec::new()),
                Msg::Text("".into())
            ],
            None
        )
    );
}

#[test]
fn invalid_utf8_fails_mid_frame() {
    // The frame claims 100 bytes; the invalid byte is the 7th. Feeding only
    // the header and 7 payload bytes already fails.
    let mut payload = std::vec![b'a'; 100];
    payload[6] = 0xFF;
    let f = frame(0x81, &payload);
    let header_len = 2 + 2 + 4; // 100 bytes needs no extended length: 2 + 4
    let _ = header_len;
    let mut rx = Receiver::new(Role::Server, 1000);
    let mut part = f[..6 + 7].to_vec();
    assert_eq!(rx.decode(&mut part), Err(ProtocolError::InvalidUtf8));
    assert_eq!(
        ProtocolError::InvalidUtf8.close_code(),
        CloseCode::INVALID_PAYLOAD
    );
}

#[test]
fn invalid_utf8_fails_across_frames_before_the_message_ends() {
    // Fragment 1 ends with the lead byte of a 4-byte sequence; fragment 2
    // starts with a byte that cannot continue it. The error comes with
    // fragment 2, though the message has not ended.
    let mut input = frame(0x01, b"ok\xF4");
    input.extend(frame(0x00, b"\x90"));
    let (msgs, err) = whole(&input);
    assert!(msgs.is_empty());
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
}

#[test]
fn text_ending_inside_a_code_point_is_1007() {
    let mut input = frame(0x01, "€".as_bytes());
    input.extend(frame(0x80, b"\xE2\x82"));
    assert_eq!(whole(&input).1, Some(ProtocolError::InvalidUtf8));
}

#[test]
fn binary_is_not_utf8_checked() {
    assert_eq!(
        whole(&frame(0x82, b"\xFF\xFE")),
        (std::vec![Msg::Binary(std::vec![0xFF, 0xFE])], None)
    );
}

#[test]
fn close_frames() {
    let (msgs, err) = whole(&frame(0x88, b"\x03\xe8bye"));
    assert_eq!(
        (msgs, err),
        (std::vec![Msg::Close(1000, "bye".into())], None)
    );
    let (msgs, _) = whole(&frame(0x88, b""));
    assert_eq!(msgs, [Msg::Close(1005, String::new())]);
    assert_eq!(
        whole(&frame(0x88, b"\x03")).1,
        Some(ProtocolError::ClosePayloadTooShort)
    );
    assert_eq!(
        whole(&frame(0x88, b"\x03\xed")).1,
        Some(ProtocolError::InvalidCloseCode(1005))
    );
    assert_eq!(
        whole(&frame(0x88, b"\x03\xe8\xff")).1,
        Some(ProtocolError::InvalidCloseReason)
    );
}

#[test]
fn nothing_is_reported_after_close() {
    let mut input = frame(0x88, b"\x03\xe8");
    input.extend(frame(0x81, b"late"));
    input.extend(b"\xFF\xFF garbage");
    assert_eq!(
        whole(&input),
        (std::vec![Msg::Close(1000, String::new())], None)
    );
}

#[test]
fn over_limit_is_1009_from_the_header_alone() {
    let mut rx = Receiver::new(Role::Server, 10);
    // Header announcing 11 bytes, no payload yet.
    let mut h = *b"\x81\x8B\x00\x00\x00\x00";
    assert_eq!(rx.decode(&mut h), Err(ProtocolError::MessageTooLarge));
    assert_eq!(
        ProtocolError::MessageTooLarge.close_code(),
        CloseCode::MESSAGE_TOO_BIG
    );
    // A 64-bit length far beyond any limit.
    let mut rx = Receiver::new(Role::Server, 16 << 20);
    let mut h = *b"\x82\xFF\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    assert_eq!(rx.decode(&mut h), Err(ProtocolError::MessageTooLarge));
}

#[test]
fn limit_counts_the_whole_fragmented_message() {
    let mut input = frame(0x02, &[1; 6]);
    input.extend(frame(0x80, &[2; 5]));
    assert_eq!(run(&input, &[], 10).1, Some(ProtocolError::MessageTooLarge));
    assert_eq!(
        run(&input, &[], 11).0,
        [Msg::Binary([[1u8; 6].as_slice(), &[2; 5]].concat())]
    );
}

#[test]
fn sixty_four_bit_length_message_up_to_the_limit() {
    let payload = std::vec![0x5Au8; 70_000];
    let (msgs, err) = run(&frame(0x82, &payload), &[], 70_000);
    assert_eq!(err, None);
    assert_eq!(msgs, [Msg::Binary(payload)]);
}

#[test]
fn incomplete_input_consumes_nothing() {
    let f = frame(0x89, b"ping!");
    for cut in 0..f.len() {
        let mut rx = Receiver::new(Role::Server, 100);
        let mut part = f[..cut].to_vec();
        assert_eq!(
            rx.decode(&mut part),
            Ok(Decoded {
                consumed: 0,
                event: None
            })
        );
    }
}

fn mixed_stream() -> Vec<u8> {
    let mut input = frame(0x81, b"Hello world :)");
    input.extend(frame(0x01, "κό".as_bytes()));
    input.extend(frame(0x89, b"are you there"));
    input.extend(frame(0x80, "σμε".as_bytes()));
    input.extend(frame(0x82, &[0u8, 1, 2, 3, 255]));
    input.extend(frame(0x82, &[9u8; 300]));
    input.extend(frame(0x81, b""));
    input.extend(frame(0x8A, b""));
    input.extend(frame(0x88, b"\x03\xe9gone"));
    input
}

#[test]
fn split_at_every_position_gives_the_same_messages() {
    let input = mixed_stream();
    let expected = whole(&input);
    assert_eq!(expected.0.len(), 8);
    assert_eq!(expected.1, None);
    for cut in 0..=input.len() {
        assert_eq!(run(&input, &[cut], 1 << 20), expected, "cut at {cut}");
    }
    let every_byte: Vec<usize> = (1..input.len()).collect();
    assert_eq!(run(&input, &every_byte, 1 << 20), expected);
}

#[test]
fn errors_are_the_same_however_the_input_is_split() {
    let mut input = frame(0x81, b"fine");
    input.extend(frame(0x01, b"abc\xED"));
    input.extend(frame(0x80, b"\xA0\x80"));
    let expected = whole(&input);
    assert_eq!(expected.1, Some(ProtocolError::InvalidUtf8));
    for cut in 0..=input.len() {
        assert_eq!(run(&input, &[cut], 1 << 20), expected, "cut at {cut}");
    }
}
