//! [`ConfigError`], and how an error comes to name its place: the line
//! and column of a byte offset, the dotted key at it, and serde's type
//! errors rewritten in words.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::seconds::SECONDS;

/// A configuration that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has a field of the wrong shape, or has
    /// a value that cannot be used (a name taken twice, a limit too small).
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

/// A configuration's text and the file it came from, to say where an
/// error is.
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub(super) text: &'a str,
    /// Only used in error messages.
    pub(super) path: &'a Path,
}

impl Source<'_> {
    /// The error `message` at the start of `span`, or at the start of the
    /// file if there is none.
    pub(super) fn invalid(&self, span: Option<Range<usize>>, message: String) -> ConfigError {
        let (line, column) = line_column(self.text, span.map_or(0, |s| s.start));
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line,
            column,
            message,
        }
    }

    /// The error for text that is not TOML or not the file's shape, with
    /// a type error in words where possible.
    pub(super) fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let message = e.message().trim();
        let message = e
            .span()
            .and_then(|span| friendly_type_error(self.text, span.start, message))
            .unwrap_or_else(|| message.to_owned());
        self.invalid(e.span(), message)
    }
}

/// Rewrites serde's `invalid type: string "twelve", expected u32` for the
/// field at `offset` in words a user reads at once: `output.line must be a
/// line number, e.g. 12 (found string "twelve")`. `None` for other
/// messages.
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
    use std::path::Path;

    use crate::config::{Config, ConfigError};

    fn error(text: &str) -> String {
        Config::parse(text, Path::new("pins.toml"))
            .unwrap_err()
            .to_string()
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

    #[test]
    fn unreadable_file_names_it() {
        let e = Config::from_file(Path::new("/nonexistent/pins.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert_eq!(e.to_string(), "cannot read /nonexistent/pins.toml");
    }
}
