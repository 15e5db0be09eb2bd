//! The device server end to end: real clients on 127.0.0.1 switch a
//! simulated board and watch it, as browsers do.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    DEVICE_PROTOCOL, DeviceUnderTest, DeviceWs, any_port, connect_small_receive_buffer,
    device_request, wait_until,
};
use pinsocket_device::Level;
use pinsocket_device::{Config, Device};
use serde_json::{Value, json};

/// Bounds every wait of these tests, a client's reads included.
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

/// A client of the device protocol: asks for the `pinsocket` subprotocol.
async fn connect(bench: &DeviceUnderTest) -> DeviceWs {
    let (mut ws, response) = bench.connect(Some(DEVICE_PROTOCOL), LIMIT).await;
    assert_eq!(response.headers()["sec-websocket-protocol"], "pinsocket");
    // The simulated board says so first; the state follows.
    assert_eq!(ws.next_json().await, json!({"board": {"simulated": true}}));
    ws
}

/// A client like the original's pages: no subprotocol, plain text.
async fn connect_plain(bench: &DeviceUnderTest) -> DeviceWs {
    let (ws, response) = bench.connect(None, LIMIT).await;
    assert!(response.headers().get("sec-websocket-protocol").is_none());
    ws
}

fn state(version: u64, led: bool, fan: bool, button: bool) -> Value {
    json!({"state": {"version": version, "outputs": {"led": led, "fan": fan}, "inputs": {"button": button}}})
}

