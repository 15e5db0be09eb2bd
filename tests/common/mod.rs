//! Helpers shared by the integration tests, one file per concern and all
//! re-exported here, so that a test says `use common::X` whatever file `X`
//! lives in:
//!
//! - `wait.rs`: bounded waits ([`WAIT`], [`within`], [`wait_until`],
//!   [`poll_until`]);
//! - `tcp.rs`: plain TCP under the hand-written clients;
//! - `http.rs`: raw HTTP requests and a response reader;
//! - `frames.rs`: WebSocket frames as bytes, the tests' one frame builder;
//! - `raw_ws.rs`: a WebSocket client by hand, [`RawWs`];
//! - `ws.rs`: tokio-tungstenite as the client, [`Ws`];
//! - `messages.rs`: numbered message payloads;
//! - `servers.rs`: the servers under test and what they report;
//! - `device.rs`: the device server under test and its JSON clients;
//! - `system.rs`: throwaway folders, resident memory and the open-file
//!   limit;
//! - `binary.rs`: the `pinsocket` binary as a child process, [`Pinsocket`]
//!   and [`run_to_exit`];
//! - `browser.rs`: headless chromium through chromedriver, [`Browser`],
//!   and [`browser_test`], which skips loudly where it is not installed.
//!
//! Each test file uses a subset of these, hence the `dead_code` and
//! `unused_imports` allowances.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

mod binary;
mod browser;
mod device;
mod frames;
mod http;
mod messages;
mod raw_ws;
mod servers;
mod system;
mod tcp;
mod wait;
mod ws;

pub(crate) use binary::*;
pub(crate) use browser::*;
pub(crate) use device::*;
pub(crate) use frames::*;
pub(crate) use http::*;
pub(crate) use messages::*;
pub(crate) use raw_ws::*;
pub(crate) use servers::*;
pub(crate) use system::*;
pub(crate) use tcp::*;
pub(crate) use wait::*;
pub(crate) use ws::*;
