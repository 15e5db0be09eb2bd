//! A real WebSocket client, tokio-tungstenite, with every step bounded by
//! [`WAIT`](super::WAIT).

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::wait::within;

/// A tokio-tungstenite client.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects a tokio-tungstenite client to `ws://addr{path}`.
pub(crate) async fn ws_connect(addr: SocketAddr, path: &str) -> Ws {
    let url = format!("ws://{addr}{path}");
    let (ws, response) = within("websocket handshake", tokio_tungstenite::connect_async(url))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    ws
}

/// The next message, which must come within [`WAIT`](super::WAIT).
pub(crate) async fn next_message(ws: &mut Ws) -> Message {
    within("next message", ws.next())
        .await
        .expect("stream ended")
        .unwrap()
}

/// Sends a message.
pub(crate) async fn send(ws: &mut Ws, msg: Message) {
    within("send", ws.send(msg)).await.unwrap();
}

/// Runs the closing handshake from the client side and waits for the
/// server to end the stream, then drops the socket.
pub(crate) async fn close_ws(mut ws: Ws) {
    within("send close", ws.close(None)).await.unwrap();
    drain(&mut ws).await;
}

/// Reads until the stream ends (the server closed TCP), ignoring what
/// comes before (pongs, messages, a close frame).
pub(crate) async fn drain(ws: &mut Ws) {
    within("end of stream", async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}
