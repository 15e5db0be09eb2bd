//! Sends from other threads always wake the session they queue on: a
//! message queued on a connection while its own session is dispatching a
//! callback, from another thread, is written as soon as that session is
//! done — never left in the queue until something else happens to wake it.
//!
//! The servers here never rest (`rest_idle_after(Duration::MAX)`) and ping
//! only after a minute, so nothing else would ever wake a session that
//! missed a wake-up: a lost one shows as a message that never arrives.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{DEVICE_PROTOCOL, OP_TEXT, RawWs, any_port, client_frame, device_app};
use pinsocket::{RunningServer, Server};
use tokio::time::Instant;

/// How long a delivery may take before it counts as lost. A lost wake-up
/// here is never repaired, so this only bounds a failing test; the figures
/// printed show how long deliveries really took.
const LOST_AFTER: Duration = Duration::from_secs(5);

/// A server that never rests and pings only after a minute.
fn quiet_server() -> Server {
    Server::new()
        .bind(any_port())
        .rest_idle_after(Duration::MAX)
        .ping_interval(Duration::from_secs(60))
}

/// Many rounds: the client sends round `n`; its session's `on_text` asks
/// another thread to send `late n` to the same connection and then
/// replies a few times itself, so the other thread's send lands while (or
/// just after) the session dispatches. The client then waits, quiet, for
/// the replies and `late n`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_from_another_thread_during_dispatch_is_never_left_queued() {
    const CLIENTS: usize = 8;
    /// Rounds go on this long (a few thousand per client on an idle machine).
    const FOR: Duration = Duration::from_secs(3);
    const REPLIES: usize = 16;
    let pokers: Arc<Mutex<HashMap<u64, mpsc::Sender<u32>>>> = Arc::default();
    let on_accept_pokers = pokers.clone();
    let server: RunningServer = quiet_server()
        .on_accept(move |conn, _| {
            let (tx, rx) = mpsc::channel::<u32>();
            let target = conn.clone();
            std::thread::spawn(move || {
                for n in rx {
                    let _ = target.send_text(&format!("late {n}"));
                }
            });
            on_accept_pokers.lock().unwrap().insert(conn.id(), tx);
            Ok(())
        })
        .on_text(move |conn, msg| {
            let n: u32 = msg.parse().unwrap();
            if let Some(poker) = pokers.lock().unwrap().get(&conn.id()) {
                poker.send(n).unwrap();
            }
            for _ in 0..REPLIES {
                let _ = conn.send_text("reply");
            }
        })
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        tasks.push(tokio::spawn(async move {
            let mut client = RawWs::upgrade(addr, None).await;
            let mut worst = Duration::ZERO;
            let start = Instant::now();
            let mut n = 0u32;
            while start.elapsed() < FOR {
                n += 1;
                let sent = Instant::now();
                client
                    .write(&client_frame(OP_TEXT, n.to_string().as_bytes()))
                    .await;
                let expected_late = format!("late {n}");
                let (mut replies, mut late) = (0, false);
                while replies < REPLIES || !late {
                    let text = tokio::time::timeout(LOST_AFTER, client.next_text())
                        .await
                        .unwrap_or_else(|_| {
                            panic!(
                                "round {n}: after {replies} replies, late: {late}; \
                                 the rest never arrived"
                            )
                        });
                    match text.as_str() {
                        "reply" => replies += 1,
                        t if t == expected_late => late = true,
                        t => panic!("round {n}: unexpected {t:?}"),
                    }
                }
                worst = worst.max(sent.elapsed());
            }
            (n, worst)
        }));
    }
    let (mut rounds, mut worst) = (0, Duration::ZERO);
    for task in tasks {
        let (n, slowest) = task.await.unwrap();
        rounds += n;
        worst = worst.max(slowest);
    }
    eprintln!("{CLIENTS} clients, {rounds} rounds in all: slowest round {worst:?}");
    server.shutdown();
}

/// One round of the device stress test for one client: send `toggles`
/// toggle commands, then read until the state has version `until`.
struct Round {
    toggles: usize,
    until: u64,
}

