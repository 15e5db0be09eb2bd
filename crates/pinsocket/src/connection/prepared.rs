//! [`Prepared`]: a message encoded once for many connections, and
//! [`encode_shared`], which encodes it.

use std::fmt;

use bytes::Bytes;
use pinsocket_core::{FrameHeader, MAX_HEADER_LEN, OpCode};

/// A message encoded once, to be queued on many connections without being
/// copied for each: what [`Clients::broadcast_text`](crate::Clients::broadcast_text)
/// does, for a list of connections of your own.
///
/// ```
/// # fn fan_out(subscribers: &[pinsocket::Connection]) {
/// let state = pinsocket::Prepared::text(r#"{"led":true}"#);
/// for conn in subscribers {
///     let _ = conn.send_prepared(&state);
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Prepared {
    pub(super) frame: Bytes,
}

impl Prepared {
    /// A text message.
    pub fn text(text: &str) -> Prepared {
        Prepared {
            frame: encode_shared(OpCode::Text, text.as_bytes()),
        }
    }

    /// A binary message.
    pub fn binary(data: &[u8]) -> Prepared {
        Prepared {
            frame: encode_shared(OpCode::Binary, data),
        }
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("frame_len", &self.frame.len())
            .finish()
    }
}

/// Encodes a whole unmasked frame once, to be shared by many connections.
pub(crate) fn encode_shared(opcode: OpCode, payload: &[u8]) -> Bytes {
    let mut header = [0u8; MAX_HEADER_LEN];
    let n = FrameHeader::new(opcode, payload.len() as u64).encode(&mut header);
    let mut frame = Vec::with_capacity(n + payload.len());
    frame.extend_from_slice(&header[..n]);
    frame.extend_from_slice(payload);
    Bytes::from(frame)
}
