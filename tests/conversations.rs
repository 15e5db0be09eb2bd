//! WebSocket conversations with a real client (tokio-tungstenite): the
//! original's echo and LED pages, the callbacks, broadcast, pushing from
//! other threads, server-side close and graceful shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::mpsc;
use std::time::Duration;

use common::{
    HttpConn, WAIT, any_port, close_ws, drain, next_message, send, wait_until, within, ws_connect,
};
use futures_util::StreamExt;
use pinsocket::{CloseCode, Connection, Reject, RunningServer, SendError, Server};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// The original `wstest.html` server: `Reply for <msg>`, 256-byte messages.
fn echo_page_server() -> RunningServer {
    Server::new()
        .bind(any_port())
        .max_message_len(256)
        .on_text(|c, m| {
            c.send_text(&format!("Reply for {m}")).unwrap();
        })
        .start()
        .unwrap()
}

/// The close frame of a `Message::Close`, as (code, reason).
fn close_of(msg: Message) -> (u16, String) {
    match msg {
        Message::Close(Some(CloseFrame { code, reason })) => (u16::from(code), reason.to_string()),
        other => panic!("expected a close frame with a code, got {other:?}"),
    }
}

#[tokio::test]
async fn echo_page_conversation() {
    let server = echo_page_server();
    let mut ws = ws_connect(server.local_addr(), "/").await;

    send(&mut ws, Message::text("Hello world :)")).await;
    assert_eq!(
        next_message(&mut ws).await,
        Message::text("Reply for Hello world :)")
    );

    // The LED page's messages, answered in order.
    for msg in ["HELLO from button", "LEDon", "LEDoff"] {
        send(&mut ws, Message::text(msg)).await;
    }
    for msg in ["HELLO from button", "LEDon", "LEDoff"] {
        assert_eq!(
            next_message(&mut ws).await,
            Message::text(format!("Reply for {msg}"))
        );
    }

    close_ws(ws).await;
    server.shutdown();
}

#[tokio::test]
async fn binary_echo() {
    let server = Server::new()
        .bind(any_port())
        .on_binary(|c, data| c.send_binary(data).unwrap())
        .start()
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/").await;

    let data: Vec<u8> = (0..=255u8).chain([0, 0xff, 0x80]).collect();
    send(&mut ws, Message::binary(data.clone())).await;
    assert_eq!(next_message(&mut ws).await, Message::binary(data));
    send(&mut ws, Message::binary(Vec::new())).await;
    assert_eq!(next_message(&mut ws).await, Message::binary(Vec::new()));

    close_ws(ws).await;
    server.shutdown();
}

/// What `on_accept` saw.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    path: String,
    conn_path: String,
    custom: Option<String>,
    host: Option<String>,
    peer_ip: IpAddr,
    conn_peer_ip: IpAddr,
}

#[tokio::test]
async fn on_accept_sees_path_headers_and_peer() {
    let (tx, rx) = mpsc::channel();
    let server = Server::new()
        .bind(any_port())
        .on_accept(move |conn, req| {
            tx.send(Seen {
                path: req.path().to_owned(),
                conn_path: conn.path().to_owned(),
                custom: req.header("x-pinsocket-test").map(str::to_owned),
                host: req.header("HOST").map(str::to_owned),
                peer_ip: req.peer_addr().ip(),
                conn_peer_ip: conn.peer_addr().ip(),
            })
            .unwrap();
            Ok(())
        })
        .start()
        .unwrap();
    let addr = server.local_addr();

    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/ws?x=1").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("X-Pinsocket-Test", "hello there".parse().unwrap());
    let (ws, response) = within("handshake", tokio_tungstenite::connect_async(request))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);

    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    assert_eq!(
        rx.recv_timeout(WAIT).unwrap(),
        Seen {
            path: "/ws?x=1".into(),
            conn_path: "/ws?x=1".into(),
            custom: Some("hello there".into()),
            host: Some(addr.to_string()),
            peer_ip: localhost,
            conn_peer_ip: localhost,
        }
    );

    close_ws(ws).await;
    server.shutdown();
}

#[tokio::test]
async fn on_accept_rejection_is_an_http_error() {
    let (closed_tx, closed_rx) = mpsc::channel::<u16>();
    let server = Server::new()
        .bind(any_port())
        .on_accept(|_, _| Err(Reject::new(403, "nope")))
        .on_close(move |_, code, _| closed_tx.send(code.0).unwrap())
        .start()
        .unwrap();
    let addr = server.local_addr();

    let err = within(
        "refused handshake",
        tokio_tungstenite::connect_async(format!("ws://{addr}/")),
    )
    .await
    .unwrap_err();
    match err {
        WsError::Http(response) => assert_eq!(response.status(), 403),
        other => panic!("expected an HTTP error, got {other:?}"),
    }

    // The same over raw TCP: the exact status and message, then the close.
    let mut conn = HttpConn::connect(addr).await;
    conn.send(&common::upgrade_request("/")).await;
    let response = conn.response(false).await;
    assert_eq!(response.status, 403);
    assert!(response.head.starts_with("HTTP/1.1 403 Forbidden\r\n"));
    assert_eq!(response.text(), "nope\n");
    assert_eq!(response.header("connection"), Some("close"));
    conn.expect_eof().await;
    drop(conn);

    assert_eq!(server.clients().len(), 0);
    server.shutdown();
    // A refused handshake never opened a WebSocket, so nothing was closed.
    assert_eq!(closed_rx.try_iter().collect::<Vec<_>>(), Vec::<u16>::new());
}

