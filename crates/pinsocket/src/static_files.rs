//! Static files: turning a request target into a file from a web root folder
//! or from pages compiled into the binary.
//!
//! The original MicroWebSrv joined the request path onto its root folder as a
//! string, which let `/....//` style targets climb out of it. Here a target is
//! taken apart before anything touches the file system:
//!
//! 1. the query and fragment are dropped;
//! 2. the path is percent-decoded exactly once (a bad escape is a bad request);
//! 3. NUL bytes, backslashes and non-UTF-8 paths are bad requests;
//! 4. the path is split on `/`; empty and `.` segments are skipped, a `..`
//!    segment or a segment starting with `.` (hidden files such as `.git`) is
//!    simply not found, so nothing is ever resolved upward.
//!
//! For a folder, the remaining segments are joined under the canonical root,
//! the result is canonicalized again (following symlinks) and must still lie
//! under the root, must not pass through a hidden name, and must be a regular
//! file; a folder is served through its `index.html`.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use tracing::debug;

/// The file served for `/` and for any path naming a folder.
const INDEX: &str = "index.html";

/// A file compiled into the binary, served when no web root folder is given.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    path: &'static str,
    contents: &'static [u8],
}

impl Page {
    /// A page served at `path`.
    ///
    /// `path` is relative to the site root without a leading slash, e.g.
    /// `"index.html"` or `"js/app.js"`. Request paths are matched exactly
    /// (case-sensitively) against it after normalization, so a page whose
    /// path has a segment starting with `.` can never be requested.
    pub const fn new(path: &'static str, contents: &'static [u8]) -> Page {
        Page { path, contents }
    }

    /// The path relative to the site root, without a leading slash.
    pub const fn path(&self) -> &'static str {
        self.path
    }

    /// The bytes served for this page.
    pub const fn contents(&self) -> &'static [u8] {
        self.contents
    }
}

/// Where static files come from.
#[derive(Debug, Clone)]
pub(crate) struct StaticFiles {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// A folder on disk, by its canonical path.
    Dir { root: PathBuf },
    /// Pages compiled into the binary.
    Embedded {
        pages: &'static [Page],
        /// The ETag of `pages[i]` at index `i`.
        etags: Vec<Arc<str>>,
        /// Page path to index into `pages`; the first page wins on duplicates.
        by_path: HashMap<&'static str, usize>,
    },
}

/// The outcome of [`StaticFiles::lookup`].
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The target names a servable file.
    Found(File),
    /// Nothing to serve at that target (including every rejected traversal).
    NotFound,
    /// Malformed target: bad percent-encoding, NUL byte, backslash, not
    /// starting with '/', etc. The text says which, for logs and error pages.
    BadRequest(&'static str),
}

/// A file ready to be sent.
#[derive(Debug)]
pub(crate) struct File {
    /// The `Content-Type` header value.
    pub(crate) content_type: &'static str,
    /// Strong validator, already quoted, e.g. "\"5f2a-1c3\"".
    pub(crate) etag: Arc<str>,
    /// The number of bytes in `body`.
    pub(crate) len: u64,
    /// The contents.
    pub(crate) body: Body,
}

