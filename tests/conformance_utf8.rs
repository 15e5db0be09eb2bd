//! RFC 6455 §5.6 and §8.1 (text must be UTF-8) on the wire, against the
//! echo server of `examples/echo`: valid multi-byte text is echoed exactly,
//! every class of invalid sequence (stray continuation bytes, overlong
//! forms, surrogates, code points above U+10FFFF, truncation) fails the
//! connection with 1007, and it fails fast: in the middle of a frame whose
//! rest has not arrived, and across frame boundaries before the message
//! ends.
//!
//! One invalid two-byte sequence, a code point cut across a final fragment
//! and "café" split across fragments are in `tests/protocol.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    LenForm, OP_BINARY, OP_CONT, OP_TEXT, RawWs, echo_server, encode_frame, expect_failure,
    header_bytes, mask_in_place, server_frame,
};

/// Invalid UTF-8, each with what makes it so.
const INVALID: &[(&str, &[u8])] = &[
    ("lone continuation byte 0x80", b"\x80"),
    ("lone continuation byte 0xBF", b"a\xBF"),
    ("continuation bytes after ASCII", b"abc\x80\x80"),
    ("overlong '/' in two bytes", b"\xC0\xAF"),
    ("overlong U+007F in two bytes", b"\xC1\xBF"),
    ("overlong NUL in two bytes", b"\xC0\x80"),
    ("overlong '/' in three bytes", b"\xE0\x80\xAF"),
    ("overlong U+07FF in three bytes", b"\xE0\x9F\xBF"),
    ("overlong '/' in four bytes", b"\xF0\x80\x80\xAF"),
    ("overlong U+FFFF in four bytes", b"\xF0\x8F\xBF\xBF"),
    ("five-byte form", b"\xF8\x88\x80\x80\x80"),
    ("six-byte form", b"\xFC\x84\x80\x80\x80\x80"),
    ("high surrogate U+D800", b"\xED\xA0\x80"),
    ("high surrogate U+DBFF", b"\xED\xAF\xBF"),
    ("low surrogate U+DC00", b"\xED\xB0\x80"),
    ("low surrogate U+DFFF", b"\xED\xBF\xBF"),
    ("surrogate pair (CESU-8)", b"\xED\xA0\x80\xED\xB0\x80"),
    ("U+110000", b"\xF4\x90\x80\x80"),
    ("U+13FFFF", b"\xF4\xBF\xBF\xBF"),
    ("U+1FFFFF", b"\xF7\xBF\xBF\xBF"),
    ("lead byte 0xF5", b"\xF5\x80\x80\x80"),
    ("byte 0xFE", b"\xFE"),
    ("byte 0xFF", b"\xFF"),
    ("two-byte sequence cut short", b"ab\xC3"),
    ("three-byte sequence cut short", b"\xE2\x82"),
    ("four-byte sequence cut short", b"\xF0\x9F\x98"),
    ("lead byte then ASCII", b"\xC3("),
    (
        "\"κόσμε\" then a surrogate",
        b"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80edited",
    ),
];

#[tokio::test]
async fn valid_multi_byte_text_is_echoed_exactly() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    for text in [
        "",
        "\0",
        "κόσμε",
        "\u{80}\u{7FF}",
        "\u{800}\u{FFFF}",
        "\u{D7FF}\u{E000}",
        "\u{FEFF}byte order mark",
        "\u{FFFD}\u{FFFE}",
        "\u{10000}\u{10FFFF}",
        "𝄞 music, 😀 emoji, 中文, עברית, русский",
    ] {
        ws.expect_echo(OP_TEXT, text.as_bytes()).await;
    }
    // Binary is never checked as text.
    ws.expect_echo(OP_BINARY, b"\xFF\xFE\xED\xA0\x80\xC0\xAF")
        .await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn every_kind_of_invalid_utf8_is_1007() {
    let server = echo_server();
    let addr = server.local_addr();
    for (what, bytes) in INVALID {
        // As one frame...
        let frame = encode_frame(true, 0, OP_TEXT, bytes, true);
        expect_failure(addr, what, &frame, 1007).await;
        // ...and byte by byte in one-byte fragments.
        let mut frames = Vec::new();
        for (i, b) in bytes.iter().enumerate() {
            let opcode = if i == 0 { OP_TEXT } else { OP_CONT };
            frames.extend(encode_frame(i + 1 == bytes.len(), 0, opcode, &[*b], true));
        }
        expect_failure(addr, &format!("{what}, 1-byte fragments"), &frames, 1007).await;
    }
    server.shutdown();
}

