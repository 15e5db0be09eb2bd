//! The `pinsocket` binary under floods that once exhausted a Raspberry Pi:
//!
//! - 400 clients that each send 1 MiB of tiny malformed commands, every one
//!   answered with an error, and never read: the server's memory stays
//!   within its output budget and a baseline, a controlling client's output
//!   still goes safe when it leaves, and the server still answers;
//! - idle connections up to a small open-file limit: past the connection
//!   limit derived from it, a new client gets a 503 at once, and the
//!   accept loop never runs out of descriptors;
//! - a soft open-file limit below the hard one: the binary raises it.
//!
//! A test binary of its own: each test runs the server as a child process
//! and opens hundreds of connections, so this process raises its open-file
//! limit.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{
    DEVICE_PROTOCOL, DeviceWs, OP_TEXT, Pinsocket, TempDir, WAIT, client_frame,
    connect_small_receive_buffer, head_end, pinsocket_command_under_ulimit, raise_open_file_limit,
    rss_bytes_of, upgrade_request_offering,
};
use rlimit::Resource;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The output budget the flooded server is given.
const BUDGET: u64 = 16 << 20;
/// Clients that flood.
const FLOODERS: usize = 400;
/// What each of them sends.
const FLOOD_BYTES: usize = 1 << 20;
/// Besides the budget, what the server's resident memory may grow by
/// during the flood: per flooder about 4 KiB of input held back while the
/// budget is spent, its connection and task (a few KiB in a debug build),
/// and allocator slack. Without the budget, the same flood takes about 250
/// MiB (640 KiB of replies per flooder).
const ALLOWANCE: u64 = 16 << 20;
/// The longest the flood is let run: a guard against a hung test.
const FLOOD_LIMIT: Duration = Duration::from_secs(300);

/// A running `pinsocket` and the address it listens on.
struct Served {
    binary: Pinsocket,
    addr: SocketAddr,
}

impl Served {
    /// `pinsocket --listen 127.0.0.1:0 --log-level warn ARGS`, run by `sh
    /// -c` after the shell's `ulimit` arguments (`-n 256` sets both limits,
    /// `-S -n 256` the soft one), if any.
    fn start(ulimit: Option<&str>, args: &[&str]) -> Served {
        let mut all = vec!["--listen", "127.0.0.1:0", "--log-level", "warn"];
        all.extend_from_slice(args);
        let binary = match ulimit {
            Some(limit) => Pinsocket::spawn(pinsocket_command_under_ulimit(limit, &all)),
            None => Pinsocket::start(&all),
        };
        let addr = binary.listening();
        Served { binary, addr }
    }

    /// The server's resident memory (`VmRSS`), in bytes.
    fn rss(&self) -> u64 {
        rss_bytes_of(self.binary.id())
    }

    /// The CPU time the server has used, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.binary.id())).unwrap();
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        // utime and stime, fields 14 and 15 of the whole line.
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

/// Sends a GET for `/` on a new connection and returns the status of the
/// answer, failing the test if none comes within [`WAIT`].
async fn status_of_get(addr: SocketAddr) -> u16 {
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let answer = tokio::time::timeout(WAIT, async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while head_end(&buf).is_none() {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed without an answer");
            buf.extend_from_slice(&chunk[..n]);
        }
        buf
    })
    .await
    .unwrap_or_else(|_| panic!("no answer to a GET within {WAIT:?}"));
    let head = String::from_utf8_lossy(&answer);
    head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap()
}

