//! The pages in a real browser: [`Browser`], a headless chromium driven
//! over WebDriver (fantoccini) by its own chromedriver on a free loopback
//! port, with a fresh profile; and [`browser_test`], which bounds a whole
//! test and skips it loudly where the browser is not installed.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them). Without them each browser test passes without running, and the
//! run prints one line saying the browser tests were skipped and how to
//! install what they need; with the `CI` environment variable set (to
//! anything but empty, `0` or `false`) they are required, and each one
//! fails instead.
//!
//! Each [`Browser`] has its own chromedriver, chromium and profile, so
//! tests share nothing and may run in any order or in parallel. A guard
//! ends the browser session and chromedriver and removes the profile even
//! when a test fails. Every wait is bounded by [`PAGE_WAIT`], each test by
//! [`TEST_LIMIT`]. Screenshots go to `<target>/browser-screenshots/`.

use std::fmt::Debug;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use pinsocket_device::{Level, SimBoard};
use serde_json::{Value, json};

use super::system::TempDir;
use super::wait::poll_until;

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's `chromium-driver`, looked up on `PATH`.
const CHROMEDRIVER: &str = "chromedriver";
const INSTALL_HINT: &str = "the browser tests need Debian's chromium and chromium-driver: \
     run `apt-get update && apt-get install -y chromium chromium-driver` (.ci/run does)";
/// The environment variable that makes the browser tests required.
const REQUIRED_BY: &str = "CI";

/// The longest a page may take to show what a step expects.
pub(crate) const PAGE_WAIT: Duration = Duration::from_secs(5);
/// The longest a whole browser test may take.
pub(crate) const TEST_LIMIT: Duration = Duration::from_secs(90);

/// The arguments every chromium here starts with; the profile folder
/// follows, then the caller's own.
const CHROMIUM_ARGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

// ---- running a browser test -------------------------------------------------

/// Runs one browser test, failing it if it takes longer than [`TEST_LIMIT`]
/// (dropping it then still ends the browser).
///
/// Without chromium or chromedriver the test is skipped, and the run says
/// so once, past the test harness's output capture, so that a passing run
/// does not hide it; unless [`REQUIRED_BY`] is set, which makes it fail.
pub(crate) async fn browser_test(test: impl Future<Output = ()>) {
    browser_test_as("browser tests", test).await;
}

/// [`browser_test`], its skip notice calling the tests `what`
/// (`SKIPPED <what>: …`).
pub(crate) async fn browser_test_as(what: &str, test: impl Future<Output = ()>) {
    if let Some(missing) = missing_browser() {
        assert!(!browsers_required(), "{missing}: {INSTALL_HINT}");
        static NOTICE: Once = Once::new();
        NOTICE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {what}: {missing}; install with `apt-get install chromium \
                 chromium-driver`, or set {REQUIRED_BY}=1 to make them required"
            );
        });
        return;
    }
    if tokio::time::timeout(TEST_LIMIT, test).await.is_err() {
        panic!("the test took longer than {TEST_LIMIT:?}");
    }
}