#[tokio::test]
async fn every_client_gets_the_state_on_connect_and_after_each_change() {
    let bench = DeviceUnderTest::start(LED_AND_BUTTON);
    let mut a = connect(&bench).await;
    let mut b = connect(&bench).await;
    // The button is active-low; the simulated line starts high: released.
    assert_eq!(a.next_json().await, state(1, false, false, false));
    assert_eq!(b.next_json().await, state(1, false, false, false));

    a.send(r#"{"set":{"led":true}}"#).await;
    assert_eq!(a.next_json().await, state(2, true, false, false));
    assert_eq!(b.next_json().await, state(2, true, false, false));
    assert_eq!(bench.sim.line(12), Some(Level::High));

    // Active-low output: on drives the line low.
    b.send(r#"{"toggle":"fan"}"#).await;
    assert_eq!(a.next_json().await, state(3, true, true, false));
    assert_eq!(b.next_json().await, state(3, true, true, false));
    assert_eq!(bench.sim.line(13), Some(Level::Low));

    // Several pins in one command: one change, one version; "low" and
    // "high" are levels too.
    a.send(r#"{"set":{"led":false,"fan":"low"}}"#).await;
    assert_eq!(b.next_json().await, state(4, false, false, false));
    assert_eq!(a.next_json().await, state(4, false, false, false));

    // A command that changes nothing answers the sender with the state only.
    a.send(r#"{"set":{"led":false}}"#).await;
    assert_eq!(a.next_json().await, state(4, false, false, false));
    b.send(r#"{"ping":5}"#).await;
    assert_eq!(b.next_json().await, json!({"pong": 5}));
    drop((a, b));
    bench.server.shutdown();
}

#[tokio::test]
async fn the_original_plain_text_commands_switch_and_are_answered() {
    let bench = DeviceUnderTest::start("");
    // The original's page: it hears only the original's replies.
    let mut page = connect_plain(&bench).await;
    let mut other = connect(&bench).await;
    let state = |version: u64, led: bool| json!({"state": {"version": version, "outputs": {"led": led}, "inputs": {}}});
    assert_eq!(other.next_json().await, state(1, false));

    page.send("HELLO from button").await;
    assert_eq!(page.next_text().await, "Reply for HELLO from button");
    // The original page's spelling; the original program compared with "LEDOn".
    page.send("LEDon").await;
    assert_eq!(page.next_text().await, "Reply for LEDon");
    assert_eq!(other.next_json().await, state(2, true));
    assert_eq!(bench.sim.level("led"), Some(Level::High));

    page.send("LEDOFF").await;
    assert_eq!(page.next_text().await, "Reply for LEDOFF");
    assert_eq!(other.next_json().await, state(3, false));
    assert_eq!(bench.sim.level("led"), Some(Level::Low));

    // A device-protocol client may use the plain language too.
    other.send("ledOn").await;
    assert_eq!(other.next_json().await, state(4, true));
    assert_eq!(other.next_text().await, "Reply for ledOn");

    // A plain client that speaks JSON is sent the state from then on.
    page.send(r#"{"ping":3}"#).await;
    assert_eq!(
        page.next_json().await,
        json!({"board": {"simulated": true}})
    );
    assert_eq!(page.next_json().await, state(4, true));
    assert_eq!(page.next_json().await, json!({"pong": 3}));
    other.send("LEDoff").await;
    assert_eq!(page.next_json().await, state(5, false));
    drop((page, other));
    bench.server.shutdown();
}

#[tokio::test]
async fn bad_commands_get_an_error_and_change_nothing() {
    let bench = DeviceUnderTest::start(LED_AND_BUTTON);
    let mut ws = connect(&bench).await;
    ws.next_json().await;
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
        // Named twice: it would be driven twice, a pulse.
        (r#"{"set":{"led":true,"led":false}}"#, "duplicate_pin"),
        (
            r#"{"simulate":{"button":true,"button":false}}"#,
            "duplicate_pin",
        ),
    ];
    for (msg, code) in cases {
        ws.send(msg).await;
        let reply = ws.next_json().await;
        assert_eq!(reply["error"]["code"], code, "{msg} -> {reply}");
        assert!(
            reply["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // Refusals about one pin name it.
    ws.send(r#"{"set":{"led":true,"nope":true}}"#).await;
    assert_eq!(
        ws.next_json().await,
        json!({"error": {"code": "unknown_pin", "message": "no pin named \"nope\""}})
    );
    // More than 16 pins in one set has an error of its own.
    let many: Vec<String> = (0..17).map(|i| format!(r#""p{i}":true"#)).collect();
    ws.send(&format!(r#"{{"set":{{{}}}}}"#, many.join(",")))
        .await;
    assert_eq!(ws.next_json().await["error"]["code"], "too_many_pins");
    // Oversized JSON, still under the message limit: an error, not a close.
    let big = format!(r#"{{"set":{{"led":true}},"pad":"{}"}}"#, "x".repeat(2000));
    ws.send(&big).await;
    assert_eq!(ws.next_json().await["error"]["code"], "too_large");
    assert_eq!(bench.device.snapshot(), before);
    assert_eq!(bench.sim.level("led"), Some(Level::Low));
    // Still open and answering.
    ws.send(r#"{"ping":1}"#).await;
    assert_eq!(ws.next_json().await, json!({"pong": 1}));
    drop(ws);
    bench.server.shutdown();
}

#[tokio::test]
async fn input_edges_reach_every_client() {
    let bench = DeviceUnderTest::start(LED_AND_BUTTON);
    let mut a = connect(&bench).await;
    let mut b = connect(&bench).await;
    a.next_json().await;
    b.next_json().await;
    // Pressed: the active-low line goes low, the input reads high.
    assert!(bench.sim.set_input("button", Level::Low));
    for ws in [&mut a, &mut b] {
        assert_eq!(
            ws.next_json().await,
            json!({"event": {"input": "button", "level": "high"}})
        );
        assert_eq!(ws.next_json().await, state(2, false, false, true));
    }
    // Released.
    assert!(bench.sim.set_input("button", Level::High));
    for ws in [&mut a, &mut b] {
        assert_eq!(
            ws.next_json().await,
            json!({"event": {"input": "button", "level": "low"}})
        );
        assert_eq!(ws.next_json().await, state(3, false, false, false));
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
    let bench = DeviceUnderTest::start(&LED_AND_BUTTON.replacen(
        "failsafe = true",
        "failsafe = true\ninitial = \"high\"",
        1,
    ));
    let mut a = connect(&bench).await;
    let mut b = connect(&bench).await;
    assert_eq!(a.next_json().await, state(1, true, false, false));
    b.next_json().await;
    a.send(r#"{"set":{"fan":true}}"#).await;
    a.next_json().await;
    b.next_json().await;
    a.close(None).await.unwrap();
    drop(a);
    // One client is left: nothing changes.
    wait_until("one client left", LIMIT, || {
        bench.server.clients().len() == 1
    })
    .await;
    assert_eq!(bench.sim.level("led"), Some(Level::High));
    b.close(None).await.unwrap();
    drop(b);
    wait_until("led back to its safe level", LIMIT, || {
        bench.sim.level("led") == Some(Level::Low)
    })
    .await;
    // `fan` is not failsafe: it stays on (active-low: its line stays low).
    assert_eq!(bench.sim.level("fan"), Some(Level::Low));
    let mut c = connect(&bench).await;
    assert_eq!(c.next_json().await, state(3, false, true, false));
    drop(c);
    bench.server.shutdown();
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_hold_up_the_others_and_is_closed() {
    let bench = DeviceUnderTest::start(&format!(
        "[limits]\nmax_send_queue = 16384\nsend_timeout = 1\n{LED_AND_BUTTON}"
    ));
    // The stuck client: handshake, then never read. A small receive buffer
    // makes its socket fill quickly.
    let addr = bench.addr();
    let stream = connect_small_receive_buffer(addr).await;
    let request = device_request(addr, Some(DEVICE_PROTOCOL));
    let (stuck, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    let mut fast = connect(&bench).await;
    fast.next_json().await;
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
        fast.next_json().await; // the event
        let state = fast.next_json().await;
        worst = worst.max(sent.elapsed());
        assert_eq!(state["state"]["version"], edges + 1);
    }
    // Every update reached the reading client while the stuck one was
    // still connected (each wait above is bounded by LIMIT): a stuck client
    // holds up no one. How long they took, for the record:
    eprintln!("{edges} edges; the slowest reached the reading client in {worst:?}");
    assert!(edges > 10, "closed after only {edges} edges");
    wait_until("the stuck client removed", LIMIT, || {
        bench.server.clients().len() == 1
    })
    .await;
    drop((stuck, fast));
    bench.server.shutdown();
}

#[tokio::test]
async fn simulated_inputs_can_be_driven_by_clients() {
    let bench = DeviceUnderTest::start(LED_AND_BUTTON);
    let mut a = connect(&bench).await;
    let mut b = connect(&bench).await;
    a.next_json().await;
    b.next_json().await;
    // Pressed: logically high; the active-low line goes low.
    a.send(r#"{"simulate":{"button":true}}"#).await;
    for ws in [&mut a, &mut b] {
        assert_eq!(
            ws.next_json().await,
            json!({"event": {"input": "button", "level": "high"}})
        );
        assert_eq!(ws.next_json().await, state(2, false, false, true));
    }
    assert_eq!(bench.sim.level("button"), Some(Level::Low));
    // Already pressed: nothing changes, nothing is sent.
    a.send(r#"{"simulate":{"button":"high"}}"#).await;
    a.send(r#"{"ping":1}"#).await;
    assert_eq!(a.next_json().await, json!({"pong": 1}));
    drop((a, b));
    bench.server.shutdown();
}

/// A backend of real hardware (here a stand-in): inputs cannot be simulated.
struct Hardware;

impl pinsocket_device::Backend for Hardware {
    fn set_output(&mut self, _: usize, _: Level) -> Result<(), pinsocket_device::BackendError> {
        Ok(())
    }

    fn read_input(&mut self, _: usize) -> Result<Level, pinsocket_device::BackendError> {
        // The active-low button, released.
        Ok(Level::High)
    }
}

#[tokio::test]
async fn real_hardware_refuses_simulated_inputs() {
    let config = Config::parse(LED_AND_BUTTON, Path::new("test.toml")).unwrap();
    let device = Device::new(config.board, |_, _| Ok(Hardware)).unwrap();
    let server = device
        .serve(pinsocket::Server::new().bind(any_port()))
        .close_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let (mut ws, _) = DeviceWs::connect(server.local_addr(), Some(DEVICE_PROTOCOL), LIMIT).await;
    // No board message for real hardware: the state comes first.
    assert_eq!(ws.next_json().await, state(1, false, false, false));
    ws.send(r#"{"simulate":{"button":true}}"#).await;
    assert_eq!(ws.next_json().await["error"]["code"], "not_simulated");
    assert_eq!(device.snapshot().version, 1);
    drop(ws);
    server.shutdown();
}
