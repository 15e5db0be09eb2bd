//! The order of a run: which servers are started for which measurements,
//! how rounds interleave between servers (so a noisy moment on the shared
//! machine does not land on one server only), and how rounds add up.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::metrics::{self, Load, percentile};
use crate::proc::ServerProc;
use crate::report::{CONNS, Metric, Results};
use crate::servers::{App, Kind};

/// What to run, and how long.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Servers measured in the round-trip section.
    pub(crate) kinds: Vec<Kind>,
    pub(crate) pin: bool,
    /// Worker threads of every server.
    pub(crate) threads: usize,
    /// Round trips: interleaved rounds, warm-up and recorded per round.
    pub(crate) rtt: (usize, usize, usize),
    /// Timed sections: interleaved rounds, warm-up and window per round.
    pub(crate) rounds: usize,
    pub(crate) warmup: Duration,
    pub(crate) window: Duration,
    /// Run the throughput, handshake, page and broadcast sections.
    pub(crate) loads: bool,
    /// Clients for handshakes and pages.
    pub(crate) workers: usize,
    /// Broadcast: receivers, warm-up rounds and recorded rounds per round.
    pub(crate) broadcast: (usize, usize, usize),
    /// Broadcasts kept in flight for the throughput part.
    pub(crate) broadcast_window: usize,
    /// Servers of the memory section, idle connections, and the crowd.
    pub(crate) memory_kinds: Vec<Kind>,
    pub(crate) idle: usize,
    pub(crate) crowd: Option<usize>,
    /// Wait for other processes to leave the machine idle before rounds.
    pub(crate) settle: bool,
}

impl Plan {
    /// Keeps only `kinds` (pinsocket always stays: it is what is measured).
    pub(crate) fn only(mut self, kinds: &[Kind]) -> Plan {
        if !kinds.is_empty() {
            let keep = |k: &Kind| *k == Kind::Pinsocket || kinds.contains(k);
            self.kinds.retain(keep);
            self.memory_kinds.retain(keep);
        }
        self
    }

    /// `all`: every measurement for every server.
    pub(crate) fn full(pin: bool, threads: usize, rounds: usize, quick: bool) -> Plan {
        Plan {
            kinds: Kind::ALL.to_vec(),
            pin,
            threads,
            rtt: if quick {
                (1, 500, 2_000)
            } else {
                (3, 1_000, 10_000)
            },
            rounds: if quick { 1 } else { rounds.max(1) },
            warmup: Duration::from_millis(if quick { 100 } else { 300 }),
            window: if quick {
                Duration::from_millis(400)
            } else {
                Duration::from_millis(1500)
            },
            loads: true,
            workers: 8,
            broadcast: if quick { (100, 10, 50) } else { (100, 50, 300) },
            broadcast_window: 8,
            memory_kinds: Kind::ALL.to_vec(),
            idle: if quick { 2_000 } else { 5_000 },
            crowd: if quick { None } else { Some(10_000) },
            settle: true,
        }
    }

    /// `smoke`: pinsocket's round trip (the floor beside it) and its idle
    /// memory, in a few seconds.
    pub(crate) fn smoke(pin: bool, threads: usize) -> Plan {
        Plan {
            kinds: vec![Kind::Pinsocket, Kind::Floor],
            rtt: (1, 500, 3_000),
            rounds: 1,
            loads: false,
            memory_kinds: vec![Kind::Pinsocket],
            idle: 2_000,
            crowd: None,
            // The gates are gross; waiting would only slow CI down.
            settle: false,
            ..Plan::full(pin, threads, 1, true)
        }
    }
}

/// A machine busier than this (in CPUs) while the bench idles is running
/// someone else's work.
const QUIET_BELOW: f64 = 0.2;
/// How long one look at the machine lasts.
const QUIET_SAMPLE: Duration = Duration::from_millis(200);
/// Longest wait for quiet before one round, and for the whole run.
const QUIET_WAIT: Duration = Duration::from_secs(20);
const QUIET_BUDGET: Duration = Duration::from_secs(180);

