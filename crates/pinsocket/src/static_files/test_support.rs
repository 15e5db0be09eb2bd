//! Test fixtures shared by the static file tests: a temporary web root with
//! traps around it, and a way to check many lookups at once.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::AsyncReadExt;

use super::{Body, File, Lookup, StaticFiles};

/// What must never be served: the contents of every file outside the root
/// and of every hidden file.
pub(super) const SECRET: &[u8] = b"TOP SECRET: must never be served";
pub(super) const INDEX_HTML: &[u8] = b"<h1>index</h1>";
pub(super) const LED_HTML: &[u8] = b"<h1>led</h1>";
pub(super) const SUB_INDEX_HTML: &[u8] = b"<h1>sub index</h1>";
pub(super) const HTML: &str = "text/html; charset=utf-8";

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
pub(super) struct Tree {
    pub(super) base: PathBuf,
}

impl Tree {
    pub(super) fn new(tag: &str) -> io::Result<Tree> {
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
        std::os::unix::fs::symlink(tree.base.join("secret.txt"), www.join("abs-link-to-secret"))?;
        std::os::unix::fs::symlink("..", www.join("parent-link"))?;
        std::os::unix::fs::symlink(".hidden", www.join("link-to-hidden"))?;
        std::os::unix::fs::symlink("led.html", www.join("alias.html"))?;
        Ok(tree)
    }

    pub(super) fn www(&self) -> PathBuf {
        self.base.join("www")
    }

    pub(super) fn files(&self) -> io::Result<StaticFiles> {
        StaticFiles::dir(&self.www())
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // Does not follow the symlinks inside.
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// A lookup's result reduced to what the tests compare.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Found {
        content_type: &'static str,
        body: Vec<u8>,
    },
    NotFound,
    BadRequest,
}

/// The expected outcome for a file served with these type and contents.
pub(super) fn found(content_type: &'static str, body: &[u8]) -> Outcome {
    Outcome::Found {
        content_type,
        body: body.to_vec(),
    }
}

/// Reads a found file's whole body, checking it against its length.
pub(super) async fn read_body(file: File) -> io::Result<Vec<u8>> {
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

/// Looks `target` up, checking the ETag's form on the way.
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

/// Looks up every target, never serving [`SECRET`], and fails listing
/// every target whose outcome differs from the expected one.
pub(super) async fn check_all(files: &StaticFiles, cases: &[(&str, Outcome)]) -> io::Result<()> {
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
