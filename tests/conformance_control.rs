//! RFC 6455 §5.5 (control frames), §5.5.2 (ping) and §5.5.3 (pong) on the
//! wire, against the echo server of `examples/echo`: pongs carry the ping's
//! payload exactly up to the 125-byte maximum, longer or fragmented control
//! frames fail the connection with 1002, and unsolicited pongs are ignored.
//!
//! A 126-byte ping, a fragmented ping, an empty ping and one unsolicited pong
//! are in `tests/protocol.rs`; this file covers the rest.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    LenForm, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawWs, client_frame,
    close_payload, echo_server, encode_frame, expect_failure, frame_as, header_bytes, server_frame,
};

#[tokio::test]
async fn pong_carries_the_pings_payload_up_to_125_bytes() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    for len in [1usize, 2, 4, 5, 8, 124, 125] {
        // Every byte value, including ones that are not UTF-8: a ping's
        // payload is "application data", not text.
        let payload: Vec<u8> = (0..len).map(|i| (255 - i * 2) as u8).collect();
        ws.write(&client_frame(OP_PING, &payload)).await;
        let mut expected = vec![0x8A, len as u8];
        expected.extend_from_slice(&payload);
        ws.expect_bytes(&expected).await;
    }
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn pings_in_one_write_get_pongs_in_order_between_the_echoes() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for i in 0..100 {
        let payload = format!("ping {i}");
        bytes.extend(client_frame(OP_PING, payload.as_bytes()));
        expected.extend(server_frame(OP_PONG, payload.as_bytes()));
        if i % 10 == 0 {
            bytes.extend(client_frame(OP_TEXT, b"text"));
            expected.extend(server_frame(OP_TEXT, b"text"));
        }
    }
    ws.write(&bytes).await;
    ws.expect_bytes(&expected).await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn unsolicited_pongs_are_ignored() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let mut bytes = Vec::new();
    bytes.extend(client_frame(OP_PONG, b""));
    bytes.extend(client_frame(OP_PONG, &[0xFF; 125]));
    // Inside a fragmented message too.
    bytes.extend(encode_frame(false, 0, OP_TEXT, b"frag", true));
    bytes.extend(client_frame(OP_PONG, b"mid-message"));
    bytes.extend(encode_frame(true, 0, OP_CONT, b"ment", true));
    ws.write(&bytes).await;
    // Nothing answers the pongs: the next bytes are the echo.
    ws.expect_bytes(&server_frame(OP_TEXT, b"fragment")).await;
    ws.expect_echo(OP_BINARY, b"still open").await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn control_payload_over_125_bytes_is_1002() {
    let server = echo_server();
    let addr = server.local_addr();
    for (what, opcode) in [("ping", OP_PING), ("pong", OP_PONG), ("close", OP_CLOSE)] {
        for len in [126usize, 65_535, 65_536] {
            let mut payload = vec![b'x'; len];
            if opcode == OP_CLOSE {
                payload[..2].copy_from_slice(&1000u16.to_be_bytes());
            }
            let frame = client_frame(opcode, &payload);
            expect_failure(addr, &format!("{what} of {len} bytes"), &frame, 1002).await;
        }
        // Refused from the header: no payload needs to follow.
        let header = header_bytes(0x80 | opcode, 1 << 20, LenForm::Minimal, true);
        expect_failure(addr, &format!("{what} header of 1 MiB"), &header, 1002).await;
    }
    server.shutdown();
}

#[tokio::test]
async fn control_frame_with_a_non_minimal_length_is_1002() {
    // A control frame's length must fit the 7-bit field (§5.5: "All control
    // frames MUST have a payload length of 125 bytes or less"); the server
    // refuses the 16- and 64-bit forms even for short payloads. Data frames
    // with non-minimal lengths are accepted (conformance_framing.rs).
    let server = echo_server();
    let addr = server.local_addr();
    for (what, b0) in [("ping", 0x89u8), ("pong", 0x8A)] {
        for form in [LenForm::Bits16, LenForm::Bits64] {
            let frame = frame_as(b0, b"short", form);
            expect_failure(
                addr,
                &format!("{what} of 5 bytes as {form:?}"),
                &frame,
                1002,
            )
            .await;
        }
    }
    server.shutdown();
}

#[tokio::test]
async fn fragmented_control_frames_are_1002() {
    let server = echo_server();
    let addr = server.local_addr();
    for (what, opcode, payload) in [
        ("pong", OP_PONG, b"p".to_vec()),
        ("close", OP_CLOSE, close_payload(1000, b"")),
        ("empty ping", OP_PING, Vec::new()),
    ] {
        let frame = encode_frame(false, 0, opcode, &payload, true);
        expect_failure(addr, &format!("{what} without FIN"), &frame, 1002).await;
        // The same in the middle of a fragmented message.
        let mut bytes = encode_frame(false, 0, OP_TEXT, b"start", true);
        bytes.extend(encode_frame(false, 0, opcode, &payload, true));
        expect_failure(
            addr,
            &format!("{what} without FIN mid-message"),
            &bytes,
            1002,
        )
        .await;
    }
    server.shutdown();
}
