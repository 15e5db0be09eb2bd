//! Which connection's callbacks this thread is running: [`Dispatch`] marks
//! it, and sends from those callbacks skip the wake-up.

use std::cell::Cell;
use std::sync::Arc;

use super::Connection;

thread_local! {
    /// The connection whose callbacks this thread is running, as the
    /// address of its [`Shared`](super::Shared) (unique while the session
    /// holds it); 0 when none.
    static DISPATCHING: Cell<usize> = const { Cell::new(0) };
}

/// Marks this thread as running `conn`'s callbacks until dropped; a
/// session holds one while it decodes input and dispatches it.
pub(crate) struct Dispatch {
    previous: usize,
}

impl Dispatch {
    pub(crate) fn enter(conn: &Connection) -> Dispatch {
        let previous = DISPATCHING.replace(Arc::as_ptr(&conn.shared) as usize);
        Dispatch { previous }
    }
}

impl Drop for Dispatch {
    fn drop(&mut self) {
        DISPATCHING.set(self.previous);
    }
}

impl Connection {
    /// True if this thread is running one of this connection's own
    /// callbacks (see [`Dispatch`]): its session writes what they queue as
    /// soon as they return, so their sends need no wake-up, and reads no
    /// more input until that is written (backpressure), so they are not
    /// held to the queue limit. Any other sender — another thread, or
    /// another connection's callback — must wake the session, or what it
    /// queued could wait for an unrelated wake-up.
    pub(super) fn is_dispatching_here(&self) -> bool {
        DISPATCHING.with(Cell::get) == Arc::as_ptr(&self.shared) as usize
    }
}
