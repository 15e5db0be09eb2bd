//! A group's request in `gpiocdev` terms: every line active-high, outputs
//! at their initial value, inputs with bias, debounce and both edges; and
//! the board's levels and pulls as `gpiocdev` values.

use std::time::Duration;

use gpiocdev::Request;
use gpiocdev::line::{Bias, EdgeDetection, Value};
use pinsocket_core::{Level, Pin, Pull};

use super::group::{Group, Settings};

/// The consumer label the kernel shows for our lines (`gpioinfo`).
const CONSUMER: &str = "pinsocket";

/// The request for a group, made: the lines are held from here on.
pub(super) fn build_request<S: AsRef<str>>(
    g: &Group,
    pins: &[Pin<S>],
) -> gpiocdev::Result<Request> {
    let mut builder = Request::builder();
    // Set before any line is added, so in the base config every line
    // inherits: active-high whatever the pin says, as the device applies
    // active-low itself.
    builder
        .on_chip(&g.chip)
        .with_consumer(CONSUMER)
        .as_active_high();
    match g.settings {
        Settings::Output => {
            for l in &g.lines {
                let initial = pins.get(l.pin).map_or(Value::Inactive, initial_value);
                builder.with_line(l.offset).as_output(initial);
            }
        }
        Settings::Input { pull, debounce_ms } => {
            let offsets: Vec<u32> = g.lines.iter().map(|l| l.offset).collect();
            builder
                .with_lines(&offsets)
                .as_input()
                .with_bias(bias(pull))
                .with_edge_detection(EdgeDetection::BothEdges);
            if let Some(period) = debounce(debounce_ms) {
                builder.with_debounce_period(period);
            }
        }
    }
    builder.request()
}

/// The physical value an output starts at.
fn initial_value<S: AsRef<str>>(pin: &Pin<S>) -> Value {
    value(pin.physical(pin.initial()))
}

/// The line value for a physical level (lines are requested active-high,
/// so active is high).
pub(super) fn value(level: Level) -> Value {
    match level {
        Level::High => Value::Active,
        Level::Low => Value::Inactive,
    }
}

/// The physical level of a line value.
pub(super) fn level(value: Value) -> Level {
    match value {
        Value::Active => Level::High,
        Value::Inactive => Level::Low,
    }
}

/// The bias for a pull. No pull disables the bias, as the configuration
/// promises a floating line (chips that cannot bias ignore it).
fn bias(pull: Pull) -> Bias {
    match pull {
        Pull::None => Bias::Disabled,
        Pull::Up => Bias::PullUp,
        Pull::Down => Bias::PullDown,
    }
}

/// The debounce period for `debounce_ms`; none for 0.
fn debounce(ms: u32) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(u64::from(ms)))
}

#[cfg(test)]
mod tests {
    use super::super::test_pins::output;
    use super::*;

    #[test]
    fn initial_value_is_physical() {
        assert_eq!(
            initial_value(&output("a", 1, false, Level::Low)),
            Value::Inactive
        );
        assert_eq!(
            initial_value(&output("a", 1, false, Level::High)),
            Value::Active
        );
        assert_eq!(
            initial_value(&output("a", 1, true, Level::Low)),
            Value::Active
        );
        assert_eq!(
            initial_value(&output("a", 1, true, Level::High)),
            Value::Inactive
        );
    }

    #[test]
    fn levels_and_values_map_both_ways() {
        assert_eq!(value(Level::High), Value::Active);
        assert_eq!(value(Level::Low), Value::Inactive);
        assert_eq!(level(Value::Active), Level::High);
        assert_eq!(level(Value::Inactive), Level::Low);
    }

    #[test]
    fn pull_maps_to_bias_and_debounce_to_duration() {
        assert_eq!(bias(Pull::None), Bias::Disabled);
        assert_eq!(bias(Pull::Up), Bias::PullUp);
        assert_eq!(bias(Pull::Down), Bias::PullDown);
        assert_eq!(debounce(0), None);
        assert_eq!(debounce(1), Some(Duration::from_millis(1)));
        assert_eq!(debounce(25), Some(Duration::from_millis(25)));
        assert_eq!(
            debounce(u32::MAX),
            Some(Duration::from_millis(4_294_967_295))
        );
    }
}
