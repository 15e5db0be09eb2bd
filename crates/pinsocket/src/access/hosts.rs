//! The names a server answers to, and the `Host` check that stops DNS
//! rebinding: a page on `evil.example` whose name the attacker re-points
//! at the device still sends `Host: evil.example`, which is not one of
//! them.
//!
//! Allowed: `localhost`, the machine's host name (`NAME`, and `NAME.local`
//! as mDNS announces it), any address of the machine (loopback and
//! `0.0.0.0` included, IPv6 in brackets),
//! and the names and addresses the server was given. The port is not
//! compared: a name the attacker controls is refused whatever the port,
//! and a port forwarded by a router (80 outside, 8080 inside) keeps
//! working.

use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::connection::lock;

/// How often the machine's addresses may be listed again when a Host
/// names an address not seen: an address that came later (DHCP, a new
/// interface) is found, and a client sending many refused addresses costs
/// one listing per interval at most.
const RELIST_EVERY: Duration = Duration::from_secs(5);

/// The names and addresses given to the `Host` check, beyond the
/// built-in ones.
#[derive(Debug, Clone, Default)]
pub(super) struct HostRules {
    /// Names, lowercase, without a trailing dot.
    names: Vec<String>,
    /// Addresses.
    addrs: Vec<IpAddr>,
}

impl HostRules {
    /// Adds a configured name or address (a port, if given, is ignored).
    pub(super) fn add(&mut self, entry: &str) {
        match parse_host(entry.trim().as_bytes()) {
            Some(Host::Ip(ip)) => self.addrs.push(ip),
            Some(Host::Name(name)) => self.names.push(name),
            None => {
                tracing::warn!("allowed host `{entry}` is not a host name or address; ignored");
            }
        }
    }

    /// True if the `Host` value `raw` names this server on `machine`.
    pub(super) fn allows(&self, raw: &[u8], machine: &Machine) -> bool {
        match parse_host(raw) {
            None => false,
            Some(Host::Name(name)) => {
                name == "localhost" || self.names.contains(&name) || machine.named(&name)
            }
            // 0.0.0.0 reaches this machine too where systems route it
            // so; an address is never a rebound name.
            Some(Host::Ip(ip)) => {
                ip.is_loopback()
                    || ip.is_unspecified()
                    || self.addrs.contains(&ip)
                    || machine.has(ip)
            }
        }
    }
}

/// What the `Host` check knows of the machine, found when first needed.
#[derive(Debug, Default)]
pub(super) struct Machine {
    /// The host name and its `.local` form, lowercase.
    names: OnceLock<Vec<String>>,
    /// The machine's addresses and when they were listed.
    addrs: Mutex<(Vec<IpAddr>, Option<Instant>)>,
}

impl Machine {
    /// True if `name` (lowercase) is the machine's name.
    fn named(&self, name: &str) -> bool {
        self.names
            .get_or_init(machine_names)
            .iter()
            .any(|n| n == name)
    }

    /// True if `ip` is one of the machine's addresses, listing them again
    /// if it is not and the last listing is old enough.
    fn has(&self, ip: IpAddr) -> bool {
        // The list is replaced whole under the lock: never half-written.
        let mut known = lock(&self.addrs);
        if known.0.contains(&ip) {
            return true;
        }
        if known.1.is_some_and(|at| at.elapsed() < RELIST_EVERY) {
            return false;
        }
        known.0 = machine_addrs();
        known.1 = Some(Instant::now());
        known.0.contains(&ip)
    }
}

/// A `Host` value's host part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Host {
    /// An address: IPv4, or IPv6 written in brackets.
    Ip(IpAddr),
    /// A name, lowercase, without its trailing dot.
    Name(String),
}

