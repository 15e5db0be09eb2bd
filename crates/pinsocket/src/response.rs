//! HTTP/1.1 response heads: status lines, error pages, dates.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The reason phrase for the status codes this server sends.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        421 => "Misdirected Request",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// The headers every response but the `101` carries, after `Server`: no
/// page of this server may be framed by another site (clickjacking a
/// switch), in old browsers (`X-Frame-Options`) and new
/// (`frame-ancestors`), and no response is sniffed into another type.
const SECURITY_HEADERS: &str = "X-Frame-Options: DENY\r\n\
    Content-Security-Policy: frame-ancestors 'none'\r\n\
    X-Content-Type-Options: nosniff\r\n";

/// Starts a response head: status line, `Date`, `Server` and the
/// [`SECURITY_HEADERS`].
pub(crate) fn status_line(out: &mut String, status: u16) {
    let _ = write!(out, "HTTP/1.1 {status} {}\r\nDate: ", reason(status));
    with_date_now(|date| out.push_str(date));
    out.push_str("\r\nServer: pinsocket\r\n");
    out.push_str(SECURITY_HEADERS);
}

thread_local! {
    /// The `Date` value of the current second, per worker thread.
    static DATE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
}

/// Runs `f` with the `Date` header value for now, formatted once a second.
fn with_date_now(f: impl FnOnce(&str)) {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, http_date(now));
        }
        f(&cached.1);
    });
}

/// A complete plain-text error response. `extra` headers are written as
/// given (each `Name: value`); with `keep_alive` false it announces
/// `Connection: close`.
pub(crate) fn error(status: u16, message: &str, extra: &[&str], keep_alive: bool) -> Vec<u8> {
    let mut out = String::with_capacity(384 + message.len());
    status_line(&mut out, status);
    for header in extra {
        out.push_str(header);
        out.push_str("\r\n");
    }
    let _ = write!(
        out,
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{}\r\n{message}\n",
        message.len() + 1,
        if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        }
    );
    out.into_bytes()
}

/// `401 Unauthorized` with the HTML `page` saying how to get in, closing
/// the connection.
pub(crate) fn unauthorized(page: &str) -> Vec<u8> {
    let mut out = String::with_capacity(256 + page.len());
    status_line(&mut out, 401);
    let _ = write!(
        out,
        "WWW-Authenticate: Bearer realm=\"pinsocket\"\r\nCache-Control: no-store\r\n\
         Content-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{page}",
        page.len()
    );
    out.into_bytes()
}

/// Formats a time as an IMF-fixdate (RFC 9110 §5.6.7), e.g.
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month} {year} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Year, month (1-12) and day (1-31) of a count of days since 1970-01-01,
/// in the proleptic Gregorian calendar: shift to eras of 400 years starting
/// on 1 March, where leap days fall at the end of a year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The response without its body when answering HEAD (RFC 9110 §9.3.2).
pub(crate) fn head_of(response: &[u8], head_only: bool) -> &[u8] {
    if !head_only {
        return response;
    }
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |i| i + 4);
    response.get(..end).unwrap_or(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_match_known_values() {
        let at = |s| http_date(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_795_651_199), "Wed, 25 Nov 2026 23:59:59 GMT");
    }

    #[test]
    fn error_response_is_complete() {
        let r = String::from_utf8(error(405, "use GET", &["Allow: GET, HEAD"], false)).unwrap();
        assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{r}");
        assert!(r.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(r.contains("\r\nContent-Length: 8\r\n"));
        assert!(r.ends_with("\r\nConnection: close\r\n\r\nuse GET\n"));
        assert!(r.contains("\r\nX-Frame-Options: DENY\r\n"), "{r}");
        assert!(r.contains("\r\nContent-Security-Policy: frame-ancestors 'none'\r\n"));
        assert!(r.contains("\r\nX-Content-Type-Options: nosniff\r\n"));
        let r = String::from_utf8(error(404, "not found", &[], true)).unwrap();
        assert!(
            r.ends_with("\r\nContent-Length: 10\r\n\r\nnot found\n"),
            "{r}"
        );
    }
}
