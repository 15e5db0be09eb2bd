//! The server's JSON messages, written into a caller's buffer.
//!
//! `{"state":{"version":V,"outputs":{..},"inputs":{..}}}`, `{"pong":N}`,
//! `{"event":{"input":NAME,"level":"high"|"low"}}` and
//! `{"error":{"code":CODE,"message":TEXT}}`.

use core::fmt::{self, Write};

use crate::board::{Level, Pin};
use crate::command::{CommandError, Refusal};

/// The buffer was too small for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("buffer too small for the JSON message")]
pub struct Overflow;

/// A `fmt::Write` over a byte slice that remembers running out of room.
struct SliceWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes `s` as a JSON string literal, quotes included.
fn string(w: &mut impl Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(w).write_str(s)?;
    w.write_char('"')
}

/// Writes what it is given as the contents of a JSON string: `"`, `\` and
/// control characters escaped, so any text makes a valid string.
struct Escaped<'w, W>(&'w mut W);

impl<W: Write> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let w = &mut *self.0;
        let mut start = 0;
        for (i, c) in s.char_indices() {
            let escape = match c {
                '"' => Some("\\\""),
                '\\' => Some("\\\\"),
                '\n' => Some("\\n"),
                '\r' => Some("\\r"),
                '\t' => Some("\\t"),
                c if (c as u32) < 0x20 => None,
                _ => continue,
            };
            w.write_str(s.get(start..i).unwrap_or_default())?;
            match escape {
                Some(e) => w.write_str(e)?,
                None => write!(w, "\\u{:04x}", c as u32)?,
            }
            start = i + c.len_utf8();
        }
        w.write_str(s.get(start..).unwrap_or_default())
    }
}

fn finish(result: fmt::Result, w: SliceWriter<'_>) -> Result<usize, Overflow> {
    result.map(|()| w.len).map_err(|_| Overflow)
}

/// Writes a state snapshot: every output and input with its logical level
/// (`true` for high), and the version.
pub fn encode_state<S: AsRef<str>>(
    pins: &[Pin<S>],
    levels: &[Level],
    version: u64,
    out: &mut [u8],
) -> Result<usize, Overflow> {
    let mut w = SliceWriter { buf: out, len: 0 };
    let result = (|| {
        write!(w, "{{\"state\":{{\"version\":{version},\"outputs\":{{")?;
        group(&mut w, pins, levels, true)?;
        w.write_str("},\"inputs\":{")?;
        group(&mut w, pins, levels, false)?;
        w.write_str("}}}")
    })();
    finish(result, w)
}

fn group<S: AsRef<str>>(
    w: &mut SliceWriter<'_>,
    pins: &[Pin<S>],
    levels: &[Level],
    outputs: bool,
) -> fmt::Result {
    let mut first = true;
    for (pin, level) in pins.iter().zip(levels) {
        if pin.is_output() != outputs {
            continue;
        }
        if !first {
            w.write_char(',')?;
        }
        first = false;
        string(w, pin.name())?;
        write!(w, ":{}", level.is_high())?;
    }
    Ok(())
}

/// Longest `{"pong":N}` [`encode_pong`] writes for any finite `n`.
pub const MAX_PONG_LEN: usize = 40;

/// Writes `{"pong":N}`. `n` must be finite (it came from JSON, so it is).
///
/// `N` is the shortest form that reads back as `n`: plain decimals from
/// 1e-5 up to 1e16, exponent form (`1e300`) beyond, so the reply never
/// exceeds [`MAX_PONG_LEN`] bytes.
pub fn encode_pong(n: f64, out: &mut [u8]) -> Result<usize, Overflow> {
    let mut w = SliceWriter { buf: out, len: 0 };
    let magnitude = n.abs();
    let result = if n == 0.0 || (1e-5..1e16).contains(&magnitude) {
        write!(w, "{{\"pong\":{n}}}")
    } else {
        write!(w, "{{\"pong\":{n:e}}}")
    };
    finish(result, w)
}

