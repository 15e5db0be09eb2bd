//! Per-connection memory: 10,000 idle WebSocket connections held open on the
//! echo server, then closed with the closing handshake, twice. The server's
//! resident memory must grow by at most [`PER_CONNECTION_BOUND`] per
//! connection, the second round must fit in what the first left (within
//! [`RETURN_BOUND`]), and the server's counters (open WebSockets, TCP
//! connections, `on_close` calls) must come back to zero after each.
//! docs/CONFORMANCE.md states the same bounds and the measured values.
//!
//! The server runs in this process and the clients in a child process (this
//! test binary again, told so by [`CLIENT_ENV`]), so the memory read is the
//! server's alone and each process needs only one descriptor per
//! connection. Both raise their open-file limit to what that takes.
//!
//! A test binary of its own: no other test runs in this process to disturb
//! its memory or its file descriptors.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    OP_CLOSE, RawWs, client_frame, close_payload, echo_builder, raise_open_file_limit, rss_bytes,
    wait_until, within,
};
use futures_util::future::join_all;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use pinsocket::RunningServer;
use tokio::time::Instant;

/// Connections held at once.
const CONNECTIONS: usize = 10_000;
/// Most resident memory one idle connection may cost the server: measured
/// 0.9 to 1.0 KiB (docs/CONFORMANCE.md).
const PER_CONNECTION_BOUND: u64 = 4 * 1024;
/// How far the server's resident memory may grow over a second round of
/// opening and closing every connection (400 bytes a connection), from
/// allocator fragmentation; a leak of a connection's state would exceed it.
const RETURN_BOUND: u64 = 4 << 20;
/// Handshakes in flight at once: under the server's listen backlog (1024
/// by default), so no SYN is dropped and retried a second later.
const BATCH: usize = 500;
/// File descriptors besides the one per connection.
const SPARE_FDS: u64 = 256;
/// The open-file limit each process raises itself to: one descriptor per
/// connection, and the spare ones.
const OPEN_FILES: u64 = CONNECTIONS as u64 + SPARE_FDS;
/// The longest the test waits for the server to register or let go of
/// everyone: only a guard against a hung test, not a speed requirement
/// (on a loaded machine in a debug build it may take seconds).
const LIMIT: Duration = Duration::from_secs(60);
/// Set (to the server's address) in the child process that plays the clients.
const CLIENT_ENV: &str = "PINSOCKET_MEMORY_TEST_CLIENT";
/// This test's name, for the child process to run it alone.
const TEST_NAME: &str = "ten_thousand_idle_websockets_cost_bounded_memory_and_leave_nothing";
/// What the child prints before each answer, telling it from libtest's output.
const ANSWER: &str = "memory-test-client: ";

/// The child process: opens and closes connections when told on stdin
/// (`open N`, `close`), answering on stdout, until stdin ends.
async fn client_main(addr: std::net::SocketAddr) {
    raise_open_file_limit(OPEN_FILES);
    let mut streams: Vec<RawWs> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if std::io::stdin().read_line(&mut line).unwrap() == 0 {
            return;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["open", n] => {
                let n: usize = n.parse().unwrap();
                while streams.len() < n {
                    let batch = BATCH.min(n - streams.len());
                    let opened = within(
                        "a batch of handshakes",
                        join_all((0..batch).map(|_| RawWs::connect(addr, "/"))),
                    )
                    .await;
                    streams.extend(opened);
                }
                println!("{ANSWER}opened {n}");
            }
            ["close"] => {
                while !streams.is_empty() {
                    let batch: Vec<RawWs> = streams.drain(..BATCH.min(streams.len())).collect();
                    within(
                        "a batch of closing handshakes",
                        join_all(batch.into_iter().map(close)),
                    )
                    .await;
                }
                println!("{ANSWER}closed");
            }
            other => panic!("unknown command {other:?}"),
        }
    }
}

/// The clients' process, seen from the server's side.
struct Clients {
    child: Child,
    to: ChildStdin,
    from: BufReader<ChildStdout>,
}

impl Clients {
    fn spawn(addr: std::net::SocketAddr) -> Clients {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CLIENT_ENV, addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let to = child.stdin.take().unwrap();
        let from = BufReader::new(child.stdout.take().unwrap());
        Clients { child, to, from }
    }

