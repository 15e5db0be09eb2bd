//! The device server: a board of named pins, driven and watched by every
//! connected browser at once.
//!
//! A [`Device`] owns the board's state and a [`Backend`] that touches the
//! hardware ([`SimBoard`] simulates one; `GpioCdev` drives Linux GPIO
//! character devices). [`Device::serve`] installs its callbacks on a
//! [`Server`](crate::Server): clients receive the state on connect and after
//! every change, and send commands in JSON or the original's plain text
//! (see docs/PROTOCOL.md).

mod app;
mod backend;
mod config;
mod failsafe;
#[cfg(target_os = "linux")]
mod gpio_cdev;
mod hub;
mod sim;

pub use app::{App, DEFAULT_MAX_MESSAGE, RunError};
pub use backend::{Backend, BackendError, EventSink};
pub use config::{
    BackendKind, Config, ConfigError, Limits as ConfigLimits, MIN_MAX_MESSAGE, MIN_SEND_QUEUE,
};
#[cfg(target_os = "linux")]
pub use gpio_cdev::GpioCdev;
pub use hub::{Board, Device, PROTOCOL, SafeError, Snapshot};
pub use sim::{SimBackend, SimBoard};
