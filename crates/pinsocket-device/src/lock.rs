//! The crate's one way to take a lock: poison is ignored.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, even if a thread panicked while holding it. A panic must
/// not stop the device from acting: the failsafe's panic hook drives the
/// outputs safe through locks that the panicking thread may poison as it
/// unwinds, and the server goes on serving afterwards.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
