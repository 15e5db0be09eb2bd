//! The original's LED app: `LEDOn` / `LEDOff` (any case, as the original
//! page sends `LEDon`) switch an LED on line 12 of a simulated board, and
//! every message is answered `Reply for <msg>`. The program prints the
//! line's level whenever it changes.
//!
//! Run: `cargo run --release --example websocket_led` (`--listen ADDR`,
//! default 127.0.0.1:8080), then open the printed URL.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

#[path = "../common/mod.rs"]
mod common;

use clap::Parser;
use pinsocket::Server;

/// The GPIO line the original wired its LED to.
const LED_LINE: u32 = 12;

/// Serve led.html and switch a simulated LED on GPIO 12.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

/// One output line of a simulated board.
struct SimulatedLed {
    high: AtomicBool,
}

impl SimulatedLed {
    fn set(&self, high: bool) {
        let was = self.high.swap(high, Ordering::SeqCst);
        if was != high {
            let level = if high { "high (on)" } else { "low (off)" };
            println!("GPIO{LED_LINE} -> {level}");
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    common::init_logging("info");
    static LED: SimulatedLed = SimulatedLed {
        high: AtomicBool::new(false),
    };
    println!("GPIO{LED_LINE} -> low (off)");
    let server = Server::new()
        .bind(args.listen)
        .max_message_len(256)
        .on_accept(|conn, _request| {
            println!("WS ACCEPT from {}", conn.peer_addr());
            Ok(())
        })
        .on_text(|conn, msg| {
            println!("WS RECV TEXT : {msg}");
            if msg.eq_ignore_ascii_case("LEDOn") {
                LED.set(true);
            } else if msg.eq_ignore_ascii_case("LEDOff") {
                LED.set(false);
            }
            let _ = conn.send_text(&format!("Reply for {msg}"));
        })
        .on_close(|conn, code, _reason| {
            println!("WS CLOSED {} ({code})", conn.peer_addr());
        });
    println!("Open http://{}/led.html", args.listen);
    server.run()?;
    Ok(())
}
