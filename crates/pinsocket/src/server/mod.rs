//! The server: its configuration, starting it, the accept loop, the
//! liveness sweep, stop signals and graceful shutdown.
//!
//! - `builder`: [`Server`], configured builder-style.
//! - `config`: the settings every connection shares.
//! - `start`: from a [`Server`] to a [`RunningServer`], on a runtime of its
//!   own, in the foreground, or on the current one.
//! - `inner`: what every connection task of a running server shares.
//! - `accept`: the listening socket, the accept loop and, when it stops,
//!   the closing of every connection.
//! - `sweep`: the task that runs the liveness sweep every tick.
//! - `signals`: [`StopSignals`] and [`shutdown_signal`].
//! - `running`: [`RunningServer`], the handle to a listening server.
//! - `tracker`: counts open connections, for the limit and for shutdown.

mod accept;
mod builder;
mod config;
mod running;
mod shared;
mod signals;
mod start;
mod sweep;
mod tracker;

pub use builder::Server;
pub use running::RunningServer;
pub(crate) use shared::{ServerShared, until_shutdown};
pub use signals::{StopSignals, shutdown_signal};
pub(crate) use tracker::Tracked;
