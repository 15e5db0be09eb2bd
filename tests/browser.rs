//! The pages in a real browser: headless chromium, driven over WebDriver
//! by chromedriver, loads the pages from an in-process device server (or
//! example) on 127.0.0.1 and presses their buttons while the test watches
//! the simulated board's line 12.
//!
//! The browser and its guard are `tests/common/browser.rs`: it needs
//! Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).
//! Without them each test here passes without running, and the run prints
//! one line saying the browser tests were skipped and how to install what
//! they need; with the `CI` environment variable set (to anything but
//! empty, `0` or `false`) they are required, and each one fails instead.
//!
//! Each test starts its own server, its own chromedriver on a free
//! local port and its own chromium with a fresh profile, so the tests share
//! nothing and may run in any order or in parallel. A guard ends the browser
//! session and chromedriver and removes the profile even when a test fails.
//! Every wait is bounded, and so is each test as a whole. Screenshots go to
//! `<target>/browser-screenshots/`.
#![allow(clippy::unwrap_used)]

mod common;

// The examples' servers, as `cargo run --example` runs them.
#[path = "../examples/echo/app.rs"]
mod echo;
#[path = "../examples/websocket_led/app.rs"]
mod websocket_led;
#[path = "../examples/wstest/app.rs"]
mod wstest;

use std::time::{Duration, Instant};

// `WAIT` here is the browser's step bound, shorter than `common::WAIT`.
use common::PAGE_WAIT as WAIT;
use common::{
    Browser, DeviceUnderTest, ECHO_MAX_MESSAGE, LED_BOARD, any_port, browser_test, wait_until,
};
use fantoccini::Locator;
use pinsocket::{RunningServer, Server};
use pinsocket_device::Level;

// ---- the tests --------------------------------------------------------------

