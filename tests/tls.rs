//! https and wss: the TLS terminator in front of the plain server, as a
//! client sees it. Every server here has a fresh self-signed certificate
//! (rcgen) for 127.0.0.1 and localhost, and every client is rustls
//! trusting exactly that certificate.
//!
//! The round-trip figures (`wss_round_trip_p50_against_plain_ws`) print
//! with `cargo test --release --test tls -- --nocapture round_trip`.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{
    Closes, Pinsocket, TempDir, WAIT, any_port, echo_builder, run_to_exit, wait_all_gone,
    wait_until, within,
};
use futures_util::{SinkExt, StreamExt};
use pinsocket::{RunningServer, Server, TlsConfig};
use pinsocket_device::{App, Config, Level};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;

// ---- certificates and clients ----------------------------------------------

/// A self-signed certificate for 127.0.0.1 and localhost, and its key, PEM.
struct Identity {
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
}

impl Identity {
    fn new() -> Identity {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap();
        Identity {
            cert_pem: made.cert.pem(),
            key_pem: made.signing_key.serialize_pem(),
            cert_der: made.cert.der().clone(),
        }
    }

    fn config(&self) -> TlsConfig {
        TlsConfig::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).unwrap()
    }

    /// The certificate and key written into `dir` as `cert.pem`, `key.pem`.
    fn write(&self, dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }

    /// A rustls client that trusts this certificate and nothing else.
    fn connector(&self) -> TlsConnector {
        connector_trusting(self.cert_der.clone())
    }
}

fn connector_trusting(cert: CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// A TLS connection to `addr`, checked against the name 127.0.0.1.
async fn tls_connect(connector: &TlsConnector, addr: SocketAddr) -> TlsStream<TcpStream> {
    let tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
    within("TLS handshake", connector.connect(name, tcp))
        .await
        .unwrap()
}

/// A tokio-tungstenite client over TLS.
type Wss = WebSocketStream<TlsStream<TcpStream>>;

async fn wss_connect(connector: &TlsConnector, addr: SocketAddr, protocol: Option<&str>) -> Wss {
    let tls = tls_connect(connector, addr).await;
    let mut request = format!("wss://{addr}/")
        .parse::<tokio_tungstenite::tungstenite::http::Uri>()
        .map(|uri| {
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(uri)
                .unwrap()
        })
        .unwrap();
    if let Some(protocol) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    }
    let (ws, response) = within(
        "websocket handshake over TLS",
        tokio_tungstenite::client_async(request, tls),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 101);
    ws
}

async fn next_message(ws: &mut Wss) -> Message {
    within("next message", ws.next())
        .await
        .expect("stream ended")
        .unwrap()
}

async fn next_text(ws: &mut Wss) -> String {
    loop {
        if let Message::Text(text) = next_message(ws).await {
            return text.to_string();
        }
    }
}

/// What the next state message of the device server holds, skipping
/// any other message.
async fn next_state(ws: &mut Wss) -> serde_json::Value {
    loop {
        let msg: serde_json::Value = serde_json::from_str(&next_text(ws).await).unwrap();
        if let Some(state) = msg.get("state") {
            return state.clone();
        }
    }
}

/// `GET path` over `stream` with `Connection: close`; the whole response.
async fn get<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    host: SocketAddr,
    path: &str,
) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    within("request", stream.write_all(request.as_bytes()))
        .await
        .unwrap();
    let mut response = Vec::new();
    // A TLS peer that closes without close_notify ends the read with an
    // error after the bytes: what was read is the response either way.
    let _ = within("response", stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

// ---- servers ----------------------------------------------------------------

/// Serializes starting servers in this file, so that the one test that
/// looks for a server's private listener among this process's sockets
/// sees only the server it started.
fn starting() -> MutexGuard<'static, ()> {
    static STARTING: Mutex<()> = Mutex::new(());
    STARTING.lock().unwrap_or_else(|e| e.into_inner())
}

fn start(server: Server) -> RunningServer {
    let _guard = starting();
    server.start().unwrap()
}

