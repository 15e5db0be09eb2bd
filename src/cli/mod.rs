//! The command line's helpers: parsing `--listen` and `--log-level`,
//! setting up the log, the failsafe paragraph of `--help`, and the lines
//! printed once the server listens.
//!
//! One concern to a file: `listen` parses `--listen`, `logging` parses
//! `--log-level` and sets up the log, `listening` prints where the server
//! listens, `help` holds the failsafe paragraph of `--help`, `gen_cert` is
//! the `gen-cert` subcommand and `safe` the `safe` subcommand.

mod gen_cert;
mod help;
mod listen;
mod listening;
mod logging;
mod safe;

pub(crate) use gen_cert::{GenCert, gen_cert};
pub(crate) use help::FAILSAFE_HELP;
pub(crate) use listen::parse_listen;
pub(crate) use listening::{print_listening, print_listening_https};
pub(crate) use logging::{init_logging, parse_log_level};
pub(crate) use safe::{Safe, safe};
