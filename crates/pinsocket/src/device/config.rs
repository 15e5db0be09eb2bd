//! The device server's configuration file (TOML): backend, pins, limits,
//! heartbeat. Every error names the file, the line and the field.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pinsocket_core::{Input, Level, Mode, Output, Pin, Pull};
use serde::Deserialize;
use toml::Spanned;

use super::hub::Board;

/// Which hardware drives the pins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// A simulated board (the default): levels in the log and on the page.
    #[default]
    Sim,
    /// Linux GPIO character devices, `/dev/gpiochipN`.
    GpioCdev {
        /// The chip used by pins that name none.
        chip: PathBuf,
    },
}

/// Server limits a configuration may change. Unset fields keep the
/// server's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Largest WebSocket message, bytes.
    pub max_message: Option<usize>,
    /// Per-client send queue, bytes.
    pub max_send_queue: Option<usize>,
    /// A client that takes no bytes for this long is dropped.
    pub send_timeout: Option<Duration>,
    /// Silent connections are pinged after this long.
    pub ping_interval: Option<Duration>,
    /// And dropped if the ping goes unanswered this long.
    pub ping_timeout: Option<Duration>,
}

/// A parsed configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen, if the file says.
    pub listen: Option<SocketAddr>,
    /// A folder of pages to serve instead of the built-in ones.
    pub www: Option<PathBuf>,
    /// The hardware.
    pub backend: BackendKind,
    /// Chip of each pin (index as in `board.pins`), for `gpio-cdev`.
    pub chips: Vec<PathBuf>,
    /// The pins and the heartbeat.
    pub board: Board,
    /// Server limits.
    pub limits: Limits,
}

/// A configuration that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has a field of the wrong shape.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending field.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the field.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Spanned<String>>,
    www: Option<PathBuf>,
    backend: Option<Spanned<String>>,
    chip: Option<PathBuf>,
    failsafe_ping: Option<Spanned<Seconds>>,
    failsafe_timeout: Option<Spanned<Seconds>>,
    /// Replaced by `failsafe_timeout`; named here to say so.
    heartbeat_timeout: Option<Spanned<serde::de::IgnoredAny>>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default, rename = "output")]
    outputs: Vec<RawOutput>,
    #[serde(default, rename = "input")]
    inputs: Vec<RawInput>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_message: Option<Spanned<usize>>,
    max_send_queue: Option<Spanned<usize>>,
    send_timeout: Option<Spanned<Seconds>>,
    ping_interval: Option<Spanned<Seconds>>,
    ping_timeout: Option<Spanned<Seconds>>,
}

/// A duration in seconds, written as a number (`3`, `0.25`).
#[derive(Clone, Copy)]
struct Seconds(f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Seconds, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Seconds;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(SECONDS)
            }
            fn visit_f64<E>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// What a duration field expects, in the words of its error message.
const SECONDS: &str = "a number of seconds, e.g. 3";

/// The smallest `[limits] max_message`: every command the protocol allows
/// (a JSON command is at most 1024 bytes) must fit in one message.
pub const MIN_MAX_MESSAGE: usize = pinsocket_core::command::MAX_JSON_LEN;

