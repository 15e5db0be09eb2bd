//! Measures WebSocket round trips: a 16-byte text message out, its
//! `Reply for <msg>` back, one at a time on one connection. Without
//! `--connect` it starts a pinsocket server in-process and, for scale, a
//! plain TCP echo exchanging the same bytes (22-byte frame in, 28 out).
//!
//! Run: `cargo run --release --example rtt` or
//! `cargo run --release --example rtt -- --connect 127.0.0.1:8080`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use pinsocket::Server;

/// Measure request/reply latency of a WebSocket server.
#[derive(Parser)]
struct Args {
    /// Measure a running server (answering `Reply for <msg>`) instead of an in-process one.
    #[arg(long)]
    connect: Option<SocketAddr>,
    /// Round trips to measure, after 10% as many for warm-up.
    #[arg(long, default_value_t = 20_000)]
    count: usize,
}

const MESSAGE: &[u8; 16] = b"0123456789abcdef";
const REPLY: &[u8] = b"Reply for 0123456789abcdef";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.connect {
        Some(addr) => report("websocket", &measure_ws(addr, args.count)?),
        None => {
            let server = Server::new()
                .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                // Only the measuring client talks to it: no pages to serve.
                .pages(&[])
                .on_text(|conn, msg| {
                    let _ = conn.send_text(&format!("Reply for {msg}"));
                })
                .start()?;
            let ws = measure_ws(server.local_addr(), args.count)?;
            server.shutdown();
            let floor = measure_floor(args.count)?;
            report("pinsocket", &ws);
            report("tcp floor", &floor);
            println!(
                "p50 ratio pinsocket / tcp floor: {:.2}",
                percentile(&ws, 50.0).as_secs_f64() / percentile(&floor, 50.0).as_secs_f64()
            );
        }
    }
    Ok(())
}

/// A masked client text frame carrying `MESSAGE`, by hand: this example
/// depends on `pinsocket` alone, not on pinsocket-core, whose `FrameHeader`
/// and `apply_mask` the bench builds its frames with.
fn request_frame() -> [u8; 22] {
    let key = [0x5a, 0x17, 0xc3, 0x88];
    let mut frame = [0u8; 22];
    frame[0] = 0x81;
    frame[1] = 0x80 | 16;
    frame[2..6].copy_from_slice(&key);
    for (i, b) in MESSAGE.iter().enumerate() {
        frame[6 + i] = b ^ key[i % 4];
    }
    frame
}

/// The unmasked text frame carrying `REPLY`, as the server answers.
fn reply_frame() -> [u8; 2 + REPLY.len()] {
    let mut frame = [0u8; 2 + REPLY.len()];
    frame[0] = 0x81;
    frame[1] = REPLY.len() as u8;
    frame[2..].copy_from_slice(REPLY);
    frame
}

fn measure_ws(addr: SocketAddr, count: usize) -> anyhow::Result<Vec<Duration>> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        bail!("handshake refused: {}", String::from_utf8_lossy(&head));
    }
    round_trips(&mut stream, count)
}

/// The same exchange over plain TCP: read 22 bytes, write 28.
fn measure_floor(count: usize) -> anyhow::Result<Vec<Duration>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let reply = reply_frame();
        let mut req = [0u8; 22];
        loop {
            match s.read_exact(&mut req) {
                Ok(()) => s.write_all(&reply)?,
                Err(_) => return Ok(()),
            }
        }
    });
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let times = round_trips(&mut stream, count)?;
    drop(stream);
    let _ = echo.join();
    Ok(times)
}

/// `count` round trips of the [`request_frame`] on `stream`, after 10% as
/// many for warm-up, each reply checked; their times, sorted.
fn round_trips(stream: &mut TcpStream, count: usize) -> anyhow::Result<Vec<Duration>> {
    let (frame, expected) = (request_frame(), reply_frame());
    let mut reply = [0u8; 2 + REPLY.len()];
    let mut times = Vec::with_capacity(count);
    for i in 0..count + count / 10 {
        let start = Instant::now();
        stream.write_all(&frame)?;
        stream.read_exact(&mut reply)?;
        let elapsed = start.elapsed();
        if reply != expected {
            bail!("unexpected reply {:?}", String::from_utf8_lossy(&reply));
        }
        if i >= count / 10 {
            times.push(elapsed);
        }
    }
    times.sort_unstable();
    Ok(times)
}

/// The `p`th percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted.get(idx).copied().unwrap_or_default()
}

fn report(name: &str, sorted: &[Duration]) {
    println!(
        "{name:>10}: {} round trips  min {:>6.1} µs  p50 {:>6.1} µs  p99 {:>6.1} µs  max {:>7.1} µs",
        sorted.len(),
        micros(percentile(sorted, 0.0)),
        micros(percentile(sorted, 50.0)),
        micros(percentile(sorted, 99.0)),
        micros(percentile(sorted, 100.0)),
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