#[tokio::test]
async fn invalid_utf8_fails_in_the_middle_of_a_frame() {
    let server = echo_server();
    let addr = server.local_addr();
    // The header announces 1 MiB; only the first bytes follow. The close
    // must come at once, not after the rest of the frame.
    for (what, start) in [
        ("0xFF", &b"abc\xFF"[..]),
        ("a surrogate", b"abc\xED\xA0"),
        ("an overlong form", b"\xE0\x80"),
        ("above U+10FFFF", b"\xF4\x90"),
    ] {
        let mut bytes = header_bytes(0x80 | OP_TEXT, 1 << 20, LenForm::Minimal, true);
        let mut payload = start.to_vec();
        mask_in_place(&mut payload, 0);
        bytes.extend(payload);
        expect_failure(addr, &format!("{what} in a 1 MiB frame"), &bytes, 1007).await;
    }
    server.shutdown();
}

#[tokio::test]
async fn invalid_utf8_fails_across_frames_before_the_message_ends() {
    let server = echo_server();
    let addr = server.local_addr();
    for (what, first, second) in [
        // Each fragment could begin or end valid text; together they cannot.
        ("lead byte, then ASCII", &b"ok\xC3"[..], &b"("[..]),
        (
            "F4 lead, then a byte above U+10FFFF",
            b"ok\xF4",
            b"\x90\x80\x80",
        ),
        ("ED lead, then a surrogate", b"\xED", b"\xA0\x80"),
        ("E0 lead, then an overlong form", b"\xE0", b"\x80\xAF"),
        (
            "a cut sequence, then a new lead",
            b"\xE2\x82",
            b"\xE2\x82\xAC",
        ),
    ] {
        // Neither fragment is final: the message never ends, yet it fails.
        let mut bytes = encode_frame(false, 0, OP_TEXT, first, true);
        bytes.extend(encode_frame(false, 0, OP_CONT, second, true));
        expect_failure(addr, what, &bytes, 1007).await;
    }
    // An invalid first fragment fails before any continuation is sent.
    let frame = encode_frame(false, 0, OP_TEXT, b"\xC0", true);
    expect_failure(addr, "invalid first fragment", &frame, 1007).await;
    // A message whose last fragment ends inside a code point.
    let mut bytes = encode_frame(false, 0, OP_TEXT, "€".as_bytes(), true);
    bytes.extend(encode_frame(false, 0, OP_CONT, b"\xF0\x9F", true));
    bytes.extend(encode_frame(true, 0, OP_CONT, b"\x98", true));
    expect_failure(addr, "message ends inside a code point", &bytes, 1007).await;
    server.shutdown();
}

#[tokio::test]
async fn code_points_split_at_every_position_across_fragments() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let text = "a€𝄞é\u{10FFFF}z".as_bytes();
    for cut in 0..=text.len() {
        let mut bytes = encode_frame(false, 0, OP_TEXT, &text[..cut], true);
        bytes.extend(encode_frame(true, 0, OP_CONT, &text[cut..], true));
        ws.write(&bytes).await;
        ws.expect_bytes(&server_frame(OP_TEXT, text)).await;
    }
    // A four-byte code point over four fragments.
    let mut bytes = Vec::new();
    for (i, b) in "𝄞".bytes().enumerate() {
        let opcode = if i == 0 { OP_TEXT } else { OP_CONT };
        bytes.extend(encode_frame(i == 3, 0, opcode, &[b], true));
    }
    ws.write(&bytes).await;
    ws.expect_bytes(&server_frame(OP_TEXT, "𝄞".as_bytes()))
        .await;
    drop(ws);
    server.shutdown();
}
