//! The application's callbacks, with the original's four events.

use std::fmt;
use std::net::SocketAddr;

use pinsocket_core::{CloseCode, RequestHead};

use crate::connection::Connection;

pub(crate) type AcceptFn = dyn Fn(&Connection, &Request<'_>) -> Result<(), Reject> + Send + Sync;
pub(crate) type TextFn = dyn Fn(&Connection, &str) + Send + Sync;
pub(crate) type BinaryFn = dyn Fn(&Connection, &[u8]) + Send + Sync;
pub(crate) type CloseFn = dyn Fn(&Connection, CloseCode, &str) + Send + Sync;

/// The callbacks a server runs; each is optional.
#[derive(Default)]
pub(crate) struct Callbacks {
    pub(crate) accept: Option<Box<AcceptFn>>,
    pub(crate) text: Option<Box<TextFn>>,
    pub(crate) binary: Option<Box<BinaryFn>>,
    pub(crate) close: Option<Box<CloseFn>>,
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("accept", &self.accept.is_some())
            .field("text", &self.text.is_some())
            .field("binary", &self.binary.is_some())
            .field("close", &self.close.is_some())
            .finish()
    }
}

/// The upgrade request a WebSocket was opened with, as `on_accept` sees it.
pub struct Request<'a> {
    pub(crate) head: &'a RequestHead<'a, 'a>,
    pub(crate) peer: SocketAddr,
}

impl Request<'_> {
    /// The request target, e.g. `/` or `/ws?room=1`.
    pub fn path(&self) -> &str {
        self.head.target
    }

    /// The value of the first header named `name` (case-insensitive), if it
    /// is present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every header as (name, raw value), in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.head.headers.iter().map(|h| (h.name, h.value))
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("path", &self.path())
            .field("peer", &self.peer)
            .finish()
    }
}

/// `on_accept`'s refusal: the HTTP status and message the client gets
/// instead of the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl Reject {
    /// Refuses with `status` (a 4xx or 5xx code; anything else becomes 403)
    /// and a short plain-text message.
    pub fn new(status: u16, message: impl Into<String>) -> Reject {
        let status = if (400..=599).contains(&status) {
            status
        } else {
            403
        };
        Reject {
            status,
            message: message.into(),
        }
    }

    /// 403 Forbidden.
    pub fn forbidden() -> Reject {
        Reject::new(403, "forbidden")
    }
}
