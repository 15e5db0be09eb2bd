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
    heartbeat_timeout: Option<Spanned<f64>>,
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
    max_message: Option<usize>,
    max_send_queue: Option<usize>,
    send_timeout: Option<Spanned<f64>>,
    ping_interval: Option<Spanned<f64>>,
    ping_timeout: Option<Spanned<f64>>,
}

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
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| invalid(e.span(), e.message().trim().to_owned()))?;

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
        let seconds =
            |field: &str, value: &Option<Spanned<f64>>| -> Result<Option<Duration>, ConfigError> {
                match value {
                    None => Ok(None),
                    Some(v) => Duration::try_from_secs_f64(*v.get_ref())
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
            pins = Board::led().pins;
            chips = vec![default_chip];
        }
        Ok(Config {
            listen,
            www: raw.www,
            backend,
            chips,
            board: Board {
                pins,
                heartbeat_timeout: seconds("heartbeat_timeout", &raw.heartbeat_timeout)?,
            },
            limits: Limits {
                max_message: raw.limits.max_message,
                max_send_queue: raw.limits.max_send_queue,
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
heartbeat_timeout = 2.5

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
        assert_eq!(c.board.heartbeat_timeout, Some(Duration::from_millis(2500)));
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
        assert_eq!(c.board.heartbeat_timeout, Some(Duration::from_secs(3)));
        let names: Vec<&str> = c.board.pins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["led", "button"]);
        assert_eq!((c.board.pins[0].line, c.board.pins[1].line), (12, 17));
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
            error("heartbeat_timeout = -1\n"),
            "pins.toml:1:21: heartbeat_timeout: must be a positive number of seconds"
        );
        assert!(
            error("[[output]]\nname = \"led\"\nline = \"twelve\"\n")
                .starts_with("pins.toml:3:8: invalid type")
        );
        assert!(error("listen = \"nowhere\"\n").starts_with("pins.toml:1:10: listen:"));
    }
}
