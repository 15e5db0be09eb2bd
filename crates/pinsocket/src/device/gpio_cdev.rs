//! The `gpio-cdev` backend: Linux GPIO character devices (`/dev/gpiochipN`)
//! through the `gpiocdev` crate, on a Raspberry Pi or any board whose kernel
//! has them (uAPI v2, Linux 5.10 or later).
//!
//! Every pin's line is requested when the backend opens and held until it
//! is dropped: outputs driven to their initial level, inputs with their
//! bias, debounce period and detection of both edges. A thread per input
//! request reports edges to the device.
//!
//! Levels are physical throughout: the device applies active-low itself
//! ([`Pin::physical`]), so lines are requested active-high and the kernel's
//! active-low flag is never set, or levels would be inverted twice.
//!
//! # Requests
//!
//! Lines are grouped by chip and settings: a chip's outputs share one
//! request, and its inputs with the same pull and debounce period share one
//! (on most boards, one request for all of a chip's inputs). Lines of a
//! request then share every flag, so the request needs no per-line
//! attributes and the uAPI's limit of 10 of them is never reached, whatever
//! the board; a group larger than the uAPI's 64 lines is split. One request
//! per pin would be simpler, but would need a thread per input, where this
//! needs one per chip on most boards.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use gpiocdev::line::{Bias, EdgeDetection, EdgeEvent, EdgeKind, Value};
use gpiocdev::{Chip, Request};
use pinsocket_core::{Level, Mode, Pin, Pull};

use super::backend::{Backend, BackendError, EventSink};

/// The consumer label the kernel shows for our lines (`gpioinfo`).
const CONSUMER: &str = "pinsocket";

/// Most lines in one request (the uAPI's `GPIO_V2_LINES_MAX`).
const MAX_LINES: usize = 64;

/// How long an edge watcher waits for an event before it checks whether
/// the backend was dropped; also its pause after a failed read.
const POLL: Duration = Duration::from_millis(100);

/// An edge watcher gives up after this many failed reads in a row. A single
/// failure (a signal such as Ctrl-C interrupting the wait) is retried.
const MAX_FAILURES: u32 = 10;

/// Drives pins on Linux GPIO character devices.
///
/// Dropping it stops the edge watchers (waiting for them, at most about
/// 100 ms) and releases every line.
#[derive(Debug)]
pub struct GpioCdev {
    /// Per pin, in the board's order.
    lines: Vec<Line>,
    /// Each watcher holds its own reference to its request: a line is
    /// released once `lines` and its watcher are both gone.
    watchers: Watchers,
}

/// A pin's requested line.
#[derive(Debug)]
struct Line {
    /// `output "led"`, for messages.
    who: String,
    chip: PathBuf,
    offset: u32,
    output: bool,
    request: Arc<Request>,
}