/// The echo server of the other tests, over TLS with `identity`.
fn echo_tls(identity: &Identity) -> Server {
    echo_builder()
        .close_timeout(Duration::from_millis(500))
        .tls(identity.config())
}

// ---- https and wss ----------------------------------------------------------

#[tokio::test]
async fn the_control_page_is_served_over_https() {
    let identity = Identity::new();
    let server = start(echo_tls(&identity));
    assert!(server.is_tls());
    let addr = server.local_addr();
    let tls = tls_connect(&identity.connector(), addr).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let response = get(tls, addr, "/").await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with(std::str::from_utf8(common::builtin_page("index.html")).unwrap()));
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn a_wss_round_trip_and_a_clean_close() {
    let identity = Identity::new();
    let closes = Closes::new();
    let server = start(echo_tls(&identity).on_close(closes.hook()));
    let mut ws = wss_connect(&identity.connector(), server.local_addr(), None).await;
    for text in ["hello over TLS", &"x".repeat(100_000)] {
        within("send", ws.send(Message::text(text))).await.unwrap();
        assert_eq!(next_text(&mut ws).await, text);
    }
    within("send", ws.send(Message::binary(vec![7u8; 70_000])))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut ws).await,
        Message::binary(vec![7u8; 70_000])
    );
    // The client's close goes through the terminator and back.
    within("close", ws.close(None)).await.unwrap();
    within("end of stream", async {
        while let Some(Ok(msg)) = ws.next().await {
            assert!(msg.is_close(), "{msg:?}");
        }
    })
    .await;
    assert_eq!(
        closes.wait_for(1, WAIT).await,
        [(1005, String::new())],
        "a close frame without a code is reported as 1005"
    );
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn on_accept_sees_the_real_peer_address() {
    let identity = Identity::new();
    let (tx, rx) = mpsc::channel();
    let server = start(echo_tls(&identity).on_accept(move |conn, request| {
        let _ = tx.send((request.peer_addr(), conn.peer_addr()));
        Ok(())
    }));
    let addr = server.local_addr();
    // A client bound to an address of its own: 127.0.0.2 is loopback too,
    // and no connection the terminator makes comes from it.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from(([127, 0, 0, 2], 0))).unwrap();
    let client_addr = socket.local_addr().unwrap();
    let tcp = within("connect", socket.connect(addr)).await.unwrap();
    let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
    let tls = within("handshake", identity.connector().connect(name, tcp))
        .await
        .unwrap();
    let (mut ws, _) = within(
        "websocket handshake",
        tokio_tungstenite::client_async(format!("wss://{addr}/"), tls),
    )
    .await
    .unwrap();
    let (seen_by_request, seen_by_connection) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!(seen_by_request, client_addr);
    assert_eq!(seen_by_connection.to_string(), client_addr.to_string());
    within("close", ws.close(None)).await.unwrap();
    server.shutdown();
}

