//! Durations in the configuration file: a number of seconds, whole or
//! not.

use serde::Deserialize;

/// A duration in seconds, written as a number (`3`, `0.25`). Not checked:
/// the parser refuses negative, zero and overlong values.
#[derive(Clone, Copy)]
pub(super) struct Seconds(pub(super) f64);

/// What a duration field expects, in the words of its error message.
pub(super) const SECONDS: &str = "a number of seconds, e.g. 3";

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Seconds, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Seconds;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(SECONDS)
            }
            fn visit_f64<E>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
        }
        d.deserialize_any(Visit)
    }
}
