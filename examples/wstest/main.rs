//! The original's echo test: every text message is answered
//! `Reply for <msg>`. Open the printed URL: the page connects, sends
//! `Hello world :)`, logs the reply and disconnects after 5 seconds.
//!
//! Run: `cargo run --release --example wstest` (`--listen ADDR`, default
//! 127.0.0.1:8080).

use std::net::SocketAddr;

#[path = "../common/mod.rs"]
mod common;

use clap::Parser;
use pinsocket::Server;

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
    let server = Server::new()
        .bind(args.listen)
        .max_message_len(256)
        .on_accept(|conn, _request| {
            println!("WS ACCEPT from {}", conn.peer_addr());
            Ok(())
        })
        .on_text(|conn, msg| {
            println!("WS RECV TEXT : {msg}");
            let _ = conn.send_text(&format!("Reply for {msg}"));
        })
        .on_close(|conn, code, _reason| {
            println!("WS CLOSED {} ({code})", conn.peer_addr());
        });
    println!("Open http://{}/wstest.html", args.listen);
    server.run()?;
    Ok(())
}
