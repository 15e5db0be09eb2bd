//! Echoes every text and binary message back unchanged: the server that
//! WebSocket conformance suites test. Its page, at `/`, is the echo test
//! page: open it to see a message come back.
//!
//! Run: `cargo run --release --example echo -- --listen 127.0.0.1:9001`
//! (`--max-message BYTES`, default 16 MiB).

use std::net::SocketAddr;

mod app;
#[path = "../common/mod.rs"]
mod common;

use clap::Parser;

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
    let server = app::server(args.max_message).bind(args.listen);
    println!(
        "echo server: ws://{0}/ (test page: http://{0}/)",
        args.listen
    );
    server.run()?;
    Ok(())
}
