//! The device server end to end: real clients on 127.0.0.1 switch a
//! simulated board and watch it, as browsers do.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pinsocket::RunningServer;
use pinsocket::core::Level;
use pinsocket::device::{App, Config, Device, SimBoard};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const LIMIT: Duration = Duration::from_secs(5);

const LED_AND_BUTTON: &str = r#"
[[output]]
name = "led"
line = 12
failsafe = true

[[output]]
name = "fan"
line = 13
active_low = true

[[input]]
name = "button"
line = 17
active_low = true
"#;

struct Bench {
    server: RunningServer,
    device: Device,
    sim: SimBoard,
}

fn start(toml: &str) -> Bench {
    let config = Config::parse(toml, Path::new("test.toml")).unwrap();
    let app = App::new(config, Some("127.0.0.1:0".parse().unwrap()), None).unwrap();
    let server = app
        .server
        .close_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    Bench {
        server,
        device: app.device,
        sim: app.sim.unwrap(),
    }
}

/// A client of the device protocol: asks for the `pinsocket` subprotocol.
async fn connect(bench: &Bench) -> Ws {
    let url = format!("ws://{}/", bench.server.local_addr());
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "pinsocket".parse().unwrap());
    let (mut ws, response) = tokio::time::timeout(LIMIT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "pinsocket");
    // The simulated board says so first; the state follows.
    assert_eq!(
        next_json(&mut ws).await,
        json!({"board": {"simulated": true}})
    );
    ws
}

/// A client like the original's pages: no subprotocol, plain text.
async fn connect_plain(bench: &Bench) -> Ws {
    let url = format!("ws://{}/", bench.server.local_addr());
    let (ws, response) = tokio::time::timeout(LIMIT, tokio_tungstenite::connect_async(url))
        .await
        .unwrap()
        .unwrap();
    assert!(response.headers().get("sec-websocket-protocol").is_none());
    ws
}

/// The next text message, skipping control frames.
async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("no message in time")
            .expect("connection ended")
            .unwrap();
        if let Message::Text(text) = msg {
            return text.to_string();
        }
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    serde_json::from_str(&next_text(ws).await).unwrap()
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

fn state(version: u64, led: bool, fan: bool, button: bool) -> Value {
    json!({"state": {"version": version, "outputs": {"led": led, "fan": fan}, "inputs": {"button": button}}})
}

