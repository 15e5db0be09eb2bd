//! The checks the fuzz targets run, shared with the corpus replay test.
//!
//! Each `check_*` function takes the raw bytes a fuzzer hands over, decodes
//! them into its input (partly with `arbitrary`), runs the code under test and
//! panics if an invariant breaks. The fuzz targets in `fuzz/fuzz_targets/`
//! include this module with `#[path]`, and `tests/corpus_replay.rs` runs the
//! same functions on every file of the committed corpus with stable Rust, so
//! what the fuzzers found stays checked in CI.
//!
//! Not every helper is used by every includer.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

mod command;
mod http;
mod receiver;

pub(crate) use command::check_command;
pub(crate) use http::check_request_head;
pub(crate) use receiver::{Msg, Outcome, check_receiver, check_utf8, feed};

/// A fuzz target's check: panics on a broken invariant.
pub(crate) type Check = fn(&[u8]);

/// The fuzz targets, by corpus directory name, with their check.
pub(crate) const TARGETS: [(&str, Check); 3] = [
    ("request_head", check_request_head),
    ("receiver", check_receiver),
    ("command", check_command),
];

/// Turns 16-bit split points into sorted, distinct positions in `0..=len`.
pub(crate) fn cut_points(raw: &[u16], len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = raw.iter().map(|&c| usize::from(c) % (len + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Up to `n` prefix lengths below `len` worth checking: all of them for short
/// inputs, else an even spread plus the last few.
pub(crate) fn sample_prefixes(len: usize, n: usize) -> Vec<usize> {
    if len <= n {
        return (0..len).collect();
    }
    let mut out: Vec<usize> = (0..n).map(|i| i * len / n).collect();
    out.extend(len.saturating_sub(4)..len);
    out.sort_unstable();
    out.dedup();
    out
}
