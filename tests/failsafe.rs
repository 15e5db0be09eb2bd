//! The failsafe, end to end: the client that switched a failsafe output on
//! controls it, and the output goes safe when that client leaves or goes
//! silent, whoever else is watching; hardware that fails part-way leaves
//! nothing half-done; outputs go safe when the device goes away.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{DeviceUnderTest, DeviceWs, OP_TEXT, RawWs, WAIT, client_frame};
use futures_util::StreamExt;
use pinsocket_device::Level;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Two failsafe outputs and one that is not, and a button.
const BOARD: &str = r#"
[[output]]
name = "led"
line = 12
failsafe = true

[[output]]
name = "motor"
line = 13
failsafe = true

[[output]]
name = "fan"
line = 14

[[input]]
name = "button"
line = 17
"#;

/// A device-protocol client (tokio-tungstenite answers pings as it reads),
/// past the board and the first state.
async fn connect(bench: &DeviceUnderTest) -> DeviceWs {
    let (ws, first) = bench.connect_past_state(WAIT).await;
    assert!(first.get("board").is_some(), "{first}");
    ws
}

fn levels(state: &Value) -> (bool, bool, bool) {
    let outputs = &state["outputs"];
    (
        outputs["led"].as_bool().unwrap(),
        outputs["motor"].as_bool().unwrap(),
        outputs["fan"].as_bool().unwrap(),
    )
}

