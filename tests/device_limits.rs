//! What one client may ask of the device server: a bucket of commands per
//! client (`rate_limited` beyond it), a cap on refused commands (1008
//! beyond it), no pin named twice in one command (`duplicate_pin`), and a
//! log that a storm of changes cannot flood (docs/PROTOCOL.md, "Limits").
//!
//! Real clients on 127.0.0.1 against the simulated board; every wait is
//! bounded, and no test asserts how fast the server is: the storm test
//! prints the latency it measured.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{
    DEVICE_PROTOCOL, DeviceUnderTest, DeviceWs, OP_CLOSE, OP_TEXT, RawWs, client_frame, device_app,
    raise_open_file_limit, wait_until,
};
use pinsocket_device::{CommandLimits, Config, Level};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// Bounds every wait of these tests, a client's reads included.
const LIMIT: Duration = Duration::from_secs(10);

/// The refusal a JSON client gets over its rate limit.
const RATE_LIMITED: &str = r#"{"error":{"code":"rate_limited","message":"too many commands; this one was not carried out, slow down"}}"#;

/// What a plain-text client gets over its rate limit.
const PLAIN_RATE_LIMITED: &str = "Rate limited: too many commands; this one was not carried out";

const LED_FAN_BUTTON: &str = r#"
[[output]]
name = "led"
line = 12

[[output]]
name = "fan"
line = 13

[[input]]
name = "button"
line = 17
"#;

/// A device-protocol client past the board note and the first state.
async fn connect(bench: &DeviceUnderTest) -> DeviceWs {
    let (ws, board) = bench.connect_past_state(LIMIT).await;
    assert_eq!(board, json!({"board": {"simulated": true}}));
    ws
}

