//! [`State`]: where a connection is in its life.

/// Where the connection is in its life. Kept in its
/// [`Outbox`](super::Outbox), under the same lock as what is queued, so a
/// send sees the state it queues under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    /// A close frame is queued or sent; nothing else may follow it.
    Closing,
    /// The peer did not answer a ping in time.
    TimedOut,
    /// The peer took none of our bytes for the send timeout.
    Stalled,
    /// Closing took longer than the close timeout (the close frame could
    /// not even be written): the connection is dropped.
    CloseTimedOut,
    /// The connection is gone and `on_close` has run.
    Closed,
}
