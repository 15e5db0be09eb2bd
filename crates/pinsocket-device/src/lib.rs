//! The device server: a board of named pins, driven and watched by every
//! connected browser at once. [`Device::serve`] installs its callbacks on a
//! [`Server`](pinsocket::Server): clients receive the state on connect and
//! after every change, and send commands in JSON or the original's plain
//! text (see docs/PROTOCOL.md).
//!
//! - `app`: [`App`], the server assembled from a [`Config`], and
//!   [`App::run`].
//! - `after_exit`: [`drive_outputs_safe`], outputs safe from a process of
//!   their own after the server ended, however it ended.
//! - `board`: [`Board`], the pins and the failsafe's timings.
//! - `hub`: [`Device`], the one owner of the board's state, and what it
//!   sends to clients.
//! - `failsafe`: the watchdog thread and the panic hook that drive outputs
//!   safe.
//! - `backend`: [`Backend`], what a board needs from the hardware, and
//!   [`EventSink`], where it reports input edges.
//! - `sim`: [`SimBoard`], a simulated board.
//! - `gpio_cdev`: `GpioCdev`, Linux GPIO character devices (Linux only).
//! - `config`: [`Config`], the TOML configuration file.
//! - `lock`: the crate's poison-tolerant lock.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod after_exit;
mod app;
mod backend;
mod board;
mod config;
mod failsafe;
#[cfg(target_os = "linux")]
mod gpio_cdev;
mod hub;
mod lock;
mod sim;

pub use after_exit::{AfterExit, drive_outputs_safe};
pub use app::{App, DEFAULT_MAX_MESSAGE, RunError, TOKEN_ENV};
pub use backend::{Backend, BackendError, EventSink};
pub use board::Board;
pub use config::{
    AccessConfig, BackendKind, Config, ConfigError, ConnectionLimits, MIN_MAX_MESSAGE,
    MIN_SEND_QUEUE, TlsFiles,
};
#[cfg(target_os = "linux")]
pub use gpio_cdev::GpioCdev;
pub use hub::{CommandLimits, Device, PROTOCOL, SafeError, Snapshot};
/// The board model the device is built on, from `pinsocket-core`.
pub use pinsocket_core::{Input, Level, Mode, Output, Pin, Pull};
pub use sim::{SimBackend, SimBoard};