#[tokio::test]
async fn shutdown_closes_tls_clients_with_1001() {
    let identity = Identity::new();
    let closes = Closes::new();
    let server = start(echo_tls(&identity).on_close(closes.hook()));
    let connector = identity.connector();
    let mut a = wss_connect(&connector, server.local_addr(), None).await;
    let mut b = wss_connect(&connector, server.local_addr(), None).await;
    within("send", a.send(Message::text("ready")))
        .await
        .unwrap();
    assert_eq!(next_text(&mut a).await, "ready");
    assert_eq!(server.connections(), 2, "one count per TLS connection");
    let stopping = std::thread::spawn(move || server.shutdown());
    for ws in [&mut a, &mut b] {
        match next_message(ws).await {
            Message::Close(Some(frame)) => {
                assert_eq!(frame.code, WsCloseCode::Away);
                assert_eq!(frame.reason.as_str(), "server shutting down");
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
        // tungstenite answers the close; the server then ends the stream.
        within("end of stream", async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
    let codes = closes.wait_for(2, WAIT).await;
    assert!(codes.iter().all(|(code, _)| *code == 1001), "{codes:?}");
    within(
        "shutdown to finish",
        tokio::task::spawn_blocking(move || stopping.join()),
    )
    .await
    .unwrap()
    .unwrap();
}

// ---- what is not TLS --------------------------------------------------------

#[tokio::test]
async fn plain_http_to_the_tls_port_is_told_to_use_https() {
    let identity = Identity::new();
    let server = start(echo_tls(&identity));
    let addr = server.local_addr();
    let tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    let response = get(tcp, addr, "/").await;
    assert!(
        response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{response}"
    );
    assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
    assert!(
        response.ends_with(&format!(
            "\r\n\r\nThis server speaks HTTPS: open https://{addr}/ instead.\n"
        )),
        "{response}"
    );
    // A Host that is not a plain host:port is not echoed back.
    let mut tcp = within("connect", TcpStream::connect(addr)).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: <script>\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = within("response", tcp.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.ends_with(&format!("open https://{addr}/ instead.\n")),
        "{response}"
    );
    // The TLS side still works.
    let tls = tls_connect(&identity.connector(), addr).await;
    assert!(get(tls, addr, "/").await.starts_with("HTTP/1.1 200 OK\r\n"));
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

/// The listening TCP sockets on 127.0.0.1 that this process holds, by
/// port: its descriptors' socket inodes looked up in /proc/net/tcp.
fn own_loopback_listeners() -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            let (ip, port) = local.split_once(':')?;
            // 0100007F is 127.0.0.1 in the kernel's byte order; 0A is LISTEN.
            (ip == "0100007F" && *state == "0A" && inodes.iter().any(|i| i == *inode))
                .then(|| u16::from_str_radix(port, 16).ok())
                .flatten()
        })
        .collect()
}

#[tokio::test]
async fn a_connection_to_the_private_listener_not_made_by_the_terminator_is_refused() {
    let identity = Identity::new();
    let (tx, rx) = mpsc::channel();
    let (server, private) = {
        let _guard = starting();
        let before = own_loopback_listeners();
        let server = echo_tls(&identity)
            .on_accept(move |_, request| {
                let _ = tx.send(request.path().to_owned());
                Ok(())
            })
            .start()
            .unwrap();
        let new: Vec<u16> = own_loopback_listeners()
            .into_iter()
            .filter(|p| !before.contains(p) && *p != server.local_addr().port())
            .collect();
        assert_eq!(new.len(), 1, "the private listener: {new:?}");
        (server, SocketAddr::from(([127, 0, 0, 1], new[0])))
    };
    // Plain HTTP and a WebSocket upgrade straight to the plain server: the
    // connection is closed without a byte of answer, and no callback runs.
    for request in [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        format!(
            "GET / HTTP/1.1\r\nHost: {private}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
    ] {
        let mut tcp = within("connect", TcpStream::connect(private))
            .await
            .unwrap();
        let _ = tcp.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = within("the close", tcp.read_to_end(&mut answer)).await;
        assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    }
    assert!(
        rx.try_recv().is_err(),
        "on_accept ran for a refused connection"
    );
    // The same request through TLS is served.
    let mut ws = wss_connect(&identity.connector(), server.local_addr(), None).await;
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "/");
    within("close", ws.close(None)).await.unwrap();
    server.shutdown();
}

#[tokio::test]
async fn tls_connections_count_against_the_connection_limit() {
    let identity = Identity::new();
    let server = start(echo_tls(&identity).max_connections(1));
    let connector = identity.connector();
    let mut ws = wss_connect(&connector, server.local_addr(), None).await;
    wait_until("one connection counted", WAIT, || server.connections() == 1).await;
    // The second is closed before its handshake.
    let tcp = within("connect", TcpStream::connect(server.local_addr()))
        .await
        .unwrap();
    let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
    let refused = within("the refusal", connector.connect(name, tcp)).await;
    assert!(refused.is_err(), "a second TLS connection was accepted");
    // The first is unaffected.
    within("send", ws.send(Message::text("still here")))
        .await
        .unwrap();
    assert_eq!(next_text(&mut ws).await, "still here");
    within("close", ws.close(None)).await.unwrap();
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn a_handshake_that_never_comes_is_dropped_after_the_header_timeout() {
    let identity = Identity::new();
    let server = start(echo_tls(&identity).header_timeout(Duration::from_millis(300)));
    let mut silent = within("connect", TcpStream::connect(server.local_addr()))
        .await
        .unwrap();
    let mut half = within("connect", TcpStream::connect(server.local_addr()))
        .await
        .unwrap();
    // The start of a ClientHello record, never finished.
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    for tcp in [&mut silent, &mut half] {
        let mut rest = Vec::new();
        let _ = within("the close", tcp.read_to_end(&mut rest)).await;
    }
    wait_all_gone(&server, WAIT).await;
    server.shutdown();
}

#[tokio::test]
async fn pem_errors_name_the_file() {
    let identity = Identity::new();
    let dir = TempDir::new("tls-pem");
    let (cert, key) = identity.write(&dir);
    let missing = dir.path().join("missing.pem");
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not PEM at all\n").unwrap();
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, Identity::new().key_pem).unwrap();
    let cases = [
        (
            &missing,
            &key,
            format!("cannot read the TLS certificate {}", missing.display()),
        ),
        (
            &cert,
            &missing,
            format!("cannot read the TLS private key {}", missing.display()),
        ),
        (
            &junk,
            &key,
            format!("{}: no certificate in it", junk.display()),
        ),
        (
            &cert,
            &junk,
            format!("{}: no private key in it", junk.display()),
        ),
        (
            &cert,
            &other_key,
            format!(
                "{} is not the private key of the certificate in {}",
                other_key.display(),
                cert.display()
            ),
        ),
    ];
    for (cert, key, expected) in cases {
        let err = TlsConfig::from_pem_files(cert, key)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&expected),
            "{err:?} should start {expected:?}"
        );
        // Server::tls_pem reads them when the server starts.
        let err = Server::new()
            .bind(any_port())
            .tls_pem(cert, key)
            .spawn()
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&expected),
            "{err:?} should start {expected:?}"
        );
    }
}

