//! [`Config::parse`]: the file's shape read, then every value checked and
//! turned into a [`Config`], each refusal saying which field and why.
//!
//! Checks run in this order, and the first that fails is the error:
//! `heartbeat_timeout`, `listen`, `backend`, pin names (outputs, then
//! inputs), shared lines, the pins `gpio-cdev` needs, the failsafe's
//! timings, then `[limits]`, then `[access]`, then `[tls]`.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pinsocket_core::{Input, Mode, Output, Pin};
use toml::Spanned;

use super::error::Source;
use super::limits::{ConnectionLimits, MIN_MAX_MESSAGE, MIN_SEND_QUEUE};
use super::raw::{RawConfig, RawLimits};
use super::seconds::Seconds;
use super::sections::{access, tls};
use super::{BackendKind, Config, ConfigError};
use crate::board::Board;

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
        let src = Source { text, path };
        let raw: RawConfig = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        if let Some(old) = &raw.heartbeat_timeout {
            return Err(src.invalid(
                Some(old.span()),
                "heartbeat_timeout: replaced by failsafe_timeout, the time a client that \
                 switched a failsafe output on may go without answering the server's pings \
                 (default 1 s); see docs/PROTOCOL.md"
                    .to_owned(),
            ));
        }
        let listen = listen(src, raw.listen.as_ref())?;
        let default_chip = raw
            .chip
            .clone()
            .unwrap_or_else(|| PathBuf::from("/dev/gpiochip0"));
        let backend = backend(src, raw.backend.as_ref(), &default_chip)?;
        let (pins, chips) = pins(src, &raw, &backend, default_chip)?;
        let (failsafe_ping, failsafe_timeout) = failsafe_timings(src, &raw)?;
        let limits = limits(src, &raw.limits)?;
        let access = access(src, &raw.access)?;
        let tls = tls(src, raw.tls)?;
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
            limits,
            tls,
            access,
        })
    }
}

/// `listen`, an address like `0.0.0.0:8080`.
fn listen(
    src: Source<'_>,
    value: Option<&Spanned<String>>,
) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(s) = value else {
        return Ok(None);
    };
    let address = s.get_ref().parse().map_err(|_| {
        src.invalid(
            Some(s.span()),
            format!(
                "listen: `{}` is not an address like 0.0.0.0:8080",
                s.get_ref()
            ),
        )
    })?;
    Ok(Some(address))
}

/// `backend`: `sim` (the default) or `gpio-cdev`, whose pins default to
/// `default_chip`.
fn backend(
    src: Source<'_>,
    value: Option<&Spanned<String>>,
    default_chip: &Path,
) -> Result<BackendKind, ConfigError> {
    match value.map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("sim", _)) => Ok(BackendKind::Sim),
        Some(("gpio-cdev", _)) => Ok(BackendKind::GpioCdev {
            chip: default_chip.to_owned(),
        }),
        Some((other, span)) => Err(src.invalid(
            Some(span),
            format!("backend: `{other}` is not one of `sim`, `gpio-cdev`"),
        )),
    }
}

