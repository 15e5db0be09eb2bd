//! https and wss (the `tls` feature): an in-process TLS terminator in front
//! of the unchanged plain server.
//!
//! The public listener belongs to the terminator. For each connection it
//! peeks the first byte (plain HTTP is answered 400, pointing at the
//! https:// address), runs the TLS handshake within the header timeout,
//! then connects to the plain server's private listener on 127.0.0.1 and
//! copies bytes both ways, half-closes included, so the WebSocket close
//! handshake goes through. Before connecting it registers its side's port
//! with the real peer address and the connection's place under
//! `max_connections` ([`Handoffs`]); the accept loop claims that entry and
//! serves the connection as coming from the real peer, and closes at once
//! any connection on the private listener that nobody registered. The
//! plain path (sessions resting on socket readiness, `writev` on the raw
//! socket) does not change: it runs on the inner connection.
//!
//! - `identity`: [`TlsConfig`], a certificate chain and key from PEM.
//! - `handoff`: [`Handoffs`], the inner connections the terminator made.
//! - `terminator`: [`Terminator`], the public listener and one task per
//!   connection.
//! - `plain`: the answer to plain HTTP on the TLS port.
//! - `off`: without the feature, the same names, none of which can exist.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

#[cfg(feature = "tls")]
mod handoff;
#[cfg(feature = "tls")]
mod identity;
#[cfg(not(feature = "tls"))]
mod off;
#[cfg(feature = "tls")]
mod plain;
#[cfg(feature = "tls")]
mod terminator;

#[cfg(feature = "tls")]
pub(crate) use handoff::Handoffs;
#[cfg(feature = "tls")]
pub use identity::TlsConfig;
#[cfg(feature = "tls")]
pub(crate) use identity::TlsSetting;
#[cfg(not(feature = "tls"))]
pub(crate) use off::{Handoffs, Terminator, TlsSetting};
#[cfg(feature = "tls")]
pub(crate) use terminator::Terminator;

/// Where the plain server listens behind the terminator: loopback, a port
/// the system picks and only this server knows.
pub(crate) const PRIVATE_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
