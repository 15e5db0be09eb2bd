//! Resting sessions: a WebSocket quiet for `rest_idle_after` gives up its
//! task and keeps only its state; input, a send from elsewhere, the sweep's
//! ping and shutdown each bring it back, and nothing is lost on the way.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Closes, RawWs, WAIT, client_frame, echo_builder, server_frame, wait_until};
use pinsocket::{CloseCode, RunningServer, Server};
use tokio::time::Instant;

const REST_AFTER: Duration = Duration::from_millis(100);
/// The server clock counts whole milliseconds: a span it measures as `n` ms
/// may be as short as `n - 1` ms and a little more.
const TICK: Duration = Duration::from_millis(1);

fn server(closes: &Closes) -> RunningServer {
    server_with(closes, REST_AFTER, |builder| builder)
}

/// The echo server resting after `rest_after`, recording closes, with
/// more settings from `more`.
fn server_with(
    closes: &Closes,
    rest_after: Duration,
    more: impl FnOnce(Server) -> Server,
) -> RunningServer {
    more(echo_builder().rest_idle_after(rest_after))
        .on_close(closes.hook())
        .start()
        .unwrap()
}

async fn all_resting(server: &RunningServer, n: usize) {
    wait_until(&format!("{n} resting"), WAIT, || server.resting() == n).await;
}

#[tokio::test]
async fn resting_sessions_wake_for_input_sends_and_close() {
    let closes = Closes::new();
    let server = server(&closes);
    let addr = server.local_addr();
    let mut a = RawWs::connect(addr, "/").await;
    let mut b = RawWs::connect(addr, "/").await;
    all_resting(&server, 2).await;
    assert_eq!(server.clients().len(), 2);

    // Input wakes a resting session: the echo comes back whole, also for a
    // frame split over several writes with pauses longer than the rest
    // delay between them (a session holding part of a frame stays awake).
    a.expect_echo(0x1, b"hello after a nap").await;
    let frame = client_frame(0x1, b"in three pieces");
    for piece in frame.chunks(7) {
        a.write(piece).await;
        // Pacing, not a wait for an outcome: a pause at least this long
        // (longer on a loaded machine, which changes nothing).
        tokio::time::sleep(REST_AFTER * 3).await;
    }
    a.expect_bytes(&server_frame(0x1, b"in three pieces")).await;
    all_resting(&server, 2).await;

    // A send from another thread wakes it: broadcasts reach both.
    let reached = server.clients().broadcast_text("to everyone");
    assert_eq!(reached, 2);
    a.expect_bytes(&server_frame(0x1, b"to everyone")).await;
    b.expect_bytes(&server_frame(0x1, b"to everyone")).await;
    all_resting(&server, 2).await;

    // The client's close wakes it: the close is echoed and reported.
    let mut close = 1000u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"bye");
    b.write(&client_frame(0x8, &close)).await;
    assert_eq!(b.expect_close(1000).await, "");
    b.expect_eof().await;
    let codes = closes.wait_for(1, WAIT).await;
    assert_eq!(codes, [(1000, "bye".to_owned())]);
    all_resting(&server, 1).await;

    // Shutdown wakes the rest with 1001.
    let stopping = tokio::task::spawn_blocking(move || server.shutdown());
    a.expect_close(CloseCode::GOING_AWAY.0).await;
    a.write(&client_frame(0x8, &1001u16.to_be_bytes())).await;
    a.expect_eof().await;
    stopping.await.unwrap();
    assert_eq!(closes.wait_for(2, WAIT).await[1].0, 1001);
}

