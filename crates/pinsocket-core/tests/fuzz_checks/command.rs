//! The `command` target: `parse_command`, `resolve_command`, `resolve_simulate`
//! against a small board, and the JSON encoders on the result.
//!
//! Input: a byte whose bits are the board's current levels, then the text
//! message (invalid UTF-8 is replaced, as only valid text reaches the parser).

use pinsocket_core::{
    self as core, Command, CommandError, Input, Level, MAX_JSON_LEN, MAX_NAME_SHOWN, MAX_SET, Mode,
    Output, Pin, Refusal, SetList,
};
use serde_json::Value;

// The board, in a file of its own that the board model's unit tests can
// include too.
#[path = "board.rs"]
mod board;

use board::board;

/// Known leniency of serde-json-core, reported: it takes raw control
/// characters inside strings, which JSON forbids (RFC 8259 §7). Messages
/// serde_json refuses for this reason alone skip the comparison with it.
/// (It also takes numbers JSON does not, like `0324` or `.5`; pings are
/// checked with Rust's float parser for that.)
const KNOWN_LENIENCIES: [&str; 1] = ["control character"];

/// Runs the `command` target's checks on one fuzz input.
pub(crate) fn check_command(data: &[u8]) {
    let Some((&bits, rest)) = data.split_first() else {
        return;
    };
    let msg = String::from_utf8_lossy(rest);
    let pins = board();
    let mut levels: Vec<Level> = (0..pins.len())
        .map(|i| Level::from_bool((bits >> i) & 1 == 1))
        .collect();

    let parsed = core::parse_command(&msg);
    check_parse(&msg, &parsed);
    check_event_json(&msg, Level::from_bool(bits & 0x80 != 0));
    let cmd = match parsed {
        Ok(cmd) => cmd,
        Err(e) => return check_error_json(e),
    };
    if let Command::Ping(n) = cmd {
        check_pong_json(n);
    }
    let resolved = core::resolve_command(&pins, &levels, &cmd);
    let changes = match resolved {
        Ok(changes) => changes,
        Err(refusal) => {
            check_resolve_error(&pins, &cmd, refusal);
            check_error_json(refusal.error);
            check_refusal_json(refusal);
            if let Command::Simulate(list) = cmd {
                check_simulate(&pins, &mut levels, &list);
            }
            return;
        }
    };
    let changes = changes.as_slice();
    for c in changes {
        assert!(pins[c.pin].is_output(), "a change to an input");
    }
    match cmd {
        Command::Set(list) => {
            let list = list.as_slice();
            assert_eq!(changes.len(), list.len());
            for (c, (name, high)) in changes.iter().zip(list) {
                assert_eq!(pins[c.pin].name(), *name);
                assert_eq!(c.level, Level::from_bool(*high));
            }
        }
        Command::Toggle(name) => {
            assert_eq!(changes.len(), 1);
            assert_eq!(pins[changes[0].pin].name(), name);
            assert_eq!(changes[0].level, levels[changes[0].pin].toggled());
        }
        Command::Ping(_) => assert!(changes.is_empty()),
        Command::Plain(text) => {
            let switch = core::plain_switch(text);
            match changes {
                [] => assert!(switch.is_none_or(|(name, _)| {
                    !pins
                        .iter()
                        .any(|p| p.is_output() && p.name().eq_ignore_ascii_case(name))
                })),
                [c] => {
                    let (name, level) = switch.expect("a change from no switch");
                    assert!(pins[c.pin].name().eq_ignore_ascii_case(name));
                    assert_eq!(c.level, level);
                }
                _ => panic!("plain text changed several pins"),
            }
        }
        Command::Simulate(_) => panic!("resolve_command took a simulate"),
        other => panic!("a command the checks do not know: {other:?}"),
    }
    for c in changes {
        levels[c.pin] = c.level;
    }
    check_state(&pins, &levels, &msg);
}

