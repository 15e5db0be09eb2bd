//! Entity tags: the validators given to files on disk and to compiled-in
//! pages, and matching them against an `If-None-Match` header.

use pinsocket_core::trim_ows;
use std::os::unix::fs::MetadataExt;

/// `"<mtime nanos hex>-<size hex>-<inode hex>"`, quoted.
pub(super) fn disk_etag(meta: &std::fs::Metadata) -> String {
    let mtime = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    format!("\"{mtime:x}-{:x}-{:x}\"", meta.size(), meta.ino())
}

/// `"<FNV-1a 64 hex>-<length hex>"`, quoted.
pub(super) fn embedded_etag(contents: &[u8]) -> String {
    format!("\"{:016x}-{:x}\"", fnv1a64(contents), contents.len())
}

/// The 64-bit FNV-1a hash.
pub(super) fn fnv1a64(bytes: &[u8]) -> u64 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::static_files::Lookup;
    use crate::static_files::test_support::{Tree, read_body};
    use std::io;

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
}
