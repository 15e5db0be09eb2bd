//! `pinsocket`: the device server. Serves the control page and switches
//! GPIO lines (a simulated board unless configured otherwise) for every
//! connected browser at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use pinsocket_device::{App, Config, TlsFiles};

mod cli;

/// Switch GPIO pins from a browser: serves a control page and a WebSocket
/// on one port. With no arguments: a simulated board with one output, `led`
/// on line 12, at http://127.0.0.1:8080/.
#[derive(Parser)]
#[command(name = "pinsocket", version, after_help = cli::FAILSAFE_HELP)]
#[command(args_conflicts_with_subcommands = true)]
struct Args {
    /// Where to listen: PORT, HOST:PORT, IP:PORT or [IPv6]:PORT; 0.0.0.0:8080
    /// serves your whole network. [default: `listen` from the config file,
    /// else 127.0.0.1:8080]
    ///
    /// A bare port (8080) or :PORT listens on 127.0.0.1, this machine only,
    /// as does localhost:PORT: anyone who can reach the page can switch the
    /// pins, so serving the network is asked for by name, 0.0.0.0:PORT (or
    /// [::]:PORT for IPv6, and IPv4 too where the system allows). Another
    /// host name is looked up and its first IPv4 address is used, else its
    /// first address. Without a port: 8080. Port 0: the system picks one.
    #[arg(long, value_name = "ADDR", value_parser = cli::parse_listen)]
    listen: Option<SocketAddr>,
    /// TOML file describing the board: backend (`sim` or `gpio-cdev`),
    /// chip, `[[output]]` and `[[input]]` pins, `failsafe_ping`,
    /// `failsafe_timeout`, `[limits]`. See docs/raspberry-pi.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve pages from this folder instead of the built-in ones (the
    /// control page, led.html and wstest.html).
    #[arg(long, value_name = "DIR")]
    www: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace or off (any case), or
    /// tracing directives like `warn,pinsocket=debug`. RUST_LOG, if set,
    /// overrides it.
    #[arg(
        long,
        default_value = "info",
        value_name = "LEVEL",
        value_parser = cli::parse_log_level
    )]
    log_level: String,
    /// Serve https and wss with this PEM certificate chain (the server's
    /// certificate first), with --tls-key; the address then takes TLS
    /// only. Overrides `[tls]` in the config file. `pinsocket gen-cert`
    /// writes a self-signed one.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, RSA or EC).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Turn the access token off: beyond this machine, anyone who can
    /// reach the server can switch the pins (a warning says so at start).
    /// Without it, listening beyond loopback requires a token, printed in
    /// the URLs to open; PINSOCKET_TOKEN or `[access] token` sets it.
    #[arg(long)]
    no_auth: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

/// What else `pinsocket` does besides serving.
#[derive(clap::Subcommand)]
enum Command {
    /// Write a self-signed certificate and key for --tls-cert and --tls-key.
    GenCert(cli::GenCert),
    /// Drive every output to its safe level and exit: for a service
    /// manager to run after the server ended, however it ended.
    Safe(cli::Safe),
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
    match &args.command {
        Some(Command::GenCert(gen_cert)) => return cli::gen_cert(gen_cert),
        Some(Command::Safe(safe)) => return cli::safe(safe),
        None => {}
    }
    cli::init_logging(&args.log_level)?;
    let mut config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::parse("", Path::new("(built-in)"))?,
    };
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.tls = Some(TlsFiles { cert, key });
    }
    if args.no_auth {
        config.access.auth = Some(false);
    }
    limit_connections_to_descriptors(&mut config);
    let https = config.tls.is_some();
    let app = App::new(config, args.listen, args.www).context("cannot open the board")?;
    let token = app.token.clone();
    if https {
        app.run(|bound| cli::print_listening_https(bound, token.as_deref()))?;
    } else {
        app.run(|bound| cli::print_listening(bound, token.as_deref()))?;
    }
    Ok(())
}

// ---- descriptors -----------------------------------------------------------

/// Raises the soft open-file limit to the hard one (a stock Raspberry Pi
/// starts programs at 1,024) and, unless `[limits] max_connections` is set,
/// serves as many connections as that leaves room for
/// (`ConnectionLimits::max_connections_for`): past them a client gets a 503
/// at once, and the descriptors never run out.
fn limit_connections_to_descriptors(config: &mut Config) {
    let open_files = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(soft) => soft,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit: {e}");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    };
    let tls = config.tls.is_some();
    let fits = pinsocket_device::ConnectionLimits::max_connections_for(open_files, tls);
    match config.limits.max_connections {
        Some(n) if n > fits => tracing::warn!(
            open_files,
            "[limits] max_connections = {n} is more than the open-file limit leaves room \
             for ({fits}): past that, connections may fail instead of getting a 503"
        ),
        Some(_) => {}
        None => config.limits.max_connections = Some(fits),
    }
    tracing::debug!(
        open_files,
        max_connections = config.limits.max_connections,
        "connection limit"
    );
}
