//! [`RestState`]: whether a connection's session is running, asked to rest,
//! or resting, as the sweep sees it.

use std::sync::atomic::{AtomicU8, Ordering};

/// A session's task state as the sweep sees it: running, asked to rest
/// (after a quiet spell), or resting (no task; see `session::rest`).
#[derive(Default)]
pub(crate) struct RestState(AtomicU8);

const RUNNING: u8 = 0;
const REQUESTED: u8 = 1;
const RESTING: u8 = 2;

impl RestState {
    /// Asks a running session to rest; false if it is not running.
    pub(crate) fn request(&self) -> bool {
        self.0
            .compare_exchange(RUNNING, REQUESTED, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// True if the sweep asked the session to rest and it has not yet.
    pub(crate) fn is_requested(&self) -> bool {
        self.0.load(Ordering::Relaxed) == REQUESTED
    }

    pub(crate) fn set_resting(&self) {
        self.0.store(RESTING, Ordering::Relaxed);
    }

    pub(crate) fn set_running(&self) {
        self.0.store(RUNNING, Ordering::Relaxed);
    }

    pub(crate) fn is_resting(&self) -> bool {
        self.0.load(Ordering::Relaxed) == RESTING
    }
}
