//! The server: configuration, the accept loop, background and foreground
//! running, and graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use pinsocket_core::{CloseCode, Limits};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Notify, watch};

use crate::callbacks::{Callbacks, Reject, Request};
use crate::clients::{Clients, Timeouts};
use crate::connection::Connection;
use crate::pages::PAGES;
use crate::static_files::{Page, StaticFiles};

/// Settings shared by every connection. Defaults are documented on the
/// [`Server`] methods that change them.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_message_len: usize,
    pub(crate) max_send_queue: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) limits: Limits,
    pub(crate) max_connections: usize,
    pub(crate) backlog: u32,
    pub(crate) park_after: Duration,
    pub(crate) protocols: &'static [&'static str],
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_len: 64 * 1024,
            max_send_queue: 1024 * 1024,
            ping_interval: Duration::from_secs(30),
            ping_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(30),
            limits: Limits::default(),
            max_connections: 16_384,
            backlog: 1024,
            park_after: Duration::from_secs(1),
            protocols: &[],
        }
    }
}

/// What every connection task shares.
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) callbacks: Callbacks,
    pub(crate) clients: Clients,
    pub(crate) files: StaticFiles,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) shutting_down: AtomicBool,
    pub(crate) tracker: Tracker,
    /// The runtime the server runs on, where parked sessions resume.
    pub(crate) runtime: tokio::runtime::Handle,
}

/// A WebSocket and static-file server on one port, configured builder-style.
///
/// ```no_run
/// use pinsocket::Server;
///
/// let server = Server::new()
///     .bind("127.0.0.1:8080".parse().unwrap())
///     .max_message_len(256)
///     .on_text(|conn, msg| {
///         let _ = conn.send_text(&format!("Reply for {msg}"));
///     })
///     .start()
///     .unwrap();
/// println!("open http://{}/wstest.html", server.local_addr());
/// # server.shutdown();
/// ```
pub struct Server {
    addr: SocketAddr,
    web_root: Option<PathBuf>,
    pages: &'static [Page],
    threads: Option<usize>,
    config: Config,
    callbacks: Callbacks,
    clients: Clients,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("web_root", &self.web_root)
            .field("config", &self.config)
            .field("callbacks", &self.callbacks)
            .finish_non_exhaustive()
    }
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

impl Server {
    /// A server on 127.0.0.1:8080 serving the built-in pages, with no callbacks.
    pub fn new() -> Server {
        Server {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            web_root: None,
            pages: PAGES,
            threads: None,
            config: Config::default(),
            callbacks: Callbacks::default(),
            clients: Clients::default(),
        }
    }

    /// The address to listen on. Default `127.0.0.1:8080`; port 0 picks a
    /// free port (see [`RunningServer::local_addr`]).
    pub fn bind(mut self, addr: SocketAddr) -> Server {
        self.addr = addr;
        self
    }

    /// Serve files from this folder (the original's `webPath`). Without it,
    /// the pages compiled into the binary are served.
    pub fn web_root(mut self, path: impl Into<PathBuf>) -> Server {
        self.web_root = Some(path.into());
        self
    }

    /// Pages compiled into the binary, served when no web root is set.
    /// Default: [`PAGES`](crate::PAGES), the original's `led.html` and
    /// `wstest.html` and an index.
    pub fn pages(mut self, pages: &'static [Page]) -> Server {
        self.pages = pages;
        self
    }

    /// The largest message accepted, in bytes (the original's
    /// `MaxWebSocketRecvLen`). Larger ones close the connection with 1009.
    /// Default 64 KiB.
    pub fn max_message_len(mut self, bytes: usize) -> Server {
        self.config.max_message_len = bytes;
        self
    }

    /// Bytes that may wait in one connection's send queue. A send that
    /// would exceed it (from a broadcast or another thread) closes that
    /// connection with 1008 instead of growing without bound; replies sent
    /// from the connection's own callbacks are not counted, because the
    /// server reads nothing more from that client until they are written.
    /// Default 1 MiB.
    pub fn max_send_queue(mut self, bytes: usize) -> Server {
        self.config.max_send_queue = bytes;
        self
    }

