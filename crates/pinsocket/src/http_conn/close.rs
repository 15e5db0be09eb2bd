//! Ending a connection from the HTTP side: refusing one over the limit, and
//! closing after an error without the client losing the response.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::response;
use crate::server::ServerShared;

/// Answers a connection over the limit with 503 and closes it.
pub(crate) async fn refuse(inner: Arc<ServerShared>, mut stream: TcpStream) {
    let bytes = response::error(
        503,
        "too many connections, try again shortly",
        &["Retry-After: 1"],
        false,
    );
    if stream.write_all(&bytes).await.is_ok() {
        lingering_close(&mut stream, &inner).await;
    }
}

/// Closes after an error response without losing it: unread request bytes
/// would make the kernel reset the connection, and a reset can discard the
/// response before the client reads it. So: send FIN, then read and drop
/// whatever still comes, for a bounded time and amount.
pub(crate) async fn lingering_close(stream: &mut TcpStream, inner: &ServerShared) {
    let _ = stream.shutdown().await;
    let deadline = Instant::now()
        + inner
            .config
            .close_timeout
            .min(std::time::Duration::from_secs(2));
    let mut shutdown = inner.shutdown.clone();
    let mut sink = [0u8; 4096];
    let mut total = 0usize;
    while total < 1024 * 1024 {
        let read = tokio::select! {
            // A server shutting down does not wait for lingering clients.
            () = crate::server::until_shutdown(&mut shutdown) => return,
            read = timeout_at(deadline, stream.read(&mut sink)) => read,
        };
        match read {
            Ok(Ok(n)) if n > 0 => total += n,
            _ => return,
        }
    }
}
