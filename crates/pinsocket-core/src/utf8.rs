//! Incremental, fail-fast UTF-8 validation for text messages that arrive in pieces.
//!
//! RFC 6455 §8.1 lets an endpoint fail a text message as soon as the bytes seen
//! so far cannot be the start of valid UTF-8, and the Autobahn suite checks that
//! servers do so in the middle of a frame. `core::str::from_utf8` cannot tell
//! "invalid" from "incomplete" across calls, so the state of the one code point
//! that may straddle two pieces is carried here.

/// The bytes seen so far can never be valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid UTF-8 in a text message")]
pub struct Utf8Error;

/// Validates UTF-8 fed in arbitrary pieces, rejecting at the first impossible byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Utf8Validator {
    /// Continuation bytes still owed by the current code point.
    need: u8,
    /// Allowed range of the next continuation byte. The first continuation of
    /// some leading bytes is narrower: that is how overlong forms, surrogates
    /// and code points above U+10FFFF are refused (RFC 3629 §4).
    lo: u8,
    hi: u8,
}

const ASCII_MASK: u64 = 0x8080_8080_8080_8080;

/// Pieces shorter than this are checked byte-wise even with `simdutf8`:
/// for a short message, setting up the vector path costs more than it saves.
#[cfg(feature = "simdutf8")]
const SIMD_MIN_LEN: usize = 64;

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            need: 0,
            lo: 0x80,
            hi: 0xBF,
        }
    }

    /// Forgets any partial code point, ready for a new message.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// True when the bytes fed so far end on a code point boundary.
    pub fn is_complete(&self) -> bool {
        self.need == 0
    }

    /// Checks the next piece of the message.
    ///
    /// Returns an error as soon as a byte is seen that no continuation could
    /// make valid. A code point cut at the end of `bytes` is fine: its state is
    /// kept for the next call.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        #[cfg(feature = "simdutf8")]
        if self.need == 0 && bytes.len() >= SIMD_MIN_LEN {
            // Whole vectors at a time (AVX2 or SSE4.2, chosen at run time).
            // Only a code point cut by the end of `bytes` is left to the
            // byte-wise state machine; an impossible byte anywhere is an
            // error now, as the byte-wise path would also find.
            return match simdutf8::compat::from_utf8(bytes) {
                Ok(_) => Ok(()),
                Err(e) if e.error_len().is_some() => Err(Utf8Error),
                Err(e) => self.feed_bytewise(bytes.get(e.valid_up_to()..).unwrap_or_default()),
            };
        }
        self.feed_bytewise(bytes)
    }

    /// [`Utf8Validator::feed`] without vector instructions: a machine word
    /// at a time through ASCII, a byte at a time through the rest.
    pub fn feed_bytewise(&mut self, bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut i = 0;
        while i < bytes.len() {
            if self.need == 0 {
                // Fast path: skip runs of ASCII a machine word at a time.
                while let Some(word) = bytes.get(i..i + 8) {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(word);
                    if u64::from_ne_bytes(w) & ASCII_MASK != 0 {
                        break;
                    }
                    i += 8;
                }
                let Some(&b) = bytes.get(i) else { break };
                i += 1;
                self.lead(b)?;
            } else {
                let b = bytes[i];
                i += 1;
                if b < self.lo || b > self.hi {
                    return Err(Utf8Error);
                }
                self.need -= 1;
                self.lo = 0x80;
                self.hi = 0xBF;
            }
        }
        Ok(())
    }

    /// Ends the message: an unfinished code point at the end is an error.
    /// The validator is reset either way.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let complete = self.is_complete();
        self.reset();
        if complete { Ok(()) } else { Err(Utf8Error) }
    }

    fn lead(&mut self, b: u8) -> Result<(), Utf8Error> {
        let (need, lo, hi) = match b {
            0x00..=0x7F => return Ok(()),
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            // Stray continuation bytes, C0/C1 (always overlong), F5..FF (beyond U+10FFFF).
            _ => return Err(Utf8Error),
        };
        self.need = need;
        self.lo = lo;
        self.hi = hi;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut v = Utf8Validator::new();
        v.feed(bytes)?;
        v.finish()
    }

    #[test]
    fn accepts_what_core_accepts() {
        let samples: &[&[u8]] = &[
            b"",
            b"Hello world :)",
            "κόσμε".as_bytes(),
            "\u{7F}\u{80}\u{7FF}\u{800}\u{FFFF}\u{10000}\u{10FFFF}".as_bytes(),
            "\u{D7FF}\u{E000}\u{FFFD}".as_bytes(),
            "long ascii run that spans several machine words, then é".as_bytes(),
        ];
        for s in samples {
            assert_eq!(check(s), Ok(()), "{s:?}");
            assert!(core::str::from_utf8(s).is_ok());
        }
    }

    #[test]
    fn rejects_overlong_surrogates_and_out_of_range() {
        let bad: &[&[u8]] = &[
            b"\xC0\xAF",                                                       // overlong '/'
            b"\xC1\xBF",                                                       // overlong
            b"\xE0\x80\xAF",                                                   // overlong 3-byte
            b"\xE0\x9F\xBF",                                                   // overlong 3-byte
            b"\xF0\x80\x80\xAF",                                               // overlong 4-byte
            b"\xF0\x8F\xBF\xBF",                                               // overlong 4-byte
            b"\xED\xA0\x80",     // U+D800, a surrogate
            b"\xED\xBF\xBF",     // U+DFFF
            b"\xF4\x90\x80\x80", // U+110000
            b"\xF5\x80\x80\x80", // lead byte beyond range
            b"\xFF",             //
            b"\x80",             // lone continuation
            b"\xCE\xBA\xE1\xBD", // cut at the end of the message
            b"a\xE1\x80",        // cut
            b"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80edited", // Autobahn 6.x style
        ];
        for s in bad {
            assert_eq!(check(s), Err(Utf8Error), "{s:?}");
            assert!(core::str::from_utf8(s).is_err());
        }
    }

    #[test]
    fn fails_at_the_first_impossible_byte() {
        // "κόσμε" then an invalid byte, then more: the error comes at the F4 90 pair,
        // before the rest is seen.
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed("κόσμε".as_bytes()), Ok(()));
        assert_eq!(v.feed(b"\xF4"), Ok(()));
        assert_eq!(v.feed(b"\x90"), Err(Utf8Error));
    }

    #[test]
    fn code_point_split_across_pieces_is_fine() {
        let s = "a\u{10348}b€ü".as_bytes();
        for cut in 0..=s.len() {
            let mut v = Utf8Validator::new();
            assert_eq!(v.feed(&s[..cut]), Ok(()));
            assert_eq!(v.feed(&s[cut..]), Ok(()));
            assert_eq!(v.finish(), Ok(()));
        }
    }

    #[test]
    fn both_paths_agree_with_core_on_long_pieces() {
        // Long enough for the vector path, with the trouble at every offset:
        // an invalid byte, a surrogate, a code point cut by the piece's end.
        let base = "ascii and κόσμε and 𐍈 and € and more plain text to pass 64 bytes".as_bytes();
        let inserts: &[&[u8]] = &[
            b"\xFF",
            b"\xED\xA0\x80",
            b"\xF0\x9F",
            b"\xC3",
            b"\xE2\x82\xAC",
        ];
        for insert in inserts {
            for at in 0..=base.len() {
                let mut s = base.to_vec();
                s.splice(at..at, insert.iter().copied());
                for cut in [s.len(), s.len() - 1, s.len() / 2] {
                    let (a, b) = s.split_at(cut);
                    let mut fast = Utf8Validator::new();
                    let fast = fast
                        .feed(a)
                        .and_then(|()| fast.feed(b))
                        .and_then(|()| fast.finish());
                    let mut slow = Utf8Validator::new();
                    let slow = slow
                        .feed_bytewise(a)
                        .and_then(|()| slow.feed_bytewise(b))
                        .and_then(|()| slow.finish());
                    assert_eq!(fast, slow, "{s:?} cut at {cut}");
                    assert_eq!(fast.is_ok(), core::str::from_utf8(&s).is_ok(), "{s:?}");
                    // Fail-fast holds for the first piece on its own too.
                    let mut first = Utf8Validator::new();
                    let mut first_slow = Utf8Validator::new();
                    assert_eq!(first.feed(a), first_slow.feed_bytewise(a), "{a:?}");
                }
            }
        }
    }

    #[test]
    fn byte_by_byte_matches_core_on_every_two_byte_input() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let s = [a, b];
                let mut v = Utf8Validator::new();
                let ours = v
                    .feed(&s[..1])
                    .and_then(|()| v.feed(&s[1..]))
                    .and_then(|()| v.finish());
                assert_eq!(ours.is_ok(), core::str::from_utf8(&s).is_ok(), "{s:?}");
            }
        }
    }

    #[test]
    fn agrees_with_core_on_all_three_and_four_byte_leads() {
        // Every lead byte with every first continuation, completed with 0x80s.
        for lead in 0xE0..=0xF4u8 {
            for c in 0..=255u8 {
                let s = [lead, c, 0x80, 0x80];
                let len = if lead >= 0xF0 { 4 } else { 3 };
                let s = &s[..len];
                assert_eq!(check(s).is_ok(), core::str::from_utf8(s).is_ok(), "{s:?}");
            }
        }
    }
}