/// A raw device-protocol client past the board note and the first state.
async fn raw_client(addr: std::net::SocketAddr) -> RawWs {
    let mut ws = RawWs::upgrade(addr, Some(DEVICE_PROTOCOL)).await;
    assert_eq!(ws.next_text().await, r#"{"board":{"simulated":true}}"#);
    assert!(ws.next_text().await.starts_with(r#"{"state":"#));
    ws
}

/// `count` copies of the text frame `text`, as one buffer to write at once.
fn frames(text: &str, count: usize) -> Vec<u8> {
    client_frame(OP_TEXT, text.as_bytes()).repeat(count)
}

/// Server frames read from one half of a split connection.
struct FrameReader {
    half: OwnedReadHalf,
    buf: Vec<u8>,
}

impl FrameReader {
    /// The next frame's opcode and payload, or `None` once the stream ends.
    async fn next(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if let Some((header, len)) = frame_len(&self.buf)
                && self.buf.len() >= header + len
            {
                let opcode = self.buf[0] & 0x0f;
                let payload = self.buf[header..header + len].to_vec();
                self.buf.drain(..header + len);
                return Some((opcode, payload));
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.half.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// The header length and payload length of the unmasked frame `buf`
/// starts with, once its header is whole.
fn frame_len(buf: &[u8]) -> Option<(usize, usize)> {
    let short = usize::from(*buf.get(1)? & 0x7f);
    match short {
        126 => Some((
            4,
            usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
        )),
        127 => {
            let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            Some((10, usize::try_from(u64::from_be_bytes(bytes)).ok()?))
        }
        n => Some((2, n)),
    }
}

/// What a storming client has heard.
#[derive(Default)]
struct Heard {
    rate_limited: AtomicU64,
    other_errors: AtomicU64,
    /// The close code, once closed (0 before).
    close: AtomicU64,
    /// The close reason.
    reason: Mutex<String>,
}

/// A client toggling `pin` as fast as it can, reading what it is sent at
/// the same time, until `stop`.
struct Storm {
    heard: Arc<Heard>,
    sent: Arc<AtomicU64>,
    writer: tokio::task::JoinHandle<()>,
    reader: tokio::task::JoinHandle<()>,
}

impl Storm {
    async fn start(addr: std::net::SocketAddr, pin: &str, stop: Arc<AtomicBool>) -> Storm {
        let ws = raw_client(addr).await;
        let (read, write) = ws.stream.into_split();
        let heard = Arc::new(Heard::default());
        let sent = Arc::new(AtomicU64::new(0));
        let mut reader = FrameReader {
            half: read,
            buf: ws.buf,
        };
        let h = heard.clone();
        let reader = tokio::spawn(async move {
            while let Some((opcode, payload)) = reader.next().await {
                if opcode == OP_CLOSE {
                    let code = u16::from_be_bytes([payload[0], payload[1]]);
                    *h.reason.lock().unwrap() = String::from_utf8_lossy(&payload[2..]).into();
                    h.close.store(u64::from(code), Ordering::SeqCst);
                    return;
                }
                if payload == RATE_LIMITED.as_bytes() {
                    h.rate_limited.fetch_add(1, Ordering::SeqCst);
                } else if payload.starts_with(br#"{"error""#) {
                    h.other_errors.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let batch = frames(&format!(r#"{{"toggle":"{pin}"}}"#), 32);
        let count = sent.clone();
        let writer = tokio::spawn(async move {
            let mut write: OwnedWriteHalf = write;
            while !stop.load(Ordering::SeqCst) {
                if write.write_all(&batch).await.is_err() {
                    return;
                }
                count.fetch_add(32, Ordering::SeqCst);
            }
        });
        Storm {
            heard,
            sent,
            writer,
            reader,
        }
    }
}

/// Sends `{"set":{"fan":<on>}}` from `client` and waits for the state that
/// shows it; returns how long that took.
async fn set_fan(client: &mut DeviceWs, on: bool) -> Duration {
    let sent = Instant::now();
    client.send(&format!(r#"{{"set":{{"fan":{on}}}}}"#)).await;
    loop {
        let state = client.next_state().await;
        if state["outputs"]["fan"] == on {
            return sent.elapsed();
        }
    }
}

/// What [`storm`] saw.
struct StormReport {
    /// Close code and reason each storming client got (0: none).
    closes: Vec<(u64, String)>,
}

/// How long a storm may last at most: the legitimate command is sent in
/// it, and must arrive, whether during it or once it is over.
const STORM_FOR: Duration = Duration::from_secs(3);

/// Two clients toggle `led` as fast as they can while a thousand
/// subscribers watch; a third client sets `fan` in the middle of it. The
/// board is [`LED_FAN_BUTTON`] with `limits` added to its `[limits]`. If
/// `closed`, the storming clients are expected to be closed, and waited
/// for.
async fn storm(name: &str, limits: &str, closed: bool) -> StormReport {
    const SUBSCRIBERS: usize = 1_000;
    raise_open_file_limit(8 * SUBSCRIBERS as u64);
    let toml = format!("[limits]\n{limits}\n{LED_FAN_BUTTON}");
    let app = device_app(&toml);
    let limits = Config::parse(&toml, Path::new("storm.toml"))
        .unwrap()
        .limits
        .commands();
    let device = app.device.clone();
    let sim = app.sim.clone().unwrap();
    let server = app.server.max_connections(4 * SUBSCRIBERS).start().unwrap();
    let addr = server.local_addr();

    let mut watchers = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        watchers.push(RawWs::upgrade(addr, Some(DEVICE_PROTOCOL)).await);
    }
    let (mut legit, _) = DeviceWs::connect(addr, Some(DEVICE_PROTOCOL), LIMIT).await;
    // For the record: the same command with no storm.
    let quiet = set_fan(&mut legit, true).await;
    let first = device.snapshot().version;

    // Their buckets start full the moment they connect.
    let stop = Arc::new(AtomicBool::new(false));
    let storm_start = Instant::now();
    let storms = [
        Storm::start(addr, "led", stop.clone()).await,
        Storm::start(addr, "led", stop.clone()).await,
    ];
    wait_until("both storming clients are told rate_limited", LIMIT, || {
        storms
            .iter()
            .all(|s| s.heard.rate_limited.load(Ordering::SeqCst) > 0)
    })
    .await;

    // The legitimate command, carried out and seen by its sender. The
    // storm stops after STORM_FOR, however long the command takes.
    let timer = tokio::spawn({
        let stop = stop.clone();
        async move {
            tokio::time::sleep(STORM_FOR.saturating_sub(storm_start.elapsed())).await;
            stop.store(true, Ordering::SeqCst);
        }
    });
    let latency = set_fan(&mut legit, false).await;
    let during = !stop.load(Ordering::SeqCst);
    timer.abort();
    assert_eq!(sim.level("fan"), Some(Level::Low));

    // Whatever was carried out, the storm got no more than its buckets
    // allow: each client its burst and its rate since it connected (this
    // bound only loosens if the machine is slow), and the one `set`.
    let version = device.snapshot().version;
    let elapsed = storm_start.elapsed().as_secs_f64();
    let allowed = 2.0
        * (f64::from(limits.command_burst) + f64::from(limits.commands_per_second) * elapsed)
        + 1.0;
    let carried_out = version - first;
    stop.store(true, Ordering::SeqCst);
    let sent_total: u64 = storms.iter().map(|s| s.sent.load(Ordering::SeqCst)).sum();
    let refused: u64 = storms
        .iter()
        .map(|s| s.heard.rate_limited.load(Ordering::SeqCst))
        .sum();
    let when = if during {
        "during the storm"
    } else {
        "after the storm was stopped"
    };
    eprintln!(
        "{name}: 2 storming clients, {SUBSCRIBERS} subscribers: the legitimate set reached \
         its sender in {latency:?}, {when} ({quiet:?} before the storm); over {elapsed:.2} s the \
         storm sent {sent_total} toggles, {carried_out} changes were carried out (at most \
         {allowed:.0} allowed), {refused} rate_limited answers read"
    );
    assert!(
        (carried_out as f64) <= allowed,
        "{carried_out} changes carried out in {elapsed:.2} s; the limits allow {allowed:.0}"
    );
    if closed {
        wait_until("both storming clients closed", LIMIT, || {
            storms
                .iter()
                .all(|s| s.heard.close.load(Ordering::SeqCst) != 0)
        })
        .await;
    }
    let mut closes = Vec::new();
    for storm in storms {
        assert_eq!(storm.heard.other_errors.load(Ordering::SeqCst), 0);
        storm.writer.await.unwrap();
        storm.reader.abort();
        closes.push((
            storm.heard.close.load(Ordering::SeqCst),
            storm.heard.reason.lock().unwrap().clone(),
        ));
    }
    drop((legit, watchers));
    server.shutdown();
    StormReport { closes }
}

/// Finding: a toggle storm from two clients, with a thousand subscribers
/// watching, delayed a legitimate command by 0.1 to 5 s, as every toggle
/// was carried out and sent to everyone. Now each storming client is cut
/// to its rate (50 a second after a burst of 100) and told `rate_limited`;
/// the refusals soon close it (1008). A third client's `set` is carried
/// out and its state reaches it.
///
/// Then the same storm with the refusal cap lifted, so that it goes on:
/// the rate limit alone bounds what is carried out. (One after the other,
/// so that the two storms do not share the machine.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_toggle_storm_is_rate_limited_and_a_legitimate_command_gets_through() {
    let report = storm("default limits", "", true).await;
    for (code, reason) in &report.closes {
        assert_eq!(
            (*code, reason.as_str()),
            (1008, "too many refused commands")
        );
    }
    let report = storm("refusal cap lifted", "max_refused = 1000000000", false).await;
    // Not for refusals. (A storming client that does not read its answers
    // as fast as it earns them may be closed as too slow: the server's
    // send queue, not these limits.)
    for (code, reason) in &report.closes {
        assert!(
            *code == 0 || reason != "too many refused commands",
            "closed for refusals with the cap lifted"
        );
    }
}

/// Finding: every bad command (a 7-byte `{` frame) was answered with a
/// 70-byte error, without limit. Now more than `max_refused` (20) refusals
/// within `refused_window` close the client with 1008, once, and the log
/// says so once, naming it; what it sends after that is ignored.
#[tokio::test]
async fn a_client_refused_too_often_is_closed_with_1008() {
    let log = captured_log();
    let bench = DeviceUnderTest::start(LED_FAN_BUTTON);
    let mut other = connect(&bench).await;
    let mut bad = raw_client(bench.addr()).await;
    let peer = bad.stream.local_addr().unwrap().to_string();
    // Twenty-five bad commands at once: bad JSON, an unknown pin.
    let mut burst = frames("{", 20);
    burst.extend(frames(r#"{"toggle":"nope"}"#, 5));
    bad.write(&burst).await;
    let max = CommandLimits::default().max_refused;
    // The first twenty are answered; so is the one over the cap, then the
    // close.
    for i in 0..=max {
        let reply: Value = serde_json::from_str(&bad.next_text().await).unwrap();
        let code = if i < 20 { "bad_json" } else { "unknown_pin" };
        assert_eq!(reply["error"]["code"], code, "refusal {i}: {reply}");
    }
    assert_eq!(bad.expect_close(1008).await, "too many refused commands");
    // Nothing of the rest was carried out or answered.
    assert_eq!(bench.device.snapshot().version, 1);
    // Everyone else is served as before.
    other.send(r#"{"ping":7}"#).await;
    assert_eq!(other.next_json().await, json!({"pong": 7}));
    let line = format!("client {peer} closed (1008): more than {max} refused commands");
    wait_until("the close is logged", LIMIT, || {
        log_text(log).contains(&line)
    })
    .await;
    assert_eq!(log_text(log).matches(&line).count(), 1, "logged once");
    drop((bad, other));
    bench.shutdown();
}

/// A command over the rate limit is not carried out and says so: in JSON
/// to a JSON client (pings count too), in plain text to a plain one.
#[tokio::test]
async fn commands_over_the_rate_limit_are_refused_in_the_clients_language() {
    let bench = DeviceUnderTest::start(&format!(
        "[limits]\ncommands_per_second = 1\ncommand_burst = 3\nmax_refused = 100\n{LED_FAN_BUTTON}"
    ));
    let addr = bench.addr();

    // JSON: ten toggles at once. Three are carried out (a fourth if a
    // second passes meanwhile), the rest refused, each with an error. (The
    // states sent for those carried out may be superseded by the newest.)
    let started = Instant::now();
    let mut json_client = raw_client(addr).await;
    json_client.write(&frames(r#"{"toggle":"led"}"#, 10)).await;
    let mut refused = 0;
    let carried_out = loop {
        let carried_out = bench.device.snapshot().version - 1;
        if refused + carried_out == 10 {
            break carried_out;
        }
        let reply = json_client.next_text().await;
        if reply == RATE_LIMITED {
            refused += 1;
        } else {
            assert!(reply.starts_with(r#"{"state""#), "{reply}");
        }
    };
    let slack = started.elapsed().as_secs() + 1;
    assert!(
        (3..=3 + slack).contains(&carried_out),
        "{carried_out} of 10 carried out"
    );
    // Pings count: the bucket is empty, so pings are refused too.
    json_client.write(&frames(r#"{"ping":1}"#, 5)).await;
    let (mut pongs, mut refused) = (0, 0);
    while pongs + refused < 5 {
        match json_client.next_text().await.as_str() {
            r#"{"pong":1}"# => pongs += 1,
            RATE_LIMITED => refused += 1,
            state => assert!(state.starts_with(r#"{"state""#), "{state}"),
        }
    }
    assert!(
        refused > 0,
        "five pings, all answered, with an empty bucket"
    );

    // Plain text: the original's page switching the fan.
    let started = Instant::now();
    let mut plain = RawWs::upgrade(addr, None).await;
    let mut burst = Vec::new();
    for i in 0..10 {
        let text = if i % 2 == 0 { "fanOn" } else { "fanOff" };
        burst.extend(client_frame(OP_TEXT, text.as_bytes()));
    }
    plain.write(&burst).await;
    let mut replies = Vec::new();
    for _ in 0..10 {
        replies.push(plain.next_text().await);
    }
    let slack = started.elapsed().as_secs() as usize + 1;
    assert_eq!(
        replies[..3],
        ["Reply for fanOn", "Reply for fanOff", "Reply for fanOn"]
    );
    let refused = replies.iter().filter(|r| *r == PLAIN_RATE_LIMITED).count();
    assert!(refused >= 7 - slack.min(7) && refused > 0, "{replies:#?}");
    assert!(
        replies
            .iter()
            .all(|r| r.starts_with("Reply for fanO") || r == PLAIN_RATE_LIMITED),
        "{replies:#?}"
    );
    drop((json_client, plain));
    bench.shutdown();
}

/// Finding: `{"set":{"led":true,"led":false}}` drove the line twice, a
/// pulse. Now a pin named twice is refused with `duplicate_pin` and the
/// line is never driven; `simulate` likewise.
#[tokio::test]
async fn a_pin_named_twice_is_refused_and_its_line_never_driven() {
    let bench = DeviceUnderTest::start(LED_FAN_BUTTON);
    let mut ws = connect(&bench).await;
    let drives = bench.sim.drive_count("led").unwrap();
    let before = bench.device.snapshot();
    for msg in [
        r#"{"set":{"led":true,"led":false}}"#,
        r#"{"set":{"led":false,"fan":true,"led":true}}"#,
        r#"{"set":{"led":"high","led":"high"}}"#,
    ] {
        ws.send(msg).await;
        let reply = ws.next_json().await;
        assert_eq!(reply["error"]["code"], "duplicate_pin", "{msg} -> {reply}");
        assert_eq!(
            reply["error"]["message"],
            "a pin is named more than once; name each pin at most once per command"
        );
    }
    ws.send(r#"{"simulate":{"button":true,"button":false}}"#)
        .await;
    assert_eq!(ws.next_json().await["error"]["code"], "duplicate_pin");
    // Nothing was driven, nothing changed, nobody was told of a change.
    assert_eq!(bench.sim.drive_count("led"), Some(drives), "led was driven");
    assert_eq!(bench.sim.drive_count("fan"), Some(0));
    assert_eq!(bench.device.snapshot(), before);
    assert_eq!(bench.sim.level("button"), Some(Level::Low));
    // The same pins, each named once, are fine.
    ws.send(r#"{"set":{"led":true,"fan":true}}"#).await;
    let state = ws.next_state().await;
    assert_eq!(state["outputs"], json!({"led": true, "fan": true}));
    assert_eq!(bench.sim.drive_count("led"), Some(drives + 1));
    drop(ws);
    bench.shutdown();
}

/// Finding: every output change was logged at info, 763,000 lines in 40 s
/// under a storm. Now each is at debug, and info gets the first few as
/// they come, then a line a second saying what changed and how often; the
/// last level always reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_changes_writes_a_line_a_second_at_info() {
    let log = captured_log();
    // A pin of its own, to find its lines among other tests' lines; limits
    // high enough that the storm is carried out.
    let bench = DeviceUnderTest::start(
        "[limits]\ncommands_per_second = 1000000\ncommand_burst = 1000000\n\
         [[output]]\nname = \"storm_led\"\nline = 99\n",
    );
    let label = "sim: output storm_led (line 99) -> ";
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let storm = Storm::start(bench.addr(), "storm_led", stop.clone()).await;
    wait_until("3000 changes", LIMIT * 3, || {
        bench.sim.drive_count("storm_led").unwrap() >= 3000
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    storm.writer.await.unwrap();
    // Once the server has carried out the last toggle and the line for it
    // is written, every drive is in some line: alone, or counted.
    let lines = |log: &str| -> Vec<String> {
        log.lines()
            .filter_map(|l| l.split_once(label).map(|(_, rest)| rest.to_owned()))
            .collect()
    };
    let counted = |lines: &[String]| -> u64 {
        lines
            .iter()
            .map(|l| {
                l.split_once(" (")
                    .and_then(|(_, n)| n.split_once(" changes in the last "))
                    .map_or(1, |(n, _)| n.parse::<u64>().unwrap())
            })
            .sum()
    };
    let mut last_drives = u64::MAX;
    wait_until("every drive in the log", LIMIT, || {
        let drives = bench.sim.drive_count("storm_led").unwrap();
        let settled = drives == last_drives;
        last_drives = drives;
        settled && counted(&lines(&log_text(log))) == drives
    })
    .await;
    let elapsed = start.elapsed().as_secs_f64();
    let lines = lines(&log_text(log));
    let drives = bench.sim.drive_count("storm_led").unwrap();
    eprintln!(
        "{drives} changes in {elapsed:.2} s: {} info lines, the last {:?}",
        lines.len(),
        lines.last()
    );
    // The burst of ten, then at most one a second.
    let most = 10 + elapsed.ceil() as usize + 1;
    assert!(
        lines.len() <= most,
        "{} lines in {elapsed:.2} s: {lines:#?}",
        lines.len()
    );
    assert!(
        lines.iter().any(|l| l.contains(" changes in the last ")),
        "{lines:#?}"
    );
    // The last line has the final level.
    let final_level = bench.sim.level("storm_led").unwrap().as_str();
    assert!(lines.last().unwrap().starts_with(final_level), "{lines:#?}");
    storm.reader.abort();
    bench.shutdown();
}

/// `[limits]` sets the command limits; zero is refused, naming the field.
#[test]
fn the_command_limits_are_configured_in_limits() {
    let config = Config::parse(
        "[limits]\ncommands_per_second = 5\ncommand_burst = 7\nmax_refused = 3\nrefused_window = 2.5\n",
        Path::new("pins.toml"),
    )
    .unwrap();
    let limits = config.limits.commands();
    assert_eq!(limits.commands_per_second, 5);
    assert_eq!(limits.command_burst, 7);
    assert_eq!(limits.max_refused, 3);
    assert_eq!(limits.refused_window, Duration::from_millis(2500));
    // Unset: the defaults.
    let defaults = Config::parse("", Path::new("pins.toml"))
        .unwrap()
        .limits
        .commands();
    assert_eq!(defaults, CommandLimits::default());
    assert_eq!(
        (defaults.commands_per_second, defaults.command_burst),
        (50, 100)
    );
    assert_eq!(
        (defaults.max_refused, defaults.refused_window),
        (20, Duration::from_secs(10))
    );
    for field in ["commands_per_second", "command_burst", "max_refused"] {
        let error = Config::parse(&format!("[limits]\n{field} = 0\n"), Path::new("pins.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!("limits.{field}: must be at least 1")),
            "{error}"
        );
    }
}

/// Everything logged at info and above by this test binary's servers,
/// from the first call on.
fn captured_log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .init();
        log
    })
}

fn log_text(log: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&log.lock().unwrap()).into_owned()
}

/// Appends to the captured log.
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
