//! The command line's helpers: parsing `--listen` and `--log-level`,
//! setting up the log, the failsafe paragraph of `--help`, and the lines
//! printed once the server listens.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// The paragraph after the options in `--help` and `-h`.
pub(crate) const FAILSAFE_HELP: &str = "\
Failsafe: without --config, the board's output `led` is failsafe, with \
safe level off. Once a client switches it on, that client controls it, and \
it goes back off as soon as that client disconnects or stops answering the \
server's pings for 1 s (failsafe_timeout; it is pinged every 0.25 s while \
silent, failsafe_ping; browsers answer by themselves), and when the last \
client disconnects. Another page that only watches does not keep it on. \
Outputs marked `failsafe = true` in the config behave the same. On exit \
(Ctrl-C, SIGTERM, SIGHUP) or a crash the server can catch (a panic), every \
output, failsafe or not, returns to its safe level first; then the pages \
are told, then closed. Nothing can act on SIGKILL or a power cut: wire \
outputs that must never stay on through a hardware watchdog.";

/// The port used when `--listen` names none.
const DEFAULT_PORT: u16 = 8080;

/// What `--listen` accepts, for error messages.
const LISTEN_FORMS: &str = "expected PORT, HOST:PORT, IP:PORT or [IPv6]:PORT, \
    e.g. 8080, localhost:8080, 0.0.0.0:8080 or [::1]:8080";

/// What `--log-level` and RUST_LOG accept, for error messages.
const LOG_LEVELS: &str = "expected one of error, warn, info, debug, trace or off \
    (any case), or tracing directives like `warn,pinsocket=debug`";

/// Parses `--listen`: `PORT` and `:PORT` are 127.0.0.1:PORT; `HOST:PORT`
/// resolves HOST (`localhost` is 127.0.0.1, without a lookup) and takes its
/// first IPv4 address, else its first address; `IP:PORT` and
/// `[IPv6]:PORT` are taken as they are; without a port, 8080.
pub(crate) fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    parse_listen_with(s, |host, port| {
        (host, port).to_socket_addrs().map(Iterator::collect)
    })
}

/// [`parse_listen`] with the host name lookup given.
fn parse_listen_with(
    s: &str,
    resolve: impl FnOnce(&str, u16) -> std::io::Result<Vec<SocketAddr>>,
) -> Result<SocketAddr, String> {
    let fail = |why: String| Err(format!("{why}; {LISTEN_FORMS}"));
    let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if s.is_empty() {
        return fail("empty address".to_owned());
    }
    if s.contains("://") || s.contains('/') {
        return fail(format!(
            "`{s}` is a URL: give the address without `http://` or a path"
        ));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return port(s).map(loopback).or_else(fail);
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(SocketAddr::from((ip, DEFAULT_PORT)));
    }
    if s.parse::<Ipv6Addr>().is_ok() {
        // `::1:8080` is an address, but most likely [::1]:8080 was meant.
        let port_meant = s
            .rsplit_once(':')
            .filter(|(ip, p)| ip.parse::<Ipv6Addr>().is_ok() && port(p).is_ok());
        return fail(match port_meant {
            Some((ip, p)) => format!("IPv6 addresses go in brackets: [{ip}]:{p} or [{s}]:PORT"),
            None => format!("IPv6 addresses go in brackets: [{s}] or [{s}]:PORT"),
        });
    }
    if let Some(p) = s.strip_prefix(':') {
        return port(p).map(loopback).or_else(fail);
    }
    if let Some(rest) = s.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return fail(format!("`{s}` lacks its `]`"));
        };
        let Ok(ip) = ip.parse::<Ipv6Addr>() else {
            return fail(format!("`{ip}` is not an IPv6 address"));
        };
        let port = match after {
            "" => DEFAULT_PORT,
            _ => match after.strip_prefix(':') {
                Some(p) => match port(p) {
                    Ok(port) => port,
                    Err(why) => return fail(why),
                },
                None => return fail(format!("`{after}` after `]` is not `:PORT`")),
            },
        };
        return Ok(SocketAddr::from((ip, port)));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((host, p)) => match port(p) {
            Ok(port) => (host, port),
            Err(why) => return fail(why),
        },
        None => (s, DEFAULT_PORT),
    };
    if host.contains(':') {
        return fail(format!("IPv6 addresses go in brackets: [{host}]:{port}"));
    }
    if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return fail(format!("`{host}` is not an IPv4 address"));
    }
    if !is_host_name(host) {
        return fail(format!("`{host}` is not a host name"));
    }
    if host.eq_ignore_ascii_case("localhost") || host.eq_ignore_ascii_case("localhost.") {
        return Ok(loopback(port));
    }
    let addrs = match resolve(host, port) {
        Ok(addrs) => addrs,
        Err(e) => return fail(format!("cannot look up `{host}`: {e}")),
    };
    match addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()) {
        Some(addr) => Ok(*addr),
        None => fail(format!("`{host}` has no address")),
    }
}

