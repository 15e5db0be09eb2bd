//! The original's echo test: every text message is answered
//! `Reply for <msg>`. Open the printed URL: the page connects, sends
//! `Hello world :)`, logs the reply and disconnects after 5 seconds.
//!
//! Run: `cargo run --release --example wstest` (`--listen ADDR`, default
//! 127.0.0.1:8080).

use std::net::SocketAddr;

mod app;
#[path = "../common/mod.rs"]
mod common;

use clap::Parser;

/// Serve wstest.html and answer every message with `Reply for <msg>`.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    common::init_logging("info");
    let server = app::server().bind(args.listen);
    println!("Open http://{}/", args.listen);
    server.run()?;
    Ok(())
}
