//! The measurements, each against one server process: round trips, message
//! and handshake and page throughput with the server's CPU time, idle
//! memory and 10,000 connections, and broadcast. Every one is bounded in
//! count and in time.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::timeout;

use crate::client::{self, MESSAGE, Reader, WsClient};
use crate::proc::ServerProc;

/// Longest a single step (a round trip, a broadcast) may take before the
/// measurement is abandoned as failed.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections opened at once when opening many.
const OPEN_CONCURRENCY: usize = 32;

/// Operations done in a timed window, and the server's CPU time in it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Load {
    pub(crate) ops: u64,
    pub(crate) elapsed: Duration,
    pub(crate) cpu: Duration,
    /// The client's own CPU time in the window, to tell a client-bound run.
    pub(crate) client_cpu: Duration,
    /// CPU time of everything else on the machine in the window: other
    /// processes disturbing the measurement.
    pub(crate) other_cpu: Duration,
}

impl Load {
    pub(crate) fn add(&mut self, other: Load) {
        self.ops += other.ops;
        self.elapsed += other.elapsed;
        self.cpu += other.cpu;
        self.client_cpu += other.client_cpu;
        self.other_cpu += other.other_cpu;
    }

    /// Operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU time per operation, in microseconds.
    pub(crate) fn cpu_us_per_op(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / (self.ops.max(1) as f64)
    }

    /// Share of the window (in CPUs) that the server, the client and
    /// everything else were busy.
    pub(crate) fn busy(&self) -> Busy {
        let window = self.elapsed.as_secs_f64().max(1e-9);
        Busy {
            server: self.cpu.as_secs_f64() / window,
            client: self.client_cpu.as_secs_f64() / window,
            other: self.other_cpu.as_secs_f64() / window,
        }
    }
}

/// CPUs kept busy during a window, by whom.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Busy {
    pub(crate) server: f64,
    pub(crate) client: f64,
    pub(crate) other: f64,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0}% / {:.0}% / {:.0}%",
            self.server * 100.0,
            self.client * 100.0,
            self.other * 100.0
        )
    }
}

/// CPU readings at the start of a window.
struct Meter {
    server: Duration,
    client: Duration,
    machine: Duration,
    start: Instant,
}

impl Meter {
    fn start(server: &ServerProc) -> io::Result<Meter> {
        Ok(Meter {
            server: server.cpu()?,
            client: own_cpu()?,
            machine: crate::proc::machine_busy()?,
            start: Instant::now(),
        })
    }

    /// The window so far, as a [`Load`] of `ops` operations.
    fn stop(&self, server: &ServerProc, ops: u64) -> io::Result<Load> {
        let elapsed = self.start.elapsed();
        let cpu = server.cpu()?.saturating_sub(self.server);
        let client_cpu = own_cpu()?.saturating_sub(self.client);
        let machine = crate::proc::machine_busy()?.saturating_sub(self.machine);
        Ok(Load {
            ops,
            elapsed,
            cpu,
            client_cpu,
            other_cpu: machine.saturating_sub(cpu + client_cpu),
        })
    }
}

/// The `q`-th percentile (0–100) of sorted samples, nearest rank.
pub(crate) fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Round trips of a 16-byte text message on one connection, one at a
/// time: `warmup` unrecorded, then `count` recorded (unsorted).
pub(crate) async fn round_trips(
    server: &ServerProc,
    warmup: usize,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let request = client::upgrade_request(server.addr);
    let frame = client::masked_text(MESSAGE);
    let mut ws = timeout(STEP_TIMEOUT, WsClient::connect(server.addr, &request))
        .await
        .context("handshake timed out")??;
    let mut samples = Vec::with_capacity(count);
    for i in 0..warmup + count {
        let start = Instant::now();
        timeout(STEP_TIMEOUT, ws.round_trip(&frame))
            .await
            .context("round trip timed out")??;
        if i >= warmup {
            samples.push(start.elapsed());
        }
    }
    Ok(samples)
}

/// Shared by the workers of a timed load.
#[derive(Default)]
pub(crate) struct Phase {
    measuring: AtomicBool,
    stop: AtomicBool,
    ops: AtomicU64,
}

