//! The `pinsocket` binary as a user runs it: help, version, argument
//! errors, configuration errors, what it prints when serving, and a clean
//! exit on SIGTERM.
#![allow(clippy::unwrap_used)]

mod common;

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use common::{
    DEVICE_PROTOCOL, OP_PING, OP_TEXT, Pinsocket, RawWs, TempDir, WAIT, client_frame, run_to_exit,
};

/// What `pinsocket --log-level <level>` logs from its start until it is
/// listening and killed, RUST_LOG set to `rust_log` if given.
fn log_of(level: &str, rust_log: Option<&str>) -> String {
    let server = Pinsocket::start_with_env(
        &["--listen", "127.0.0.1:0", "--log-level", level],
        rust_log.map(|value| ("RUST_LOG", value)).as_slice(),
    );
    server.listening();
    server.kill()
}

/// GET / answers with the control page.
fn assert_serves_the_page(addr: SocketAddr) {
    let mut conn = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        conn,
        "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("<title>pinsocket</title>"));
}

#[test]
fn help_explains_every_option() {
    let out = run_to_exit(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in ["--listen", "--config", "--www", "--log-level"] {
        assert!(help.contains(option), "{option} missing from:\n{help}");
    }
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let out = run_to_exit(&["--config", "/nonexistent/pins.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "pinsocket: cannot read /nonexistent/pins.toml: No such file or directory (os error 2)\n"
    );
}

#[test]
fn a_config_error_names_file_line_and_field() {
    let dir = std::env::temp_dir().join(format!("pinsocket-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pins.toml");
    std::fs::write(
        &path,
        "[[output]]\nname = \"led\"\nline = 12\nsafe = \"off\"\n",
    )
    .unwrap();
    let out = run_to_exit(&[OsStr::new("--config"), path.as_os_str()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "pinsocket: {}:4:8: unknown variant `off`",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn serves_the_control_page_and_exits_cleanly_on_sigterm() {
    let serving = Pinsocket::start(&["--listen", "127.0.0.1:0", "--log-level", "info"]);
    let addr = serving.listening();
    assert_serves_the_page(addr);

    let log = serving.stop();
    assert!(
        log.contains("sim: output led (line 12) starts low"),
        "{log}"
    );
    assert!(log.contains("shutting down"), "{log}");
}

#[test]
fn version_names_the_binary() {
    let out = run_to_exit(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("pinsocket {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn safe_drives_the_configured_outputs_and_names_what_it_cannot_open() {
    // A simulated board has no line to drive: said, and success.
    let out = run_to_exit(&["safe"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "pinsocket safe: the board is simulated: no line to drive\n"
    );
    // Real hardware that is not there: a failure naming the output and chip.
    let dir = TempDir::new("safe");
    let config = dir.path().join("pins.toml");
    std::fs::write(
        &config,
        "backend = \"gpio-cdev\"\nchip = \"/nonexistent/gpiochip7\"\n\
         [[output]]\nname = \"relay\"\nline = 5\n",
    )
    .unwrap();
    let out = run_to_exit(&["safe", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot drive the outputs safe")
            && err.contains("relay")
            && err.contains("/nonexistent/gpiochip7"),
        "{err}"
    );
}

#[test]
fn help_says_which_outputs_are_failsafe() {
    for flag in ["--help", "-h"] {
        let out = run_to_exit(&[flag]);
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("Failsafe:"), "{flag}:\n{help}");
        assert!(help.contains("output `led`"), "{flag}:\n{help}");
        assert!(help.contains("`failsafe = true`"), "{flag}:\n{help}");
    }
}

#[test]
fn an_unknown_log_level_is_a_usage_error_naming_the_levels() {
    for level in ["verbose", "warning", "pinsocket=loud"] {
        let out = run_to_exit(&["--listen", "127.0.0.1:0", "--log-level", level]);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{level}: {stderr}");
        assert!(stderr.contains(&format!("'{level}'")), "{stderr}");
        assert!(
            stderr.contains("error, warn, info, debug, trace"),
            "{stderr}"
        );
    }
}

#[test]
fn log_levels_are_case_insensitive_and_directives_work() {
    for level in ["INFO", "Debug", "warn,pinsocket=info"] {
        let log = log_of(level, None);
        assert!(
            log.contains("sim: output led (line 12) starts low"),
            "{level}: {log}"
        );
    }
}

#[test]
fn an_invalid_rust_log_is_reported_and_does_not_silence_the_log() {
    let log = log_of("info", Some("verbose"));
    assert!(
        log.contains("RUST_LOG `verbose` ignored")
            && log.contains("error, warn, info, debug, trace"),
        "{log}"
    );
    assert!(
        log.contains("sim: output led (line 12) starts low"),
        "{log}"
    );
}

#[test]
fn a_valid_rust_log_overrides_the_log_level() {
    let log = log_of("info", Some("warn"));
    assert!(!log.contains("starts low"), "{log}");
    assert!(!log.contains("RUST_LOG"), "{log}");
}

#[test]
fn a_bare_port_a_colon_port_and_localhost_listen_on_loopback() {
    for listen in ["0", ":0", "localhost:0", "LocalHost:0"] {
        let server = Pinsocket::start(&["--listen", listen]);
        let addr = server.listening();
        assert_eq!(addr.ip().to_string(), "127.0.0.1", "--listen {listen}");
        assert_ne!(addr.port(), 0);
        assert_serves_the_page(addr);
    }
}

#[test]
fn a_bracketed_ipv6_address_is_accepted() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let server = Pinsocket::start(&["--listen", "[::1]:0"]);
    let addr = server.listening();
    assert_eq!(addr.ip().to_string(), "::1");
    assert_eq!(
        server.line(),
        format!(
            "pinsocket: open http://[::1]:{}/ (this machine only)",
            addr.port()
        )
    );
    assert_serves_the_page(addr);
}

#[test]
fn an_unusable_listen_address_says_what_is_expected() {
    for (listen, why) in [
        ("localhost:http", "`http` is not a port number"),
        ("127.0.0.1:70000", "port `70000` is out of range"),
        (
            "192.168.1.300:8080",
            "`192.168.1.300` is not an IPv4 address",
        ),
        ("::1:8080", "IPv6 addresses go in brackets"),
        ("http://0.0.0.0:8080/", "without `http://`"),
        ("", "empty"),
    ] {
        let out = run_to_exit(&["--listen", listen]);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{listen}: {stderr}");
        assert!(stderr.contains(why), "{listen}: {stderr}");
        assert!(
            stderr.contains("e.g. 8080, localhost:8080, 0.0.0.0:8080 or [::1]:8080"),
            "{listen}: {stderr}"
        );
    }
}

#[test]
fn prints_the_bound_address_then_the_page_to_open() {
    let server = Pinsocket::start(&["--listen", "127.0.0.1:0"]);
    let addr = server.listening();
    assert_eq!(
        server.line(),
        format!(
            "pinsocket: open http://{addr}/ (this machine only; --listen 0.0.0.0:{} serves your network)",
            addr.port()
        )
    );
}

/// The next text message on `client`, skipping pings.
async fn next_text_skipping_pings(client: &mut RawWs) -> String {
    loop {
        let frame = client.read_frame().await;
        match frame.opcode {
            OP_TEXT => return String::from_utf8(frame.payload).unwrap(),
            OP_PING => {}
            op => panic!("expected text, got opcode {op}: {:?}", frame.payload),
        }
    }
}

/// On Ctrl-C, SIGTERM and SIGHUP alike, the outputs go to their safe level
/// first (failsafe or not), then the clients are sent that state, then they
/// are closed with 1001: a page never keeps showing "on" for an output
/// that is off. Connections and departures are logged with the peer.
#[tokio::test]
async fn each_stop_signal_drives_outputs_safe_then_tells_then_closes() {
    let dir = std::env::temp_dir().join(format!("pinsocket-cli-sig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("board.toml");
    std::fs::write(
        &config,
        "[[output]]\nname = \"led\"\nline = 12\nfailsafe = true\n\
         [[output]]\nname = \"fan\"\nline = 13\n",
    )
    .unwrap();
    for signal in ["TERM", "INT", "HUP"] {
        let serving = Pinsocket::start(&[
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ]);
        let addr = serving.listening();
        let mut client = RawWs::upgrade(addr, Some(DEVICE_PROTOCOL)).await;
        assert!(
            next_text_skipping_pings(&mut client)
                .await
                .starts_with(r#"{"board":{"simulated":true}}"#)
        );
        assert!(
            next_text_skipping_pings(&mut client)
                .await
                .contains(r#""version":1"#)
        );
        client
            .write(&client_frame(
                OP_TEXT,
                br#"{"set":{"led":true,"fan":true}}"#,
            ))
            .await;
        assert_eq!(
            next_text_skipping_pings(&mut client).await,
            r#"{"state":{"version":2,"outputs":{"led":true,"fan":true},"inputs":{}}}"#
        );
        serving.signal(signal);
        assert_eq!(
            next_text_skipping_pings(&mut client).await,
            r#"{"state":{"version":3,"outputs":{"led":false,"fan":false},"inputs":{}}}"#,
            "SIG{signal}: the safe state first"
        );
        let close = client.read_frame().await;
        let (op, payload) = (close.opcode, close.payload);
        assert_eq!(op, 0x8, "SIG{signal}: then the close");
        assert_eq!(payload[..2], 1001u16.to_be_bytes(), "SIG{signal}");
        drop(client);
        let log = serving.wait_for_exit(signal);
        let safe = log
            .find("sim: output fan (line 13) -> low")
            .unwrap_or_else(|| panic!("SIG{signal}: the fan was not driven safe:\n{log}"));
        let left = log.find("left: 1001").unwrap_or_else(|| panic!("{log}"));
        assert!(safe < left, "SIG{signal}: closed before safe:\n{log}");
        assert!(log.contains("client connected from 127.0.0.1:"), "{log}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A stop signal that arrives the moment the server says it is listening
/// still finds the handler in place: the process exits cleanly (status 0,
/// outputs safe), instead of dying of the signal.
#[test]
fn a_stop_signal_right_after_start_is_handled() {
    for round in 0..20 {
        let serving = Pinsocket::start(&["--listen", "127.0.0.1:0"]);
        serving.listening();
        serving.signal("TERM");
        let log = serving.wait_for_exit(&format!("TERM (round {round})"));
        assert!(log.contains("sim: output led (line 12) -> low"), "{log}");
    }
}

// ---- access: the token printed and required ---------------------------------

/// The whole response to `raw`, sent to `addr` on a new connection.
fn http_exchange(addr: SocketAddr, raw: &str) -> String {
    let mut conn = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    conn.set_read_timeout(Some(WAIT)).unwrap();
    conn.write_all(raw.as_bytes()).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    response
}

/// The token in a printed `pinsocket: open http://…/?token=T (…)` line.
fn token_in(line: &str) -> &str {
    let start = line
        .find("/?token=")
        .unwrap_or_else(|| panic!("no token in {line:?}"))
        + 8;
    let rest = &line[start..];
    &rest[..rest.find(' ').unwrap_or(rest.len())]
}

/// Listening beyond loopback: a random token, printed in every URL to
/// open; a request without it is 401, the URL sets the cookie, a bearer
/// token opens the page; a warning says plain HTTP can be read.
#[test]
fn beyond_loopback_a_random_token_is_printed_and_required() {
    let server = Pinsocket::start(&["--listen", "0.0.0.0:0"]);
    let bound = server.listening();
    assert!(bound.ip().is_unspecified());
    let lines = server.lines_through_token_note();
    let urls: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("pinsocket: open "))
        .collect();
    assert!(!urls.is_empty(), "{lines:#?}");
    let token = token_in(urls[0]).to_owned();
    assert_eq!(token.len(), 32, "{lines:#?}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    for url in &urls {
        assert_eq!(token_in(url), token, "{lines:#?}");
    }
    let local = format!(
        "pinsocket: open http://127.0.0.1:{}/?token={token} (this machine",
        bound.port()
    );
    assert!(lines.iter().any(|l| l.starts_with(&local)), "{lines:#?}");

    let addr = SocketAddr::from(([127, 0, 0, 1], bound.port()));
    let request = |target: &str, extra: &str| {
        http_exchange(
            addr,
            &format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"),
        )
    };
    let response = request("/", "");
    assert!(
        response.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{response}"
    );
    assert!(!response.contains(&token));
    let response = request(&format!("/?token={token}"), "");
    assert!(
        response.starts_with("HTTP/1.1 303 See Other\r\n"),
        "{response}"
    );
    assert!(
        response.contains(&format!(
            "\r\nSet-Cookie: pinsocket_token={token}; Path=/; HttpOnly; SameSite=Strict\r\n"
        )),
        "{response}"
    );
    let response = request("/", &format!("Cookie: pinsocket_token={token}\r\n"));
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let response = request("/", &format!("Authorization: Bearer {token}\r\n"));
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.contains("<title>pinsocket</title>"));
    let log = server.kill();
    assert!(
        log.contains("serving plain HTTP beyond this machine"),
        "{log}"
    );
}

/// PINSOCKET_TOKEN sets the token (on loopback too); --no-auth turns it
/// off beyond loopback, with a warning.
#[test]
fn pinsocket_token_sets_the_token_and_no_auth_turns_it_off() {
    let token = "my-own-token-0123456789";
    let server =
        Pinsocket::start_with_env(&["--listen", "127.0.0.1:0"], &[("PINSOCKET_TOKEN", token)]);
    let addr = server.listening();
    let lines = server.lines_through_token_note();
    assert_eq!(
        lines[0],
        format!(
            "pinsocket: open http://{addr}/?token={token} (this machine only; --listen \
             0.0.0.0:{} serves your network)",
            addr.port()
        )
    );
    let get = |extra: &str| {
        http_exchange(
            addr,
            &format!("GET / HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"),
        )
    };
    assert!(get("").starts_with("HTTP/1.1 401 "));
    let bearer = format!("Authorization: Bearer {token}\r\n");
    assert!(get(&bearer).starts_with("HTTP/1.1 200 "));
    let log = server.kill();
    assert!(!log.contains("WARN"), "loopback: no warnings\n{log}");

    let server = Pinsocket::start(&["--listen", "0.0.0.0:0", "--no-auth"]);
    let bound = server.listening();
    let open = server.line();
    assert!(open.starts_with("pinsocket: open http://"), "{open}");
    assert!(!open.contains("token"), "{open}");
    assert_serves_the_page(SocketAddr::from(([127, 0, 0, 1], bound.port())));
    let log = server.kill();
    assert!(log.contains("access token turned off"), "{log}");
}

/// On loopback, by default: no token, no warning, nothing more to open.
#[test]
fn on_loopback_no_token_is_asked_and_nothing_is_warned() {
    let server = Pinsocket::start(&["--listen", "127.0.0.1:0"]);
    let addr = server.listening();
    assert!(!server.line().contains("token"));
    assert_serves_the_page(addr);
    let log = server.kill();
    assert!(!log.contains("WARN"), "{log}");
}