impl GpioCdev {
    /// Requests every pin's line (`pins[i]` on chip `chips[i]`): outputs
    /// driven to their initial level (physical, so `pin.physical(initial)`),
    /// inputs with their bias (pull), debounce period and both-edge
    /// detection. Edges on inputs are reported as
    /// `sink.input_changed(pin_index, physical_level)` by one thread per
    /// input request.
    ///
    /// A chip that is missing or not a GPIO chip, a line the chip lacks, or
    /// a line some other program or driver holds is an error naming the pin
    /// and the chip.
    pub fn open(
        pins: &[Pin<String>],
        chips: &[PathBuf],
        sink: EventSink,
    ) -> Result<GpioCdev, BackendError> {
        if pins.is_empty() {
            // Never guess which lines of real hardware to drive.
            return Err(BackendError::new(
                "gpio-cdev: no pins configured; add an [[output]] or [[input]] for each line",
            ));
        }
        let groups = group(pins, chips)?;
        // Built as requests succeed: an early return drops the watchers
        // started so far (stopping them) and the requests made so far.
        let mut watchers = Watchers::default();
        let mut requested: Vec<Option<Arc<Request>>> = vec![None; pins.len()];
        let mut open_chips: Vec<(PathBuf, Chip, u32)> = Vec::new();
        for g in &groups {
            let members: Vec<(&Pin<String>, u32)> = g
                .lines
                .iter()
                .filter_map(|l| pins.get(l.pin).map(|p| (p, l.offset)))
                .collect();
            let Some(&(first, _)) = members.first() else {
                continue;
            };
            // Groups come in the order of their first pin, so the pin named
            // when a chip cannot be opened is the first one using it.
            if !open_chips.iter().any(|(path, _, _)| *path == g.chip) {
                let chip = Chip::from_path(&g.chip)
                    .map_err(|e| BackendError::new(chip_error(&who(first), &g.chip, &e)))?;
                let num_lines = chip
                    .info()
                    .map_err(|e| {
                        BackendError::new(format!(
                            "{}: cannot read {}: {}",
                            who(first),
                            g.chip.display(),
                            error_text(&e)
                        ))
                    })?
                    .num_lines;
                open_chips.push((g.chip.clone(), chip, num_lines));
            }
            let Some((_, chip, num_lines)) = open_chips.iter().find(|(path, _, _)| *path == g.chip)
            else {
                continue;
            };
            for &(pin, offset) in &members {
                if offset >= *num_lines {
                    return Err(BackendError::new(format!(
                        "{}: line {offset} of {} does not exist (it has {num_lines} lines)",
                        who(pin),
                        g.chip.display()
                    )));
                }
                check_free(chip, &g.chip, pin, offset)?;
            }
            let request = match build_request(g, pins) {
                Ok(request) => Arc::new(request),
                Err(e) => {
                    // Taken since the check above, or refused for another
                    // reason (a bias or debounce the chip cannot do).
                    for &(pin, offset) in &members {
                        check_free(chip, &g.chip, pin, offset)?;
                    }
                    return Err(BackendError::new(format!(
                        "{}: cannot request {} of {}: {}",
                        describe(pins, g),
                        lines_text(g),
                        g.chip.display(),
                        error_text(&e)
                    )));
                }
            };
            for &(pin, offset) in &members {
                if let Mode::Output(_) = pin.mode {
                    tracing::info!(
                        "gpio-cdev: {} (line {offset} of {}) starts {}",
                        who(pin),
                        g.chip.display(),
                        pin.physical(pin.initial()).as_str()
                    );
                }
            }
            for l in &g.lines {
                if let Some(slot) = requested.get_mut(l.pin) {
                    *slot = Some(request.clone());
                }
            }
            if let Settings::Input { .. } = g.settings {
                let what = format!("{} on {}", describe(pins, g), g.chip.display());
                let edges = g.lines.iter().map(|l| (l.offset, l.pin)).collect();
                let sink = sink.clone();
                watchers
                    .spawn(request, edges, POLL, what.clone(), move |pin, level| {
                        sink.input_changed(pin, level);
                    })
                    .map_err(|e| {
                        BackendError::new(format!("{what}: cannot start the edge watcher: {e}"))
                    })?;
            }
        }
        let mut lines = Vec::with_capacity(pins.len());
        for ((pin, chip), request) in pins.iter().zip(chips).zip(requested) {
            let request = request.ok_or_else(|| {
                BackendError::new(format!("{}: line {} not requested", who(pin), pin.line))
            })?;
            lines.push(Line {
                who: who(pin),
                chip: chip.clone(),
                offset: pin.line,
                output: pin.is_output(),
                request,
            });
        }
        Ok(GpioCdev { lines, watchers })
    }

    fn line(&self, pin: usize) -> Result<&Line, BackendError> {
        self.lines
            .get(pin)
            .ok_or_else(|| BackendError::new(format!("gpio-cdev: no pin {pin}")))
    }
}

impl Backend for GpioCdev {
    fn set_output(&mut self, pin: usize, level: Level) -> Result<(), BackendError> {
        let line = self.line(pin)?;
        if !line.output {
            return Err(BackendError::new(format!("{}: not an output", line.who)));
        }
        line.request
            .set_value(line.offset, value(level))
            .map_err(|e| {
                BackendError::new(format!(
                    "{}: cannot set line {} of {}: {}",
                    line.who,
                    line.offset,
                    line.chip.display(),
                    error_text(&e)
                ))
            })
    }

    /// Reads any pin's line; for an output, what the chip reports back
    /// (usually the driven level, depending on the driver).
    fn read_input(&mut self, pin: usize) -> Result<Level, BackendError> {
        let line = self.line(pin)?;
        line.request.value(line.offset).map(level).map_err(|e| {
            BackendError::new(format!(
                "{}: cannot read line {} of {}: {}",
                line.who,
                line.offset,
                line.chip.display(),
                error_text(&e)
            ))
        })
    }
}

