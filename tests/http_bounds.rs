//! HTTP responses are held to the send timeout: a client that asks for a
//! large file, or pipelines thousands of requests, and never reads is
//! closed once the server's writes make no progress for
//! `Server::send_timeout`, and the file it was being sent is closed with
//! it. Without this, such a client would hold its connection, its task and
//! an open file forever.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{TempDir, any_port, wait_until};
use pinsocket::{RunningServer, Server};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

/// The send timeout of the servers here: short, so the tests are quick.
const SEND_TIMEOUT: Duration = Duration::from_millis(300);
/// How long a test waits for the server to give up on a client: a guard
/// against a hung test only (the server needs about `SEND_TIMEOUT`).
const LIMIT: Duration = Duration::from_secs(30);
/// The large file: far more than the socket buffers of both ends hold.
const LARGE: usize = 48 << 20;

/// A server on `root` with the short send timeout and long other timeouts,
/// so only the write timeout can end a connection.
fn server(root: &Path) -> RunningServer {
    Server::new()
        .bind(any_port())
        .web_root(root)
        .send_timeout(SEND_TIMEOUT)
        .keep_alive_timeout(Duration::from_secs(600))
        .header_timeout(Duration::from_secs(600))
        .start()
        .unwrap()
}

/// Descriptors of this process (the server runs in it) open on `file`.
fn open_descriptors_on(file: &Path) -> usize {
    let file = file.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| *target == file)
        .count()
}

/// A connection with a small receive buffer that will never be read.
async fn non_reader(server: &RunningServer) -> tokio::net::TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(server.local_addr()).await.unwrap()
}

#[tokio::test]
async fn a_client_that_never_reads_a_large_file_is_closed_and_the_file_released() {
    let dir = TempDir::new("large-file");
    let path = dir.path().join("large.bin");
    std::fs::write(&path, vec![b'x'; LARGE]).unwrap();
    let server = server(dir.path());

    let mut client = non_reader(&server).await;
    client
        .write_all(b"GET /large.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    // The server opens the file and starts sending it...
    wait_until("the file to be opened", LIMIT, || {
        open_descriptors_on(&path) == 1
    })
    .await;
    // ...then, with no byte taken for the send timeout, gives up: the
    // connection and the file are both let go, though the client is still
    // there.
    wait_until("the connection to be dropped", LIMIT, || {
        server.connections() == 0
    })
    .await;
    wait_until("the file to be closed", LIMIT, || {
        open_descriptors_on(&path) == 0
    })
    .await;
    drop(client);
    server.shutdown();
}

#[tokio::test]
async fn a_client_that_pipelines_requests_and_never_reads_is_closed() {
    let dir = TempDir::new("pipelined");
    std::fs::write(dir.path().join("page.html"), vec![b'p'; 2048]).unwrap();
    let server = server(dir.path());

    let mut client = non_reader(&server).await;
    // 20,000 requests (40 MiB of responses), one after the other, and some
    // for a page that does not exist (404 error pages); written from a
    // task, since the server stops reading them once its writes stall.
    let mut requests = Vec::new();
    for i in 0..20_000 {
        let target = if i % 10 == 9 {
            "/missing"
        } else {
            "/page.html"
        };
        requests.extend_from_slice(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    let writer = tokio::spawn(async move {
        let _ = client.write_all(&requests).await;
        client
    });
    wait_until("the connection to be served", LIMIT, || {
        server.connections() == 1
    })
    .await;
    wait_until("the connection to be dropped", LIMIT, || {
        server.connections() == 0
    })
    .await;
    writer.abort();
    server.shutdown();
}