fn check_state(pins: &[Pin<&str>], levels: &[Level], msg: &str) {
    let version = (msg.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    check_state_json(pins, levels, version);
}

/// A simulate, as a simulated board resolves it: inputs only, every name
/// checked, the first bad one named.
fn check_simulate(pins: &[Pin<&str>], levels: &mut [Level], list: &SetList<'_>) {
    let pairs = list.as_slice();
    let first_bad =
        pairs
            .iter()
            .find_map(|&(name, _)| match pins.iter().find(|p| p.name() == name) {
                None => Some(Refusal::naming(CommandError::UnknownPin, name)),
                Some(p) if p.is_output() => Some(Refusal::naming(CommandError::NotAnInput, name)),
                Some(_) => None,
            });
    let changes = match core::resolve_simulate(pins, list) {
        Ok(changes) => {
            assert_eq!(first_bad, None, "{pairs:?}");
            changes
        }
        Err(refusal) => {
            assert_eq!(Some(refusal), first_bad, "{pairs:?}");
            return check_refusal_json(refusal);
        }
    };
    let changes = changes.as_slice();
    assert_eq!(changes.len(), pairs.len());
    for (c, (name, high)) in changes.iter().zip(pairs) {
        assert!(!pins[c.pin].is_output(), "a simulated change to an output");
        assert_eq!(pins[c.pin].name(), *name);
        assert_eq!(c.level, Level::from_bool(*high));
        levels[c.pin] = c.level;
    }
    check_state(pins, levels, "simulate");
}

fn check_parse(msg: &str, parsed: &Result<Command<'_>, CommandError>) {
    let json = msg.trim_start().starts_with('{');
    match parsed {
        Ok(Command::Plain(text)) => {
            assert!(!json, "JSON taken for plain text");
            assert_eq!(*text, msg);
            return;
        }
        Ok(_) | Err(_) => assert!(json, "plain text taken for JSON"),
    }
    assert_eq!(
        *parsed == Err(CommandError::TooLarge),
        msg.len() > MAX_JSON_LEN
    );
    // Only a name written with an escape is refused as escaped, and only
    // valid JSON gets that far.
    if *parsed == Err(CommandError::EscapedName) {
        assert!(msg.contains('\\'), "{msg:?}");
        assert!(valid_json(msg), "escaped_name for invalid JSON {msg:?}");
    }
    // Too many pins is said of valid JSON only, holding one list command
    // that names more than MAX_SET pins (counting repeats, which serde_json
    // folds).
    if *parsed == Err(CommandError::TooManyPins) {
        assert!(valid_json(msg), "too_many_pins for invalid JSON {msg:?}");
        if let Ok(value) = serde_json::from_str::<Value>(msg) {
            let object = value.as_object().expect("a command is an object");
            assert_eq!(object.len(), 1, "{msg:?}");
            let (key, list) = object.iter().next().expect("one key");
            assert!(key == "set" || key == "simulate", "{msg:?}");
            assert!(list.is_object(), "{msg:?}");
            assert!(msg.matches(':').count() > MAX_SET, "{msg:?}");
        }
    }
    check_duplicates(msg, parsed);
    let Ok(cmd) = parsed else {
        return;
    };
    // Accepted names never hold an escape (those are refused), so serde_json
    // must read every accepted string exactly as it was taken.
    // What we accept, a full JSON parser accepts too, with the same meaning.
    // A ping's number is read by Rust's own float parser instead, as
    // serde-json-core takes number forms JSON does not.
    let mut text = std::borrow::Cow::Borrowed(msg);
    if let Command::Ping(n) = cmd {
        // encode_pong relies on this: JSON has no infinities or NaN.
        assert!(n.is_finite(), "ping {n} accepted from {msg:?}");
        let (zeroed, number) = split_ping_number(msg);
        assert_eq!(number.parse::<f64>().ok(), Some(*n), "{msg:?}");
        text = zeroed.into();
    }
    let value: Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(e) if KNOWN_LENIENCIES.iter().any(|k| e.to_string().contains(k)) => return,
        Err(e) => panic!("accepted invalid JSON {text:?}: {e}"),
    };
    let object = value.as_object().expect("a command is an object");
    assert_eq!(object.len(), 1, "{msg:?}");
    match cmd {
        Command::Set(list) => check_list(object, "set", list),
        Command::Simulate(list) => check_list(object, "simulate", list),
        Command::Toggle(name) => assert_eq!(object["toggle"].as_str(), Some(*name)),
        Command::Ping(_) => assert_eq!(object["ping"].as_f64(), Some(0.0)),
        Command::Plain(_) => unreachable!(),
        other => panic!("a command the checks do not know: {other:?}"),
    }
}

/// Valid JSON, or invalid only by a known leniency.
fn valid_json(msg: &str) -> bool {
    match serde_json::from_str::<Value>(msg) {
        Ok(_) => true,
        Err(e) => KNOWN_LENIENCIES.iter().any(|k| e.to_string().contains(k)),
    }
}

/// An accepted `set` / `simulate` list against serde_json's reading of the
/// same object: every pair there, once, with its level as JSON reads it
/// (`true` / `"high"` high, `false` / `"low"` low, exactly). serde_json
/// folds a repeated key into one, so the pairs must be as many as its keys:
/// a list that names a pin twice is never accepted (see
/// [`check_duplicates`]).
fn check_list(object: &serde_json::Map<String, Value>, key: &str, list: &SetList<'_>) {
    let list = list.as_slice();
    assert!(list.len() <= MAX_SET);
    let map = object[key].as_object().expect("a list takes an object");
    assert_eq!(list.len(), map.len(), "a pin named twice: {list:?}");
    for (name, value) in map {
        let mut named = list.iter().filter(|(n, _)| n == name);
        let level = named.next().map(|(_, b)| *b);
        assert!(named.next().is_none(), "{name:?} named twice");
        assert_eq!(level, as_level(value), "{name:?}: {value}");
    }
}

