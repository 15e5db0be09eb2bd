//! Bounded waits: the hang guard [`WAIT`], [`within`] for one future, and
//! [`wait_until`] / [`poll_until`] for a condition that must come true.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, timeout};

/// The longest any single wait in a test may take. Only a guard against a
/// hung test, never a bound on how fast the server must be: a passing test
/// never waits this long, however loaded the machine, so it is generous.
/// Tests that prove something happened *before* a server timeout of their
/// own make that timeout longer than this.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// How long [`poll_until`] sleeps between two probes.
const POLL: Duration = Duration::from_millis(5);

/// Awaits `fut`, failing the test if it takes longer than [`WAIT`].
pub(crate) async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {WAIT:?}: {what}"),
    }
}

/// Checks `cond` every few milliseconds until it returns true; fails the
/// test, naming `what`, if it is still false after `limit`.
pub(crate) async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    poll_until(what, limit, || std::future::ready(cond()), |holds| *holds).await;
}

/// Awaits `probe` every few milliseconds until `done` holds of what it
/// gives, and returns that; fails the test, naming `what` and showing the
/// last probe, if `done` still does not hold after `limit`.
pub(crate) async fn poll_until<T: Debug, F: Future<Output = T>>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        let seen = probe().await;
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}; last seen: {seen:#?}"
        );
        tokio::time::sleep(POLL).await;
    }
}
