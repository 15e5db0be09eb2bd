//! RFC 6455 §5.4 (fragmentation) on the wire, against the echo server of
//! `examples/echo`: messages in 1-byte and empty fragments, control frames
//! interleaved and answered before the message ends, continuation frames
//! with no message, new messages inside a fragmented one, and a close in
//! the middle of a message.
//!
//! One interleaved ping, an orphan final continuation and a text frame
//! inside a text message are in `tests/protocol.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawWs, client_frame, close_payload,
    echo_server, encode_frame, expect_failure, server_frame,
};

/// `payload` as a fragmented message of `opcode`, in fragments of at most
/// `size` bytes (at least one fragment, so an empty payload is one frame).
fn fragments(opcode: u8, payload: &[u8], size: usize) -> Vec<u8> {
    let pieces: Vec<&[u8]> = if payload.is_empty() {
        vec![&[]]
    } else {
        payload.chunks(size).collect()
    };
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let op = if i == 0 { opcode } else { OP_CONT };
        out.extend(encode_frame(i + 1 == pieces.len(), 0, op, piece, true));
    }
    out
}

#[tokio::test]
async fn one_byte_fragments_make_one_message() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    // Every multi-byte code point is cut between fragments.
    let text = "héllo wörld € 𝄞 κόσμε";
    ws.write(&fragments(OP_TEXT, text.as_bytes(), 1)).await;
    ws.expect_bytes(&server_frame(OP_TEXT, text.as_bytes()))
        .await;
    let data: Vec<u8> = (0..=255).collect();
    ws.write(&fragments(OP_BINARY, &data, 1)).await;
    ws.expect_bytes(&server_frame(OP_BINARY, &data)).await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn empty_fragments_are_allowed_anywhere() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let mut bytes = encode_frame(false, 0, OP_TEXT, b"", true);
    bytes.extend(encode_frame(false, 0, OP_CONT, b"abc", true));
    bytes.extend(encode_frame(false, 0, OP_CONT, b"", true));
    bytes.extend(encode_frame(true, 0, OP_CONT, b"", true));
    ws.write(&bytes).await;
    ws.expect_bytes(&server_frame(OP_TEXT, b"abc")).await;
    // A message of nothing but empty fragments is an empty message.
    let mut bytes = encode_frame(false, 0, OP_BINARY, b"", true);
    bytes.extend(encode_frame(false, 0, OP_CONT, b"", true));
    bytes.extend(encode_frame(true, 0, OP_CONT, b"", true));
    ws.write(&bytes).await;
    ws.expect_bytes(b"\x82\x00").await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn a_large_message_in_many_fragments() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let data: Vec<u8> = (0..1 << 20).map(|i: usize| (i % 253) as u8).collect();
    // 1 MiB in 1,000-byte fragments: 1,049 frames, most cut by reads.
    ws.write(&fragments(OP_BINARY, &data, 1000)).await;
    ws.expect_bytes(&server_frame(OP_BINARY, &data)).await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn pings_between_fragments_are_answered_before_the_message_ends() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let parts: [&[u8]; 4] = [b"one ", b"two ", b"three ", b"four"];
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let opcode = if i == 0 { OP_TEXT } else { OP_CONT };
        let mut bytes = encode_frame(last, 0, opcode, part, true);
        if !last {
            // A ping and a pong after each fragment: the pong comes back at
            // once, not held until the message is complete.
            let payload = format!("p{i}");
            bytes.extend(client_frame(OP_PING, payload.as_bytes()));
            bytes.extend(client_frame(OP_PONG, b"ignored"));
            ws.write(&bytes).await;
            ws.expect_bytes(&server_frame(OP_PONG, payload.as_bytes()))
                .await;
        } else {
            ws.write(&bytes).await;
        }
    }
    ws.expect_bytes(&server_frame(OP_TEXT, b"one two three four"))
        .await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn continuation_with_no_message_in_progress_is_1002() {
    let server = echo_server();
    let addr = server.local_addr();
    // A non-final orphan continuation.
    let frame = encode_frame(false, 0, OP_CONT, b"orphan", true);
    expect_failure(addr, "non-final continuation first", &frame, 1002).await;
    // A continuation after a message that was already complete.
    let mut bytes = client_frame(OP_TEXT, b"done");
    bytes.extend(encode_frame(true, 0, OP_CONT, b"more", true));
    let mut ws = RawWs::connect(addr, "/").await;
    ws.write(&bytes).await;
    ws.expect_bytes(&server_frame(OP_TEXT, b"done")).await;
    ws.expect_close(1002).await;
    ws.expect_eof().await;
    drop(ws);
    // An empty orphan continuation.
    let frame = encode_frame(true, 0, OP_CONT, b"", true);
    expect_failure(addr, "empty continuation first", &frame, 1002).await;
    server.shutdown();
}

#[tokio::test]
async fn a_new_data_frame_inside_a_fragmented_message_is_1002() {
    let server = echo_server();
    let addr = server.local_addr();
    for (what, first, second_fin, second) in [
        ("binary inside text", OP_TEXT, true, OP_BINARY),
        ("text inside binary", OP_BINARY, true, OP_TEXT),
        ("non-final text inside text", OP_TEXT, false, OP_TEXT),
        (
            "non-final binary inside binary",
            OP_BINARY,
            false,
            OP_BINARY,
        ),
    ] {
        let mut bytes = encode_frame(false, 0, first, b"start", true);
        bytes.extend(encode_frame(false, 0, OP_CONT, b"middle", true));
        bytes.extend(encode_frame(second_fin, 0, second, b"new", true));
        expect_failure(addr, what, &bytes, 1002).await;
    }
    server.shutdown();
}

#[tokio::test]
async fn close_inside_a_fragmented_message_drops_the_partial_message() {
    let server = echo_server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let mut bytes = encode_frame(false, 0, OP_TEXT, b"never ", true);
    bytes.extend(encode_frame(false, 0, OP_CONT, b"finished", true));
    bytes.extend(client_frame(OP_CLOSE, &close_payload(1000, b"")));
    ws.write(&bytes).await;
    // The close is echoed; the half message is never delivered.
    assert_eq!(ws.read_to_end().await, b"\x88\x02\x03\xe8");
    server.shutdown();
}
