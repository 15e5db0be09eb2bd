//! The sweep task: every tick, one pass of the liveness check over every
//! open WebSocket (the pass itself is `Clients::sweep`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::shared::{ServerShared, until_shutdown};
use crate::clients::Timeouts;

/// Pings idle connections, drops those that stopped answering or reading
/// and those whose close takes too long, and asks quiet ones to rest; also
/// during shutdown, until the last connection is gone, so a client that
/// stopped reading cannot hold shutdown past the close timeout.
///
/// Ticks every quarter of the shortest of the timeouts, clamped to between
/// 10 ms and 1 s.
pub(super) async fn sweep(inner: Arc<ServerShared>, mut done: watch::Receiver<bool>) {
    let config = &inner.config;
    let timeouts = Timeouts {
        ping_interval: config.ping_interval,
        ping_timeout: config.ping_timeout,
        send_timeout: config.send_timeout,
        close_timeout: config.close_timeout,
        rest_after: config.rest_after,
    };
    let tick = (config
        .ping_interval
        .min(config.ping_timeout)
        .min(config.send_timeout)
        .min(config.close_timeout)
        / 4)
    .clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = until_shutdown(&mut done) => return,
            _ = interval.tick() => inner.clients.sweep(&timeouts),
        }
    }
}
