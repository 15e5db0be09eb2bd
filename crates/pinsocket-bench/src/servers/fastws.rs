//! fastwebsockets behind hyper's HTTP/1 server.

use fastwebsockets::upgrade::{self, UpgradeFut};
use fastwebsockets::{
    FragmentCollector, FragmentCollectorRead, Frame, OpCode, Payload, WebSocketError,
};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::*;

pub(super) async fn accept_loop(listener: TcpListener, bcast: Option<broadcast::Sender<Bytes>>) {
    accept_each(listener, bcast, |stream, bcast| async move {
        let service = service_fn(move |req| respond(req, bcast.clone()));
        let _ = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades()
            .await;
    })
    .await;
}

async fn respond(
    mut req: Request<Incoming>,
    bcast: Option<broadcast::Sender<Bytes>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let status = |code: StatusCode| {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = code;
        Ok(response)
    };
    if upgrade::is_upgrade_request(&req) {
        let Ok((response, fut)) = upgrade::upgrade(&mut req) else {
            return status(StatusCode::BAD_REQUEST);
        };
        match bcast {
            None => tokio::spawn(echo(fut)),
            Some(bcast) => tokio::spawn(with_broadcast(fut, bcast)),
        };
        return Ok(response.map(|_| Full::new(Bytes::new())));
    }
    match req.uri().path() {
        "/" | "/index.html" => Ok(Response::builder()
            .header("Content-Type", "text/html; charset=utf-8")
            .header("Cache-Control", "no-cache")
            .body(Full::new(Bytes::from_static(index_page())))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))),
        _ => status(StatusCode::NOT_FOUND),
    }
}

fn reply_to(payload: &[u8]) -> Option<String> {
    std::str::from_utf8(payload)
        .ok()
        .map(|msg| format!("Reply for {msg}"))
}

/// One task per connection, as fastwebsockets' examples do.
async fn echo(fut: UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text => {
                if let Some(reply) = reply_to(&frame.payload) {
                    ws.write_frame(Frame::text(Payload::Owned(reply.into_bytes())))
                        .await?;
                }
            }
            _ => {}
        }
    }
}

/// fastwebsockets' `read_frame` cannot be cancelled part-way, so a
/// connection that must also send broadcasts splits: this task reads and
/// replies, a second one forwards the broadcast channel, and the write
/// half is shared behind an async mutex.
async fn with_broadcast(
    fut: UpgradeFut,
    bcast: broadcast::Sender<Bytes>,
) -> Result<(), WebSocketError> {
    let ws = fut.await?;
    let (rx, tx) = ws.split(tokio::io::split);
    let mut rx = FragmentCollectorRead::new(rx);
    let tx = Arc::new(tokio::sync::Mutex::new(tx));
    let mut sub = bcast.subscribe();
    let forward = tokio::spawn({
        let tx = tx.clone();
        async move {
            loop {
                match sub.recv().await {
                    Ok(msg) => {
                        let frame = Frame::text(Payload::Borrowed(&msg));
                        if tx.lock().await.write_frame(frame).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });
    let result = async {
        loop {
            let mut obligated = |frame: Frame<'static>| {
                let tx = tx.clone();
                async move { tx.lock().await.write_frame(frame).await }
            };
            let frame = rx.read_frame(&mut obligated).await?;
            match frame.opcode {
                OpCode::Close => return Ok(()),
                OpCode::Text => match frame.payload.strip_prefix(BROADCAST_PREFIX.as_bytes()) {
                    Some(rest) => {
                        let _ = bcast.send(Bytes::copy_from_slice(rest));
                    }
                    None => {
                        if let Some(reply) = reply_to(&frame.payload) {
                            let reply = Frame::text(Payload::Owned(reply.into_bytes()));
                            tx.lock().await.write_frame(reply).await?;
                        }
                    }
                },
                _ => {}
            }
        }
    }
    .await;
    forward.abort();
    result
}
