//! Fuzz target `command`: `parse_command`, `resolve_command`, `resolve_simulate` and the JSON encoders on arbitrary text.
//!
//! The checks live in `crates/pinsocket-core/tests/fuzz_checks/`, shared with
//! the corpus replay test that CI runs on stable Rust.
#![no_main]

#[path = "../../crates/pinsocket-core/tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_command(data));