/// Progress on stderr, stamped with the time since the start; and the
/// wait for a quiet machine before each round.
struct Progress {
    start: Instant,
    settle: bool,
    waited: std::cell::Cell<Duration>,
}

impl Progress {
    fn say(&self, what: &str) {
        eprintln!("[{:6.1}s] {what}", self.start.elapsed().as_secs_f64());
    }

    /// Waits (bounded) until other processes leave the machine idle, so a
    /// round is not measured while someone else's build runs. The bench's
    /// own idle servers use no CPU, so all busy time seen here is foreign.
    async fn quiet(&self) {
        if !self.settle {
            return;
        }
        let start = Instant::now();
        while self.waited.get() + start.elapsed() < QUIET_BUDGET && start.elapsed() < QUIET_WAIT {
            let Ok(before) = crate::proc::machine_busy() else {
                break;
            };
            tokio::time::sleep(QUIET_SAMPLE).await;
            let Ok(after) = crate::proc::machine_busy() else {
                break;
            };
            let busy = after.saturating_sub(before).as_secs_f64() / QUIET_SAMPLE.as_secs_f64();
            if busy < QUIET_BELOW {
                break;
            }
        }
        let waited = start.elapsed().saturating_sub(QUIET_SAMPLE);
        if waited >= Duration::from_millis(100) {
            self.say(&format!(
                "waited {:.1} s for other processes",
                waited.as_secs_f64()
            ));
        }
        self.waited.set(self.waited.get() + waited);
    }
}

/// Starts one server per kind; those that fail are marked failed for `metrics`.
fn start_all(
    plan: &Plan,
    kinds: &[Kind],
    app: App,
    results: &mut Results,
    metrics: &[Metric],
) -> Vec<ServerProc> {
    let mut servers = Vec::new();
    for &kind in kinds {
        match ServerProc::start(kind, app, plan.threads, plan.pin) {
            Ok(server) => servers.push(server),
            Err(e) => results.fail(kind, metrics, &e),
        }
    }
    servers
}

/// Runs `plan`, filling `results`.
pub(crate) async fn run(plan: &Plan, results: &mut Results) {
    let progress = Progress {
        start: Instant::now(),
        settle: plan.settle,
        waited: std::cell::Cell::new(Duration::ZERO),
    };
    results.idle = plan.idle;
    results.crowd = plan.crowd;

    let mut echo_metrics = Metric::RTT.to_vec();
    if plan.loads {
        echo_metrics.extend(Metric::throughput());
        echo_metrics.extend(Metric::HANDSHAKES);
        echo_metrics.extend(Metric::PAGES);
    }
    let servers = start_all(plan, &plan.kinds, App::Echo, results, &echo_metrics);
    if let Some(server) = servers.first() {
        results.server_cpus = server.cpus_allowed();
    }

    // Round trips, rounds interleaved across servers.
    let mut samples: HashMap<Kind, Vec<std::time::Duration>> = HashMap::new();
    let (rounds, warmup, count) = plan.rtt;
    for round in 0..rounds {
        for server in &servers {
            if results.has_failed(server.kind, Metric::RttP50) {
                continue;
            }
            progress.quiet().await;
            match metrics::round_trips(server, warmup, count).await {
                Ok(mut got) => {
                    got.sort_unstable();
                    progress.say(&format!(
                        "round trip {}/{rounds} {}: p50 {:?}",
                        round + 1,
                        server.kind.name(),
                        percentile(&got, 50.0)
                    ));
                    samples.entry(server.kind).or_default().extend(got);
                }
                Err(e) => results.fail(server.kind, &Metric::RTT, &e),
            }
        }
    }
    for (kind, mut all) in samples {
        if results.has_failed(kind, Metric::RttP50) {
            continue;
        }
        all.sort_unstable();
        set_percentiles(
            results,
            kind,
            &all,
            [(Metric::RttP50, 50.0), (Metric::RttP99, 99.0)],
        );
    }

    if plan.loads {
        for conns in CONNS {
            let metrics = [Metric::Rate(conns), Metric::CpuPerMessage(conns)];
            let loads = interleave(plan, &servers, results, &metrics, &progress, |s| {
                metrics::messages(s, conns, plan.warmup, plan.window)
            })
            .await;
            for (kind, rounds) in loads {
                results.set_rate(kind, Metric::Rate(conns), &rounds.best);
                results.set(
                    kind,
                    Metric::CpuPerMessage(conns),
                    rounds.total.cpu_us_per_op(),
                );
            }
        }

        let metrics = Metric::HANDSHAKES;
        let loads = interleave(plan, &servers, results, &metrics, &progress, |s| {
            metrics::handshakes(s, plan.workers, plan.warmup, plan.window)
        })
        .await;
        for (kind, rounds) in loads {
            results.set_rate(kind, Metric::Handshakes, &rounds.best);
            results.set(kind, Metric::CpuPerHandshake, rounds.total.cpu_us_per_op());
        }

        let page_servers: Vec<ServerProc> = servers
            .into_iter()
            .filter(|s| s.kind.serves_pages())
            .collect();
        for kind in &plan.kinds {
            if !kind.serves_pages() {
                results.not_applicable(*kind, &Metric::PAGES);
            }
        }
        let metrics = [Metric::PagesKeepAlive, Metric::CpuPerPage];
        let loads = interleave(plan, &page_servers, results, &metrics, &progress, |s| {
            metrics::pages(s, plan.workers, true, plan.warmup, plan.window)
        })
        .await;
        for (kind, rounds) in loads {
            results.set_rate(kind, Metric::PagesKeepAlive, &rounds.best);
            results.set(kind, Metric::CpuPerPage, rounds.total.cpu_us_per_op());
        }
        let metrics = [Metric::PagesNewConn];
        let loads = interleave(plan, &page_servers, results, &metrics, &progress, |s| {
            metrics::pages(s, plan.workers, false, plan.warmup, plan.window)
        })
        .await;
        for (kind, rounds) in loads {
            results.set_rate(kind, Metric::PagesNewConn, &rounds.best);
        }
        drop(page_servers);

        broadcast(plan, results, &progress).await;
    } else {
        drop(servers);
    }

    memory(plan, results, &progress).await;
    results.quiet_wait = progress.waited.get();
}