/// Waits for a device state whose `led` output is `on`, skipping others.
async fn until_led(ws: &mut DeviceWs, on: bool) {
    loop {
        let state = ws.next_state().await;
        if state["outputs"]["led"] == on {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_clients_that_never_read_their_errors_stay_within_the_budget() {
    raise_open_file_limit(FLOODERS as u64 + 256);
    let dir = TempDir::new("flood");
    let config = dir.path().join("pins.toml");
    // The device hub's own caps on commands and refusals are opened wide:
    // this is about what the server holds for clients that never read.
    std::fs::write(
        &config,
        format!(
            "[limits]\noutput_budget = {BUDGET}\ncommands_per_second = 1000000\n\
             command_burst = 1000000\nmax_refused = 1000000\n"
        ),
    )
    .unwrap();
    let served = Served::start(None, &["--config", config.to_str().unwrap()]);
    let addr = served.addr;

    // The controlling client switches the LED on.
    let (mut controller, _) = DeviceWs::connect(addr, Some(DEVICE_PROTOCOL), WAIT).await;
    controller.send(r#"{"set":{"led":true}}"#).await;
    until_led(&mut controller, true).await;
    let baseline = served.rss();

    // 400 clients each send 1 MiB of `{` (each answered with an error
    // naming it bad JSON) and never read.
    let frame = client_frame(OP_TEXT, b"{");
    let flood: Arc<[u8]> = frame
        .iter()
        .copied()
        .cycle()
        .take(FLOOD_BYTES / frame.len() * frame.len())
        .collect();
    let taken = Arc::new(AtomicUsize::new(0));
    let mut flooders = Vec::new();
    for _ in 0..FLOODERS {
        let mut stream = connect_small_receive_buffer(addr).await;
        stream
            .write_all(&upgrade_request_offering("/", Some(DEVICE_PROTOCOL)))
            .await
            .unwrap();
        let flood = flood.clone();
        let taken = taken.clone();
        flooders.push(tokio::spawn(async move {
            for chunk in flood.chunks(16 * 1024) {
                if stream.write_all(chunk).await.is_err() {
                    return;
                }
                taken.fetch_add(chunk.len(), Ordering::Relaxed);
            }
            // Kept open, never read, until the test ends.
            std::future::pending::<()>().await;
        }));
    }

    // Until the server has done all it will with the flood (the kernel
    // takes it in at once; the server decodes it until each client's
    // replies back up, then waits): its memory, sampled. Done is when it
    // has gone idle, using under a tenth of a CPU for a second.
    let start = Instant::now();
    let mut peak = baseline;
    let mut cpu = (served.cpu_ticks(), Instant::now());
    loop {
        peak = peak.max(served.rss());
        if cpu.1.elapsed() >= Duration::from_secs(1) {
            let ticks = served.cpu_ticks();
            if ticks - cpu.0 <= 10 {
                break;
            }
            cpu = (ticks, Instant::now());
        }
        assert!(start.elapsed() < FLOOD_LIMIT, "the server did not go idle");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("flood: the server went idle after {:?}", start.elapsed());
    peak = peak.max(served.rss());
    println!(
        "flood: {} MiB taken from {FLOODERS} clients; server RSS {:.1} MiB before, peak {:.1} MiB \
         (budget {} MiB, allowance {} MiB)",
        taken.load(Ordering::Relaxed) >> 20,
        baseline as f64 / f64::from(1 << 20),
        peak as f64 / f64::from(1 << 20),
        BUDGET >> 20,
        ALLOWANCE >> 20
    );
    assert!(
        peak <= baseline + BUDGET + ALLOWANCE,
        "server RSS peaked at {peak} bytes, from {baseline} before the flood"
    );

    // The controlling client goes away: the LED goes safe, as a new client
    // sees, and the server still serves pages.
    drop(controller);
    let (mut fresh, _) = DeviceWs::connect(addr, Some(DEVICE_PROTOCOL), WAIT).await;
    until_led(&mut fresh, false).await;
    assert_eq!(status_of_get(addr).await, 200);
    for flooder in flooders {
        flooder.abort();
    }
    drop(served);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_descriptors_a_client_gets_503_at_once() {
    // 256 descriptors (soft and hard): the binary serves 80 connections
    // ((256 - 96) / 2) and answers the rest 503.
    const IDLE: usize = 300;
    raise_open_file_limit(IDLE as u64 + 256);
    let served = Served::start(Some("-n 256"), &[]);
    let addr = served.addr;
    // Idle connections that never send a byte, as slowloris heads do.
    let mut idle = Vec::new();
    for _ in 0..IDLE {
        idle.push(
            tokio::time::timeout(WAIT, TcpStream::connect(addr))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    // A new client is told at once, not left waiting for a descriptor.
    assert_eq!(status_of_get(addr).await, 503);
    // Each idle connection was either taken or refused: none waits in the
    // accept queue for a descriptor that never comes.
    let mut answered = 0;
    for stream in &mut idle {
        let mut byte = [0u8; 1];
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(1), stream.peek(&mut byte)).await
        {
            answered += 1;
        }
    }
    println!("{answered} of {IDLE} idle connections answered 503 at once");
    assert_eq!(
        served.binary.logged("accept failed"),
        0,
        "the server ran out of descriptors:\n{}",
        served.binary.log()
    );
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_raises_its_soft_open_file_limit() {
    // A soft limit of 256 under a higher hard one, as on a stock Raspberry
    // Pi (1,024 under 524,288): raised, 300 idle connections do not stop a
    // page from being served.
    const IDLE: usize = 300;
    raise_open_file_limit(IDLE as u64 + 256);
    let (_, hard) = rlimit::getrlimit(Resource::NOFILE).unwrap();
    assert!(
        hard >= 1024,
        "the hard open-file limit ({hard}) is too low for this test"
    );
    let served = Served::start(Some("-S -n 256"), &[]);
    let addr = served.addr;
    let mut idle = Vec::new();
    for _ in 0..IDLE {
        idle.push(
            tokio::time::timeout(WAIT, TcpStream::connect(addr))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(status_of_get(addr).await, 200);
    drop(idle);
}
