//! A panic anywhere in the process — a bug — puts every output of the
//! device in its safe state and tells the clients. In a file of its own:
//! the panic hook acts on every device of the process, so no other test
//! may share it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{DEVICE_PROTOCOL, DeviceUnderTest, WAIT};
use pinsocket_device::Level;

#[tokio::test]
async fn a_panic_in_any_thread_drives_every_output_safe_and_tells_the_clients() {
    let board = "[[output]]\nname = \"led\"\nline = 12\nfailsafe = true\n\
                 [[output]]\nname = \"fan\"\nline = 13\n";
    let dut = DeviceUnderTest::start(board);
    let (mut ws, _) = dut.connect(Some(DEVICE_PROTOCOL), WAIT).await;
    assert_eq!(ws.next_state().await["version"], 1);
    ws.send(r#"{"set":{"led":true,"fan":true}}"#).await;
    assert_eq!(ws.next_state().await["outputs"]["fan"], true);
    assert_eq!(dut.sim.level("fan"), Some(Level::High));

    // Some thread of the process panics: a bug somewhere.
    let crashed = std::thread::spawn(|| panic!("a bug in some thread")).join();
    assert!(crashed.is_err());
    // By the time the panic is done unwinding, the outputs are safe...
    assert_eq!(dut.sim.level("led"), Some(Level::Low));
    assert_eq!(dut.sim.level("fan"), Some(Level::Low));
    // ...and the client is told.
    let state = ws.next_state().await;
    assert_eq!(state["outputs"]["led"], false);
    assert_eq!(state["outputs"]["fan"], false);
    assert_eq!(state["version"], 3);
    drop(ws);
    dut.shutdown();
}
