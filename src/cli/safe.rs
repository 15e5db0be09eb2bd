//! `pinsocket safe`: every output of the configured board driven to its
//! safe level by a process of its own, for a service manager to run after
//! the server has ended, however it ended (see docs/SECURITY.md).

use std::path::{Path, PathBuf};

use anyhow::Context;
use pinsocket_device::{AfterExit, Config, drive_outputs_safe};

/// Drive every output of the board to its safe level, then exit. Run it
/// after the server has ended, e.g. as systemd's `ExecStopPost=`: when the
/// kernel ends the server (killed, out of memory), the lines keep their
/// last level until something drives them.
#[derive(clap::Args)]
pub(crate) struct Safe {
    /// The same configuration file the server uses.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs `pinsocket safe`.
pub(crate) fn safe(args: &Safe) -> anyhow::Result<()> {
    let config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::parse("", Path::new("(built-in)"))?,
    };
    match drive_outputs_safe(&config).context("cannot drive the outputs safe")? {
        AfterExit::Simulated => {
            println!("pinsocket safe: the board is simulated: no line to drive");
        }
        AfterExit::Driven(outputs) if outputs.is_empty() => {
            println!("pinsocket safe: the board has no outputs");
        }
        AfterExit::Driven(outputs) => {
            for (name, level) in outputs {
                println!("pinsocket safe: {name} -> {}", level.as_str());
            }
        }
        _ => println!("pinsocket safe: done"),
    }
    Ok(())
}