    /// Sends a command and waits (blocking: the server has a runtime of its
    /// own) for the child's answer.
    fn ask(&mut self, command: &str) -> String {
        writeln!(self.to, "{command}").unwrap();
        self.to.flush().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.from.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "the client process ended before answering {command:?}"
            );
            // libtest may have begun the line (`test NAME ... `).
            if let Some(at) = line.find(ANSWER) {
                return line[at + ANSWER.len()..].trim_end().to_owned();
            }
        }
    }

    /// Ends the child (stdin closed) and checks that it passed.
    fn finish(self) {
        let Clients { mut child, to, .. } = self;
        drop(to);
        assert!(child.wait().unwrap().success(), "the client process failed");
    }
}

/// Runs the closing handshake from the client: close 1000, the echo, EOF.
async fn close(mut ws: RawWs) {
    ws.write(&client_frame(OP_CLOSE, &close_payload(1000, b"")))
        .await;
    ws.expect_bytes(b"\x88\x02\x03\xe8").await;
    ws.expect_eof().await;
}

/// RSS before, while holding the connections, and after closing them.
struct Round {
    before: u64,
    held: u64,
    after: u64,
}

/// Has the child open `n` WebSockets, checks that the server holds them
/// all, has them closed, and checks that the server lets go of every one.
async fn round(
    server: &RunningServer,
    clients: &mut Clients,
    n: usize,
    closes: &AtomicUsize,
) -> Round {
    let closed_before = closes.load(Ordering::SeqCst);
    let before = rss_bytes();
    assert_eq!(clients.ask(&format!("open {n}")), format!("opened {n}"));
    wait_until("every connection registered", LIMIT, || {
        server.clients().len() == n && server.connections() == n
    })
    .await;
    let held = rss_bytes();
    assert_eq!(clients.ask("close"), "closed");
    wait_until("every connection gone", LIMIT, || {
        server.clients().is_empty() && server.connections() == 0
    })
    .await;
    wait_until("on_close 1000 for each", LIMIT, || {
        closes.load(Ordering::SeqCst) == closed_before + n
    })
    .await;
    let after = rss_bytes();
    Round {
        before,
        held,
        after,
    }
}

#[tokio::test]
async fn ten_thousand_idle_websockets_cost_bounded_memory_and_leave_nothing() {
    if let Ok(addr) = std::env::var(CLIENT_ENV) {
        client_main(addr.parse().unwrap()).await;
        return;
    }
    raise_open_file_limit(OPEN_FILES);
    let n = CONNECTIONS;
    let normal_closes = Arc::new(AtomicUsize::new(0));
    let other_closes = Arc::new(AtomicUsize::new(0));
    let (normal, other) = (normal_closes.clone(), other_closes.clone());
    // One worker thread: glibc's malloc gives each thread that allocates
    // an arena of its own, and memory freed in one arena is not reused for
    // another's allocations. With several workers, which of them serves
    // the connections of a round depends on how the machine schedules
    // them, and on a loaded machine the second round can land in another
    // arena and grow RSS by megabytes without any leak. With one, both
    // rounds allocate from the same arena, and growth means a leak.
    let server = echo_builder()
        .threads(1)
        .on_close(move |_, code, _| {
            let counter = if code.0 == 1000 { &normal } else { &other };
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .start()
        .unwrap();
    let start = Instant::now();
    let mut clients = Clients::spawn(server.local_addr());

    // First round, from cold: what holding the connections costs.
    let cold = round(&server, &mut clients, n, &normal_closes).await;
    // Second round: glibc's malloc keeps the memory freed by the first
    // round for reuse rather than giving it back, so the second round must
    // fit in it. A leak would show here as growth.
    let warm = round(&server, &mut clients, n, &normal_closes).await;
    clients.finish();
    assert_eq!(other_closes.load(Ordering::SeqCst), 0);

    let per_connection = cold.held.saturating_sub(cold.before) / n as u64;
    let kib = |b: u64| b / 1024;
    eprintln!(
        "{n} idle WebSockets: cold: RSS {} KiB before, {} KiB held ({per_connection} bytes \
         each), {} KiB after closing; warm: {} KiB before, {} KiB held, {} KiB after; {:?}",
        kib(cold.before),
        kib(cold.held),
        kib(cold.after),
        kib(warm.before),
        kib(warm.held),
        kib(warm.after),
        start.elapsed()
    );
    assert!(
        per_connection <= PER_CONNECTION_BOUND,
        "{per_connection} bytes per connection"
    );
    assert!(
        warm.held <= cold.after + RETURN_BOUND && warm.after <= cold.after + RETURN_BOUND,
        "the second round grew RSS: {} KiB held, {} KiB after, from {} KiB",
        kib(warm.held),
        kib(warm.after),
        kib(cold.after)
    );
    server.shutdown();
}
