//! No allocation per message in the steady state: once a connection is
//! warmed up, echoing messages allocates nothing, in the server or (by
//! construction) in this test's blocking client. Every allocation of the
//! process is counted, so a test binary of its own.
#![allow(clippy::unwrap_used)]

mod common;

use std::alloc::System;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{SWITCHING_PROTOCOLS, client_frame, echo_builder, server_frame, upgrade_request};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Round trips before counting: buffers reach their working size, the
/// connection's task exists (a new connection starts resting).
const WARM_UP: usize = 1_000;
/// Round trips counted.
const COUNTED: usize = 10_000;

/// Echoes `payload` `n` times on `stream`; allocates nothing itself.
fn round_trips(stream: &mut TcpStream, frame: &[u8], expected: &[u8], reply: &mut [u8], n: usize) {
    for i in 0..n {
        stream.write_all(frame).unwrap();
        stream.read_exact(reply).unwrap();
        assert!(reply == expected, "round trip {i}: wrong reply");
    }
}

fn check(opcode: u8, payload: &[u8]) {
    // A busy connection keeps its task, but one quiet for the rest delay
    // (1 s by default) gives it up and takes it back on the next message,
    // which allocates: a loaded machine that stalled this client that long
    // would fail the count. With this delay, only a new connection rests,
    // as with the default; the steady state is the same.
    let server = echo_builder()
        .threads(1)
        .rest_idle_after(Duration::from_secs(3600))
        .start()
        .unwrap();
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&upgrade_request("/")).unwrap();
    let mut response = vec![0u8; SWITCHING_PROTOCOLS.len()];
    stream.read_exact(&mut response).unwrap();
    assert_eq!(response, SWITCHING_PROTOCOLS);

    let frame = client_frame(opcode, payload);
    let expected = server_frame(opcode, payload);
    let mut reply = vec![0u8; expected.len()];
    round_trips(&mut stream, &frame, &expected, &mut reply, WARM_UP);

    let region = Region::new(GLOBAL);
    round_trips(&mut stream, &frame, &expected, &mut reply, COUNTED);
    let stats = region.change();
    eprintln!(
        "{COUNTED} echoes of {} bytes: {} allocations, {} reallocations, {} deallocations",
        payload.len(),
        stats.allocations,
        stats.reallocations,
        stats.deallocations
    );
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "allocations while echoing {COUNTED} messages"
    );
    drop(stream);
    server.shutdown();
}

/// One test: the counter is the whole process's, so nothing else may run
/// beside the counted part.
#[test]
fn echoing_allocates_nothing_per_message() {
    check(0x1, b"0123456789abcdef");
    let payload: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    check(0x2, &payload);
}