/// The smallest `[limits] max_send_queue`: room for a few state messages
/// of a full board.
pub const MIN_SEND_QUEUE: usize = 16 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    name: Spanned<String>,
    line: u32,
    chip: Option<PathBuf>,
    #[serde(default)]
    active_low: bool,
    #[serde(default)]
    initial: RawLevel,
    #[serde(default)]
    safe: RawLevel,
    #[serde(default)]
    failsafe: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    name: Spanned<String>,
    line: u32,
    chip: Option<PathBuf>,
    #[serde(default)]
    active_low: bool,
    #[serde(default)]
    pull: RawPull,
    #[serde(default)]
    debounce_ms: u32,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawLevel {
    #[default]
    Low,
    High,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawPull {
    #[default]
    None,
    Up,
    Down,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses configuration text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |span: Option<Range<usize>>, message: String| {
            let (line, column) = line_column(text, span.map_or(0, |s| s.start));
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                message,
            }
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim();
            let message = e
                .span()
                .and_then(|span| friendly_type_error(text, span.start, message))
                .unwrap_or_else(|| message.to_owned());
            invalid(e.span(), message)
        })?;
        if let Some(old) = &raw.heartbeat_timeout {
            return Err(invalid(
                Some(old.span()),
                "heartbeat_timeout: replaced by failsafe_timeout, the time a client that \
                 switched a failsafe output on may go without answering the server's pings \
                 (default 1 s); see docs/PROTOCOL.md"
                    .to_owned(),
            ));
        }

        let listen = match &raw.listen {
            Some(s) => Some(s.get_ref().parse().map_err(|_| {
                invalid(
                    Some(s.span()),
                    format!(
                        "listen: `{}` is not an address like 0.0.0.0:8080",
                        s.get_ref()
                    ),
                )
            })?),
            None => None,
        };
        let default_chip = raw
            .chip
            .clone()
            .unwrap_or_else(|| PathBuf::from("/dev/gpiochip0"));
        let backend = match raw
            .backend
            .as_ref()
            .map(|s| (s.get_ref().as_str(), s.span()))
        {
            None | Some(("sim", _)) => BackendKind::Sim,
            Some(("gpio-cdev", _)) => BackendKind::GpioCdev {
                chip: default_chip.clone(),
            },
            Some((other, span)) => {
                return Err(invalid(
                    Some(span),
                    format!("backend: `{other}` is not one of `sim`, `gpio-cdev`"),
                ));
            }
        };
        let seconds = |field: &str,
                       value: &Option<Spanned<Seconds>>|
         -> Result<Option<Duration>, ConfigError> {
            match value {
                None => Ok(None),
                Some(v) => Duration::try_from_secs_f64(v.get_ref().0)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .map(Some)
                    .ok_or_else(|| {
                        invalid(
                            Some(v.span()),
                            format!("{field}: must be a positive number of seconds"),
                        )
                    }),
            }
        };
        let at_least = |field: &str,
                        value: &Option<Spanned<usize>>,
                        min: usize,
                        why: &str|
         -> Result<Option<usize>, ConfigError> {
            match value {
                Some(v) if *v.get_ref() < min => Err(invalid(
                    Some(v.span()),
                    format!(
                        "{field}: {} is too small: at least {min} bytes, {why}",
                        v.get_ref()
                    ),
                )),
                other => Ok(other.as_ref().map(|v| *v.get_ref())),
            }
        };

        let mut pins = Vec::new();
        let mut chips = Vec::new();
        let mut names: Vec<(String, Range<usize>)> = Vec::new();
        let mut check_name = |name: &Spanned<String>, kind: &str| -> Result<(), ConfigError> {
            let n = name.get_ref();
            let valid = !n.is_empty()
                && n.len() <= 32
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(invalid(
                    Some(name.span()),
                    format!("{kind}.name: `{n}` must be 1-32 letters, digits, `_` or `-`"),
                ));
            }
            if names.iter().any(|(other, _)| other == n) {
                return Err(invalid(
                    Some(name.span()),
                    format!("{kind}.name: `{n}` is used by another pin"),
                ));
            }
            names.push((n.clone(), name.span()));
            Ok(())
        };
        for o in &raw.outputs {
            check_name(&o.name, "output")?;
            pins.push(Pin {
                name: o.name.get_ref().clone(),
                line: o.line,
                mode: Mode::Output(Output {
                    active_low: o.active_low,
                    initial: o.initial.into(),
                    safe: o.safe.into(),
                    failsafe: o.failsafe,
                }),
            });
            chips.push(o.chip.clone().unwrap_or_else(|| default_chip.clone()));
        }
        for i in &raw.inputs {
            check_name(&i.name, "input")?;
            pins.push(Pin {
                name: i.name.get_ref().clone(),
                line: i.line,
                mode: Mode::Input(Input {
                    active_low: i.active_low,
                    pull: match i.pull {
                        RawPull::None => Pull::None,
                        RawPull::Up => Pull::Up,
                        RawPull::Down => Pull::Down,
                    },
                    debounce_ms: i.debounce_ms,
                }),
            });
            chips.push(i.chip.clone().unwrap_or_else(|| default_chip.clone()));
        }
        for (a, pin) in pins.iter().enumerate() {
            let clash = pins
                .iter()
                .enumerate()
                .take(a)
                .find(|(b, other)| other.line == pin.line && chips.get(*b) == chips.get(a));
            if let Some((_, other)) = clash {
                let span = names.get(a).map(|(_, s)| s.clone());
                return Err(invalid(
                    span,
                    format!(
                        "line: {} uses line {}, as `{}` does",
                        pin.name, pin.line, other.name
                    ),
                ));
            }
        }
        if pins.is_empty() {
            if let BackendKind::GpioCdev { .. } = backend {
                let span = raw.backend.as_ref().map(Spanned::span);
                return Err(invalid(
                    span,
                    "backend: `gpio-cdev` needs the pins it may drive: add an [[output]] \
                     (and [[input]]) section for each; see docs/raspberry-pi.toml. Only the \
                     simulated board has a built-in LED"
                        .to_owned(),
                ));
            }
            pins = Board::led().pins;
            chips = vec![default_chip];
        }
        let defaults = Board::led();
        let failsafe_ping =
            seconds("failsafe_ping", &raw.failsafe_ping)?.unwrap_or(defaults.failsafe_ping);
        let failsafe_timeout = seconds("failsafe_timeout", &raw.failsafe_timeout)?
            .unwrap_or(defaults.failsafe_timeout);
        if failsafe_timeout <= failsafe_ping {
            let span = raw
                .failsafe_timeout
                .as_ref()
                .or(raw.failsafe_ping.as_ref())
                .map(Spanned::span);
            return Err(invalid(
                span,
                format!(
                    "failsafe_timeout ({} s) must be longer than failsafe_ping ({} s): a \
                     client needs a ping, and time to answer it, before it counts as gone",
                    failsafe_timeout.as_secs_f64(),
                    failsafe_ping.as_secs_f64()
                ),
            ));
        }
        Ok(Config {
            listen,
            www: raw.www,
            backend,
            chips,
            board: Board {
                pins,
                failsafe_ping,
                failsafe_timeout,
            },
            limits: Limits {
                max_message: at_least(
                    "limits.max_message",
                    &raw.limits.max_message,
                    MIN_MAX_MESSAGE,
                    "so that every command the control page may send fits",
                )?,
                max_send_queue: at_least(
                    "limits.max_send_queue",
                    &raw.limits.max_send_queue,
                    MIN_SEND_QUEUE,
                    "so that a client can be sent a few states of a full board",
                )?,
                send_timeout: seconds("limits.send_timeout", &raw.limits.send_timeout)?,
                ping_interval: seconds("limits.ping_interval", &raw.limits.ping_interval)?,
                ping_timeout: seconds("limits.ping_timeout", &raw.limits.ping_timeout)?,
            },
        })
    }
}