/// Writes `{"event":{"input":NAME,"level":"high"|"low"}}`.
pub fn encode_event(input: &str, level: Level, out: &mut [u8]) -> Result<usize, Overflow> {
    let mut w = SliceWriter { buf: out, len: 0 };
    let result = (|| {
        w.write_str("{\"event\":{\"input\":")?;
        string(&mut w, input)?;
        write!(w, ",\"level\":\"{}\"}}}}", level.as_str())
    })();
    finish(result, w)
}

/// Writes `{"error":{"code":CODE,"message":TEXT}}`: the error's own
/// message, naming no pin. See [`encode_refusal`] for one that does.
pub fn encode_error(error: CommandError, out: &mut [u8]) -> Result<usize, Overflow> {
    encode_refusal(Refusal::new(error), out)
}

/// Longest message [`encode_refusal`] (and [`encode_error`]) writes, in
/// bytes, whatever the pin name: the name is cut after
/// [`MAX_NAME_SHOWN`](crate::command::MAX_NAME_SHOWN) bytes, and each of
/// those takes at most 7 bytes once escaped.
pub const MAX_ERROR_LEN: usize = 576;

/// Writes `{"error":{"code":CODE,"message":TEXT}}`, where TEXT names the pin
/// the refusal is about, if any: `no pin named \"nope\"` (see
/// [`Refusal`]'s `Display`). Fits [`MAX_ERROR_LEN`] bytes.
pub fn encode_refusal(refusal: Refusal<'_>, out: &mut [u8]) -> Result<usize, Overflow> {
    let mut w = SliceWriter { buf: out, len: 0 };
    let result = (|| {
        write!(
            w,
            "{{\"error\":{{\"code\":\"{}\",\"message\":\"",
            refusal.error.code()
        )?;
        write!(Escaped(&mut w), "{refusal}")?;
        w.write_str("\"}}")
    })();
    finish(result, w)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::board::{Input, Mode, Output};

    fn text(out: &[u8], n: usize) -> &str {
        core::str::from_utf8(&out[..n]).unwrap()
    }

    #[test]
    fn state_snapshot() {
        let pins = [
            Pin {
                name: "led",
                line: 12,
                mode: Mode::Output(Output::default()),
            },
            Pin {
                name: "button",
                line: 5,
                mode: Mode::Input(Input::default()),
            },
            Pin {
                name: "fan \"2\"",
                line: 6,
                mode: Mode::Output(Output::default()),
            },
        ];
        let mut out = [0u8; 256];
        let n = encode_state(&pins, &[Level::High, Level::Low, Level::Low], 7, &mut out).unwrap();
        assert_eq!(
            text(&out, n),
            r#"{"state":{"version":7,"outputs":{"led":true,"fan \"2\"":false},"inputs":{"button":false}}}"#
        );
        assert_eq!(
            encode_state(&pins, &[Level::Low; 3], 7, &mut out[..20]),
            Err(Overflow)
        );
    }

    #[test]
    fn pong_event_error() {
        let mut out = [0u8; 256];
        let n = encode_pong(99.0, &mut out).unwrap();
        assert_eq!(text(&out, n), r#"{"pong":99}"#);
        let n = encode_pong(0.25, &mut out).unwrap();
        assert_eq!(text(&out, n), r#"{"pong":0.25}"#);
        let n = encode_pong(-1e55, &mut out).unwrap();
        assert_eq!(text(&out, n), r#"{"pong":-1e55}"#);
        let n = encode_pong(1.5e-7, &mut out).unwrap();
        assert_eq!(text(&out, n), r#"{"pong":1.5e-7}"#);
        let n = encode_event("button", Level::High, &mut out).unwrap();
        assert_eq!(
            text(&out, n),
            r#"{"event":{"input":"button","level":"high"}}"#
        );
        let n = encode_error(CommandError::UnknownPin, &mut out).unwrap();
        assert_eq!(
            text(&out, n),
            r#"{"error":{"code":"unknown_pin","message":"no pin has that name"}}"#
        );
    }

    fn refusal_text(refusal: Refusal<'_>) -> std::string::String {
        let mut out = [0u8; MAX_ERROR_LEN];
        let n = encode_refusal(refusal, &mut out).unwrap();
        std::string::String::from(text(&out, n))
    }

    #[test]
    fn refusals_name_the_pin() {
        use crate::board::resolve_command;
        use crate::command::parse_command as parse;
        // The whole path: parse, resolve, encode.
        let pins = [Pin {
            name: "led",
            line: 12,
            mode: Mode::Output(Output::default()),
        }];
        let command = parse(r#"{"toggle":"nope"}"#).unwrap();
        let refusal = resolve_command(&pins, &[Level::Low], &command).unwrap_err();
        assert_eq!(
            refusal_text(refusal),
            r#"{"error":{"code":"unknown_pin","message":"no pin named \"nope\""}}"#
        );
        assert_eq!(
            refusal_text(Refusal::naming(CommandError::NotAnOutput, "button")),
            r#"{"error":{"code":"not_an_output","message":"pin \"button\" is an input; only outputs can be set or toggled"}}"#
        );
        assert_eq!(
            refusal_text(Refusal::naming(CommandError::NotAnInput, "led")),
            r#"{"error":{"code":"not_an_input","message":"pin \"led\" is an output; only inputs can be simulated"}}"#
        );
        assert_eq!(
            refusal_text(Refusal::naming(CommandError::Hardware, "led")),
            r#"{"error":{"code":"hardware_error","message":"the board could not switch pin \"led\""}}"#
        );
        // Without a name, or for an error about no pin, the plain message.
        assert_eq!(
            refusal_text(Refusal::new(CommandError::UnknownPin)),
            r#"{"error":{"code":"unknown_pin","message":"no pin has that name"}}"#
        );
        assert_eq!(
            refusal_text(Refusal::naming(CommandError::TooManyPins, "x")),
            r#"{"error":{"code":"too_many_pins","message":"at most 16 pins per set or simulate"}}"#
        );
        assert_eq!(
            refusal_text(Refusal::new(CommandError::DuplicatePin)),
            r#"{"error":{"code":"duplicate_pin","message":"a pin is named more than once; name each pin at most once per command"}}"#
        );
        assert_eq!(
            refusal_text(Refusal::new(CommandError::RateLimited)),
            r#"{"error":{"code":"rate_limited","message":"too many commands; this one was not carried out, slow down"}}"#
        );
        assert_eq!(
            refusal_text(Refusal::new(CommandError::NotSimulated)),
            r#"{"error":{"code":"not_simulated","message":"this device drives real hardware; inputs cannot be simulated"}}"#
        );
    }

    #[test]
    fn named_pins_are_escaped_and_cut() {
        // Whatever a name holds, the message is valid JSON, and the name is
        // shown with Rust's debug escapes: the text itself holds no control
        // characters, and the name's quotes are unambiguous.
        let odd = "a\"b\\c\n\u{1}\u{7f}ü\u{202e}";
        let reply = refusal_text(Refusal::naming(CommandError::UnknownPin, odd));
        assert_eq!(
            reply,
            r#"{"error":{"code":"unknown_pin","message":"no pin named \"a\\\"b\\\\c\\n\\u{1}\\u{7f}ü\\u{202e}\""}}"#
        );
        let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(
            v["error"]["message"],
            r#"no pin named "a\"b\\c\n\u{1}\u{7f}ü\u{202e}""#
        );
        // Names over 64 bytes are cut on a character boundary, marked "…".
        let long = "x".repeat(100);
        assert_eq!(
            refusal_text(Refusal::naming(CommandError::UnknownPin, &long)),
            std::format!(
                r#"{{"error":{{"code":"unknown_pin","message":"no pin named \"{}…\""}}}}"#,
                "x".repeat(64)
            )
        );
        // 63 ASCII bytes then "é" (2 bytes): the cut falls before it.
        let split = std::format!("{}é{}", "y".repeat(63), "z".repeat(10));
        assert_eq!(
            refusal_text(Refusal::naming(CommandError::UnknownPin, &split)),
            std::format!(
                r#"{{"error":{{"code":"unknown_pin","message":"no pin named \"{}…\""}}}}"#,
                "y".repeat(63)
            )
        );
        // Exactly 64 bytes: whole, no mark.
        let exact = "w".repeat(64);
        assert_eq!(
            refusal_text(Refusal::naming(CommandError::UnknownPin, &exact)),
            std::format!(
                r#"{{"error":{{"code":"unknown_pin","message":"no pin named \"{exact}\""}}}}"#
            )
        );
        // The worst case fits MAX_ERROR_LEN with every error, and reads
        // back: long names of any one character below U+0800 (control
        // characters, at 7 bytes each once escaped twice, are the worst),
        // and of some wider ones that are escaped too.
        let wide = [
            '\u{2028}',
            '\u{202e}',
            '\u{feff}',
            '\u{e0001}',
            '\u{10ffff}',
            '\u{300}',
        ];
        let mut longest = 0;
        for c in (0..0x800).filter_map(char::from_u32).chain(wide) {
            let name: std::string::String = core::iter::repeat_n(c, 70).collect();
            for error in ALL_ERRORS {
                let mut out = [0u8; MAX_ERROR_LEN];
                let n = encode_refusal(Refusal::naming(error, &name), &mut out)
                    .unwrap_or_else(|_| panic!("{error:?} {c:?} overflows"));
                longest = longest.max(n);
                let v: serde_json::Value = serde_json::from_str(text(&out, n)).unwrap();
                assert_eq!(v["error"]["code"], error.code());
            }
        }
        // The worst case: the longest message (not_an_output's) with a
        // 64-byte name of U+0010..U+001F, each `\u{1f}` then escaped again:
        // 44 + 6 + 64 * 7 + 3 + 50 + 3.
        assert_eq!(longest, 554);
    }

    const ALL_ERRORS: [CommandError; 13] = [
        CommandError::BadJson,
        CommandError::BadCommand,
        CommandError::WrongType,
        CommandError::TooLarge,
        CommandError::UnknownPin,
        CommandError::NotAnOutput,
        CommandError::Hardware,
        CommandError::EscapedName,
        CommandError::TooManyPins,
        CommandError::NotAnInput,
        CommandError::NotSimulated,
        CommandError::DuplicatePin,
        CommandError::RateLimited,
    ];

    #[test]
    fn every_pong_fits_and_reads_back() {
        let extremes = [
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            5e-324,
            -f64::from_bits(0x000f_ffff_ffff_ffff), // the largest subnormal
            0.0,
            -0.0,
            1e-5,
            9.999999999999999e-6,
            1e16,
            9999999999999998.0,
            -0.000012345678901234567,
            1234567890123456.7,
        ];
        let mut bits: u64 = 0x9e37_79b9_7f4a_7c15;
        let random = (0..20_000).map(|_| {
            bits ^= bits << 13;
            bits ^= bits >> 7;
            bits ^= bits << 17;
            f64::from_bits(bits)
        });
        for n in extremes.into_iter().chain(random).filter(|n| n.is_finite()) {
            let mut out = [0u8; MAX_PONG_LEN];
            let len = encode_pong(n, &mut out).unwrap_or_else(|_| panic!("{n:e} overflowed"));
            let reply = text(&out, len);
            // Valid JSON, and the number reads back exactly.
            let value: serde_json::Value = serde_json::from_str(reply).unwrap();
            assert!(value["pong"].is_number(), "{reply}");
            let number = &reply["{\"pong\":".len()..reply.len() - 1];
            assert_eq!(number.parse::<f64>(), Ok(n), "{reply}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut out = [0u8; 64];
        let mut w = SliceWriter {
            buf: &mut out,
            len: 0,
        };
        string(&mut w, "a\u{1}b\n\\").unwrap();
        let n = w.len;
        assert_eq!(text(&out, n), r#""a\u0001b\n\\""#);
    }
}
