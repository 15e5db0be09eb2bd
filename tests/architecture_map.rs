//! ARCHITECTURE.md is the map a newcomer walks by: every file or folder it
//! names must exist, every library and binary source file (`src/` of each
//! crate, and the binary's `src/`) must be named on it one by one (a
//! folder's `mod.rs` and `tests.rs` through the folder), and every other
//! source file (tests, examples, fuzz targets) must at least lie in a
//! folder it names.
//!
//! A path is any `code span` in the map that contains a `/` and only path
//! characters (`crates/pinsocket/src/lib.rs`, `tests/common/`). Paths are
//! relative to the repository root.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn map() -> String {
    fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md is readable")
}

/// The code spans of `text` that look like repository paths.
fn named_paths(text: &str) -> BTreeSet<String> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_-./*".contains(c);
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.contains('/') && !span.contains("//") && span.chars().all(is_path_char))
        .filter(|span| !span.starts_with('/') && !span.contains('*'))
        .map(str::to_owned)
        .collect()
}

/// Every `.rs` file under `dir`, relative to the root, skipping build output.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.strip_prefix(root()).unwrap_or(&path).to_path_buf());
        }
    }
}

#[test]
fn every_path_the_map_names_exists() {
    let named = named_paths(&map());
    assert!(
        named.len() > 40,
        "the map names only {} paths: {named:?}",
        named.len()
    );
    let missing: Vec<&String> = named.iter().filter(|p| !root().join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names paths that do not exist: {missing:?}"
    );
}

#[test]
fn every_source_file_is_on_the_map() {
    let named = named_paths(&map());
    let mut files = Vec::new();
    for dir in ["crates", "src", "examples", "tests", "fuzz"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    // Sources of the crates and the binary are named one by one; the rest
    // may be reached through a folder the map names.
    let on_map = |file: &Path| {
        let s = file.to_string_lossy();
        let folder_file = file
            .file_name()
            .is_some_and(|n| n == "mod.rs" || n == "tests.rs");
        let source = s.starts_with("src/") || (s.starts_with("crates/") && s.contains("/src/"));
        if source && !folder_file {
            return named.contains(s.as_ref());
        }
        if source {
            // A folder's `mod.rs` and its unit tests are reached through
            // the folder (or the `mod.rs` itself) being named.
            let dir = file.parent().map(|d| d.to_string_lossy().into_owned());
            let mod_rs = dir.as_ref().map(|d| format!("{d}/mod.rs"));
            return dir.is_some_and(|d| named.contains(&format!("{d}/")))
                || mod_rs.is_some_and(|m| named.contains(&m));
        }
        file.ancestors().any(|a| {
            let s = a.to_string_lossy();
            !s.is_empty() && (named.contains(s.as_ref()) || named.contains(&format!("{s}/")))
        })
    };
    let unmapped: Vec<String> = files
        .iter()
        .filter(|f| !on_map(f))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        unmapped.is_empty(),
        "source files ARCHITECTURE.md does not reach: {unmapped:?}"
    );
}

#[test]
fn path_spans_are_recognised() {
    let text = "see `crates/a/src/lib.rs`, `tests/common/`, `Server::run`, `a // b`, \
                `/etc/x`, `src/*.rs` and `{\"set\":1}`";
    let found: Vec<String> = named_paths(text).into_iter().collect();
    assert_eq!(found, ["crates/a/src/lib.rs", "tests/common/"]);
}