/// A port number, 0 to 65535 (0: the system picks one).
fn port(s: &str) -> Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{s}` is not a port number (0-65535)"));
    }
    s.parse()
        .map_err(|_| format!("port `{s}` is out of range (0-65535)"))
}

/// Letters, digits, `-` and `_` in dot-separated labels.
fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Parses `--log-level` (and RUST_LOG): a level, any case, or a list of
/// tracing directives. A bare word that is not a level is refused: tracing
/// would take it for a target name and log nothing else.
pub(crate) fn parse_log_level(s: &str) -> Result<String, String> {
    let s = s.trim();
    let mut directives = s.split(',').map(str::trim).filter(|d| !d.is_empty());
    let Some(first) = directives.next() else {
        return Err(format!("empty log level; {LOG_LEVELS}"));
    };
    if directives.next().is_none()
        && let Ok(level) = first.parse::<LevelFilter>()
    {
        return Ok(level.to_string().to_ascii_lowercase());
    }
    for d in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if d.parse::<LevelFilter>().is_err() && !d.contains('=') && !d.contains('[') {
            return Err(format!("`{d}` is not a log level; {LOG_LEVELS}"));
        }
    }
    match EnvFilter::builder().parse(s) {
        Ok(_) => Ok(s.to_owned()),
        Err(e) => Err(format!("`{s}`: {e}; {LOG_LEVELS}")),
    }
}

/// Logs to stderr at `level` (checked by [`parse_log_level`]), or as
/// RUST_LOG says if it is set. A RUST_LOG that cannot be used is reported on
/// stderr and `level` is used instead.
pub(crate) fn init_logging(level: &str) -> anyhow::Result<()> {
    let mut warning = None;
    let directives = match std::env::var("RUST_LOG") {
        Err(std::env::VarError::NotPresent) => level.to_owned(),
        Err(std::env::VarError::NotUnicode(value)) => {
            warning = Some(format!("RUST_LOG {value:?} ignored: not UTF-8"));
            level.to_owned()
        }
        Ok(value) if value.trim().is_empty() => level.to_owned(),
        Ok(value) => match parse_log_level(&value) {
            Ok(directives) => directives,
            Err(why) => {
                warning = Some(format!("RUST_LOG `{value}` ignored: {why}"));
                level.to_owned()
            }
        },
    };
    let filter = EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| anyhow::anyhow!("invalid log level `{directives}`: {e}"))?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
    if let Some(warning) = warning {
        // Not through the log: its level might hide it.
        eprintln!("pinsocket: warning: {warning}; logging at --log-level `{level}`");
    }
    Ok(())
}

/// Prints where the server listens (`pinsocket: listening on ADDR`, always
/// the first line) and the pages to open: for 0.0.0.0 and [::], one per
/// network address of this machine, then the loopback one.
pub(crate) fn print_listening(bound: SocketAddr) {
    let interfaces = if bound.ip().is_unspecified() {
        match if_addrs::get_if_addrs() {
            Ok(list) => list
                .into_iter()
                .filter(|i| i.is_oper_up() && !i.is_loopback())
                .map(|i| (i.name.clone(), i.ip()))
                .collect(),
            Err(e) => {
                tracing::warn!("cannot list this machine's network addresses: {e}");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let text = listening_text(bound, &interfaces, ipv6_any_takes_ipv4());
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Whether a socket bound to [::] also takes IPv4 connections: Linux's
/// default, unless `net.ipv6.bindv6only` is set. Elsewhere assumed not, so
/// no address is printed that might not answer.
fn ipv6_any_takes_ipv4() -> bool {
    cfg!(target_os = "linux")
        && std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "0")
}

/// The lines [`print_listening`] prints, given the machine's (interface
/// name, address) pairs, loopback excluded.
fn listening_text(
    bound: SocketAddr,
    interfaces: &[(String, IpAddr)],
    ipv6_any_takes_ipv4: bool,
) -> String {
    let port = bound.port();
    let mut text = format!("pinsocket: listening on {bound}\n");
    let mut open = |ip: IpAddr, note: &str| {
        let url = SocketAddr::new(ip, port);
        text.push_str(&format!("pinsocket: open http://{url}/{note}\n"));
    };
    if !bound.ip().is_unspecified() {
        if bound.ip().is_loopback() {
            let serve_all = match bound {
                SocketAddr::V4(_) => "0.0.0.0",
                SocketAddr::V6(_) => "[::]",
            };
            let note = if bound.is_ipv4() {
                format!(" (this machine only; --listen {serve_all}:{port} serves your network)")
            } else {
                " (this machine only)".to_owned()
            };
            open(bound.ip(), &note);
        } else {
            open(bound.ip(), "");
        }
        return text;
    }
    let (v4, v6) = match bound {
        SocketAddr::V4(_) => (true, false),
        SocketAddr::V6(_) => (ipv6_any_takes_ipv4, true),
    };
    let mut seen: Vec<IpAddr> = Vec::new();
    for (want_v4, want_v6) in [(v4, false), (false, v6)] {
        for (name, ip) in interfaces {
            let usable = match ip {
                IpAddr::V4(ip) => {
                    want_v4 && !ip.is_loopback() && !ip.is_link_local() && !ip.is_unspecified()
                }
                IpAddr::V6(ip) => {
                    want_v6
                        && !ip.is_loopback()
                        && !ip.is_unicast_link_local()
                        && !ip.is_unspecified()
                        && ip.to_ipv4_mapped().is_none()
                }
            };
            if usable && !seen.contains(ip) {
                seen.push(*ip);
                open(*ip, &format!(" ({name})"));
            }
        }
    }
    let this_machine = if v4 {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    };
    if seen.is_empty() {
        open(this_machine, " (this machine; no network address found)");
    } else {
        open(this_machine, " (this machine)");
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn no_lookup(host: &str, _: u16) -> std::io::Result<Vec<SocketAddr>> {
        panic!("looked up {host}")
    }

    #[test]
    fn listen_accepts_ports_hosts_and_addresses() {
        for (given, expected) in [
            ("8080", "127.0.0.1:8080"),
            ("0", "127.0.0.1:0"),
            (":8080", "127.0.0.1:8080"),
            ("localhost:8080", "127.0.0.1:8080"),
            ("LOCALHOST:9000", "127.0.0.1:9000"),
            ("localhost.:9000", "127.0.0.1:9000"),
            ("localhost", "127.0.0.1:8080"),
            ("0.0.0.0:8080", "0.0.0.0:8080"),
            ("0.0.0.0", "0.0.0.0:8080"),
            ("192.0.2.7:80", "192.0.2.7:80"),
            ("[::1]:8080", "[::1]:8080"),
            ("[::]:8080", "[::]:8080"),
            ("[::1]", "[::1]:8080"),
        ] {
            assert_eq!(
                parse_listen_with(given, no_lookup),
                Ok(addr(expected)),
                "{given}"
            );
        }
    }

    #[test]
    fn listen_resolves_host_names_preferring_ipv4() {
        let resolve = |host: &str, port: u16| {
            assert_eq!((host, port), ("pi.local", 8081));
            Ok(vec![
                addr("[2001:db8::7]:8081"),
                addr("192.0.2.7:8081"),
                addr("192.0.2.8:8081"),
            ])
        };
        assert_eq!(
            parse_listen_with("pi.local:8081", resolve),
            Ok(addr("192.0.2.7:8081"))
        );
        let v6_only = |_: &str, port: u16| Ok(vec![SocketAddr::from((Ipv6Addr::LOCALHOST, port))]);
        assert_eq!(
            parse_listen_with("ip6-localhost", v6_only),
            Ok(addr("[::1]:8080"))
        );
        let none = |_: &str, _: u16| Ok(vec![]);
        assert!(
            parse_listen_with("nowhere", none)
                .unwrap_err()
                .starts_with("`nowhere` has no address; expected PORT")
        );
        let unknown = |_: &str, _: u16| Err(std::io::Error::other("not known"));
        assert!(
            parse_listen_with("nowhere:1", unknown)
                .unwrap_err()
                .starts_with("cannot look up `nowhere`: not known; expected PORT")
        );
    }

    #[test]
    fn listen_errors_say_what_is_wrong_and_what_is_expected() {
        for (given, why) in [
            ("", "empty address"),
            ("localhost:http", "`http` is not a port number (0-65535)"),
            ("localhost:", "`` is not a port number (0-65535)"),
            (":", "`` is not a port number (0-65535)"),
            ("70000", "port `70000` is out of range (0-65535)"),
            (":-1", "`-1` is not a port number (0-65535)"),
            (
                "192.168.1.300:8080",
                "`192.168.1.300` is not an IPv4 address",
            ),
            ("1.2.3", "`1.2.3` is not an IPv4 address"),
            ("::1", "IPv6 addresses go in brackets: [::1] or [::1]:PORT"),
            (
                "::1:8080",
                "IPv6 addresses go in brackets: [::1]:8080 or [::1:8080]:PORT",
            ),
            ("::", "IPv6 addresses go in brackets: [::] or [::]:PORT"),
            (
                "fe80::1%eth0:80",
                "IPv6 addresses go in brackets: [fe80::1%eth0]:80",
            ),
            ("[::1", "`[::1` lacks its `]`"),
            ("[::1]8080", "`8080` after `]` is not `:PORT`"),
            ("[1.2.3.4]:80", "`1.2.3.4` is not an IPv6 address"),
            (
                "http://0.0.0.0:8080/",
                "`http://0.0.0.0:8080/` is a URL: give the address without `http://`",
            ),
            ("my host:80", "`my host` is not a host name"),
            ("a..b:80", "`a..b` is not a host name"),
        ] {
            let err = parse_listen_with(given, no_lookup).unwrap_err();
            assert!(err.starts_with(why), "{given}: {err}");
            assert!(
                err.ends_with(
                    "; expected PORT, HOST:PORT, IP:PORT or [IPv6]:PORT, \
                     e.g. 8080, localhost:8080, 0.0.0.0:8080 or [::1]:8080"
                ),
                "{given}: {err}"
            );
        }
    }

    #[test]
    fn log_levels_and_directives() {
        for (given, expected) in [
            ("info", "info"),
            ("WARN", "warn"),
            (" Trace ", "trace"),
            ("off", "off"),
            ("warn,pinsocket=debug", "warn,pinsocket=debug"),
            ("pinsocket::device=trace", "pinsocket::device=trace"),
        ] {
            assert_eq!(parse_log_level(given).as_deref(), Ok(expected), "{given}");
        }
        for (given, why) in [
            (
                "verbose",
                "`verbose` is not a log level; expected one of error, warn",
            ),
            ("warning", "`warning` is not a log level"),
            ("info,loud", "`loud` is not a log level"),
            ("pinsocket=loud", "`pinsocket=loud`: "),
            ("", "empty log level; expected one of"),
            (",", "empty log level"),
        ] {
            let err = parse_log_level(given).unwrap_err();
            assert!(err.starts_with(why), "{given}: {err}");
            assert!(err.contains("error, warn, info, debug, trace"), "{err}");
        }
    }

    fn interfaces() -> Vec<(String, IpAddr)> {
        [
            ("eth0", "fe80::1"),
            ("eth0", "2001:db8::2"),
            ("eth0", "192.0.2.2"),
            ("wlan0", "169.254.3.4"),
            ("wlan0", "198.51.100.7"),
            ("wlan0", "fd00::7"),
            ("br0", "192.0.2.2"),
        ]
        .into_iter()
        .map(|(name, ip)| (name.to_owned(), ip.parse().unwrap()))
        .collect()
    }

    #[test]
    fn all_ipv4_interfaces_print_every_network_address_then_loopback() {
        assert_eq!(
            listening_text(addr("0.0.0.0:8080"), &interfaces(), true),
            "pinsocket: listening on 0.0.0.0:8080\n\
             pinsocket: open http://192.0.2.2:8080/ (eth0)\n\
             pinsocket: open http://198.51.100.7:8080/ (wlan0)\n\
             pinsocket: open http://127.0.0.1:8080/ (this machine)\n"
        );
        assert_eq!(
            listening_text(addr("0.0.0.0:8080"), &[], true),
            "pinsocket: listening on 0.0.0.0:8080\n\
             pinsocket: open http://127.0.0.1:8080/ (this machine; no network address found)\n"
        );
    }

    #[test]
    fn all_ipv6_interfaces_add_ipv4_only_when_the_socket_takes_it() {
        assert_eq!(
            listening_text(addr("[::]:8080"), &interfaces(), true),
            "pinsocket: listening on [::]:8080\n\
             pinsocket: open http://192.0.2.2:8080/ (eth0)\n\
             pinsocket: open http://198.51.100.7:8080/ (wlan0)\n\
             pinsocket: open http://[2001:db8::2]:8080/ (eth0)\n\
             pinsocket: open http://[fd00::7]:8080/ (wlan0)\n\
             pinsocket: open http://127.0.0.1:8080/ (this machine)\n"
        );
        assert_eq!(
            listening_text(addr("[::]:8080"), &interfaces(), false),
            "pinsocket: listening on [::]:8080\n\
             pinsocket: open http://[2001:db8::2]:8080/ (eth0)\n\
             pinsocket: open http://[fd00::7]:8080/ (wlan0)\n\
             pinsocket: open http://[::1]:8080/ (this machine)\n"
        );
    }

    #[test]
    fn a_specific_address_prints_just_that() {
        assert_eq!(
            listening_text(addr("192.0.2.2:8080"), &interfaces(), true),
            "pinsocket: listening on 192.0.2.2:8080\n\
             pinsocket: open http://192.0.2.2:8080/\n"
        );
        assert_eq!(
            listening_text(addr("127.0.0.1:9000"), &[], true),
            "pinsocket: listening on 127.0.0.1:9000\n\
             pinsocket: open http://127.0.0.1:9000/ (this machine only; \
             --listen 0.0.0.0:9000 serves your network)\n"
        );
        assert_eq!(
            listening_text(addr("[::1]:9000"), &[], true),
            "pinsocket: listening on [::1]:9000\n\
             pinsocket: open http://[::1]:9000/ (this machine only)\n"
        );
    }

    #[test]
    fn the_failsafe_paragraph_matches_the_built_in_board() {
        use pinsocket::core::{Level, Mode};
        let config =
            pinsocket::device::Config::parse("", std::path::Path::new("(built-in)")).unwrap();
        let failsafe: Vec<_> = config
            .board
            .pins
            .iter()
            .filter_map(|p| match p.mode {
                Mode::Output(o) if o.failsafe => Some((p.name.as_str(), o.safe)),
                _ => None,
            })
            .collect();
        assert_eq!(failsafe, [("led", Level::Low)]);
        assert!(FAILSAFE_HELP.contains("output `led` is failsafe, with safe level off"));
        assert!(FAILSAFE_HELP.contains("for 1 s (failsafe_timeout"));
        assert!(FAILSAFE_HELP.contains("every 0.25 s while silent, failsafe_ping"));
        assert_eq!(
            config.board.failsafe_timeout,
            std::time::Duration::from_secs(1)
        );
        assert_eq!(
            config.board.failsafe_ping,
            std::time::Duration::from_millis(250)
        );
    }
}
