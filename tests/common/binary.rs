//! The `pinsocket` binary as a child process: [`run_to_exit`] for a run
//! that ends by itself, and [`Pinsocket`] for one that serves: its stdout
//! line by line (`pinsocket: listening on ADDR`, `pinsocket: open URL`),
//! its log (stderr) as it comes, stop signals, and a bounded wait for its
//! exit. Every wait is bounded by [`WAIT`]; a [`Pinsocket`] is killed when
//! dropped, should its test fail first.
//!
//! The binary runs with neither `RUST_LOG` nor `PINSOCKET_TOKEN` from the
//! tests' environment; a test that wants one sets it
//! ([`Pinsocket::start_with_env`]).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::wait::{WAIT, wait_until};

/// The `pinsocket` binary Cargo built for these tests.
pub(crate) const PINSOCKET: &str = env!("CARGO_BIN_EXE_pinsocket");

/// How often a wait for the binary's exit looks.
const EXIT_POLL: Duration = Duration::from_millis(20);

/// `pinsocket args`, with neither `RUST_LOG` nor `PINSOCKET_TOKEN`.
pub(crate) fn pinsocket_command<S: AsRef<OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(PINSOCKET);
    cmd.args(args);
    without_inherited_settings(cmd)
}

/// [`pinsocket_command`] run by `sh -c` after the shell's `ulimit` with
/// `ulimit` as its arguments (`-n 256` sets both open-file limits,
/// `-S -n 256` the soft one).
pub(crate) fn pinsocket_command_under_ulimit<S: AsRef<OsStr>>(ulimit: &str, args: &[S]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit {ulimit} && exec \"$0\" \"$@\""))
        .arg(PINSOCKET)
        .args(args);
    without_inherited_settings(cmd)
}

/// `cmd` without the settings the binary would take from the tests'
/// environment: `RUST_LOG` and `PINSOCKET_TOKEN`.
fn without_inherited_settings(mut cmd: Command) -> Command {
    cmd.env_remove("RUST_LOG").env_remove("PINSOCKET_TOKEN");
    cmd
}

/// Runs `pinsocket args` expecting it to exit by itself (an argument
/// error, `--help`, `gen-cert`): its status and output. Killed, and the
/// test failed, if it is still running after [`WAIT`].
pub(crate) fn run_to_exit<S: AsRef<OsStr>>(args: &[S]) -> Output {
    let mut child = pinsocket_command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > WAIT {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            let args: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
            panic!(
                "pinsocket {args:?} was still running after {WAIT:?}; stdout:\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(EXIT_POLL);
    }
    child.wait_with_output().unwrap()
}

/// A serving `pinsocket`: its stdout line by line, its log (stderr) as it
/// comes, both read by threads of their own. Killed when dropped.
pub(crate) struct Pinsocket {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Arc<Mutex<String>>,
    /// The thread that reads the log; it ends when the process does.
    log_reader: Option<JoinHandle<()>>,
}

impl Pinsocket {
    /// Starts `pinsocket args` (see [`pinsocket_command`]).
    pub(crate) fn start<S: AsRef<OsStr>>(args: &[S]) -> Pinsocket {
        Pinsocket::spawn(pinsocket_command(args))
    }

    /// Like [`Pinsocket::start`], with `env` set for the server.
    pub(crate) fn start_with_env<S: AsRef<OsStr>>(args: &[S], env: &[(&str, &str)]) -> Pinsocket {
        let mut cmd = pinsocket_command(args);
        cmd.envs(env.iter().copied());
        Pinsocket::spawn(cmd)
    }

    /// Starts `cmd` (one of [`pinsocket_command`] or
    /// [`pinsocket_command_under_ulimit`]), stdin closed, stdout and stderr
    /// read.
    pub(crate) fn spawn(mut cmd: Command) -> Pinsocket {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&log);
        let log_reader = std::thread::spawn(move || {
            let mut line = Vec::new();
            while stderr.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                lock(&collected).push_str(&String::from_utf8_lossy(&line));
                line.clear();
            }
        });
        Pinsocket {
            child,
            lines,
            log,
            log_reader: Some(log_reader),
        }
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line on stdout, within [`WAIT`].
    pub(crate) fn line(&self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .unwrap_or_else(|e| panic!("no line on stdout within {WAIT:?}: {e}"))
    }

    /// The first line, `pinsocket: listening on ADDR`: the bound address.
    pub(crate) fn listening(&self) -> SocketAddr {
        let line = self.line();
        line.strip_prefix("pinsocket: listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
    }

    /// The next lines, up to and including the one that says the access
    /// token is on.
    pub(crate) fn lines_through_token_note(&self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            let done = line.starts_with("pinsocket: access token on:");
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// The URLs of the `pinsocket: open URL (where)` lines, up to the line
    /// that says the access token is on.
    pub(crate) fn open_urls(&self) -> Vec<String> {
        self.lines_through_token_note()
            .iter()
            .filter_map(|line| line.strip_prefix("pinsocket: open "))
            .map(|open| open.split(' ').next().unwrap_or_default().to_owned())
            .collect()
    }

    /// What it has logged so far.
    pub(crate) fn log(&self) -> String {
        lock(&self.log).clone()
    }

    /// How many lines of its log so far contain `what`.
    pub(crate) fn logged(&self, what: &str) -> usize {
        lock(&self.log).lines().filter(|l| l.contains(what)).count()
    }

    /// Waits, at most [`WAIT`], until the log has a line ending in `line`.
    pub(crate) async fn wait_log(&self, line: &str) {
        wait_until(&format!("the log line {line:?}"), WAIT, || {
            lock(&self.log).lines().any(|l| l.ends_with(line))
        })
        .await;
    }

    /// Sends the signal `SIG<name>` (`TERM`, `INT`, `HUP`).
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits, at most [`WAIT`], for the server to exit by itself with
    /// status 0 after `SIG<what>`, and returns all it logged.
    pub(crate) fn wait_for_exit(mut self, what: &str) -> String {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                start.elapsed() < WAIT,
                "still running {WAIT:?} after SIG{what}"
            );
            std::thread::sleep(EXIT_POLL);
        };
        let log = self.whole_log();
        assert_eq!(status.code(), Some(0), "SIG{what}:\n{log}");
        log
    }

    /// Sends SIGTERM and waits, at most [`WAIT`], for a clean exit (status
    /// 0); returns all it logged.
    pub(crate) fn stop(self) -> String {
        self.signal("TERM");
        self.wait_for_exit("TERM")
    }

    /// Kills the server (SIGKILL) and returns all it logged.
    pub(crate) fn kill(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.whole_log()
    }

    /// The whole log of a process that has exited: once the log reader has
    /// read to the end.
    fn whole_log(&mut self) -> String {
        if let Some(reader) = self.log_reader.take() {
            reader.join().unwrap();
        }
        self.log()
    }
}

impl Drop for Pinsocket {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log, even if a reader panicked holding it.
fn lock(log: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}