/// Polls `check` until it holds, for at most `LIMIT`.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < LIMIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn every_client_gets_the_state_on_connect_and_after_each_change() {
    let bench = start(LED_AND_BUTTON);
    let mut a = connect(&bench).await;
    let mut b = connect(&bench).await;
    // The button is active-low; the simulated line starts high: released.
    assert_eq!(next_json(&mut a).await, state(1, false, false, false));
    assert_eq!(next_json(&mut b).await, state(1, false, false, false));

    send(&mut a, r#"{"set":{"led":true}}"#).await;
    assert_eq!(next_json(&mut a).await, state(2, true, false, false));
    assert_eq!(next_json(&mut b).await, state(2, true, false, false));
    assert_eq!(bench.sim.line(12), Some(Level::High));

    // Active-low output: on drives the line low.
    send(&mut b, r#"{"toggle":"fan"}"#).await;
    assert_eq!(next_json(&mut a).await, state(3, true, true, false));
    assert_eq!(next_json(&mut b).await, state(3, true, true, false));
    assert_eq!(bench.sim.line(13), Some(Level::Low));

    // Several pins in one command: one change, one version; "low" and
    // "high" are levels too.
    send(&mut a, r#"{"set":{"led":false,"fan":"low"}}"#).await;
    assert_eq!(next_json(&mut b).await, state(4, false, false, false));
    assert_eq!(next_json(&mut a).await, state(4, false, false, false));

    // A command that changes nothing answers the sender with the state only.
    send(&mut a, r#"{"set":{"led":false}}"#).await;
    assert_eq!(next_json(&mut a).await, state(4, false, false, false));
    send(&mut b, r#"{"ping":5}"#).await;
    assert_eq!(next_json(&mut b).await, json!({"pong": 5}));
    drop((a, b));
    bench.server.shutdown();
}

#[tokio::test]
async fn the_original_plain_text_commands_switch_and_are_answered() {
    let bench = start("");
    // The original's page: it hears only the original's replies.
    let mut page = connect_plain(&bench).await;
    let mut other = connect(&bench).await;
    let state = |version: u64, led: bool| json!({"state": {"version": version, "outputs": {"led": led}, "inputs": {}}});
    assert_eq!(next_json(&mut other).await, state(1, false));

    send(&mut page, "HELLO from button").await;
    assert_eq!(next_text(&mut page).await, "Reply for HELLO from button");
    // The original page's spelling; the original program compared with "LEDOn".
    send(&mut page, "LEDon").await;
    assert_eq!(next_text(&mut page).await, "Reply for LEDon");
    assert_eq!(next_json(&mut other).await, state(2, true));
    assert_eq!(bench.sim.level("led"), Some(Level::High));

    send(&mut page, "LEDOFF").await;
    assert_eq!(next_text(&mut page).await, "Reply for LEDOFF");
    assert_eq!(next_json(&mut other).await, state(3, false));
    assert_eq!(bench.sim.level("led"), Some(Level::Low));

    // A device-protocol client may use the plain language too.
    send(&mut other, "ledOn").await;
    assert_eq!(next_json(&mut other).await, state(4, true));
    assert_eq!(next_text(&mut other).await, "Reply for ledOn");

    // A plain client that speaks JSON is sent the state from then on.
    send(&mut page, r#"{"ping":3}"#).await;
    assert_eq!(
        next_json(&mut page).await,
        json!({"board": {"simulated": true}})
    );
    assert_eq!(next_json(&mut page).await, state(4, true));
    assert_eq!(next_json(&mut page).await, json!({"pong": 3}));
    send(&mut other, "LEDoff").await;
    assert_eq!(next_json(&mut page).await, state(5, false));
    drop((page, other));
    bench.server.shutdown();
}

#[tokio::test]
async fn bad_commands_get_an_error_and_change_nothing() {
    let bench = start(LED_AND_BUTTON);
    let mut ws = connect(&bench).await;
    next_json(&mut ws).await;
    let before = bench.device.snapshot();
    let cases = [
        (r#"{"set":{"nope":true}}"#, "unknown_pin"),
        (r#"{"toggle":"nope"}"#, "unknown_pin"),
        (r#"{"set":{"led":"yes"}}"#, "wrong_type"),
        (r#"{"toggle":1}"#, "wrong_type"),
        (r#"{"set":{"button":true}}"#, "not_an_output"),
        (r#"{"toggle":"button"}"#, "not_an_output"),
        (r#"{"set":{"led":true,"nope":true}}"#, "unknown_pin"),
        (r#"{"set":{"led":true"#, "bad_json"),
        ("{", "bad_json"),
        (r#"{"jump":1}"#, "bad_command"),
        (r#"{"set":{"led":true},"toggle":"led"}"#, "bad_command"),
        (r#"{"simulate":{"led":true}}"#, "not_an_input"),
    ];
    for (msg, code) in cases {
        send(&mut ws, msg).await;
        let reply = next_json(&mut ws).await;
        assert_eq!(reply["error"]["code"], code, "{msg} -> {reply}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Refusals about one pin name it.
    send(&mut ws, r#"{"set":{"led":true,"nope":true}}"#).await;
    assert_eq!(
        next_json(&mut ws).await,
        json!({"error": {"code": "unknown_pin", "message": "no pin named \"nope\""}})
    );
    // More than 16 pins in one set has an error of its own.
    let many: Vec<String> = (0..17).map(|i| format!(r#""p{i}":true"#)).collect();
    send(&mut ws, &format!(r#"{{"set":{{{}}}}}"#, many.join(","))).await;
    assert_eq!(next_json(&mut ws).await["error"]["code"], "too_many_pins");
    // Oversized JSON, still under the message limit: an error, not a close.
    let big = format!(r#"{{"set":{{"led":true}},"pad":"{}"}}"#, "x".repeat(2000));
    send(&mut ws, &big).await;
    assert_eq!(next_json(&mut ws).await["error"]["code"], "too_large");
    assert_eq!(bench.device.snapshot(), before);
    assert_eq!(bench.sim.level("led"), Some(Level::Low));
    // Still open and answering.
    send(&mut ws, r#"{"ping":1}"#).await;
    assert_eq!(next_json(&mut ws).await, json!({"pong": 1}));
    drop(ws);
    bench.server.shutdown();
}

#[tokio::test]
async fn input_edges_reach_every_client() {
    let bench = start(LED_AND_BUTTON);
    let mut a = connect(&bench).await;
    let mut b = connect(&bench).await;
    next_json(&mut a).await;
    next_json(&mut b).await;
    // Pressed: the active-low line goes low, the input reads high.
    assert!(bench.sim.set_input("button", Level::Low));
    for ws in [&mut a, &mut b] {
        assert_eq!(
            next_json(ws).await,
            json!({"event": {"input": "button", "level": "high"}})
        );
        assert_eq!(next_json(ws).await, state(2, false, false, true));
    }
    // Released.
    assert!(bench.sim.set_input("button", Level::High));
    for ws in [&mut a, &mut b] {
        assert_eq!(
            next_json(ws).await,
            json!({"event": {"input": "button", "level": "low"}})
        );
        assert_eq!(next_json(ws).await, state(3, false, false, false));
    }
    assert!(!bench.sim.set_input("nope", Level::High));
    drop((a, b));
    bench.server.shutdown();
}

/// A failsafe output no client controls — here one that starts on — goes
/// safe when the last client leaves, not before. (Outputs a client
/// switched on follow their controller: see tests/failsafe.rs.)
#[tokio::test]
async fn failsafe_outputs_go_safe_when_the_last_client_leaves() {
    let bench = start(&LED_AND_BUTTON.replacen(
        "failsafe = true",
        "failsafe = true\ninitial = \"high\"",
        1,
    ));
    let mut a = connect(&bench).await;
    let mut b = connect(&bench).await;
    assert_eq!(next_json(&mut a).await, state(1, true, false, false));
    next_json(&mut b).await;
    send(&mut a, r#"{"set":{"fan":true}}"#).await;
    next_json(&mut a).await;
    next_json(&mut b).await;
    a.close(None).await.unwrap();
    drop(a);
    // One client is left: nothing changes.
    eventually("one client left", || bench.server.clients().len() == 1).await;
    assert_eq!(bench.sim.level("led"), Some(Level::High));
    b.close(None).await.unwrap();
    drop(b);
    eventually("led back to its safe level", || {
        bench.sim.level("led") == Some(Level::Low)
    })
    .await;
    // `fan` is not failsafe: it stays on (active-low: its line stays low).
    assert_eq!(bench.sim.level("fan"), Some(Level::Low));
    let mut c = connect(&bench).await;
    assert_eq!(next_json(&mut c).await, state(3, false, true, false));
    drop(c);
    bench.server.shutdown();
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_hold_up_the_others_and_is_closed() {
    let bench = start(&format!(
        "[limits]\nmax_send_queue = 16384\nsend_timeout = 1\n{LED_AND_BUTTON}"
    ));
    // The stuck client: handshake, then never read. A small receive buffer
    // makes its socket fill quickly.
    let addr = bench.server.local_addr();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let mut request = format!("ws://{addr}/").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "pinsocket".parse().unwrap());
    let (stuck, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    let mut fast = connect(&bench).await;
    next_json(&mut fast).await;
    assert_eq!(bench.server.clients().len(), 2);

    // Input edges: each is an event (never coalesced) and a state.
    let mut worst = Duration::ZERO;
    // The released button's line is high; each toggle is an edge.
    let mut level = Level::High;
    let mut edges = 0u64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while bench.server.clients().len() == 2 {
        assert!(
            Instant::now() < deadline,
            "the stuck client was never closed"
        );
        level = level.toggled();
        let sent = Instant::now();
        bench.sim.set_input("button", level);
        edges += 1;
        next_json(&mut fast).await; // the event
        let state = next_json(&mut fast).await;
        worst = worst.max(sent.elapsed());
        assert_eq!(state["state"]["version"], edges + 1);
    }
    // Every update reached the reading client while the stuck one was
    // still connected (each wait above is bounded by LIMIT): a stuck client
    // holds up no one. How long they took, for the record:
    eprintln!("{edges} edges; the slowest reached the reading client in {worst:?}");
    assert!(edges > 10, "closed after only {edges} edges");
    eventually("the stuck client removed", || {
        bench.server.clients().len() == 1
    })
    .await;
    drop((stuck, fast));
    bench.server.shutdown();
}

#[tokio::test]
async fn simulated_inputs_can_be_driven_by_clients() {
    let bench = start(LED_AND_BUTTON);
    let mut a = connect(&bench).await;
    let mut b = connect(&bench).await;
    next_json(&mut a).await;
    next_json(&mut b).await;
    // Pressed: logically high; the active-low line goes low.
    send(&mut a, r#"{"simulate":{"button":true}}"#).await;
    for ws in [&mut a, &mut b] {
        assert_eq!(
            next_json(ws).await,
            json!({"event": {"input": "button", "level": "high"}})
        );
        assert_eq!(next_json(ws).await, state(2, false, false, true));
    }
    assert_eq!(bench.sim.level("button"), Some(Level::Low));
    // Already pressed: nothing changes, nothing is sent.
    send(&mut a, r#"{"simulate":{"button":"high"}}"#).await;
    send(&mut a, r#"{"ping":1}"#).await;
    assert_eq!(next_json(&mut a).await, json!({"pong": 1}));
    drop((a, b));
    bench.server.shutdown();
}

/// A backend of real hardware (here a stand-in): inputs cannot be simulated.
struct Hardware;

impl pinsocket::device::Backend for Hardware {
    fn set_output(&mut self, _: usize, _: Level) -> Result<(), pinsocket::device::BackendError> {
        Ok(())
    }

    fn read_input(&mut self, _: usize) -> Result<Level, pinsocket::device::BackendError> {
        // The active-low button, released.
        Ok(Level::High)
    }
}

#[tokio::test]
async fn real_hardware_refuses_simulated_inputs() {
    let config = Config::parse(LED_AND_BUTTON, Path::new("test.toml")).unwrap();
    let device = Device::new(config.board, |_, _| Ok(Hardware)).unwrap();
    let server = device
        .serve(pinsocket::Server::new().bind("127.0.0.1:0".parse().unwrap()))
        .close_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let mut request = format!("ws://{}/", server.local_addr())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "pinsocket".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    // No board message for real hardware: the state comes first.
    assert_eq!(next_json(&mut ws).await, state(1, false, false, false));
    send(&mut ws, r#"{"simulate":{"button":true}}"#).await;
    assert_eq!(next_json(&mut ws).await["error"]["code"], "not_simulated");
    assert_eq!(device.snapshot().version, 1);
    drop(ws);
    server.shutdown();
}
