//! The access token, Jupyter-style: the server prints a URL carrying it;
//! opening that URL trades the token for a cookie; scripts send it as a
//! bearer token.
//!
//! A request carries the token in one of three ways, tried in this order:
//! `?token=` in the target (a GET of a page is then redirected to the same
//! target without it, setting the cookie, so the token leaves the address
//! bar and the history), `Authorization: Bearer`, or the cookie
//! [`COOKIE`]. Comparisons take the same time wherever the values differ.

use std::io::Read;

/// The cookie that carries the token.
pub(super) const COOKIE: &str = "pinsocket_token";

/// What a request's credentials amount to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Presented {
    /// The right token, from the cookie or `Authorization`, or from the
    /// target on a request that is not redirected.
    Valid,
    /// The right token in the target of a GET for a page: redirect to
    /// this target, without it, setting the cookie.
    ValidInTarget(String),
    /// No token at all.
    Missing,
    /// A token, but not the right one.
    Wrong,
}

/// Checks the credentials of a request for `target`. `cookies` and
/// `authorization` are the raw values of those headers; `redirect` says
/// whether a token in the target is traded for the cookie (GET of a page).
pub(super) fn check<'a>(
    token: &str,
    target: &str,
    authorization: Option<&[u8]>,
    cookies: impl Iterator<Item = &'a [u8]>,
    redirect: bool,
) -> Presented {
    let want = token.as_bytes();
    if let Some((path, query)) = target.split_once('?') {
        let mut found = None;
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key == "token" {
                found = Some(percent_decode(value));
            }
        }
        if let Some(given) = found {
            if !equal(&given, want) {
                return Presented::Wrong;
            }
            if !redirect {
                return Presented::Valid;
            }
            let rest: Vec<&str> = query
                .split('&')
                .filter(|pair| pair.split_once('=').map_or(*pair, |(k, _)| k) != "token")
                .collect();
            // Only ever a path on this server: `//host/…` or an absolute
            // target would send the browser elsewhere.
            let mut location = format!("/{}", path.trim_start_matches('/'));
            if !path.starts_with('/') {
                location = "/".to_owned();
            }
            if !rest.is_empty() {
                location.push('?');
                location.push_str(&rest.join("&"));
            }
            return Presented::ValidInTarget(location);
        }
    }
    if let Some(value) = authorization {
        let value = pinsocket_core::trim_ows(value);
        let bearer = value
            .get(..7)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer "));
        if !bearer {
            return Presented::Wrong;
        }
        return if equal(pinsocket_core::trim_ows(&value[7..]), want) {
            Presented::Valid
        } else {
            Presented::Wrong
        };
    }
    let mut any = false;
    for header in cookies {
        for pair in header.split(|&b| b == b';') {
            let pair = pinsocket_core::trim_ows(pair);
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if &pair[..eq] != COOKIE.as_bytes() {
                continue;
            }
            any = true;
            if equal(&percent_decode_bytes(&pair[eq + 1..]), want) {
                return Presented::Valid;
            }
        }
    }
    if any {
        Presented::Wrong
    } else {
        Presented::Missing
    }
}

/// The `Set-Cookie` header line that stores `token` in the browser: only
/// sent back to this server (no `Domain`), over https only when `secure`,
/// out of reach of scripts, and not on requests other sites start.
pub(super) fn set_cookie(token: &str, secure: bool) -> String {
    format!(
        "Set-Cookie: {COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
        percent_encode(token),
        if secure { "; Secure" } else { "" }
    )
}

/// Compares two byte strings in time that depends on their lengths only,
/// never on where they differ.
pub(super) fn equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A new random token: 128 bits from the system's random source
/// (`/dev/urandom`), as 32 lowercase hex digits.
pub(super) fn random() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `%XX` escapes decoded (`+` is kept: tokens are not form data); invalid
/// escapes kept as written.
fn percent_decode(s: &str) -> Vec<u8> {
    percent_decode_bytes(s.as_bytes())
}