#[tokio::test]
async fn a_panicking_on_accept_is_answered_500_and_the_server_carries_on() {
    let (closed_tx, closed_rx) = mpsc::channel::<u16>();
    let server = Server::new()
        .bind(any_port())
        .on_accept(|conn, _| {
            if conn.path() == "/boom" {
                panic!("on_accept failed on purpose");
            }
            Ok(())
        })
        .on_close(move |_, code, _| closed_tx.send(code.0).unwrap())
        .start()
        .unwrap();
    let addr = server.local_addr();

    let mut conn = HttpConn::connect(addr).await;
    conn.send(&common::upgrade_request("/boom")).await;
    let response = conn.response(false).await;
    assert!(
        response
            .head
            .starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{}",
        response.head
    );
    assert_eq!(response.header("connection"), Some("close"));
    conn.expect_eof().await;
    drop(conn);
    assert_eq!(server.clients().len(), 0);

    // Other clients are served as before.
    let (mut ws, _) = within(
        "handshake after the panic",
        tokio_tungstenite::connect_async(format!("ws://{addr}/")),
    )
    .await
    .unwrap();
    assert_eq!(server.clients().len(), 1);
    ws.close(None).await.unwrap();
    drop(ws);
    // Waited for, not assumed done by the time shutdown returns.
    closed_rx
        .recv_timeout(WAIT)
        .expect("on_close for the accepted WebSocket");
    server.shutdown();
    // Only the accepted WebSocket was ever open, so only it was closed.
    assert_eq!(closed_rx.try_iter().count(), 0);
}

#[tokio::test]
async fn a_panicking_message_callback_closes_only_its_connection_with_1011() {
    let (closed_tx, closed_rx) = mpsc::channel::<u16>();
    let server = Server::new()
        .bind(any_port())
        .on_text(|conn, text| {
            assert_ne!(text, "boom", "on_text failed on purpose");
            let _ = conn.send_text(&format!("Reply for {text}"));
        })
        .on_close(move |_, code, _| closed_tx.send(code.0).unwrap())
        .start()
        .unwrap();
    let addr = server.local_addr();
    let mut other = ws_connect(addr, "/").await;
    let mut ws = ws_connect(addr, "/").await;

    send(&mut ws, Message::text("hello")).await;
    assert_eq!(
        next_message(&mut ws).await,
        Message::text("Reply for hello")
    );
    send(&mut ws, Message::text("boom")).await;
    match next_message(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1011),
        other => panic!("expected close 1011, got {other:?}"),
    }
    within("end of stream", async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    drop(ws);
    wait_until("the failed client is gone", WAIT, || {
        server.clients().len() == 1
    })
    .await;

    // The other client is served as before.
    send(&mut other, Message::text("still there")).await;
    assert_eq!(
        next_message(&mut other).await,
        Message::text("Reply for still there")
    );
    close_ws(other).await;
    // Waited for: on_close runs after the client has seen the end of TCP.
    let mut codes: Vec<u16> = (0..2)
        .map(|_| closed_rx.recv_timeout(WAIT).expect("on_close"))
        .collect();
    server.shutdown();
    codes.extend(closed_rx.try_iter());
    codes.sort_unstable();
    // The other client closed with an empty close frame: 1005.
    assert_eq!(codes, [1005, 1011]);
}

#[tokio::test]
async fn message_sent_from_on_accept_arrives_first() {
    let server = Server::new()
        .bind(any_port())
        .on_accept(|conn, _| {
            conn.send_text("welcome").unwrap();
            conn.send_binary(b"\x01\x02").unwrap();
            Ok(())
        })
        .on_text(|c, m| c.send_text(&format!("Reply for {m}")).unwrap())
        .start()
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/").await;
    // Sent right away: the replies must still come after the welcome.
    send(&mut ws, Message::text("first")).await;

    assert_eq!(next_message(&mut ws).await, Message::text("welcome"));
    assert_eq!(
        next_message(&mut ws).await,
        Message::binary(b"\x01\x02".to_vec())
    );
    assert_eq!(
        next_message(&mut ws).await,
        Message::text("Reply for first")
    );

    close_ws(ws).await;
    server.shutdown();
}

