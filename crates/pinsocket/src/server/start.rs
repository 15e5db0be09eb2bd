//! Starting a [`Server`]: on a runtime of its own in the background
//! ([`Server::start`]), in the foreground until a stop signal
//! ([`Server::run`]), or on the current runtime ([`Server::spawn`]).

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::watch;

use super::Server;
use super::accept::{accept_loop, listen};
use super::running::{Finished, RunningServer};
use super::shared::{ServerShared, until_shutdown};
use super::signals::StopSignals;
use super::sweep::sweep;
use super::tracker::Tracker;
use crate::static_files::StaticFiles;

impl Server {
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
        let tls = crate::tls::Terminator::load(self.tls)?;
        let listener = listen(self.addr, self.config.backlog).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on {}: {e}", self.addr))
        })?;
        let local_addr = listener.local_addr()?;
        // https: the public listener goes to the TLS terminator, and the
        // plain server listens on a private loopback port only it knows.
        let (listener, public) = match &tls {
            Some(_) => (
                listen(crate::tls::PRIVATE_ADDR, self.config.backlog)?,
                Some(listener),
            ),
            None => (listener, None),
        };
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let inner = Arc::new(ServerShared {
            config: self.config,
            callbacks: self.callbacks,
            clients: self.clients.clone(),
            files,
            shutdown: shutdown_rx,
            shutting_down: AtomicBool::new(false),
            tracker: Tracker::default(),
            runtime: tokio::runtime::Handle::current(),
            handoffs: tls.as_ref().map(crate::tls::Terminator::handoffs),
        });
        let finished = Arc::new(Finished::default());
        if let (Some(tls), Some(public)) = (tls, public) {
            tokio::spawn(tls.run(inner.clone(), public, listener.local_addr()?));
        }
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
