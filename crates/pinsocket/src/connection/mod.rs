//! The handle to one open WebSocket and what stands behind it: its send
//! queue, its wake-up and whether its session is resting.
//!
//! A [`Connection`] is cheap to clone and may be used from any thread or
//! task. A send only encodes the frame into the connection's [`Outbox`] and,
//! unless it comes from that connection's own callbacks, wakes its session;
//! the session writes what is queued (see `session::output`).

mod clock;
mod dispatch;
mod handle;
mod lock;
mod outbox;
mod peer;
mod prepared;
mod rest_state;
mod send_error;
mod state;
mod wakeup;

pub(crate) use clock::now_ms;
pub(crate) use dispatch::Dispatch;
pub use handle::Connection;
pub(crate) use handle::OutboxGuard;
// Named only by the size test of a resting connection.
#[cfg(test)]
pub(crate) use handle::Shared;
pub(crate) use lock::lock;
pub(crate) use outbox::{Outbox, OutputBudget, queue_close};
pub use prepared::Prepared;
pub(crate) use prepared::encode_shared;
pub use send_error::SendError;
pub(crate) use state::State;