/// The pins, outputs then inputs, and the chip of each: names valid and
/// unique, no two pins on one line of one chip. Without pins, the
/// simulated board gets [`Board::led`]; `gpio-cdev` is refused.
fn pins(
    src: Source<'_>,
    raw: &RawConfig,
    backend: &BackendKind,
    default_chip: PathBuf,
) -> Result<(Vec<Pin<String>>, Vec<PathBuf>), ConfigError> {
    let mut pins = Vec::new();
    let mut chips = Vec::new();
    let mut names: Vec<(String, Range<usize>)> = Vec::new();
    // Each pin, output or input: its name checked, then the pin and its chip.
    let mut add = |name: &Spanned<String>, kind, line, chip: &Option<PathBuf>, mode| {
        check_name(src, &mut names, name, kind)?;
        pins.push(Pin {
            name: name.get_ref().clone(),
            line,
            mode,
        });
        chips.push(chip.clone().unwrap_or_else(|| default_chip.clone()));
        Ok::<(), ConfigError>(())
    };
    for o in &raw.outputs {
        let output = Output {
            active_low: o.active_low,
            initial: o.initial.into(),
            safe: o.safe.into(),
            failsafe: o.failsafe,
        };
        add(&o.name, "output", o.line, &o.chip, Mode::Output(output))?;
    }
    for i in &raw.inputs {
        let input = Input {
            active_low: i.active_low,
            pull: i.pull.into(),
            debounce_ms: i.debounce_ms,
        };
        add(&i.name, "input", i.line, &i.chip, Mode::Input(input))?;
    }
    for (a, pin) in pins.iter().enumerate() {
        let clash = pins
            .iter()
            .enumerate()
            .take(a)
            .find(|(b, other)| other.line == pin.line && chips.get(*b) == chips.get(a));
        if let Some((_, other)) = clash {
            let span = names.get(a).map(|(_, s)| s.clone());
            return Err(src.invalid(
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
            return Err(src.invalid(
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
    Ok((pins, chips))
}

/// Checks the `name` of a pin of `kind` (`output`, `input`): 1-32 letters,
/// digits, `_` or `-`, and not in `names`, the names seen so far, which it
/// joins.
fn check_name(
    src: Source<'_>,
    names: &mut Vec<(String, Range<usize>)>,
    name: &Spanned<String>,
    kind: &str,
) -> Result<(), ConfigError> {
    let n = name.get_ref();
    let valid = !n.is_empty()
        && n.len() <= 32
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(src.invalid(
            Some(name.span()),
            format!("{kind}.name: `{n}` must be 1-32 letters, digits, `_` or `-`"),
        ));
    }
    if names.iter().any(|(other, _)| other == n) {
        return Err(src.invalid(
            Some(name.span()),
            format!("{kind}.name: `{n}` is used by another pin"),
        ));
    }
    names.push((n.clone(), name.span()));
    Ok(())
}

/// `failsafe_ping` and `failsafe_timeout`, defaults those of
/// [`Board::led`]; the timeout must be the longer.
fn failsafe_timings(src: Source<'_>, raw: &RawConfig) -> Result<(Duration, Duration), ConfigError> {
    let defaults = Board::led();
    let failsafe_ping =
        seconds(src, "failsafe_ping", &raw.failsafe_ping)?.unwrap_or(defaults.failsafe_ping);
    let failsafe_timeout = seconds(src, "failsafe_timeout", &raw.failsafe_timeout)?
        .unwrap_or(defaults.failsafe_timeout);
    if failsafe_timeout <= failsafe_ping {
        let span = raw
            .failsafe_timeout
            .as_ref()
            .or(raw.failsafe_ping.as_ref())
            .map(Spanned::span);
        return Err(src.invalid(
            span,
            format!(
                "failsafe_timeout ({} s) must be longer than failsafe_ping ({} s): a \
                 client needs a ping, and time to answer it, before it counts as gone",
                failsafe_timeout.as_secs_f64(),
                failsafe_ping.as_secs_f64()
            ),
        ));
    }
    Ok((failsafe_ping, failsafe_timeout))
}

/// `[limits]`, sizes no smaller than the control page needs.
fn limits(src: Source<'_>, raw: &RawLimits) -> Result<ConnectionLimits, ConfigError> {
    Ok(ConnectionLimits {
        max_message: at_least(
            src,
            "limits.max_message",
            &raw.max_message,
            MIN_MAX_MESSAGE,
            "so that every command the control page may send fits",
        )?,
        max_send_queue: at_least(
            src,
            "limits.max_send_queue",
            &raw.max_send_queue,
            MIN_SEND_QUEUE,
            "so that a client can be sent a few states of a full board",
        )?,
        send_timeout: seconds(src, "limits.send_timeout", &raw.send_timeout)?,
        ping_interval: seconds(src, "limits.ping_interval", &raw.ping_interval)?,
        ping_timeout: seconds(src, "limits.ping_timeout", &raw.ping_timeout)?,
        // Per-client command limits.
        commands_per_second: positive(src, "limits.commands_per_second", &raw.commands_per_second)?,
        command_burst: positive(src, "limits.command_burst", &raw.command_burst)?,
        max_refused: positive(src, "limits.max_refused", &raw.max_refused)?,
        refused_window: seconds(src, "limits.refused_window", &raw.refused_window)?,
        // Memory and descriptors.
        output_budget: at_least(
            src,
            "limits.output_budget",
            &raw.output_budget,
            ConnectionLimits::MIN_OUTPUT_BUDGET,
            "so that clients can be sent states while others back up",
        )?,
        max_connections: positive(src, "limits.max_connections", &raw.max_connections)?
            .map(|n| n as usize),
    })
}

/// A duration `field`, if set: a positive number of seconds that a
/// [`Duration`] can hold.
fn seconds(
    src: Source<'_>,
    field: &str,
    value: &Option<Spanned<Seconds>>,
) -> Result<Option<Duration>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) => Duration::try_from_secs_f64(v.get_ref().0)
            .ok()
            .filter(|d| !d.is_zero())
            .map(Some)
            .ok_or_else(|| {
                src.invalid(
                    Some(v.span()),
                    format!("{field}: must be a positive number of seconds"),
                )
            }),
    }
}

/// A count `field`, if set: at least 1.
fn positive(
    src: Source<'_>,
    field: &str,
    value: &Option<Spanned<u32>>,
) -> Result<Option<u32>, ConfigError> {
    match value {
        Some(v) if *v.get_ref() == 0 => {
            Err(src.invalid(Some(v.span()), format!("{field}: must be at least 1")))
        }
        Some(v) => Ok(Some(*v.get_ref())),
        None => Ok(None),
    }
}

/// A size `field` in bytes, if set: at least `min`, for the reason `why`.
fn at_least(
    src: Source<'_>,
    field: &str,
    value: &Option<Spanned<usize>>,
    min: usize,
    why: &str,
) -> Result<Option<usize>, ConfigError> {
    match value {
        Some(v) if *v.get_ref() < min => Err(src.invalid(
            Some(v.span()),
            format!(
                "{field}: {} is too small: at least {min} bytes, {why}",
                v.get_ref()
            ),
        )),
        other => Ok(other.as_ref().map(|v| *v.get_ref())),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{Config, ConfigError};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("pins.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
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
    fn access_takes_hosts_origins_and_a_token() {
        let c = parse(
            "[access]\nhosts = [\"pi.example.org\", \"192.0.2.7\"]\n\
             origins = [\"https://dash.example\"]\ntoken = \"0123456789abcdef\"\n",
        )
        .unwrap();
        assert_eq!(c.access.hosts, ["pi.example.org", "192.0.2.7"]);
        assert_eq!(c.access.origins, ["https://dash.example"]);
        assert_eq!(c.access.token.as_deref(), Some("0123456789abcdef"));
        assert_eq!(c.access.auth, None);
        assert_eq!(
            parse("[access]\nauth = false\n").unwrap().access.auth,
            Some(false)
        );
        assert_eq!(parse("").unwrap().access, Default::default());
    }

    #[test]
    fn access_values_are_checked() {
        assert_eq!(
            error("[access]\ntoken = \"short\"\n"),
            "pins.toml:2:9: access.token: must be 16 to 256 visible ASCII characters (no \
             spaces); leave it out for a random one"
        );
        assert!(
            error("[access]\nauth = false\ntoken = \"0123456789abcdef\"\n")
                .contains("access.token: given with `auth = false`")
        );
        assert!(error("[access]\nhosts = [\"http://pi\"]\n").contains("access.hosts: `http://pi`"));
        assert!(
            error("[access]\norigins = [\"pi.example\"]\n")
                .contains("access.origins: `pi.example` is not an origin")
        );
        assert!(error("[access]\nusers = 1\n").contains("unknown field `users`"));
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
}