#[tokio::test]
async fn a_resting_session_still_pings_and_times_out() {
    // The interval leaves the session time to rest between pings; the
    // timeout is what the answer below may take, generous for a loaded
    // machine.
    const PING_INTERVAL: Duration = Duration::from_millis(400);
    const PING_TIMEOUT: Duration = Duration::from_millis(500);
    let closes = Closes::new();
    let server = server_with(&closes, REST_AFTER, |builder| {
        builder
            .ping_interval(PING_INTERVAL)
            .ping_timeout(PING_TIMEOUT)
    });
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    all_resting(&server, 1).await;

    // The sweep's ping wakes the session to write it; answered, the
    // connection lives on and rests again.
    let ping = ws.read_frame().await;
    assert_eq!(ping.opcode, 0x9);
    // Before the answer: certainly before the server reads it, which is
    // when its clock for the next ping starts.
    let answered = Instant::now();
    ws.write(&client_frame(0xA, &ping.payload)).await;
    all_resting(&server, 1).await;

    // Unanswered, the next one ends it at the ping timeout, not before:
    // the interval and the timeout have passed since the answer.
    let ping = ws.read_frame().await;
    assert_eq!(ping.opcode, 0x9);
    let codes = closes.wait_for(1, WAIT).await;
    let waited = answered.elapsed();
    assert_eq!(codes, [(1006, "ping timeout".to_owned())]);
    assert!(
        waited >= PING_INTERVAL + PING_TIMEOUT - TICK,
        "dropped {waited:?} after the last answer"
    );
    wait_until("the connection is gone", WAIT, || {
        server.clients().is_empty() && server.connections() == 0
    })
    .await;
    assert_eq!(server.resting(), 0);
    server.shutdown();
}

#[tokio::test]
async fn a_busy_session_does_not_rest() {
    let closes = Closes::new();
    let server = server(&closes);
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    // The first message wakes the new connection, which rests again as
    // soon as it is answered (see the next test); from the second on, the
    // traffic is steady, a message every 20 ms: never quiet for the rest
    // delay, so never resting.
    //
    // A loaded machine may stretch a pause past the rest delay, and then
    // resting is right. So each check counts only if the server cannot
    // have been quiet that long: the server's quiet spells before the
    // check all lie between the sending of the previous message and the
    // end of the check. Fifty such checks are asserted, as many as the
    // pauses take on an unloaded machine.
    let mut previous_sent = Instant::now();
    ws.expect_echo(0x1, b"hello").await;
    let mut checked = 0;
    let mut i = 0;
    while checked < 50 {
        // Pacing, not a wait for an outcome: the steady traffic.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let sent = Instant::now();
        ws.expect_echo(0x1, format!("tick {i}").as_bytes()).await;
        let resting = server.resting();
        if previous_sent.elapsed() < REST_AFTER - TICK {
            assert_eq!(resting, 0, "resting while busy, at tick {i}");
            checked += 1;
        }
        previous_sent = sent;
        i += 1;
        assert!(
            i < 1000,
            "only {checked} of {i} round trips came within the rest delay"
        );
    }
    // Gone before the shutdown, which would otherwise wait out the close
    // timeout for a client that does not answer its 1001.
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn a_quiet_connection_rests_again_right_after_a_burst_and_a_busy_one_keeps_its_task() {
    let closes = Closes::new();
    // A rest delay far longer than the test: only resting again right
    // after a burst can rest anything here.
    let server = server_with(&closes, Duration::from_secs(30), |builder| builder);
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    // New connections start resting.
    all_resting(&server, 1).await;
    // The first message starts a task, which rests again once the echo
    // is written.
    ws.expect_echo(0x1, b"first").await;
    all_resting(&server, 1).await;
    // The next one, soon after, finds it rested only briefly: busy, so it
    // keeps its task.
    ws.expect_echo(0x1, b"second").await;
    for _ in 0..10 {
        // Pacing, not a wait for an outcome: watching a while (the rest
        // delay is far beyond anything a loaded machine adds to this).
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(server.resting(), 0, "a busy connection rested");
    }
    ws.expect_echo(0x1, b"third").await;
    drop(ws);
    server.shutdown();
}

#[tokio::test]
async fn rest_idle_after_max_never_rests() {
    let closes = Closes::new();
    let server = server_with(&closes, Duration::MAX, |builder| builder);
    let mut ws = RawWs::connect(server.local_addr(), "/").await;
    for i in 0..5 {
        ws.expect_echo(0x1, format!("message {i}").as_bytes()).await;
        assert_eq!(server.resting(), 0);
        // Pacing, not a wait for an outcome: a quiet spell between
        // messages, which rests nothing here.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.resting(), 0);
    }
    drop(ws);
    server.shutdown();
}
