//! The hub: one owner of the board's state. Every change — from a client,
//! an input edge or the failsafe — is applied once, under one lock, and
//! sent to every subscribed client in the order applied.
//!
//! - `device`: [`Device`], the public handle, and its [`Snapshot`].
//! - `state`: what the state lock protects.
//! - `clients`: clients joining, subscribing and leaving.
//! - `commands`: messages from clients, carried out and answered.
//! - `apply`: changes to the hardware and the state, all or nothing, and
//!   input edges.
//! - `controllers`: which client controls which failsafe output, and the
//!   watchdog's round.
//! - `fanout`: state and events sent to the subscribers, in order.
//! - `safe`: outputs to their safe level, and [`SafeError`].
//! - `limits`: [`CommandLimits`], each client's bucket of commands and cap
//!   on refusals.
//! - `log_summary`: pin changes logged at debug, and at info at a bounded
//!   rate.
//!
//! Locks are taken in one order: the state lock, then `fanout`.

mod apply;
mod clients;
mod commands;
mod controllers;
mod device;
mod fanout;
mod limits;
pub(crate) mod log_summary;
mod safe;
mod state;

use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use pinsocket_core::Pin;

use log_summary::ChangeLog;

pub use device::{Device, PROTOCOL, Snapshot};
pub use limits::CommandLimits;
pub use safe::SafeError;

use state::HubState;

/// The shared state behind a [`Device`]: held by its handles and the
/// server's callbacks, and weakly by the backend's
/// [`EventSink`](crate::EventSink) and the failsafe.
#[derive(Debug)]
pub(crate) struct Hub {
    pins: Vec<Pin<String>>,
    pub(crate) failsafe_ping: Duration,
    pub(crate) failsafe_timeout: Duration,
    state: Mutex<HubState>,
    /// Held while states and events are queued on clients. Taken while
    /// the state lock is held, just before it is released, so what one
    /// change sends goes out before the next change's, while the state
    /// lock is free for commands to be checked meanwhile.
    fanout: Mutex<()>,
    /// The failsafe's watchdog thread, woken when a controller appears.
    pub(crate) watchdog: OnceLock<Thread>,
    /// What each client may send.
    limits: CommandLimits,
    /// Input changes, at debug each and at info at a bounded rate.
    inputs_log: ChangeLog,
}
