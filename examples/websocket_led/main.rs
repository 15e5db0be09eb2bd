//! The original's LED app: `LEDOn` / `LEDOff` (any case, as the original
//! page sends `LEDon`) switch an LED on line 12 of a simulated board, and
//! every message is answered `Reply for <msg>`. The program prints the
//! line's level whenever it changes.
//!
//! Run: `cargo run --release --example websocket_led` (`--listen ADDR`,
//! default 127.0.0.1:8080), then open the printed URL.

use std::net::SocketAddr;

mod app;
#[path = "../common/mod.rs"]
mod common;

use app::Led;
use clap::Parser;

/// Serve led.html and switch a simulated LED on GPIO 12.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    common::init_logging("info");
    let led = Led::default();
    println!("{led}");
    let server = app::server(led).bind(args.listen);
    println!("Open http://{}/", args.listen);
    server.run()?;
    Ok(())
}
