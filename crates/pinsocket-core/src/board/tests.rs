//! Unit tests of the board model: commands parsed and resolved against a
//! small board of two outputs and an input, and the active-low inversion.

extern crate std;
use super::*;
use crate::command::parse_command as parse;

fn resolve<S: AsRef<str>>(
    pins: &[Pin<S>],
    levels: &[Level],
    command: &Command<'_>,
) -> Result<Changes, CommandError> {
    resolve_command(pins, levels, command).map_err(|refusal| refusal.error)
}

// The fuzz checks' board, shared rather than copied: `led`, `fan`
// (active-low) and `button`.
#[path = "../../tests/fuzz_checks/board.rs"]
mod test_board;
use test_board::led_fan_button as board;

fn run(msg: &str, levels: &[Level]) -> Result<Changes, CommandError> {
    resolve(&board(), levels, &parse(msg)?)
}

const LOW3: [Level; 3] = [Level::Low; 3];

#[test]
fn json_set_and_toggle() {
    let c = run(r#"{"set":{"led":true,"fan":false}}"#, &LOW3).unwrap();
    assert_eq!(
        c.as_slice(),
        [
            Change {
                pin: 0,
                level: Level::High
            },
            Change {
                pin: 1,
                level: Level::Low
            }
        ]
    );
    let c = run(
        r#"{"toggle":"led"}"#,
        &[Level::High, Level::Low, Level::Low],
    )
    .unwrap();
    assert_eq!(
        c.as_slice(),
        [Change {
            pin: 0,
            level: Level::Low
        }]
    );
}

#[test]
fn plain_text_matches_outputs_case_insensitively() {
    for (msg, level) in [
        ("LEDOn", Level::High),
        ("LEDon", Level::High),
        ("ledOFF", Level::Low),
        ("FanOn", Level::High),
    ] {
        let c = run(msg, &LOW3).unwrap();
        assert_eq!(c.as_slice().len(), 1, "{msg}");
        assert_eq!(c.as_slice()[0].level, level, "{msg}");
    }
    assert_eq!(run("LEDon", &LOW3).unwrap().as_slice()[0].pin, 0);
    // Plain text naming no output changes nothing, and is no error.
    for msg in [
        "HELLO from button",
        "buttonOn",
        "On",
        "Hello world :)",
        "LED on",
    ] {
        assert_eq!(run(msg, &LOW3).unwrap().as_slice(), [], "{msg}");
    }
}

#[test]
fn plain_text_folds_ascii_case_only() {
    let pins = [
        Pin {
            name: "ä",
            line: 1,
            mode: Mode::Output(Output::default()),
        },
        Pin {
            name: "Lamp",
            line: 2,
            mode: Mode::Output(Output::default()),
        },
        Pin {
            name: "lamp",
            line: 3,
            mode: Mode::Output(Output::default()),
        },
    ];
    let run = |msg| resolve(&pins, &LOW3, &parse(msg).unwrap()).unwrap();
    assert_eq!(run("ÄOn").as_slice(), []);
    assert_eq!(
        run("äON").as_slice(),
        [Change {
            pin: 0,
            level: Level::High
        }]
    );
    // Names that differ only in case: the first in board order.
    assert_eq!(
        run("LAMPoff").as_slice(),
        [Change {
            pin: 1,
            level: Level::Low
        }]
    );
    // JSON names match exactly.
    assert_eq!(
        resolve(&pins, &LOW3, &parse(r#"{"toggle":"LAMP"}"#).unwrap()),
        Err(CommandError::UnknownPin)
    );
}

#[test]
fn bad_commands_change_nothing() {
    assert_eq!(
        run(r#"{"set":{"nope":true}}"#, &LOW3),
        Err(CommandError::UnknownPin)
    );
    assert_eq!(
        run(r#"{"set":{"button":true}}"#, &LOW3),
        Err(CommandError::NotAnOutput)
    );
    assert_eq!(
        run(r#"{"toggle":"button"}"#, &LOW3),
        Err(CommandError::NotAnOutput)
    );
    // One bad name refuses the whole set.
    assert_eq!(
        run(r#"{"set":{"led":true,"nope":true}}"#, &LOW3),
        Err(CommandError::UnknownPin)
    );
}

fn refusal(msg: &str) -> Refusal<'_> {
    let command = parse(msg).unwrap();
    let refusal = resolve_command(&board(), &LOW3, &command).unwrap_err();
    // The old entry point gives the same reason, without the name.
    assert_eq!(
        resolve(&board(), &LOW3, &command),
        Err(refusal.error),
        "{msg}"
    );
    refusal
}

#[test]
fn refusals_name_the_pin() {
    use CommandError::{NotAnOutput, UnknownPin};
    let cases = [
        (r#"{"toggle":"nope"}"#, Refusal::naming(UnknownPin, "nope")),
        (
            r#"{"set":{"nope":true}}"#,
            Refusal::naming(UnknownPin, "nope"),
        ),
        // The first bad name of a set, in the command's order.
        (
            r#"{"set":{"led":true,"nope":true,"nada":false}}"#,
            Refusal::naming(UnknownPin, "nope"),
        ),
        (
            r#"{"set":{"led":true,"button":true,"nope":false}}"#,
            Refusal::naming(NotAnOutput, "button"),
        ),
        (
            r#"{"toggle":"button"}"#,
            Refusal::naming(NotAnOutput, "button"),
        ),
        // Names are case-sensitive in JSON.
        (r#"{"toggle":"LED"}"#, Refusal::naming(UnknownPin, "LED")),
        // Anything the parser lets through is named as written.
        (
            "{\"toggle\":\"a\u{1}\n\"}",
            Refusal::naming(UnknownPin, "a\u{1}\n"),
        ),
        // A simulate is for resolve_simulate; resolve_command refuses it.
        (
            r#"{"simulate":{"button":true}}"#,
            Refusal::new(CommandError::NotSimulated),
        ),
    ];
    for (msg, want) in cases {
        assert_eq!(refusal(msg), want, "{msg}");
    }
    // Successes are the same as resolve's.
    let command = parse(r#"{"set":{"led":"high","fan":false}}"#).unwrap();
    assert_eq!(
        resolve_command(&board(), &LOW3, &command).map(|c| c.as_slice().to_vec()),
        Ok([
            Change {
                pin: 0,
                level: Level::High
            },
            Change {
                pin: 1,
                level: Level::Low
            }
        ]
        .to_vec())
    );
}

fn simulate(msg: &str) -> Result<Changes, Refusal<'_>> {
    match parse(msg) {
        Ok(Command::Simulate(list)) => resolve_simulate(&board(), &list),
        other => panic!("{msg}: {other:?}"),
    }
}

#[test]
fn simulate_changes_inputs_only() {
    let c = simulate(r#"{"simulate":{"button":"high"}}"#).unwrap();
    assert_eq!(
        c.as_slice(),
        [Change {
            pin: 2,
            level: Level::High
        }]
    );
    // An input named twice would be pressed and released at once: the
    // parser refuses it, so no board ever sees it.
    assert_eq!(
        parse(r#"{"simulate":{"button":true,"button":false}}"#),
        Err(CommandError::DuplicatePin)
    );
    assert_eq!(simulate(r#"{"simulate":{}}"#).unwrap().as_slice(), []);
    assert_eq!(
        simulate(r#"{"simulate":{"button":true,"led":true}}"#),
        Err(Refusal::naming(CommandError::NotAnInput, "led"))
    );
    assert_eq!(
        simulate(r#"{"simulate":{"button":true,"Button":true,"led":true}}"#),
        Err(Refusal::naming(CommandError::UnknownPin, "Button"))
    );
}

#[test]
fn physical_level_honours_active_low() {
    let b = board();
    assert_eq!(b[0].physical(Level::High), Level::High);
    assert_eq!(b[1].physical(Level::High), Level::Low);
}