impl Drop for GpioCdev {
    fn drop(&mut self) {
        // Stop the watchers before the lines go, so that every line is
        // released when the drop returns.
        self.watchers.stop();
        self.lines.clear();
    }
}

/// How the lines of a request are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settings {
    /// Outputs, each driven to its own initial level.
    Output,
    /// Inputs with this bias and debounce period, watched for both edges.
    Input { pull: Pull, debounce_ms: u32 },
}

/// Lines requested together: one chip, one [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    chip: PathBuf,
    settings: Settings,
    lines: Vec<GroupLine>,
}

/// One line of a [`Group`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GroupLine {
    /// Index into the board's pins.
    pin: usize,
    /// Offset on the chip.
    offset: u32,
}

/// The settings a pin's line is requested with.
fn settings<S>(pin: &Pin<S>) -> Settings {
    match pin.mode {
        Mode::Output(_) => Settings::Output,
        Mode::Input(i) => Settings::Input {
            pull: i.pull,
            debounce_ms: i.debounce_ms,
        },
    }
}

/// Groups pins (`pins[i]` on `chips[i]`) into requests: same chip and same
/// settings, at most [`MAX_LINES`] lines, in the order of each group's first
/// pin, pins in board order. A pin without a chip, or two pins on one line
/// of one chip, is an error naming them.
fn group<S: AsRef<str>>(pins: &[Pin<S>], chips: &[PathBuf]) -> Result<Vec<Group>, BackendError> {
    let mut groups: Vec<Group> = Vec::new();
    for (i, pin) in pins.iter().enumerate() {
        let chip = chips
            .get(i)
            .ok_or_else(|| BackendError::new(format!("{}: no chip given", who(pin))))?;
        let earlier = pins
            .iter()
            .zip(chips)
            .take(i)
            .find(|(other, other_chip)| other.line == pin.line && *other_chip == chip);
        if let Some((other, _)) = earlier {
            return Err(BackendError::new(format!(
                "{}: line {} of {} is also used by {}",
                who(pin),
                pin.line,
                chip.display(),
                who(other)
            )));
        }
        let settings = settings(pin);
        let line = GroupLine {
            pin: i,
            offset: pin.line,
        };
        let open = groups
            .iter_mut()
            .find(|g| g.chip == *chip && g.settings == settings && g.lines.len() < MAX_LINES);
        match open {
            Some(g) => g.lines.push(line),
            None => groups.push(Group {
                chip: chip.clone(),
                settings,
                lines: vec![line],
            }),
        }
    }
    Ok(groups)
}

/// The request for a group, not yet made.
fn build_request<S: AsRef<str>>(g: &Group, pins: &[Pin<S>]) -> gpiocdev::Result<Request> {
    let mut builder = Request::builder();
    // Set before any line is added, so in the base config every line
    // inherits: active-high whatever the pin says, as the device applies
    // active-low itself.
    builder
        .on_chip(&g.chip)
        .with_consumer(CONSUMER)
        .as_active_high();
    match g.settings {
        Settings::Output => {
            for l in &g.lines {
                let initial = pins.get(l.pin).map_or(Value::Inactive, initial_value);
                builder.with_line(l.offset).as_output(initial);
            }
        }
        Settings::Input { pull, debounce_ms } => {
            let offsets: Vec<u32> = g.lines.iter().map(|l| l.offset).collect();
            builder
                .with_lines(&offsets)
                .as_input()
                .with_bias(bias(pull))
                .with_edge_detection(EdgeDetection::BothEdges);
            if let Some(period) = debounce(debounce_ms) {
                builder.with_debounce_period(period);
            }
        }
    }
    builder.request()
}

/// The physical value an output starts at.
fn initial_value<S: AsRef<str>>(pin: &Pin<S>) -> Value {
    value(pin.physical(pin.initial()))
}

/// The line value for a physical level (lines are requested active-high,
/// so active is high).
fn value(level: Level) -> Value {
    match level {
        Level::High => Value::Active,
        Level::Low => Value::Inactive,
    }
}

/// The physical level of a line value.
fn level(value: Value) -> Level {
    match value {
        Value::Active => Level::High,
        Value::Inactive => Level::Low,
    }
}

