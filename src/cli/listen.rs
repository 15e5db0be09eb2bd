//! `--listen`: the forms it accepts (a port, a host, an IP address, with or
//! without a port) and the address each one means, with errors that say
//! what is wrong and what is expected.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// The port used when `--listen` names none.
const DEFAULT_PORT: u16 = 8080;

/// What `--listen` accepts, for error messages.
const LISTEN_FORMS: &str = "expected PORT, HOST:PORT, IP:PORT or [IPv6]:PORT, \
    e.g. 8080, localhost:8080, 0.0.0.0:8080 or [::1]:8080";

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
}
