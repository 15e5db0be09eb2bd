//! `pinsocket`: serve the built-in pages (or a folder) and answer every
//! WebSocket text message with `Reply for <msg>`, as the original server did.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pinsocket::Server;

/// Pages and WebSockets on one port.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve files from this folder instead of the built-in pages.
    #[arg(long, value_name = "DIR")]
    www: Option<PathBuf>,
    /// Log level: error, warn, info, debug or trace (RUST_LOG overrides).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pinsocket: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| args.log_level.as_str().into()),
        )
        .init();
    let mut server = Server::new().bind(args.listen).on_text(|conn, msg| {
        let _ = conn.send_text(&format!("Reply for {msg}"));
    });
    if let Some(dir) = args.www {
        server = server.web_root(dir);
    }
    println!("pinsocket: open http://{}/", args.listen);
    server.run()?;
    Ok(())
}
