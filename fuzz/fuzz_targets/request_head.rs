//! Fuzz target `request_head`: `parse_request`, the header helpers and `validate_upgrade` on arbitrary bytes.
//!
//! The checks live in `crates/pinsocket-core/tests/fuzz_checks/`, shared with
//! the corpus replay test that CI runs on stable Rust.
#![no_main]

#[path = "../../crates/pinsocket-core/tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_request_head(data));