/// The device server under concurrent changes: in every round some clients
/// toggle outputs, a thread drives an input back and forth (each edge is
/// an event and a state, broadcast from that thread) and another thread
/// broadcasts text to everyone. Afterwards every client must receive the
/// final state. Round after round, for a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_gets_the_final_state_after_concurrent_changes() {
    use pinsocket_device::Level;
    use tokio::sync::mpsc as channel;

    const CLIENTS: usize = 16;
    /// Clients that also switch outputs, each its own.
    const TOGGLERS: usize = 4;
    /// Switches per toggler and round: on, then off.
    const TOGGLES: usize = 2;
    const EDGES: usize = 2;
    const FOR: Duration = Duration::from_secs(3);

    let mut board = String::new();
    for i in 0..TOGGLERS {
        board += &format!("[[output]]\nname = \"out{i}\"\nline = {i}\n");
    }
    board += "[[input]]\nname = \"button\"\nline = 17\n";
    // The togglers switch as fast as they can: far past the per-client
    // command limit, which is not what this test is about.
    board += "[limits]\ncommands_per_second = 1000000\ncommand_burst = 1000000\n";
    let app = device_app(&board);
    let sim = app.sim.clone().unwrap();
    let device = app.device.clone();
    let server = app
        .server
        .rest_idle_after(Duration::MAX)
        .ping_interval(Duration::from_secs(60))
        .start()
        .unwrap();
    let addr = server.local_addr();
    let clients = server.clients().clone();

    // Each client task takes rounds and answers when it has the final state.
    let (done_tx, mut done_rx) = channel::unbounded_channel::<(usize, Instant)>();
    let (mut rounds, mut tasks) = (Vec::new(), Vec::new());
    for i in 0..CLIENTS {
        let (tx, mut rx) = channel::unbounded_channel::<Round>();
        rounds.push(tx);
        let done = done_tx.clone();
        let mut client = RawWs::upgrade(addr, Some(DEVICE_PROTOCOL)).await;
        assert_eq!(client.next_text().await, r#"{"board":{"simulated":true}}"#);
        let first: serde_json::Value = serde_json::from_str(&client.next_text().await).unwrap();
        assert_eq!(first["state"]["version"], 1);
        tasks.push(tokio::spawn(async move {
            // The original's plain text: each is answered `Reply for ...`
            // after the change is broadcast, so the sender's session is
            // still dispatching while others broadcast to it.
            let on = client_frame(OP_TEXT, format!("out{}On", i % TOGGLERS).as_bytes());
            let off = client_frame(OP_TEXT, format!("out{}Off", i % TOGGLERS).as_bytes());
            let mut version = 1;
            while let Some(round) = rx.recv().await {
                for t in 0..round.toggles {
                    let command = if t % 2 == 0 { &on } else { &off };
                    client.write(command).await;
                }
                while version < round.until {
                    let text = tokio::time::timeout(LOST_AFTER, client.next_text())
                        .await
                        .unwrap_or_else(|_| {
                            panic!(
                                "client {i}: has version {version}, the final state \
                                 {} never arrived",
                                round.until
                            )
                        });
                    if text == "tick"
                        || text.starts_with("Reply for ")
                        || text.starts_with(r#"{"event""#)
                    {
                        continue;
                    }
                    let msg: serde_json::Value = serde_json::from_str(&text).unwrap();
                    let v = msg["state"]["version"].as_u64().expect(&text);
                    assert!(v > version, "client {i}: version {v} after {version}");
                    version = v;
                }
                assert_eq!(version, round.until, "client {i}");
                let _ = done.send((i, Instant::now()));
            }
        }));
    }

    let start = Instant::now();
    let mut level = Level::Low;
    let (mut count, mut worst) = (0u32, Duration::ZERO);
    while start.elapsed() < FOR {
        count += 1;
        let before = device.snapshot().version;
        let until = before + (TOGGLERS * TOGGLES + EDGES) as u64;
        // The threads' changes go in alongside the clients' commands.
        let (edges_sim, ticks) = (sim.clone(), clients.clone());
        let edges = std::thread::spawn(move || {
            for _ in 0..EDGES {
                level = level.toggled();
                edges_sim.set_input("button", level);
            }
            (level, std::time::Instant::now())
        });
        let ticker = std::thread::spawn(move || {
            for _ in 0..5 {
                ticks.broadcast_text("tick");
            }
        });
        let mut last_write = Instant::now();
        for (i, round) in rounds.iter().enumerate() {
            let toggles = if i < TOGGLERS { TOGGLES } else { 0 };
            round.send(Round { toggles, until }).unwrap();
            last_write = Instant::now();
        }
        let (new_level, edges_done) = edges.join().unwrap();
        level = new_level;
        ticker.join().unwrap();
        let last_change = last_write.max(Instant::from_std(edges_done));
        let mut slowest = last_change;
        for _ in 0..CLIENTS {
            let (_, at) = tokio::time::timeout(LOST_AFTER * 2, done_rx.recv())
                .await
                .expect("a client never reported")
                .unwrap();
            slowest = slowest.max(at);
        }
        worst = worst.max(slowest - last_change);
        assert_eq!(device.snapshot().version, until);
    }
    eprintln!(
        "{count} rounds of {CLIENTS} clients: the slowest client had the final state \
         {worst:?} after the last change was submitted"
    );
    // The clients hang up; then the server has nothing to wait for.
    drop(rounds);
    for task in tasks {
        task.await.unwrap();
    }
    server.shutdown();
}
