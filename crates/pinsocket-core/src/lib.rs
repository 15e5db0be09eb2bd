//! The sans-IO protocol core of pinsocket: `no_std`, no allocation, no I/O.
//!
//! Everything here works on byte slices the caller owns. A parser takes what
//! bytes are available and answers "need more" without consuming, or a value
//! and how many bytes it used. The same code runs in the tokio server and on
//! a microcontroller.
//!
//! # Layout
//! - [`http`]: HTTP/1.1 request heads, with limits mapped to status codes.
//! - [`handshake`]: the WebSocket opening handshake (RFC 6455 §4.2).
//! - [`frame`]: frame headers and masking (§5.2, §5.3).
//! - [`receiver`]: bytes in, message pieces and control frames out (§5, §8).
//! - [`close`]: close codes and close frame payloads (§5.5.1, §7.4).
//! - [`utf8`]: incremental, fail-fast UTF-8 validation.
//! - [`error`]: protocol violations and their close codes.
//! - [`device`]: the board model (named outputs and inputs, levels) and how
//!   commands change it.
//! - [`command`]: the command language: JSON and the original's plain text.
//! - [`json`]: the server's JSON messages, written without allocation.
#![no_std]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod close;
pub mod command;
pub mod device;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod http;
pub mod json;
pub mod receiver;
pub mod utf8;

pub use close::{Close, CloseCode, MAX_CLOSE_REASON, encode_close_payload};
pub use command::{Command, CommandError, Refusal, SetList};
pub use device::{Change, Changes, Input, Level, Mode, Output, Pin, Pull};
pub use error::ProtocolError;
pub use frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode, apply_mask};
pub use handshake::{
    AcceptKey, HandshakeError, accept_key, is_upgrade_request, select_protocol, validate_upgrade,
    write_switching_protocols, write_switching_protocols_with,
};
pub use http::{Body, HttpError, Limits, RequestHead, parse_request};
pub use httparse::{EMPTY_HEADER, Header};
pub use receiver::{DataKind, Decoded, Event, Receiver, Role};
pub use utf8::{Utf8Error, Utf8Validator};
