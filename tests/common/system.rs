//! The machine around the tests: throwaway folders, resident memory (this
//! process's or another's) and this process's open-file limit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rlimit::Resource;

/// A uniquely named folder under the system temp dir, removed on drop.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `pinsocket-it-<tag>-<pid>-<nanos>-<n>`.
    pub(crate) fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "pinsocket-it-{tag}-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&path).unwrap();
        TempDir { path }
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// This process's resident set size in bytes (`VmRSS` in /proc/self/status).
pub(crate) fn rss_bytes() -> u64 {
    vm_rss("/proc/self/status")
}

/// The resident set size in bytes of the process `pid` (`VmRSS` in
/// /proc/PID/status).
pub(crate) fn rss_bytes_of(pid: u32) -> u64 {
    vm_rss(&format!("/proc/{pid}/status"))
}

/// `VmRSS` in the /proc status file `path`, in bytes.
fn vm_rss(path: &str) -> u64 {
    let status = std::fs::read_to_string(path).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or_else(|| panic!("no VmRSS in {path}"));
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// Raises this process's open-file limit to at least `needed`, the hard
/// limit too if allowed; fails the test if it cannot.
pub(crate) fn raise_open_file_limit(needed: u64) {
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE).unwrap();
    // Raising the hard limit needs CAP_SYS_RESOURCE; without it, the soft
    // limit goes up to the hard one.
    if soft < needed && rlimit::setrlimit(Resource::NOFILE, needed, hard.max(needed)).is_err() {
        rlimit::setrlimit(Resource::NOFILE, hard.min(needed), hard).unwrap();
    }
    let (soft, hard) = rlimit::getrlimit(Resource::NOFILE).unwrap();
    assert!(
        soft >= needed,
        "the open-file limit ({soft}, hard {hard}) is below the {needed} this test needs"
    );
}
