//! RFC 6455 §5.5.1 (close frames), §7.1 (closing the connection) and §7.4
//! (status codes) on the wire, against the echo server of `examples/echo`:
//! every valid code is echoed and reported to `on_close`, every invalid
//! code and invalid reason fails the connection, nothing after a close is
//! answered, and closes that the client never completes end at the close
//! timeout (not before it; how much later depends on the machine's load and
//! is bounded only by the test's hang guard).
//!
//! The 1-byte close payload, code 1005, one invalid reason, the echo of
//! 1000 and of an empty close are in `tests/protocol.rs`; a server-side
//! close answered by the client and shutdown's 1001 are in
//! `tests/conversations.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{
    Closes, OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, RawWs, WAIT, client_frame, close_payload,
    echo_builder, expect_failure, start_capturing, wait_until,
};
use pinsocket::{CloseCode, Connection, RunningServer};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// Short, so the timeout tests stay fast. Each is checked as a lower bound
/// from an instant certainly before the server starts its clock.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(400);

/// The echo server with an `on_close` record, and the connections it
/// accepted, in order.
fn server() -> (RunningServer, Closes, mpsc::Receiver<Connection>) {
    server_with(CLOSE_TIMEOUT)
}

/// [`server`] with another close timeout.
fn server_with(close_timeout: Duration) -> (RunningServer, Closes, mpsc::Receiver<Connection>) {
    start_capturing(echo_builder().close_timeout(close_timeout))
}

#[tokio::test]
async fn every_valid_close_code_is_echoed_and_reported() {
    let (server, closes, _) = server();
    // 1012-1014 are registered with IANA and accepted (ARCHITECTURE.md).
    let codes = [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ];
    for code in codes {
        let mut ws = RawWs::connect(server.local_addr(), "/").await;
        ws.write(&client_frame(OP_CLOSE, &close_payload(code, b"bye")))
            .await;
        // The code comes back alone (§5.5.1), then the server ends TCP.
        let [hi, lo] = code.to_be_bytes();
        assert_eq!(ws.read_to_end().await, [0x88, 0x02, hi, lo], "code {code}");
    }
    let mut reported = closes.wait_for(codes.len(), WAIT).await;
    reported.sort();
    let expected: Vec<(u16, String)> = codes.iter().map(|&c| (c, "bye".to_owned())).collect();
    assert_eq!(reported, expected);
    server.shutdown();
}

#[tokio::test]
async fn every_invalid_close_code_is_1002() {
    let (server, closes, _) = server();
    let codes = [
        0u16, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65_535,
    ];
    for code in codes {
        let frame = client_frame(OP_CLOSE, &close_payload(code, b""));
        expect_failure(server.local_addr(), &format!("code {code}"), &frame, 1002).await;
    }
    // on_close gets the server's code and reason: the client's was invalid.
    // In the order the sessions ended, which need not be the order of the codes.
    let mut reported = closes.wait_for(codes.len(), WAIT).await;
    reported.sort_by_key(|(_, reason)| reason[19..].parse::<u16>().unwrap());
    for (code, (got, reason)) in codes.iter().zip(reported) {
        assert_eq!((got, reason), (1002, format!("invalid close code {code}")));
    }
    server.shutdown();
}

#[tokio::test]
async fn close_reason_must_be_utf8() {
    let (server, closes, _) = server();
    let addr = server.local_addr();
    for (what, reason) in [
        ("0xFF", &b"\xFF"[..]),
        ("a surrogate", b"bye \xED\xA0\x80"),
        ("an overlong '/'", b"\xC0\xAF"),
        ("a cut code point", b"bye \xE2\x82"),
        ("above U+10FFFF", b"\xF4\x90\x80\x80"),
    ] {
        let frame = client_frame(OP_CLOSE, &close_payload(1000, reason));
        expect_failure(addr, &format!("reason with {what}"), &frame, 1007).await;
    }
    let reported = closes.wait_for(5, WAIT).await;
    assert!(
        reported.iter().all(|(code, _)| *code == 1007),
        "{reported:?}"
    );
    // Multi-byte reasons, up to the most that fits (123 bytes), are fine.
    let longest = "é".repeat(61) + "!";
    assert_eq!(longest.len(), 123);
    for reason in ["κόσμε", longest.as_str()] {
        let mut ws = RawWs::connect(addr, "/").await;
        ws.write(&client_frame(
            OP_CLOSE,
            &close_payload(4321, reason.as_bytes()),
        ))
        .await;
        assert_eq!(ws.read_to_end().await, [0x88, 0x02, 0x10, 0xE1]);
    }
    let reported = closes.wait_for(7, WAIT).await;
    let mut valid: Vec<_> = reported
        .into_iter()
        .filter(|(code, _)| *code == 4321)
        .collect();
    valid.sort_by_key(|(_, reason)| reason.len());
    assert_eq!(valid, [(4321, "κόσμε".to_owned()), (4321, longest)]);
    server.shutdown();
}

#[tokio::test]
async fn nothing_after_a_close_frame_is_answered() {
    let (server, closes, _) = server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let mut bytes = client_frame(OP_CLOSE, &close_payload(1000, b""));
    bytes.extend(client_frame(OP_TEXT, b"late text"));
    bytes.extend(client_frame(OP_PING, b"late ping"));
    bytes.extend(client_frame(OP_BINARY, b"late binary"));
    // Not even a protocol violation after the close is reported.
    bytes.extend(client_frame(0x3, b"reserved opcode"));
    bytes.extend(b"\xFF\xFF garbage");
    ws.write(&bytes).await;
    assert_eq!(ws.read_to_end().await, b"\x88\x02\x03\xe8");
    assert_eq!(closes.wait_for(1, WAIT).await, [(1000, String::new())]);
    server.shutdown();
}

