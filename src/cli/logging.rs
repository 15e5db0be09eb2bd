//! `--log-level` (and RUST_LOG): which levels and directives are accepted,
//! and setting up the log on stderr.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// What `--log-level` and RUST_LOG accept, for error messages.
const LOG_LEVELS: &str = "expected one of error, warn, info, debug, trace or off \
    (any case), or tracing directives like `warn,pinsocket=debug`";

/// Parses `--log-level` (and RUST_LOG): a level, any case, or a list of
/// tracing directives. A bare word that is not a level is refused: tracing
/// would take it for a target name and log nothing else.
pub(crate) fn parse_log_level(s: &str) -> Result<String, String> {
    let s = s.trim();
    let mut directives = s.split(',').map(str::trim).filter(|d| !d.is_empty());
    let Some(first) = directives.next() else {
        return Err(format!("empty log level; {LOG_LEVELS}"));
    };
    if directives.next().is_none()
        && let Ok(level) = first.parse::<LevelFilter>()
    {
        return Ok(level.to_string().to_ascii_lowercase());
    }
    for d in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if d.parse::<LevelFilter>().is_err() && !d.contains('=') && !d.contains('[') {
            return Err(format!("`{d}` is not a log level; {LOG_LEVELS}"));
        }
    }
    match EnvFilter::builder().parse(s) {
        Ok(_) => Ok(s.to_owned()),
        Err(e) => Err(format!("`{s}`: {e}; {LOG_LEVELS}")),
    }
}

/// Logs to stderr at `level` (checked by [`parse_log_level`]), or as
/// RUST_LOG says if it is set. A RUST_LOG that cannot be used is reported on
/// stderr and `level` is used instead.
pub(crate) fn init_logging(level: &str) -> anyhow::Result<()> {
    let mut warning = None;
    let directives = match std::env::var("RUST_LOG") {
        Err(std::env::VarError::NotPresent) => level.to_owned(),
        Err(std::env::VarError::NotUnicode(value)) => {
            warning = Some(format!("RUST_LOG {value:?} ignored: not UTF-8"));
            level.to_owned()
        }
        Ok(value) if value.trim().is_empty() => level.to_owned(),
        Ok(value) => match parse_log_level(&value) {
            Ok(directives) => directives,
            Err(why) => {
                warning = Some(format!("RUST_LOG `{value}` ignored: {why}"));
                level.to_owned()
            }
        },
    };
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| anyhow::anyhow!("invalid log level `{directives}`: {e}"))?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
    if let Some(warning) = warning {
        // Not through the log: its level might hide it.
        eprintln!("pinsocket: warning: {warning}; logging at --log-level `{level}`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn log_levels_and_directives() {
        for (given, expected) in [
            ("info", "info"),
            ("WARN", "warn"),
            (" Trace ", "trace"),
            ("off", "off"),
            ("warn,pinsocket=debug", "warn,pinsocket=debug"),
            ("pinsocket_device=trace", "pinsocket_device=trace"),
        ] {
            assert_eq!(parse_log_level(given).as_deref(), Ok(expected), "{given}");
        }
        for (given, why) in [
            (
                "verbose",
                "`verbose` is not a log level; expected one of error, warn",
            ),
            ("warning", "`warning` is not a log level"),
            ("info,loud", "`loud` is not a log level"),
            ("pinsocket=loud", "`pinsocket=loud`: "),
            ("", "empty log level; expected one of"),
            (",", "empty log level"),
        ] {
            let err = parse_log_level(given).unwrap_err();
            assert!(err.starts_with(why), "{given}: {err}");
            assert!(err.contains("error, warn, info, debug, trace"), "{err}");
        }
    }
}
