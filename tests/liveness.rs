//! Liveness: clients that vanish are pinged and dropped, clients that answer
//! pings stay, and clients too slow to read are cut off without holding up
//! anyone else.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{
    OP_PING, OP_TEXT, RawWs, WAIT, any_port, close_ws, next_message, numbered, send, server_frame,
    wait_until, ws_connect,
};
use pinsocket::{Connection, SendError, Server};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

const PING_INTERVAL: Duration = Duration::from_millis(100);
const PING_TIMEOUT: Duration = Duration::from_millis(200);
/// The ping timeout for a client that answers: the longest its answer may
/// take, so generous that a loaded machine does not make it late.
const ANSWERED_PING_TIMEOUT: Duration = Duration::from_millis(500);
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// The server clock counts whole milliseconds: a span it measures as `n` ms
/// may be as short as `n - 1` ms and a little more.
const TICK: Duration = Duration::from_millis(1);

#[tokio::test]
async fn vanished_client_is_pinged_then_dropped() {
    let (tx, rx) = mpsc::channel();
    let server = Server::new()
        .bind(any_port())
        .ping_interval(PING_INTERVAL)
        .ping_timeout(PING_TIMEOUT)
        .on_close(move |_, code, reason| tx.send((code.0, reason.to_owned())).unwrap())
        .start()
        .unwrap();
    // Taken before the handshake: the server's clock for this client starts
    // when it reads the upgrade request, certainly later. The bounds below
    // are lower bounds only; how much later things happen depends on the
    // machine's load, and only the hang guard of each wait bounds that.
    let start = Instant::now();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;

    // Silent: the server pings, not before the ping interval...
    let ping = ws.read_frame().await;
    let pinged = start.elapsed();
    assert_eq!((ping.fin, ping.rsv, ping.opcode), (true, 0, OP_PING));
    assert!(ping.payload.is_empty());
    assert!(pinged >= PING_INTERVAL - TICK, "pinged after {pinged:?}");

    // ...and, with no answer, drops the connection without a close frame,
    // not before the ping timeout has passed since the ping was due. (Not
    // measured from the ping's arrival: the ping may reach this client late,
    // which says nothing about when the server sent it.)
    ws.expect_eof().await;
    let dropped = start.elapsed();
    assert!(
        dropped >= PING_INTERVAL + PING_TIMEOUT - TICK,
        "dropped {dropped:?} after the handshake began"
    );
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        (1006, "ping timeout".to_owned())
    );
    wait_until("client removed", WAIT, || server.clients().is_empty()).await;

    drop(ws);
    server.shutdown();
    assert_eq!(rx.try_iter().count(), 0, "on_close called more than once");
}

#[tokio::test]
async fn client_answering_pings_stays_connected() {
    let (tx, rx) = mpsc::channel::<u16>();
    let server = Server::new()
        .bind(any_port())
        .ping_interval(PING_INTERVAL)
        .ping_timeout(ANSWERED_PING_TIMEOUT)
        .on_text(|c, m| c.send_text(m).unwrap())
        .on_close(move |_, code, _| tx.send(code.0).unwrap())
        .start()
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/").await;

    // tungstenite shows pings and answers each on the next read. The server
    // pings again only once it has read something after its last ping, so
    // every ping after the first shows an answer was taken. Counted, not
    // timed: the loop goes on until a client that did not answer would have
    // been dropped, that is until the ping timeout and one more interval
    // have passed since the first ping arrived (so since it was sent),
    // however long that takes on this machine. A dropped client fails
    // `next_message` (the stream ends).
    let mut pings = 0;
    let mut first_ping = None;
    loop {
        match next_message(&mut ws).await {
            Message::Ping(payload) => assert!(payload.is_empty()),
            other => panic!("unexpected {other:?}"),
        }
        pings += 1;
        let first: Instant = *first_ping.get_or_insert_with(Instant::now);
        if pings >= 3 && first.elapsed() >= ANSWERED_PING_TIMEOUT + PING_INTERVAL {
            break;
        }
    }
    assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    assert_eq!(server.clients().len(), 1);

    send(&mut ws, Message::text("still here")).await;
    loop {
        match next_message(&mut ws).await {
            Message::Ping(_) => {}
            other => {
                assert_eq!(other, Message::text("still here"));
                break;
            }
        }
    }

    close_ws(ws).await;
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 1005);
    server.shutdown();
}

/// The server of the slow-reader tests: a 64 KiB send queue, and the
/// close timeout that ends a connection that neither reads nor answers.
fn slow_reader_server() -> Server {
    Server::new()
        .bind(any_port())
        .max_send_queue(64 * 1024)
        .close_timeout(CLOSE_TIMEOUT)
}