#[tokio::test]
async fn server_close_unanswered_ends_after_the_close_timeout() {
    let (server, closes, accepted) = server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let conn = accepted.recv_timeout(WAIT).unwrap();
    // Before the close: the server's clock starts once it is queued.
    let start = Instant::now();
    conn.close(CloseCode(4000), "done").unwrap();
    assert_eq!(ws.read_bytes(8).await, b"\x88\x06\x0f\xa0done");
    // The client neither answers nor closes TCP: the server waits for the
    // close timeout, then closes TCP itself.
    let rest = ws.read_to_end().await;
    let waited = start.elapsed();
    assert!(rest.is_empty(), "{rest:?}");
    assert!(waited >= CLOSE_TIMEOUT, "closed after {waited:?}");
    assert_eq!(closes.wait_for(1, WAIT).await, [(4000, "done".to_owned())]);
    wait_until("connection gone", WAIT, || server.connections() == 0).await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn after_a_protocol_error_the_drain_ends_at_the_close_timeout() {
    let (server, closes, _) = server();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    // Before the bad frame: the server's clock starts once it has read it
    // and sent its close, certainly later. (Not after the close arrives:
    // it may reach this client late.)
    let start = Instant::now();
    ws.write(&client_frame(0x3, b"")).await;
    ws.expect_close(1002).await;
    // The server half-closes at once, then reads what the client still
    // sends (so its close frame is not lost to a reset)...
    ws.expect_eof().await;
    for _ in 0..10 {
        if let Err(e) = ws.stream.write_all(b"still talking").await {
            // Only a client slowed down past the close timeout may find the
            // connection gone already.
            let late = start.elapsed();
            assert!(late >= CLOSE_TIMEOUT, "write failed after {late:?}: {e}");
            break;
        }
    }
    // ...but only until the close timeout, though the client never closes;
    // and not before it (which is also what shows it stayed open while the
    // client talked).
    wait_until("connection gone", WAIT, || server.connections() == 0).await;
    let waited = start.elapsed();
    assert!(waited >= CLOSE_TIMEOUT, "gone after {waited:?}");
    assert_eq!(closes.wait_for(1, WAIT).await[0].0, 1002);
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn close_stuck_behind_unread_data_ends_at_the_close_timeout() {
    let (server, closes, accepted) = server();
    let ws = RawWs::connect(server.local_addr(), "/").await;
    let conn = accepted.recv_timeout(WAIT).unwrap();
    // More than the socket buffers hold, to a client that does not read.
    let chunk = vec![0u8; 4 << 20];
    for _ in 0..4 {
        conn.send_binary(&chunk).unwrap();
    }
    // Before the close: the server's clock starts once it is queued.
    let start = Instant::now();
    conn.close(CloseCode::NORMAL, "bye").unwrap();
    // The close frame cannot be written: the connection is dropped once the
    // close timeout has passed since it was queued, not before.
    wait_until("connection gone", WAIT, || server.connections() == 0).await;
    let waited = start.elapsed();
    assert!(waited >= CLOSE_TIMEOUT, "gone after {waited:?}");
    assert_eq!(closes.wait_for(1, WAIT).await, [(1000, "bye".to_owned())]);
    assert!(server.clients().is_empty());
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn server_close_after_a_backlog_comes_after_the_data() {
    // Messages queued while an earlier one is still being written, then a
    // close: all are delivered, in order, before the close frame. The close
    // timeout runs from when the close is queued, and the client must read
    // 12 MiB before it ends: here it is long enough for any loaded machine.
    let (server, closes, accepted) = server_with(Duration::from_secs(60));
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let conn = accepted.recv_timeout(WAIT).unwrap();
    // 8 MiB for a client that is not reading yet: more than the socket
    // buffers take, so the session holds the rest while it waits.
    conn.send_binary(&vec![0x41u8; 8 << 20]).unwrap();
    // Pacing, not waiting for an outcome: lets the session start on it, so
    // what follows is queued behind a write in progress (and if it has not,
    // the order asserted below is the same).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let chunk = vec![0x42u8; 1 << 20];
    for _ in 0..4 {
        conn.send_binary(&chunk).unwrap();
    }
    conn.close(CloseCode(4000), "done").unwrap();
    // Reading now, the client gets every message, then the close frame.
    for (i, len) in [8 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20]
        .into_iter()
        .enumerate()
    {
        let frame = ws
            .try_read_frame()
            .await
            .unwrap_or_else(|| panic!("stream ended before message {i}"));
        assert_eq!((frame.opcode, frame.payload.len()), (OP_BINARY, len));
    }
    let Some(frame) = ws.try_read_frame().await else {
        panic!("the data came, but not the close frame after it");
    };
    assert_eq!(frame.close(), (4000, "done".to_owned()));
    ws.write(&client_frame(OP_CLOSE, &close_payload(4000, b"")))
        .await;
    ws.expect_eof().await;
    assert_eq!(closes.wait_for(1, WAIT).await, [(4000, "done".to_owned())]);
    drop(ws);
    server.shutdown();
}
