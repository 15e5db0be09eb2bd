//! The `[limits]` a configuration may set on the server's connections, and
//! the smallest values the control page can work with.

use std::time::Duration;

use crate::hub::CommandLimits;

/// Server limits a configuration may change. Unset fields keep the
/// server's defaults, except `max_message`, which the device server sets
/// to [`DEFAULT_MAX_MESSAGE`](crate::DEFAULT_MAX_MESSAGE).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionLimits {
    /// Largest WebSocket message, bytes.
    pub max_message: Option<usize>,
    /// Per-client send queue, bytes.
    pub max_send_queue: Option<usize>,
    /// A client that takes no bytes for this long is dropped.
    pub send_timeout: Option<Duration>,
    /// Silent connections are pinged after this long.
    pub ping_interval: Option<Duration>,
    /// And dropped if the ping goes unanswered this long.
    pub ping_timeout: Option<Duration>,

    // Per-client command limits, unset keeping the defaults of
    // `CommandLimits` (see `ConnectionLimits::commands`).
    /// Commands a client may send per second, on average.
    pub commands_per_second: Option<u32>,
    /// Commands a client may send at once above the average.
    pub command_burst: Option<u32>,
    /// Refused commands a client may earn within `refused_window` before it
    /// is closed with 1008.
    pub max_refused: Option<u32>,
    /// The window `max_refused` counts over.
    pub refused_window: Option<Duration>,

    /// Bytes waiting to be written to all clients together (the server's
    /// output budget); default the library's, 64 MiB.
    pub output_budget: Option<usize>,
    /// Most connections served at once; by default the binary derives it
    /// from the open-file limit with
    /// [`ConnectionLimits::max_connections_for`].
    pub max_connections: Option<usize>,
}

/// The smallest `[limits] max_message`: every command the protocol allows
/// (a JSON command is at most 1024 bytes) must fit in one message.
pub const MIN_MAX_MESSAGE: usize = pinsocket_core::MAX_JSON_LEN;

/// The smallest `[limits] max_send_queue`: room for a few state messages
/// of a full board.
pub const MIN_SEND_QUEUE: usize = 16 * 1024;

impl ConnectionLimits {
    /// The per-client command limits: those set here, the defaults of
    /// [`CommandLimits`] for the rest.
    pub fn commands(&self) -> CommandLimits {
        let mut limits = CommandLimits::default();
        if let Some(n) = self.commands_per_second {
            limits.commands_per_second = n;
        }
        if let Some(n) = self.command_burst {
            limits.command_burst = n;
        }
        if let Some(n) = self.max_refused {
            limits.max_refused = n;
        }
        if let Some(window) = self.refused_window {
            limits.refused_window = window;
        }
        limits
    }
}

// ---- memory and descriptors ----------------------------------------------

impl ConnectionLimits {
    /// The device server's per-client send queue unless configured: 64
    /// KiB, a dozen states of a full board. With the connections a
    /// Raspberry Pi's descriptors allow, every queue full at once stays
    /// within about the output budget (docs/CONFORMANCE.md, "Memory per
    /// connection").
    pub const DEFAULT_SEND_QUEUE: usize = 64 * 1024;

    /// The smallest `[limits] output_budget`.
    pub const MIN_OUTPUT_BUDGET: usize = 1 << 20;

    /// Descriptors kept for the process itself: stdio and logging, the
    /// listener, tokio's epoll and wake-up descriptors, GPIO chips, line
    /// requests and edge watchers, a configuration or page being read.
    pub const PROCESS_FILES: u64 = 64;

    /// Descriptors kept for connections being refused with 503 (the
    /// server refuses at most this many at a time, see `pinsocket`'s
    /// accept loop).
    pub const REFUSING_FILES: u64 = 32;

    /// The most connections the device server serves, unless configured,
    /// for an open-file limit of `open_files` descriptors: what is left
    /// after [`PROCESS_FILES`](Self::PROCESS_FILES) and
    /// [`REFUSING_FILES`](Self::REFUSING_FILES), divided by the descriptors
    /// one connection may hold — 2 in plain HTTP (its socket, and a page
    /// file from `--www`), 4 with `tls` (the public socket, both ends of
    /// the connection to the private listener behind the TLS terminator,
    /// and the file); at least 1, at most 16,384 (the library's default).
    /// For the 1,024 of a stock Raspberry Pi: 464, or 232 with TLS.
    pub fn max_connections_for(open_files: u64, tls: bool) -> usize {
        let per_connection = if tls { 4 } else { 2 };
        let per_connection =
            open_files.saturating_sub(Self::PROCESS_FILES + Self::REFUSING_FILES) / per_connection;
        usize::try_from(per_connection)
            .unwrap_or(usize::MAX)
            .clamp(1, 16_384)
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionLimits;

    #[test]
    fn connections_leave_room_for_files_and_refusals() {
        let max = |files| ConnectionLimits::max_connections_for(files, false);
        assert_eq!(max(1024), 464);
        assert_eq!(max(256), 80);
        assert_eq!(max(50), 1);
        assert_eq!(max(1 << 20), 16_384);
        assert_eq!(max(u64::MAX), 16_384);
        let tls = |files| ConnectionLimits::max_connections_for(files, true);
        assert_eq!(tls(1024), 232);
        assert_eq!(tls(256), 40);
        assert_eq!(tls(50), 1);
    }
}
