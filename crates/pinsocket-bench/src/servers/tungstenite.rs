//! tokio-tungstenite with its default configuration.

use tokio_tungstenite::tungstenite::Message;

use super::*;

pub(super) async fn accept_loop(listener: TcpListener, bcast: Option<broadcast::Sender<Message>>) {
    accept_each(listener, bcast, |stream, bcast| async move {
        let _ = serve(stream, bcast).await;
    })
    .await;
}

async fn serve(
    stream: TcpStream,
    bcast: Option<broadcast::Sender<Message>>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let Some(bcast) = bcast else {
        // One task, read then reply: tokio-tungstenite's echo example.
        while let Some(msg) = ws.next().await {
            if let Message::Text(text) = msg? {
                ws.send(Message::text(format!("Reply for {}", text.as_str())))
                    .await?;
            }
        }
        return Ok(());
    };
    // The stream's `next` may be cancelled, so one task selects
    // between the socket and the broadcast channel.
    let mut sub = bcast.subscribe();
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => match text.as_str().strip_prefix(BROADCAST_PREFIX) {
                    Some(rest) => {
                        let _ = bcast.send(Message::text(rest));
                    }
                    None => ws.send(Message::text(format!("Reply for {}", text.as_str()))).await?,
                },
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            },
            msg = sub.recv() => match msg {
                Ok(msg) => ws.send(msg).await?,
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}
