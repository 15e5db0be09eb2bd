//! The end of the close handshake: after our close frame is written, wait
//! for the client's, close our side, and drain until the client's FIN.

use std::future::poll_fn;

use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, timeout_at};

use super::Session;
use super::end::End;
use super::run::Flow;

impl Session {
    /// Our close frame (or the echo of the client's) is written. If the
    /// client may still answer with its own, wait for it; then close our
    /// side first, as RFC 6455 §7.1.1 asks of servers. After a protocol
    /// error the client may still be sending: read until its FIN, since
    /// unread input would turn the close into a reset, which can destroy
    /// the close frame before the client reads it. Both waits end by the
    /// close timeout, counted from here.
    pub(super) async fn finish_close(&mut self) -> End {
        self.open = false;
        let deadline = Instant::now() + self.link.inner.config.close_timeout;
        if !self.rx.is_closed() {
            let _ = timeout_at(deadline, async {
                while !self.rx.is_closed() {
                    if !self.read_when_ready().await {
                        return;
                    }
                }
            })
            .await;
        }
        let _ = self.stream.shutdown().await;
        if !self.peer_closed {
            let _ = timeout_at(deadline, async { while self.read_when_ready().await {} }).await;
        }
        End::Closed
    }

    /// Waits for input and reads it; false at EOF or on an error.
    async fn read_when_ready(&mut self) -> bool {
        matches!(poll_fn(|cx| self.poll_read(cx)).await, Flow::Continue)
    }
}
