//! Files from a web root folder, resolved so that nothing outside the folder,
//! and nothing hidden inside it, is ever opened.
//!
//! The segments of a request path are joined under the canonical root, the
//! result is canonicalized again (following symlinks) and must still lie
//! under the root, must not pass through a hidden name, and must be a regular
//! file; a folder is served through its `index.html`.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use tracing::debug;

use super::etag::disk_etag;
use super::mime::content_type;
use super::path::RequestPath;
use super::{Body, File, INDEX, Lookup};

/// A web root folder, by its canonical path.
#[derive(Debug, Clone)]
pub(super) struct Dir {
    root: PathBuf,
}

impl Dir {
    /// The folder at `root`, canonicalized; an error (naming the path) if it
    /// is missing or not a directory.
    pub(super) fn new(root: &Path) -> io::Result<Dir> {
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
        Ok(Dir { root: canonical })
    }

    /// The file `request` names under the root, or the `index.html` of the
    /// folder it names.
    pub(super) async fn lookup(&self, request: &RequestPath) -> Lookup {
        let root = &self.root;
        let mut candidate = root.clone();
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
}

/// Resolve `candidate` under `root` and open it, if it is a regular file.
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

/// Logs a failed lookup, unless it failed only because nothing is there.
fn log_io_error(path: &Path, e: &io::Error) {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {}
        _ => debug!(path = %path.display(), error = %e, "static file lookup failed"),
    }
}

#[cfg(test)]
mod tests {
    use crate::static_files::StaticFiles;
    use crate::static_files::test_support::{
        HTML, INDEX_HTML, LED_HTML, Outcome, SUB_INDEX_HTML, Tree, check_all, found,
    };
    use std::io;

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
}
