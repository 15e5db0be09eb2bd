//! [`Access`]: who may use a server. Three checks, each off by default and
//! turned on by [`Server::access`](crate::Server::access):
//!
//! - **Host** (`hosts`): the request must name this server — against DNS
//!   rebinding, where a page on the attacker's name is re-pointed at the
//!   device's address. Refused with `421 Misdirected Request`.
//! - **Origin** (`origins`): a WebSocket handshake from a browser must come
//!   from this server's own pages or an allowed origin — against
//!   cross-site WebSocket hijacking. Refused with `403 Forbidden`.
//! - **Token** (`token`): every request carries a secret the server
//!   printed at start, in the URL once and then in a cookie, or as a
//!   bearer token. Refused with `401 Unauthorized` and a page saying what
//!   to open.
//!
//! Checked in that order, on every request (pages, files, 404s and
//! handshakes) before anything else is done with it. Each refusal is
//! logged at warn once per client address and reason
//! (`refusals`), later ones at debug.
//!
//! - `hosts`: the names a server answers to.
//! - `origins`: same-origin and the allow-list.
//! - `token`: where a request carries the token, the cookie, random tokens.
//! - `refusals`: the once-per-client refusal log.

mod hosts;
mod origins;
mod refusals;
mod token;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use pinsocket_core::RequestHead;

use self::hosts::{HostRules, Machine};
use self::origins::{Allowed, parse_origin, same_origin};
use self::refusals::{Reason, RefusalLog};
use self::token::Presented;
use crate::response;