impl From<RawLevel> for Level {
    fn from(l: RawLevel) -> Level {
        match l {
            RawLevel::Low => Level::Low,
            RawLevel::High => Level::High,
        }
    }
}

/// Rewrites serde's `invalid type: string "3", expected u32` for the field
/// at `offset` in words a user reads at once: `line must be a line number,
/// e.g. 12 (found the string "3")`. `None` for other messages.
fn friendly_type_error(text: &str, offset: usize, message: &str) -> Option<String> {
    let rest = message.strip_prefix("invalid type: ")?;
    let (found, expected) = rest.rsplit_once(", expected ")?;
    let key = key_at(text, offset)?;
    let field = key.rsplit('.').next().unwrap_or(&key);
    let wants = match (field, expected) {
        (_, SECONDS) => SECONDS,
        ("line", _) => "a line number, e.g. 12",
        ("max_message" | "max_send_queue", _) => "a number of bytes, e.g. 4096",
        ("debounce_ms", _) => "a number of milliseconds, e.g. 20",
        ("active_low" | "failsafe", _) => "true or false",
        ("initial" | "safe", _) => "\"low\" or \"high\"",
        ("pull", _) => "\"none\", \"up\" or \"down\"",
        (_, "a boolean") => "true or false",
        (_, "a string") => "text in quotes",
        (_, other) => other,
    };
    Some(format!("{key} must be {wants} (found {found})"))
}

