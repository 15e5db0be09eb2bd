//! [`Wakeup`]: how anything that queues on a connection wakes its session.

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

/// A wake-up for one task, kept until taken, as a `Notify` permit is, but
/// without its waiter list: registering is an atomic state change, and the
/// waker is cloned only when it differs from the one registered before.
#[derive(Default)]
pub(crate) struct Wakeup {
    pending: AtomicBool,
    waker: AtomicWaker,
}

impl Wakeup {
    /// Wakes the task, now or at its next poll.
    pub(crate) fn notify(&self) {
        self.pending.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ready (and consumed) if `notify` ran since the last ready poll.
    pub(crate) fn poll(&self, cx: &Context<'_>) -> Poll<()> {
        if self.pending.swap(false, Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        // A notify between the check and the registration woke no one.
        if self.pending.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
