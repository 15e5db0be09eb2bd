//! Benchmarks pinsocket beside a raw TCP floor and two crates.io peers
//! (fastwebsockets with hyper, tokio-tungstenite), on 127.0.0.1 only.
//!
//! ```sh
//! cargo run --release -p pinsocket-bench -- all          # the full table (a few minutes)
//! cargo run --release -p pinsocket-bench -- all --pin    # server on CPU 1, client on CPU 0
//! cargo run --release -p pinsocket-bench -- smoke        # seconds; fails on gross regressions
//! ```
//!
//! Each server runs in a child process of its own (this binary, re-run with
//! the hidden `serve` subcommand), so its CPU time and memory are read from
//! `/proc` apart from the client's. The client is the same hand-written raw
//! TCP code for every server.
//!
//! Modules: `servers` (the four servers), `client` (frames, handshake, HTTP),
//! `metrics` (each measurement), `suite` (the order of a run), `report` (the
//! table and targets), `proc` (child processes, `/proc`, pinning, limits).

mod client;
mod metrics;
mod proc;
mod report;
mod servers;
mod suite;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::report::{Metric, Results};
use crate::servers::{App, Kind};
use crate::suite::Plan;

/// Gross-regression gates, checked by every mode (`smoke` exists for them).
const MAX_RTT_P50: Duration = Duration::from_millis(1);
const MAX_BYTES_PER_IDLE_CONN: f64 = 16.0 * 1024.0;

/// Benchmark pinsocket against a raw TCP floor, fastwebsockets and
/// tokio-tungstenite on 127.0.0.1.
#[derive(Parser)]
#[command(name = "pinsocket-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every measurement for every server, then the table (a few minutes).
    All {
        /// Pin each server to CPU 1 and the client to CPU 0 (via taskset).
        #[arg(long)]
        pin: bool,
        /// Run client and servers at nice -10 (needs root), so other
        /// processes on a shared machine disturb the measurement less.
        #[arg(long)]
        boost: bool,
        /// Shorter runs of everything (for trying the harness; noisier).
        #[arg(long)]
        quick: bool,
        /// Worker threads of every server [default: 1 with --pin, else one per CPU].
        #[arg(long)]
        threads: Option<usize>,
        /// Interleaved rounds of each timed measurement (rates report the
        /// best round, CPU per operation pools them all).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Only these servers besides pinsocket (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',')]
        servers: Vec<Kind>,
    },
    /// A few seconds: pinsocket's round trip and idle memory; exits non-zero
    /// on a gross regression (p50 over 1 ms, over 16 KiB per idle connection).
    #[command(visible_alias = "quick")]
    Smoke {
        /// Pin the server to CPU 1 and the client to CPU 0 (via taskset).
        #[arg(long)]
        pin: bool,
        /// Run client and servers at nice -10 (needs root).
        #[arg(long)]
        boost: bool,
        /// Worker threads of the servers [default: 1 with --pin, else one per CPU].
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Internal: serve until stdin closes, printing `listening <addr>`.
    #[command(hide = true)]
    Serve {
        kind: Kind,
        #[arg(long, value_enum, default_value = "echo")]
        app: App,
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (plan, boost, title) = match cli.command {
        Command::Serve { kind, app, threads } => {
            return match servers::serve(kind, app, threads) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("serve {}: {e:#}", kind.name());
                    ExitCode::FAILURE
                }
            };
        }
        Command::All {
            pin,
            boost,
            quick,
            threads,
            rounds,
            servers,
        } => (
            Plan::full(pin, server_threads(pin, threads), rounds, quick).only(&servers),
            boost,
            "all",
        ),
        Command::Smoke {
            pin,
            boost,
            threads,
        } => (
            Plan::smoke(pin, server_threads(pin, threads)),
            boost,
            "smoke",
        ),
    };
    match bench(plan, boost, title) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pinsocket-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn server_threads(pin: bool, threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| {
        if pin {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    })
}

