//! The raw TCP floor.

use pinsocket_core::{FrameHeader, OpCode, apply_mask};

use super::*;
use crate::client;

/// The 101 response pinsocket writes for the client's fixed key.
const SWITCHING: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
/// The frame answering the 22-byte request frame.
const REPLY_FRAME: &[u8] = b"\x81\x1aReply for 0123456789abcdef";

/// A WebSocket of the floor: its socket and a lock that keeps a
/// broadcast from interleaving with a reply.
struct Conn {
    stream: TcpStream,
    write: Mutex<()>,
}

impl Conn {
    /// Writes `bytes` whole or fails: the floor never queues. (Small
    /// frames into an empty loopback socket buffer always fit.)
    fn write_now(&self, bytes: &[u8]) -> io::Result<()> {
        let _guard = lock(&self.write);
        match self.stream.try_write(bytes) {
            Ok(n) if n == bytes.len() => Ok(()),
            Ok(_) => Err(io::Error::other("socket buffer full")),
            Err(e) => Err(e),
        }
    }
}

#[derive(Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
}

impl Registry {
    fn all(&self) -> Vec<Arc<Conn>> {
        lock(&self.conns).values().cloned().collect()
    }
}

pub(super) async fn accept_loop(listener: TcpListener) {
    accept_each(listener, Arc::new(Registry::default()), serve).await;
}

fn canned_page() -> &'static [u8] {
    static PAGE: OnceLock<Vec<u8>> = OnceLock::new();
    PAGE.get_or_init(|| {
        let page = index_page();
        let mut out = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-cache\r\n\r\n",
            page.len()
        )
        .into_bytes();
        out.extend_from_slice(page);
        out
    })
}

async fn serve(stream: TcpStream, registry: Arc<Registry>) {
    let conn = Arc::new(Conn {
        stream,
        write: Mutex::new(()),
    });
    let mut buf = [0u8; 512];
    let mut end = 0;
    let mut ws_id = None;
    let mut out = Vec::new();
    'conn: loop {
        if conn.stream.readable().await.is_err() {
            break;
        }
        match conn.stream.try_read(&mut buf[end..]) {
            Ok(0) => break,
            Ok(n) => end += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        }
        let mut start = 0;
        out.clear();
        loop {
            let input = &buf[start..end];
            if ws_id.is_none() {
                // HTTP: a GET head, answered with canned bytes.
                let Some(len) = input.windows(4).position(|w| w == b"\r\n\r\n") else {
                    break;
                };
                let head = &input[..len];
                start += len + 4;
                if contains(head, b"Upgrade: websocket") {
                    out.extend_from_slice(SWITCHING);
                    let id = registry.next.fetch_add(1, Ordering::Relaxed);
                    lock(&registry.conns).insert(id, conn.clone());
                    ws_id = Some(id);
                } else {
                    let close = contains(head, b"Connection: close");
                    if conn.write_now(canned_page()).is_err() || close {
                        break 'conn;
                    }
                }
                continue;
            }
            // WebSocket: short masked frames only.
            let [b0, b1, ..] = *input else { break };
            let len = usize::from(b1 & 0x7f);
            if b1 & 0x80 == 0 || len >= 126 {
                break 'conn;
            }
            if input.len() < 6 + len {
                break;
            }
            start += 6 + len;
            match b0 & 0x0f {
                8 => {
                    out.extend_from_slice(b"\x88\x02\x03\xe8");
                    let _ = conn.write_now(&out);
                    break 'conn;
                }
                1 if len == 16 => out.extend_from_slice(REPLY_FRAME),
                1 => {
                    let mut payload = input[6..6 + len].to_vec();
                    apply_mask(&mut payload, [input[2], input[3], input[4], input[5]], 0);
                    if let Some(rest) = payload.strip_prefix(BROADCAST_PREFIX.as_bytes()) {
                        let frame =
                            client::frame(FrameHeader::new(OpCode::Text, rest.len() as u64), rest);
                        for other in registry.all() {
                            let _ = other.write_now(&frame);
                        }
                    }
                }
                _ => {}
            }
        }
        buf.copy_within(start..end, 0);
        end -= start;
        if end == buf.len() {
            break;
        }
        if !out.is_empty() && conn.write_now(&out).is_err() {
            break;
        }
    }
    if let Some(id) = ws_id {
        lock(&registry.conns).remove(&id);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Locks `mutex`; poison is ignored, as a panicked connection task leaves
/// nothing half-written here.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