/// The bias for a pull. No pull disables the bias, as the configuration
/// promises a floating line (chips that cannot bias ignore it).
fn bias(pull: Pull) -> Bias {
    match pull {
        Pull::None => Bias::Disabled,
        Pull::Up => Bias::PullUp,
        Pull::Down => Bias::PullDown,
    }
}

/// The debounce period for `debounce_ms`; none for 0.
fn debounce(ms: u32) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(u64::from(ms)))
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

/// `output "led"` or `input "button"`.
fn who<S: AsRef<str>>(pin: &Pin<S>) -> String {
    let kind = if pin.is_output() { "output" } else { "input" };
    format!("{kind} \"{}\"", pin.name())
}

/// The pins of a group: `input "a"`, or `inputs "a", "b"`.
fn describe<S: AsRef<str>>(pins: &[Pin<S>], g: &Group) -> String {
    let kind = match g.settings {
        Settings::Output => "output",
        Settings::Input { .. } => "input",
    };
    let names: Vec<String> = g
        .lines
        .iter()
        .filter_map(|l| pins.get(l.pin))
        .map(|p| format!("\"{}\"", p.name()))
        .collect();
    let plural = if names.len() == 1 { "" } else { "s" };
    format!("{kind}{plural} {}", names.join(", "))
}

/// The lines of a group: `line 3`, or `lines 3, 5`.
fn lines_text(g: &Group) -> String {
    let offsets: Vec<String> = g.lines.iter().map(|l| l.offset.to_string()).collect();
    let plural = if offsets.len() == 1 { "" } else { "s" };
    format!("line{plural} {}", offsets.join(", "))
}

/// Why a chip could not be opened, after `who: `.
fn chip_error(who: &str, chip: &Path, e: &gpiocdev::Error) -> String {
    match e {
        gpiocdev::Error::GpioChip(..) => format!("{who}: {} is not a GPIO chip", chip.display()),
        e => format!("{who}: cannot open {}: {}", chip.display(), error_text(e)),
    }
}

/// A line held by someone else.
fn busy_error(who: &str, offset: u32, chip: &Path, consumer: &str) -> String {
    let by = if consumer.is_empty() {
        String::new()
    } else {
        format!(" (used by \"{consumer}\")")
    };
    format!("{who}: line {offset} of {} is busy{by}", chip.display())
}

/// An error if `pin`'s line is already held, by another program or a
/// kernel driver.
fn check_free<S: AsRef<str>>(
    chip: &Chip,
    path: &Path,
    pin: &Pin<S>,
    offset: u32,
) -> Result<(), BackendError> {
    let info = chip.line_info(offset).map_err(|e| {
        BackendError::new(format!(
            "{}: cannot read line {offset} of {}: {}",
            who(pin),
            path.display(),
            error_text(&e)
        ))
    })?;
    if info.used {
        return Err(BackendError::new(busy_error(
            &who(pin),
            offset,
            path,
            &info.consumer,
        )));
    }
    Ok(())
}

/// An error's text without the uAPI call's name nor ` (os error N)`:
/// `No such file or directory`.
fn error_text(e: &gpiocdev::Error) -> String {
    let text = match e {
        gpiocdev::Error::Uapi(_, inner) => inner.to_string(),
        e => e.to_string(),
    };
    strip_os_error(&text).to_owned()
}

/// `text` without a trailing ` (os error N)`.
fn strip_os_error(text: &str) -> &str {
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text.get(..at).unwrap_or(text),
        _ => text,
    }
}

