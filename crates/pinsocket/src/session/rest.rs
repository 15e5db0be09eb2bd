//! Resting: a quiet session gives up its task. It moves into a small
//! [`Resting`] allocation whose waker is registered for the socket's input
//! and the connection's wake-up; either one spawns a task for it again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use super::Session;
use super::output::Outgoing;
use crate::connection::{State, lock};

/// A resting session: no task, only this allocation, until its waker runs.
#[derive(Default)]
pub(super) struct Resting {
    session: Mutex<Option<Session>>,
    /// A wake-up came before the session was stored.
    woken_early: AtomicBool,
}

impl Session {
    /// True if the session may rest now: asked to (by the sweep, or by
    /// having been quiet before this task started), open, and holding no
    /// input (its replies are written: this is asked only while it waits
    /// to read).
    pub(super) fn may_rest(&self, state: State) -> bool {
        state == State::Open
            && self.held.is_empty()
            && (self.rest_when_idle || self.link.conn.shared.rest.is_requested())
    }

    /// Ends the task but not the connection: the session moves into a
    /// [`Resting`] whose waker is registered for input and for the
    /// connection's wake-ups; either spawns a task for it again.
    ///
    /// `since` is now on the server clock (see `resting_since`), or 0 for a
    /// new connection.
    pub(super) fn rest(mut self, since: u32) {
        let shared = self.link.conn.shared.clone();
        shared.rest.set_resting();
        self.resting_since = since;
        // A quiet connection keeps no buffers: both sides of the send
        // queue's swap are empty now (or the wake-up registered below
        // resumes the session at once).
        self.outgoing = Outgoing::default();
        {
            let mut out = self.link.conn.outbox();
            if out.queued == 0 {
                out.frames = VecDeque::new();
                out.tail = Vec::new();
            }
        }
        let resting = Arc::new(Resting::default());
        let waker = Waker::from(resting.clone());
        let cx = &mut Context::from_waker(&waker);
        // Register before storing the session: a wake-up in between finds
        // no session and leaves a note, read below, so none is lost.
        let mut due = self.stream.poll_read_ready(cx).is_ready();
        due |= shared.wakeup.poll(cx).is_ready();
        *resting.slot() = Some(self);
        if due || resting.woken_early.swap(false, Ordering::AcqRel) {
            resting.resume();
        }
    }
}

impl Resting {
    fn slot(&self) -> MutexGuard<'_, Option<Session>> {
        // Only ever holds or takes a whole session: a poisoned lock is fine.
        lock(&self.session)
    }

    /// Spawns the session's task again, if no other wake-up did.
    fn resume(&self) {
        let session = self.slot().take();
        match session {
            Some(mut session) => {
                session.link.conn.shared.rest.set_running();
                // A new connection, or one that rested for the rest delay,
                // is likely to go quiet again after this burst (a page that
                // sends now and then, a client that only listens): its
                // task ends as soon as it has nothing to do, instead of
                // waiting for the sweep. One that rested only briefly is
                // busy: it keeps its task until the sweep finds it quiet.
                #[allow(clippy::cast_possible_truncation)]
                let now = session.link.inner.clients.now_ms() as u32;
                let quiet_ms = now.wrapping_sub(session.resting_since);
                let rest_after = session.link.inner.config.rest_after.as_millis();
                session.rest_when_idle = session.link.inner.config.rest_after != Duration::MAX
                    && (session.resting_since == 0 || u128::from(quiet_ms) >= rest_after);
                let runtime = session.link.inner.runtime.clone();
                runtime.spawn(session.run());
            }
            None => self.woken_early.store(true, Ordering::Release),
        }
    }
}

impl Wake for Resting {
    fn wake(self: Arc<Self>) {
        self.resume();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.resume();
    }
}

#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use std::mem::size_of;

    /// What a resting connection holds, besides tokio's socket
    /// registration and the registry entry. With the `Arc` counts and
    /// glibc's 8-byte chunk header, each takes a 256-byte chunk; a field
    /// more in either moves it to the next 16 bytes, which shows in the
    /// idle-memory figures of BENCHMARKS.md.
    #[test]
    fn a_resting_connection_stays_small() {
        assert!(
            size_of::<super::Session>() <= 216,
            "{}",
            size_of::<super::Session>()
        );
        assert!(
            size_of::<super::Resting>() <= 232,
            "{}",
            size_of::<super::Resting>()
        );
        let shared = size_of::<crate::connection::Shared>();
        assert!(shared <= 232, "{shared}");
    }
}
