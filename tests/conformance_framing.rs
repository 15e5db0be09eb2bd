//! RFC 6455 §5.2 (base framing) and §5.3 (masking) on the wire, against the
//! echo server of `examples/echo`: payload lengths at every boundary of the
//! three length encodings, non-minimal encodings, the 16 MiB message limit,
//! reserved bits and reserved opcodes. A raw client sends hand-built masked
//! frames; every assertion is on the exact bytes or close code sent back.
//!
//! Unmasked frames, RSV1 on a text frame and opcode 0x3 are in
//! `tests/protocol.rs`; this file covers the rest of each table.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    ECHO_MAX_MESSAGE, LenForm, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawWs,
    client_frame, echo_server, encode_frame, expect_failure, frame_as, header_bytes, server_frame,
};

/// `len` bytes that are not all alike, so a misplaced byte shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// `len` bytes of ASCII text.
fn ascii(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

#[tokio::test]
async fn payload_lengths_at_every_encoding_boundary_are_echoed_exactly() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    // 7-bit: 0..=125; 16-bit: 126..=65535; 64-bit: 65536 and up.
    for len in [0, 1, 125, 126, 127, 65_535, 65_536, 100_000] {
        // What the client sends uses the minimal encoding...
        let frame = client_frame(OP_BINARY, &pattern(len));
        let expected_len_byte = match len {
            0..=125 => 0x80 | len as u8,
            126..=65_535 => 0x80 | 126,
            _ => 0x80 | 127,
        };
        assert_eq!(frame[1], expected_len_byte, "client header for {len}");
        // ...and so must the server (§5.2: "the minimal number of bytes").
        ws.expect_echo(OP_BINARY, &pattern(len)).await;
        ws.expect_echo(OP_TEXT, &ascii(len)).await;
    }
    // The exact server headers at the boundaries, spelled out.
    ws.expect_echo(OP_BINARY, &[]).await;
    for (len, header) in [
        (125usize, vec![0x82, 125]),
        (126, vec![0x82, 126, 0x00, 126]),
        (65_535, vec![0x82, 126, 0xFF, 0xFF]),
        (65_536, vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
    ] {
        assert_eq!(
            &server_frame(OP_BINARY, &pattern(len))[..header.len()],
            header
        );
        ws.write(&client_frame(OP_BINARY, &pattern(len))).await;
        ws.expect_bytes(&header).await;
        ws.expect_bytes(&pattern(len)).await;
    }
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn non_minimal_length_encodings_are_accepted() {
    // §5.2 puts the minimal encoding on the sender; the server accepts the
    // longer forms (ARCHITECTURE.md, "Decisions") and answers minimally.
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let cases = [
        (LenForm::Bits16, 0usize),
        (LenForm::Bits16, 5),
        (LenForm::Bits16, 125),
        (LenForm::Bits64, 0),
        (LenForm::Bits64, 5),
        (LenForm::Bits64, 125),
        (LenForm::Bits64, 126),
        (LenForm::Bits64, 65_535),
    ];
    for (form, len) in cases {
        for opcode in [OP_TEXT, OP_BINARY] {
            let payload = ascii(len);
            let frame = frame_as(0x80 | opcode, &payload, form);
            let header_len = if form == LenForm::Bits16 { 8 } else { 14 };
            assert_eq!(frame.len(), header_len + len);
            ws.write(&frame).await;
            ws.expect_bytes(&server_frame(opcode, &payload)).await;
        }
    }
    // A non-minimal fragment inside a fragmented message too.
    let mut bytes = frame_as(OP_TEXT, b"frag", LenForm::Bits64);
    bytes.extend(frame_as(0x80 | OP_CONT, b"mented", LenForm::Bits16));
    ws.write(&bytes).await;
    ws.expect_bytes(&server_frame(OP_TEXT, b"fragmented")).await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn messages_of_16_mib_at_the_limit_are_echoed() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let data = pattern(ECHO_MAX_MESSAGE);
    ws.expect_echo(OP_BINARY, &data).await;
    drop(data);
    // Text: two-byte characters, with a code point cut by most reads.
    let text = "é".repeat(ECHO_MAX_MESSAGE / 2);
    assert_eq!(text.len(), ECHO_MAX_MESSAGE);
    ws.expect_echo(OP_TEXT, text.as_bytes()).await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn over_the_limit_is_1009_from_the_header_alone() {
    let server = echo_server();
    let addr = server.local_addr();
    let over = ECHO_MAX_MESSAGE as u64 + 1;
    // Only the header is sent: the server must not wait for 16 MiB to refuse it.
    for (what, b0, len) in [
        ("binary of 16 MiB + 1", 0x80 | OP_BINARY, over),
        ("text of 16 MiB + 1", 0x80 | OP_TEXT, over),
        ("non-final fragment of 16 MiB + 1", OP_BINARY, over),
        ("binary of 2^62 bytes", 0x80 | OP_BINARY, 1 << 62),
        ("binary of 2^63 - 1 bytes", 0x80 | OP_BINARY, (1 << 63) - 1),
    ] {
        let header = header_bytes(b0, len, LenForm::Minimal, true);
        expect_failure(addr, what, &header, 1009).await;
    }
    server.shutdown();
}

#[tokio::test]
async fn length_with_the_most_significant_bit_set_is_1002() {
    let server = echo_server();
    let addr = server.local_addr();
    for len in [1u64 << 63, u64::MAX, (1 << 63) | 5] {
        let header = header_bytes(0x80 | OP_BINARY, len, LenForm::Bits64, true);
        expect_failure(addr, &format!("64-bit length {len:#x}"), &header, 1002).await;
    }
    server.shutdown();
}

#[tokio::test]
async fn every_reserved_bit_is_1002() {
    let server = echo_server();
    let addr = server.local_addr();
    for rsv in 1..=7u8 {
        for (what, opcode) in [
            ("text", OP_TEXT),
            ("binary", OP_BINARY),
            ("ping", OP_PING),
            ("pong", OP_PONG),
            ("close", OP_CLOSE),
        ] {
            let payload: &[u8] = if opcode == OP_CLOSE {
                b"\x03\xe8"
            } else {
                b"x"
            };
            let frame = encode_frame(true, rsv, opcode, payload, true);
            expect_failure(addr, &format!("{what} with RSV {rsv:03b}"), &frame, 1002).await;
        }
        // On a continuation frame, after a valid first fragment.
        let mut bytes = encode_frame(false, 0, OP_TEXT, b"a", true);
        bytes.extend(encode_frame(true, rsv, OP_CONT, b"b", true));
        expect_failure(
            addr,
            &format!("continuation with RSV {rsv:03b}"),
            &bytes,
            1002,
        )
        .await;
    }
    server.shutdown();
}

#[tokio::test]
async fn every_reserved_opcode_is_1002() {
    let server = echo_server();
    let addr = server.local_addr();
    // Data opcodes 0x3-0x7 and control opcodes 0xB-0xF.
    for op in [0x3u8, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        for fin in [true, false] {
            let frame = encode_frame(fin, 0, op, b"payload", true);
            expect_failure(addr, &format!("opcode {op:#x}, FIN {fin}"), &frame, 1002).await;
        }
        // Inside a fragmented message, and with an empty payload.
        let mut bytes = encode_frame(false, 0, OP_BINARY, b"a", true);
        bytes.extend(encode_frame(true, 0, op, b"", true));
        expect_failure(addr, &format!("opcode {op:#x} mid-message"), &bytes, 1002).await;
        // A valid message first is echoed; the violation still fails it.
        let mut ws = RawWs::connect(addr, "/").await;
        ws.expect_echo(OP_TEXT, b"before").await;
        ws.write(&encode_frame(true, 0, op, b"", true)).await;
        ws.expect_close(1002).await;
        ws.expect_eof().await;
    }
    server.shutdown();
}

#[tokio::test]
async fn many_frames_in_one_write_are_answered_in_order() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for i in 0..200usize {
        let (opcode, payload) = match i % 4 {
            0 => (OP_TEXT, format!("message {i}").into_bytes()),
            1 => (OP_BINARY, pattern(i * 3)),
            2 => (OP_PING, format!("{i}").into_bytes()),
            _ => (OP_TEXT, ascii(126 + i)),
        };
        bytes.extend(client_frame(opcode, &payload));
        let answer = if opcode == OP_PING { OP_PONG } else { opcode };
        expected.extend(server_frame(answer, &payload));
    }
    ws.write(&bytes).await;
    ws.expect_bytes(&expected).await;
    drop(ws);
    server.shutdown();
}
