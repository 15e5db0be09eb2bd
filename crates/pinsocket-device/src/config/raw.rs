//! The configuration file's shape, as TOML gives it: every field as
//! written, with its place in the file where an error may need it.
//! Unknown fields are refused.

use std::path::PathBuf;

use pinsocket_core::{Level, Pull};
use serde::Deserialize;
use toml::Spanned;

use super::seconds::Seconds;

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) listen: Option<Spanned<String>>,
    pub(super) www: Option<PathBuf>,
    pub(super) backend: Option<Spanned<String>>,
    pub(super) chip: Option<PathBuf>,
    pub(super) failsafe_ping: Option<Spanned<Seconds>>,
    pub(super) failsafe_timeout: Option<Spanned<Seconds>>,
    /// Replaced by `failsafe_timeout`; named here to say so.
    pub(super) heartbeat_timeout: Option<Spanned<serde::de::IgnoredAny>>,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default, rename = "output")]
    pub(super) outputs: Vec<RawOutput>,
    #[serde(default, rename = "input")]
    pub(super) inputs: Vec<RawInput>,
    #[serde(default)]
    pub(super) access: RawAccess,
    pub(super) tls: Option<Spanned<RawTls>>,
}

/// `[tls]`: https and wss with this certificate chain and key (PEM).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
}

/// `[access]`: who may use the server.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccess {
    #[serde(default)]
    pub(super) hosts: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) origins: Vec<Spanned<String>>,
    pub(super) token: Option<Spanned<String>>,
    pub(super) auth: Option<Spanned<bool>>,
}

/// `[limits]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_message: Option<Spanned<usize>>,
    pub(super) max_send_queue: Option<Spanned<usize>>,
    pub(super) send_timeout: Option<Spanned<Seconds>>,
    pub(super) ping_interval: Option<Spanned<Seconds>>,
    pub(super) ping_timeout: Option<Spanned<Seconds>>,
    // Per-client command limits (the device hub's `CommandLimits`).
    pub(super) commands_per_second: Option<Spanned<u32>>,
    pub(super) command_burst: Option<Spanned<u32>>,
    pub(super) max_refused: Option<Spanned<u32>>,
    pub(super) refused_window: Option<Spanned<Seconds>>,
    // Memory and descriptors (docs/CONFORMANCE.md).
    pub(super) output_budget: Option<Spanned<usize>>,
    pub(super) max_connections: Option<Spanned<u32>>,
}

/// One `[[output]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub(super) name: Spanned<String>,
    pub(super) line: u32,
    pub(super) chip: Option<PathBuf>,
    #[serde(default)]
    pub(super) active_low: bool,
    #[serde(default)]
    pub(super) initial: RawLevel,
    #[serde(default)]
    pub(super) safe: RawLevel,
    #[serde(default)]
    pub(super) failsafe: bool,
}

/// One `[[input]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInput {
    pub(super) name: Spanned<String>,
    pub(super) line: u32,
    pub(super) chip: Option<PathBuf>,
    #[serde(default)]
    pub(super) active_low: bool,
    #[serde(default)]
    pub(super) pull: RawPull,
    #[serde(default)]
    pub(super) debounce_ms: u32,
}

/// `"low"` or `"high"`.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawLevel {
    #[default]
    Low,
    High,
}

/// `"none"`, `"up"` or `"down"`.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawPull {
    #[default]
    None,
    Up,
    Down,
}

impl From<RawLevel> for Level {
    fn from(l: RawLevel) -> Level {
        match l {
            RawLevel::Low => Level::Low,
            RawLevel::High => Level::High,
        }
    }
}

impl From<RawPull> for Pull {
    fn from(p: RawPull) -> Pull {
        match p {
            RawPull::None => Pull::None,
            RawPull::Up => Pull::Up,
            RawPull::Down => Pull::Down,
        }
    }
}