/// The phone that switched the LED on goes away cleanly; a second page
/// that only watches stays. The LED goes off at once, and the watcher sees it.
#[tokio::test]
async fn the_controllers_disconnect_makes_its_outputs_safe_while_others_watch() {
    let bench = DeviceUnderTest::start(BOARD);
    let mut phone = connect(&bench).await;
    let mut watcher = connect(&bench).await;
    phone.send(r#"{"set":{"led":true,"fan":true}}"#).await;
    assert_eq!(levels(&phone.next_state().await), (true, false, true));
    assert_eq!(levels(&watcher.next_state().await), (true, false, true));
    assert_eq!(bench.device.controllers().len(), 1);

    phone.close(None).await.unwrap();
    drop(phone);
    let state = watcher.next_state().await;
    // The failsafe LED goes off; the fan, not failsafe, stays on.
    assert_eq!(levels(&state), (false, false, true));
    assert_eq!(state["version"], 3);
    assert_eq!(bench.sim.level("led"), Some(Level::Low));
    assert_eq!(bench.sim.level("fan"), Some(Level::High));
    assert!(bench.device.controllers().is_empty());
    drop(watcher);
    bench.server.shutdown();
}

/// The phone that switched the LED on vanishes without a word (no FIN, no
/// close: it simply stops answering), while another page watches and
/// answers every ping. The LED goes off after the failsafe timeout (1 s by
/// default) — not after the 40 s it takes to drop a silent connection.
#[tokio::test]
async fn a_silent_controller_loses_its_outputs_after_the_failsafe_timeout() {
    let bench = DeviceUnderTest::start(BOARD);
    let mut watcher = connect(&bench).await;
    // Like the original's pages, then silent: it never reads again, so it
    // never answers a ping.
    let mut phone = RawWs::upgrade(bench.addr(), None).await;
    // Just before its last message, which precedes the server's receiving it.
    let last_word = Instant::now();
    phone.write(&client_frame(OP_TEXT, b"LEDOn")).await;
    assert_eq!(levels(&watcher.next_state().await), (true, false, false));
    let (controller, _) = bench.device.controllers().pop().unwrap();
    assert_eq!(controller, "led");

    // The watcher keeps reading, so it answers its pings; the phone never does.
    let state = watcher.next_state().await;
    let after = last_word.elapsed();
    assert_eq!(levels(&state), (false, false, false));
    assert_eq!(bench.sim.level("led"), Some(Level::Low));
    // Not before the timeout, counted from the phone's last bytes (the
    // server clock has millisecond steps).
    assert!(
        after >= Duration::from_millis(999),
        "the failsafe acted {after:?} after the controller's last message"
    );
    eprintln!("silent controller: LED off {after:?} after its last message");
    // The phone is still connected: only its outputs were let go.
    assert_eq!(bench.server.clients().len(), 2);
    drop((watcher, phone));
    bench.server.shutdown();
}

/// A controller that keeps answering the server's pings (as every browser
/// does) keeps its output on however long it sends nothing itself.
#[tokio::test]
async fn a_controller_that_answers_pings_keeps_its_outputs() {
    let bench = DeviceUnderTest::start(BOARD);
    let mut phone = connect(&bench).await;
    phone.send(r#"{"set":{"motor":true}}"#).await;
    assert_eq!(levels(&phone.next_state().await), (false, true, false));
    // Eight pings at 250 ms: twice the failsafe timeout without a message.
    let mut pings = 0;
    while pings < 8 {
        let msg = tokio::time::timeout(WAIT, phone.next())
            .await
            .expect("no ping in time")
            .unwrap()
            .unwrap();
        match msg {
            Message::Ping(_) => pings += 1,
            other => panic!("unexpected {other:?} while the motor should stay on"),
        }
    }
    assert_eq!(bench.sim.level("motor"), Some(Level::High));
    assert_eq!(
        bench.device.controllers(),
        [("motor".to_owned(), bench.server.clients().all()[0].id())]
    );
    drop(phone);
    bench.server.shutdown();
}

/// The last client to command an output controls it: a page that switches
/// the LED on again takes over, and the first one leaving does not matter.
#[tokio::test]
async fn the_last_client_to_switch_an_output_on_controls_it() {
    let bench = DeviceUnderTest::start(BOARD);
    let mut first = connect(&bench).await;
    let mut second = connect(&bench).await;
    first.send(r#"{"set":{"led":true}}"#).await;
    first.next_state().await;
    second.next_state().await;
    // Asking for on while it is on changes nothing, but takes control.
    second.send(r#"{"set":{"led":true}}"#).await;
    assert_eq!(second.next_state().await["version"], 2);
    first.close(None).await.unwrap();
    drop(first);
    // Switching the motor on and off again shows the LED stayed on.
    second.send(r#"{"toggle":"motor"}"#).await;
    let state = second.next_state().await;
    assert_eq!(levels(&state), (true, true, false));
    assert_eq!(state["version"], 3);
    // And a command to the safe level leaves the output without a controller.
    second.send(r#"{"set":{"led":false,"motor":false}}"#).await;
    assert_eq!(levels(&second.next_state().await), (false, false, false));
    assert!(bench.device.controllers().is_empty());
    drop(second);
    bench.server.shutdown();
}

/// The board refuses to switch the motor: the LED, switched first in the
/// same command, is put back, the error names the motor, and nothing is
/// broadcast as changed.
#[tokio::test]
async fn a_multi_pin_set_that_fails_part_way_changes_nothing() {
    let bench = DeviceUnderTest::start(BOARD);
    let mut phone = connect(&bench).await;
    let mut watcher = connect(&bench).await;
    assert!(bench.sim.set_faulty("motor", true));
    phone.send(r#"{"set":{"led":true,"motor":true}}"#).await;
    let reply = phone.next_json().await;
    assert_eq!(reply["error"]["code"], "hardware_error", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("motor"), "{message}");
    assert_eq!(bench.sim.level("led"), Some(Level::Low));
    assert_eq!(bench.device.snapshot().version, 1);
    assert!(bench.device.controllers().is_empty());
    // The next change is version 2: nothing was published in between.
    watcher.send(r#"{"toggle":"fan"}"#).await;
    let state = phone.next_state().await;
    assert_eq!(
        (state["version"].clone(), levels(&state)),
        (json!(2), (false, false, true))
    );
    drop((phone, watcher));
    bench.server.shutdown();
}

/// Both failsafe outputs are on when their controller leaves, and the
/// LED's driver fails: the motor still goes safe.
#[tokio::test]
async fn every_failsafe_output_is_tried_when_one_fails() {
    let bench = DeviceUnderTest::start(BOARD);
    let mut phone = connect(&bench).await;
    let mut watcher = connect(&bench).await;
    phone.send(r#"{"set":{"led":true,"motor":true}}"#).await;
    watcher.next_state().await;
    assert!(bench.sim.set_faulty("led", true));
    phone.close(None).await.unwrap();
    drop(phone);
    let state = watcher.next_state().await;
    assert_eq!(levels(&state), (true, false, false));
    assert_eq!(bench.sim.level("motor"), Some(Level::Low));
    assert_eq!(bench.sim.level("led"), Some(Level::High));
    // At exit, too, every output is tried and each failure reported.
    let error = bench.device.all_safe().unwrap_err();
    assert_eq!(error.failures.len(), 1, "{error}");
    assert!(error.to_string().contains("led"), "{error}");
    drop(watcher);
    bench.server.shutdown();
}

/// When the device goes away (its last handle dropped, the server
/// stopped), every output goes safe, not only failsafe ones.
#[tokio::test]
async fn dropping_the_device_drives_every_output_safe() {
    let bench = DeviceUnderTest::start(BOARD);
    let mut phone = connect(&bench).await;
    phone.send(r#"{"set":{"fan":true}}"#).await;
    phone.next_state().await;
    phone.close(None).await.unwrap();
    drop(phone);
    let DeviceUnderTest {
        server,
        device,
        sim,
    } = bench;
    tokio::task::spawn_blocking(move || server.shutdown())
        .await
        .unwrap();
    // The fan is not failsafe: the last client leaving left it on.
    assert_eq!(sim.level("fan"), Some(Level::High));
    drop(device);
    assert_eq!(sim.level("fan"), Some(Level::Low));
}
