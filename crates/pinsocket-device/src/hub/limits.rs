//! How much a client may ask of the device: a token bucket of commands per
//! client ([`CommandLimits::commands_per_second`], with a burst), and a cap
//! on refused commands beyond which the client is closed with 1008.
//!
//! Both are buckets kept in the client's record, under the state lock the
//! command takes anyway: checking one costs a clock read and a little
//! arithmetic, no allocation and no lock of its own.

use std::time::{Duration, Instant};

/// Per-client limits on commands, set with
/// [`Device::with_limits`](super::Device::with_limits) or a configuration
/// file's `[limits]`.
///
/// Every text message counts as one command: `set`, `toggle`, `simulate`,
/// `ping` and plain text alike, since each costs the device a parse, the
/// state lock and a reply. A command over the limit is not carried out: a
/// JSON client is answered `rate_limited`, a plain-text client a plain-text
/// line. Each refused command (over the limit, bad JSON, unknown pin, …;
/// not a hardware failure, which is not the client's doing) also counts
/// against [`max_refused`](CommandLimits::max_refused): a client refused
/// more often than that is closed with 1008.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct CommandLimits {
    /// Commands a client may send per second, on average. Default 50: a
    /// person clicking, or the control page (a ping a second and a command
    /// per click), stays far below it; a script flooding the device is cut
    /// to it.
    pub commands_per_second: u32,
    /// Commands a client may send at once, above the average, before the
    /// limit applies. Default 100: two seconds' worth, so a page that
    /// sends a burst (a `set` per pin on a big board, a reconnect's first
    /// messages) is never refused.
    pub command_burst: u32,
    /// Refused commands a client may earn within
    /// [`refused_window`](CommandLimits::refused_window) before it is
    /// closed with 1008 (policy violation). Default 20: a page in use
    /// earns one now and then (a mistyped pin); a client that keeps
    /// sending what is refused is only making the device answer.
    pub max_refused: u32,
    /// The window [`max_refused`](CommandLimits::max_refused) counts over.
    /// Default 10 s. Counted as a bucket of `max_refused` that refills
    /// evenly over the window, so a client refused at a steady rate below
    /// `max_refused` per window is never closed.
    pub refused_window: Duration,
}

impl Default for CommandLimits {
    fn default() -> Self {
        CommandLimits {
            commands_per_second: 50,
            command_burst: 100,
            max_refused: 20,
            refused_window: Duration::from_secs(10),
        }
    }
}

impl CommandLimits {
    /// The bucket of commands: `command_burst`, refilled at
    /// `commands_per_second`.
    fn commands(&self) -> Rate {
        Rate {
            capacity: f64::from(self.command_burst.max(1)),
            per_second: f64::from(self.commands_per_second.max(1)),
        }
    }

    /// The bucket of refusals: `max_refused`, refilled over
    /// `refused_window`.
    fn refusals(&self) -> Rate {
        let capacity = f64::from(self.max_refused.max(1));
        let window = self.refused_window.as_secs_f64().max(1e-3);
        Rate {
            capacity,
            per_second: capacity / window,
        }
    }
}

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy)]
struct Rate {
    capacity: f64,
    per_second: f64,
}

/// A token bucket: `tokens` as of `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: rate.capacity,
            at: now,
        }
    }

    /// Takes a token if there is one, after refilling for the time since
    /// the last call. Returns whether there was one.
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.capacity);
        self.at = self.at.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One client's buckets, kept in its record.
#[derive(Debug, Clone, Copy)]
pub(super) struct ClientLimits {
    commands: Bucket,
    refusals: Bucket,
    /// Closed for too many refusals: what else it sends is ignored.
    closing: bool,
}

/// What became of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Within the cap: answer it.
    Answer,
    /// Just over the cap: close the client (1008).
    Close,
}

impl ClientLimits {
    /// Full buckets, as of `now`.
    pub(super) fn new(limits: &CommandLimits, now: Instant) -> ClientLimits {
        ClientLimits {
            commands: Bucket::full(limits.commands(), now),
            refusals: Bucket::full(limits.refusals(), now),
            closing: false,
        }
    }

    /// Counts one command; false if it is over the limit (it must not be
    /// carried out).
    pub(super) fn admit(&mut self, limits: &CommandLimits, now: Instant) -> bool {
        self.commands.take(limits.commands(), now)
    }

    /// Counts one refused command: [`Refused::Close`] the first time the
    /// client goes over the cap, after which [`ClientLimits::closing`]
    /// holds.
    pub(super) fn refused(&mut self, limits: &CommandLimits, now: Instant) -> Refused {
        if self.closing || self.refusals.take(limits.refusals(), now) {
            return Refused::Answer;
        }
        self.closing = true;
        Refused::Close
    }

    /// True once the client is being closed for too many refusals.
    pub(super) fn closing(&self) -> bool {
        self.closing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: u32, burst: u32, max_refused: u32, window_s: u64) -> CommandLimits {
        CommandLimits {
            commands_per_second: per_second,
            command_burst: burst,
            max_refused,
            refused_window: Duration::from_secs(window_s),
        }
    }

    /// Commands admitted at `now` until one is refused.
    fn admitted(c: &mut ClientLimits, l: &CommandLimits, now: Instant) -> u32 {
        let mut n = 0;
        while c.admit(l, now) {
            n += 1;
            assert!(n <= 1_000_000, "no limit");
        }
        n
    }

    #[test]
    fn the_burst_then_the_rate() {
        let l = limits(50, 100, 20, 10);
        let t0 = Instant::now();
        let mut c = ClientLimits::new(&l, t0);
        assert_eq!(admitted(&mut c, &l, t0), 100);
        // 0.1 s later, five more; a second later, fifty.
        assert_eq!(admitted(&mut c, &l, t0 + Duration::from_millis(100)), 5);
        assert_eq!(admitted(&mut c, &l, t0 + Duration::from_millis(1100)), 50);
        // A long rest refills to the burst, no further.
        assert_eq!(admitted(&mut c, &l, t0 + Duration::from_secs(100)), 100);
        // A clock that goes backwards gives nothing.
        assert_eq!(admitted(&mut c, &l, t0), 0);
    }

    #[test]
    fn a_steady_sender_at_the_rate_is_never_refused() {
        let l = limits(50, 100, 20, 10);
        let t0 = Instant::now();
        let mut c = ClientLimits::new(&l, t0);
        for i in 0..10_000u64 {
            // One every 20 ms: 50 a second.
            assert!(c.admit(&l, t0 + Duration::from_millis(20 * i)), "{i}");
        }
    }

    #[test]
    fn more_refusals_than_the_cap_close_once() {
        let l = limits(50, 100, 20, 10);
        let t0 = Instant::now();
        let mut c = ClientLimits::new(&l, t0);
        for i in 0..20 {
            assert_eq!(c.refused(&l, t0), Refused::Answer, "{i}");
        }
        assert!(!c.closing());
        assert_eq!(c.refused(&l, t0), Refused::Close);
        assert!(c.closing());
        // Said once; what follows is ignored by the hub.
        assert_eq!(c.refused(&l, t0), Refused::Answer);
    }

    #[test]
    fn refusals_below_the_cap_per_window_never_close() {
        let l = limits(50, 100, 20, 10);
        let t0 = Instant::now();
        let mut c = ClientLimits::new(&l, t0);
        // Two a second, forever: 20 per 10 s, the cap itself.
        for i in 0..1_000u64 {
            let at = t0 + Duration::from_millis(500 * i);
            assert_eq!(c.refused(&l, at), Refused::Answer, "{i}");
        }
        assert!(!c.closing());
    }
}
