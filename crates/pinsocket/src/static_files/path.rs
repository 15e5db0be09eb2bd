//! Request paths: a raw request target taken apart into safe segments before
//! anything touches the file system.
//!
//! 1. the query and fragment are dropped;
//! 2. the path is percent-decoded exactly once (a bad escape is a bad request);
//! 3. NUL bytes, backslashes and non-UTF-8 paths are bad requests;
//! 4. the path is split on `/`; empty and `.` segments are skipped, a `..`
//!    segment or a segment starting with `.` (hidden files such as `.git`) is
//!    simply not found, so nothing is ever resolved upward.

/// Why a request target was refused before looking at any file.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Rejected {
    BadRequest(&'static str),
    NotFound,
}

/// A request path taken apart into safe segments.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RequestPath {
    /// Non-empty segments, none of them `.`, `..` or otherwise starting with `.`,
    /// none containing `/`, `\` or NUL.
    pub(super) segments: Vec<String>,
    /// The path names a folder (it ends in `/` or `/.`, or is the root).
    pub(super) dir: bool,
}

impl RequestPath {
    /// Takes a raw request target apart in the steps the module describes.
    pub(super) fn parse(target: &str) -> Result<RequestPath, Rejected> {
        let path = target.split(['?', '#']).next().unwrap_or_default();
        if path.contains('\0') {
            return Err(Rejected::BadRequest("NUL byte in request path"));
        }
        if path.contains('\\') {
            return Err(Rejected::BadRequest("backslash in request path"));
        }
        if !path.starts_with('/') {
            return Err(Rejected::BadRequest("request path must start with '/'"));
        }
        let decoded = percent_decode(path.as_bytes())?;
        if decoded.contains(&0) {
            return Err(Rejected::BadRequest("NUL byte in request path"));
        }
        if decoded.contains(&b'\\') {
            return Err(Rejected::BadRequest("backslash in request path"));
        }
        let decoded = String::from_utf8(decoded)
            .map_err(|_| Rejected::BadRequest("request path is not valid UTF-8"))?;

        let mut segments = Vec::new();
        for segment in decoded.split('/') {
            match segment {
                "" | "." => {}
                ".." => return Err(Rejected::NotFound),
                hidden if hidden.starts_with('.') => return Err(Rejected::NotFound),
                name => segments.push(name.to_owned()),
            }
        }
        let last = decoded.rsplit('/').next().unwrap_or_default();
        let dir = matches!(last, "" | ".");
        Ok(RequestPath { segments, dir })
    }
}

/// Decode `%XX` escapes once; any `%` not followed by two hex digits is an error.
fn percent_decode(input: &[u8]) -> Result<Vec<u8>, Rejected> {
    let mut out = Vec::with_capacity(input.len());
    let mut bytes = input.iter().copied();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next().and_then(hex_value);
            let lo = bytes.next().and_then(hex_value);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                _ => {
                    return Err(Rejected::BadRequest(
                        "invalid percent-encoding in request path",
                    ));
                }
            }
        } else {
            out.push(b);
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::static_files::test_support::{HTML, LED_HTML, Outcome, Tree, check_all, found};
    use std::io;

    #[tokio::test]
    async fn malformed_targets_are_bad_requests() -> io::Result<()> {
        let tree = Tree::new("malformed")?;
        let files = tree.files()?;
        check_all(
            &files,
            &[
                ("", Outcome::BadRequest),
                ("*", Outcome::BadRequest),
                ("led.html", Outcome::BadRequest),
                ("http://host/led.html", Outcome::BadRequest),
                ("?/led.html", Outcome::BadRequest),
                ("/%", Outcome::BadRequest),
                ("/%2", Outcome::BadRequest),
                ("/led.html%", Outcome::BadRequest),
                ("/%zz", Outcome::BadRequest),
                ("/%g0", Outcome::BadRequest),
                ("/%ff", Outcome::BadRequest),
                ("/%c3%28", Outcome::BadRequest),
                // Only the path is decoded; a bad escape in the query is ignored.
                ("/led.html?%zz", found(HTML, LED_HTML)),
                // A valid multi-byte UTF-8 name that just does not exist.
                ("/%c3%a9t%c3%a9.html", Outcome::NotFound),
            ],
        )
        .await
    }

    #[test]
    fn request_paths() {
        let parsed = RequestPath::parse("/a/./b//c.txt?q#f");
        assert_eq!(
            parsed,
            Ok(RequestPath {
                segments: vec!["a".into(), "b".into(), "c.txt".into()],
                dir: false,
            })
        );
        assert_eq!(
            RequestPath::parse("/"),
            Ok(RequestPath {
                segments: Vec::new(),
                dir: true,
            })
        );
        assert_eq!(
            RequestPath::parse("/a%20b/"),
            Ok(RequestPath {
                segments: vec!["a b".into()],
                dir: true,
            })
        );
        assert_eq!(RequestPath::parse("/a/../b"), Err(Rejected::NotFound));
        assert_eq!(RequestPath::parse("/.git/config"), Err(Rejected::NotFound));
        assert!(matches!(
            RequestPath::parse("/%41%4"),
            Err(Rejected::BadRequest(_))
        ));
    }
}