// ---- the device server ------------------------------------------------------

#[tokio::test]
async fn the_device_app_over_tls_switches_the_led() {
    let identity = Identity::new();
    let dir = TempDir::new("tls-device");
    let (cert, key) = identity.write(&dir);
    let toml = format!(
        "[[output]]\nname = \"led\"\nline = 12\n\n[tls]\ncert = {:?}\nkey = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    let config = Config::parse(&toml, std::path::Path::new("tls.toml")).unwrap();
    let app = App::new(config, Some(any_port()), None).unwrap();
    let sim = app.sim.clone().unwrap();
    let server = start(app.server.close_timeout(Duration::from_millis(500)));
    assert!(server.is_tls());
    let mut ws = wss_connect(
        &identity.connector(),
        server.local_addr(),
        Some("pinsocket"),
    )
    .await;
    assert_eq!(next_state(&mut ws).await["outputs"]["led"], false);
    within("send", ws.send(Message::text(r#"{"set":{"led":true}}"#)))
        .await
        .unwrap();
    wait_until("line 12 high", WAIT, || sim.line(12) == Some(Level::High)).await;
    assert_eq!(next_state(&mut ws).await["outputs"]["led"], true);
    within("close", ws.close(None)).await.unwrap();
    drop(app.device);
    server.shutdown();
}

// ---- the binary -------------------------------------------------------------

#[tokio::test]
async fn gen_cert_then_the_binary_serves_https_with_it() {
    let dir = TempDir::new("tls-gen-cert");
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let gen_args = |force: bool| {
        let mut args: Vec<&std::ffi::OsStr> = ["gen-cert", "--host", "127.0.0.1", "--host"]
            .iter()
            .map(std::ffi::OsStr::new)
            .collect();
        args.push("localhost".as_ref());
        args.extend([
            "--cert".as_ref(),
            cert.as_os_str(),
            "--key".as_ref(),
            key.as_os_str(),
            "--days".as_ref(),
            "30".as_ref(),
        ]);
        if force {
            args.push("--force".as_ref());
        }
        args
    };
    let out = run_to_exit(&gen_args(false));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!(
            "pinsocket: wrote the certificate {}, for 127.0.0.1, localhost, valid until ",
            cert.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("--ignore-certificate-errors-spki-list="),
        "{stdout}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
    }
    // Not overwritten, unless asked.
    let written = std::fs::read(&cert).unwrap();
    let again = run_to_exit(&gen_args(false));
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&again.stderr),
        format!(
            "pinsocket: {} exists: not overwritten (--force replaces it)\n",
            cert.display()
        )
    );
    assert_eq!(std::fs::read(&cert).unwrap(), written);
    assert!(run_to_exit(&gen_args(true)).status.success());
    assert_ne!(std::fs::read(&cert).unwrap(), written);

    // The binary serves https with them, and says so.
    let serving = Pinsocket::start(&[
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--tls-cert".as_ref(),
        cert.as_os_str(),
        "--tls-key".as_ref(),
        key.as_os_str(),
    ]);
    let addr = serving.listening();
    assert_eq!(
        serving.line(),
        format!(
            "pinsocket: open https://{addr}/ (this machine only; --listen 0.0.0.0:{} serves \
             your network)",
            addr.port()
        )
    );
    let der = CertificateDer::from(
        rustls::pki_types::pem::PemObject::from_pem_file(&cert)
            .map(|c: CertificateDer<'static>| c.to_vec())
            .unwrap(),
    );
    let tls = tls_connect(&connector_trusting(der), addr).await;
    let response = get(tls, addr, "/").await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("<title>pinsocket</title>"));
    drop(serving);
}

#[test]
fn tls_cert_and_tls_key_go_together() {
    for args in [["--tls-cert", "c.pem"], ["--tls-key", "k.pem"]] {
        let out = run_to_exit(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let other = if args[0] == "--tls-cert" {
            "--tls-key"
        } else {
            "--tls-cert"
        };
        assert!(
            stderr.contains("required arguments were not provided") && stderr.contains(other),
            "{stderr}"
        );
    }
}

#[test]
fn the_binary_names_an_unreadable_certificate() {
    let dir = TempDir::new("tls-bin-pem");
    let missing = dir.path().join("missing.pem");
    let out = run_to_exit(&[
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--tls-cert".as_ref(),
        missing.as_os_str(),
        "--tls-key".as_ref(),
        missing.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "pinsocket: cannot read the TLS certificate {}: ",
            missing.display()
        )),
        "{stderr}"
    );
}

// ---- how much TLS costs -----------------------------------------------------

/// The median time of `rounds` round trips of a small text message on the
/// WebSocket client `ws`, after a warm-up of 100.
macro_rules! p50 {
    ($rounds:expr, $ws:ident) => {{
        let mut times = Vec::with_capacity($rounds);
        for i in 0..(100 + $rounds) {
            let start = Instant::now();
            within("send", $ws.send(Message::text("ping 0123456789")))
                .await
                .unwrap();
            let echoed = within("echo", $ws.next()).await.unwrap().unwrap();
            assert_eq!(echoed, Message::text("ping 0123456789"), "round {i}");
            if i >= 100 {
                times.push(start.elapsed());
            }
        }
        times.sort();
        times[$rounds / 2]
    }};
}

/// Round-trip p50 of one small message, wss against plain ws, on this
/// machine: printed, never asserted (time is not asserted in tests); what
/// is asserted is that every one of the 2,100 messages comes back whole,
/// over both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_round_trip_p50_against_plain_ws() {
    const ROUNDS: usize = 2_000;
    let identity = Identity::new();
    let plain = start(echo_builder());
    let tls = start(echo_tls(&identity));

    let mut ws = common::ws_connect(plain.local_addr(), "/").await;
    let plain_p50 = p50!(ROUNDS, ws);
    let mut wss = wss_connect(&identity.connector(), tls.local_addr(), None).await;
    let tls_p50 = p50!(ROUNDS, wss);
    let build = if cfg!(debug_assertions) {
        "debug build"
    } else {
        "release build"
    };
    eprintln!("round trip p50 over {ROUNDS} messages ({build}): ws {plain_p50:?}, wss {tls_p50:?}");
    common::close_ws(ws).await;
    within("close", wss.close(None)).await.unwrap();
    plain.shutdown();
    tls.shutdown();
}
