//! The listening socket and the accept loop, which hands each connection
//! to its HTTP task and, once shutdown begins, closes every WebSocket and
//! waits for the connections to end.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pinsocket_core::CloseCode;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

use super::running::Finished;
use super::shared::{ServerShared, until_shutdown};

/// Binds a listening socket with the given accept backlog (address reuse on,
/// as `TcpListener::bind` does, so a restart need not wait out TIME_WAIT).
pub(super) fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// Accepts connections until shutdown begins; then stops listening, closes
/// every WebSocket with 1001, waits (at most the close timeout and a
/// second) for the connections to end, and sets `done` and `finished`.
pub(super) async fn accept_loop(
    inner: Arc<ServerShared>,
    listener: TcpListener,
    done: watch::Sender<bool>,
    finished: Arc<Finished>,
) {
    let mut shutdown = inner.shutdown.clone();
    loop {
        tokio::select! {
            () = until_shutdown(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Each frame goes out in one write; Nagle would only add delay.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, "set_nodelay: {e}");
                    }
                    if inner.tracker.count() >= inner.config.max_connections {
                        tracing::warn!(%peer, "connection limit reached: answering 503");
                        tokio::spawn(crate::http_conn::refuse(inner.clone(), stream));
                        continue;
                    }
                    let guard = inner.tracker.track();
                    tokio::spawn(crate::http_conn::serve(inner.clone(), stream, peer, guard));
                }
                Err(e) => {
                    // Out of file descriptors or memory: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    inner.shutting_down.store(true, Ordering::SeqCst);
    inner
        .clients
        .close_all(CloseCode::GOING_AWAY, "server shutting down");
    let limit = inner.config.close_timeout + Duration::from_secs(1);
    if tokio::time::timeout(limit, inner.tracker.idle())
        .await
        .is_err()
    {
        tracing::warn!(
            left = inner.tracker.count(),
            "connections still open at the end of shutdown"
        );
    }
    let _ = done.send(true);
    finished.set();
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::listen;
    use crate::server::config::Config;

    /// Connections the kernel completes before the server accepts any: with
    /// the default backlog of 1024, a burst of 600 all complete. (With 128,
    /// those past the queue would have their SYNs dropped, and as nothing is
    /// accepted here they would never complete: the bound below only stops a
    /// failing test, it does not race the kernel.)
    #[tokio::test]
    async fn a_burst_beyond_128_is_queued_by_the_backlog() {
        let listener = listen(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Config::default().backlog,
        )
        .expect("listen");
        let addr = listener.local_addr().expect("address");
        let connecting: Vec<_> = (0..600)
            .map(|_| tokio::spawn(tokio::net::TcpStream::connect(addr)))
            .collect();
        let mut streams = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        for connect in connecting {
            match tokio::time::timeout_at(deadline, connect).await {
                Ok(Ok(Ok(stream))) => streams.push(stream),
                Ok(Ok(Err(e))) => panic!("connection {} failed: {e}", streams.len()),
                Ok(Err(e)) => panic!("connect task failed: {e}"),
                Err(_) => panic!(
                    "only {} of 600 connections completed: the rest were not queued",
                    streams.len()
                ),
            }
        }
        // They are all there to be accepted.
        for _ in 0..600 {
            listener.accept().await.expect("accept");
        }
    }
}
