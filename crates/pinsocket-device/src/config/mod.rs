//! The device server's configuration file (TOML): backend, pins, limits,
//! the failsafe's timings. Every error names the file, the line and the
//! field.
//!
//! - `raw`: the file's shape, as TOML gives it.
//! - `parse`: [`Config::parse`], checking every value, with the text of
//!   each error.
//! - `error`: [`ConfigError`], where an error is, and serde's type errors
//!   in words.
//! - `seconds`: durations written as numbers of seconds.
//! - `limits`: [`ConnectionLimits`] and their smallest values.

mod error;
mod limits;
mod parse;
mod raw;
mod seconds;
mod sections;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use error::ConfigError;
pub use limits::{ConnectionLimits, MIN_MAX_MESSAGE, MIN_SEND_QUEUE};

use crate::board::Board;

/// Which hardware drives the pins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
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
    /// The pins and the failsafe's timings.
    pub board: Board,
    /// Server limits.
    pub limits: ConnectionLimits,
    /// `[access]`: the names the server answers to, the origins allowed,
    /// the token.
    pub access: AccessConfig,
    /// `[tls]`: serve https and wss with these files (the `tls` feature).
    pub tls: Option<TlsFiles>,
}

/// A PEM certificate chain and its private key, for https and wss (`[tls]`
/// in the file, `--tls-cert` and `--tls-key` on the command line). Paths
/// are used as written, relative to the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain: the server's certificate first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, RSA or EC).
    pub key: PathBuf,
}

/// `[access]`: who may use the device server. Host and Origin are always
/// checked; these add to what they allow, and set the token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessConfig {
    /// Host names (or addresses) the server answers to beyond its own:
    /// `localhost`, the machine's name, `NAME.local` and addresses.
    pub hosts: Vec<String>,
    /// Origins whose pages may open WebSockets beyond the server's own,
    /// e.g. `https://dashboard.example`.
    pub origins: Vec<String>,
    /// The access token, instead of a random one.
    pub token: Option<String>,
    /// `Some(false)`: no token, even beyond loopback; `Some(true)`: a
    /// token even on loopback; `None`: a token when listening beyond
    /// loopback.
    pub auth: Option<bool>,
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use pinsocket_core::{Input, Mode, Pull};

    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("pins.toml"))
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
    fn the_documented_simulated_board_parses() {
        let c = parse(include_str!("../../../../docs/sim-board.toml")).unwrap();
        assert_eq!(c.backend, BackendKind::Sim);
        let names: Vec<&str> = c.board.pins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["led", "motor", "relay", "lamp", "button", "door"]);
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_section_names_the_certificate_and_key() {
        let c = parse("[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n").unwrap();
        assert_eq!(
            c.tls,
            Some(TlsFiles {
                cert: "cert.pem".into(),
                key: "key.pem".into()
            })
        );
        assert_eq!(parse("").unwrap().tls, None);
        let err = parse("[tls]\ncert = \"cert.pem\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("pins.toml:1:1: ") && err.contains("missing field `key`"),
            "{err}"
        );
        let err = parse("[tls]\ncert = \"c\"\nkey = \"k\"\nca = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `ca`"), "{err}");
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn tls_section_is_refused_without_the_feature() {
        let err = parse("\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("pins.toml:2:1: tls: this build of pinsocket has no TLS support"),
            "{err}"
        );
    }

    #[test]
    fn empty_config_is_the_led_board() {
        let c = parse("").unwrap();
        assert_eq!(c.backend, BackendKind::Sim);
        assert_eq!(c.board.pins, Board::led().pins);
    }
}
