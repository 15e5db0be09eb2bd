//! Replays the committed fuzz inputs through the same checks the fuzz
//! targets run (`tests/fuzz_checks/`), on stable Rust: the hand-written seeds
//! (`fuzz/seeds/<target>/`) and the minimised corpus the fuzzers grew from
//! them (`fuzz/corpus/<target>/`).
//!
//! Fuzzing itself runs outside CI (`cargo +nightly fuzz run <target>` in
//! `fuzz/`); what it found and kept stays checked here. A missing or empty
//! directory fails the test, so it cannot silently check nothing.
#![allow(clippy::unwrap_used)]

mod fuzz_checks;

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The files of `fuzz/<kind>/<target>/`, which must exist and not be empty.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    files
}

fn replay(target: &str) {
    let (_, check) = fuzz_checks::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap();
    let mut files = inputs("seeds", target);
    files.extend(inputs("corpus", target));
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        if panic::catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {target} fuzz inputs fail: {failed:#?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn request_head_corpus() {
    replay("request_head");
}

#[test]
fn receiver_corpus() {
    replay("receiver");
}

#[test]
fn command_corpus() {
    replay("command");
}

#[test]
fn every_target_has_a_test() {
    let names: Vec<&str> = fuzz_checks::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["request_head", "receiver", "command"]);
}
