//! HTTP/1.1 request heads: parsing with bounds, and the header questions a
//! server asks. Parsing is done by `httparse`; this module adds the limits and
//! maps every failure to the status code to answer with.

use httparse::Header;

/// Bounds on a request head. Exceeding one is an error with its own status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Largest request head (request line and headers), in bytes. Default 8192.
    pub max_head_len: usize,
    /// Longest request target, in bytes. Default 2048.
    pub max_uri_len: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_len: 8192,
            max_uri_len: 2048,
        }
    }
}

/// Why a request head was refused, and the status to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request line or a header is malformed (400).
    #[error("malformed request")]
    BadRequest,
    /// More header lines than the caller made room for, or a head over
    /// `max_head_len` (431).
    #[error("request header fields too large")]
    HeadersTooLarge,
    /// A request target over `max_uri_len` (414).
    #[error("request target too long")]
    UriTooLong,
    /// Not HTTP/1.x (505).
    #[error("HTTP version not supported")]
    VersionNotSupported,
    /// An HTTP/1.1 request without `Host`, any request with more than one,
    /// or a `Host` that is not `host[:port]` (400, RFC 9112 §3.2).
    #[error("a request needs exactly one valid Host header")]
    BadHost,
}

impl HttpError {
    /// The status code to answer with.
    pub fn status(self) -> u16 {
        match self {
            HttpError::BadRequest | HttpError::BadHost => 400,
            HttpError::HeadersTooLarge => 431,
            HttpError::UriTooLong => 414,
            HttpError::VersionNotSupported => 505,
        }
    }
}

/// A parsed request head, borrowing the caller's buffer and header array.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'b, 'h> {
    /// The method token, e.g. `GET`.
    pub method: &'b str,
    /// The request target as sent, e.g. `/led.html?x=1`.
    pub target: &'b str,
    /// The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// The header fields in the order received.
    pub headers: &'h [Header<'b>],
}

/// Parses a request head from the start of `buf`.
///
/// `headers` bounds the number of header lines: more than `headers.len()` is
/// [`HttpError::HeadersTooLarge`]. Returns `Ok(None)` while the head is
/// incomplete and still within the limits, else the head and its length.
pub fn parse_request<'b, 'h>(
    buf: &'b [u8],
    headers: &'h mut [Header<'b>],
    limits: &HeadLimits,
) -> Result<Option<(RequestHead<'b, 'h>, usize)>, HttpError> {
    let mut req = httparse::Request::new(headers);
    let status = req.parse(buf).map_err(|e| match e {
        httparse::Error::TooManyHeaders => HttpError::HeadersTooLarge,
        httparse::Error::Version if version_token_is_http(buf) => HttpError::VersionNotSupported,
        _ if target_len_so_far(buf) > limits.max_uri_len => HttpError::UriTooLong,
        _ => HttpError::BadRequest,
    })?;
    let len = match status {
        httparse::Status::Partial => {
            if buf.len() >= limits.max_head_len {
                return Err(overflow_error(buf, limits));
            }
            // A long target is refused before the rest arrives. Only the
            // target counts, so a prefix of an acceptable head never is.
            if target_len_so_far(buf) > limits.max_uri_len {
                return Err(HttpError::UriTooLong);
            }
            return Ok(None);
        }
        httparse::Status::Complete(len) => len,
    };
    if len > limits.max_head_len {
        return Err(overflow_error(buf, limits));
    }
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(HttpError::BadRequest);
    };
    if target.len() > limits.max_uri_len {
        return Err(HttpError::UriTooLong);
    }
    Ok(Some((
        RequestHead {
            method,
            target,
            minor_version,
            headers: req.headers,
        },
        len,
    )))
}

/// True if the request line's third word looks like `HTTP/<digit>`: only
/// then is an unparsable version "not supported" (505) rather than malformed (400).
fn version_token_is_http(buf: &[u8]) -> bool {
    let line = &buf[..first_line_len(buf)];
    let mut words = line.split(|&b| b == b' ');
    let third = words.nth(2).unwrap_or_default();
    third.len() > 5 && third.starts_with(b"HTTP/") && third[5].is_ascii_digit()
}

/// Length of the request line so far (up to its end or the end of `buf`).
fn first_line_len(buf: &[u8]) -> usize {
    buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len())
}

