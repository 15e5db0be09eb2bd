//! The `[limits]` a configuration may set on the server's connections, and
//! the smallest values the control page can work with.

use std::time::Duration;

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
}

/// The smallest `[limits] max_message`: every command the protocol allows
/// (a JSON command is at most 1024 bytes) must fit in one message.
pub const MIN_MAX_MESSAGE: usize = pinsocket_core::MAX_JSON_LEN;

/// The smallest `[limits] max_send_queue`: room for a few state messages
/// of a full board.
pub const MIN_SEND_QUEUE: usize = 16 * 1024;