/// Where edge events come from: a [`Request`], or a fake in tests.
trait EdgeSource: Send + Sync + 'static {
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
/// Each thread waits for events with a timeout ([`POLL`]) and checks a stop
/// flag in between, so it ends within one timeout of [`Watchers::stop`].
#[derive(Debug, Default)]
struct Watchers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Watchers {
    /// Starts a thread that reads `source`'s edges and reports each as
    /// `report(pin, level)`; `lines` maps offsets to pins, `what` names them
    /// in the log.
    fn spawn<E: EdgeSource>(
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
    fn stop(&mut self) {
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

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::sync::Weak;
    use std::sync::mpsc;
    use std::time::Instant;

    use pinsocket_core::{Input, Output};

    use super::*;

    fn output(name: &str, line: u32, active_low: bool, initial: Level) -> Pin<String> {
        Pin {
            name: name.to_owned(),
            line,
            mode: Mode::Output(Output {
                active_low,
                initial,
                ..Output::default()
            }),
        }
    }

    fn input(name: &str, line: u32, pull: Pull, debounce_ms: u32) -> Pin<String> {
        Pin {
            name: name.to_owned(),
            line,
            mode: Mode::Input(Input {
                active_low: false,
                pull,
                debounce_ms,
            }),
        }
    }

    fn sink() -> EventSink {
        EventSink { hub: Weak::new() }
    }

    fn open_error(pins: &[Pin<String>], chips: &[&str]) -> String {
        let chips: Vec<PathBuf> = chips.iter().map(PathBuf::from).collect();
        GpioCdev::open(pins, &chips, sink())
            .unwrap_err()
            .to_string()
    }

    const MISSING: &str = "/dev/pinsocket-test-no-such-gpiochip";

    /// With no pins, the backend drives nothing rather than guess a line.
    #[test]
    fn no_pins_is_refused() {
        assert_eq!(
            open_error(&[], &[]),
            "gpio-cdev: no pins configured; add an [[output]] or [[input]] for each line"
        );
    }

    #[test]
    fn missing_chip_names_pin_and_path() {
        assert_eq!(
            open_error(&[output("led", 12, false, Level::Low)], &[MISSING]),
            format!("output \"led\": cannot open {MISSING}: No such file or directory")
        );
        // The pin named is the first on the chip that fails.
        assert_eq!(
            open_error(
                &[
                    input("button", 5, Pull::Up, 0),
                    output("led", 12, false, Level::Low)
                ],
                &[MISSING, MISSING]
            ),
            format!("input \"button\": cannot open {MISSING}: No such file or directory")
        );
    }

    #[test]
    fn path_that_is_not_a_gpio_chip_names_pin() {
        assert_eq!(
            open_error(&[input("button", 5, Pull::None, 0)], &["/dev/null"]),
            "input \"button\": /dev/null is not a GPIO chip"
        );
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        assert_eq!(
            open_error(&[output("led", 12, false, Level::Low)], &[file]),
            format!("output \"led\": {file} is not a GPIO chip")
        );
        assert_eq!(
            open_error(&[output("led", 12, false, Level::Low)], &["/"]),
            "output \"led\": / is not a GPIO chip"
        );
    }

    #[test]
    fn pins_without_chip_or_sharing_a_line_are_refused() {
        assert_eq!(
            open_error(
                &[
                    output("led", 12, false, Level::Low),
                    input("button", 5, Pull::None, 0)
                ],
                &["/dev/gpiochip0"]
            ),
            "input \"button\": no chip given"
        );
        assert_eq!(
            open_error(
                &[
                    output("led", 12, false, Level::Low),
                    input("button", 12, Pull::None, 0)
                ],
                &[MISSING, MISSING]
            ),
            format!("input \"button\": line 12 of {MISSING} is also used by output \"led\"")
        );
    }

    #[test]
    fn groups_by_chip_and_settings_in_board_order() {
        let pins = [
            output("a", 1, false, Level::Low),
            input("b", 2, Pull::Up, 0),
            output("c", 3, true, Level::High),
            input("d", 4, Pull::Up, 0),
            input("e", 5, Pull::Up, 10),
            output("f", 1, false, Level::Low),
            input("g", 6, Pull::Down, 0),
        ];
        let chip0 = PathBuf::from("/dev/gpiochip0");
        let chip1 = PathBuf::from("/dev/gpiochip1");
        let chips = [
            chip0.clone(),
            chip0.clone(),
            chip0.clone(),
            chip0.clone(),
            chip0.clone(),
            chip1.clone(),
            chip0.clone(),
        ];
        let line = |pin, offset| GroupLine { pin, offset };
        let up = |debounce_ms| Settings::Input {
            pull: Pull::Up,
            debounce_ms,
        };
        assert_eq!(
            group(&pins, &chips).unwrap(),
            [
                Group {
                    chip: chip0.clone(),
                    settings: Settings::Output,
                    lines: vec![line(0, 1), line(2, 3)],
                },
                Group {
                    chip: chip0.clone(),
                    settings: up(0),
                    lines: vec![line(1, 2), line(3, 4)],
                },
                Group {
                    chip: chip0.clone(),
                    settings: up(10),
                    lines: vec![line(4, 5)],
                },
                Group {
                    chip: chip1,
                    settings: Settings::Output,
                    lines: vec![line(5, 1)],
                },
                Group {
                    chip: chip0,
                    settings: Settings::Input {
                        pull: Pull::Down,
                        debounce_ms: 0
                    },
                    lines: vec![line(6, 6)],
                },
            ]
        );
    }

    #[test]
    fn groups_split_at_the_request_limit() {
        let pins: Vec<Pin<String>> = (0..70)
            .map(|i| output(&format!("p{i}"), i, false, Level::Low))
            .collect();
        let chips = vec![PathBuf::from("/dev/gpiochip0"); pins.len()];
        let groups = group(&pins, &chips).unwrap();
        let sizes: Vec<usize> = groups.iter().map(|g| g.lines.len()).collect();
        assert_eq!(sizes, [64, 6]);
        assert_eq!(
            groups[1].lines[0],
            GroupLine {
                pin: 64,
                offset: 64
            }
        );
    }

    #[test]
    fn initial_value_is_physical() {
        assert_eq!(
            initial_value(&output("a", 1, false, Level::Low)),
            Value::Inactive
        );
        assert_eq!(
            initial_value(&output("a", 1, false, Level::High)),
            Value::Active
        );
        assert_eq!(
            initial_value(&output("a", 1, true, Level::Low)),
            Value::Active
        );
        assert_eq!(
            initial_value(&output("a", 1, true, Level::High)),
            Value::Inactive
        );
    }

    #[test]
    fn levels_and_values_map_both_ways() {
        assert_eq!(value(Level::High), Value::Active);
        assert_eq!(value(Level::Low), Value::Inactive);
        assert_eq!(level(Value::Active), Level::High);
        assert_eq!(level(Value::Inactive), Level::Low);
    }

    #[test]
    fn pull_maps_to_bias_and_debounce_to_duration() {
        assert_eq!(bias(Pull::None), Bias::Disabled);
        assert_eq!(bias(Pull::Up), Bias::PullUp);
        assert_eq!(bias(Pull::Down), Bias::PullDown);
        assert_eq!(debounce(0), None);
        assert_eq!(debounce(1), Some(Duration::from_millis(1)));
        assert_eq!(debounce(25), Some(Duration::from_millis(25)));
        assert_eq!(
            debounce(u32::MAX),
            Some(Duration::from_millis(4_294_967_295))
        );
    }

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

    #[test]
    fn messages_name_pins_lines_and_chips() {
        let chip = Path::new("/dev/gpiochip0");
        assert_eq!(
            busy_error("output \"led\"", 12, chip, "foo"),
            "output \"led\": line 12 of /dev/gpiochip0 is busy (used by \"foo\")"
        );
        assert_eq!(
            busy_error("output \"led\"", 12, chip, ""),
            "output \"led\": line 12 of /dev/gpiochip0 is busy"
        );
        let pins = [input("a", 3, Pull::Up, 0), input("b", 5, Pull::Up, 0)];
        let chips = vec![chip.to_owned(); 2];
        let groups = group(&pins, &chips).unwrap();
        assert_eq!(describe(&pins, &groups[0]), "inputs \"a\", \"b\"");
        assert_eq!(lines_text(&groups[0]), "lines 3, 5");
        let groups = group(&pins[..1], &chips[..1]).unwrap();
        assert_eq!(describe(&pins, &groups[0]), "input \"a\"");
        assert_eq!(lines_text(&groups[0]), "line 3");
        let e = gpiocdev::Error::from(std::io::Error::from_raw_os_error(16));
        assert_eq!(error_text(&e), "Device or resource busy");
        assert_eq!(
            chip_error("output \"led\"", chip, &e),
            "output \"led\": cannot open /dev/gpiochip0: Device or resource busy"
        );
        assert_eq!(strip_os_error("odd (os error"), "odd (os error");
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
            if self.queue.lock().unwrap().is_empty() {
                thread::sleep(timeout);
                Ok(false)
            } else {
                Ok(true)
            }
        }

        fn read(&self) -> gpiocdev::Result<EdgeEvent> {
            self.queue
                .lock()
                .unwrap()
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
        let start = Instant::now();
        drop(watchers);
        assert!(start.elapsed() < Duration::from_secs(1));
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
        assert_eq!(fake.queue.lock().unwrap().len(), 1);
        drop(watchers);
        assert_eq!(Arc::strong_count(&fake), 1);
    }
}