/// The control page (`/`): a switch press reaches the line, and every open
/// window shows the state the device broadcasts, whoever pressed.
#[tokio::test]
async fn control_page_switches_the_led_and_every_window_follows() {
    browser_test(async {
        let device = DeviceUnderTest::start(LED_BOARD);
        let browser = Browser::start().await;
        let web = &browser.client;

        // Window A.
        browser.goto(&device.url("/")).await;
        let window_a = web.window().await.unwrap();
        browser.wait_text("conn", "connected").await;
        browser.wait_attr("led-led", "data-level", "low").await;
        browser.wait_attr("out-led", "aria-pressed", "false").await;
        browser.wait_text("version", "1").await;
        assert_eq!(device.sim.line(12), Some(Level::Low));
        let log = browser.log().await;
        assert_eq!(
            log.get(..2),
            Some(
                &[
                    format!("Connection to {}...", device.ws_url()),
                    "-- CONNECTED --".to_owned()
                ][..]
            ),
            "{log:#?}"
        );

        browser.click("out-led").await;
        wait_line(&device, Level::High).await;
        browser.wait_attr("led-led", "data-level", "high").await;
        browser.wait_attr("out-led", "aria-pressed", "true").await;
        browser.wait_text("version", "2").await;
        browser
            .wait_log_line(
                "the switch command in A's log",
                r#"SENT: {"set":{"led":true}}"#,
            )
            .await;
        let rtt = browser
            .wait_for(
                "the round trip time in milliseconds",
                || browser.text("rtt"),
                |rtt| rtt.as_deref().is_ok_and(is_latency),
            )
            .await
            .unwrap();
        eprintln!("control page round trip: {rtt}");
        browser.screenshot("control-a.png").await;

        // Window B opens on a device whose LED is already on.
        let window_b = web.new_window(false).await.unwrap().handle;
        web.switch_to_window(window_b).await.unwrap();
        browser.size_window().await;
        browser.goto(&device.url("/")).await;
        browser.wait_text("conn", "connected").await;
        browser.wait_attr("led-led", "data-level", "high").await;
        browser.wait_attr("out-led", "aria-pressed", "true").await;
        browser.wait_text("version", "2").await;
        browser.screenshot("control-b.png").await;
        assert_eq!(device.server.clients().len(), 2);

        // B switches it off; A, which pressed nothing since, follows.
        browser.click("out-led").await;
        wait_line(&device, Level::Low).await;
        browser.wait_attr("led-led", "data-level", "low").await;
        browser.wait_attr("out-led", "aria-pressed", "false").await;
        browser.wait_text("version", "3").await;
        web.switch_to_window(window_a).await.unwrap();
        browser.wait_attr("led-led", "data-level", "low").await;
        browser.wait_attr("out-led", "aria-pressed", "false").await;
        browser.wait_text("version", "3").await;
        browser.wait_text("conn", "connected").await;
        let sent: Vec<String> = browser
            .log()
            .await
            .into_iter()
            .filter(|l| l.starts_with("SENT: "))
            .collect();
        assert_eq!(sent, [r#"SENT: {"set":{"led":true}}"#], "A's commands");
        assert_eq!(device.sim.line(12), Some(Level::Low));

        browser.finish().await;
        device.shutdown();
    })
    .await;
}

/// The original's `led.html`: its four buttons, its plain-text commands and
/// the replies the original program gave.
#[tokio::test]
async fn original_led_page_switches_line_12_and_logs_the_replies() {
    browser_test(async {
        let device = DeviceUnderTest::start(LED_BOARD);
        let browser = Browser::start().await;
        browser.goto(&device.url("/led.html")).await;
        browser.wait_text("status", "connected").await;

        browser.click("on").await;
        wait_line(&device, Level::High).await;
        let log = browser
            .wait_log_line("the reply to LEDon", "RECEIVED: Reply for LEDon")
            .await;
        assert!(log.iter().any(|l| l == "SENT: LEDon"), "{log:#?}");

        browser.click("off").await;
        wait_line(&device, Level::Low).await;
        browser
            .wait_log_line("the reply to LEDoff", "RECEIVED: Reply for LEDoff")
            .await;

        browser.click("hello").await;
        browser
            .wait_log_line(
                "the reply to HELLO",
                "RECEIVED: Reply for HELLO from button",
            )
            .await;
        assert_eq!(device.sim.line(12), Some(Level::Low));

        browser.click("close").await;
        let log = browser
            .wait_log("the page to disconnect", |log| {
                log.last().is_some_and(|l| l == "-- DISCONNECTED --")
            })
            .await;
        browser.wait_text("status", "disconnected").await;
        browser.screenshot("led.png").await;

        // The whole conversation, in order, exactly the original's: a page
        // that speaks plain text is sent no JSON.
        let expected = [
            format!("Connection to {}...", device.ws_url()),
            "-- CONNECTED --".to_owned(),
            "SENT: LEDon".to_owned(),
            "RECEIVED: Reply for LEDon".to_owned(),
            "SENT: LEDoff".to_owned(),
            "RECEIVED: Reply for LEDoff".to_owned(),
            "SENT: HELLO from button".to_owned(),
            "RECEIVED: Reply for HELLO from button".to_owned(),
            "-- DISCONNECTED --".to_owned(),
        ];
        assert_eq!(log, expected);
        wait_until("the server to forget the page", WAIT, || {
            device.server.clients().is_empty()
        })
        .await;

        browser.finish().await;
        device.shutdown();
    })
    .await;
}

/// The original's `wstest.html`: connect, send one message, print the
/// reply, disconnect after five seconds.
#[tokio::test]
async fn original_wstest_page_gets_its_reply_and_disconnects_after_five_seconds() {
    browser_test(async {
        let device = DeviceUnderTest::start(LED_BOARD);
        let browser = Browser::start().await;
        let loading = Instant::now();
        browser.goto(&device.url("/wstest.html")).await;
        browser
            .wait_log_line("the reply", "RECEIVED: Reply for Hello world :)")
            .await;
        let log = browser
            .wait_log_for(
                "the page to disconnect after 5 s",
                Duration::from_secs(8),
                |log| log.last().is_some_and(|l| l == "-- DISCONNECTED --"),
            )
            .await;
        let after = loading.elapsed();
        // The page's timer starts when the socket opens, after the load began.
        assert!(
            after >= Duration::from_millis(4900),
            "disconnected after {after:?}"
        );
        browser.screenshot("wstest.png").await;

        // Exactly the original's conversation.
        let expected = [
            format!("Connection to {}...", device.ws_url()),
            "-- CONNECTED --".to_owned(),
            "SENT: Hello world :)".to_owned(),
            "RECEIVED: Reply for Hello world :)".to_owned(),
            "-- DISCONNECTED --".to_owned(),
        ];
        assert_eq!(log, expected);

        browser.finish().await;
        device.shutdown();
    })
    .await;
}

/// The phone that switched the LED on closes its page; another window that
/// only watched stays open. The LED goes off, and the watching window shows it.
#[tokio::test]
async fn closing_the_controlling_page_switches_off_while_another_watches() {
    browser_test(async {
        let device = DeviceUnderTest::start(LED_BOARD);
        let browser = Browser::start().await;
        let web = &browser.client;
        browser.goto(&device.url("/")).await;
        let watcher = web.window().await.unwrap();
        browser.wait_text("conn", "connected").await;
        let phone = web.new_window(false).await.unwrap().handle;
        web.switch_to_window(phone).await.unwrap();
        browser.goto(&device.url("/")).await;
        browser.wait_text("conn", "connected").await;
        browser.click("out-led").await;
        wait_line(&device, Level::High).await;
        web.close_window().await.unwrap();
        web.switch_to_window(watcher).await.unwrap();
        wait_line(&device, Level::Low).await;
        browser.wait_attr("led-led", "data-level", "low").await;
        browser.wait_text("version", "3").await;
        browser.wait_text("conn", "connected").await;
        browser.finish().await;
        device.shutdown();
    })
    .await;
}

/// On a simulated board the control page offers to drive the inputs, and
/// says that it is a simulation; every window sees the input change.
#[tokio::test]
async fn simulated_inputs_can_be_driven_from_the_control_page() {
    browser_test(async {
        let device = DeviceUnderTest::start(include_str!("../docs/sim-board.toml"));
        let browser = Browser::start().await;
        browser.goto(&device.url("/")).await;
        browser.wait_text("conn", "connected").await;
        browser.wait_attr("in-door", "data-level", "low").await;
        let note = browser.attr("sim-note", "hidden").await.unwrap();
        assert_eq!(note, None, "the simulation note is hidden");
        browser.click("sim-door").await;
        browser.wait_attr("in-door", "data-level", "high").await;
        browser.wait_attr("sim-door", "aria-pressed", "true").await;
        wait_until("the door line high", WAIT, || {
            device.sim.level("door") == Some(Level::High)
        })
        .await;
        // An active-low button: pressed reads high, its line goes low.
        browser.click("sim-button").await;
        browser.wait_attr("in-button", "data-level", "high").await;
        wait_until("the button line low", WAIT, || {
            device.sim.level("button") == Some(Level::Low)
        })
        .await;
        browser
            .wait_log("the input event", |log| {
                log.iter()
                    .any(|l| l.contains(r#"{"event":{"input":"button","level":"high"}}"#))
            })
            .await;
        browser.screenshot("control-simulated-inputs.png").await;
        browser.finish().await;
        device.shutdown();
    })
    .await;
}

/// The original's pages, in the device server: their Home link leads to the
/// control page, which connects.
#[tokio::test]
async fn original_pages_home_links_lead_to_the_control_page() {
    browser_test(async {
        let device = DeviceUnderTest::start(LED_BOARD);
        let browser = Browser::start().await;
        for page in ["/led.html", "/wstest.html"] {
            browser.goto(&device.url(page)).await;
            browser
                .wait_log_line("the page to connect", "-- CONNECTED --")
                .await;
            browser.follow_link("Home").await;
            browser.wait_text("conn", "connected").await;
            browser.wait_attr("led-led", "data-level", "low").await;
        }
        browser.finish().await;
        device.shutdown();
    })
    .await;
}

// ---- the examples -----------------------------------------------------------

/// `cargo run --example websocket_led`: the page at `/` is the LED page; it
/// connects, its LED buttons switch the example's LED, and its Home link
/// leads to a page that works with the example too.
#[tokio::test]
async fn websocket_led_example_page_switches_its_led() {
    browser_test(async {
        let led = websocket_led::Led::default();
        let example = ExampleUnderTest::start(websocket_led::server(led.clone()));
        let browser = Browser::start().await;
        browser.goto(&example.url("/")).await;
        browser.wait_text("status", "connected").await;
        let log = browser.log().await;
        assert_eq!(
            log.get(..2),
            Some(
                &[
                    format!("Connection to {}...", example.ws_url()),
                    "-- CONNECTED --".to_owned()
                ][..]
            ),
            "{log:#?}"
        );

        // The reply comes after the example has switched the LED.
        browser.click("on").await;
        browser
            .wait_log_line("the reply to LEDon", "RECEIVED: Reply for LEDon")
            .await;
        assert!(led.is_on(), "LED ON left the example's LED off");
        browser.click("off").await;
        browser
            .wait_log_line("the reply to LEDoff", "RECEIVED: Reply for LEDoff")
            .await;
        assert!(!led.is_on(), "LED OFF left the example's LED on");
        browser.screenshot("example-websocket-led.png").await;

        browser.goto(&example.url("/led.html")).await;
        browser.wait_text("status", "connected").await;
        browser.follow_link("Home").await;
        browser.wait_text("status", "connected").await;
        browser.click("on").await;
        browser
            .wait_log_line(
                "the reply to LEDon on the Home page",
                "RECEIVED: Reply for LEDon",
            )
            .await;
        assert!(led.is_on(), "LED ON on the Home page left the LED off");

        browser.finish().await;
        example.shutdown();
    })
    .await;
}

/// `cargo run --example wstest`: the page at `/` is the echo test page; it
/// gets its reply, and its Home link leads to a page that does too.
#[tokio::test]
async fn wstest_example_page_gets_its_reply() {
    browser_test(async {
        let example = ExampleUnderTest::start(wstest::server());
        test_page_works(&example, "RECEIVED: Reply for Hello world :)").await;
        example.shutdown();
    })
    .await;
}

/// `cargo run --example echo`: the page at `/` is the echo test page; its
/// message comes back unchanged, and its Home link leads to a page that
/// works there too.
#[tokio::test]
async fn echo_example_page_gets_its_echo() {
    browser_test(async {
        let example = ExampleUnderTest::start(echo::server(ECHO_MAX_MESSAGE));
        test_page_works(&example, "RECEIVED: Hello world :)").await;
        example.shutdown();
    })
    .await;
}

/// Loads `/` of `example` and then follows the Home link of `/wstest.html`:
/// both pages connect and log `received`, the answer to their message.
async fn test_page_works(example: &ExampleUnderTest, received: &str) {
    let browser = Browser::start().await;
    browser.goto(&example.url("/")).await;
    let log = browser.wait_log_line("the answer", received).await;
    let expected = [
        format!("Connection to {}...", example.ws_url()),
        "-- CONNECTED --".to_owned(),
        "SENT: Hello world :)".to_owned(),
        received.to_owned(),
    ];
    assert_eq!(log, expected);

    browser.goto(&example.url("/wstest.html")).await;
    browser
        .wait_log_line("the answer on /wstest.html", received)
        .await;
    browser.follow_link("Home").await;
    browser
        .wait_log_line("the answer on the Home page", received)
        .await;
    browser.finish().await;
}

// ---- the device server and the examples ------------------------------------

/// Waits for the simulated line 12 of `device` to reach `level`.
async fn wait_line(device: &DeviceUnderTest, level: Level) {
    common::wait_line(&device.sim, level).await;
}

/// An example's server, from its `app.rs`, on a free loopback port.
struct ExampleUnderTest {
    server: RunningServer,
}

impl ExampleUnderTest {
    fn start(server: Server) -> ExampleUnderTest {
        let server = server
            .bind(any_port())
            .close_timeout(Duration::from_millis(500))
            .start()
            .unwrap();
        ExampleUnderTest { server }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.local_addr())
    }

    /// The URL the pages build from their location.
    fn ws_url(&self) -> String {
        format!("ws://{}/", self.server.local_addr())
    }

    fn shutdown(self) {
        self.server.shutdown();
    }
}

/// `0.8 ms` and the like.
fn is_latency(text: &str) -> bool {
    text.strip_suffix(" ms")
        .and_then(|n| n.parse::<f64>().ok())
        .is_some_and(|ms| ms.is_finite() && ms >= 0.0)
}

// ---- access: a device server with a token ----------------------------------

/// A device server that asks for a token, as one listening beyond
/// loopback does: the printed URL with `?token=` opens the control page
/// (the token traded for a cookie, and gone from the address bar), the
/// page's WebSocket carries the cookie, and its switch drives line 12.
/// The original's pages work the same with the cookie; without it, the
/// browser gets the page that says what to open.
#[tokio::test]
async fn the_printed_url_with_its_token_opens_the_control_page_that_switches_the_led() {
    browser_test(async {
        let token = "4f1c0de5a1b2c3d4e5f60718293a4b5c";
        let board = format!("{LED_BOARD}\n[access]\ntoken = \"{token}\"\n");
        let device = DeviceUnderTest::start(&board);
        let browser = Browser::start().await;
        let web = &browser.client;

        // No token yet: the 401 page.
        browser.goto(&device.url("/")).await;
        let body = web
            .find(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(body, "Access token needed");

        browser.goto(&device.url(&format!("/?token={token}"))).await;
        assert_eq!(web.current_url().await.unwrap().as_str(), device.url("/"));
        browser.wait_text("conn", "connected").await;
        browser.wait_attr("led-led", "data-level", "low").await;
        browser.click("out-led").await;
        wait_line(&device, Level::High).await;
        browser.wait_attr("led-led", "data-level", "high").await;
        browser.click("out-led").await;
        wait_line(&device, Level::Low).await;
        browser.screenshot("control-with-token.png").await;

        // The original's page, with the cookie alone.
        browser.goto(&device.url("/led.html")).await;
        browser.wait_text("status", "connected").await;
        browser.click("on").await;
        wait_line(&device, Level::High).await;
        browser
            .wait_log_line("the reply to LEDon", "RECEIVED: Reply for LEDon")
            .await;
        browser.click("off").await;
        wait_line(&device, Level::Low).await;

        browser.finish().await;
        device.shutdown();
    })
    .await;
}
