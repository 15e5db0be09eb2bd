//! [`ChangeLog`]: pin changes in the log without flooding it. Every change
//! is logged at debug; at info, a person switching a pin sees each change
//! as its own line (`sim: output led (line 12) -> high`), while a storm of
//! changes writes one line a second that says what changed and how often
//! (`sim: output led (line 12) -> high (3081 changes in the last 1.0 s)`).
//!
//! Info lines come from a bucket of [`LOG_BURST`] lines refilled at one per
//! [`LOG_EVERY`]. Changes that find it empty wait for the next line, which
//! a change writes when the bucket has refilled, or a short-lived thread
//! does once the changes stop, so the last level always reaches the log.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use pinsocket_core::Level;

use crate::lock::lock;

/// Info lines that may be written at once before they are spaced out.
pub(crate) const LOG_BURST: u32 = 10;

/// At most one info line per this long, once the burst is spent.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(1);

/// Pin changes logged at debug one by one and at info at a bounded rate.
/// Cheap per change: a debug call (free when debug is off), a clock read
/// and a short lock; nothing is allocated unless an info line is written.
pub(crate) struct ChangeLog {
    shared: Arc<Shared>,
}

/// What the log and its flushing thread share.
struct Shared {
    names: Names,
    summary: Mutex<Summary>,
}

/// What the lines call the pins.
struct Names {
    /// Put before each line, e.g. `sim: `.
    prefix: &'static str,
    /// Per pin, what a line calls it, e.g. `output led (line 12)`.
    labels: Vec<String>,
}

impl ChangeLog {
    /// A log for pins called `labels` (by index), each line starting with
    /// `prefix`.
    pub(crate) fn new(prefix: &'static str, labels: Vec<String>) -> ChangeLog {
        let pins = labels.len();
        ChangeLog {
            shared: Arc::new(Shared {
                names: Names { prefix, labels },
                summary: Mutex::new(Summary::new(pins, Instant::now())),
            }),
        }
    }

    /// Pin `pin` changed to (or was driven to) `level`.
    pub(crate) fn changed(&self, pin: usize, level: Level) {
        let shared = &*self.shared;
        let names = &shared.names;
        let label = names.labels.get(pin).map_or("?", String::as_str);
        tracing::debug!("{}{label} -> {}", names.prefix, level.as_str());
        let now = Instant::now();
        let (line, start_flusher) = {
            let mut summary = lock(&shared.summary);
            let line = summary.note(pin, level, now, names);
            let start = line.is_none() && !summary.flusher;
            if start {
                summary.flusher = true;
            }
            (line, start)
        };
        if let Some(line) = line {
            tracing::info!("{line}");
        }
        if start_flusher {
            self.start_flusher();
        }
    }

    /// Starts the thread that writes the held-back changes once the bucket
    /// has a line for them. If no thread can be started, the next change
    /// (or the log going away) writes them.
    fn start_flusher(&self) {
        let weak = Arc::downgrade(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("pinsocket-log".to_owned())
            .spawn(move || flush_when_due(&weak));
        if spawned.is_err() {
            lock(&self.shared.summary).flusher = false;
        }
    }
}

impl std::fmt::Debug for ChangeLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeLog")
            .field("prefix", &self.shared.names.prefix)
            .field("pins", &self.shared.names.labels.len())
            .finish_non_exhaustive()
    }
}

/// The flushing thread: sleeps until the bucket has a line, writes what
/// was held back, and ends when nothing is (or the log is gone).
fn flush_when_due(weak: &Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let wait = {
            let mut summary = lock(&shared.summary);
            match summary.due(Instant::now(), &shared.names) {
                Due::Nothing => {
                    summary.flusher = false;
                    return;
                }
                Due::Line(line) => {
                    drop(summary);
                    tracing::info!("{line}");
                    continue;
                }
                Due::In(wait) => wait,
            }
        };
        drop(shared);
        std::thread::sleep(wait);
    }
}

impl Drop for Shared {
    /// Whatever is still held back is written as the log goes away.
    fn drop(&mut self) {
        let summary = self
            .summary
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if summary.changes > 0 {
            let line = summary.line(Instant::now(), &self.names);
            tracing::info!("{line}");
        }
    }
}

/// What the flushing thread should do.
#[derive(Debug, PartialEq)]
enum Due {
    /// Nothing is held back.
    Nothing,
    /// Write this line now.
    Line(String),
    /// Wait this long for the bucket to refill.
    In(Duration),
}

/// The changes not yet written at info, and the bucket of lines.
#[derive(Debug)]
struct Summary {
    /// The latest level of each pin changed since the last info line.
    pending: Vec<Option<Level>>,
    /// Changes since the last info line.
    changes: u64,
    /// When the first of them happened.
    since: Option<Instant>,
    /// Lines that may be written now.
    tokens: f64,
    refilled: Instant,
    /// A flushing thread is running.
    flusher: bool,
}

impl Summary {
    fn new(pins: usize, now: Instant) -> Summary {
        Summary {
            pending: vec![None; pins],
            changes: 0,
            since: None,
            tokens: f64::from(LOG_BURST),
            refilled: now,
            flusher: false,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled);
        self.tokens = (self.tokens + elapsed.as_secs_f64() / LOG_EVERY.as_secs_f64())
            .min(f64::from(LOG_BURST));
        self.refilled = self.refilled.max(now);
    }