/// Runs a plan on a single-threaded client runtime, prints the report and
/// applies the gates.
fn bench(mut plan: Plan, boost: bool, title: &str) -> anyhow::Result<ExitCode> {
    proc::isolate(plan.pin, boost)?;
    let fds = proc::raise_fd_limit();
    let mut notes = Vec::new();
    // Room for the connections plus the runtime's own descriptors.
    let room = usize::try_from(fds.saturating_sub(64)).unwrap_or(usize::MAX);
    if let Some(crowd) = plan.crowd.filter(|&c| c > room) {
        notes.push(format!(
            "open-file limit {fds}: crowd cut from {crowd} to {room} connections"
        ));
        plan.crowd = Some(room);
    }
    if plan.idle > room {
        notes.push(format!(
            "open-file limit {fds}: idle connections cut from {} to {room}",
            plan.idle
        ));
        plan.idle = room;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let mut results = Results::default();
    proc::freeze_server_exe()?;
    runtime.block_on(suite::run(&plan, &mut results));
    proc::remove_server_exe();
    let took = started.elapsed();

    let (cpus, model, kernel) = proc::machine();
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("## pinsocket-bench {title}");
    println!();
    println!(
        "- command: `cargo run --release -p pinsocket-bench -- {}`",
        args.join(" ")
    );
    println!("- machine: {cpus} CPUs ({model}), Linux {kernel}");
    if plan.pin {
        println!(
            "- pinned with taskset: client on CPU {} (allowed: {}), each server on CPU {} (allowed: {})",
            proc::CLIENT_CPU,
            proc::cpus_allowed("/proc/self/status"),
            proc::SERVER_CPU,
            results.server_cpus
        );
    } else {
        println!("- not pinned: client and servers share every CPU");
    }
    match proc::own_nice() {
        Some(nice) if nice != 0 => println!(
            "- priority: client and servers at nice {nice}{}",
            if boost { " (--boost)" } else { "" }
        ),
        Some(_) if boost => println!("- priority: --boost could not raise priority (not root?)"),
        _ => println!("- priority: normal (nice 0)"),
    }
    println!(
        "- each server: its own process, a tokio runtime with {} worker thread(s), TCP_NODELAY; \
         client: one current-thread tokio runtime, raw TCP",
        plan.threads
    );
    println!(
        "- run took {:.0} s, of which {:.0} s waiting for other processes to leave the machine idle before rounds",
        took.as_secs_f64(),
        results.quiet_wait.as_secs_f64()
    );
    for note in &notes {
        println!("- {note}");
    }
    println!();
    println!("{}", results.table(&plan.kinds));
    if plan.loads {
        println!(
            "Rates are the best of {} interleaved {:.1} s rounds (other processes on a shared \
             machine only lower a rate); CPU per operation pools every round. Who was busy in \
             the window each rate comes from, in % of one CPU (server / client / other: other \
             processes, niced ones included, and kernel work outside both, such as ksoftirqd):",
            plan.rounds,
            plan.window.as_secs_f64()
        );
        println!();
        println!("{}", results.busy_table(&plan.kinds));
    }
    let failures = results.failures();
    if !failures.is_empty() {
        println!("Failed measurements:");
        for failure in &failures {
            println!("- {failure}");
        }
        println!();
    }
    let targets = results.targets();
    if !targets.is_empty() && plan.loads {
        println!("Targets:");
        println!();
        println!("| target | measured | met |");
        println!("|---|---|---|");
        for t in &targets {
            println!(
                "| {} | {} | {} |",
                t.what,
                t.measured,
                if t.met { "yes" } else { "**no**" }
            );
        }
        println!();
    }
    Ok(gates(&results))
}

/// The smoke gates: a Nagle-sized round trip or a fat idle connection fails
/// the run, and so does failing to measure either.
fn gates(results: &Results) -> ExitCode {
    let mut ok = true;
    match results.get(Kind::Pinsocket, Metric::RttP50) {
        Some(p50) if p50 <= MAX_RTT_P50.as_secs_f64() * 1e6 => {}
        Some(p50) => {
            println!("GATE FAILED: pinsocket round trip p50 {p50:.1} µs is above {MAX_RTT_P50:?}");
            ok = false;
        }
        None => {
            println!("GATE FAILED: pinsocket round trip not measured");
            ok = false;
        }
    }
    match results.get(Kind::Pinsocket, Metric::MemoryPerConn) {
        Some(bytes) if bytes <= MAX_BYTES_PER_IDLE_CONN => {}
        Some(bytes) => {
            println!(
                "GATE FAILED: pinsocket uses {bytes:.0} B per idle connection, above {MAX_BYTES_PER_IDLE_CONN} B"
            );
            ok = false;
        }
        None => {
            println!("GATE FAILED: pinsocket idle memory not measured");
            ok = false;
        }
    }
    if ok {
        println!(
            "Gates passed: pinsocket round trip p50 ≤ {MAX_RTT_P50:?}, ≤ {} KiB per idle connection.",
            MAX_BYTES_PER_IDLE_CONN / 1024.0
        );
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