/// The rounds of one timed measurement on one server.
#[derive(Debug, Default, Clone, Copy)]
struct Rounds {
    /// The round with the highest rate: other processes on a shared
    /// machine only ever lower a rate, so the best round is the least
    /// disturbed one.
    best: Load,
    /// Every round added up, for CPU time per operation.
    total: Load,
}

impl Rounds {
    fn add(&mut self, load: Load) {
        if load.rate() > self.best.rate() {
            self.best = load;
        }
        self.total.add(load);
    }
}

/// Runs `measure` on every server, `plan.rounds` times, interleaved.
/// Failures are recorded for `metrics`.
async fn interleave<'a, F, Fut>(
    plan: &Plan,
    servers: &'a [ServerProc],
    results: &mut Results,
    metrics: &[Metric],
    progress: &Progress,
    measure: F,
) -> HashMap<Kind, Rounds>
where
    F: Fn(&'a ServerProc) -> Fut,
    Fut: Future<Output = anyhow::Result<Load>>,
{
    let mut total: HashMap<Kind, Rounds> = HashMap::new();
    for round in 0..plan.rounds {
        for server in servers {
            if results.has_failed(server.kind, metrics[0]) {
                continue;
            }
            progress.quiet().await;
            match measure(server).await {
                Ok(load) => {
                    progress.say(&format!(
                        "{:?} {}/{} {}: {:.0}/s, {:.2} µs server CPU each; busy server/client/other {}",
                        metrics[0],
                        round + 1,
                        plan.rounds,
                        server.kind.name(),
                        load.rate(),
                        load.cpu_us_per_op(),
                        load.busy()
                    ));
                    total.entry(server.kind).or_default().add(load);
                }
                Err(e) => {
                    progress.say(&format!("{:?} {}: {e:#}", metrics[0], server.kind.name()));
                    results.fail(server.kind, metrics, &e);
                    total.remove(&server.kind);
                }
            }
        }
    }
    total.retain(|kind, _| !results.has_failed(*kind, metrics[0]));
    total
}

async fn broadcast(plan: &Plan, results: &mut Results, progress: &Progress) {
    let metrics = Metric::BROADCAST;
    let servers = start_all(plan, &plan.kinds, App::Broadcast, results, &metrics);
    let (receivers, warmup, rounds) = plan.broadcast;
    let mut all: HashMap<Kind, (metrics::Broadcast, Rounds)> = HashMap::new();
    for round in 0..plan.rounds {
        for server in &servers {
            if results.has_failed(server.kind, metrics[0]) {
                continue;
            }
            progress.quiet().await;
            let got = metrics::broadcast(
                server,
                receivers,
                warmup,
                rounds,
                plan.window,
                plan.broadcast_window,
            )
            .await;
            match got {
                Ok(got) => {
                    progress.say(&format!(
                        "broadcast {}/{} {}: last receiver p50 {:?}, {:.0} deliveries/s; busy server/client/other {}",
                        round + 1,
                        plan.rounds,
                        server.kind.name(),
                        {
                            let mut last = got.last.clone();
                            last.sort_unstable();
                            percentile(&last, 50.0)
                        },
                        got.load.rate(),
                        got.load.busy()
                    ));
                    let (entry, rounds) = all.entry(server.kind).or_default();
                    entry.per_receiver.extend(got.per_receiver);
                    entry.last.extend(got.last);
                    rounds.add(got.load);
                }
                Err(e) => {
                    progress.say(&format!("broadcast {}: {e:#}", server.kind.name()));
                    results.fail(server.kind, &metrics, &e);
                }
            }
        }
    }
    for (kind, (mut got, rounds)) in all {
        if results.has_failed(kind, metrics[0]) {
            continue;
        }
        got.per_receiver.sort_unstable();
        got.last.sort_unstable();
        set_percentiles(
            results,
            kind,
            &got.per_receiver,
            [(Metric::BroadcastP50, 50.0), (Metric::BroadcastP99, 99.0)],
        );
        set_percentiles(
            results,
            kind,
            &got.last,
            [
                (Metric::BroadcastLastP50, 50.0),
                (Metric::BroadcastLastP99, 99.0),
            ],
        );
        results.set_rate(kind, Metric::BroadcastRate, &rounds.best);
        results.set(kind, Metric::CpuPerDelivery, rounds.total.cpu_us_per_op());
    }
}

/// Idle memory and the crowd: a fresh server process for each, one at a time.
async fn memory(plan: &Plan, results: &mut Results, progress: &Progress) {
    let metrics = Metric::MEMORY;
    for &kind in &plan.memory_kinds {
        let server = match ServerProc::start(kind, App::Echo, plan.threads, plan.pin) {
            Ok(server) => server,
            Err(e) => {
                results.fail(kind, &metrics, &e);
                continue;
            }
        };
        progress.quiet().await;
        match metrics::memory(&server, plan.idle, plan.crowd).await {
            Ok(memory) => {
                progress.say(&format!(
                    "memory {}: {:.0} B per idle connection{}",
                    kind.name(),
                    memory.per_conn,
                    memory.crowd.map_or(String::new(), |c| format!(
                        "; {} of {} answered in {:?}",
                        c.served, c.total, c.burst
                    ))
                ));
                results.set(kind, Metric::MemoryPerConn, memory.per_conn);
                if let Some(crowd) = memory.crowd {
                    results.set(kind, Metric::CrowdServed, crowd.served as f64);
                    results.set(kind, Metric::CrowdBurst, crowd.burst.as_secs_f64() * 1e3);
                    results.set(kind, Metric::CrowdRss, crowd.rss as f64);
                }
            }
            Err(e) => {
                progress.say(&format!("memory {}: {e:#}", kind.name()));
                results.fail(kind, &metrics, &e);
            }
        }
    }
}

/// Sets each of `rows`, a metric and the percentile it reports, to that
/// percentile of the sorted `samples`, in microseconds.
fn set_percentiles(
    results: &mut Results,
    kind: Kind,
    samples: &[Duration],
    rows: [(Metric, f64); 2],
) {
    for (metric, p) in rows {
        results.set(kind, metric, micros(percentile(samples, p)));
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
