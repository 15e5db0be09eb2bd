//! The control page over https and wss in a real browser: headless
//! chromium, driven over WebDriver by chromedriver, trusts exactly one
//! self-signed certificate's key (`--ignore-certificate-errors-spki-list`
//! with the SHA-256 of its SubjectPublicKeyInfo), loads the page from an
//! in-process device server configured with `[tls]`, and switches the LED.
//!
//! Like tests/browser.rs (whose approach this follows): needs Debian's
//! `chromium` and `chromium-driver` (`.ci/run` installs them); without
//! them each test passes without running and the run says so once; with
//! `CI` set (to anything but empty, `0` or `false`) they are required.
//! Each test has its own server, chromedriver, chromium and profile; every
//! wait is bounded, and so is each test.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{TempDir, any_port, poll_until};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use pinsocket::RunningServer;
use pinsocket_device::{App, Config, Device, Level, SimBoard};
use rcgen::PublicKeyData;
use serde_json::{Value, json};

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's `chromium-driver`, looked up on `PATH`.
const CHROMEDRIVER: &str = "chromedriver";
const INSTALL_HINT: &str = "the browser tests need Debian's chromium and chromium-driver: \
     run `apt-get update && apt-get install -y chromium chromium-driver` (.ci/run does)";
/// The environment variable that makes the browser tests required.
const REQUIRED_BY: &str = "CI";

/// The longest a page may take to show what a step expects.
const WAIT: Duration = Duration::from_secs(5);
/// The longest a whole test may take.
const TEST_LIMIT: Duration = Duration::from_secs(90);

// ---- the tests --------------------------------------------------------------

/// https://127.0.0.1:PORT/ in a browser that trusts the server's key: the
/// page loads, connects over wss, and its switch drives line 12.
#[tokio::test]
async fn the_control_page_over_https_switches_the_led() {
    browser_test(async {
        let device = TlsDevice::start();
        let browser = Browser::start(&device.spki_sha256).await;
        browser.goto(&device.url("/")).await;
        browser.wait_text("conn", "connected").await;
        browser.wait_attr("led-led", "data-level", "low").await;
        let log = browser.log().await;
        assert_eq!(
            log.first(),
            Some(&format!("Connection to wss://{}/...", device.addr())),
            "{log:#?}"
        );
        let scheme = browser
            .client
            .execute("return location.protocol;", Vec::new())
            .await
            .unwrap();
        assert_eq!(scheme, json!("https:"));

        browser.click("out-led").await;
        wait_line(&device.sim, Level::High).await;
        browser.wait_attr("led-led", "data-level", "high").await;
        browser.wait_attr("out-led", "aria-pressed", "true").await;
        browser.screenshot("tls-control.png").await;
        browser.click("out-led").await;
        wait_line(&device.sim, Level::Low).await;
        browser.wait_attr("led-led", "data-level", "low").await;

        browser.finish().await;
        device.shutdown();
    })
    .await;
}

