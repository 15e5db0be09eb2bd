//! [`Tracker`]: counts a server's open TCP connections, for the connection
//! limit and so that shutdown can wait for the last one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Counts the TCP connections being served (HTTP and WebSocket, resting
/// ones too; not those refused at the limit), so the accept loop can hold
/// to the connection limit and shutdown can wait for them.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tracker(Arc<TrackerInner>);

#[derive(Debug, Default)]
pub(crate) struct TrackerInner {
    count: AtomicUsize,
    idle: Notify,
}

/// Held by a connection for its lifetime: by its HTTP task, then by its
/// session.
#[derive(Debug)]
pub(crate) struct Tracked(Tracker);

impl Tracker {
    pub(crate) fn track(&self) -> Tracked {
        self.0.count.fetch_add(1, Ordering::SeqCst);
        Tracked(self.clone())
    }

    pub(crate) fn count(&self) -> usize {
        self.0.count.load(Ordering::SeqCst)
    }

    /// Resolves once no connection is open.
    pub(super) async fn idle(&self) {
        loop {
            let notified = self.0.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.0.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.0.idle.notify_waiters();
        }
    }
}
