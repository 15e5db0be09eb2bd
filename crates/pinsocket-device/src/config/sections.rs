//! The sections that say who may connect and how: `[access]` (host names,
//! origins, the token) and `[tls]` (the certificate and key), each checked
//! and turned into its part of the [`Config`](super::Config).

use toml::Spanned;

use super::error::Source;
use super::raw::{RawAccess, RawTls};
use super::{AccessConfig, ConfigError, TlsFiles};

/// `[tls]`, `cert` and `key`; refused by a build without the `tls` feature.
pub(super) fn tls(
    src: Source<'_>,
    value: Option<Spanned<RawTls>>,
) -> Result<Option<TlsFiles>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if !cfg!(feature = "tls") {
        return Err(src.invalid(
            Some(value.span()),
            "tls: this build of pinsocket has no TLS support (the `tls` feature)".to_owned(),
        ));
    }
    let RawTls { cert, key } = value.into_inner();
    Ok(Some(TlsFiles { cert, key }))
}

/// `[access]`: host names without scheme or path, origins as
/// `http(s)://host[:port]` (or `null`), a token of 16 to 256 visible
/// ASCII characters, and no token with `auth = false`.
pub(super) fn access(src: Source<'_>, raw: &RawAccess) -> Result<AccessConfig, ConfigError> {
    for host in &raw.hosts {
        let h = host.get_ref();
        let valid = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b));
        if !valid {
            return Err(src.invalid(
                Some(host.span()),
                format!(
                    "access.hosts: `{h}` is not a host name or address, e.g. \
                     \"pi.example.org\" or \"192.0.2.7\" (no scheme, no path)"
                ),
            ));
        }
    }
    for origin in &raw.origins {
        let o = origin.get_ref();
        let rest = o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"));
        let valid = o == "null"
            || rest.is_some_and(|r| {
                !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
            });
        if !valid {
            return Err(src.invalid(
                Some(origin.span()),
                format!(
                    "access.origins: `{o}` is not an origin like \"https://dashboard.example\" \
                     or \"http://192.0.2.7:8080\" (scheme, host, optional port, no path)"
                ),
            ));
        }
    }
    if let Some(token) = &raw.token {
        let t = token.get_ref();
        let valid = (16..=256).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(src.invalid(
                Some(token.span()),
                "access.token: must be 16 to 256 visible ASCII characters (no spaces); \
                 leave it out for a random one"
                    .to_owned(),
            ));
        }
        if raw.auth.as_ref().is_some_and(|a| !*a.get_ref()) {
            return Err(src.invalid(
                Some(token.span()),
                "access.token: given with `auth = false`, which turns the token off; \
                 remove one of them"
                    .to_owned(),
            ));
        }
    }
    Ok(AccessConfig {
        hosts: raw.hosts.iter().map(|h| h.get_ref().clone()).collect(),
        origins: raw.origins.iter().map(|o| o.get_ref().clone()).collect(),
        token: raw.token.as_ref().map(|t| t.get_ref().clone()),
        auth: raw.auth.as_ref().map(|a| *a.get_ref()),
    })
}
