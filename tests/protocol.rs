//! RFC 6455 on the wire: a raw TCP client does the handshake by hand, writes
//! hand-built masked frames and checks the exact bytes the server sends back,
//! including the close codes for every kind of protocol violation.
#![allow(clippy::unwrap_used)]

mod common;

use common::{
    OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawWs, SWITCHING_PROTOCOLS, any_port,
    client_frame, close_payload, encode_frame, upgrade_request, within,
};
use pinsocket::{RunningServer, Server};
use tokio::io::AsyncWriteExt;

/// Echoes text and binary messages as they came.
fn echo_server(max_message_len: usize) -> RunningServer {
    Server::new()
        .bind(any_port())
        .max_message_len(max_message_len)
        .on_text(|c, m| c.send_text(m).unwrap())
        .on_binary(|c, m| c.send_binary(m).unwrap())
        .start()
        .unwrap()
}

/// Connects a raw client to a fresh echo server with a 256-byte limit.
async fn connect() -> (RunningServer, RawWs) {
    let server = echo_server(256);
    let ws = RawWs::connect(server.local_addr(), "/").await;
    (server, ws)
}

/// Writes `bytes`, then expects a close frame with `code` and the end of TCP.
async fn violation(bytes: &[u8], code: u16) {
    let (server, mut ws) = connect().await;
    ws.write(bytes).await;
    let reason = ws.expect_close(code).await;
    assert!(!reason.is_empty(), "close {code} without a reason");
    ws.expect_eof().await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn masked_text_is_echoed() {
    let (server, mut ws) = connect().await;
    ws.write(&client_frame(OP_TEXT, b"Hello")).await;
    assert_eq!(ws.read_bytes(7).await, b"\x81\x05Hello");
    ws.write(&client_frame(OP_BINARY, &[0, 1, 2])).await;
    assert_eq!(ws.read_bytes(5).await, b"\x82\x03\x00\x01\x02");
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn request_pipelined_with_the_first_frame() {
    let server = echo_server(256);
    let mut ws = RawWs::tcp(server.local_addr()).await;
    let mut bytes = upgrade_request("/");
    bytes.extend_from_slice(&client_frame(OP_TEXT, b"early"));
    ws.write(&bytes).await;
    let response = ws.read_bytes(SWITCHING_PROTOCOLS.len()).await;
    assert_eq!(response, SWITCHING_PROTOCOLS);
    assert_eq!(ws.read_bytes(7).await, b"\x81\x05early");
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn over_limit_message_is_1009() {
    violation(&client_frame(OP_TEXT, &[b'a'; 257]), 1009).await;
}

#[tokio::test]
async fn at_limit_message_is_accepted() {
    let (server, mut ws) = connect().await;
    let text = [b'z'; 256];
    ws.write(&client_frame(OP_TEXT, &text)).await;
    let frame = ws.read_frame().await;
    assert_eq!((frame.fin, frame.opcode), (true, OP_TEXT));
    assert_eq!(frame.payload, text);
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn fragments_over_the_limit_together_are_1009() {
    let mut bytes = encode_frame(false, 0, OP_TEXT, &[b'a'; 200], true);
    bytes.extend(encode_frame(true, 0, OP_CONT, &[b'b'; 57], true));
    violation(&bytes, 1009).await;
}

#[tokio::test]
async fn invalid_utf8_text_is_1007() {
    violation(&client_frame(OP_TEXT, b"ok \xc3\x28"), 1007).await;
}

#[tokio::test]
async fn invalid_utf8_across_fragments_is_1007() {
    // "ab" and the lead byte of a two-byte sequence, then a byte that cannot
    // continue it: each fragment alone could be the start of valid text.
    let mut bytes = encode_frame(false, 0, OP_TEXT, b"ab\xc3", true);
    bytes.extend(encode_frame(true, 0, OP_CONT, b"\x28", true));
    violation(&bytes, 1007).await;
}

#[tokio::test]
async fn utf8_split_across_fragments_is_fine() {
    let (server, mut ws) = connect().await;
    let mut bytes = encode_frame(false, 0, OP_TEXT, b"caf\xc3", true);
    bytes.extend(encode_frame(true, 0, OP_CONT, b"\xa9!", true));
    ws.write(&bytes).await;
    let frame = ws.read_frame().await;
    assert_eq!(frame.opcode, OP_TEXT);
    assert_eq!(frame.payload, "café!".as_bytes());
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn unmasked_frame_is_1002() {
    violation(&encode_frame(true, 0, OP_TEXT, b"Hello", false), 1002).await;
}

#[tokio::test]
async fn reserved_opcode_is_1002() {
    violation(&client_frame(0x3, b"x"), 1002).await;
}

#[tokio::test]
async fn rsv1_is_1002() {
    violation(&encode_frame(true, 0b100, OP_TEXT, b"x", true), 1002).await;
}

#[tokio::test]
async fn long_ping_is_1002() {
    let frame = client_frame(OP_PING, &[b'p'; 126]);
    // Two-byte extended length: the control frame limit is 125.
    assert_eq!(&frame[..4], &[0x89, 0x80 | 126, 0, 126]);
    violation(&frame, 1002).await;
}

#[tokio::test]
async fn fragmented_ping_is_1002() {
    violation(&encode_frame(false, 0, OP_PING, b"p", true), 1002).await;
}

#[tokio::test]
async fn continuation_without_start_is_1002() {
    violation(&client_frame(OP_CONT, b"orphan"), 1002).await;
}

#[tokio::test]
async fn new_message_inside_a_fragmented_one_is_1002() {
    let mut bytes = encode_frame(false, 0, OP_TEXT, b"part", true);
    bytes.extend(client_frame(OP_TEXT, b"new"));
    violation(&bytes, 1002).await;
}

#[tokio::test]
async fn one_byte_close_payload_is_1002() {
    violation(&client_frame(OP_CLOSE, &[0x03]), 1002).await;
}

#[tokio::test]
async fn close_code_1005_is_1002() {
    violation(&client_frame(OP_CLOSE, &close_payload(1005, b"")), 1002).await;
}

#[tokio::test]
async fn close_with_invalid_utf8_reason_is_1007() {
    violation(
        &client_frame(OP_CLOSE, &close_payload(1000, b"bad \xff")),
        1007,
    )
    .await;
}

#[tokio::test]
async fn ping_gets_pong_with_same_payload() {
    let (server, mut ws) = connect().await;
    ws.write(&client_frame(OP_PING, b"abc")).await;
    assert_eq!(ws.read_bytes(5).await, b"\x8A\x03abc");
    // An empty ping too.
    ws.write(&client_frame(OP_PING, b"")).await;
    assert_eq!(ws.read_bytes(2).await, b"\x8A\x00");
    // Unsolicited pongs are ignored; the connection goes on.
    ws.write(&client_frame(OP_PONG, b"zzz")).await;
    ws.write(&client_frame(OP_TEXT, b"after")).await;
    assert_eq!(ws.read_bytes(7).await, b"\x81\x05after");
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn ping_inside_fragmented_message() {
    let (server, mut ws) = connect().await;
    let mut bytes = encode_frame(false, 0, OP_TEXT, b"Hel", true);
    bytes.extend(client_frame(OP_PING, b"p"));
    bytes.extend(encode_frame(false, 0, OP_CONT, b"lo ", true));
    bytes.extend(encode_frame(true, 0, OP_CONT, b"world", true));
    ws.write(&bytes).await;
    assert_eq!(ws.read_bytes(3).await, b"\x8A\x01p");
    assert_eq!(ws.read_bytes(13).await, b"\x81\x0bHello world");
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn client_close_is_echoed_then_tcp_ends() {
    let (server, mut ws) = connect().await;
    ws.write(&client_frame(OP_CLOSE, &close_payload(1000, b"bye")))
        .await;
    assert_eq!(ws.read_bytes(4).await, b"\x88\x02\x03\xe8");
    ws.expect_eof().await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn empty_close_gets_empty_close() {
    let (server, mut ws) = connect().await;
    ws.write(&client_frame(OP_CLOSE, b"")).await;
    assert_eq!(ws.read_bytes(2).await, b"\x88\x00");
    ws.expect_eof().await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn one_byte_per_write() {
    let server = echo_server(256);
    let mut ws = RawWs::tcp(server.local_addr()).await;
    let mut bytes = upgrade_request("/");
    bytes.extend(encode_frame(false, 0, OP_TEXT, b"sl", true));
    bytes.extend(client_frame(OP_PING, b"!"));
    bytes.extend(encode_frame(true, 0, OP_CONT, b"ow", true));
    bytes.extend(client_frame(OP_BINARY, &[9; 130]));
    for byte in bytes {
        within("write one byte", async {
            ws.stream.write_all(&[byte]).await.unwrap();
            ws.stream.flush().await.unwrap();
        })
        .await;
    }
    ws.expect_switching_protocols().await;
    assert_eq!(ws.read_bytes(3).await, b"\x8A\x01!");
    assert_eq!(ws.read_bytes(6).await, b"\x81\x04slow");
    let frame = ws.read_frame().await;
    assert_eq!((frame.opcode, frame.payload), (OP_BINARY, vec![9; 130]));
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn large_binary_message_with_64_bit_length() {
    let server = echo_server(1024 * 1024);
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let data: Vec<u8> = (0..70_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let frame = client_frame(OP_BINARY, &data);
    assert_eq!(frame[1], 0x80 | 127);
    ws.write(&frame).await;

    let mut expected = vec![0x82, 127];
    expected.extend_from_slice(&70_000u64.to_be_bytes());
    assert_eq!(ws.read_bytes(10).await, expected);
    assert!(ws.read_bytes(70_000).await == data, "payload differs");
    drop(ws);
    server.shutdown();
}
