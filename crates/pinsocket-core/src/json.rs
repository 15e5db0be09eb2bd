//! The server's JSON messages, written into a caller's buffer.
//!
//! `{"state":{"version":V,"outputs":{..},"inputs":{..}}}`, `{"pong":N}`,
//! `{"event":{"input":NAME,"level":"high"|"low"}}` and
//! `{"error":{"code":CODE,"message":TEXT}}`.

use core::fmt::{self, Write};

use crate::command::CommandError;
use crate::device::{Level, Pin};

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
    w.write_str(s.get(start..).unwrap_or_default())?;
    w.write_char('"')
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

/// Writes `{"error":{"code":CODE,"message":TEXT}}`.
pub fn encode_error(error: CommandError, out: &mut [u8]) -> Result<usize, Overflow> {
    let mut w = SliceWriter { buf: out, len: 0 };
    let result = (|| {
        write!(
            w,
            "{{\"error\":{{\"code\":\"{}\",\"message\":",
            error.code()
        )?;
        let mut message = MessageBuf::default();
        write!(message, "{error}")?;
        string(&mut w, message.as_str())?;
        w.write_str("}}")
    })();
    finish(result, w)
}

/// Room for an error's display text.
struct MessageBuf {
    buf: [u8; 128],
    len: usize,
}

impl Default for MessageBuf {
    fn default() -> Self {
        MessageBuf {
            buf: [0; 128],
            len: 0,
        }
    }
}

impl MessageBuf {
    fn as_str(&self) -> &str {
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

impl Write for MessageBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut w = SliceWriter {
            buf: &mut self.buf,
            len: self.len,
        };
        w.write_str(s)?;
        self.len = w.len;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Input, Mode, Output};

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

    #[test]
    fn every_pong_fits_and_reads_back() {
        extern crate std;
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
