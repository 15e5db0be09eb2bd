//! What the hub's state lock protects: the level of every pin, who
//! controls each failsafe output, the clients and the backend.

use std::collections::HashMap;
use std::sync::Arc;

use pinsocket::Connection;
use pinsocket_core::Level;

use super::clients::Client;
use crate::backend::Backend;

/// The board's state, behind [`Hub`](super::Hub)'s state lock.
pub(super) struct HubState {
    /// Logical level of each pin.
    pub(super) levels: Vec<Level>,
    /// For each failsafe output away from its safe level, the client that
    /// controls it (see [`Device`](super::Device)).
    pub(super) controlled_by: Vec<Option<u64>>,
    /// Every connected client.
    pub(super) clients: HashMap<u64, Client>,
    /// The subscribed clients, rebuilt after a client subscribes or leaves.
    pub(super) subscribers: Option<Arc<[Connection]>>,
    /// Grows by one with every change sent.
    pub(super) version: u64,
    /// The hardware; set once the backend is open and its inputs read.
    pub(super) backend: Option<Box<dyn Backend>>,
}

impl std::fmt::Debug for HubState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubState")
            .field("levels", &self.levels)
            .field("controlled_by", &self.controlled_by)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}