/// The contents of a [`File`].
#[derive(Debug)]
pub(crate) enum Body {
    /// A page compiled into the binary.
    Static(&'static [u8]),
    /// A file opened from the web root folder, positioned at its start.
    Disk(tokio::fs::File),
}

impl StaticFiles {
    /// Serve from a folder.
    ///
    /// The folder is canonicalized; it is an error (naming the path) if it is
    /// missing or not a directory.
    pub(crate) fn dir(root: &Path) -> io::Result<StaticFiles> {
        let named = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("web root folder {} cannot be used: {e}", root.display()),
            )
        };
        let canonical = std::fs::canonicalize(root).map_err(named)?;
        let meta = std::fs::metadata(&canonical).map_err(named)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("web root folder {} is not a directory", root.display()),
            ));
        }
        Ok(StaticFiles {
            source: Source::Dir { root: canonical },
        })
    }

    /// Serve pages compiled into the binary. Computes each page's ETag once here.
    pub(crate) fn embedded(pages: &'static [Page]) -> StaticFiles {
        let etags = pages
            .iter()
            .map(|page| Arc::from(embedded_etag(page.contents)))
            .collect();
        let mut by_path = HashMap::with_capacity(pages.len());
        for (i, page) in pages.iter().enumerate() {
            by_path.entry(page.path).or_insert(i);
        }
        StaticFiles {
            source: Source::Embedded {
                pages,
                etags,
                by_path,
            },
        }
    }

    /// Resolve a request target to a file.
    ///
    /// `target` is the raw request-target from the request line, e.g.
    /// `"/led.html?x=1"`, possibly percent-encoded. `/` and any path ending in
    /// `/` map to `index.html` in that folder; a folder named without the
    /// trailing slash is served through its `index.html` too.
    pub(crate) async fn lookup(&self, target: &str) -> Lookup {
        let request = match RequestPath::parse(target) {
            Ok(request) => request,
            Err(Rejected::BadRequest(reason)) => {
                debug!(target, reason, "bad static file request target");
                return Lookup::BadRequest(reason);
            }
            Err(Rejected::NotFound) => {
                debug!(target, "static file request target refused");
                return Lookup::NotFound;
            }
        };
        match &self.source {
            Source::Dir { root } => lookup_dir(root, &request).await,
            Source::Embedded {
                pages,
                etags,
                by_path,
            } => {
                let page = |key: &str| {
                    let &i = by_path.get(key)?;
                    let page = pages.get(i)?;
                    let etag = etags.get(i)?;
                    Some(Lookup::Found(File {
                        content_type: content_type(page.path),
                        etag: etag.clone(),
                        len: u64::try_from(page.contents.len()).unwrap_or(u64::MAX),
                        body: Body::Static(page.contents),
                    }))
                };
                let mut key = request.segments.join("/");
                if !request.dir
                    && let Some(found) = page(&key)
                {
                    return found;
                }
                if !key.is_empty() {
                    key.push('/');
                }
                key.push_str(INDEX);
                page(&key).unwrap_or(Lookup::NotFound)
            }
        }
    }
}

