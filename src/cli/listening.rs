//! The lines printed once the server listens: where it listens and the
//! pages to open, one per network address when it serves every interface,
//! each with `?token=` when an access token is on; and the warnings about
//! who can reach it.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Prints where the server listens (`pinsocket: listening on ADDR`, always
/// the first line) and the pages to open: for 0.0.0.0 and [::], one per
/// network address of this machine, then the loopback one. With `token`,
/// each page's URL carries it (`?token=…`). Beyond loopback, warns that
/// plain HTTP can be read on the network.
pub(crate) fn print_listening(bound: SocketAddr, token: Option<&str>) {
    if !bound.ip().is_loopback() {
        tracing::warn!(
            "serving plain HTTP beyond this machine: anyone on the network can read the \
             pages, the commands{} (--tls-cert and --tls-key serve https)",
            if token.is_some() {
                " and the access token"
            } else {
                ""
            }
        );
    }
    print_listening_as(bound, "http", token);
}

/// [`print_listening`] for a server that speaks https and wss: the pages
/// to open are `https://` ones.
pub(crate) fn print_listening_https(bound: SocketAddr, token: Option<&str>) {
    print_listening_as(bound, "https", token);
}

/// [`print_listening`] with the pages' scheme.
fn print_listening_as(bound: SocketAddr, scheme: &str, token: Option<&str>) {
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
    let mut text = listening_text(bound, &interfaces, ipv6_any_takes_ipv4(), token);
    if scheme != "http" {
        text = text.replace(
            "pinsocket: open http://",
            &format!("pinsocket: open {scheme}://"),
        );
    }
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
/// name, address) pairs, loopback excluded, and the access token if one is
/// on.
fn listening_text(
    bound: SocketAddr,
    interfaces: &[(String, IpAddr)],
    ipv6_any_takes_ipv4: bool,
    token: Option<&str>,
) -> String {
    let port = bound.port();
    let mut text = format!("pinsocket: listening on {bound}\n");
    let query = token.map_or(String::new(), |t| format!("?token={}", url_escaped(t)));
    let mut open = |ip: IpAddr, note: &str| {
        let url = SocketAddr::new(ip, port);
        text.push_str(&format!("pinsocket: open http://{url}/{query}{note}\n"));
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
        token_note(&mut text, token);
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
    token_note(&mut text, token);
    text
}

/// The line after the pages when a token is on: how scripts present it.
fn token_note(text: &mut String, token: Option<&str>) {
    if token.is_some() {
        text.push_str(
            "pinsocket: access token on: the browser keeps it after the first visit; \
             scripts send the header Authorization: Bearer TOKEN\n",
        );
    }
}

/// `token` for a URL: every byte but letters, digits and `-._~` escaped
/// (a random token needs none).
fn url_escaped(token: &str) -> String {
    token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
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
            listening_text(addr("0.0.0.0:8080"), &interfaces(), true, None),
            "pinsocket: listening on 0.0.0.0:8080\n\
             pinsocket: open http://192.0.2.2:8080/ (eth0)\n\
             pinsocket: open http://198.51.100.7:8080/ (wlan0)\n\
             pinsocket: open http://127.0.0.1:8080/ (this machine)\n"
        );
        assert_eq!(
            listening_text(addr("0.0.0.0:8080"), &[], true, None),
            "pinsocket: listening on 0.0.0.0:8080\n\
             pinsocket: open http://127.0.0.1:8080/ (this machine; no network address found)\n"
        );
    }

    #[test]
    fn all_ipv6_interfaces_add_ipv4_only_when_the_socket_takes_it() {
        assert_eq!(
            listening_text(addr("[::]:8080"), &interfaces(), true, None),
            "pinsocket: listening on [::]:8080\n\
             pinsocket: open http://192.0.2.2:8080/ (eth0)\n\
             pinsocket: open http://198.51.100.7:8080/ (wlan0)\n\
             pinsocket: open http://[2001:db8::2]:8080/ (eth0)\n\
             pinsocket: open http://[fd00::7]:8080/ (wlan0)\n\
             pinsocket: open http://127.0.0.1:8080/ (this machine)\n"
        );
        assert_eq!(
            listening_text(addr("[::]:8080"), &interfaces(), false, None),
            "pinsocket: listening on [::]:8080\n\
             pinsocket: open http://[2001:db8::2]:8080/ (eth0)\n\
             pinsocket: open http://[fd00::7]:8080/ (wlan0)\n\
             pinsocket: open http://[::1]:8080/ (this machine)\n"
        );
    }

    #[test]
    fn with_a_token_every_page_carries_it_and_scripts_are_told_how() {
        assert_eq!(
            listening_text(addr("0.0.0.0:8080"), &interfaces(), true, Some("c0ffee")),
            "pinsocket: listening on 0.0.0.0:8080\n\
             pinsocket: open http://192.0.2.2:8080/?token=c0ffee (eth0)\n\
             pinsocket: open http://198.51.100.7:8080/?token=c0ffee (wlan0)\n\
             pinsocket: open http://127.0.0.1:8080/?token=c0ffee (this machine)\n\
             pinsocket: access token on: the browser keeps it after the first visit; \
             scripts send the header Authorization: Bearer TOKEN\n"
        );
        assert_eq!(
            listening_text(addr("[::1]:9000"), &[], true, Some("a b&c")),
            "pinsocket: listening on [::1]:9000\n\
             pinsocket: open http://[::1]:9000/?token=a%20b%26c (this machine only)\n\
             pinsocket: access token on: the browser keeps it after the first visit; \
             scripts send the header Authorization: Bearer TOKEN\n"
        );
    }

    #[test]
    fn a_specific_address_prints_just_that() {
        assert_eq!(
            listening_text(addr("192.0.2.2:8080"), &interfaces(), true, None),
            "pinsocket: listening on 192.0.2.2:8080\n\
             pinsocket: open http://192.0.2.2:8080/\n"
        );
        assert_eq!(
            listening_text(addr("127.0.0.1:9000"), &[], true, None),
            "pinsocket: listening on 127.0.0.1:9000\n\
             pinsocket: open http://127.0.0.1:9000/ (this machine only; \
             --listen 0.0.0.0:9000 serves your network)\n"
        );
        assert_eq!(
            listening_text(addr("[::1]:9000"), &[], true, None),
            "pinsocket: listening on [::1]:9000\n\
             pinsocket: open http://[::1]:9000/ (this machine only)\n"
        );
    }
}
