//! The `gpio-cdev` backend: Linux GPIO character devices (`/dev/gpiochipN`)
//! through the `gpiocdev` crate, on a Raspberry Pi or any board whose kernel
//! has them (uAPI v2, Linux 5.10 or later).
//!
//! Every pin's line is requested when the backend opens and held until it
//! is dropped: outputs driven to their initial level, inputs with their
//! bias, debounce period and detection of both edges. A thread per input
//! request reports edges to the device.
//!
//! Levels are physical throughout: the device applies active-low itself
//! ([`Pin::physical`](pinsocket_core::Pin::physical)), so lines are
//! requested active-high and the kernel's active-low flag is never set, or
//! levels would be inverted twice.
//!
//! # Requests
//!
//! Lines are grouped by chip and settings: a chip's outputs share one
//! request, and its inputs with the same pull and debounce period share one
//! (on most boards, one request for all of a chip's inputs). Lines of a
//! request then share every flag, so the request needs no per-line
//! attributes and the uAPI's limit of 10 of them is never reached, whatever
//! the board; a group larger than the uAPI's 64 lines is split. One request
//! per pin would be simpler, but would need a thread per input, where this
//! needs one per chip on most boards.
//!
//! # Files
//!
//! - `backend`: [`GpioCdev`], opening every request and driving the lines.
//! - `group`: pins grouped into requests.
//! - `request`: a group's request in `gpiocdev` terms, and levels as line
//!   values.
//! - `validate`: chips and lines checked before they are requested, and
//!   the text of every error.
//! - `watch`: the threads that report input edges.

mod backend;
mod group;
mod request;
#[cfg(test)]
mod test_pins;
mod validate;
mod watch;

pub use backend::GpioCdev;
