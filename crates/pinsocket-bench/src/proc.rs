//! The operating-system side: server child processes (the bench re-executes
//! itself with the hidden `serve` subcommand), CPU time and resident memory
//! read from `/proc`, CPU pinning through `taskset`, and the file-descriptor
//! limit.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::servers::{App, Kind};

/// Set in the environment of a bench process once `--pin`/`--boost` apply.
const PINNED_ENV: &str = "PINSOCKET_BENCH_PINNED";
/// The CPU that clients run on with `--pin`.
pub(crate) const CLIENT_CPU: usize = 0;
/// The CPU that servers run on with `--pin`.
pub(crate) const SERVER_CPU: usize = 1;
/// Linux reports `utime`/`stime` in USER_HZ ticks, which is 100 on every
/// architecture Linux supports (`getconf CLK_TCK`).
const TICKS_PER_SECOND: u64 = 100;
/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a server may take to exit after its stdin closes.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The binary servers are started from: a private copy of this one, made
/// once, so a rebuild of the bench during a run cannot swap the servers.
static SERVER_EXE: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Copies this binary for [`ServerProc::start`]; call once before starting
/// servers. Falls back to the binary itself if the copy fails.
pub(crate) fn freeze_server_exe() -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let copy = std::env::temp_dir().join(format!("pinsocket-bench-{}", std::process::id()));
    let path = match std::fs::copy(&exe, &copy) {
        Ok(_) => copy,
        Err(_) => exe,
    };
    let _ = SERVER_EXE.set(path);
    Ok(())
}

/// Removes the copy made by [`freeze_server_exe`].
pub(crate) fn remove_server_exe() {
    if let Some(path) = SERVER_EXE.get()
        && path.starts_with(std::env::temp_dir())
    {
        let _ = std::fs::remove_file(path);
    }
}

/// One server running in a child process of its own, so its CPU time and
/// memory can be read apart from the client's. Dropping it closes the
/// child's stdin, which makes it exit; one that does not exit in time is
/// killed.
pub(crate) struct ServerProc {
    pub(crate) kind: Kind,
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl ServerProc {
    /// Starts `kind` serving `app` on 127.0.0.1 with `threads` worker
    /// threads, pinned to [`SERVER_CPU`] if `pin`, and waits for its address.
    pub(crate) fn start(kind: Kind, app: App, threads: usize, pin: bool) -> anyhow::Result<Self> {
        let exe = match SERVER_EXE.get() {
            Some(exe) => exe.clone(),
            None => std::env::current_exe().context("locating the bench binary")?,
        };
        let mut cmd = if pin {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(SERVER_CPU.to_string()).arg(&exe);
            cmd
        } else {
            Command::new(&exe)
        };
        cmd.arg("serve")
            .arg(kind.name())
            .arg("--app")
            .arg(app.name())
            .arg("--threads")
            .arg(threads.to_string())
            .env_remove(PINNED_ENV)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting the {} server", kind.name()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("server stdout")?;
        // The first line is the address; read it on a thread so a server
        // that never prints cannot hang the bench.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let result = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(result);
        });
        let mut proc = ServerProc {
            kind,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pid: child.id(),
            child,
            stdin,
        };
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => bail!("reading the {} server's address: {e}", kind.name()),
            Err(_) => bail!(
                "the {} server did not start within {START_TIMEOUT:?}",
                kind.name()
            ),
        };
        proc.addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("the {} server printed {line:?}", kind.name()))?;
        Ok(proc)
    }

    /// CPU time (user + system) of the server's live threads so far.
    pub(crate) fn cpu(&self) -> io::Result<Duration> {
        cpu_time(self.pid)
    }

    /// The server's resident memory, in bytes.
    pub(crate) fn rss(&self) -> io::Result<u64> {
        rss_bytes(self.pid)
    }

    /// The CPUs the server may run on, as the kernel reports them.
    pub(crate) fn cpus_allowed(&self) -> String {
        cpus_allowed(&format!("/proc/{}/status", self.pid))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        // EOF on stdin is the server's signal to exit.
        drop(self.stdin.take());
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sums `utime + stime` over `/proc/<pid>/task/*/stat`: every thread of the
/// process. The kernel scales these so that their sum is the precise
/// scheduler run time, reported in whole ticks.
pub(crate) fn cpu_time(pid: u32) -> io::Result<Duration> {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = entry?.path().join("stat");
        // A thread that ended since the listing has no stat any more.
        let Ok(stat) = std::fs::read_to_string(&path) else {
            continue;
        };
        ticks += stat_ticks(&stat).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("cannot parse {}", path.display()),
            )
        })?;
    }
    Ok(Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000 / TICKS_PER_SECOND),
    ))
}

