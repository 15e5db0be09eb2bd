//! Unit tests of the command language, through [`parse_command`] and
//! [`plain_switch`]: every part of the module is reached from there.

use super::parse_command as parse;
use super::*;

#[test]
fn json_commands() {
    let Command::Set(set) = parse(r#"{"set":{"led":true}}"#).unwrap() else {
        panic!("not a set")
    };
    assert_eq!(set.as_slice(), [("led", true)]);
    assert_eq!(parse(r#" {"toggle":"led"} "#), Ok(Command::Toggle("led")));
    assert_eq!(parse(r#"{"ping":42}"#), Ok(Command::Ping(42.0)));
    assert_eq!(parse(r#"{"ping":-1.5e3}"#), Ok(Command::Ping(-1500.0)));
}

#[test]
fn plain_text_is_plain() {
    assert_eq!(parse("LEDon"), Ok(Command::Plain("LEDon")));
    assert_eq!(
        parse("Hello world :)"),
        Ok(Command::Plain("Hello world :)"))
    );
    assert_eq!(parse(""), Ok(Command::Plain("")));
    assert_eq!(plain_switch("LEDOn"), Some(("LED", Level::High)));
    assert_eq!(plain_switch("ledoff"), Some(("led", Level::Low)));
    assert_eq!(plain_switch("On"), None);
    assert_eq!(plain_switch("Off"), None);
    assert_eq!(plain_switch("κόσμεOn"), Some(("κόσμε", Level::High)));
}

#[test]
fn errors_have_codes() {
    let cases = [
        (
            r#"{"set":{"led":"yes"}}"#,
            CommandError::WrongType,
            "wrong_type",
        ),
        (r#"{"ping":"x"}"#, CommandError::WrongType, "wrong_type"),
        (r#"{"ping":true}"#, CommandError::WrongType, "wrong_type"),
        (r#"{"toggle":5}"#, CommandError::WrongType, "wrong_type"),
        (r#"{"set":{"led":true}"#, CommandError::BadJson, "bad_json"),
        (r#"{"set" "#, CommandError::BadJson, "bad_json"),
        ("{", CommandError::BadJson, "bad_json"),
        (r#"{"jump":1}"#, CommandError::BadCommand, "bad_command"),
        (r#"{}"#, CommandError::BadCommand, "bad_command"),
        (
            r#"{"toggle":"led","ping":1}"#,
            CommandError::BadCommand,
            "bad_command",
        ),
        (
            r#"{"toggle":"le\u0064"}"#,
            CommandError::EscapedName,
            "escaped_name",
        ),
        (
            r#"{"set":{"led":true,"f\"":false}}"#,
            CommandError::EscapedName,
            "escaped_name",
        ),
        (r#"{"toggle":"le\x64"}"#, CommandError::BadJson, "bad_json"),
        (
            r#"{"toggle":"led","ping":null}"#,
            CommandError::BadCommand,
            "bad_command",
        ),
        (r#"{"toggle":null}"#, CommandError::WrongType, "wrong_type"),
        (r#"{"set":null}"#, CommandError::WrongType, "wrong_type"),
        (r#"{"toggle":"\udfff"}"#, CommandError::BadJson, "bad_json"),
        (r#"{"toggle":"\ud83d"}"#, CommandError::BadJson, "bad_json"),
        (r#"{"toggle":"\ud83dx"}"#, CommandError::BadJson, "bad_json"),
        (
            r#"{"toggle":"\ud83d\ude00"}"#,
            CommandError::EscapedName,
            "escaped_name",
        ),
        (
            r#"{"set":{"f\/":true,"g\p":true}}"#,
            CommandError::BadJson,
            "bad_json",
        ),
        (r#"{"toggle":"le\u006"}"#, CommandError::BadJson, "bad_json"),
    ];
    for (msg, err, code) in cases {
        assert_eq!(parse(msg), Err(err), "{msg}");
        assert_eq!(err.code(), code);
    }
    let mut big = [b' '; MAX_JSON_LEN + 1];
    big[0] = b'{';
    let big = core::str::from_utf8(&big).unwrap();
    assert_eq!(parse(big), Err(CommandError::TooLarge));
}

/// `{"<key>":{"p0":true,...}}` naming `n` pins, then `tail` before the
/// closing braces.
fn many_pins(key: &str, n: usize, tail: &str) -> std::string::String {
    extern crate std;
    let mut msg = std::format!("{{\"{key}\":{{");
    for i in 0..n {
        if i > 0 {
            msg.push(',');
        }
        msg.push_str(&std::format!("\"p{i}\":true"));
    }
    msg.push_str(tail);
    msg.push_str("}}");
    msg
}

extern crate std;

#[test]
fn set_with_too_many_pins_is_refused() {
    for key in ["set", "simulate"] {
        let msg = many_pins(key, MAX_SET + 1, "");
        assert_eq!(parse(&msg), Err(CommandError::TooManyPins), "{msg}");
        // Exactly the most is fine.
        let msg = many_pins(key, MAX_SET, "");
        let list = match parse(&msg) {
            Ok(Command::Set(list) | Command::Simulate(list)) => list,
            other => panic!("{other:?}"),
        };
        assert_eq!(list.as_slice().len(), MAX_SET);
        assert_eq!(list.as_slice()[MAX_SET - 1], ("p15", true));
    }
    let err = CommandError::TooManyPins;
    assert_eq!(err.code(), "too_many_pins");
    assert_eq!(std::format!("{err}"), "at most 16 pins per set or simulate");
    // The pins past the sixteenth are still read: bad JSON or a wrong
    // type there is reported as such.
    assert_eq!(
        parse(&many_pins("set", MAX_SET + 1, r#","x":tru"#)),
        Err(CommandError::BadJson)
    );
    assert_eq!(
        parse(&many_pins("set", MAX_SET + 1, r#","x":"up""#)),
        Err(CommandError::WrongType)
    );
    assert_eq!(
        parse(&many_pins("set", MAX_SET + 1, r#","x\q":true"#)),
        Err(CommandError::BadJson)
    );
    // Too many outranks an escaped name.
    assert_eq!(
        parse(&many_pins("set", MAX_SET + 1, r#","x\n":true"#)),
        Err(CommandError::TooManyPins)
    );
}

fn set_list(msg: &str) -> std::vec::Vec<(&str, bool)> {
    match parse(msg) {
        Ok(Command::Set(list)) => list.as_slice().to_vec(),
        other => panic!("{msg}: {other:?}"),
    }
}

#[test]
fn set_takes_high_and_low_strings() {
    assert_eq!(set_list(r#"{"set":{"led":"high"}}"#), [("led", true)]);
    assert_eq!(
        set_list(r#"{"set":{"led":"low","fan":true,"x":"high","y":false}}"#),
        [("led", false), ("fan", true), ("x", true), ("y", false)]
    );
    assert_eq!(
        set_list(r#"{ "set" : { "led" : "high" , "fan" :  "low" } }"#),
        [("led", true), ("fan", false)]
    );
    // A level string is read as JSON reads it, escapes included.
    assert_eq!(set_list(r#"{"set":{"led":"hig\u0068"}}"#), [("led", true)]);
    assert_eq!(set_list(r#"{"set":{"led":"\u006Cow"}}"#), [("led", false)]);
    // Exactly "high" and "low", lowercase: nothing else.
    for level in [
        r#""HIGH""#,
        r#""High""#,
        r#""LOW""#,
        r#""on""#,
        r#""off""#,
        r#""true""#,
        r#""1""#,
        r#""""#,
        r#"" high""#,
        r#""high ""#,
        r#""highh""#,
        r#""\u0048IGH""#,
        r#""hi\nh""#,
        "1",
        "null",
        "[]",
        "{}",
    ] {
        let msg = std::format!(r#"{{"set":{{"led":{level}}}}}"#);
        assert_eq!(parse(&msg), Err(CommandError::WrongType), "{msg}");
    }
    // A level string with an invalid escape is not JSON.
    for level in [r#""hig\h""#, r#""\u00""#, r#""\ud800""#] {
        let msg = std::format!(r#"{{"set":{{"led":{level}}}}}"#);
        assert_eq!(parse(&msg), Err(CommandError::BadJson), "{msg}");
    }
    assert_eq!(parse(r#"{"set":{"led":"high""#), Err(CommandError::BadJson));
}

#[test]
fn simulate_is_parsed_like_set() {
    match parse(r#"{"simulate":{"button":true,"door":"low","b2":"high"}}"#) {
        Ok(Command::Simulate(list)) => assert_eq!(
            list.as_slice(),
            [("button", true), ("door", false), ("b2", true)]
        ),
        other => panic!("{other:?}"),
    }
    match parse(r#"{"simulate":{}}"#) {
        Ok(Command::Simulate(list)) => assert_eq!(list.as_slice(), []),
        other => panic!("{other:?}"),
    }
    let cases = [
        (r#"{"simulate":null}"#, CommandError::WrongType),
        (r#"{"simulate":"button"}"#, CommandError::WrongType),
        (r#"{"simulate":{"button":1}}"#, CommandError::WrongType),
        (r#"{"simulate":{"button":"on"}}"#, CommandError::WrongType),
        (
            r#"{"simulate":{"butto\u006e":true}}"#,
            CommandError::EscapedName,
        ),
        (r#"{"simulate":{"butto\x":true}}"#, CommandError::BadJson),
        (
            r#"{"simulate":{"button":true},"set":{"led":true}}"#,
            CommandError::BadCommand,
        ),
        (
            r#"{"simulate":{"button":true},"simulate":{"button":false}}"#,
            CommandError::BadCommand,
        ),
        (r#"{"Simulate":{"button":true}}"#, CommandError::BadCommand),
    ];
    for (msg, err) in cases {
        assert_eq!(parse(msg), Err(err), "{msg}");
    }
    assert_eq!(CommandError::NotAnInput.code(), "not_an_input");
    assert_eq!(CommandError::NotSimulated.code(), "not_simulated");
    assert_eq!(
        std::format!("{}", CommandError::NotSimulated),
        "this device drives real hardware; inputs cannot be simulated"
    );
    assert_eq!(
        std::format!("{}", CommandError::BadCommand),
        r#"expected exactly one of "set", "toggle", "ping" or "simulate""#
    );
}

#[test]
fn json_keys_are_case_sensitive() {
    for msg in [
        r#"{"Set":{"led":true}}"#,
        r#"{"SET":{"led":true}}"#,
        r#"{"Toggle":"led"}"#,
        r#"{"PING":1}"#,
    ] {
        assert_eq!(parse(msg), Err(CommandError::BadCommand), "{msg}");
    }
    // Names are taken as written; the board decides whether they exist.
    assert_eq!(set_list(r#"{"set":{"LED":true}}"#), [("LED", true)]);
}

/// A pin named twice in one `set` would drive its line twice, a pulse the
/// client never meant: the whole command is refused instead.
#[test]
fn a_pin_named_twice_is_refused() {
    for msg in [
        r#"{"set":{"led":true,"led":false}}"#,
        r#"{"set":{"led":true,"led":true}}"#,
        r#"{"set":{"led":"high","fan":false,"led":"low"}}"#,
        r#"{ "set" : { "a":true, "b":true, "c":true, "b" : false } }"#,
        r#"{"simulate":{"button":true,"button":false}}"#,
        r#"{"simulate":{"door":"low","button":true,"door":"high"}}"#,
    ] {
        assert_eq!(parse(msg), Err(CommandError::DuplicatePin), "{msg}");
    }
    // Sixteen names, the last a repeat of the first.
    let msg = many_pins("set", MAX_SET - 1, r#","p0":false"#);
    assert_eq!(parse(&msg), Err(CommandError::DuplicatePin), "{msg}");
    // Names differing only in case are different pins.
    assert_eq!(
        set_list(r#"{"set":{"led":true,"LED":false}}"#),
        [("led", true), ("LED", false)]
    );
    // Faults found while reading the list come first: bad JSON, a wrong
    // level, too many pins, an escaped name.
    let first = [
        (r#"{"set":{"led":true,"led":tru}}"#, CommandError::BadJson),
        (
            r#"{"set":{"led":true,"led":"up"}}"#,
            CommandError::WrongType,
        ),
        (
            r#"{"set":{"led":true,"le\u0064":false}}"#,
            CommandError::EscapedName,
        ),
        (
            r#"{"set":{"le\u0064":true,"le\u0064":false}}"#,
            CommandError::EscapedName,
        ),
    ];
    for (msg, err) in first {
        assert_eq!(parse(msg), Err(err), "{msg}");
    }
    assert_eq!(
        parse(&many_pins("set", MAX_SET + 1, r#","p0":true"#)),
        Err(CommandError::TooManyPins)
    );
    let err = CommandError::DuplicatePin;
    assert_eq!(err.code(), "duplicate_pin");
    assert_eq!(
        std::format!("{err}"),
        "a pin is named more than once; name each pin at most once per command"
    );
    assert_eq!(CommandError::RateLimited.code(), "rate_limited");
}
