//! Close codes and the close frame's payload (RFC 6455 §5.5.1, §7.4).

use crate::error::ProtocolError;

/// A WebSocket close status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page closed).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reported locally when a close frame carried no code; never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: reported locally when the connection dropped without a close frame; never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's payload was inconsistent with its type (bad UTF-8).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: the server is overloaded; try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway received an invalid response.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);

    /// True if this code may appear in a close frame on the wire.
    ///
    /// Allowed: 1000-1003, 1007-1014 (1012-1014 are registered with IANA),
    /// and 3000-4999 (libraries and applications). Everything else, including
    /// 1004-1006 and 1015, which are reserved or local-only, is not.
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl core::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

/// The largest reason that fits in a close frame: 125 bytes minus the code.
pub const MAX_CLOSE_REASON: usize = 123;

/// A received close frame's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close<'a> {
    /// The status code; [`CloseCode::NO_STATUS`] when the frame had no payload.
    pub code: CloseCode,
    /// The reason, possibly empty.
    pub reason: &'a str,
}

impl<'a> Close<'a> {
    /// Parses a close frame's (unmasked) payload.
    pub fn parse(payload: &'a [u8]) -> Result<Close<'a>, ProtocolError> {
        match payload {
            [] => Ok(Close {
                code: CloseCode::NO_STATUS,
                reason: "",
            }),
            [_] => Err(ProtocolError::ClosePayloadTooShort),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_sendable() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason =
                    core::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
                Ok(Close { code, reason })
            }
        }
    }
}

/// Writes a close frame payload (code, then as much of `reason` as fits,
/// cut on a character boundary) into `out`; returns the length written.
///
/// [`CloseCode::NO_STATUS`] writes an empty payload, as RFC 6455 §7.4.1
/// forbids sending 1005.
pub fn encode_close_payload(code: CloseCode, reason: &str, out: &mut [u8; 125]) -> usize {
    if code == CloseCode::NO_STATUS {
        return 0;
    }
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    out[..2].copy_from_slice(&code.0.to_be_bytes());
    out[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    2 + end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_payload_means_no_status() {
        assert_eq!(
            Close::parse(b""),
            Ok(Close {
                code: CloseCode::NO_STATUS,
                reason: ""
            })
        );
    }

    #[test]
    fn one_byte_payload_is_a_protocol_error() {
        assert_eq!(
            Close::parse(b"\x03"),
            Err(ProtocolError::ClosePayloadTooShort)
        );
        assert_eq!(
            ProtocolError::ClosePayloadTooShort.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
    }

    #[test]
    fn valid_codes_are_accepted() {
        for code in [
            1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ] {
            let p = code.to_be_bytes();
            assert_eq!(Close::parse(&p).map(|c| c.code.0), Ok(code));
        }
    }

    #[test]
    fn invalid_codes_are_refused() {
        for code in [
            0u16, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            let p = code.to_be_bytes();
            assert_eq!(
                Close::parse(&p),
                Err(ProtocolError::InvalidCloseCode(code)),
                "{code}"
            );
        }
    }

    #[test]
    fn reason_must_be_utf8() {
        assert_eq!(
            Close::parse(b"\x03\xe8bye"),
            Ok(Close {
                code: CloseCode::NORMAL,
                reason: "bye"
            })
        );
        let err = Close::parse(b"\x03\xe8\xce\xba\xed\xa0\x80").unwrap_err();
        assert_eq!(err, ProtocolError::InvalidCloseReason);
        assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
    }

    #[test]
    fn encode_cuts_reason_on_char_boundary() {
        let mut out = [0u8; 125];
        let reason = "é".repeat(70); // 140 bytes
        let n = encode_close_payload(CloseCode::GOING_AWAY, &reason, &mut out);
        assert_eq!(n, 2 + 122);
        assert_eq!(&out[..2], b"\x03\xe9");
        assert!(core::str::from_utf8(&out[2..n]).is_ok());
        assert_eq!(encode_close_payload(CloseCode::NO_STATUS, "x", &mut out), 0);
    }
}
