//! The `Origin` check on WebSocket handshakes, which stops cross-site
//! WebSocket hijacking: a browser lets any page open a WebSocket anywhere,
//! but always says which page (`Origin`), and a page on another site must
//! not switch the pins.
//!
//! Allowed: no `Origin` at all (tools that are not browsers send none, and
//! no browser omits it); an origin same-origin with the request's `Host`
//! (scheme `http`, `https` when the server terminates TLS; the same host,
//! the same port, default ports filled in), the `Host` having passed its
//! own check; and the origins given. `null` (sandboxed frames, `file:`
//! pages, some redirects) and `file://` are refused unless given.

use super::hosts::{Host, parse_host};

/// An origin reduced to what same-origin compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    /// `http` or `https`.
    https: bool,
    host: Host,
    port: u16,
}

/// Parses `scheme://host[:port]`, the form browsers send (no path, no user
/// information). `None` for `null`, `file://…`, other schemes and anything
/// malformed.
pub(super) fn parse_origin(raw: &[u8]) -> Option<Origin> {
    let text = std::str::from_utf8(raw).ok()?;
    let (scheme, rest) = text.split_once("://")?;
    let https = if scheme.eq_ignore_ascii_case("http") {
        false
    } else if scheme.eq_ignore_ascii_case("https") {
        true
    } else {
        return None;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let default_port = if https { 443 } else { 80 };
    let (host, port) = split_port(rest)?;
    Some(Origin {
        https,
        host: parse_host(host.as_bytes())?,
        port: port.unwrap_or(default_port),
    })
}

/// True if `origin` is the origin of a page served by this server under
/// the `Host` value `host`, over https when `https`.
pub(super) fn same_origin(origin: &Origin, host: &[u8], https: bool) -> bool {
    let Some((name, port)) = std::str::from_utf8(host).ok().and_then(split_port) else {
        return false;
    };
    let default_port = if https { 443 } else { 80 };
    origin.https == https
        && parse_host(name.as_bytes()).is_some_and(|h| h == origin.host)
        && port.unwrap_or(default_port) == origin.port
}

/// Splits `host[:port]` (`[v6][:port]`); `None` for a port that is not a
/// number. An empty port is the default one.
fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    let colon = match text.rfind(':') {
        Some(i) if !text[i..].contains(']') => i,
        _ => return Some((text, None)),
    };
    let (host, port) = (&text[..colon], &text[colon + 1..]);
    if host.contains(':') && !host.starts_with('[') {
        return None;
    }
    if port.is_empty() {
        return Some((host, None));
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((host, Some(port.parse().ok()?)))
}

/// One entry of the allow-list: an origin as parsed, or, for what does not
/// parse (`null`, `file://`), its text in lowercase.
#[derive(Debug, Clone)]
pub(super) enum Allowed {
    /// A web origin.
    Origin(Origin),
    /// Compared as text, ignoring ASCII case.
    Text(String),
}

impl Allowed {
    /// The entry for `origin` as the user wrote it.
    pub(super) fn new(origin: &str) -> Allowed {
        let origin = origin.trim();
        match parse_origin(origin.as_bytes()) {
            Some(o) => Allowed::Origin(o),
            None => Allowed::Text(origin.to_ascii_lowercase()),
        }
    }

    /// True if this entry allows the `Origin` value `raw`, parsed as
    /// `parsed`.
    pub(super) fn allows(&self, raw: &[u8], parsed: Option<&Origin>) -> bool {
        match self {
            Allowed::Origin(o) => parsed == Some(o),
            Allowed::Text(t) => raw.eq_ignore_ascii_case(t.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_as_browsers_send_them() {
        let o = parse_origin(b"http://192.0.2.1:8080").unwrap();
        assert!(same_origin(&o, b"192.0.2.1:8080", false));
        assert!(!same_origin(&o, b"192.0.2.1:8080", true));
        assert!(!same_origin(&o, b"192.0.2.1:8081", false));
        assert!(!same_origin(&o, b"192.0.2.1", false));
        let o = parse_origin(b"HTTP://Pi.Local").unwrap();
        assert!(same_origin(&o, b"pi.local", false));
        assert!(same_origin(&o, b"PI.LOCAL:80", false));
        assert!(same_origin(&o, b"pi.local:", false));
        let o = parse_origin(b"https://[::1]").unwrap();
        assert!(same_origin(&o, b"[::1]:443", true));
        assert!(same_origin(&o, b"[::1]", true));
        assert!(!same_origin(&o, b"[::1]", false));
        for bad in [
            &b"null"[..],
            b"file://",
            b"file:///home/a.html",
            b"ws://a",
            b"http://",
            b"http://a:x",
            b"http://a:99999",
            b"http://user@a",
            b"http://a/path",
            b"",
        ] {
            assert_eq!(parse_origin(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_allow_list_compares_origins_or_text() {
        let entry = Allowed::new("https://dash.example");
        let raw = b"https://DASH.example:443";
        assert!(entry.allows(raw, parse_origin(raw).as_ref()));
        assert!(!entry.allows(
            b"http://dash.example",
            parse_origin(b"http://dash.example").as_ref()
        ));
        let entry = Allowed::new("null");
        assert!(entry.allows(b"null", None));
        assert!(!entry.allows(b"file://", None));
    }
}
