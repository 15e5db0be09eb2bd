//! [`Config`]: the settings every connection of a server shares.

use std::time::Duration;

use pinsocket_core::HeadLimits;

/// Settings shared by every connection. Defaults are documented on the
/// [`Server`](super::Server) methods that change them.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) max_message_len: usize,
    pub(crate) max_send_queue: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) keep_alive_timeout: Duration,
    pub(crate) limits: HeadLimits,
    pub(crate) max_connections: usize,
    pub(crate) backlog: u32,
    /// How long a WebSocket goes without input before it rests;
    /// `Duration::MAX` for never.
    pub(crate) rest_after: Duration,
    pub(crate) protocols: &'static [&'static str],
    /// The server speaks https and wss: every connection the plain server
    /// sees came through the TLS terminator (`crate::tls`). Origin checks
    /// want scheme `https`, cookies want `Secure`.
    pub(crate) tls: bool,
    /// Who may use the server: Host, Origin, token (`crate::access`).
    pub(crate) access: crate::access::Access,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_len: 64 * 1024,
            max_send_queue: 1024 * 1024,
            ping_interval: Duration::from_secs(30),
            ping_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(30),
            limits: HeadLimits::default(),
            max_connections: 16_384,
            backlog: 1024,
            rest_after: Duration::from_secs(1),
            protocols: &[],
            tls: false,
            access: crate::access::Access::default(),
        }
    }
}
