//! Serve pages and WebSockets on one port, the way MicroWebSrv does on an
//! ESP32, but in Rust on tokio: a web root, a message size limit, callbacks
//! for accept, text, binary and close, and handles that send from anywhere.
//!
//! ```no_run
//! use pinsocket::Server;
//!
//! Server::new()
//!     .bind("127.0.0.1:8080".parse().unwrap())
//!     .on_text(|conn, msg| {
//!         let _ = conn.send_text(&format!("Reply for {msg}"));
//!     })
//!     .run()
//!     .unwrap();
//! ```
//!
//! # Layout
//! - `server`: the [`Server`] builder, the accept loop, start/run/shutdown.
//! - `http_conn`: one TCP connection's HTTP side and the upgrade.
//! - `static_files`: files from a folder or compiled in, safely resolved.
//! - `session`: one WebSocket: read, dispatch, write, close.
//! - `connection`: the [`Connection`] handle and its send queue.
//! - `clients`: the set of open WebSockets, broadcast, the ping sweep.
//! - `access`: [`Access`], who may use the server: Host, Origin, token.
//! - `callbacks`: the callback types, [`Request`] and [`Reject`].
//! - `response`: HTTP response heads.
//! - `pages`: the pages compiled in.
//! - `tls`: https and wss (the `tls` feature), a TLS terminator in
//!   front of the plain server.
//!
//! The protocol itself (HTTP heads, handshake, framing) is the sans-IO
//! `pinsocket-core` crate; the device server built on this library is
//! `pinsocket-device`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod access;
mod callbacks;
mod clients;
mod connection;
mod http_conn;
mod pages;
mod response;
mod server;
mod session;
mod static_files;
mod tls;

pub use access::Access;
pub use callbacks::{Reject, Request};
pub use clients::Clients;
pub use connection::{Connection, Prepared, SendError};
pub use pages::PAGES;
pub use pinsocket_core::{CloseCode, HeadLimits};
pub use server::{RunningServer, Server, StopSignals, shutdown_signal};
pub use static_files::Page;
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