/// A level as JSON reads it: `true` / `"high"` high, `false` / `"low"`
/// low, exactly; anything else is none.
fn as_level(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(high) => Some(*high),
        Value::String(s) if s == "high" => Some(true),
        Value::String(s) if s == "low" => Some(false),
        _ => None,
    }
}

/// A pin named twice in one `set` or `simulate` is refused with
/// `duplicate_pin`, never accepted and never skipped: serde_json takes
/// repeated keys (the last wins), so its reading cannot be compared with an
/// accepted list. Here the keys are read from the text, decoded, one by one.
///
/// - `duplicate_pin` is said only of valid JSON holding one list command
///   whose object repeats a name;
/// - such a message with no other fault (every name without escapes, at
///   most [`MAX_SET`] pairs, every value a level) is refused with
///   `duplicate_pin`, and with some error in any case.
fn check_duplicates(msg: &str, parsed: &Result<Command<'_>, CommandError>) {
    let refused = *parsed == Err(CommandError::DuplicatePin);
    if refused {
        assert!(valid_json(msg), "duplicate_pin for invalid JSON {msg:?}");
    }
    if serde_json::from_str::<Value>(msg).is_err() {
        return;
    }
    // One command key, `set` or `simulate`, whose value is an object.
    let pairs = match object_pairs(msg).as_deref() {
        Some([(key, value)]) if (key == "set" || key == "simulate") && value.starts_with('{') => {
            object_pairs(value)
        }
        _ => None,
    };
    let Some(pairs) = pairs else {
        assert!(!refused, "duplicate_pin for {msg:?}");
        return;
    };
    let decoded: Vec<String> = pairs
        .iter()
        .map(|(name, _)| serde_json::from_str(&format!("\"{name}\"")).expect("a valid name"))
        .collect();
    let duplicated = decoded
        .iter()
        .enumerate()
        .any(|(i, name)| decoded[i + 1..].contains(name));
    assert!(
        !refused || duplicated,
        "duplicate_pin for {msg:?}, which names no pin twice"
    );
    if !duplicated {
        return;
    }
    assert!(parsed.is_err(), "a pin named twice accepted: {msg:?}");
    let clean = pairs.len() <= MAX_SET
        && pairs.iter().all(|(name, value)| {
            !name.contains('\\')
                && serde_json::from_str::<Value>(value)
                    .ok()
                    .as_ref()
                    .and_then(as_level)
                    .is_some()
        });
    if clean {
        assert_eq!(*parsed, Err(CommandError::DuplicatePin), "{msg:?}");
    }
}

/// The pairs of the JSON object that `text` (valid JSON) opens with, in
/// order, repeats kept: each name as written (escapes and all) and its
/// value's text. `None` if `text` is not an object.
fn object_pairs(text: &str) -> Option<Vec<(String, &str)>> {
    let text = text.trim_start();
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let mut pairs = Vec::new();
    let mut i = 1;
    loop {
        let rest = text[i..].trim_start();
        i = text.len() - rest.len();
        match bytes.get(i) {
            Some(b'"') => {}
            Some(b',') => {
                i += 1;
                continue;
            }
            _ => return Some(pairs),
        }
        let name_end = string_end(bytes, i);
        let name = text[i + 1..name_end - 1].to_owned();
        let after = text[name_end..]
            .trim_start()
            .strip_prefix(':')?
            .trim_start();
        let start = text.len() - after.len();
        let end = value_end(bytes, start);
        pairs.push((name, text[start..end].trim_end()));
        i = end;
    }
}

