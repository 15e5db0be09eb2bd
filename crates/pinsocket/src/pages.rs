//! The pages compiled into the library: served when no web root is given.

use crate::static_files::Page;

/// The built-in pages: an index (the device server's control page), the
/// original's LED page and its echo test, and `favicon.ico` (a lit LED, 16
/// and 32 pixels), which browsers ask for on every page.
pub static PAGES: &[Page] = &[
    Page::new("index.html", include_bytes!("../../../web/index.html")),
    Page::new("led.html", include_bytes!("../../../web/led.html")),
    Page::new("wstest.html", include_bytes!("../../../web/wstest.html")),
    Page::new("favicon.ico", include_bytes!("../../../web/favicon.ico")),
];