/// Why a request target was refused before looking at any file.
#[derive(Debug, PartialEq, Eq)]
enum Rejected {
    BadRequest(&'static str),
    NotFound,
}

/// A request path taken apart into safe segments.
#[derive(Debug, PartialEq, Eq)]
struct RequestPath {
    /// Non-empty segments, none of them `.`, `..` or otherwise starting with `.`,
    /// none containing `/`, `\` or NUL.
    segments: Vec<String>,
    /// The path names a folder (it ends in `/` or `/.`, or is the root).
    dir: bool,
}

impl RequestPath {
    fn parse(target: &str) -> Result<RequestPath, Rejected> {
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

async fn lookup_dir(root: &Path, request: &RequestPath) -> Lookup {
    let mut candidate = root.to_path_buf();
    for segment in &request.segments {
        // Segments are never empty and never contain '/', so this only descends.
        candidate.push(segment);
    }
    if request.dir {
        candidate.push(INDEX);
        return open_under(root, &candidate, content_type(INDEX)).await;
    }
    let name = request.segments.last().map_or(INDEX, String::as_str);
    match resolve(root, &candidate).await {
        Some((canonical, meta)) if meta.is_dir() => {
            open_under(root, &canonical.join(INDEX), content_type(INDEX)).await
        }
        Some((canonical, meta)) => open_resolved(&canonical, &meta, content_type(name)).await,
        None => Lookup::NotFound,
    }
}

async fn open_under(root: &Path, candidate: &Path, content_type: &'static str) -> Lookup {
    match resolve(root, candidate).await {
        Some((canonical, meta)) => open_resolved(&canonical, &meta, content_type).await,
        None => Lookup::NotFound,
    }
}

/// Canonicalize `candidate` and check that it is still under `root` without
/// passing through a hidden name. Returns the canonical path and its metadata.
async fn resolve(root: &Path, candidate: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
    let canonical = match tokio::fs::canonicalize(candidate).await {
        Ok(canonical) => canonical,
        Err(e) => {
            log_io_error(candidate, &e);
            return None;
        }
    };
    let Ok(relative) = canonical.strip_prefix(root) else {
        debug!(path = %candidate.display(), "static file resolves outside the web root");
        return None;
    };
    let hidden = relative.components().any(|component| match component {
        Component::Normal(name) => name.as_encoded_bytes().starts_with(b"."),
        _ => true,
    });
    if hidden {
        debug!(path = %candidate.display(), "static file resolves to a hidden name");
        return None;
    }
    match tokio::fs::metadata(&canonical).await {
        Ok(meta) => Some((canonical, meta)),
        Err(e) => {
            log_io_error(&canonical, &e);
            None
        }
    }
}

/// Open a canonical path known to be under the root, if it is a regular file.
async fn open_resolved(
    path: &Path,
    meta: &std::fs::Metadata,
    content_type: &'static str,
) -> Lookup {
    // Checked before opening so that opening never blocks on a FIFO or device.
    if !meta.is_file() {
        return Lookup::NotFound;
    }
    let file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) => {
            log_io_error(path, &e);
            return Lookup::NotFound;
        }
    };
    let opened = match file.metadata().await {
        Ok(opened) => opened,
        Err(e) => {
            log_io_error(path, &e);
            return Lookup::NotFound;
        }
    };
    // The path could have been swapped between the checks and the open.
    if !opened.is_file() || opened.dev() != meta.dev() || opened.ino() != meta.ino() {
        debug!(path = %path.display(), "static file changed while being opened");
        return Lookup::NotFound;
    }
    Lookup::Found(File {
        content_type,
        etag: disk_etag(&opened).into(),
        len: opened.len(),
        body: Body::Disk(file),
    })
}

fn log_io_error(path: &Path, e: &io::Error) {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {}
        _ => debug!(path = %path.display(), error = %e, "static file lookup failed"),
    }
}

/// `"<mtime nanos hex>-<size hex>-<inode hex>"`, quoted.
fn disk_etag(meta: &std::fs::Metadata) -> String {
    let mtime = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    format!("\"{mtime:x}-{:x}-{:x}\"", meta.size(), meta.ino())
}

/// `"<FNV-1a 64 hex>-<length hex>"`, quoted.
fn embedded_etag(contents: &[u8]) -> String {
    format!("\"{:016x}-{:x}\"", fnv1a64(contents), contents.len())
}

/// The 64-bit FNV-1a hash.
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

/// True if an If-None-Match header value matches `etag`.
///
/// Handles `*`, comma-separated lists, optional whitespace, and weak
/// `W/"..."` tags, using the weak comparison RFC 9110 requires for
/// If-None-Match. A value that is not a valid entity-tag list is ignored
/// (never matches), so the full response is sent.
pub(crate) fn etag_matches(if_none_match: &[u8], etag: &str) -> bool {
    let value = trim_ows(if_none_match);
    if value == b"*" {
        return true;
    }
    let Some(ours) = opaque_tag(etag.as_bytes()) else {
        return false;
    };
    let mut matched = false;
    let mut rest = value;
    loop {
        // Empty list elements are allowed: `, "a" ,, "b"`.
        while let [b' ' | b'\t' | b',', tail @ ..] = rest {
            rest = tail;
        }
        if rest.is_empty() {
            return matched;
        }
        let unweak = rest.strip_prefix(b"W/").unwrap_or(rest);
        let Some(quoted) = unweak.strip_prefix(b"\"") else {
            return false;
        };
        let Some(close) = quoted.iter().position(|&b| b == b'"') else {
            return false;
        };
        let (tag, after) = quoted.split_at(close);
        if !tag.iter().all(|&b| is_etagc(b)) {
            return false;
        }
        matched |= tag == ours;
        rest = trim_ows(after.get(1..).unwrap_or_default());
        if !matches!(rest, [] | [b',', ..]) {
            return false;
        }
    }
}