    /// Takes a line from the bucket if it has one.
    fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Records a change; returns the info line to write now, if the bucket
    /// has one.
    fn note(&mut self, pin: usize, level: Level, now: Instant, names: &Names) -> Option<String> {
        if let Some(slot) = self.pending.get_mut(pin) {
            *slot = Some(level);
        }
        self.changes += 1;
        self.since.get_or_insert(now);
        self.take(now).then(|| self.line(now, names))
    }

    /// For the flushing thread: what to do about held-back changes.
    fn due(&mut self, now: Instant, names: &Names) -> Due {
        if self.changes == 0 {
            return Due::Nothing;
        }
        if self.take(now) {
            return Due::Line(self.line(now, names));
        }
        let missing = (1.0 - self.tokens).max(0.0) * LOG_EVERY.as_secs_f64();
        Due::In(Duration::from_secs_f64(missing).max(Duration::from_millis(1)))
    }

    /// The info line for what is held back, which is then cleared: each
    /// pin changed with its latest level, and, for more than one change,
    /// how many and over how long.
    fn line(&mut self, now: Instant, names: &Names) -> String {
        let mut line = String::from(names.prefix);
        let mut first = true;
        for (pin, level) in self.pending.iter_mut().enumerate() {
            let Some(level) = level.take() else {
                continue;
            };
            if !first {
                line.push_str(", ");
            }
            first = false;
            let label = names.labels.get(pin).map_or("?", String::as_str);
            let _ = write!(line, "{label} -> {}", level.as_str());
        }
        if self.changes > 1 {
            let over = self
                .since
                .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
            let _ = write!(
                line,
                " ({} changes in the last {:.1} s)",
                self.changes,
                over.as_secs_f64()
            );
        }
        self.changes = 0;
        self.since = None;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            prefix: "sim: ",
            labels: vec![
                "output led (line 12)".to_owned(),
                "output fan (line 13)".to_owned(),
            ],
        }
    }

    #[test]
    fn a_person_switching_sees_every_change_as_before() {
        let names = names();
        let t0 = Instant::now();
        let mut s = Summary::new(2, t0);
        let ms = |n: u64| t0 + Duration::from_millis(n);
        assert_eq!(
            s.note(0, Level::High, ms(0), &names).as_deref(),
            Some("sim: output led (line 12) -> high")
        );
        assert_eq!(
            s.note(1, Level::Low, ms(300), &names).as_deref(),
            Some("sim: output fan (line 13) -> low")
        );
        // Five quick presses, a pause, and again, for a minute: every one
        // is written as it happens.
        for round in 0..10u64 {
            for press in 0..5u64 {
                let level = if press % 2 == 0 {
                    Level::Low
                } else {
                    Level::High
                };
                let at = ms(1000 + 6000 * round + 300 * press);
                assert!(s.note(0, level, at, &names).is_some(), "{round} {press}");
            }
        }
        assert_eq!(s.due(ms(100_000), &names), Due::Nothing);
    }

    /// A storm: one change a millisecond for ten seconds. The burst, then
    /// a line a second, and every change is counted in some line.
    #[test]
    fn a_storm_writes_a_line_a_second() {
        let names = names();
        let t0 = Instant::now();
        let mut s = Summary::new(2, t0);
        let mut lines = Vec::new();
        let mut level = Level::Low;
        for i in 0..10_000u64 {
            level = level.toggled();
            let at = t0 + Duration::from_millis(i);
            if let Some(line) = s.note((i % 2) as usize, level, at, &names) {
                lines.push((at, line));
            }
        }
        // The flushing thread's turn, after the storm: it waits for the
        // bucket, writes the rest, and finds nothing more.
        let mut at = t0 + Duration::from_millis(10_000);
        loop {
            match s.due(at, &names) {
                Due::Nothing => break,
                Due::Line(line) => lines.push((at, line)),
                Due::In(wait) => {
                    assert!(wait <= LOG_EVERY, "{wait:?}");
                    at += wait;
                }
            }
        }

        // 10 at once, then about one a second over ten seconds.
        assert!(lines.len() <= LOG_BURST as usize + 11, "{}", lines.len());
        for pair in lines[LOG_BURST as usize..].windows(2) {
            assert!(pair[1].0 - pair[0].0 >= LOG_EVERY - Duration::from_millis(1));
        }
        // Every change is in a line: alone, or counted in a summary.
        let counted: u64 = lines
            .iter()
            .map(|(_, line)| {
                line.rsplit_once(" (")
                    .and_then(|(_, tail)| tail.split_once(" changes in the last "))
                    .map_or(1, |(n, _)| n.parse::<u64>().unwrap())
            })
            .sum();
        assert_eq!(counted, 10_000);
        let (_, summary) = &lines[LOG_BURST as usize];
        assert!(
            summary.starts_with("sim: output led (line 12) -> ")
                && summary.contains(", output fan (line 13) -> ")
                && summary.contains(" changes in the last 1.0 s)"),
            "{summary}"
        );
        // The last line has each pin's final level.
        let (_, last) = lines.last().unwrap();
        assert!(
            last.starts_with("sim: output led (line 12) -> high, output fan (line 13) -> low ("),
            "{last}"
        );
    }
}
