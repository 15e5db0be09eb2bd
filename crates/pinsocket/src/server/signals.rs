//! The stop signals: [`StopSignals`] catches Ctrl-C, SIGTERM and SIGHUP,
//! and [`shutdown_signal`] waits for one of them.

use std::io;

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