/// The host of `host[:port]` (`[v6]:port` for IPv6), `None` if it is
/// neither an address nor a valid DNS name.
pub(super) fn parse_host(raw: &[u8]) -> Option<Host> {
    let text = std::str::from_utf8(raw).ok()?;
    if let Some(rest) = text.strip_prefix('[') {
        let (literal, after) = rest.split_once(']')?;
        if !(after.is_empty() || port_ok(after.strip_prefix(':')?)) {
            return None;
        }
        return literal
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| Host::Ip(IpAddr::V6(ip).to_canonical()));
    }
    let (name, port) = text.split_once(':').unwrap_or((text, ""));
    if !port_ok(port) {
        return None;
    }
    if let Ok(ip) = name.parse::<std::net::Ipv4Addr>() {
        return Some(Host::Ip(IpAddr::V4(ip)));
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then(|| Host::Name(name.to_ascii_lowercase()))
}

/// True for a port: digits, possibly none (`host:` is allowed by RFC 3986).
fn port_ok(port: &str) -> bool {
    port.bytes().all(|b| b.is_ascii_digit())
}

/// The machine's host name, its first label and the `.local` name mDNS
/// announces, lowercase; none if the name cannot be read.
fn machine_names() -> Vec<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut names = Vec::new();
    if let Some(Host::Name(full)) = parse_host(name.as_bytes()) {
        let short = full.split('.').next().unwrap_or_default().to_owned();
        for n in [full.clone(), short.clone(), format!("{short}.local")] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names
}

/// Every address of the machine's interfaces, loopback included.
fn machine_addrs() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(list) => list.into_iter().map(|i| i.ip().to_canonical()).collect(),
        Err(e) => {
            tracing::warn!("cannot list this machine's addresses for the Host check: {e}");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Option<Host> {
        Some(Host::Name(s.to_owned()))
    }

    #[test]
    fn hosts_parse_with_and_without_ports() {
        assert_eq!(parse_host(b"Pi.Example."), name("pi.example"));
        assert_eq!(parse_host(b"pi.example:8080"), name("pi.example"));
        assert_eq!(parse_host(b"localhost:"), name("localhost"));
        assert_eq!(
            parse_host(b"192.0.2.1:80"),
            Some(Host::Ip("192.0.2.1".parse().unwrap()))
        );
        assert_eq!(
            parse_host(b"[::1]:80"),
            Some(Host::Ip("::1".parse().unwrap()))
        );
        assert_eq!(
            parse_host(b"[::ffff:192.0.2.1]"),
            Some(Host::Ip("192.0.2.1".parse().unwrap()))
        );
        for bad in [
            &b""[..],
            b":80",
            b"[::1",
            b"[::1]x",
            b"[nope]",
            b"::1",
            b"a..b",
            b"a b",
            b"a:80:80",
            b"a:8x",
            b"\xff",
        ] {
            assert_eq!(parse_host(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn only_this_machines_names_are_allowed() {
        let mut rules = HostRules::default();
        rules.add("pi.example");
        rules.add("203.0.113.9");
        let machine = Machine::default();
        for ok in [
            &b"localhost"[..],
            b"LOCALHOST:8080",
            b"127.0.0.1",
            b"127.0.0.2:80",
            b"0.0.0.0:8080",
            b"[::1]:8080",
            b"pi.example",
            b"PI.EXAMPLE.:1",
            b"203.0.113.9:80",
        ] {
            assert!(
                rules.allows(ok, &machine),
                "{}",
                String::from_utf8_lossy(ok)
            );
        }
        for refused in [
            &b"evil.example"[..],
            b"localhost.evil.example",
            b"pi.example.evil.example",
            b"203.0.113.10",
            b"[2001:db8::77]",
            b"",
        ] {
            assert!(
                !rules.allows(refused, &machine),
                "{}",
                String::from_utf8_lossy(refused)
            );
        }
    }

    #[test]
    fn the_machines_addresses_and_name_are_allowed() {
        let rules = HostRules::default();
        let machine = Machine::default();
        for ip in machine_addrs() {
            let host = match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            };
            assert!(rules.allows(host.as_bytes(), &machine), "{host}");
        }
        for name in machine_names() {
            assert!(rules.allows(name.as_bytes(), &machine), "{name}");
        }
    }
}
