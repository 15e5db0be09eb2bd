//! [`ServerShared`]: what every connection task of a running server shares, and
//! [`until_shutdown`], which waits on its shutdown flag.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::watch;

use super::config::Config;
use super::tracker::Tracker;
use crate::callbacks::Callbacks;
use crate::clients::Clients;
use crate::static_files::StaticFiles;

/// What every connection task shares.
pub(crate) struct ServerShared {
    pub(crate) config: Config,
    pub(crate) callbacks: Callbacks,
    pub(crate) clients: Clients,
    pub(crate) files: StaticFiles,
    /// Turns true when shutdown begins (see [`until_shutdown`]).
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Set once the accept loop has stopped and shutdown closes every
    /// WebSocket: a handshake still in flight closes its own.
    pub(crate) shutting_down: AtomicBool,
    pub(crate) tracker: Tracker,
    /// The runtime the server runs on, where resting sessions resume.
    pub(crate) runtime: tokio::runtime::Handle,
    /// With TLS: the inner connections the terminator made, which the
    /// accept loop alone serves (see `crate::tls`).
    pub(crate) handoffs: Option<Arc<crate::tls::Handoffs>>,
}

/// Resolves once the flag turns true (shutdown has begun, or for the
/// `done` flag, finished), or once its sender is gone: the shutdown flag's
/// sender goes with the [`RunningServer`](super::RunningServer).
pub(crate) async fn until_shutdown(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}
