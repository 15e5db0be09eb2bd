//! Resource bounds: the connection limit (503 beyond it, the open
//! connections unaffected), abrupt disconnects (a reset or a FIN in the
//! middle of a frame, a message or a reply) that leak nothing, and the send
//! side: a client that stops reading fills only its own bounded queue and is
//! told (close 1008) before anything queued for it is dropped, a client that
//! takes nothing is dropped at the send timeout, and latest-value sends
//! coalesce instead of queueing.
//!
//! The broadcast that finds a slow client's queue full and `send_text`
//! returning `QueueFull` are in `tests/liveness.rs`; this file checks what
//! the client sees and the rest of the policy. Memory with 10,000 idle
//! connections is in `tests/resource_memory.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    Closes, HttpConn, LenForm, OP_BINARY, OP_CLOSE, OP_CONT, OP_TEXT, RawWs, WAIT, any_port,
    builtin_page, client_frame, close_payload, connect_small_receive_buffer, echo_builder,
    encode_frame, get, header_bytes, number_of, numbered, reset, server_frame, start_capturing,
    upgrade_request, wait_all_gone, wait_until, within,
};
use pinsocket::{RunningServer, SendError, Server};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

/// A timeout never reached in a passing test: longer than any of its
/// waits.
const NEVER: Duration = Duration::from_secs(60);
const _: () = assert!(WAIT.as_secs() < NEVER.as_secs());
/// The server clock counts whole milliseconds: a span it measures as `n` ms
/// may be as short as `n - 1` ms and a little more.
const TICK: Duration = Duration::from_millis(1);

