//! The ways a peer can break RFC 6455, each with the close code it earns.

use crate::close::CloseCode;

/// A WebSocket protocol violation by the peer.
///
/// Each variant maps to the close code the connection is failed with
/// ([`ProtocolError::close_code`]). "Not enough bytes yet" is never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A client sent a frame without a mask (RFC 6455 §5.1).
    #[error("frame from client is not masked")]
    UnmaskedFrame,
    /// A server sent a masked frame (RFC 6455 §5.1).
    #[error("frame from server is masked")]
    MaskedFrame,
    /// RSV1-3 set without a negotiated extension (§5.2).
    #[error("reserved bits set without an extension")]
    ReservedBits,
    /// Opcode 3-7 or 0xB-0xF (§5.2).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A control frame without FIN (§5.5).
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload (§5.5).
    #[error("control frame payload longer than 125 bytes")]
    ControlTooLong,
    /// A 64-bit length with its most significant bit set (§5.2).
    #[error("payload length has its most significant bit set")]
    InvalidLength,
    /// A continuation frame with no message to continue (§5.4).
    #[error("continuation frame without a message in progress")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished (§5.4).
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// The message would exceed the configured maximum size.
    #[error("message larger than the configured maximum")]
    MessageTooLarge,
    /// A text message that is not valid UTF-8 (§8.1).
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// A close frame with a one-byte payload (§5.5.1).
    #[error("close frame payload of one byte")]
    ClosePayloadTooShort,
    /// A close code that may not be sent on the wire (§7.4).
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A close reason that is not valid UTF-8 (§5.5.1).
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
}

impl ProtocolError {
    /// The close code to fail the connection with.
    pub fn close_code(self) -> CloseCode {
        match self {
            ProtocolError::MessageTooLarge => CloseCode::MESSAGE_TOO_BIG,
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCloseReason => {
                CloseCode::INVALID_PAYLOAD
            }
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}