/// Just past the closing quote of the JSON string opening at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The end of the JSON value starting at `start`: a string, a nested
/// object or array, or a scalar up to the next `,` or `}`.
fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i);
                if depth == 0 {
                    return i;
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return i,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b',' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// Splits an accepted ping into the message with its number replaced by `0`
/// and the number's text. The key `"ping"` is the message's only string.
fn split_ping_number(msg: &str) -> (String, &str) {
    let key = msg.find("\"ping\"").expect("a ping has its key") + "\"ping\"".len();
    let colon = key + msg[key..].find(':').expect("a colon follows the key") + 1;
    let blank = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    let start = msg.len() - msg[colon..].trim_start_matches(blank).len();
    let len = msg[start..]
        .find(|c: char| !matches!(c, '0'..='9' | '+' | '-' | '.' | 'e' | 'E'))
        .unwrap_or(msg.len() - start);
    let end = start + len;
    (
        format!("{}0{}", &msg[..start], &msg[end..]),
        &msg[start..end],
    )
}

fn close_enough(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// A refused command: only lists and toggles name pins, and the refusal
/// names the first bad one in the command's order; a simulate is refused
/// as not simulated (a simulated board resolves it separately).
fn check_resolve_error(pins: &[Pin<&str>], cmd: &Command<'_>, refusal: Refusal<'_>) {
    let names: Vec<&str> = match cmd {
        Command::Set(list) => list.as_slice().iter().map(|(n, _)| *n).collect(),
        Command::Toggle(name) => vec![name],
        Command::Simulate(_) => {
            return assert_eq!(refusal, Refusal::new(CommandError::NotSimulated));
        }
        _ => panic!("{cmd:?} refused with {refusal:?}"),
    };
    let first_bad = names
        .iter()
        .find_map(|&name| match pins.iter().find(|p| p.name() == name) {
            None => Some(Refusal::naming(CommandError::UnknownPin, name)),
            Some(p) if !p.is_output() => Some(Refusal::naming(CommandError::NotAnOutput, name)),
            Some(_) => None,
        });
    assert_eq!(Some(refusal), first_bad, "{cmd:?}");
}

/// Encodes into a buffer of exactly the right size, and checks that every
/// smaller one is refused.
fn encode_exact(
    room: usize,
    encode: impl Fn(&mut [u8]) -> Result<usize, core::Overflow>,
) -> String {
    let mut buf = vec![0u8; room];
    let n = encode(&mut buf).expect("room enough");
    let text = String::from_utf8(buf[..n].to_vec()).expect("JSON is UTF-8");
    let mut exact = vec![0u8; n];
    assert_eq!(encode(&mut exact), Ok(n));
    assert_eq!(&exact[..], text.as_bytes());
    for size in [0, n / 2, n.saturating_sub(1)] {
        if size < n {
            assert_eq!(encode(&mut vec![0u8; size]), Err(core::Overflow), "{size}");
        }
    }
    text
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("invalid JSON {text:?}: {e}"))
}

fn check_event_json(name: &str, level: Level) {
    let text = encode_exact(6 * name.len() + 64, |out| {
        core::encode_event(name, level, out)
    });
    let v = parse_json(&text);
    assert_eq!(v["event"]["input"].as_str(), Some(name), "{text}");
    assert_eq!(v["event"]["level"].as_str(), Some(level.as_str()));
}

fn check_error_json(e: CommandError) {
    let text = encode_exact(512, |out| core::encode_error(e, out));
    let v = parse_json(&text);
    assert_eq!(v["error"]["code"].as_str(), Some(e.code()));
    assert_eq!(v["error"]["message"].as_str(), Some(&*e.to_string()));
}

/// A refusal's JSON: within MAX_ERROR_LEN, its code, its message, and
/// for one about a pin, the name (cut after MAX_NAME_SHOWN bytes, with
/// debug escapes) between quotes.
fn check_refusal_json(refusal: Refusal<'_>) {
    let text = encode_exact(core::MAX_ERROR_LEN, |out| {
        core::encode_refusal(refusal, out)
    });
    let v = parse_json(&text);
    assert_eq!(v["error"]["code"].as_str(), Some(refusal.error.code()));
    let message = v["error"]["message"].as_str().expect("a message");
    assert_eq!(message, refusal.to_string());
    assert!(!message.chars().any(char::is_control), "{message:?}");
    if let Some(pin) = refusal.pin {
        let mut end = pin.len().min(MAX_NAME_SHOWN);
        while !pin.is_char_boundary(end) {
            end -= 1;
        }
        let cut = if end < pin.len() { "…" } else { "" };
        let shown = format!("\"{}{cut}\"", pin[..end].escape_debug());
        assert!(message.contains(&shown), "{message:?} lacks {shown:?}");
    }
}

fn check_pong_json(n: f64) {
    let text = encode_exact(1024, |out| core::encode_pong(n, out));
    let v = parse_json(&text);
    let back = v["pong"].as_f64().expect("pong is a number");
    assert!(close_enough(n, back), "pong {n} came back as {back}");
}

fn check_state_json(pins: &[Pin<&str>], levels: &[Level], version: u64) {
    let text = encode_exact(4096, |out| core::encode_state(pins, levels, version, out));
    let v = parse_json(&text);
    let state = &v["state"];
    assert_eq!(state["version"].as_u64(), Some(version));
    for (pin, level) in pins.iter().zip(levels) {
        let group = if pin.is_output() { "outputs" } else { "inputs" };
        assert_eq!(
            state[group][pin.name()].as_bool(),
            Some(level.is_high()),
            "{text}"
        );
    }
    let count = |g: &str| state[g].as_object().map_or(0, serde_json::Map::len);
    assert_eq!(count("outputs") + count("inputs"), pins.len());
}