#[tokio::test]
async fn connections_over_the_limit_get_503_and_the_others_carry_on() {
    let server = echo_builder().max_connections(3).start().unwrap();
    let addr = server.local_addr();
    // Three connections: keep-alive HTTP, a WebSocket, and a silent one.
    let mut http = HttpConn::connect(addr).await;
    http.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await;
    assert_eq!(http.response(false).await.status, 200);
    let mut ws = RawWs::connect(addr, "/").await;
    let silent = HttpConn::connect(addr).await;
    wait_until("three connections", WAIT, || server.connections() == 3).await;

    // A fourth is answered 503 at once, before it says anything...
    for attempt in 0..3 {
        let mut refused = HttpConn::connect(addr).await;
        if attempt == 1 {
            refused.send(&get("/")).await;
        }
        if attempt == 2 {
            refused.send(&upgrade_request("/")).await;
        }
        let response = refused.response(false).await;
        assert_eq!(
            response.status, 503,
            "attempt {attempt}:\n{}",
            response.head
        );
        assert_eq!(response.header("retry-after"), Some("1"));
        assert_eq!(response.header("connection"), Some("close"));
        refused.expect_eof().await;
    }
    // ...and not counted, while the three carry on.
    assert_eq!(server.connections(), 3);
    assert_eq!(server.clients().len(), 1);
    http.send(&get("/led.html")).await;
    assert_eq!(http.response(false).await.body, builtin_page("led.html"));
    http.expect_eof().await;
    ws.expect_echo(OP_TEXT, b"unaffected").await;

    // Once one leaves, a new connection is served.
    drop(http);
    drop(silent);
    wait_until("one connection left", WAIT, || server.connections() == 1).await;
    let mut next = HttpConn::connect(addr).await;
    next.send(&get("/")).await;
    assert_eq!(next.response(false).await.status, 200);
    drop(next);
    drop(ws);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

/// The echo server with an `on_close` record.
fn recorded() -> (RunningServer, Closes) {
    let closes = Closes::new();
    let server = echo_builder().on_close(closes.hook()).start().unwrap();
    (server, closes)
}

#[tokio::test]
async fn abrupt_disconnects_leak_nothing() {
    let (server, closes) = recorded();
    let addr = server.local_addr();
    let mut cases = 0;

    // A reset in the middle of a frame: header and part of the payload.
    let mut ws = RawWs::connect(addr, "/").await;
    let mut bytes = header_bytes(0x80 | OP_BINARY, 1000, LenForm::Minimal, true);
    bytes.extend([0u8; 10]);
    ws.write(&bytes).await;
    reset(ws.stream);
    cases += 1;

    // A reset in the middle of a frame header.
    let mut ws = RawWs::connect(addr, "/").await;
    ws.write(&header_bytes(0x82, 100_000, LenForm::Minimal, true)[..3])
        .await;
    reset(ws.stream);
    cases += 1;

    // A reset in the middle of a fragmented message of 1 MiB so far.
    let mut ws = RawWs::connect(addr, "/").await;
    ws.write(&encode_frame(false, 0, OP_TEXT, &[b'a'; 1 << 20], true))
        .await;
    ws.write(&header_bytes(OP_CONT, 5000, LenForm::Minimal, true))
        .await;
    reset(ws.stream);
    cases += 1;

    // A reset right after the handshake.
    let ws = RawWs::connect(addr, "/").await;
    reset(ws.stream);
    cases += 1;

    // A reset while the server writes an 8 MiB reply to it.
    let mut ws = RawWs::connect(addr, "/").await;
    ws.write(&client_frame(OP_BINARY, &vec![7u8; 8 << 20]))
        .await;
    ws.read_bytes(1000).await;
    reset(ws.stream);
    cases += 1;

    // A FIN without a close frame, after a message: the reply still comes.
    let mut ws = RawWs::connect(addr, "/").await;
    ws.write(&client_frame(OP_TEXT, b"last words")).await;
    ws.stream.shutdown().await.unwrap();
    assert_eq!(ws.read_to_end().await, server_frame(OP_TEXT, b"last words"));
    cases += 1;

    // A FIN in the middle of a frame.
    let mut ws = RawWs::connect(addr, "/").await;
    ws.write(&header_bytes(0x81, 50, LenForm::Minimal, true))
        .await;
    ws.stream.shutdown().await.unwrap();
    assert_eq!(ws.read_to_end().await, b"");
    cases += 1;

    // Each is reported once as 1006, and nothing is left.
    let reported = closes.wait_for(cases, WAIT).await;
    assert!(
        reported.iter().all(|r| *r == (1006, String::new())),
        "{reported:?}"
    );
    // Resets during an HTTP head and during the handshake are not WebSockets.
    let mut conn = HttpConn::connect(addr).await;
    conn.send(b"GET / HTTP/1.1\r\nHo").await;
    reset(conn.stream);
    let mut conn = HttpConn::connect(addr).await;
    conn.send(&upgrade_request("/")[..40]).await;
    reset(conn.stream);
    wait_all_gone(&server, WAIT).await;
    assert_eq!(closes.count(), cases);
    server.shutdown();
}

#[tokio::test]
async fn hundreds_of_concurrent_resets_leak_nothing() {
    let (server, closes) = recorded();
    let addr = server.local_addr();
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            tokio::spawn(async move {
                let mut ws = RawWs::connect(addr, "/").await;
                if i % 2 == 0 {
                    ws.expect_echo(OP_TEXT, b"hello").await;
                }
                let mut bytes = header_bytes(0x82, 4096, LenForm::Minimal, true);
                bytes.extend(vec![1u8; i * 10]);
                ws.write(&bytes).await;
                reset(ws.stream);
            })
        })
        .collect();
    for task in tasks {
        within("client task", task).await.unwrap();
    }
    let reported = closes.wait_for(300, WAIT).await;
    assert!(reported.iter().all(|(code, _)| *code == 1006));
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn a_slow_reader_gets_every_message_up_to_a_1008_close() {
    // The close frame waits behind everything the client has yet to read:
    // the close timeout must not run out while it reads, however slowly.
    let (server, closes, accepted) = start_capturing(
        Server::new()
            .bind(any_port())
            .max_send_queue(64 * 1024)
            .close_timeout(NEVER),
    );
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let conn = accepted.recv_timeout(WAIT).unwrap();
    // Send 16 KiB messages to a client that is not reading, until the
    // queue is full.
    let mut accepted_sends = 0;
    let error = loop {
        match conn.send_text(&numbered(accepted_sends, 16 * 1024)) {
            Ok(()) => accepted_sends += 1,
            Err(e) => break e,
        }
        assert!(accepted_sends < 10_000, "the queue never filled");
        // Pacing, not a wait for an outcome: lets the session move each
        // message into the socket. How many are taken is not asserted.
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    assert_eq!(error, SendError::QueueFull);

    // The client reads now: a gapless run of messages from the first, then
    // the close that tells it the rest were dropped.
    let mut next = 0;
    let close = loop {
        let Some(frame) = ws.try_read_frame().await else {
            panic!(
                "the connection ended after {next} of {accepted_sends} messages \
                 without a close frame: the client was never told"
            );
        };
        if frame.opcode == OP_CLOSE {
            break frame.close();
        }
        assert_eq!(frame.opcode, OP_TEXT);
        assert_eq!(number_of(&frame.payload), next, "a message is missing");
        next += 1;
    };
    assert_eq!(close, (1008, "client too slow".to_owned()));
    assert!(next <= accepted_sends, "{next} of {accepted_sends}");
    ws.write(&client_frame(OP_CLOSE, &close_payload(1008, b"")))
        .await;
    ws.expect_eof().await;
    assert_eq!(
        closes.wait_for(1, WAIT).await,
        [(1008, "client too slow".to_owned())]
    );
    drop(ws);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn a_client_that_sends_but_never_reads_is_bounded_then_dropped() {
    const SEND_TIMEOUT: Duration = Duration::from_millis(300);
    let (server, closes, _accepted) = start_capturing(echo_builder().send_timeout(SEND_TIMEOUT));
    let addr = server.local_addr();
    let mut flooder = RawWs::connect(addr, "/").await;
    let mut other = RawWs::connect(addr, "/").await;

    // Echo requests, never reading a reply: the server stops reading from
    // this client once its replies back up, so the writes stall, until the
    // server drops the client and they fail. No write is timed: a write
    // that takes long may be a stall or a busy machine, and it does not
    // matter which.
    let frame = client_frame(OP_BINARY, &vec![0x55u8; 64 * 1024]);
    // Before the first byte: the server's writes to it cannot stall before.
    let flood_start = Instant::now();
    let flooding = tokio::spawn(async move {
        let mut written = 0usize;
        while flooder.stream.write_all(&frame).await.is_ok() {
            written += frame.len();
            // What the server takes from it is bounded by socket buffers
            // and one message in each direction, not by what it sends.
            assert!(written < 64 << 20, "never stalled: {written} bytes taken");
        }
        written
    });

    // The other client is served meanwhile.
    other.expect_echo(OP_TEXT, b"not held up").await;

    // Taking nothing for the send timeout, the flooder is dropped, and its
    // writes fail.
    let written = within("the flooder's writes to fail", flooding)
        .await
        .unwrap();
    let reported = closes.wait_for(1, WAIT).await;
    let waited = flood_start.elapsed();
    assert_eq!(reported, [(1008, "client too slow".to_owned())]);
    assert!(
        waited >= SEND_TIMEOUT - TICK,
        "dropped {waited:?} after it began sending, {written} bytes taken"
    );
    wait_until("flooder gone", WAIT, || server.clients().len() == 1).await;
    other.expect_echo(OP_TEXT, b"still here").await;
    drop(other);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

/// Reads [`numbered`] snapshots until the one numbered `newest`, checking
/// that none is older than one before it; returns how many came.
async fn read_snapshots(ws: &mut RawWs, newest: usize) -> usize {
    let mut last = None;
    let mut received = 0;
    while last != Some(newest) {
        let frame = tokio::time::timeout(WAIT, ws.read_frame())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "snapshot #{newest} never came: the last of {received} was #{last:?}, \
                     and the server sent nothing for {WAIT:?}"
                )
            });
        assert_eq!(frame.opcode, OP_TEXT);
        let i = number_of(&frame.payload);
        assert!(last.is_none_or(|l| i > l), "#{i} after #{last:?}");
        last = Some(i);
        received += 1;
    }
    received
}

