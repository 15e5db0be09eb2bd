//! The edge watchers: a thread per input request that reads its edge
//! events and reports each as a pin's new level, until stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use gpiocdev::Request;
use gpiocdev::line::{EdgeEvent, EdgeKind};
use pinsocket_core::Level;

use super::validate::error_text;

/// An edge watcher gives up after this many failed reads in a row. A single
/// failure (a signal such as Ctrl-C interrupting the wait) is retried.
const MAX_FAILURES: u32 = 10;

/// Where edge events come from: a [`Request`], or a fake in tests.
pub(super) trait EdgeSource: Send + Sync + 'static {
    /// Waits up to `timeout`; true if an event can be read.
    fn wait(&self, timeout: Duration) -> gpiocdev::Result<bool>;
    /// Reads one event.
    fn read(&self) -> gpiocdev::Result<EdgeEvent>;
}

impl EdgeSource for Request {
    fn wait(&self, timeout: Duration) -> gpiocdev::Result<bool> {
        self.wait_edge_event(timeout)
    }

    fn read(&self) -> gpiocdev::Result<EdgeEvent> {
        self.read_edge_event()
    }
}

/// The edge-watching threads, stopped and joined on drop.
///
/// Each thread waits for events with a timeout (the `poll` it was started
/// with) and checks a stop flag in between, so it ends within about one
/// timeout of [`Watchers::stop`].
#[derive(Debug, Default)]
pub(super) struct Watchers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Watchers {
    /// Starts a thread that reads `source`'s edges and reports each as
    /// `report(pin, level)`; `lines` maps offsets to pins, `what` names them
    /// in the log.
    pub(super) fn spawn<E: EdgeSource>(
        &mut self,
        source: Arc<E>,
        lines: Vec<(u32, usize)>,
        poll: Duration,
        what: String,
        mut report: impl FnMut(usize, Level) + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = self.stop.clone();
        let handle = thread::Builder::new()
            .name("gpio-cdev".into())
            .spawn(move || watch(&*source, &lines, &stop, poll, &what, &mut report))?;
        self.threads.push(handle);
        Ok(())
    }