/// What the browser tests lack, if anything: chromium at [`CHROMIUM`] or
/// [`CHROMEDRIVER`] on `PATH`.
fn missing_browser() -> Option<String> {
    if !Path::new(CHROMIUM).is_file() {
        return Some(format!("{CHROMIUM} is missing"));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path = std::env::split_paths(&path).any(|dir| dir.join(CHROMEDRIVER).is_file());
    if !on_path {
        return Some(format!("{CHROMEDRIVER} is not on PATH"));
    }
    None
}

/// Whether [`REQUIRED_BY`] is set to anything but empty, `0` or `false`.
fn browsers_required() -> bool {
    std::env::var_os(REQUIRED_BY)
        .is_some_and(|value| !matches!(value.to_str(), Some("" | "0" | "false")))
}

/// Waits, at most [`PAGE_WAIT`], for the simulated line 12 (the LED of
/// the boards the browser tests serve) to reach `level`.
pub(crate) async fn wait_line(sim: &SimBoard, level: Level) {
    poll_until(
        &format!("line 12 to be {level:?}"),
        PAGE_WAIT,
        || std::future::ready(sim.line(12)),
        |now| *now == Some(level),
    )
    .await;
}

// ---- the browser ------------------------------------------------------------

/// A chromium session on its own chromedriver.
pub(crate) struct Browser {
    pub(crate) client: Client,
    /// Declared after `client`: dropped last, it ends the session itself.
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and, through it, a headless chromium.
    pub(crate) async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// Starts chromedriver and, through it, a headless chromium given
    /// `args` beyond the usual ones (e.g.
    /// `--ignore-certificate-errors-spki-list=<hash>`).
    pub(crate) async fn start_with(args: &[String]) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: {INSTALL_HINT}"
        );
        let mut driver = Driver::start();
        let profile = format!("--user-data-dir={}", driver.profile.path().display());
        let args: Vec<&str> = CHROMIUM_ARGS
            .into_iter()
            .chain([profile.as_str()])
            .chain(args.iter().map(String::as_str))
            .collect();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let connecting = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await;
        let client = match connecting {
            Ok(client) => client,
            Err(err) => panic!("chromium did not start through chromedriver: {err}"),
        };
        driver.session = client.session_id().await.unwrap();
        let browser = Browser { client, driver };
        browser.size_window().await;
        browser
    }

    /// Wide enough for the control page's two columns.
    pub(crate) async fn size_window(&self) {
        self.client.set_window_size(1100, 900).await.unwrap();
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub(crate) async fn click(&self, id: &str) {
        let button = self
            .client
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::Id(id))
            .await
            .unwrap_or_else(|err| panic!("no #{id} on the page: {err}"));
        button.click().await.unwrap();
    }

    /// Clicks the link reading `text` and waits until the browser has left
    /// the page for the one it leads to.
    pub(crate) async fn follow_link(&self, text: &str) {
        let from = self.client.current_url().await.unwrap();
        let link = self
            .client
            .wait()
            .at_most(PAGE_WAIT)
            .for_element(Locator::LinkText(text))
            .await
            .unwrap_or_else(|err| panic!("no {text:?} link on {from}: {err}"));
        link.click().await.unwrap();
        self.wait_for(
            &format!("the {text:?} link on {from} to lead away"),
            || self.client.current_url(),
            |url| url.as_ref().is_ok_and(|url| *url != from),
        )
        .await
        .unwrap();
    }

    /// The visible text of the element with this id.
    pub(crate) async fn text(&self, id: &str) -> Result<String, String> {
        let element = self
            .client
            .find(Locator::Id(id))
            .await
            .map_err(|e| e.to_string())?;
        element.text().await.map_err(|e| e.to_string())
    }

    /// The attribute `name` of the element with this id.
    pub(crate) async fn attr(&self, id: &str, name: &str) -> Result<Option<String>, String> {
        let element = self
            .client
            .find(Locator::Id(id))
            .await
            .map_err(|e| e.to_string())?;
        element.attr(name).await.map_err(|e| e.to_string())
    }

    /// The lines of `#log`, one per `<div>`.
    pub(crate) async fn log(&self) -> Vec<String> {
        let lines = self
            .client
            .execute(
                "return Array.from(document.querySelectorAll('#log > div'), d => d.textContent);",
                Vec::new(),
            )
            .await
            .unwrap();
        serde_json::from_value(lines).unwrap()
    }

    /// Probes until `done` holds, for at most [`PAGE_WAIT`]; returns the
    /// last probe.
    pub(crate) async fn wait_for<T: Debug, F: Future<Output = T>>(
        &self,
        what: &str,
        probe: impl Fn() -> F,
        done: impl Fn(&T) -> bool,
    ) -> T {
        poll_until(what, PAGE_WAIT, probe, done).await
    }

    pub(crate) async fn wait_text(&self, id: &str, expected: &str) {
        self.wait_for(
            &format!("#{id} to read {expected:?}"),
            || self.text(id),
            |text| text.as_deref() == Ok(expected),
        )
        .await
        .unwrap();
    }

    pub(crate) async fn wait_attr(&self, id: &str, name: &str, expected: &str) {
        self.wait_for(
            &format!("#{id} {name}={expected:?}"),
            || self.attr(id, name),
            |value| matches!(value, Ok(Some(v)) if v == expected),
        )
        .await
        .unwrap();
    }

    /// Waits until a line of `#log` reads exactly `line`; returns the log.
    pub(crate) async fn wait_log_line(&self, what: &str, line: &str) -> Vec<String> {
        self.wait_log(what, |log| log.iter().any(|l| l == line))
            .await
    }

    /// Waits, at most [`PAGE_WAIT`], until `done` holds of `#log`;
    /// returns the log.
    pub(crate) async fn wait_log(
        &self,
        what: &str,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        self.wait_log_for(what, PAGE_WAIT, done).await
    }

    /// Waits, at most `limit`, until `done` holds of `#log`; returns the log.
    pub(crate) async fn wait_log_for(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        poll_until(what, limit, || self.log(), |log| done(log)).await
    }

    /// Saves a PNG of the current window under `<target>/browser-screenshots/`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// Ends the session politely; the driver's guard does the rest.
    pub(crate) async fn finish(self) {
        let Browser { client, mut driver } = self;
        let closed = tokio::time::timeout(PAGE_WAIT, client.close()).await;
        assert!(
            matches!(closed, Ok(Ok(()))),
            "closing the session: {closed:?}"
        );
        driver.session = None;
        drop(driver);
    }
}