/// Who may use a server: the `Host` names it answers to, the origins whose
/// pages may open WebSockets, and an access token. Give it to
/// [`Server::access`](crate::Server::access).
///
/// [`Access::new`] (the default) checks nothing, as a plain library
/// server does. [`Access::guarded`] is what a server that drives hardware
/// wants, and what the `pinsocket` device server uses:
///
/// ```no_run
/// use pinsocket::{Access, Server};
///
/// let token = Access::random_token().unwrap();
/// println!("open http://192.0.2.7:8080/?token={token}");
/// Server::new()
///     .bind("0.0.0.0:8080".parse().unwrap())
///     .access(
///         Access::guarded()
///             .allow_host("pi.example.org")
///             .token(token),
///     )
///     .run()
///     .unwrap();
/// ```
///
/// **Host**: once on, a request's `Host` must name this server:
/// `localhost`, the machine's host name (`NAME` and `NAME.local`), any
/// address of the machine (loopback included, IPv6 in brackets), or a name
/// or address given to [`Access::allow_host`]. The port is not compared: a
/// name an attacker controls is refused whatever the port, and a router
/// forwarding another port to the server keeps working. Other names get
/// `421 Misdirected Request`. A request without `Host` (HTTP/1.0; an
/// HTTP/1.1 request without one is always 400) passes: browsers always
/// send it.
///
/// **Origin**: once on, a WebSocket handshake that carries `Origin` (every
/// browser sends it; other tools need not) must come from a page of this
/// server — the same scheme (`http`, or `https` when the server terminates
/// TLS), host and port as the request's `Host` — or from an origin given
/// to [`Access::allow_origin`]. Anything else, `null` and `file://`
/// included, gets `403 Forbidden`. Checking Origin against Host is only
/// sound with the Host check on ([`Access::guarded`] turns on both): a
/// rebound page's Origin and Host both name the attacker.
///
/// **Token**: with [`Access::token`], every request must present it, in
/// one of three ways:
/// - `?token=TOKEN` in the URL. A GET of a page is then answered
///   `303 See Other` to the same URL without the token, setting the cookie
///   [`Access::TOKEN_COOKIE`] (`HttpOnly; SameSite=Strict; Path=/`, and
///   `Secure` over TLS): the browser keeps it, pages and their WebSockets
///   send it, and the token leaves the address bar.
/// - `Authorization: Bearer TOKEN`, for scripts.
/// - The cookie.
///
/// Without it (or with a wrong one): `401 Unauthorized` and a short page
/// telling the user to open the address the server printed. Tokens are
/// compared in constant time.
#[derive(Clone, Default)]
pub struct Access {
    /// `Some`: the Host check is on, with these names beyond the built-in.
    hosts: Option<HostRules>,
    /// `Some`: the Origin check is on, with this allow-list.
    origins: Option<Vec<Allowed>>,
    token: Option<Arc<str>>,
    /// The machine's names and addresses, and the refusal log, shared by
    /// every clone.
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    machine: Machine,
    log: RefusalLog,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("hosts", &self.hosts)
            .field("origins", &self.origins)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl Access {
    /// The cookie the token is kept in, once a browser has opened the
    /// server's URL with `?token=`.
    pub const TOKEN_COOKIE: &str = token::COOKIE;

    /// Checks nothing: every Host, every Origin, no token. The default.
    pub fn new() -> Access {
        Access::default()
    }

    /// Checks Host and Origin, with no names or origins beyond the
    /// server's own (see [`Access`]); no token unless [`Access::token`]
    /// adds one.
    pub fn guarded() -> Access {
        Access {
            hosts: Some(HostRules::default()),
            origins: Some(Vec::new()),
            ..Access::default()
        }
    }

    /// Answers to `host` too: a DNS name (any case, a trailing dot and a
    /// port ignored), an IPv4 address or a bracketed IPv6 address. Turns
    /// the Host check on. An entry that is none of these is logged and
    /// ignored.
    pub fn allow_host(mut self, host: &str) -> Access {
        self.hosts.get_or_insert_with(HostRules::default).add(host);
        self
    }

    /// Lets pages of `origin` open WebSockets: `scheme://host[:port]` as a
    /// browser sends it (e.g. `https://dashboard.example`), compared with
    /// default ports filled in and case ignored; or any other text (`null`)
    /// compared as written, case ignored. Turns the Origin check on.
    pub fn allow_origin(mut self, origin: &str) -> Access {
        self.origins
            .get_or_insert_with(Vec::new)
            .push(Allowed::new(origin));
        self
    }

    /// Requires `token` on every request (see [`Access`]). Any text; a
    /// long random one is best ([`Access::random_token`]).
    ///
    /// # Panics
    /// If `token` is empty.
    pub fn token(mut self, token: impl Into<String>) -> Access {
        let token: String = token.into();
        assert!(!token.is_empty(), "an access token cannot be empty");
        self.token = Some(token.into());
        self
    }

    /// The token required, if any.
    pub fn required_token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A new random token: 128 bits from the system's random source
    /// (`/dev/urandom`), as 32 lowercase hex digits.
    pub fn random_token() -> std::io::Result<String> {
        token::random()
    }

    /// True if nothing is checked: the request path skips this module.
    pub(crate) fn is_open(&self) -> bool {
        self.hosts.is_none() && self.origins.is_none() && self.token.is_none()
    }

    /// Checks a request whose `Host` (already counted, RFC 9112 §3.2) is
    /// `host`. `None`: it may proceed; else the whole response to send
    /// before closing the connection.
    pub(crate) fn check(&self, req: &Checked<'_, '_, '_>) -> Option<Vec<u8>> {
        let mut response = self.verdict(req)?;
        if req.head.method == "HEAD" {
            // The head alone (RFC 9110 §9.3.2); its Content-Length stays.
            let end = response::head_of(&response, true).len();
            response.truncate(end);
        }
        Some(response)
    }

    /// The response refusing `req`, if it is refused.
    fn verdict(&self, req: &Checked<'_, '_, '_>) -> Option<Vec<u8>> {
        if let (Some(rules), Some(host)) = (&self.hosts, req.host)
            && !rules.allows(host, &self.state.machine)
        {
            self.log(req.peer, Reason::Host, || {
                format!(
                    "refused Host `{}`: not a name this server answers to (421)",
                    shown(host)
                )
            });
            return Some(response::error(
                421,
                "this server does not answer to that host name",
                &[],
                false,
            ));
        }
        if req.upgrade
            && let Some(allowed) = &self.origins
            && let Err(origin) = self.origin_ok(req, allowed)
        {
            self.log(req.peer, Reason::Origin, || {
                format!(
                    "refused a WebSocket from the page of origin `{}`: not this server's (403)",
                    shown(origin)
                )
            });
            return Some(response::error(
                403,
                "WebSockets are open to this server's own pages only",
                &[],
                false,
            ));
        }
        let token = self.token.as_deref()?;
        let redirect = !req.upgrade && req.head.method == "GET";
        let presented = token::check(
            token,
            req.head.target,
            req.head.header("authorization"),
            req.head.headers_named("cookie"),
            redirect,
        );
        match presented {
            Presented::Valid => None,
            Presented::ValidInTarget(location) => {
                let location = format!("Location: {location}");
                let cookie = token::set_cookie(token, req.https);
                Some(response::error(
                    303,
                    "signed in; continue without the token in the address",
                    &[&location, &cookie, "Cache-Control: no-store"],
                    false,
                ))
            }
            Presented::Missing | Presented::Wrong => {
                if presented == Presented::Wrong {
                    self.log(req.peer, Reason::Token, || {
                        "refused a wrong access token (401)".to_owned()
                    });
                } else {
                    tracing::debug!(peer = %req.peer, "no access token: answered 401");
                }
                Some(response::unauthorized(UNAUTHORIZED_PAGE))
            }
        }
    }

    /// Checks the handshake's `Origin`: `Err` with the refused value.
    fn origin_ok<'b>(
        &self,
        req: &Checked<'_, 'b, '_>,
        allowed: &[Allowed],
    ) -> Result<(), &'b [u8]> {
        let mut origins = req.head.headers_named("origin");
        let origin = match (origins.next(), origins.next()) {
            (None, _) => return Ok(()),
            (Some(origin), None) => pinsocket_core::trim_ows(origin),
            (Some(origin), Some(_)) => return Err(origin),
        };
        let parsed = parse_origin(origin);
        if allowed.iter().any(|a| a.allows(origin, parsed.as_ref())) {
            return Ok(());
        }
        match (&parsed, req.host) {
            (Some(o), Some(host)) if same_origin(o, host, req.https) => Ok(()),
            _ => Err(origin),
        }
    }

    /// Logs a refusal of `peer` at warn the first time, at debug after.
    fn log(&self, peer: SocketAddr, reason: Reason, message: impl FnOnce() -> String) {
        let ip = peer.ip().to_canonical();
        if self.state.log.first(ip, reason) {
            tracing::warn!(
                %peer,
                "{}; further refusals of this address for this reason are logged at debug",
                message()
            );
        } else {
            tracing::debug!(%peer, "{}", message());
        }
    }
}