/// The flag trusts one key, not every certificate: a browser pinned to
/// another key gets no page and opens no WebSocket.
#[tokio::test]
async fn a_browser_trusting_another_key_gets_no_page() {
    browser_test(async {
        let device = TlsDevice::start();
        let other = rcgen::KeyPair::generate().unwrap();
        let browser = Browser::start(&spki_sha256(&other)).await;
        // Chromium shows its own error page; the navigation itself may
        // report the error too.
        let _ = browser.client.goto(&device.url("/")).await;
        let has_page = browser
            .client
            .execute(
                "return document.getElementById('conn') !== null;",
                Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(has_page, json!(false), "the control page loaded");
        assert!(device.server.clients().is_empty());
        browser.finish().await;
        device.shutdown();
    })
    .await;
}

// ---- the device server over TLS ---------------------------------------------

/// The device app for one output, `led` on line 12, with `[tls]` naming a
/// fresh self-signed certificate for 127.0.0.1, on a free loopback port.
struct TlsDevice {
    server: RunningServer,
    /// The board's hub, kept as long as the server.
    _device: Device,
    sim: SimBoard,
    /// Base64 SHA-256 of the certificate's SubjectPublicKeyInfo.
    spki_sha256: String,
    /// Holds the PEM files.
    _dir: TempDir,
}

impl TlsDevice {
    fn start() -> TlsDevice {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        let dir = TempDir::new("browser-tls");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let toml = format!(
            "[[output]]\nname = \"led\"\nline = 12\nfailsafe = true\n\n\
             [tls]\ncert = {:?}\nkey = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        );
        let config = Config::parse(&toml, Path::new("tls.toml")).unwrap();
        let app = App::new(config, Some(any_port()), None).unwrap();
        let sim = app.sim.clone().unwrap();
        let server = app
            .server
            .close_timeout(Duration::from_millis(500))
            .start()
            .unwrap();
        assert!(server.is_tls());
        TlsDevice {
            server,
            _device: app.device,
            sim,
            spki_sha256: spki_sha256(&made.signing_key),
            _dir: dir,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr())
    }

    fn shutdown(self) {
        self.server.shutdown();
    }
}

/// What `--ignore-certificate-errors-spki-list` takes: the base64 SHA-256
/// of the key's SubjectPublicKeyInfo.
fn spki_sha256(key: &rcgen::KeyPair) -> String {
    let spki = key.subject_public_key_info();
    STANDARD.encode(ring::digest::digest(&ring::digest::SHA256, &spki))
}

/// Waits for the simulated line 12 to reach `level`.
async fn wait_line(sim: &SimBoard, level: Level) {
    poll_until(
        &format!("line 12 to be {level:?}"),
        WAIT,
        || std::future::ready(sim.line(12)),
        |now| *now == Some(level),
    )
    .await;
}

// ---- the browser ------------------------------------------------------------

/// A chromium session on its own chromedriver.
struct Browser {
    client: Client,
    /// Declared after `client`: dropped last, it ends the session itself.
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver and, through it, a headless chromium that
    /// trusts the key with this SPKI hash (and no other untrusted one).
    async fn start(spki_sha256: &str) -> Browser {
        let mut driver = Driver::start();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--ignore-certificate-errors-spki-list={spki_sha256}"),
            &format!("--user-data-dir={}", driver.profile.path().display()),
        ];
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
        client.set_window_size(1100, 900).await.unwrap();
        Browser { client, driver }
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    async fn click(&self, id: &str) {
        let button = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Id(id))
            .await
            .unwrap_or_else(|err| panic!("no #{id} on the page: {err}"));
        button.click().await.unwrap();
    }

    async fn text(&self, id: &str) -> Result<String, String> {
        let element = self
            .client
            .find(Locator::Id(id))
            .await
            .map_err(|e| e.to_string())?;
        element.text().await.map_err(|e| e.to_string())
    }

    async fn attr(&self, id: &str, name: &str) -> Result<Option<String>, String> {
        let element = self
            .client
            .find(Locator::Id(id))
            .await
            .map_err(|e| e.to_string())?;
        element.attr(name).await.map_err(|e| e.to_string())
    }

    /// The lines of `#log`, one per `<div>`.
    async fn log(&self) -> Vec<String> {
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

    async fn wait_text(&self, id: &str, expected: &str) {
        poll_until(
            &format!("#{id} to read {expected:?}"),
            WAIT,
            || self.text(id),
            |text| text.as_deref() == Ok(expected),
        )
        .await
        .unwrap();
    }

    async fn wait_attr(&self, id: &str, name: &str, expected: &str) {
        poll_until(
            &format!("#{id} {name}={expected:?}"),
            WAIT,
            || self.attr(id, name),
            |value| matches!(value, Ok(Some(v)) if v == expected),
        )
        .await
        .unwrap();
    }

    /// Saves a PNG of the window under `<target>/browser-screenshots/`.
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name} is not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// Ends the session politely; the driver's guard does the rest.
    async fn finish(self) {
        let Browser { client, mut driver } = self;
        let closed = tokio::time::timeout(WAIT, client.close()).await;
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

/// Runs one browser test, failing it after [`TEST_LIMIT`]. Without
/// chromium or chromedriver it is skipped, said once past the harness's
/// output capture, unless [`REQUIRED_BY`] is set, which makes it fail.
async fn browser_test(test: impl Future<Output = ()>) {
    if let Some(missing) = missing_browser() {
        assert!(!browsers_required(), "{missing}: {INSTALL_HINT}");
        static NOTICE: Once = Once::new();
        NOTICE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED browser TLS tests: {missing}; install with `apt-get install chromium \
                 chromium-driver`, or set {REQUIRED_BY}=1 to make them required"
            );
        });
        return;
    }
    if tokio::time::timeout(TEST_LIMIT, test).await.is_err() {
        panic!("the test took longer than {TEST_LIMIT:?}");
    }
}

/// What the browser tests lack, if anything.
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

// ---- chromedriver -----------------------------------------------------------

/// A chromedriver process on a loopback port and the profile folder its
/// session uses. Dropping it ends the session, stops chromedriver and
/// removes the profile.
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
                Err(err) => panic!("starting {CHROMEDRIVER}: {err}: {INSTALL_HINT}"),
            };
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    return Driver {
                        child,
                        port,
                        session: None,
                        profile: TempDir::new("browser-tls"),
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
        if let Ok(reply) = http(port, "GET", "/status")
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
        if let Some(id) = self.session.take() {
            let _ = http(self.port, "DELETE", &format!("/session/{id}"));
        }
        let _ = http(self.port, "GET", "/shutdown");
        let deadline = Instant::now() + Duration::from_secs(3);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// A bodiless request to chromedriver, blocking and bounded: the head and
/// as much body as it announces.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
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
