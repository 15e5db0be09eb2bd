//! The `pinsocket` device server assembled from a configuration: the board,
//! its backend and the web server, ready to start.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::backend::BackendError;
use crate::config::{BackendKind, Config};
use crate::hub::Device;
use crate::sim::SimBoard;
use pinsocket::Server;

/// Largest WebSocket message the device server accepts unless configured:
/// commands are small, and 4 KiB leaves room to answer oversized JSON with
/// an error rather than a close.
pub const DEFAULT_MAX_MESSAGE: usize = 4096;

/// A configured device server, not yet listening.
///
/// [`App::run`] serves until a stop signal and exits safely; or start
/// `server` yourself and call [`Device::all_safe`] before stopping it.
#[derive(Debug)]
pub struct App {
    /// The board and its hub.
    pub device: Device,
    /// The web server, with the device's callbacks installed.
    pub server: Server,
    /// The simulated board, when the backend is `sim`.
    pub sim: Option<SimBoard>,
}

impl App {
    /// Opens the backend and configures the server. `listen` and `www`
    /// override the file's values.
    pub fn new(
        config: Config,
        listen: Option<SocketAddr>,
        www: Option<PathBuf>,
    ) -> Result<App, BackendError> {
        let board = config.board;
        let (device, sim) = match &config.backend {
            BackendKind::Sim => {
                let sim = SimBoard::new(&board.pins);
                let device = Device::new(board, |_, sink| Ok(sim.backend(sink)))?;
                (device, Some(sim))
            }
            #[cfg(target_os = "linux")]
            BackendKind::GpioCdev { .. } => {
                let chips = config.chips.clone();
                let device = Device::new(board, |pins, sink| {
                    crate::GpioCdev::open(pins, &chips, sink)
                })?;
                (device, None)
            }
            #[cfg(not(target_os = "linux"))]
            BackendKind::GpioCdev { .. } => {
                return Err(BackendError::new("the gpio-cdev backend needs Linux"));
            }
        };
        let limits = &config.limits;
        let mut server = Server::new()
            .bind(
                listen
                    .or(config.listen)
                    .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            )
            .max_message_len(limits.max_message.unwrap_or(DEFAULT_MAX_MESSAGE));
        if let Some(bytes) = limits.max_send_queue {
            server = server.max_send_queue(bytes);
        }
        if let Some(t) = limits.send_timeout {
            server = server.send_timeout(t);
        }
        if let Some(t) = limits.ping_interval {
            server = server.ping_interval(t);
        }
        if let Some(t) = limits.ping_timeout {
            server = server.ping_timeout(t);
        }
        if let Some(dir) = www.or(config.www) {
            server = server.web_root(dir);
        }
        let server = device.serve(server);
        Ok(App {
            device,
            server,
            sim,
        })
    }

    /// Serves until Ctrl-C, SIGTERM or SIGHUP, then shuts down safely: the
    /// outputs go to their safe level first, then the clients are sent the
    /// state if that changed it, then they are closed (1001). `listening`
    /// is called with the address once the server listens. Returns an
    /// error if the server cannot start or an output could not be driven
    /// safe at the end.
    pub fn run(self, listening: impl FnOnce(SocketAddr)) -> Result<(), RunError> {
        let App { device, server, .. } = self;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("pinsocket-worker")
            .enable_all()
            .build()?;
        runtime.block_on(async {
            // Caught from before the address is announced: a signal right
            // after it still makes the outputs safe.
            let mut signals = pinsocket::StopSignals::new()?;
            let running = match server.spawn().await {
                Ok(running) => running,
                Err(e) => {
                    let _ = device.all_safe();
                    return Err(e.into());
                }
            };
            listening(running.local_addr());
            signals.recv().await;
            tracing::info!("shutting down: outputs to their safe levels, then closing clients");
            let safe = device.all_safe();
            running.stop().await;
            safe.map_err(Into::into)
        })
    }
}

/// Why [`App::run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The server could not start (e.g. the address is in use).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Outputs that could not be driven to their safe level at exit.
    #[error(transparent)]
    Unsafe(#[from] crate::hub::SafeError),
}
