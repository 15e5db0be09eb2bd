//! The listening socket and the accept loop, which hands each connection
//! to its HTTP task and, once shutdown begins, closes every WebSocket and
//! waits for the connections to end.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
    let refusing = Arc::new(AtomicUsize::new(0));
    let mut over_limit = RareWarning::default();
    let mut accept_failed = RareWarning::default();
    loop {
        tokio::select! {
            () = until_shutdown(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // https: this is the private listener, and only the TLS
                    // terminator's connections are served, as from the real
                    // client and already counted; anything else is closed.
                    if let Some(handoffs) = &inner.handoffs {
                        match handoffs.claim(peer) {
                            Some((client, tracked)) => {
                                let _ = stream.set_nodelay(true);
                                let serve = crate::http_conn::serve(inner.clone(), stream, client, tracked);
                                tokio::spawn(serve);
                            }
                            None => tracing::warn!(%peer, "refused: not a TLS terminator connection"),
                        }
                        continue;
                    }
                    // Each frame goes out in one write; Nagle would only add delay.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, "set_nodelay: {e}");
                    }
                    if inner.tracker.count() >= inner.config.max_connections {
                        if let Some(times) = over_limit.hit() {
                            tracing::warn!(
                                %peer,
                                times,
                                limit = inner.config.max_connections,
                                "connection limit reached: answering 503 (times: since the last such warning)"
                            );
                        }
                        refuse(&inner, stream, &refusing);
                        continue;
                    }
                    let guard = inner.tracker.track();
                    tokio::spawn(crate::http_conn::serve(inner.clone(), stream, peer, guard));
                }
                Err(e) => {
                    // Out of file descriptors or memory: back off instead of
                    // spinning, and say so now and then, not at every try.
                    if let Some(times) = accept_failed.hit() {
                        tracing::warn!(
                            times,
                            "accept failed: {e} (times: since the last such warning; \
                             max_connections may be above what the open-file limit allows)"
                        );
                    }
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

/// Refusals (503, then a lingering close of up to 2 s) in flight at once;
/// past them a connection over the limit gets its 503 only if the socket
/// takes it at once, and is closed: refusing must not itself use up the
/// file descriptors the limit protects.
pub(crate) const MAX_REFUSING: usize = 32;

/// Answers a connection over the limit with 503; see [`MAX_REFUSING`].
fn refuse(inner: &Arc<ServerShared>, stream: tokio::net::TcpStream, refusing: &Arc<AtomicUsize>) {
    if refusing.fetch_add(1, Ordering::Relaxed) >= MAX_REFUSING {
        refusing.fetch_sub(1, Ordering::Relaxed);
        let bytes = crate::response::error(
            503,
            "too many connections, try again shortly",
            &["Retry-After: 1"],
            false,
        );
        let _ = stream.try_write(&bytes);
        return;
    }
    let refusing = refusing.clone();
    let inner = inner.clone();
    tokio::spawn(async move {
        crate::http_conn::refuse(inner, stream).await;
        refusing.fetch_sub(1, Ordering::Relaxed);
    });
}

/// How often at most a repeated warning of the accept loop is logged.
const WARN_EVERY: Duration = Duration::from_secs(5);

/// A warning logged at most once per [`WARN_EVERY`], with how many times
/// its cause happened since it was last logged.
#[derive(Default)]
struct RareWarning {
    last: Option<Instant>,
    times: u64,
}

impl RareWarning {
    /// Counts one more; `Some(times)` if the warning is due now.
    fn hit(&mut self) -> Option<u64> {
        self.times += 1;
        if self.last.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.times))
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::{RareWarning, listen};

    #[test]
    fn a_repeated_warning_is_logged_once_then_counted() {
        let mut warning = RareWarning::default();
        assert_eq!(warning.hit(), Some(1));
        for _ in 0..1000 {
            assert_eq!(warning.hit(), None);
        }
        // Due again once the interval has passed, with the count since.
        warning.last = warning.last.and_then(|t| t.checked_sub(super::WARN_EVERY));
        assert_eq!(warning.hit(), Some(1001));
    }
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
