//! The device server under test: a board from TOML on the simulated
//! backend, served on 127.0.0.1 at a port the OS picks, and [`DeviceWs`],
//! a client of the device protocol that reads its JSON, every wait bounded
//! by the limit the test gives.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pinsocket::RunningServer;
use pinsocket_device::{App, Config, Device, SimBoard};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};

use super::servers::any_port;
use super::ws::Ws;

/// The subprotocol the control page asks for: the device protocol.
pub(crate) const DEVICE_PROTOCOL: &str = "pinsocket";

/// The device server's default board, the original demo's: one failsafe
/// output, `led`, on line 12.
pub(crate) const LED_BOARD: &str = r#"
[[output]]
name = "led"
line = 12
failsafe = true
"#;

/// The device app for the board `toml` (on the simulated backend unless
/// the TOML says otherwise), bound to [`any_port`], its server not yet
/// started.
pub(crate) fn device_app(toml: &str) -> App {
    let config = Config::parse(toml, Path::new("test.toml")).unwrap();
    App::new(config, Some(any_port()), None).unwrap()
}

/// A running device server with a simulated board.
pub(crate) struct DeviceUnderTest {
    pub(crate) server: RunningServer,
    pub(crate) device: Device,
    pub(crate) sim: SimBoard,
}

impl DeviceUnderTest {
    /// The [`device_app`] of `toml`, started with a close timeout of 500 ms.
    pub(crate) fn start(toml: &str) -> DeviceUnderTest {
        let app = device_app(toml);
        let server = app
            .server
            .close_timeout(Duration::from_millis(500))
            .start()
            .unwrap();
        DeviceUnderTest {
            server,
            device: app.device,
            sim: app.sim.unwrap(),
        }
    }

    /// The address the server listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// `http://<addr><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// The URL the pages build from their location: `ws://<addr>/`.
    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}/", self.addr())
    }

    /// Connects a [`DeviceWs`] offering `protocol`, if any; see
    /// [`DeviceWs::connect`].
    pub(crate) async fn connect(
        &self,
        protocol: Option<&str>,
        limit: Duration,
    ) -> (DeviceWs, Response) {
        DeviceWs::connect(self.addr(), protocol, limit).await
    }

    /// A device-protocol client, every read bounded by `limit`, past the
    /// board note and the first state: the client and the board note.
    pub(crate) async fn connect_past_state(&self, limit: Duration) -> (DeviceWs, Value) {
        let (mut ws, _) = self.connect(Some(DEVICE_PROTOCOL), limit).await;
        let board = ws.next_json().await;
        assert!(ws.next_json().await.get("state").is_some());
        (ws, board)
    }

    /// Stops the server.
    pub(crate) fn shutdown(self) {
        self.server.shutdown();
    }
}

/// The upgrade request for `ws://<addr>/`, offering `protocol` in
/// `Sec-WebSocket-Protocol`, if any.
pub(crate) fn device_request(addr: SocketAddr, protocol: Option<&str>) -> Request {
    let mut request = format!("ws://{addr}/").into_client_request().unwrap();
    if let Some(protocol) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    }
    request
}

/// A tokio-tungstenite client of the device server (it answers pings as it
/// reads) whose handshake and reads each fail the test after its limit. It
/// derefs to the [`Ws`] for anything else (`close`, `next`).
pub(crate) struct DeviceWs {
    ws: Ws,
    limit: Duration,
}

impl DeviceWs {
    /// Connects to `ws://<addr>/` offering `protocol`, if any, within
    /// `limit`, which then bounds every read; returns the handshake
    /// response too.
    pub(crate) async fn connect(
        addr: SocketAddr,
        protocol: Option<&str>,
        limit: Duration,
    ) -> (DeviceWs, Response) {
        let request = device_request(addr, protocol);
        let (ws, response) = tokio::time::timeout(limit, tokio_tungstenite::connect_async(request))
            .await
            .unwrap()
            .unwrap();
        (DeviceWs { ws, limit }, response)
    }

    /// The next text message, skipping any other.
    pub(crate) async fn next_text(&mut self) -> String {
        loop {
            let msg = tokio::time::timeout(self.limit, self.ws.next())
                .await
                .expect("no message in time")
                .expect("connection ended")
                .unwrap();
            if let Message::Text(text) = msg {
                return text.to_string();
            }
        }
    }

    /// The next text message, which must be JSON.
    pub(crate) async fn next_json(&mut self) -> Value {
        serde_json::from_str(&self.next_text().await).unwrap()
    }

    /// What the next state message holds (`{"state": ...}`), skipping
    /// any other message.
    pub(crate) async fn next_state(&mut self) -> Value {
        loop {
            let msg = self.next_json().await;
            if let Some(state) = msg.get("state") {
                return state.clone();
            }
        }
    }

    /// Sends `text` as a text message.
    pub(crate) async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }
}

impl Deref for DeviceWs {
    type Target = Ws;

    fn deref(&self) -> &Ws {
        &self.ws
    }
}

impl DerefMut for DeviceWs {
    fn deref_mut(&mut self) -> &mut Ws {
        &mut self.ws
    }
}
