//! Chips and lines checked before they are requested — the chip is a GPIO
//! chip, the line exists, nobody holds it — and the text of every error,
//! naming the pins, the lines and the chip.

use std::path::Path;

use gpiocdev::Chip;
use pinsocket_core::Pin;

use super::group::{Group, Settings, who};
use crate::backend::BackendError;

/// Opens the chip at `path` and reads how many lines it has; an error
/// names `first`, the first pin that uses it.
pub(super) fn open_chip<S: AsRef<str>>(
    path: &Path,
    first: &Pin<S>,
) -> Result<(Chip, u32), BackendError> {
    let chip =
        Chip::from_path(path).map_err(|e| BackendError::new(chip_error(&who(first), path, &e)))?;
    let num_lines = chip
        .info()
        .map_err(|e| {
            BackendError::new(format!(
                "{}: cannot read {}: {}",
                who(first),
                path.display(),
                error_text(&e)
            ))
        })?
        .num_lines;
    Ok((chip, num_lines))
}

/// An error if `pin`'s line `offset` is not among the `num_lines` of the
/// chip at `path`.
pub(super) fn check_exists<S: AsRef<str>>(
    path: &Path,
    num_lines: u32,
    pin: &Pin<S>,
    offset: u32,
) -> Result<(), BackendError> {
    if offset >= num_lines {
        return Err(BackendError::new(format!(
            "{}: line {offset} of {} does not exist (it has {num_lines} lines)",
            who(pin),
            path.display()
        )));
    }
    Ok(())
}

/// An error if `pin`'s line is already held, by another program or a
/// kernel driver.
pub(super) fn check_free<S: AsRef<str>>(
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

/// A group's request refused for a reason other than a busy line (a bias
/// or debounce period the chip cannot do).
pub(super) fn request_error<S: AsRef<str>>(
    pins: &[Pin<S>],
    g: &Group,
    e: &gpiocdev::Error,
) -> BackendError {
    BackendError::new(format!(
        "{}: cannot request {} of {}: {}",
        describe(pins, g),
        lines_text(g),
        g.chip.display(),
        error_text(e)
    ))
}

/// The pins of a group: `input "a"`, or `inputs "a", "b"`.
pub(super) fn describe<S: AsRef<str>>(pins: &[Pin<S>], g: &Group) -> String {
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

/// An error's text without the uAPI call's name nor ` (os error N)`:
/// `No such file or directory`.
pub(super) fn error_text(e: &gpiocdev::Error) -> String {
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

#[cfg(test)]
mod tests {
    use pinsocket_core::Pull;

    use super::super::group::group;
    use super::super::test_pins::input;
    use super::*;

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
}