    /// A connection silent for this long is pinged. Default 30 s.
    pub fn ping_interval(mut self, interval: Duration) -> Server {
        self.config.ping_interval = interval;
        self
    }

    /// A pinged connection that sends nothing for this long is dropped, so
    /// clients that vanish without a close frame free their resources.
    /// Default 10 s.
    pub fn ping_timeout(mut self, timeout: Duration) -> Server {
        self.config.ping_timeout = timeout;
        self
    }

    /// How long to wait for the client's close frame after sending ours,
    /// and for shutdown to finish. Default 5 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Server {
        self.config.close_timeout = timeout;
        self
    }

    /// A client that takes none of the bytes waiting for it for this long is
    /// dropped (reported to `on_close` as 1008), so a client that stops
    /// reading cannot hold its queue forever. Default 30 s.
    pub fn send_timeout(mut self, timeout: Duration) -> Server {
        self.config.send_timeout = timeout;
        self
    }

    /// How long a client may take to send a request head, from its first
    /// byte (or from connecting). Default 10 s.
    pub fn header_timeout(mut self, timeout: Duration) -> Server {
        self.config.header_timeout = timeout;
        self
    }

    /// How long an idle keep-alive HTTP connection is kept. Default 30 s.
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Server {
        self.config.keep_alive_timeout = timeout;
        self
    }

    /// Most TCP connections (HTTP and WebSocket) served at once. Beyond it a
    /// new connection is answered `503 Service Unavailable` and closed;
    /// the open ones are unaffected. Default 16,384 (the process also needs
    /// an open-file limit above it).
    pub fn max_connections(mut self, n: usize) -> Server {
        self.config.max_connections = n;
        self
    }

    /// Length of the kernel's queue of connections not yet accepted. A burst
    /// of clients beyond it (a restart with many pages open) has SYNs
    /// dropped and retried a second later. Default 1024; Linux caps it at
    /// `net.core.somaxconn` (4096 on current kernels).
    pub fn backlog(mut self, n: u32) -> Server {
        self.config.backlog = n;
        self
    }

    /// How long a WebSocket may go without input before its task is
    /// parked (the liveness sweep checks, so at most about a second more):
    /// the task ends and the connection's state waits in a small
    /// allocation of its own (about 250 bytes instead of a task of 400 and
    /// more) until input arrives or something is sent to it, which starts a
    /// task again at once. A new connection starts parked, and one woken
    /// after a quiet spell this long parks again as soon as it has nothing
    /// to do; a busy one keeps its task. Default 1 s; `Duration::MAX` never
    /// parks (every WebSocket keeps a task for its whole life).
    pub fn park_idle_after(mut self, idle: Duration) -> Server {
        self.config.park_after = idle;
        self
    }

    /// Subprotocols the server speaks, most preferred first. A client that
    /// offers one of them in `Sec-WebSocket-Protocol` gets the first match
    /// confirmed in the handshake ([`Connection::protocol`]); a client that
    /// offers none, or none of these, is served without one. Default: none.
    pub fn protocols(mut self, protocols: &'static [&'static str]) -> Server {
        self.config.protocols = protocols;
        self
    }

    /// Limits on request heads (default 8 KiB head, 2 KiB target).
    pub fn limits(mut self, limits: Limits) -> Server {
        self.config.limits = limits;
        self
    }

    /// Worker threads of the runtime that [`Server::start`] and
    /// [`Server::run`] create. Default: one per CPU.
    pub fn threads(mut self, threads: usize) -> Server {
        self.threads = Some(threads.max(1));
        self
    }

    /// Runs when a WebSocket handshake arrives, before it is accepted (the
    /// original's `AcceptWebSocketCallback`). Return `Err` to refuse with an
    /// HTTP status. Messages sent here are delivered right after the handshake.
    pub fn on_accept(
        mut self,
        f: impl Fn(&Connection, &Request<'_>) -> Result<(), Reject> + Send + Sync + 'static,
    ) -> Server {
        self.callbacks.accept = Some(Box::new(f));
        self
    }

    /// Runs for every complete text message (`RecvTextCallback`).
    pub fn on_text(mut self, f: impl Fn(&Connection, &str) + Send + Sync + 'static) -> Server {
        self.callbacks.text = Some(Box::new(f));
        self
    }

    /// Runs for every complete binary message (`RecvBinaryCallback`).
    pub fn on_binary(mut self, f: impl Fn(&Connection, &[u8]) + Send + Sync + 'static) -> Server {
        self.callbacks.binary = Some(Box::new(f));
        self
    }

    /// Runs once when a WebSocket has closed (`ClosedCallback`), with the
    /// close code and reason: the client's if it closed, the server's if the
    /// server did, 1006 if the connection dropped without a close frame.
    pub fn on_close(
        mut self,
        f: impl Fn(&Connection, CloseCode, &str) + Send + Sync + 'static,
    ) -> Server {
        self.callbacks.close = Some(Box::new(f));
        self
    }

    /// The set of open WebSockets, for broadcasting from callbacks or other
    /// threads. Take it before starting the server.
    pub fn clients(&self) -> Clients {
        self.clients.clone()
    }

    /// Starts serving in the background on a runtime of its own (like the
    /// original's `Start(threaded=True)`) and returns once listening.
    pub fn start(self) -> io::Result<RunningServer> {
        let runtime = self.runtime()?;
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pinsocket".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match self.spawn().await {
                        Ok(running) => {
                            let mut done = running.done.clone();
                            let _ = tx.send(Ok(running));
                            until_shutdown(&mut done).await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
                // Tasks still running (none, after a graceful shutdown) end here.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        let mut running = rx
            .recv()
            .map_err(|_| io::Error::other("server thread ended before listening"))??;
        running.thread = Some(thread);
        Ok(running)
    }

    /// Serves in the foreground until Ctrl-C, SIGTERM or SIGHUP, then shuts down
    /// gracefully (like the original's `Start(threaded=False)`).
    pub fn run(self) -> io::Result<()> {
        let runtime = self.runtime()?;
        runtime.block_on(async move {
            let mut signals = StopSignals::new()?;
            let running = self.spawn().await?;
            tracing::info!(addr = %running.local_addr(), "listening");
            signals.recv().await;
            tracing::info!("shutting down");
            running.stop().await;
            Ok(())
        })
    }

    /// Starts serving on the current tokio runtime and returns once
    /// listening. Stop it with [`RunningServer::stop`].
    pub async fn spawn(self) -> io::Result<RunningServer> {
        let files = match &self.web_root {
            Some(dir) => StaticFiles::dir(dir)?,
            None => StaticFiles::embedded(self.pages),
        };
        let listener = listen(self.addr, self.config.backlog).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on {}: {e}", self.addr))
        })?;
        let local_addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let inner = Arc::new(Inner {
            config: self.config,
            callbacks: self.callbacks,
            clients: self.clients.clone(),
            files,
            shutdown: shutdown_rx,
            shutting_down: AtomicBool::new(false),
            tracker: Tracker::default(),
            runtime: tokio::runtime::Handle::current(),
        });
        let finished = Arc::new(Finished::default());
        tokio::spawn(sweep(inner.clone(), done_rx.clone()));
        tokio::spawn(accept_loop(
            inner.clone(),
            listener,
            done_tx,
            finished.clone(),
        ));
        Ok(RunningServer {
            local_addr,
            clients: self.clients,
            inner,
            shutdown: shutdown_tx,
            done: done_rx,
            finished,
            thread: None,
        })
    }

    fn runtime(&self) -> io::Result<tokio::runtime::Runtime> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(n) = self.threads {
            builder.worker_threads(n);
        }
        builder.thread_name("pinsocket-worker").enable_all().build()
    }
}