fn screenshot_dir() -> PathBuf {
    let target = option_env!("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        |dir| Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
    );
    target.join("browser-screenshots")
}

// ---- chromedriver -----------------------------------------------------------

/// A chromedriver process on a loopback port, and the chromium profile
/// folder its session uses. Dropping it ends the session (chromium quits),
/// stops chromedriver and removes the profile.
struct Driver {
    child: Child,
    port: u16,
    session: Option<String>,
    profile: TempDir,
}

impl Driver {
    fn start() -> Driver {
        // A port freed a moment ago may be taken again before chromedriver
        // binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut child = match Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => child,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    panic!("{CHROMEDRIVER} is not on PATH: {INSTALL_HINT}")
                }
                Err(err) => panic!("starting {CHROMEDRIVER}: {err}"),
            };
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    return Driver {
                        child,
                        port,
                        session: None,
                        profile: TempDir::new("browser"),
                    };
                }
                Err(err) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = err;
                }
            }
        }
        panic!("chromedriver did not start: {last_error}");
    }
}

/// Waits, at most 10 s, until the chromedriver on `port` reports itself ready.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited with {status}"));
        }
        if let Ok(reply) = driver_request(port, "GET", "/status")
            && reply.contains("\"ready\":true")
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("it did not answer on port {port} within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Ending the session quits chromium; a failed test never got to.
        if let Some(id) = self.session.take() {
            let _ = driver_request(self.port, "DELETE", &format!("/session/{id}"));
        }
        let _ = driver_request(self.port, "GET", "/shutdown");
        let deadline = Instant::now() + Duration::from_secs(3);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Chromium may take a moment to let go of its profile.
        for _ in 0..50 {
            let profile = self.profile.path();
            if std::fs::remove_dir_all(profile).is_ok() || !profile.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A bodiless request to chromedriver, blocking and bounded; the whole
/// answer, head and body. For the guard, which cannot await.
fn driver_request(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver keeps the connection open whatever the request says:
    // read the head, then as much body as it announces.
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&reply);
        if let Some(head_len) = text.find("\r\n\r\n") {
            let body_len = text[..head_len]
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if reply.len() >= head_len + 4 + body_len {
                break;
            }
        }
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}