#[tokio::test]
async fn on_close_gets_the_clients_code_and_reason_once() {
    let (tx, rx) = mpsc::channel();
    let server = Server::new()
        .bind(any_port())
        .on_close(move |conn, code, reason| {
            tx.send((conn.id(), code.0, reason.to_owned())).unwrap();
        })
        .start()
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/").await;

    within(
        "send close",
        ws.close(Some(CloseFrame {
            code: 4001.into(),
            reason: "bye".into(),
        })),
    )
    .await
    .unwrap();
    // The server echoes the code (RFC 6455 §5.5.1), with no reason of its own.
    assert_eq!(close_of(next_message(&mut ws).await), (4001, String::new()));
    drain(&mut ws).await;
    drop(ws);

    let (id, code, reason) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!((code, reason.as_str()), (4001, "bye"));
    assert!(id > 0);
    wait_until("client removed", WAIT, || server.clients().is_empty()).await;
    server.shutdown();
    // Shutdown dropped the callback; every call it made is in the channel.
    assert_eq!(rx.try_iter().count(), 0, "on_close called more than once");
}

#[tokio::test]
async fn broadcast_reaches_every_client() {
    let server = Server::new().bind(any_port()).start().unwrap();
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(ws_connect(addr, "/").await);
    }
    // A client is registered just after its handshake response is written.
    wait_until("5 clients registered", WAIT, || server.clients().len() == 5).await;

    assert_eq!(server.clients().broadcast_text("x"), 5);
    for ws in &mut clients {
        assert_eq!(next_message(ws).await, Message::text("x"));
    }
    assert_eq!(server.clients().broadcast_binary(&[7, 8, 9]), 5);
    for ws in &mut clients {
        assert_eq!(next_message(ws).await, Message::binary(vec![7, 8, 9]));
    }
    assert_eq!(server.clients().all().len(), 5);

    for ws in clients {
        close_ws(ws).await;
    }
    wait_until("all clients removed", WAIT, || server.clients().is_empty()).await;
    assert_eq!(server.clients().broadcast_text("nobody"), 0);
    server.shutdown();
}

#[tokio::test]
async fn push_from_another_thread() {
    let (tx, rx) = mpsc::channel::<Connection>();
    let server = Server::new()
        .bind(any_port())
        .on_accept(move |conn, _| {
            tx.send(conn.clone()).unwrap();
            Ok(())
        })
        .start()
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/").await;

    let pusher = std::thread::spawn(move || {
        let conn = rx.recv_timeout(WAIT).unwrap();
        conn.send_text("pushed")
    });
    assert_eq!(next_message(&mut ws).await, Message::text("pushed"));
    let joined = within(
        "pusher thread",
        tokio::task::spawn_blocking(move || pusher.join()),
    )
    .await
    .unwrap();
    assert_eq!(joined.unwrap(), Ok(()));

    close_ws(ws).await;
    server.shutdown();
}

#[tokio::test]
async fn server_side_close() {
    let (tx, rx) = mpsc::channel::<Connection>();
    let (closed_tx, closed_rx) = mpsc::channel();
    let server = Server::new()
        .bind(any_port())
        .on_accept(move |conn, _| {
            tx.send(conn.clone()).unwrap();
            Ok(())
        })
        .on_close(move |_, code, reason| closed_tx.send((code.0, reason.to_owned())).unwrap())
        .start()
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/").await;
    let conn = rx.recv_timeout(WAIT).unwrap();
    assert!(conn.is_open());

    // Codes that may not go on the wire are refused, and nothing changes.
    assert_eq!(
        conn.close(CloseCode(1005), "no"),
        Err(SendError::InvalidCloseCode(1005))
    );
    assert!(conn.is_open());

    assert_eq!(conn.close(CloseCode(4000), "done"), Ok(()));
    assert!(!conn.is_open());
    assert_eq!(conn.send_text("late"), Err(SendError::Closed));
    assert_eq!(conn.send_binary(b"late"), Err(SendError::Closed));
    assert_eq!(conn.close(CloseCode(4000), "again"), Err(SendError::Closed));

    assert_eq!(
        close_of(next_message(&mut ws).await),
        (4000, "done".to_owned())
    );
    // tungstenite answers the close; the server then ends TCP.
    drain(&mut ws).await;
    drop(ws);

    assert_eq!(
        closed_rx.recv_timeout(WAIT).unwrap(),
        (4000, "done".to_owned())
    );
    assert_eq!(conn.send_text("later"), Err(SendError::Closed));
    wait_until("client removed", WAIT, || server.clients().is_empty()).await;
    server.shutdown();
}

#[tokio::test]
async fn shutdown_closes_clients_with_going_away() {
    let server = Server::new()
        .bind(any_port())
        .close_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    let mut ws = ws_connect(server.local_addr(), "/").await;
    wait_until("client registered", WAIT, || server.clients().len() == 1).await;

    let shutdown = tokio::task::spawn_blocking(move || server.shutdown());
    assert_eq!(
        close_of(next_message(&mut ws).await),
        (1001, "server shutting down".to_owned())
    );
    drain(&mut ws).await;
    drop(ws);
    within("shutdown", shutdown).await.unwrap();
}
