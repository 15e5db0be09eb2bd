//! Plain TCP under the hand-written clients: connecting with `TCP_NODELAY`,
//! reading more bytes, finding the end of a head, a socket with a small
//! receive buffer, and abrupt disconnects.

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use super::wait::within;

/// Connects to `addr` with `TCP_NODELAY`, failing the test after
/// [`WAIT`](super::WAIT).
pub(crate) async fn connect_nodelay(addr: SocketAddr) -> TcpStream {
    let stream = within("connect", TcpStream::connect(addr)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Connects to `addr` with a receive buffer of 4 KiB, so that what the
/// server sends backs up quickly when the test does not read it.
pub(crate) async fn connect_small_receive_buffer(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Drops `stream` with a reset instead of a FIN (`SO_LINGER` of zero): an
/// abrupt disconnect, as when a client's machine loses power mid-frame.
pub(crate) fn reset(stream: TcpStream) {
    stream.set_zero_linger().unwrap();
    drop(stream);
}

/// Position just past the first `\r\n\r\n` in `buf`, if any.
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Reads more bytes into `buf`; returns how many (0 at end of stream).
pub(crate) async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, what: &str) -> usize {
    let mut chunk = [0u8; 16 * 1024];
    let n = within(what, stream.read(&mut chunk))
        .await
        .unwrap_or_else(|e| panic!("read failed ({what}): {e}"));
    buf.extend_from_slice(&chunk[..n]);
    n
}
