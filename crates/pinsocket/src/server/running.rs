//! [`RunningServer`], the handle to a listening server, and [`Finished`],
//! which lets a thread outside the runtime wait for its shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use tokio::sync::watch;

use super::shared::{ServerShared, until_shutdown};
use crate::clients::Clients;
use crate::connection::lock;

/// A server that is listening. Call [`RunningServer::shutdown`] or
/// [`RunningServer::stop`] to end it gracefully and wait until it has
/// ended. Dropping it begins the same graceful shutdown but does not wait
/// for it, so keep it for as long as the server should serve.
pub struct RunningServer {
    pub(super) local_addr: SocketAddr,
    pub(super) clients: Clients,
    pub(super) inner: Arc<ServerShared>,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) done: watch::Receiver<bool>,
    /// `done` for threads outside the runtime, which block on it.
    pub(super) finished: Arc<Finished>,
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
}

/// Set once shutdown has finished; a thread can block until then.
#[derive(Debug, Default)]
pub(super) struct Finished {
    done: Mutex<bool>,
    cond: Condvar,
}

impl Finished {
    pub(super) fn set(&self) {
        // A flag that is only ever set: a poisoned lock is fine.
        *lock(&self.done) = true;
        self.cond.notify_all();
    }

    fn wait(&self) {
        let mut done = lock(&self.done);
        while !*done {
            done = self.cond.wait(done).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Whether the server speaks https and wss (set with `Server::tls`,
    /// the `tls` feature): its URLs are `https://` and `wss://`, and
    /// [`local_addr`](RunningServer::local_addr) takes TLS only.
    pub fn is_tls(&self) -> bool {
        self.inner.config.tls
    }

    /// The open WebSockets.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// TCP connections being served now (HTTP and WebSocket).
    pub fn connections(&self) -> usize {
        self.inner.tracker.count()
    }

    /// Open WebSockets resting now: they hold no task until input arrives
    /// or something is sent to them (see [`Server::rest_idle_after`]).
    ///
    /// Against [`Clients::len`], this shows how many of the open
    /// WebSockets cost only their resting state: for watching memory, or
    /// choosing `rest_idle_after` for a server's traffic. It counts under
    /// the lock of the set of clients, one look at each connection.
    ///
    /// [`Server::rest_idle_after`]: super::Server::rest_idle_after
    pub fn resting(&self) -> usize {
        self.clients.resting()
    }

    /// Stops accepting, closes every WebSocket with 1001 and waits (at most
    /// the close timeout plus a second) for connections to finish.
    ///
    /// Blocks the calling thread. For a server made with
    /// [`Server::spawn`](super::Server::spawn), use [`RunningServer::stop`]
    /// from async code instead.
    pub fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        match self.thread.take() {
            Some(thread) => {
                let _ = thread.join();
            }
            None => self.finished.wait(),
        }
    }

    /// Like [`RunningServer::shutdown`], awaited instead of blocking.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        let mut done = self.done.clone();
        until_shutdown(&mut done).await;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}
