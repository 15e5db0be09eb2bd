//! The pages compiled into the library: served when no web root is given.

use crate::static_files::Page;

/// The built-in pages: an index, the original's LED page and its echo test.
pub static PAGES: &[Page] = &[
    Page::new("index.html", include_bytes!("../../../web/index.html")),
    Page::new("led.html", include_bytes!("../../../web/led.html")),
    Page::new("wstest.html", include_bytes!("../../../web/wstest.html")),
];