/// Length of the request target received so far: the bytes after the
/// method's space, up to the next space or the end of the line or of `buf`.
/// Zero while the method is still arriving.
fn target_len_so_far(buf: &[u8]) -> usize {
    let line = &buf[..first_line_len(buf)];
    let Some(space) = line.iter().position(|&b| b == b' ') else {
        return 0;
    };
    let rest = &line[space + 1..];
    rest.iter()
        .position(|&b| b == b' ' || b == b'\r')
        .unwrap_or(rest.len())
}

/// A head that does not fit: blame the target if it alone is too long, else
/// the headers.
fn overflow_error(buf: &[u8], limits: &HeadLimits) -> HttpError {
    if target_len_so_far(buf) > limits.max_uri_len {
        HttpError::UriTooLong
    } else {
        HttpError::HeadersTooLarge
    }
}

impl<'b> RequestHead<'b, '_> {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// Every value of headers named `name`.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'b [u8]> + 's {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The `Host` header's value, trimmed, checked as RFC 9112 §3.2 asks:
    /// an HTTP/1.1 request has exactly one; an HTTP/1.0 request may have
    /// none (`Ok(None)`); no request has two; the value is `host[:port]`,
    /// the host a name, an IPv4 address or a bracketed IPv6 literal (or
    /// empty). Anything else is [`HttpError::BadHost`], a 400.
    pub fn host(&self) -> Result<Option<&'b [u8]>, HttpError> {
        let mut hosts = self.headers_named("host");
        match (hosts.next(), hosts.next()) {
            (None, _) if self.minor_version == 0 => Ok(None),
            (Some(value), None) => {
                let value = trim_ows(value);
                if valid_host(value) {
                    Ok(Some(value))
                } else {
                    Err(HttpError::BadHost)
                }
            }
            _ => Err(HttpError::BadHost),
        }
    }

    /// True if any header named `name` lists `token` among its comma-separated
    /// elements (case-insensitive, optional whitespace), as `Connection` and
    /// `Upgrade` do.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers_named(name).any(|value| {
            value
                .split(|&b| b == b',')
                .any(|item| trim_ows(item).eq_ignore_ascii_case(token.as_bytes()))
        })
    }

    /// True if the client wants the connection kept open after the response:
    /// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        if self.minor_version >= 1 {
            !self.has_token("connection", "close")
        } else {
            self.has_token("connection", "keep-alive")
        }
    }

    /// The request body's framing: `Ok(None)` for no body.
    ///
    /// Conflicting or malformed `Content-Length` values are a bad request
    /// (RFC 9112 §6.3); any `Transfer-Encoding` means a body of unknown length.
    pub fn body(&self) -> Result<Option<Body>, HttpError> {
        if self.headers_named("transfer-encoding").next().is_some() {
            return Ok(Some(Body::Chunked));
        }
        let mut length: Option<u64> = None;
        for value in self.headers_named("content-length") {
            for item in value.split(|&b| b == b',') {
                let n = parse_decimal(trim_ows(item)).ok_or(HttpError::BadRequest)?;
                match length {
                    Some(prev) if prev != n => return Err(HttpError::BadRequest),
                    _ => length = Some(n),
                }
            }
        }
        Ok(match length {
            None | Some(0) => None,
            Some(n) => Some(Body::Length(n)),
        })
    }
}

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// `Content-Length` bytes follow the head.
    Length(u64),
    /// A `Transfer-Encoding` (chunked) body follows.
    Chunked,
}

/// Trims HTTP optional whitespace (spaces and tabs, RFC 9110 §5.6.3) from
/// both ends of a header value or list item.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// True if `value` is `uri-host [ ":" port ]` (RFC 9110 §7.2): a
/// bracketed IP literal, or a reg-name / IPv4 address (letters, digits,
/// `-._~`, sub-delims, `%`-escapes), then optionally `:` and digits.
fn valid_host(value: &[u8]) -> bool {
    let (host, port) = match value {
        [b'[', rest @ ..] => {
            let Some(end) = rest.iter().position(|&b| b == b']') else {
                return false;
            };
            let (literal, after) = rest.split_at(end);
            let literal_ok = !literal.is_empty()
                && literal
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'v' | b'V'));
            if !literal_ok {
                return false;
            }
            // `after` starts with the `]`.
            (&b""[..], &after[1..])
        }
        _ => match value.iter().position(|&b| b == b':') {
            Some(colon) => (&value[..colon], &value[colon..]),
            None => (value, &b""[..]),
        },
    };
    let host_ok = host.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            )
    });
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    host_ok && port_ok
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests;
