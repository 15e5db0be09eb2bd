//! Static files: turning a request target into a file from a web root folder
//! or from pages compiled into the binary.
//!
//! The original MicroWebSrv joined the request path onto its root folder as a
//! string, which let `/....//` style targets climb out of it. Here a target is
//! taken apart into safe segments before anything touches the file system
//! ([`path`]), then looked up either under the canonical web root ([`disk`])
//! or among the compiled-in pages ([`embedded`]).
//!
//! # Layout
//! - [`path`]: request targets decoded and split into safe segments.
//! - [`disk`]: safe resolution of those segments under a web root folder.
//! - [`embedded`]: [`Page`] and the lookup among compiled-in pages.
//! - [`etag`]: entity tags for both sources, and `If-None-Match`.
//! - [`mime`]: the `Content-Type` for a file name.

mod disk;
mod embedded;
mod etag;
mod mime;
mod path;
#[cfg(test)]
mod test_support;

use std::io;
use std::path::Path;
use std::sync::Arc;

use tracing::debug;

use self::disk::Dir;
use self::embedded::Embedded;
pub use self::embedded::Page;
pub(crate) use self::etag::etag_matches;
use self::path::{Rejected, RequestPath};

/// The file served for `/` and for any path naming a folder.
const INDEX: &str = "index.html";

/// Where static files come from.
#[derive(Debug, Clone)]
pub(crate) struct StaticFiles {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// A folder on disk.
    Dir(Dir),
    /// Pages compiled into the binary.
    Embedded(Embedded),
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
        Ok(StaticFiles {
            source: Source::Dir(Dir::new(root)?),
        })
    }

    /// Serve pages compiled into the binary. Computes each page's ETag once here.
    pub(crate) fn embedded(pages: &'static [Page]) -> StaticFiles {
        StaticFiles {
            source: Source::Embedded(Embedded::new(pages)),
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
            Source::Dir(dir) => dir.lookup(&request).await,
            Source::Embedded(embedded) => embedded.lookup(&request),
        }
    }
}
