//! A panic anywhere in the process — a bug — puts every output of the
//! device in its safe state and tells the clients. In a file of its own:
//! the panic hook acts on every device of the process, so no other test
//! may share it.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pinsocket::core::Level;
use pinsocket::device::{App, Config};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_panic_in_any_thread_drives_every_output_safe_and_tells_the_clients() {
    let board = "[[output]]\nname = \"led\"\nline = 12\nfailsafe = true\n\
                 [[output]]\nname = \"fan\"\nline = 13\n";
    let config = Config::parse(board, Path::new("test.toml")).unwrap();
    let app = App::new(config, Some("127.0.0.1:0".parse().unwrap()), None).unwrap();
    let sim = app.sim.clone().unwrap();
    let server = app
        .server
        .close_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let mut request = format!("ws://{}/", server.local_addr())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "pinsocket".parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let (mut sink, mut stream) = ws.split();
    let mut next_state = async || loop {
        let msg = tokio::time::timeout(LIMIT, stream.next())
            .await
            .expect("no message in time")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = msg {
            let msg: Value = serde_json::from_str(&text).unwrap();
            if let Some(state) = msg.get("state") {
                return state.clone();
            }
        }
    };
    assert_eq!(next_state().await["version"], 1);
    sink.send(Message::text(r#"{"set":{"led":true,"fan":true}}"#))
        .await
        .unwrap();
    assert_eq!(next_state().await["outputs"]["fan"], true);
    assert_eq!(sim.level("fan"), Some(Level::High));

    // Some thread of the process panics: a bug somewhere.
    let crashed = std::thread::spawn(|| panic!("a bug in some thread")).join();
    assert!(crashed.is_err());
    // By the time the panic is done unwinding, the outputs are safe...
    assert_eq!(sim.level("led"), Some(Level::Low));
    assert_eq!(sim.level("fan"), Some(Level::Low));
    // ...and the client is told.
    let state = next_state().await;
    assert_eq!(state["outputs"]["led"], false);
    assert_eq!(state["outputs"]["fan"], false);
    assert_eq!(state["version"], 3);
    drop(sink);
    server.shutdown();
}
