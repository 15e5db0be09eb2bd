//! The WebSocket frame header and masking (RFC 6455 §5.2, §5.3).

use crate::error::ProtocolError;

/// The largest frame header: 2 bytes, an 8-byte length and a 4-byte mask.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: starts a text message.
    Text,
    /// 0x2: starts a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// Decodes the low four bits of a frame's first byte.
    pub fn from_u8(bits: u8) -> Result<OpCode, ProtocolError> {
        match bits {
            0x0 => Ok(OpCode::Continuation),
            0x1 => Ok(OpCode::Text),
            0x2 => Ok(OpCode::Binary),
            0x8 => Ok(OpCode::Close),
            0x9 => Ok(OpCode::Ping),
            0xA => Ok(OpCode::Pong),
            other => Err(ProtocolError::ReservedOpcode(other)),
        }
    }

    /// The four-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// True for close, ping and pong.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A parsed or to-be-written frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Last frame of its message.
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits.
    pub rsv: u8,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key, present on every frame a client sends.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A single unmasked frame (`fin` set), as a server sends.
    pub fn new(opcode: OpCode, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` while the header is incomplete (nothing is consumed),
    /// or the header and its length in bytes. Rules that the first two bytes
    /// decide (reserved opcodes, control frames fragmented or over 125 bytes)
    /// are checked as soon as those two bytes are present. Lengths need not use
    /// the minimal encoding: RFC 6455 puts that duty on the sender, and
    /// accepting a longer form costs nothing.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x07;
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControl);
            }
            if usize::from(len7) > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::ControlTooLong);
            }
        }
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask_len = if masked { 4 } else { 0 };
        let header_len = 2 + ext + mask_len;
        let Some(rest) = buf.get(2..header_len) else {
            return Ok(None);
        };
        let payload_len = match ext {
            2 => u64::from(u16::from_be_bytes([rest[0], rest[1]])),
            8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[..8]);
                let len = u64::from_be_bytes(b);
                if len >> 63 != 0 {
                    return Err(ProtocolError::InvalidLength);
                }
                len
            }
            _ => u64::from(len7),
        };
        let mask = if masked {
            let mut m = [0u8; 4];
            m.copy_from_slice(&rest[ext..ext + 4]);
            Some(m)
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        )))
    }

    /// The number of bytes [`FrameHeader::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        let ext = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Writes the header with the minimal length encoding; returns its length.
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> usize {
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(mask) = self.mask {
            out[n..n + 4].copy_from_slice(&mask);
            n += 4;
        }
        n
    }
}

/// XORs `data` with the masking key in place (§5.3), eight bytes at a time.
///
/// `offset` is the position of `data[0]` within the frame's payload, so a
/// payload can be unmasked in pieces as it arrives.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let mut key = key;
    key.rotate_left(offset % 4);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
    // The remainder starts at a multiple of 8, hence of 4: the key lines up.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_examples() {
        // RFC 6455 §5.7: a single-frame masked text message "Hello".
        let frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
        let (h, n) = FrameHeader::parse(frame).unwrap().unwrap();
        assert_eq!(n, 6);
        assert_eq!(h.opcode, OpCode::Text);
        assert!(h.fin);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.payload_len, 5);
        let mut payload = frame[6..].to_vec();
        apply_mask(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
        // 256 bytes binary, unmasked, 16-bit length.
        let (h, n) = FrameHeader::parse(b"\x82\x7E\x01\x00").unwrap().unwrap();
        assert_eq!((h.payload_len, n, h.opcode), (256, 4, OpCode::Binary));
        // 64 KiB binary, 64-bit length.
        let (h, n) = FrameHeader::parse(b"\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00")
            .unwrap()
            .unwrap();
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn incomplete_header_needs_more() {
        let full = b"\x82\xFF\x00\x00\x00\x00\x00\x01\x00\x00\x01\x02\x03\x04";
        for cut in 0..full.len() {
            assert_eq!(FrameHeader::parse(&full[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(FrameHeader::parse(full).unwrap().unwrap().1, 14);
    }

    #[test]
    fn reserved_opcodes_are_refused_from_two_bytes() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_eq!(
                FrameHeader::parse(&[0x80 | op, 0x80]),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn control_frames_must_be_final_and_short() {
        assert_eq!(
            FrameHeader::parse(b"\x09\x80"),
            Err(ProtocolError::FragmentedControl)
        );
        assert_eq!(
            FrameHeader::parse(b"\x89\xFE"),
            Err(ProtocolError::ControlTooLong)
        );
        assert_eq!(
            FrameHeader::parse(b"\x88\xFF"),
            Err(ProtocolError::ControlTooLong)
        );
        assert!(FrameHeader::parse(b"\x89\xFD").unwrap().is_none());
    }

    #[test]
    fn length_with_top_bit_is_refused() {
        assert_eq!(
            FrameHeader::parse(b"\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04"),
            Err(ProtocolError::InvalidLength)
        );
    }

    #[test]
    fn non_minimal_lengths_are_accepted() {
        let (h, _) = FrameHeader::parse(b"\x81\xFE\x00\x05\x00\x00\x00\x00")
            .unwrap()
            .unwrap();
        assert_eq!(h.payload_len, 5);
        let (h, _) =
            FrameHeader::parse(b"\x81\xFF\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00")
                .unwrap()
                .unwrap();
        assert_eq!(h.payload_len, 5);
    }

    #[test]
    fn encode_round_trips_every_length_class() {
        for len in [0u64, 1, 125, 126, 127, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let h = FrameHeader {
                    fin: len % 2 == 0,
                    rsv: 0,
                    opcode: OpCode::Binary,
                    mask,
                    payload_len: len,
                };
                let mut out = [0u8; MAX_HEADER_LEN];
                let n = h.encode(&mut out);
                assert_eq!(n, h.encoded_len());
                assert_eq!(FrameHeader::parse(&out[..n]), Ok(Some((h, n))));
            }
        }
    }

    #[test]
    fn encode_writes_exact_bytes() {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = FrameHeader::new(OpCode::Text, 22).encode(&mut out);
        assert_eq!(&out[..n], b"\x81\x16");
        let n = FrameHeader::new(OpCode::Binary, 300).encode(&mut out);
        assert_eq!(&out[..n], b"\x82\x7E\x01\x2C");
    }

    #[test]
    fn masking_in_pieces_matches_whole() {
        let key = [0xA1, 0xB2, 0xC3, 0xD4];
        let data: [u8; 37] = core::array::from_fn(|i| i as u8);
        let mut whole = data;
        apply_mask(&mut whole, key, 0);
        for (i, b) in whole.iter().enumerate() {
            assert_eq!(*b, data[i] ^ key[i % 4]);
        }
        for cut in 0..data.len() {
            let mut pieces = data;
            let (a, b) = pieces.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut);
            assert_eq!(pieces, whole, "cut {cut}");
        }
    }
}