/// CPU time the whole machine spent busy (every CPU; user, nice, system,
/// irq, softirq and steal from the first line of `/proc/stat`). Niced time
/// counts: a niced process that holds the CPU when a ping-pong peer wakes
/// still delays it.
pub(crate) fn machine_busy() -> io::Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat
        .lines()
        .next()
        .filter(|l| l.starts_with("cpu "))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no cpu line in /proc/stat"))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum();
    Ok(Duration::from_nanos(
        busy.saturating_mul(1_000_000_000 / TICKS_PER_SECOND),
    ))
}

/// `utime + stime` from one stat line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its closing `)`:
/// there the state is field 3, `utime` field 14 and `stime` field 15.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` of a process, in bytes.
pub(crate) fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in status"))
}

/// `Cpus_allowed_list` from a status file, or "?" if unreadable.
pub(crate) fn cpus_allowed(status_path: &str) -> String {
    std::fs::read_to_string(status_path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_else(|| "?".to_owned())
}

/// Niceness of the bench with `--boost`: ahead of other processes at
/// normal priority, short of real-time scheduling.
pub(crate) const BOOST_NICE: i32 = -10;

/// With `--pin` and/or `--boost`, makes sure this process runs on
/// [`CLIENT_CPU`] and/or at [`BOOST_NICE`]: the first time through it
/// re-executes itself under `taskset` and `nice` and exits with that run's
/// status. Server processes inherit the niceness. Returns once set up.
pub(crate) fn isolate(pin: bool, boost: bool) -> anyhow::Result<()> {
    if !(pin || boost) || std::env::var_os(PINNED_ENV).is_some() {
        return Ok(());
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if pin && cpus <= SERVER_CPU {
        bail!("--pin needs at least 2 CPUs; this machine offers {cpus}");
    }
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let mut argv: Vec<std::ffi::OsString> = Vec::new();
    if boost {
        argv.extend(["nice".into(), "-n".into(), BOOST_NICE.to_string().into()]);
    }
    if pin {
        argv.extend(["taskset".into(), "-c".into(), CLIENT_CPU.to_string().into()]);
    }
    argv.push(exe.into());
    argv.extend(std::env::args_os().skip(1));
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .env(PINNED_ENV, "1")
        .status()
        .with_context(|| format!("running {:?} for --pin/--boost", argv[0]))?;
    std::process::exit(status.code().unwrap_or(1));
}

/// This process's niceness (field 19 of `/proc/self/stat`).
pub(crate) fn own_nice() -> Option<i32> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(16)?.parse().ok()
}

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit and
/// returns the new soft limit.
pub(crate) fn raise_fd_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft),
    }
}

/// What the report says about the machine: CPU count, CPU model, kernel.
pub(crate) fn machine() -> (usize, String, String) {
    // Every CPU of the machine, not only those this process may use.
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    (cpus, model, kernel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_names() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 3 0 1 2 3";
        assert_eq!(stat_ticks(line), Some(12));
    }

    #[test]
    fn reads_own_cpu_and_rss() {
        let pid = std::process::id();
        assert!(cpu_time(pid).is_ok());
        assert!(rss_bytes(pid).is_ok_and(|rss| rss > 0));
    }
}