#[tokio::test]
async fn slow_client_is_cut_off_by_broadcast() {
    let (conn_tx, conn_rx) = mpsc::channel::<Connection>();
    let (closed_tx, closed_rx) = mpsc::channel();
    let server = slow_reader_server()
        .on_accept(move |conn, req| {
            if req.path() == "/slow" {
                conn_tx.send(conn.clone()).unwrap();
            }
            Ok(())
        })
        .on_close(move |conn, code, reason| {
            closed_tx
                .send((conn.path().to_owned(), code.0, reason.to_owned()))
                .unwrap();
        })
        .start()
        .unwrap();
    let addr = server.local_addr();

    // Handshakes, then never reads.
    let slow = RawWs::connect(addr, "/slow").await;
    let slow_conn = conn_rx.recv_timeout(WAIT).unwrap();
    let mut reader = ws_connect(addr, "/reader").await;
    wait_until("both registered", WAIT, || server.clients().len() == 2).await;

    let mut cut_off = None;
    for i in 0..10_000 {
        let msg = numbered(i, 16 * 1024);
        // Before the broadcast: certainly before the server starts the close
        // timeout, should this one find the queue full.
        let since = Instant::now();
        let queued = server.clients().broadcast_text(&msg);
        // The reader gets every broadcast, including the one that found the
        // slow client's queue full; it reads each before the next is sent.
        assert_eq!(next_message(&mut reader).await, Message::text(msg), "#{i}");
        match queued {
            2 => {}
            1 => {
                cut_off = Some((i, since));
                break;
            }
            n => panic!("broadcast #{i} queued on {n} connections"),
        }
    }
    let (cut_off_at, cut_off_since) = cut_off.expect("the slow client's queue never filled");
    assert!(cut_off_at >= 3, "cut off after {cut_off_at} messages");
    assert!(!slow_conn.is_open());
    assert_eq!(slow_conn.send_text("more"), Err(SendError::Closed));

    // Closed: neither reading nor answering the close frame, it is let go
    // at the close timeout, not before.
    let closed = closed_rx
        .recv_timeout(WAIT)
        .expect("on_close not called for the slow client");
    let waited = cut_off_since.elapsed();
    assert_eq!(
        closed,
        ("/slow".to_owned(), 1008, "client too slow".to_owned())
    );
    assert!(
        waited >= CLOSE_TIMEOUT,
        "closed {waited:?} after the cut-off"
    );
    wait_until("slow client removed", WAIT, || server.clients().len() == 1).await;

    // The reader is unaffected.
    assert_eq!(server.clients().broadcast_text("after"), 1);
    assert_eq!(next_message(&mut reader).await, Message::text("after"));

    drop(slow);
    close_ws(reader).await;
    server.shutdown();
}

#[tokio::test]
async fn send_to_slow_client_reports_queue_full() {
    let (conn_tx, conn_rx) = mpsc::channel::<Connection>();
    let (closed_tx, closed_rx) = mpsc::channel();
    let server = slow_reader_server()
        .on_accept(move |conn, _| {
            conn_tx.send(conn.clone()).unwrap();
            Ok(())
        })
        .on_close(move |_, code, reason| closed_tx.send((code.0, reason.to_owned())).unwrap())
        .start()
        .unwrap();
    let mut slow = RawWs::connect(server.local_addr(), "/").await;
    let conn = conn_rx.recv_timeout(WAIT).unwrap();

    // While the client reads, every send is taken, though together they are
    // twice the queue limit: the limit counts what is not yet written, not
    // what was sent. Each message is read before the next is sent, so this
    // holds however fast the session task gets to run.
    let mut sent = 0;
    while sent < 8 {
        let msg = numbered(sent, 16 * 1024);
        assert_eq!(conn.send_text(&msg), Ok(()), "message {sent}");
        slow.expect_bytes(&server_frame(OP_TEXT, msg.as_bytes()))
            .await;
        sent += 1;
    }
    // Then it stops reading: once the socket buffers are full, the queue
    // fills.
    let msg = numbered(sent, 16 * 1024);
    let mut full_since;
    let error = loop {
        // Before the send: certainly before the close timeout starts.
        full_since = Instant::now();
        match conn.send_text(&msg) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 10_000, "the queue never filled");
        // Pacing, not a wait for an outcome: give the session task time to
        // move each message into the socket, so the queue mostly fills once
        // the socket buffers are full, as with a real stalled client. How
        // many messages that takes is not asserted: it depends on speed.
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    assert_eq!(error, SendError::QueueFull, "after {sent} messages");
    assert_eq!(conn.send_text("more"), Err(SendError::Closed));

    // Neither reading nor answering the close frame, it is let go at the
    // close timeout, not before.
    let closed = closed_rx
        .recv_timeout(WAIT)
        .expect("on_close not called for the slow client");
    let waited = full_since.elapsed();
    assert_eq!(closed, (1008, "client too slow".to_owned()));
    assert!(
        waited >= CLOSE_TIMEOUT,
        "closed {waited:?} after the queue filled"
    );
    wait_until("slow client removed", WAIT, || server.clients().is_empty()).await;

    drop(slow);
    server.shutdown();
}
