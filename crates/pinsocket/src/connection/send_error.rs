//! [`SendError`]: why a message could not be queued.

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closing or closed; nothing more can be sent.
    #[error("connection is closed")]
    Closed,
    /// The client fell too far behind: its queue was full. The connection is
    /// being closed with 1008 so the client knows messages were not delivered.
    #[error("client too slow: send queue full, connection closed with 1008")]
    QueueFull,
    /// The close code may not be sent on the wire (see
    /// [`CloseCode::is_sendable`](pinsocket_core::CloseCode::is_sendable)).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// A control frame's payload is limited to 125 bytes (RFC 6455 §5.5).
    #[error("a ping carries at most 125 bytes")]
    TooLarge,
}