/// Binds a listening socket with the given accept backlog (address reuse on,
/// as `TcpListener::bind` does, so a restart need not wait out TIME_WAIT).
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

async fn accept_loop(
    inner: Arc<Inner>,
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

/// Pings idle connections and drops those that stopped answering; also
/// during shutdown, until the last connection is gone, so a client that
/// stopped reading cannot hold shutdown past the close timeout.
async fn sweep(inner: Arc<Inner>, mut done: watch::Receiver<bool>) {
    let config = &inner.config;
    let timeouts = Timeouts {
        ping_interval: config.ping_interval,
        ping_timeout: config.ping_timeout,
        send_timeout: config.send_timeout,
        close_timeout: config.close_timeout,
        park_after: config.park_after,
    };
    let tick = (config
        .ping_interval
        .min(config.ping_timeout)
        .min(config.send_timeout)
        .min(config.close_timeout)
        / 4)
    .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = until_shutdown(&mut done) => return,
            _ = interval.tick() => inner.clients.sweep(&timeouts),
        }
    }
}

/// Resolves once shutdown has begun.
pub(crate) async fn until_shutdown(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM or SIGHUP (its terminal went
/// away): the signals a device server stops on. Handling them, rather than
/// dying of them, lets the server put its outputs in a safe state first.
///
/// The handlers are installed when this is first polled; a signal that
/// comes earlier still ends the process. Use [`StopSignals`] to install
/// them before announcing that the server is up.
pub async fn shutdown_signal() {
    match StopSignals::new() {
        Ok(mut signals) => signals.recv().await,
        Err(e) => {
            tracing::warn!("cannot listen for stop signals: {e}");
            std::future::pending::<()>().await;
        }
    }
}

/// Handlers for Ctrl-C (SIGINT) and, on Unix, SIGTERM and SIGHUP, installed
/// when this is made: from then on these signals are caught, not fatal,
/// until it is dropped, and [`StopSignals::recv`] reports the next one.
/// Must be made within a tokio runtime.
#[derive(Debug)]
pub struct StopSignals {
    #[cfg(unix)]
    signals: [tokio::signal::unix::Signal; 3],
}

impl StopSignals {
    /// Installs the handlers now.
    pub fn new() -> io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                signals: [
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::hangup())?,
                ],
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// Waits for the next stop signal.
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            let [int, term, hup] = &mut self.signals;
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
                _ = hup.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A server that is listening. Dropping it leaves the server running until
/// the process ends; call [`RunningServer::shutdown`] or
/// [`RunningServer::stop`] to end it gracefully.
pub struct RunningServer {
    local_addr: SocketAddr,
    clients: Clients,
    inner: Arc<Inner>,
    shutdown: watch::Sender<bool>,
    done: watch::Receiver<bool>,
    /// `done` for threads outside the runtime, which block on it.
    finished: Arc<Finished>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Set once shutdown has finished; a thread can block until then.
#[derive(Debug, Default)]
struct Finished {
    done: std::sync::Mutex<bool>,
    cond: std::sync::Condvar,
}

impl Finished {
    fn set(&self) {
        *self.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cond.notify_all();
    }

    fn wait(&self) {
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            done = self.cond.wait(done).unwrap_or_else(|p| p.into_inner());
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

    /// The open WebSockets.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// TCP connections being served now (HTTP and WebSocket).
    pub fn connections(&self) -> usize {
        self.inner.tracker.count()
    }

    /// Open WebSockets whose task is parked: quiet for
    /// [`Server::park_idle_after`], they hold no task until input arrives
    /// or something is sent to them.
    pub fn parked(&self) -> usize {
        self.clients.parked()
    }

    /// Stops accepting, closes every WebSocket with 1001 and waits (at most
    /// the close timeout plus a second) for connections to finish.
    ///
    /// Blocks the calling thread. For a server made with [`Server::spawn`],
    /// use [`RunningServer::stop`] from async code instead.
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

/// Counts live connection tasks, so shutdown can wait for them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tracker(Arc<TrackerInner>);

#[derive(Debug, Default)]
pub(crate) struct TrackerInner {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by a connection task for its lifetime.
#[derive(Debug)]
pub(crate) struct Tracked(Tracker);

impl Tracker {
    pub(crate) fn track(&self) -> Tracked {
        self.0.count.fetch_add(1, Ordering::SeqCst);
        Tracked(self.clone())
    }

    pub(crate) fn count(&self) -> usize {
        self.0.count.load(Ordering::SeqCst)
    }

    async fn idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.0.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