/// A header value for the log: at most 100 bytes of it, the rest marked.
fn shown(value: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(value.get(..100).unwrap_or(value)).into_owned();
    if value.len() > 100 {
        text.push('…');
    }
    text
}

/// A request as the access checks see it.
pub(crate) struct Checked<'r, 'b, 'h> {
    /// The parsed head.
    pub(crate) head: &'r RequestHead<'b, 'h>,
    /// Its `Host` value, counted and trimmed (`None` for HTTP/1.0 without).
    pub(crate) host: Option<&'b [u8]>,
    /// It asks for a WebSocket.
    pub(crate) upgrade: bool,
    /// The client.
    pub(crate) peer: SocketAddr,
    /// The server terminates TLS: origins are `https`, the cookie `Secure`.
    pub(crate) https: bool,
}

/// The page a request without the token gets.
const UNAUTHORIZED_PAGE: &str = "<!DOCTYPE html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>pinsocket: access token needed</title></head>
<body>
<h1>Access token needed</h1>
<p>This server only answers those who have its access token. Open the
address it printed when it started, the one ending in
<code>?token=&hellip;</code>: your browser then keeps the token in a cookie
and this page works.</p>
<p>Scripts send the header <code>Authorization: Bearer TOKEN</code>.</p>
</body></html>
";