/// The dotted name of the key whose value starts at `offset`: the word
/// before `=` on that line, under the nearest `[table]` or `[[array]]`
/// header above it.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.get(line_start..)?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() {
        return None;
    }
    let table = before
        .get(..line_start)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_owned(),
    })
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("pins.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn full_config() {
        let c = parse(
            r#"
listen = "0.0.0.0:8080"
backend = "gpio-cdev"
chip = "/dev/gpiochip0"
failsafe_ping = 0.1
failsafe_timeout = 2.5

[limits]
max_message = 4096
send_timeout = 10

[[output]]
name = "led"
line = 12
failsafe = true

[[input]]
name = "button"
line = 17
pull = "up"
active_low = true
debounce_ms = 20
"#,
        )
        .unwrap();
        assert_eq!(c.listen, Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(
            c.backend,
            BackendKind::GpioCdev {
                chip: "/dev/gpiochip0".into()
            }
        );
        assert_eq!(c.board.failsafe_ping, Duration::from_millis(100));
        assert_eq!(c.board.failsafe_timeout, Duration::from_millis(2500));
        assert_eq!(c.limits.max_message, Some(4096));
        assert_eq!(c.limits.send_timeout, Some(Duration::from_secs(10)));
        assert_eq!(c.board.pins.len(), 2);
        assert_eq!(c.board.pins[1].name, "button");
        assert!(matches!(
            c.board.pins[1].mode,
            Mode::Input(Input {
                pull: Pull::Up,
                active_low: true,
                debounce_ms: 20
            })
        ));
        assert_eq!(
            c.chips,
            [
                PathBuf::from("/dev/gpiochip0"),
                PathBuf::from("/dev/gpiochip0")
            ]
        );
    }

    #[test]
    fn the_documented_raspberry_pi_example_parses() {
        let c = parse(include_str!("../../../../docs/raspberry-pi.toml")).unwrap();
        assert_eq!(
            c.backend,
            BackendKind::GpioCdev {
                chip: "/dev/gpiochip0".into()
            }
        );
        assert_eq!(c.board.failsafe_ping, Duration::from_millis(250));
        assert_eq!(c.board.failsafe_timeout, Duration::from_secs(1));
        let names: Vec<&str> = c.board.pins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["led", "button"]);
        assert_eq!((c.board.pins[0].line, c.board.pins[1].line), (12, 17));
    }

    #[test]
    fn wrong_types_are_explained_in_words() {
        assert_eq!(
            error("failsafe_timeout = \"3\"\n"),
            "pins.toml:1:20: failsafe_timeout must be a number of seconds, e.g. 3 \
             (found string \"3\")"
        );
        assert_eq!(
            error("[limits]\nsend_timeout = true\n"),
            "pins.toml:2:16: limits.send_timeout must be a number of seconds, e.g. 3 \
             (found boolean `true`)"
        );
        assert_eq!(
            error("[limits]\nmax_message = \"4k\"\n"),
            "pins.toml:2:15: limits.max_message must be a number of bytes, e.g. 4096 \
             (found string \"4k\")"
        );
        assert_eq!(
            error("[[output]]\nname = \"led\"\nline = 12\nfailsafe = \"yes\"\n"),
            "pins.toml:4:12: output.failsafe must be true or false (found string \"yes\")"
        );
    }

    #[test]
    fn heartbeat_timeout_says_what_replaced_it() {
        assert!(
            error("heartbeat_timeout = 3\n")
                .starts_with("pins.toml:1:21: heartbeat_timeout: replaced by failsafe_timeout"),
            "{}",
            error("heartbeat_timeout = 3\n")
        );
    }

    #[test]
    fn failsafe_timeout_must_outlast_the_ping() {
        assert_eq!(
            error("failsafe_ping = 0.5\nfailsafe_timeout = 0.5\n"),
            "pins.toml:2:20: failsafe_timeout (0.5 s) must be longer than failsafe_ping \
             (0.5 s): a client needs a ping, and time to answer it, before it counts as gone"
        );
        let c = parse("failsafe_timeout = 0.2\nfailsafe_ping = 0.05\n").unwrap();
        assert_eq!(c.board.failsafe_timeout, Duration::from_millis(200));
        assert_eq!(c.board.failsafe_ping, Duration::from_millis(50));
    }

    #[test]
    fn limits_too_small_for_the_page_are_refused() {
        assert_eq!(
            error("[limits]\nmax_message = 100\n"),
            "pins.toml:2:15: limits.max_message: 100 is too small: at least 1024 bytes, \
             so that every command the control page may send fits"
        );
        assert_eq!(
            error("[limits]\nmax_send_queue = 1000\n"),
            "pins.toml:2:18: limits.max_send_queue: 1000 is too small: at least 16384 \
             bytes, so that a client can be sent a few states of a full board"
        );
        let c = parse("[limits]\nmax_message = 1024\n").unwrap();
        assert_eq!(c.limits.max_message, Some(1024));
    }

    #[test]
    fn gpio_cdev_without_pins_is_refused() {
        assert_eq!(
            error("backend = \"gpio-cdev\"\n"),
            "pins.toml:1:11: backend: `gpio-cdev` needs the pins it may drive: add an \
             [[output]] (and [[input]]) section for each; see docs/raspberry-pi.toml. Only \
             the simulated board has a built-in LED"
        );
    }

    #[test]
    fn the_documented_simulated_board_parses() {
        let c = parse(include_str!("../../../../docs/sim-board.toml")).unwrap();
        assert_eq!(c.backend, BackendKind::Sim);
        let names: Vec<&str> = c.board.pins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["led", "motor", "relay", "lamp", "button", "door"]);
    }

    #[test]
    fn empty_config_is_the_led_board() {
        let c = parse("").unwrap();
        assert_eq!(c.backend, BackendKind::Sim);
        assert_eq!(c.board.pins, Board::led().pins);
    }

    #[test]
    fn errors_name_file_line_and_field() {
        assert_eq!(
            error("backend = \"sim\"\n[[output]]\nname = \"led\"\nlin = 12\n"),
            "pins.toml:4:1: unknown field `lin`, expected one of `name`, `line`, `chip`, `active_low`, `initial`, `safe`, `failsafe`"
        );
        assert_eq!(
            error("[[output]]\nname = \"led\"\n"),
            "pins.toml:1:1: missing field `line`"
        );
        assert_eq!(
            error("backend = \"gpio\"\n"),
            "pins.toml:1:11: backend: `gpio` is not one of `sim`, `gpio-cdev`"
        );
        assert_eq!(
            error("[[output]]\nname = \"led\"\nline = 1\n[[output]]\nname = \"led\"\nline = 2\n"),
            "pins.toml:5:8: output.name: `led` is used by another pin"
        );
        assert_eq!(
            error("[[output]]\nname = \"a\"\nline = 3\n[[input]]\nname = \"b\"\nline = 3\n"),
            "pins.toml:5:8: line: b uses line 3, as `a` does"
        );
        assert_eq!(
            error("[[output]]\nname = \"a b\"\nline = 3\n"),
            "pins.toml:2:8: output.name: `a b` must be 1-32 letters, digits, `_` or `-`"
        );
        assert_eq!(
            error("failsafe_timeout = -1\n"),
            "pins.toml:1:20: failsafe_timeout: must be a positive number of seconds"
        );
        assert_eq!(
            error("[[output]]\nname = \"led\"\nline = \"twelve\"\n"),
            "pins.toml:3:8: output.line must be a line number, e.g. 12 (found string \"twelve\")"
        );
        assert!(error("listen = \"nowhere\"\n").starts_with("pins.toml:1:10: listen:"));
    }
}