#[tokio::test]
async fn latest_value_sends_coalesce_for_a_slow_reader() {
    let (server, closes, accepted) =
        start_capturing(Server::new().bind(any_port()).max_send_queue(64 * 1024));
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    let conn = accepted.recv_timeout(WAIT).unwrap();
    // 20 MiB of 1 KiB snapshots, 320 times the queue limit: none refused.
    const N: usize = 20_000;
    for i in 0..N {
        assert_eq!(conn.send_latest_text(&numbered(i, 1024)), Ok(()), "#{i}");
        if i % 1000 == 0 {
            // Pacing, not a wait for an outcome: lets the session fill the
            // socket now and then. Coalescing does not depend on it: 20 MiB
            // is more than the socket buffers hold.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    // The client gets snapshots in order, never an older one after a newer
    // one, ending with the newest.
    let received = read_snapshots(&mut ws, N - 1).await;
    assert!(received < N, "nothing was coalesced");
    assert!(conn.is_open());
    assert_eq!(closes.count(), 0);
    drop(ws);
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn latest_value_broadcasts_coalesce_per_client() {
    let (server, closes, _accepted) =
        start_capturing(Server::new().bind(any_port()).max_send_queue(64 * 1024));
    let addr = server.local_addr();
    let mut slow = RawWs::connect(addr, "/").await;
    let mut fast = RawWs::connect(addr, "/").await;
    wait_until("both registered", WAIT, || server.clients().len() == 2).await;
    const N: usize = 5_000;
    // The fast client reads each snapshot as it comes.
    let reader = tokio::spawn(async move {
        read_snapshots(&mut fast, N - 1).await;
        fast
    });
    let clients = server.clients().clone();
    for i in 0..N {
        assert_eq!(clients.broadcast_latest_text(&numbered(i, 4096)), 2, "#{i}");
        if i % 100 == 0 {
            // Pacing, not a wait for an outcome: lets the reader task run.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let fast = within("fast reader", reader).await.unwrap();
    // The slow one, reading only now, gets an increasing run to the newest.
    read_snapshots(&mut slow, N - 1).await;
    assert_eq!(server.clients().len(), 2);
    assert_eq!(closes.count(), 0);
    drop((slow, fast));
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

/// Replies a callback queues for each message in the amplification test.
const REPLIES_PER_MESSAGE: usize = 20;
/// Bytes of each such reply.
const REPLY_LEN: usize = 200;

/// A server whose `on_text` answers every message with
/// [`REPLIES_PER_MESSAGE`] replies of [`REPLY_LEN`] bytes, counting the
/// messages it was handed.
fn amplifier(max_send_queue: usize) -> (Server, Arc<AtomicUsize>) {
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = handled.clone();
    let reply = "r".repeat(REPLY_LEN);
    let server = Server::new()
        .bind(any_port())
        .max_send_queue(max_send_queue)
        .on_text(move |conn, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            for _ in 0..REPLIES_PER_MESSAGE {
                let _ = conn.send_text(&reply);
            }
        });
    (server, handled)
}

/// `n` bytes of tiny text frames, as a client that wants many replies for
/// little input sends them (7 bytes each: `{`, masked).
fn tiny_frames(n: usize) -> Vec<u8> {
    let frame = client_frame(OP_TEXT, b"{");
    let count = n / frame.len();
    frame
        .iter()
        .copied()
        .cycle()
        .take(count * frame.len())
        .collect()
}

/// Until `closes` has a call: the most [`Clients::queued_bytes`] was seen
/// to hold, sampled every millisecond.
async fn peak_queued_until_closed(server: &RunningServer, closes: &Closes) -> usize {
    let deadline = Instant::now() + NEVER;
    let mut peak = 0;
    while closes.count() == 0 {
        peak = peak.max(server.clients().queued_bytes());
        assert!(Instant::now() < deadline, "no close within {NEVER:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    peak
}

#[tokio::test]
async fn replies_to_a_client_that_never_reads_stay_within_its_queue_limit() {
    // Each 7-byte message asks for 4,000 bytes of replies: without
    // backpressure within a read, one 64 KiB read would queue 37 MB.
    const QUEUE: usize = 64 * 1024;
    const SEND_TIMEOUT: Duration = Duration::from_millis(500);
    let (builder, handled) = amplifier(QUEUE);
    let (server, closes, _accepted) = start_capturing(builder.send_timeout(SEND_TIMEOUT));
    let addr = server.local_addr();
    let mut flooder = RawWs::tcp(addr).await;
    flooder.write(&upgrade_request("/")).await;
    flooder.expect_switching_protocols().await;
    let frames = tiny_frames(4 << 20);
    let flooding = tokio::spawn(async move {
        let _ = flooder.stream.write_all(&frames).await;
        flooder
    });
    // The client takes nothing, so it is dropped at the send timeout; by
    // then the server has handed over every message it ever will.
    let peak = peak_queued_until_closed(&server, &closes).await;
    let reported = closes.wait_for(1, WAIT).await;
    assert_eq!(reported, [(1008, "client too slow".to_owned())]);
    flooding.abort();
    let replied = handled.load(Ordering::Relaxed) * REPLIES_PER_MESSAGE * REPLY_LEN;
    eprintln!("replies for a client that never read: {replied} bytes, at most {peak} queued");
    // What the server held: about its queue limit, one message's replies
    // and the input it held back (one read).
    assert!(
        peak <= QUEUE + REPLIES_PER_MESSAGE * (REPLY_LEN + 4) + 64 * 1024,
        "{peak} bytes queued for a client that never read"
    );
    // What it handed over: that, and what the sockets' buffers of both
    // ends took (a few MiB on loopback), not a whole read's worth.
    assert!(
        replied <= 16 << 20,
        "{replied} bytes of replies for a client that never read"
    );
    // Nothing is left counted once it is gone.
    wait_all_gone(&server, WAIT).await;
    wait_until("the output budget to be free", WAIT, || {
        server.clients().queued_bytes() == 0
    })
    .await;
    server.shutdown();
}

#[tokio::test]
async fn sends_from_other_threads_stay_within_the_output_budget() {
    // Four clients that never read, each allowed 1 MiB of queue, and 256
    // KiB for all together: the budget, not the queue limit, cuts them off.
    const BUDGET: usize = 256 * 1024;
    const MESSAGE: usize = 16 * 1024;
    let (server, closes, accepted) = start_capturing(
        Server::new()
            .bind(any_port())
            .max_send_queue(1 << 20)
            .output_budget(BUDGET),
    );
    let addr = server.local_addr();
    let mut clients = Vec::new();
    let mut conns = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_small_receive_buffer(addr).await;
        stream.write_all(&upgrade_request("/")).await.unwrap();
        clients.push(stream);
        conns.push(accepted.recv_timeout(WAIT).unwrap());
    }
    let message = vec![0x42u8; MESSAGE];
    let mut peak = 0;
    let mut refused = 0;
    let deadline = Instant::now() + NEVER;
    while refused < conns.len() {
        refused = 0;
        for conn in &conns {
            match conn.send_binary(&message) {
                Ok(()) => {}
                Err(SendError::QueueFull | SendError::Closed) => refused += 1,
                Err(e) => panic!("unexpected {e}"),
            }
            peak = peak.max(server.clients().queued_bytes());
        }
        assert!(Instant::now() < deadline, "never refused");
        tokio::task::yield_now().await;
    }
    eprintln!("at most {peak} bytes queued on four clients with a {BUDGET}-byte budget");
    // The budget, give or take one message each (a message always fits
    // in an empty queue).
    assert!(peak <= BUDGET + 4 * (MESSAGE + 14), "{peak} bytes queued");
    let reported = closes.wait_for(4, WAIT).await;
    assert!(
        reported.iter().all(|(code, _)| *code == 1008),
        "{reported:?}"
    );
    drop(clients);
    wait_all_gone(&server, WAIT).await;
    wait_until("the output budget to be free", WAIT, || {
        server.clients().queued_bytes() == 0
    })
    .await;
    server.shutdown();
}