/// The opaque part of `W/"x"` or `"x"` (without quotes).
fn opaque_tag(etag: &[u8]) -> Option<&[u8]> {
    let etag = etag.strip_prefix(b"W/").unwrap_or(etag);
    let inner = etag.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    inner.iter().all(|&b| is_etagc(b)).then_some(inner)
}

/// `etagc = %x21 / %x23-7E / obs-text`
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', tail @ ..] = value {
        value = tail;
    }
    while let [head @ .., b' ' | b'\t'] = value {
        value = head;
    }
    value
}

/// Content type for a path by its extension (case-insensitive).
///
/// Text types carry `; charset=utf-8`; anything unknown is
/// `application/octet-stream`.
pub(crate) fn content_type(path: &str) -> &'static str {
    const TYPES: &[(&str, &str)] = &[
        ("html", "text/html; charset=utf-8"),
        ("htm", "text/html; charset=utf-8"),
        ("css", "text/css; charset=utf-8"),
        ("js", "text/javascript; charset=utf-8"),
        ("mjs", "text/javascript; charset=utf-8"),
        ("json", "application/json"),
        ("txt", "text/plain; charset=utf-8"),
        ("svg", "image/svg+xml"),
        ("png", "image/png"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("ico", "image/x-icon"),
        ("webp", "image/webp"),
        ("wasm", "application/wasm"),
        ("woff", "font/woff"),
        ("woff2", "font/woff2"),
        ("map", "application/json"),
        ("xml", "application/xml"),
        ("pdf", "application/pdf"),
        ("csv", "text/csv; charset=utf-8"),
        ("md", "text/markdown; charset=utf-8"),
    ];
    const UNKNOWN: &str = "application/octet-stream";
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((_, extension)) = name.rsplit_once('.') else {
        return UNKNOWN;
    };
    TYPES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(extension))
        .map_or(UNKNOWN, |&(_, content_type)| content_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::AsyncReadExt;

    const SECRET: &[u8] = b"TOP SECRET: must never be served";
    const INDEX_HTML: &[u8] = b"<h1>index</h1>";
    const LED_HTML: &[u8] = b"<h1>led</h1>";
    const SUB_INDEX_HTML: &[u8] = b"<h1>sub index</h1>";
    const HTML: &str = "text/html; charset=utf-8";

    /// A temporary tree, removed on drop:
    ///
    /// ```text
    /// base/secret.txt
    /// base/www/index.html, led.html, sub/index.html, .hidden, empty-dir/
    /// base/www/link-to-secret -> ../secret.txt
    /// base/www/abs-link-to-secret -> <base>/secret.txt
    /// base/www/parent-link -> ..
    /// base/www/link-to-hidden -> .hidden
    /// base/www/alias.html -> led.html
    /// ```
    struct Tree {
        base: PathBuf,
    }

    impl Tree {
        fn new(tag: &str) -> io::Result<Tree> {
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let base = std::env::temp_dir().join(format!(
                "pinsocket-static-{tag}-{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
            ));
            std::fs::create_dir(&base)?;
            let tree = Tree { base };
            let www = tree.www();
            std::fs::write(tree.base.join("secret.txt"), SECRET)?;
            std::fs::create_dir(&www)?;
            std::fs::create_dir(www.join("sub"))?;
            std::fs::create_dir(www.join("empty-dir"))?;
            std::fs::write(www.join("index.html"), INDEX_HTML)?;
            std::fs::write(www.join("led.html"), LED_HTML)?;
            std::fs::write(www.join("sub").join("index.html"), SUB_INDEX_HTML)?;
            std::fs::write(www.join(".hidden"), SECRET)?;
            std::os::unix::fs::symlink("../secret.txt", www.join("link-to-secret"))?;
            std::os::unix::fs::symlink(
                tree.base.join("secret.txt"),
                www.join("abs-link-to-secret"),
            )?;
            std::os::unix::fs::symlink("..", www.join("parent-link"))?;
            std::os::unix::fs::symlink(".hidden", www.join("link-to-hidden"))?;
            std::os::unix::fs::symlink("led.html", www.join("alias.html"))?;
            Ok(tree)
        }

        fn www(&self) -> PathBuf {
            self.base.join("www")
        }

        fn files(&self) -> io::Result<StaticFiles> {
            StaticFiles::dir(&self.www())
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            // Does not follow the symlinks inside.
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }

    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        Found {
            content_type: &'static str,
            body: Vec<u8>,
        },
        NotFound,
        BadRequest,
    }

    fn found(content_type: &'static str, body: &[u8]) -> Outcome {
        Outcome::Found {
            content_type,
            body: body.to_vec(),
        }
    }

    async fn read_body(file: File) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        match file.body {
            Body::Static(bytes) => body.extend_from_slice(bytes),
            Body::Disk(mut disk) => {
                disk.read_to_end(&mut body).await?;
            }
        }
        assert_eq!(u64::try_from(body.len()).ok(), Some(file.len));
        Ok(body)
    }

    async fn outcome(files: &StaticFiles, target: &str) -> io::Result<Outcome> {
        Ok(match files.lookup(target).await {
            Lookup::Found(file) => {
                assert!(file.etag.len() > 2, "{target}: etag {:?}", file.etag);
                assert!(file.etag.starts_with('"') && file.etag.ends_with('"'));
                Outcome::Found {
                    content_type: file.content_type,
                    body: read_body(file).await?,
                }
            }
            Lookup::NotFound => Outcome::NotFound,
            Lookup::BadRequest(reason) => {
                assert!(!reason.is_empty());
                Outcome::BadRequest
            }
        })
    }

    async fn check_all(files: &StaticFiles, cases: &[(&str, Outcome)]) -> io::Result<()> {
        let mut failures = Vec::new();
        for (target, expected) in cases {
            let got = outcome(files, target).await?;
            if let Outcome::Found { body, .. } = &got {
                assert_ne!(body.as_slice(), SECRET, "{target:?} leaked the secret");
            }
            if &got != expected {
                failures.push(format!("{target:?}: expected {expected:?}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        Ok(())
    }

    #[tokio::test]
    async fn serves_files_and_indexes() -> io::Result<()> {
        let tree = Tree::new("serve")?;
        let files = tree.files()?;
        check_all(
            &files,
            &[
                ("/", found(HTML, INDEX_HTML)),
                ("/?x=1", found(HTML, INDEX_HTML)),
                ("/index.html", found(HTML, INDEX_HTML)),
                ("/led.html", found(HTML, LED_HTML)),
                ("/led.html?x=1", found(HTML, LED_HTML)),
                ("/led.html#top", found(HTML, LED_HTML)),
                ("/led%2Ehtml", found(HTML, LED_HTML)),
                ("/./led.html", found(HTML, LED_HTML)),
                ("///led.html", found(HTML, LED_HTML)),
                ("/sub/", found(HTML, SUB_INDEX_HTML)),
                ("/sub", found(HTML, SUB_INDEX_HTML)),
                ("/sub/.", found(HTML, SUB_INDEX_HTML)),
                ("/sub?a=b", found(HTML, SUB_INDEX_HTML)),
                ("/sub/index.html", found(HTML, SUB_INDEX_HTML)),
                ("/alias.html", found(HTML, LED_HTML)),
                ("/missing.html", Outcome::NotFound),
                ("/sub/missing.html", Outcome::NotFound),
                ("/led.html/", Outcome::NotFound),
                ("/led.html/x", Outcome::NotFound),
                ("/empty-dir", Outcome::NotFound),
                ("/empty-dir/", Outcome::NotFound),
                ("/LED.HTML", Outcome::NotFound),
                ("/.hidden", Outcome::NotFound),
                ("/%2ehidden", Outcome::NotFound),
                ("/link-to-hidden", Outcome::NotFound),
            ],
        )
        .await
    }

    #[tokio::test]
    async fn traversal_never_escapes_the_root() -> io::Result<()> {
        let tree = Tree::new("traversal")?;
        let files = tree.files()?;
        let long = format!("/{}", "a".repeat(10_000));
        check_all(
            &files,
            &[
                ("/secret.txt", Outcome::NotFound),
                ("/../secret.txt", Outcome::NotFound),
                ("/..%2fsecret.txt", Outcome::NotFound),
                ("/..%2Fsecret.txt", Outcome::NotFound),
                ("/%2e%2e/secret.txt", Outcome::NotFound),
                ("/%2E%2E/secret.txt", Outcome::NotFound),
                ("/%2e%2e%2fsecret.txt", Outcome::NotFound),
                ("/....//secret.txt", Outcome::NotFound),
                ("/..../secret.txt", Outcome::NotFound),
                ("/.%2e/secret.txt", Outcome::NotFound),
                ("/sub/../../secret.txt", Outcome::NotFound),
                ("/sub/../led.html", Outcome::NotFound),
                ("/sub/%2e%2e/%2e%2e/secret.txt", Outcome::NotFound),
                ("\\..\\secret.txt", Outcome::BadRequest),
                ("/..\\secret.txt", Outcome::BadRequest),
                ("/%5c..%5csecret.txt", Outcome::BadRequest),
                ("/%5C..%5Csecret.txt", Outcome::BadRequest),
                ("/%2e%2e%5csecret.txt", Outcome::BadRequest),
                ("/led.html%00.txt", Outcome::BadRequest),
                ("/led.html\0.txt", Outcome::BadRequest),
                ("/\0", Outcome::BadRequest),
                ("/link-to-secret", Outcome::NotFound),
                ("/abs-link-to-secret", Outcome::NotFound),
                ("/parent-link/secret.txt", Outcome::NotFound),
                ("/parent-link/", Outcome::NotFound),
                ("/parent-link/www/../secret.txt", Outcome::NotFound),
                ("//etc/passwd", Outcome::NotFound),
                ("/%2fetc%2fpasswd", Outcome::NotFound),
                ("/%252e%252e/secret.txt", Outcome::NotFound),
                ("/%252e%252e%252fsecret.txt", Outcome::NotFound),
                (long.as_str(), Outcome::NotFound),
            ],
        )
        .await
    }

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

    #[tokio::test]
    async fn etag_changes_with_contents() -> io::Result<()> {
        let tree = Tree::new("etag")?;
        let files = tree.files()?;
        let path = tree.www().join("data.txt");
        std::fs::write(&path, b"short")?;

        let first = match files.lookup("/data.txt").await {
            Lookup::Found(file) => file,
            other => panic!("expected the file, got {other:?}"),
        };
        assert_eq!(first.len, 5);
        assert_eq!(first.content_type, "text/plain; charset=utf-8");
        let meta = std::fs::metadata(&path)?;
        let size_and_inode = format!("-{:x}-{:x}\"", meta.size(), meta.ino());
        assert!(first.etag.starts_with('"'), "{}", first.etag);
        assert!(first.etag.ends_with(&size_and_inode), "{}", first.etag);
        let first_etag = first.etag.clone();
        assert_eq!(read_body(first).await?, b"short");

        let again = match files.lookup("/data.txt?again").await {
            Lookup::Found(file) => file,
            other => panic!("expected the file, got {other:?}"),
        };
        assert_eq!(again.etag, first_etag);

        std::fs::write(&path, b"a much longer body than before")?;
        let changed = match files.lookup("/data.txt").await {
            Lookup::Found(file) => file,
            other => panic!("expected the file, got {other:?}"),
        };
        assert_ne!(changed.etag, first_etag);
        assert_eq!(changed.len, 30);
        assert_eq!(read_body(changed).await?, b"a much longer body than before");
        Ok(())
    }

    #[test]
    fn dir_errors_name_the_path() -> io::Result<()> {
        let tree = Tree::new("dir-errors")?;
        let missing = tree.base.join("no-such-folder");
        let Err(e) = StaticFiles::dir(&missing) else {
            panic!("a missing folder was accepted");
        };
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("no-such-folder"), "{e}");

        let file = tree.base.join("secret.txt");
        let Err(e) = StaticFiles::dir(&file) else {
            panic!("a file was accepted as a folder");
        };
        assert_eq!(e.kind(), io::ErrorKind::NotADirectory);
        assert!(e.to_string().contains("secret.txt"), "{e}");

        assert!(StaticFiles::dir(&tree.www()).is_ok());
        // A symlinked root is canonicalized and works like the real folder.
        let link = tree.base.join("www-link");
        std::os::unix::fs::symlink(tree.www(), &link)?;
        assert!(StaticFiles::dir(&link).is_ok());
        Ok(())
    }

    #[tokio::test]
    async fn symlinked_root_serves_only_its_target() -> io::Result<()> {
        let tree = Tree::new("root-link")?;
        let link = tree.base.join("www-link");
        std::os::unix::fs::symlink(tree.www(), &link)?;
        let files = StaticFiles::dir(&link)?;
        check_all(
            &files,
            &[
                ("/led.html", found(HTML, LED_HTML)),
                ("/link-to-secret", Outcome::NotFound),
                ("/parent-link/secret.txt", Outcome::NotFound),
            ],
        )
        .await
    }

    static PAGES: &[Page] = &[
        Page::new("index.html", b"<h1>home</h1>"),
        Page::new("led.html", b"<h1>led</h1>"),
        Page::new("js/app.js", b"console.log(1);"),
        Page::new("sub/index.html", b"<h1>sub</h1>"),
        Page::new("copy.html", b"<h1>led</h1>"),
        Page::new(".hidden", b"secret"),
        Page::new("led.html", b"duplicate, never served"),
    ];

    #[tokio::test]
    async fn embedded_lookups() -> io::Result<()> {
        let files = StaticFiles::embedded(PAGES);
        let js = "text/javascript; charset=utf-8";
        check_all(
            &files,
            &[
                ("/", found(HTML, b"<h1>home</h1>")),
                ("/index.html", found(HTML, b"<h1>home</h1>")),
                ("/led.html?x=1", found(HTML, b"<h1>led</h1>")),
                ("/led%2ehtml", found(HTML, b"<h1>led</h1>")),
                ("//led.html", found(HTML, b"<h1>led</h1>")),
                ("/js/app.js?v=2", found(js, b"console.log(1);")),
                ("/js%2fapp.js", found(js, b"console.log(1);")),
                ("/sub", found(HTML, b"<h1>sub</h1>")),
                ("/sub/", found(HTML, b"<h1>sub</h1>")),
                ("/js/", Outcome::NotFound),
                ("/JS/app.js", Outcome::NotFound),
                ("/missing.html", Outcome::NotFound),
                ("/js/../led.html", Outcome::NotFound),
                ("/../led.html", Outcome::NotFound),
                ("/.hidden", Outcome::NotFound),
                ("/led.html/", Outcome::NotFound),
                ("/%zz", Outcome::BadRequest),
                ("/led.html%00", Outcome::BadRequest),
                ("/..\\led.html", Outcome::BadRequest),
                ("led.html", Outcome::BadRequest),
            ],
        )
        .await?;

        let etag_of = |found: Lookup| match found {
            Lookup::Found(file) => file.etag,
            other => panic!("expected a page, got {other:?}"),
        };
        let led = etag_of(files.lookup("/led.html").await);
        assert_eq!(*led, *embedded_etag(b"<h1>led</h1>"));
        assert_eq!(*led, *format!("\"{:016x}-c\"", fnv1a64(b"<h1>led</h1>")));
        // Same contents, same tag; different contents, different tag.
        assert_eq!(etag_of(files.lookup("/copy.html").await), led);
        assert_ne!(etag_of(files.lookup("/").await), led);
        Ok(())
    }

    #[test]
    fn page_accessors() {
        let page = Page::new("js/app.js", b"x");
        assert_eq!(page.path(), "js/app.js");
        assert_eq!(page.contents(), b"x");
    }

    #[test]
    fn fnv1a64_known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(embedded_etag(b""), "\"cbf29ce484222325-0\"");
    }

    #[test]
    fn etag_matching() {
        let etag = "\"5f2a-1c3\"";
        let cases: &[(&[u8], bool)] = &[
            // Exact.
            (b"\"5f2a-1c3\"", true),
            (b"  \"5f2a-1c3\"\t", true),
            (b"\"5f2a-1c4\"", false),
            (b"\"5F2A-1C3\"", false),
            // Lists.
            (b"\"a\", \"5f2a-1c3\"", true),
            (b"\"a\",\"5f2a-1c3\",\"b\"", true),
            (b"\"a\" ,\t\"5f2a-1c3\"", true),
            (b", ,\"5f2a-1c3\",,", true),
            (b"\"a\", \"b\"", false),
            (b"\"5f2a\", \"1c3\"", false),
            // Any.
            (b"*", true),
            (b" * ", true),
            // Weak comparison.
            (b"W/\"5f2a-1c3\"", true),
            (b"\"x\", W/\"5f2a-1c3\"", true),
            (b"W/\"5f2a-1c4\"", false),
            // Garbage is ignored.
            (b"", false),
            (b"   ", false),
            (b"5f2a-1c3", false),
            (b"w/\"5f2a-1c3\"", false),
            (b"\"5f2a-1c3", false),
            (b"\"5f2a-1c3\" junk", false),
            (b"\"5f2a-1c3\", junk", false),
            (b"*, \"5f2a-1c3\"", false),
            (b"\"5f2a 1c3\"", false),
            (b"\xff\xfe", false),
            (b"W/", false),
            (b"\"\"", false),
        ];
        for &(header, expected) in cases {
            assert_eq!(
                etag_matches(header, etag),
                expected,
                "{:?}",
                String::from_utf8_lossy(header)
            );
        }
        // Our own tag being weak is compared weakly too; commas may sit inside a tag.
        assert!(etag_matches(b"\"abc\"", "W/\"abc\""));
        assert!(etag_matches(b"\"a,b\"", "\"a,b\""));
        assert!(!etag_matches(b"\"a\", \"b\"", "\"a,b\""));
        assert!(etag_matches(b"\"\"", "\"\""));
        assert!(!etag_matches(b"\"abc\"", "abc"));
        assert!(etag_matches(b"*", "abc"));
    }

    #[test]
    fn content_types() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("/a/b/PAGE.HTML", "text/html; charset=utf-8"),
            ("old.htm", "text/html; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("mod.mjs", "text/javascript; charset=utf-8"),
            ("data.json", "application/json"),
            ("notes.txt", "text/plain; charset=utf-8"),
            ("logo.svg", "image/svg+xml"),
            ("a.png", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.JPEG", "image/jpeg"),
            ("a.gif", "image/gif"),
            ("favicon.ico", "image/x-icon"),
            ("a.webp", "image/webp"),
            ("app.wasm", "application/wasm"),
            ("f.woff", "font/woff"),
            ("f.woff2", "font/woff2"),
            ("app.js.map", "application/json"),
            ("feed.xml", "application/xml"),
            ("doc.pdf", "application/pdf"),
            ("table.csv", "text/csv; charset=utf-8"),
            ("README.md", "text/markdown; charset=utf-8"),
            ("noext", "application/octet-stream"),
            ("archive.tar.gz", "application/octet-stream"),
            ("trailing.", "application/octet-stream"),
            ("dir.html/file", "application/octet-stream"),
            ("", "application/octet-stream"),
        ];
        for (path, expected) in cases {
            assert_eq!(content_type(path), expected, "{path:?}");
        }
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
