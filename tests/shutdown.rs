//! Shutdown keeps its promises: timeouts still hold while it runs, every
//! accepted WebSocket gets its `on_close`, waiting for it costs no CPU, and
//! broadcast filters may use the client set.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{WAIT, any_port, connect_small_receive_buffer, upgrade_request, wait_until};
use pinsocket::{CloseCode, Connection, Server};
use tokio::io::AsyncWriteExt;

/// Connects a client that sends the upgrade request and then never reads
/// or writes again, with a small receive buffer so the server's bytes
/// back up quickly.
async fn silent_client(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut stream = connect_small_receive_buffer(addr).await;
    stream.write_all(&upgrade_request("/")).await.unwrap();
    stream
}

/// A client that takes none of the server's bytes holds its close frame
/// behind megabytes of queued data. Shutdown must still end it at the
/// close timeout and run `on_close` for it before returning.
#[tokio::test]
async fn a_client_that_stopped_reading_is_closed_and_reported_during_shutdown() {
    let (accepted_tx, accepted_rx) = mpsc::channel::<Connection>();
    let (closed_tx, closed_rx) = mpsc::channel::<u16>();
    let server = Server::new()
        .bind(any_port())
        .close_timeout(Duration::from_millis(300))
        .max_send_queue(64 << 20)
        .on_accept(move |conn, _| {
            accepted_tx.send(conn.clone()).unwrap();
            Ok(())
        })
        .on_close(move |_, code, _| closed_tx.send(code.0).unwrap())
        .start()
        .unwrap();
    let _stuck = silent_client(server.local_addr()).await;
    let conn = accepted_rx.recv_timeout(WAIT).unwrap();
    // Far more than the kernel buffers of both ends hold.
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..16 {
        conn.send_binary(&chunk).unwrap();
    }
    tokio::task::spawn_blocking(move || server.shutdown())
        .await
        .unwrap();
    assert_eq!(
        closed_rx.try_recv(),
        Ok(CloseCode::GOING_AWAY.0),
        "on_close did not run for the stalled client before shutdown returned"
    );
    assert!(!conn.is_open());
}

/// This thread's voluntary context switches so far (Linux).
fn context_switches() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `RunningServer::shutdown` on a server made with `spawn` blocks the
/// calling thread until the server is done, without polling: while a
/// client that never answers the close holds shutdown for the close
/// timeout, the waiting thread is switched out a few times, not once per
/// polling interval.
#[test]
fn shutdown_waits_without_polling() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (accepted_tx, accepted_rx) = mpsc::channel::<()>();
    let server = runtime
        .block_on(
            Server::new()
                .bind(any_port())
                .close_timeout(Duration::from_millis(500))
                .on_accept(move |_, _| {
                    accepted_tx.send(()).unwrap();
                    Ok(())
                })
                .spawn(),
        )
        .unwrap();
    let _client = runtime.block_on(silent_client(server.local_addr()));
    accepted_rx.recv_timeout(WAIT).unwrap();
    let started = std::time::Instant::now();
    let before = context_switches();
    server.shutdown();
    let switches = context_switches() - before;
    let took = started.elapsed();
    // The close timeout held shutdown up; polling every few milliseconds
    // would have switched out about a hundred times meanwhile.
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(
        switches < 20,
        "{switches} context switches while waiting {took:?} for shutdown"
    );
}

/// A broadcast filter runs outside the client set's lock, so it may ask
/// the set about itself.
#[tokio::test]
async fn a_broadcast_filter_may_use_the_client_set() {
    let server = Server::new()
        .bind(any_port())
        .close_timeout(Duration::from_millis(100))
        .start()
        .unwrap();
    let _client = silent_client(server.local_addr()).await;
    let clients = server.clients().clone();
    wait_until("the client to connect", WAIT, || !clients.is_empty()).await;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let sent = clients.broadcast_text_to("hello", |c| clients.get(c.id()).is_some());
        let latest = clients.broadcast_latest_text_to("state", |_| clients.len() == 1);
        tx.send((sent, latest)).unwrap();
    });
    assert_eq!(
        rx.recv_timeout(WAIT),
        Ok((1, 1)),
        "the broadcast did not finish: its filter deadlocked on the client set"
    );
    server.shutdown();
}
