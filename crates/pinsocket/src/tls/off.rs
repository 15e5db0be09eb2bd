//! Without the `tls` feature: the names the server uses, as types with no
//! values, so no TLS setting can be made and the code that handles one
//! compiles to nothing.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::server::{ServerShared, Tracked};

/// A TLS setting, which this build cannot have.
#[derive(Debug)]
pub(crate) enum TlsSetting {}

/// The terminator's registry, which this build never makes.
#[derive(Debug)]
pub(crate) enum Handoffs {}

impl Handoffs {
    pub(crate) fn claim(&self, _from: SocketAddr) -> Option<(SocketAddr, Tracked)> {
        match *self {}
    }
}

/// The TLS terminator, which this build never makes.
pub(crate) enum Terminator {}

impl Terminator {
    /// Always `None`: no setting can exist.
    pub(crate) fn load(setting: Option<TlsSetting>) -> io::Result<Option<Terminator>> {
        match setting {
            None => Ok(None),
            Some(never) => match never {},
        }
    }

    pub(crate) fn handoffs(&self) -> Arc<Handoffs> {
        match *self {}
    }

    pub(crate) async fn run(
        self,
        _inner: Arc<ServerShared>,
        _public: TcpListener,
        _plain: SocketAddr,
    ) {
        match self {}
    }
}
