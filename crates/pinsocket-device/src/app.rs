//! The `pinsocket` device server assembled from a configuration: the board,
//! its backend and the web server, ready to start.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::backend::BackendError;
use crate::config::{AccessConfig, BackendKind, Config};
use crate::hub::Device;
use crate::sim::SimBoard;
use pinsocket::{Access, Server};

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
    /// The access token every request must carry, if one is on (see
    /// docs/PROTOCOL.md, "Access"): print it, in the URL to open.
    pub token: Option<String>,
}

impl App {
    /// Opens the backend and configures the server. `listen` and `www`
    /// override the file's values.
    pub fn new(
        config: Config,
        listen: Option<SocketAddr>,
        www: Option<PathBuf>,
    ) -> Result<App, BackendError> {
        #[cfg(not(feature = "tls"))]
        if config.tls.is_some() {
            return Err(BackendError::new(
                "TLS needs pinsocket-device built with its `tls` feature",
            ));
        }
        let board = config.board;
        // Each client's bucket of commands and cap on refusals.
        let commands = config.limits.commands();
        let (device, sim) = match &config.backend {
            BackendKind::Sim => {
                let sim = SimBoard::new(&board.pins);
                let device = Device::with_limits(board, commands, |_, sink| Ok(sim.backend(sink)))?;
                (device, Some(sim))
            }
            #[cfg(target_os = "linux")]
            BackendKind::GpioCdev { .. } => {
                let chips = config.chips.clone();
                let device = Device::with_limits(board, commands, |pins, sink| {
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
        let bind = listen
            .or(config.listen)
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)));
        let (access, token) = access(&config.access, bind)?;
        let mut server = Server::new()
            .bind(bind)
            .access(access)
            .max_message_len(limits.max_message.unwrap_or(DEFAULT_MAX_MESSAGE));
        // Memory and descriptors: a smaller per-client queue than the
        // library's, the budget and connection limit if configured (the
        // binary derives the limit from its open-file limit).
        server = server.max_send_queue(
            limits
                .max_send_queue
                .unwrap_or(crate::ConnectionLimits::DEFAULT_SEND_QUEUE),
        );
        if let Some(bytes) = limits.output_budget {
            server = server.output_budget(bytes);
        }
        if let Some(n) = limits.max_connections {
            server = server.max_connections(n);
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
        // https and wss: the files are read when the server starts, and
        // an error there names the file.
        #[cfg(feature = "tls")]
        if let Some(tls) = config.tls {
            server = server.tls_pem(tls.cert, tls.key);
        }
        let server = device.serve(server);
        Ok(App {
            device,
            server,
            sim,
            token,
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

// ---- access: who may switch the pins ------------------------------------

/// The environment variable that sets the access token, before the file's.
pub const TOKEN_ENV: &str = "PINSOCKET_TOKEN";

/// The device server's [`Access`]: Host and Origin always checked, with
/// the file's extra names and origins; and its token: `PINSOCKET_TOKEN`,
/// else the file's, else, when listening beyond loopback (or with
/// `auth = true`), a random one — none with `auth = false`.
fn access(
    config: &AccessConfig,
    bind: SocketAddr,
) -> Result<(Access, Option<String>), BackendError> {
    let mut access = Access::guarded();
    for host in &config.hosts {
        access = access.allow_host(host);
    }
    for origin in &config.origins {
        access = access.allow_origin(origin);
    }
    let from_env = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty());
    if let Some(t) = &from_env
        && !((16..=256).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(BackendError::new(format!(
            "{TOKEN_ENV}: must be 16 to 256 visible ASCII characters (no spaces)"
        )));
    }
    let token = match config.auth {
        Some(false) => {
            if !bind.ip().is_loopback() {
                tracing::warn!(
                    "access token turned off: anyone who can reach {bind} can switch the pins"
                );
            }
            if from_env.is_some() {
                tracing::warn!("{TOKEN_ENV} ignored: the access token is turned off");
            }
            None
        }
        auth => match from_env.or_else(|| config.token.clone()) {
            Some(token) => Some(token),
            None if auth == Some(true) || !bind.ip().is_loopback() => {
                Some(Access::random_token().map_err(|e| {
                    BackendError::new(format!("cannot make a random access token: {e}"))
                })?)
            }
            None => None,
        },
    };
    if let Some(token) = &token {
        access = access.token(token.clone());
    }
    Ok((access, token))
}
