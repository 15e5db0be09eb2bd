//! Liveness: clients that vanish are pinged and dropped, clients that answer
//! pings stay, and clients too slow to read are cut off without holding up
//! anyone else.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{
    OP_PING, RawWs, WAIT, any_port, close_ws, next_message, send, wait_until, ws_connect,
};
use futures_util::StreamExt;
use pinsocket::{Connection, SendError, Server};
use tokio::time::{Instant, timeout_at};
use tokio_tungstenite::tungstenite::Message;

const PING_INTERVAL: Duration = Duration::from_millis(100);
const PING_TIMEOUT: Duration = Duration::from_millis(200);
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long past the close timeout a cut-off client may take to be gone.
const SLACK: Duration = Duration::from_millis(1000);

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
    let start = Instant::now();
    let mut ws = RawWs::connect(server.local_addr(), "/").await;

    // Silent: the server pings...
    let ping = ws.read_frame().await;
    let pinged = start.elapsed();
    assert_eq!((ping.fin, ping.rsv, ping.opcode), (true, 0, OP_PING));
    assert!(ping.payload.is_empty());
    assert!(
        pinged >= Duration::from_millis(90),
        "pinged after {pinged:?}"
    );

    // ...and, with no answer, drops the connection without a close frame.
    ws.expect_eof().await;
    let dropped = start.elapsed();
    assert!(
        dropped >= pinged + Duration::from_millis(100),
        "dropped {:?} after the ping",
        dropped - pinged
    );
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        (1006, "ping timeout".to_owned())
    );
    wait_until("client removed", WAIT, || server.clients().is_empty()).await;
    assert!(start.elapsed() < Duration::from_secs(3));

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
        .ping_timeout(PING_TIMEOUT)
        .on_text(|c, m| c.send_text(m).unwrap())
        .on_close(move |_, code, _| tx.send(code.0).unwrap())
        .start()
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/").await;

    // tungstenite shows pings and answers each on the next read. Eight ping
    // intervals: a client that did not answer would be dropped after three.
    let until = Instant::now() + PING_INTERVAL * 8;
    let mut pings = 0;
    loop {
        match timeout_at(until, ws.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Ping(payload)))) => {
                assert!(payload.is_empty());
                pings += 1;
            }
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings >= 3, "only {pings} pings in 800 ms");
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

/// A 16 KiB text message numbered `i`.
fn numbered(i: usize) -> String {
    let mut msg = format!("{i:08}:");
    msg.extend(std::iter::repeat_n('x', 16 * 1024 - msg.len()));
    msg
}

#[tokio::test]
async fn slow_client_is_cut_off_by_broadcast() {
    let (conn_tx, conn_rx) = mpsc::channel::<Connection>();
    let (closed_tx, closed_rx) = mpsc::channel();
    let server = Server::new()
        .bind(any_port())
        .max_send_queue(64 * 1024)
        .close_timeout(CLOSE_TIMEOUT)
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

    let mut cut_off_at = None;
    for i in 0..10_000 {
        let msg = numbered(i);
        let queued = server.clients().broadcast_text(&msg);
        // The reader gets every broadcast, including the one that found the
        // slow client's queue full; it reads each before the next is sent.
        assert_eq!(next_message(&mut reader).await, Message::text(msg), "#{i}");
        match queued {
            2 => {}
            1 => {
                cut_off_at = Some(i);
                break;
            }
            n => panic!("broadcast #{i} queued on {n} connections"),
        }
    }
    let cut_off_at = cut_off_at.expect("the slow client's queue never filled");
    assert!(cut_off_at >= 3, "cut off after {cut_off_at} messages");
    assert!(!slow_conn.is_open());
    assert_eq!(slow_conn.send_text("more"), Err(SendError::Closed));

    // Closed, and gone within the close timeout.
    let closed = closed_rx
        .recv_timeout(CLOSE_TIMEOUT + SLACK)
        .expect("on_close not called for the slow client within the close timeout");
    assert_eq!(
        closed,
        ("/slow".to_owned(), 1008, "client too slow".to_owned())
    );
    wait_until("slow client removed", SLACK, || server.clients().len() == 1).await;

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
    let server = Server::new()
        .bind(any_port())
        .max_send_queue(64 * 1024)
        .close_timeout(CLOSE_TIMEOUT)
        .on_accept(move |conn, _| {
            conn_tx.send(conn.clone()).unwrap();
            Ok(())
        })
        .on_close(move |_, code, reason| closed_tx.send((code.0, reason.to_owned())).unwrap())
        .start()
        .unwrap();
    let slow = RawWs::connect(server.local_addr(), "/").await;
    let conn = conn_rx.recv_timeout(WAIT).unwrap();

    let msg = numbered(0);
    let mut sent = 0;
    let error = loop {
        match conn.send_text(&msg) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 10_000, "the queue never filled");
        // Pacing, not a wait for an outcome: give the session task time to
        // move each message into the socket, so the queue only fills once
        // the socket buffers are full, as with a real stalled client.
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    assert!(sent >= 8, "queue full after only {sent} messages");
    assert_eq!(error, SendError::QueueFull, "after {sent} messages");
    assert_eq!(conn.send_text("more"), Err(SendError::Closed));

    let closed = closed_rx
        .recv_timeout(CLOSE_TIMEOUT + SLACK)
        .expect("on_close not called for the slow client within the close timeout");
    assert_eq!(closed, (1008, "client too slow".to_owned()));
    wait_until("slow client removed", SLACK, || server.clients().is_empty()).await;

    drop(slow);
    server.shutdown();
}