    /// Stops every thread and waits for it to end.
    pub(super) fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let me = thread::current().id();
        for handle in self.threads.drain(..) {
            // A watcher reporting an edge may hold the last reference to the
            // device, and so drop it (and us) itself: it ends on its own
            // once it returns, and joining itself would fail.
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for Watchers {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A watcher thread's loop: reports edges until `stop` is set, or until
/// reads fail [`MAX_FAILURES`] times in a row.
fn watch<E: EdgeSource + ?Sized>(
    source: &E,
    lines: &[(u32, usize)],
    stop: &AtomicBool,
    poll: Duration,
    what: &str,
    report: &mut impl FnMut(usize, Level),
) {
    let mut failures = 0;
    while !stop.load(Ordering::Acquire) {
        let event = match source.wait(poll) {
            Ok(false) => continue,
            Ok(true) => source.read(),
            Err(e) => Err(e),
        };
        match event {
            Ok(event) => {
                failures = 0;
                if let Some((pin, level)) = edge(lines, &event) {
                    report(pin, level);
                }
            }
            Err(e) => {
                failures += 1;
                if failures >= MAX_FAILURES {
                    tracing::error!("gpio-cdev: {what}: edge events stopped: {}", error_text(&e));
                    return;
                }
                // Debug only: a signal interrupting the wait is routine.
                tracing::debug!("gpio-cdev: {what}: reading edge events: {}", error_text(&e));
                thread::sleep(poll);
            }
        }
    }
}

/// The physical level an edge leaves the line at.
fn edge_level(kind: EdgeKind) -> Level {
    match kind {
        EdgeKind::Rising => Level::High,
        EdgeKind::Falling => Level::Low,
    }
}

/// The pin and new level of an edge event; `lines` maps offsets to pin
/// indices. None for an offset not in `lines`.
fn edge(lines: &[(u32, usize)], event: &EdgeEvent) -> Option<(usize, Level)> {
    lines
        .iter()
        .find(|(offset, _)| *offset == event.offset)
        .map(|&(_, pin)| (pin, edge_level(event.kind)))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::sync::mpsc;

    use super::*;
    use crate::lock::lock;

    fn event(offset: u32, kind: EdgeKind) -> EdgeEvent {
        EdgeEvent {
            timestamp_ns: 0,
            kind,
            offset,
            seqno: 0,
            line_seqno: 0,
        }
    }

    #[test]
    fn edge_events_map_to_pin_and_level() {
        let lines = [(5, 2), (7, 3)];
        assert_eq!(
            edge(&lines, &event(5, EdgeKind::Rising)),
            Some((2, Level::High))
        );
        assert_eq!(
            edge(&lines, &event(7, EdgeKind::Falling)),
            Some((3, Level::Low))
        );
        assert_eq!(edge(&lines, &event(6, EdgeKind::Rising)), None);
    }

    /// Edge events from a queue; waits time out when it is empty.
    #[derive(Default)]
    struct Fake {
        queue: Mutex<VecDeque<gpiocdev::Result<EdgeEvent>>>,
    }

    impl Fake {
        fn new(items: impl IntoIterator<Item = gpiocdev::Result<EdgeEvent>>) -> Arc<Fake> {
            Arc::new(Fake {
                queue: Mutex::new(items.into_iter().collect()),
            })
        }
    }

    impl EdgeSource for Fake {
        fn wait(&self, timeout: Duration) -> gpiocdev::Result<bool> {
            if lock(&self.queue).is_empty() {
                thread::sleep(timeout);
                Ok(false)
            } else {
                Ok(true)
            }
        }

        fn read(&self) -> gpiocdev::Result<EdgeEvent> {
            lock(&self.queue)
                .pop_front()
                .unwrap_or_else(|| Err(gpiocdev::Error::InvalidArgument("empty".into())))
        }
    }

    fn failure() -> gpiocdev::Result<EdgeEvent> {
        Err(gpiocdev::Error::from(std::io::Error::from_raw_os_error(4)))
    }

    #[test]
    fn watcher_reports_edges_and_ends_when_dropped() {
        let fake = Fake::new([
            Ok(event(5, EdgeKind::Rising)),
            Ok(event(7, EdgeKind::Falling)),
            Ok(event(9, EdgeKind::Rising)),
            Ok(event(5, EdgeKind::Falling)),
        ]);
        let (tx, rx) = mpsc::channel();
        let mut watchers = Watchers::default();
        watchers
            .spawn(
                fake.clone(),
                vec![(5, 2), (7, 3)],
                Duration::from_millis(5),
                "test".into(),
                move |pin, level| tx.send((pin, level)).unwrap(),
            )
            .unwrap();
        let got: Vec<(usize, Level)> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, [(2, Level::High), (3, Level::Low), (2, Level::Low)]);
        // Dropping stops and joins the thread: done within a hang guard,
        // not a time bound (the machine may be loaded).
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::spawn(move || {
            drop(watchers);
            let _ = done_tx.send(());
        });
        done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("dropping the watchers stops their thread");
        // The thread ended: it let go of the source and of the reporter.
        assert_eq!(Arc::strong_count(&fake), 1);
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    }

    #[test]
    fn watcher_retries_failures_then_gives_up() {
        let items = (0..MAX_FAILURES - 1)
            .map(|_| failure())
            .chain([Ok(event(5, EdgeKind::Rising))])
            .chain((0..MAX_FAILURES).map(|_| failure()))
            .chain([Ok(event(5, EdgeKind::Falling))]);
        let fake = Fake::new(items);
        let (tx, rx) = mpsc::channel();
        let mut watchers = Watchers::default();
        watchers
            .spawn(
                fake.clone(),
                vec![(5, 0)],
                Duration::from_millis(1),
                "test".into(),
                move |pin, level| tx.send((pin, level)).unwrap(),
            )
            .unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            (0, Level::High)
        );
        // Ten failures in a row end the thread, before the last event.
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
        assert_eq!(lock(&fake.queue).len(), 1);
        drop(watchers);
        assert_eq!(Arc::strong_count(&fake), 1);
    }
}