fn percent_decode_bytes(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            s[i],
            s.get(i + 1).copied().and_then(hex),
            s.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Escapes every byte but letters, digits and `-._~`, so any token fits a
/// URL, a cookie and a header.
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "s3cret";

    fn cookie(v: &str) -> Vec<u8> {
        v.as_bytes().to_vec()
    }

    #[test]
    fn each_way_of_presenting_the_token() {
        let none = std::iter::empty;
        assert_eq!(check(T, "/", None, none(), true), Presented::Missing);
        assert_eq!(
            check(T, "/?token=s3cret", None, none(), true),
            Presented::ValidInTarget("/".into())
        );
        assert_eq!(
            check(T, "/led.html?a=1&token=s3cret&b=2", None, none(), true),
            Presented::ValidInTarget("/led.html?a=1&b=2".into())
        );
        assert_eq!(
            check(T, "//evil.example/?token=s3cret", None, none(), true),
            Presented::ValidInTarget("/evil.example/".into())
        );
        assert_eq!(
            check(T, "http://evil.example/x?token=s3cret", None, none(), true),
            Presented::ValidInTarget("/".into())
        );
        assert_eq!(
            check(T, "/?token=s3cre%74", None, none(), false),
            Presented::Valid
        );
        assert_eq!(
            check(T, "/?token=nope", None, none(), true),
            Presented::Wrong
        );
        assert_eq!(check(T, "/?token=", None, none(), true), Presented::Wrong);
        assert_eq!(
            check(T, "/", Some(b"Bearer s3cret"), none(), true),
            Presented::Valid
        );
        assert_eq!(
            check(T, "/", Some(b"bearer  s3cret "), none(), true),
            Presented::Valid
        );
        assert_eq!(
            check(T, "/", Some(b"Basic czNjcmV0"), none(), true),
            Presented::Wrong
        );
        assert_eq!(
            check(T, "/", Some(b"Bearer s3cre"), none(), true),
            Presented::Wrong
        );
        let jar = [cookie("a=b; pinsocket_token=s3cret; c=d")];
        assert_eq!(
            check(T, "/", None, jar.iter().map(Vec::as_slice), true),
            Presented::Valid
        );
        let jar = [
            cookie("pinsocket_token=old"),
            cookie("pinsocket_token=s3cret"),
        ];
        assert_eq!(
            check(T, "/", None, jar.iter().map(Vec::as_slice), true),
            Presented::Valid
        );
        let jar = [cookie("pinsocket_token=old; xpinsocket_token=s3cret")];
        assert_eq!(
            check(T, "/", None, jar.iter().map(Vec::as_slice), true),
            Presented::Wrong
        );
        let jar = [cookie("other=s3cret")];
        assert_eq!(
            check(T, "/", None, jar.iter().map(Vec::as_slice), true),
            Presented::Missing
        );
    }

    #[test]
    fn any_token_survives_the_cookie_and_the_url() {
        let odd = "a b;c,d=\"é\"";
        let encoded = percent_encode(odd);
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
        );
        let jar = [format!("{COOKIE}={encoded}").into_bytes()];
        assert_eq!(
            check(odd, "/", None, jar.iter().map(Vec::as_slice), true),
            Presented::Valid
        );
        assert_eq!(
            check(
                odd,
                &format!("/?token={encoded}"),
                None,
                std::iter::empty(),
                false
            ),
            Presented::Valid
        );
        assert_eq!(
            set_cookie(T, true),
            "Set-Cookie: pinsocket_token=s3cret; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
    }

    #[test]
    fn random_tokens_are_128_bits_of_hex() {
        let a = random().unwrap();
        let b = random().unwrap();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
        assert!(equal(a.as_bytes(), a.clone().as_bytes()));
        assert!(!equal(a.as_bytes(), b.as_bytes()));
        assert!(!equal(b"ab", b"abc"));
    }
}