impl Phase {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn done_one(&self) {
        if self.measuring.load(Ordering::Relaxed) {
            self.ops.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs one closed-loop worker per state until told to stop: `warmup`
/// unmeasured, then `duration` measured with the server's CPU time.
async fn timed<S, F, Fut>(
    server: &ServerProc,
    states: Vec<S>,
    warmup: Duration,
    duration: Duration,
    op: F,
) -> anyhow::Result<Load>
where
    S: Send + 'static,
    F: Fn(S, Arc<Phase>) -> Fut,
    Fut: Future<Output = io::Result<()>> + Send + 'static,
{
    let phase = Arc::new(Phase::default());
    let workers: Vec<_> = states
        .into_iter()
        .map(|state| tokio::spawn(op(state, phase.clone())))
        .collect();
    tokio::time::sleep(warmup).await;
    let meter = Meter::start(server)?;
    phase.measuring.store(true, Ordering::Relaxed);
    tokio::time::sleep(duration).await;
    phase.measuring.store(false, Ordering::Relaxed);
    let load = meter.stop(server, phase.ops.load(Ordering::Relaxed))?;
    phase.stop.store(true, Ordering::Relaxed);
    let mut failure = None;
    for worker in workers {
        match timeout(STEP_TIMEOUT, worker).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => failure = Some(anyhow::Error::from(e)),
            Ok(Err(e)) => failure = Some(e.into()),
            Err(_) => failure = Some(anyhow::anyhow!("a client worker did not stop")),
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(load)
}

fn own_cpu() -> io::Result<Duration> {
    crate::proc::cpu_time(std::process::id())
}

/// Opens `n` WebSockets, each proven live by one round trip.
async fn open_many(server: &ServerProc, n: usize) -> anyhow::Result<Vec<WsClient>> {
    let request = Arc::new(client::upgrade_request(server.addr));
    let frame = Arc::new(client::masked_text(MESSAGE));
    let addr = server.addr;
    let batches = (0..OPEN_CONCURRENCY)
        .map(|i| n / OPEN_CONCURRENCY + usize::from(i < n % OPEN_CONCURRENCY))
        .map(|count| {
            let (request, frame) = (request.clone(), frame.clone());
            tokio::spawn(async move {
                let mut open = Vec::with_capacity(count);
                for _ in 0..count {
                    let mut ws = WsClient::connect(addr, &request).await?;
                    ws.round_trip(&frame).await?;
                    open.push(ws);
                }
                io::Result::Ok(open)
            })
        })
        .collect::<Vec<_>>();
    let mut all = Vec::with_capacity(n);
    for batch in batches {
        all.extend(batch.await??);
    }
    Ok(all)
}

/// Messages per second on `conns` connections, each with one message in flight.
pub(crate) async fn messages(
    server: &ServerProc,
    conns: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Load> {
    let clients = timeout(STEP_TIMEOUT, open_many(server, conns))
        .await
        .context("opening connections timed out")??;
    let frame = Arc::new(client::masked_text(MESSAGE));
    timed(server, clients, warmup, duration, move |mut ws, phase| {
        let frame = frame.clone();
        async move {
            while phase.running() {
                ws.round_trip(&frame).await?;
                phase.done_one();
            }
            Ok(())
        }
    })
    .await
}

/// Opening handshakes per second from `workers` clients, each connecting,
/// completing the handshake and closing, over and over.
pub(crate) async fn handshakes(
    server: &ServerProc,
    workers: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Load> {
    let request = Arc::new(client::upgrade_request(server.addr));
    let addr = server.addr;
    let states = vec![(); workers];
    timed(server, states, warmup, duration, move |(), phase| {
        let request = request.clone();
        async move {
            while phase.running() {
                let ws = WsClient::connect(addr, &request).await?;
                drop(ws);
                phase.done_one();
            }
            Ok(())
        }
    })
    .await
}

/// `GET /index.html` per second from `workers` clients, on kept-alive
/// connections or on a new connection per request.
pub(crate) async fn pages(
    server: &ServerProc,
    workers: usize,
    keep_alive: bool,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Load> {
    let page = crate::servers::index_page();
    let request = Arc::new(client::page_request(server.addr, !keep_alive));
    let addr = server.addr;
    let states = vec![(); workers];
    timed(server, states, warmup, duration, move |(), phase| {
        let request = request.clone();
        async move {
            if keep_alive {
                let (read, mut tx) = client::connect(addr).await?.into_split();
                let mut rx = Reader::new(read);
                while phase.running() {
                    tx.write_all(&request).await?;
                    client::read_page(&mut rx, page).await?;
                    phase.done_one();
                }
            } else {
                while phase.running() {
                    let (read, mut tx) = client::connect(addr).await?.into_split();
                    tx.write_all(&request).await?;
                    client::read_page(&mut Reader::new(read), page).await?;
                    phase.done_one();
                }
            }
            Ok(())
        }
    })
    .await
}

/// Resident memory per idle WebSocket, and optionally a larger crowd.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    /// Bytes of server RSS per idle connection.
    pub(crate) per_conn: f64,
    /// With a crowd: connections that got their reply, of how many, how
    /// long the burst took, and the server's RSS then.
    pub(crate) crowd: Option<Crowd>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Crowd {
    pub(crate) served: usize,
    pub(crate) total: usize,
    pub(crate) burst: Duration,
    pub(crate) rss: u64,
}

/// Server RSS before and after opening `idle` WebSockets (each exchanges one
/// message, then sits idle), divided by `idle`. With `crowd` above `idle`,
/// then opens the rest up to `crowd` and sends one message on every
/// connection at once, counting the replies.
/// How long connections stay quiet before memory is read.
const IDLE_SETTLE: Duration = Duration::from_secs(3);

pub(crate) async fn memory(
    server: &ServerProc,
    idle: usize,
    crowd: Option<usize>,
) -> anyhow::Result<Memory> {
    // Warm up what a first connection allocates once (per-thread buffers,
    // the registry), so only per-connection memory is counted.
    drop(open_many(server, OPEN_CONCURRENCY).await?);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss()?;
    let mut clients = timeout(Duration::from_secs(120), open_many(server, idle))
        .await
        .context("opening idle connections timed out")??;
    // Idle means quiet for a while, not just opened: servers that give
    // memory back when a connection goes quiet (pinsocket parks a session
    // after 1 s without input) get the time to do it.
    tokio::time::sleep(IDLE_SETTLE).await;
    let after = server.rss()?;
    let per_conn = after.saturating_sub(before) as f64 / idle.max(1) as f64;
    let crowd = match crowd.filter(|&c| c > idle) {
        None => None,
        Some(total) => {
            let more = timeout(Duration::from_secs(120), open_many(server, total - idle))
                .await
                .context("opening the crowd timed out")??;
            clients.extend(more);
            let frame = Arc::new(client::masked_text(MESSAGE));
            let start = Instant::now();
            let replies: Vec<_> = clients
                .into_iter()
                .map(|mut ws| {
                    let frame = frame.clone();
                    tokio::spawn(async move {
                        let ok = timeout(Duration::from_secs(60), ws.round_trip(&frame))
                            .await
                            .is_ok_and(|r| r.is_ok());
                        (ws, ok)
                    })
                })
                .collect();
            let mut served = 0;
            clients = Vec::with_capacity(total);
            for reply in replies {
                let (ws, ok) = reply.await?;
                served += usize::from(ok);
                clients.push(ws);
            }
            let burst = start.elapsed();
            Some(Crowd {
                served,
                total,
                burst,
                rss: server.rss()?,
            })
        }
    };
    drop(clients);
    Ok(Memory { per_conn, crowd })
}

/// Broadcast results: latency from the trigger to each receiver and to the
/// last one, and deliveries per second with the server's CPU time.
#[derive(Debug, Default)]
pub(crate) struct Broadcast {
    pub(crate) per_receiver: Vec<Duration>,
    pub(crate) last: Vec<Duration>,
    pub(crate) load: Load,
}

/// One client among `receivers` asks the server to broadcast a 16-byte
/// message to all (itself included). Latency: `rounds` broadcasts one at a
/// time (after `warmup` ones). Throughput: for `duration`, keeping `window`
/// broadcasts in flight.
pub(crate) async fn broadcast(
    server: &ServerProc,
    receivers: usize,
    warmup: usize,
    rounds: usize,
    duration: Duration,
    window: usize,
) -> anyhow::Result<Broadcast> {
    let mut trigger = client::BROADCAST_PREFIX.as_bytes().to_vec();
    trigger.extend_from_slice(MESSAGE);
    let trigger = client::masked_text(&trigger);
    let clients = timeout(STEP_TIMEOUT, open_many(server, receivers))
        .await
        .context("opening receivers timed out")??;
    let (events, mut arrivals) = mpsc::unbounded_channel::<Instant>();
    // The write halves stay open: dropping one would half-close its socket.
    let mut writers = Vec::with_capacity(receivers);
    let mut tasks = Vec::with_capacity(receivers);
    for WsClient { mut rx, tx } in clients {
        writers.push(tx);
        let events = events.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok(frame) = rx.frame().await {
                if frame.opcode == 1 && frame.payload == MESSAGE {
                    let _ = events.send(Instant::now());
                }
            }
        }));
    }
    let result = async {
        let Some(sender) = writers.first_mut() else {
            bail!("no receivers");
        };
        let mut out = Broadcast::default();
        let mut arrivals_of_round = Vec::with_capacity(receivers);
        for round in 0..warmup + rounds {
            let start = Instant::now();
            sender.write_all(&trigger).await?;
            arrivals_of_round.clear();
            for _ in 0..receivers {
                let at = timeout(STEP_TIMEOUT, arrivals.recv())
                    .await
                    .context("a broadcast did not arrive")?
                    .context("receivers ended")?;
                arrivals_of_round.push(at - start);
            }
            if round >= warmup {
                out.per_receiver.extend_from_slice(&arrivals_of_round);
                out.last
                    .push(arrivals_of_round.iter().copied().max().unwrap_or_default());
            }
        }
        // Throughput: keep `window` broadcasts in flight.
        let meter = Meter::start(server)?;
        let end = Instant::now() + duration;
        let (mut sent, mut delivered) = (0u64, 0u64);
        let per = receivers as u64;
        while Instant::now() < end {
            while sent * per - delivered < window as u64 * per {
                sender.write_all(&trigger).await?;
                sent += 1;
            }
            timeout(STEP_TIMEOUT, arrivals.recv())
                .await
                .context("a broadcast did not arrive")?
                .context("receivers ended")?;
            delivered += 1;
        }
        out.load = meter.stop(server, delivered)?;
        // Let the rest arrive before closing, so nothing is cut mid-write.
        while delivered < sent * per {
            timeout(STEP_TIMEOUT, arrivals.recv())
                .await
                .context("a broadcast did not arrive")?
                .context("receivers ended")?;
            delivered += 1;
        }
        Ok(out)
    }
    .await;
    for task in tasks {
        task.abort();
    }
    result
}
