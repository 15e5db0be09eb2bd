//! Fuzz target `receiver`: `Receiver::decode` on raw and generated frame streams, fed in arbitrary pieces.
//!
//! The checks live in `crates/pinsocket-core/tests/fuzz_checks/`, shared with
//! the corpus replay test that CI runs on stable Rust.
#![no_main]

#[path = "../../crates/pinsocket-core/tests/fuzz_checks/mod.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_receiver(data));
