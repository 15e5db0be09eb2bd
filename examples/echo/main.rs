//! Echoes every text and binary message back unchanged: the server that
//! WebSocket conformance suites test.
//!
//! Run: `cargo run --release --example echo -- --listen 127.0.0.1:9001`
//! (`--max-message BYTES`, default 16 MiB).

use std::net::SocketAddr;

#[path = "../common/mod.rs"]
mod common;

use clap::Parser;
use pinsocket::Server;

/// Echo every WebSocket message back unchanged.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Largest message accepted, in bytes; larger ones are closed with 1009.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_message: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    common::init_logging("warn");
    let server = Server::new()
        .bind(args.listen)
        .max_message_len(args.max_message)
        // An echo reply may be as large as the largest message.
        .max_send_queue(args.max_message.saturating_mul(2))
        .on_text(|conn, msg| {
            let _ = conn.send_text(msg);
        })
        .on_binary(|conn, data| {
            let _ = conn.send_binary(data);
        });
    println!("echo server: ws://{}/", args.listen);
    server.run()?;
    Ok(())
}
