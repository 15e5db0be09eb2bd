//! Minimal reproductions of what fuzzing found in the protocol core (the
//! inputs are also kept in `fuzz/seeds/<target>/regression-*`). Fixed ones
//! run; ones awaiting a fix are `#[ignore]`d with the reason: run them with
//! `cargo test -p pinsocket-core --test regressions -- --include-ignored`.
#![allow(clippy::unwrap_used)]

use pinsocket_core::{
    Command, CommandError, EMPTY_HEADER, HeadLimits, HttpError, parse_command, parse_request,
};

/// `{"ping":1e309}` overflowed to infinity, which `encode_pong` then wrote
/// as `{"pong":inf}`, not JSON. Fixed: a number out of range is `wrong_type`.
#[test]
fn ping_out_of_f64_range_is_refused() {
    for msg in [r#"{"ping":1e309}"#, r#"{"ping":-1e309}"#] {
        assert_eq!(parse_command(msg), Err(CommandError::WrongType), "{msg}");
    }
    assert_eq!(parse_command(r#"{"ping":1e308}"#), Ok(Command::Ping(1e308)));
}

/// serde-json-core, called without an unescape buffer, hands strings with
/// escapes over raw: `"le\u0064"` named a pin `le\u0064`, not `led`. Fixed:
/// a pin name with an escape is refused with `escaped_name` (pin names are
/// letters, digits, `_` and `-`, so none needs one); it is never misread.
#[test]
fn escaped_json_strings_are_never_misread() {
    let toggles = [
        (r#"{"toggle":"le\u0064"}"#, "led"),
        (r#"{"toggle":"fan \"2\""}"#, "fan \"2\""),
        (r#"{"toggle":"a\\b"}"#, "a\\b"),
    ];
    for (msg, meant) in toggles {
        match parse_command(msg) {
            Ok(Command::Toggle(name)) => assert_eq!(name, meant, "{msg}"),
            Ok(other) => panic!("{msg} parsed as {other:?}"),
            Err(e) => assert_eq!(e, CommandError::EscapedName, "{msg}"),
        }
    }
    match parse_command(r#"{"set":{"le\u0064":true}}"#) {
        Ok(Command::Set(list)) => assert_eq!(list.as_slice(), [("led", true)]),
        Ok(other) => panic!("parsed as {other:?}"),
        Err(e) => assert_eq!(e, CommandError::EscapedName),
    }
}

/// While a head was incomplete, `parse_request` answered 414 once the request
/// line passed `max_uri_len + 32` bytes, counting the method: a request with
/// a long method and a target within the limit was refused when it arrived in
/// pieces, and accepted when it arrived whole. Fixed: only the target counts.
#[test]
fn long_method_is_judged_the_same_however_the_head_arrives() {
    let limits = HeadLimits::default();
    let mut head = vec![b'M'; 100];
    head.extend_from_slice(b" /");
    head.resize(head.len() + 1999, b'a');
    head.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
    let mut headers = [EMPTY_HEADER; 4];
    let whole = parse_request(&head, &mut headers, &limits);
    assert!(matches!(whole, Ok(Some((_, n))) if n == head.len()));
    for p in 0..head.len() {
        let mut headers = [EMPTY_HEADER; 4];
        let part = parse_request(&head[..p], &mut headers, &limits);
        assert!(
            matches!(part, Ok(None)),
            "prefix {p}: {:?}",
            part.map(|r| r.map(|(_, n)| n))
        );
    }
    // A target over the limit is still refused early.
    let mut long = b"GET /".to_vec();
    long.resize(3000, b'a');
    let mut headers = [EMPTY_HEADER; 4];
    assert_eq!(
        parse_request(&long, &mut headers, &limits).map(|r| r.is_some()),
        Err(HttpError::UriTooLong)
    );
}

/// `{"set":{"led":true,"led":false}}` was taken as two changes to one pin,
/// applied in order: the line was driven high, then low, a pulse the client
/// never asked for (serde_json, which the fuzz checks compared against,
/// folds the repeat and hid it). Fixed: a `set` or `simulate` naming a pin
/// twice is refused whole with `duplicate_pin`.
#[test]
fn a_pin_named_twice_is_refused_not_pulsed() {
    for msg in [
        r#"{"set":{"led":true,"led":false}}"#,
        r#"{"set":{"led":false,"fan":true,"led":"low"}}"#,
        r#"{"simulate":{"button":true,"button":false}}"#,
    ] {
        assert_eq!(parse_command(msg), Err(CommandError::DuplicatePin), "{msg}");
    }
    assert_eq!(CommandError::DuplicatePin.code(), "duplicate_pin");
}
