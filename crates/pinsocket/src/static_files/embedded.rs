//! Pages compiled into the binary: [`Page`], and the lookup among them that
//! serves when no web root folder is given.

use std::collections::HashMap;
use std::sync::Arc;

use super::etag::embedded_etag;
use super::mime::content_type;
use super::path::RequestPath;
use super::{Body, File, INDEX, Lookup};

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

/// A set of compiled-in pages, indexed by path.
#[derive(Debug, Clone)]
pub(super) struct Embedded {
    pages: &'static [Page],
    /// The ETag of `pages[i]` at index `i`.
    etags: Vec<Arc<str>>,
    /// Page path to index into `pages`; the first page wins on duplicates.
    by_path: HashMap<&'static str, usize>,
}

impl Embedded {
    /// Indexes `pages`, computing each page's ETag once here.
    pub(super) fn new(pages: &'static [Page]) -> Embedded {
        let etags = pages
            .iter()
            .map(|page| Arc::from(embedded_etag(page.contents)))
            .collect();
        let mut by_path = HashMap::with_capacity(pages.len());
        for (i, page) in pages.iter().enumerate() {
            by_path.entry(page.path).or_insert(i);
        }
        Embedded {
            pages,
            etags,
            by_path,
        }
    }

    /// The page `request` names, or the `index.html` page of the folder it
    /// names.
    pub(super) fn lookup(&self, request: &RequestPath) -> Lookup {
        let page = |key: &str| {
            let &i = self.by_path.get(key)?;
            let page = self.pages.get(i)?;
            let etag = self.etags.get(i)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::static_files::StaticFiles;
    use crate::static_files::etag::fnv1a64;
    use crate::static_files::test_support::{HTML, Outcome, check_all, found};
    use std::io;

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
}
