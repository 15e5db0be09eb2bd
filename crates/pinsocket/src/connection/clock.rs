//! The server clock: milliseconds since a process-wide origin, cheap to
//! store in an atomic.

use std::sync::OnceLock;
use std::time::Instant;

/// The server clock's origin, shared by every server in the process.
pub(super) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds on the server clock; never 0, which means "never".
pub(crate) fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
