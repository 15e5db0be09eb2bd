//! The crate's one way to lock a mutex: poison is ignored.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, and takes its data even if a thread panicked while
/// holding it.
///
/// Only for data that every holder leaves consistent at each step, so that
/// a panic cannot leave it half-changed; each caller says why its data is
/// such. Refusing a poisoned lock would then only turn one panic into many.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
