//! The sans-IO protocol core of pinsocket: `no_std`, no allocation, no I/O.
//!
//! Everything here works on byte slices the caller owns. A parser takes what
//! bytes are available and answers "need more" without consuming, or a value
//! and how many bytes it used. The same code runs in the tokio server and on
//! a microcontroller.
//!
//! Every item is at the crate root; the modules behind it are private:
//! - `http`: HTTP/1.1 request heads ([`parse_request`]), with limits
//!   ([`HeadLimits`]) mapped to status codes.
//! - `handshake`: the WebSocket opening handshake ([`validate_upgrade`],
//!   RFC 6455 §4.2).
//! - `frame`: frame headers and masking ([`FrameHeader`], §5.2, §5.3).
//! - `receiver`: bytes in, message pieces and control frames out
//!   ([`Receiver`], §5, §8).
//! - `close`: close codes and close frame payloads ([`CloseCode`], §5.5.1,
//!   §7.4).
//! - `utf8`: incremental, fail-fast UTF-8 validation ([`Utf8Validator`]).
//! - `error`: protocol violations and their close codes ([`ProtocolError`]).
//!
//! With the `device` feature (on by default), the device language that the
//! Linux server and the firmware share:
//! - `board`: the board model (named outputs and inputs, [`Level`]s) and how
//!   commands change it ([`resolve_command`]).
//! - `command`: the command language, JSON and the original's plain text
//!   ([`parse_command`]).
//! - `json`: the server's JSON messages, written without allocation
//!   ([`encode_state`]).
//!
//! A WebSocket library that needs none of it turns the feature off and
//! compiles no serde.
#![no_std]
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "device")]
mod board;
mod close;
#[cfg(feature = "device")]
mod command;
mod error;
mod frame;
mod handshake;
mod http;
#[cfg(feature = "device")]
mod json;
mod receiver;
mod utf8;

#[cfg(feature = "device")]
pub use board::{
    Change, Changes, Input, Level, Mode, Output, Pin, Pull, find_pin, resolve_command,
    resolve_simulate,
};
pub use close::{Close, CloseCode, MAX_CLOSE_REASON, encode_close_payload};
#[cfg(feature = "device")]
pub use command::{
    Command, CommandError, MAX_JSON_LEN, MAX_NAME_SHOWN, MAX_SET, Refusal, SetList, parse_command,
    plain_switch,
};
pub use error::ProtocolError;
pub use frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode, apply_mask};
pub use handshake::{
    AcceptKey, HandshakeError, accept_key, is_upgrade_request, select_protocol, validate_upgrade,
    write_switching_protocols, write_switching_protocols_with,
};
pub use http::{Body, HeadLimits, HttpError, RequestHead, parse_request, trim_ows};
pub use httparse::{EMPTY_HEADER, Header};
#[cfg(feature = "device")]
pub use json::{
    MAX_ERROR_LEN, MAX_PONG_LEN, Overflow, encode_error, encode_event, encode_pong, encode_refusal,
    encode_state,
};
pub use receiver::{DataKind, Decoded, Event, Receiver, Role};
pub use utf8::{Utf8Error, Utf8Validator};
