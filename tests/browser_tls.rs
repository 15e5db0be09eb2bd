//! The control page over https and wss in a real browser: headless
//! chromium, driven over WebDriver by chromedriver, trusts exactly one
//! self-signed certificate's key (`--ignore-certificate-errors-spki-list`
//! with the SHA-256 of its SubjectPublicKeyInfo), loads the page from a
//! device server serving that certificate, and switches the LED: an
//! in-process device server configured with `[tls]`, and the `pinsocket`
//! binary itself listening on 0.0.0.0 with `--tls-cert` and `--tls-key`.
//!
//! The browser is tests/common/browser.rs, as in tests/browser.rs: it
//! needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them); without them each test passes without running and the run says
//! so once; with `CI` set (to anything but empty, `0` or `false`) they are
//! required. Each test has its own server, chromedriver, chromium and
//! profile; every wait is bounded, and so is each test.
#![allow(clippy::unwrap_used)]

mod common;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Browser, KEY, LED_BOARD, Pinsocket, TempDir, any_port, head_end, wait_line, within};
use pinsocket::RunningServer;
use pinsocket_device::{App, Config, Device, Level, SimBoard};
use rcgen::PublicKeyData;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

// ---- the tests --------------------------------------------------------------

/// https://127.0.0.1:PORT/ in a browser that trusts the server's key: the
/// page loads, connects over wss, and its switch drives line 12.
#[tokio::test]
async fn the_control_page_over_https_switches_the_led() {
    browser_test(async {
        let device = TlsDevice::start();
        let browser = start_trusting(&device.spki_sha256).await;
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
        let browser = start_trusting(&spki_sha256(&other)).await;
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

// ---- the binary -------------------------------------------------------------

/// The acceptance test of https, with the real binary: `pinsocket --listen
/// 0.0.0.0:0 --tls-cert C --tls-key K` prints https URLs with a token;
/// chromium, trusting exactly that key, opens the one for 127.0.0.1, is
/// sent on to the page without the token, and the page's switch turns the
/// LED on: the page shows it and the simulated board logs it. Then,
/// without a browser, the wss handshake: without the token 401, with it
/// but from another origin 403, with it from the page's own origin 101.
#[tokio::test]
async fn the_binary_on_0_0_0_0_serves_https_to_a_trusting_browser_and_guards_its_wss() {
    browser_test(async {
        let dir = TempDir::new("browser-tls-bin");
        let identity = Identity::write(&dir);
        let served = Pinsocket::start(&[
            "--listen".as_ref(),
            "0.0.0.0:0".as_ref(),
            "--tls-cert".as_ref(),
            identity.cert.as_os_str(),
            "--tls-key".as_ref(),
            identity.key.as_os_str(),
            "--log-level".as_ref(),
            "info".as_ref(),
        ]);
        let bound = served.listening();
        assert!(bound.ip().is_unspecified(), "{bound}");
        let opens = served.open_urls();
        assert!(
            opens.iter().all(|url| url.starts_with("https://")),
            "{opens:#?}"
        );
        let origin = format!("https://127.0.0.1:{}", bound.port());
        let url = opens
            .iter()
            .find(|url| url.starts_with(&format!("{origin}/?token=")))
            .unwrap_or_else(|| panic!("no URL for this machine: {opens:#?}"));
        let token = &url[origin.len() + "/?token=".len()..];
        assert!(!token.is_empty(), "{url}");

        let browser = start_trusting(&identity.spki_sha256).await;
        browser.goto(url).await;
        assert_eq!(
            browser.client.current_url().await.unwrap().as_str(),
            format!("{origin}/"),
            "the token leaves the address bar"
        );
        browser.wait_text("conn", "connected").await;
        browser.wait_attr("led-led", "data-level", "low").await;
        let log = browser.log().await;
        assert_eq!(
            log.first(),
            Some(&format!(
                "Connection to wss://127.0.0.1:{}/...",
                bound.port()
            )),
            "{log:#?}"
        );
        browser.click("out-led").await;
        browser.wait_attr("led-led", "data-level", "high").await;
        browser.wait_attr("out-led", "aria-pressed", "true").await;
        served.wait_log("sim: output led (line 12) -> high").await;
        browser.screenshot("tls-binary-control.png").await;
        browser.finish().await;

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, bound.port()));
        let connector = identity.connector();
        let with_token = format!("/?token={token}");
        let no_token = wss_upgrade_status(&connector, addr, "/", &origin).await;
        assert_eq!(no_token, 401, "no token");
        let evil = wss_upgrade_status(&connector, addr, &with_token, "https://evil.example").await;
        assert_eq!(evil, 403, "another origin");
        let own = wss_upgrade_status(&connector, addr, &with_token, &origin).await;
        assert_eq!(own, 101, "the token and the page's own origin");
        served.stop();
    })
    .await;
}

// ---- certificates and the device server over TLS ----------------------------

/// A fresh self-signed certificate for 127.0.0.1 and localhost, written
/// as PEM into a test's folder.
struct Identity {
    cert: PathBuf,
    key: PathBuf,
    /// Base64 SHA-256 of the certificate's SubjectPublicKeyInfo.
    spki_sha256: String,
}

impl Identity {
    /// Makes one and writes `cert.pem` and `key.pem` into `dir`.
    fn write(dir: &TempDir) -> Identity {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        Identity {
            cert,
            key,
            spki_sha256: spki_sha256(&made.signing_key),
        }
    }

    /// A rustls client that trusts this certificate and nothing else.
    fn connector(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&self.cert).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }
}

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
        let dir = TempDir::new("browser-tls");
        let identity = Identity::write(&dir);
        let toml = format!(
            "{LED_BOARD}\n[tls]\ncert = {:?}\nkey = {:?}\n",
            identity.cert.display().to_string(),
            identity.key.display().to_string()
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
            spki_sha256: identity.spki_sha256,
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

// ---- the binary's handshakes -----------------------------------------------

/// The status code of the answer to a WebSocket handshake for `target`
/// carrying `Origin: origin`, over TLS to `addr` (named 127.0.0.1).
async fn wss_upgrade_status(
    connector: &TlsConnector,
    addr: SocketAddr,
    target: &str,
    origin: &str,
) -> u16 {
    let tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
    let mut tls = within("TLS handshake", connector.connect(name, tcp))
        .await
        .unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
         Origin: {origin}\r\n\r\n"
    );
    within("handshake request", tls.write_all(request.as_bytes()))
        .await
        .unwrap();
    let mut head = Vec::new();
    while head_end(&head).is_none() {
        let mut chunk = [0u8; 4096];
        let n = within("handshake answer", tls.read(&mut chunk))
            .await
            .unwrap();
        assert!(
            n > 0,
            "closed before a whole head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    head.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 answer: {head:?}"))
}

// ---- the browser ------------------------------------------------------------

/// A browser (tests/common/browser.rs) that trusts the key with this SPKI
/// hash, and no other untrusted one.
async fn start_trusting(spki_sha256: &str) -> Browser {
    Browser::start_with(&[format!(
        "--ignore-certificate-errors-spki-list={spki_sha256}"
    )])
    .await
}

/// [`common::browser_test`], its skip notice naming the TLS tests.
async fn browser_test(test: impl Future<Output = ()>) {
    common::browser_test_as("browser TLS tests", test).await;
}
