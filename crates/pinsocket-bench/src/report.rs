//! What is reported: the metrics, the results of one run, the table with
//! pinsocket's ratios to the floor and to each peer, and the targets.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::metrics::{Busy, Load};
use crate::servers::Kind;

/// Whether a smaller or a larger number is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    Lower,
    Higher,
}

/// How a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Micros,
    PerSecond,
    Bytes,
    Millis,
    Count,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Metric {
    RttP50,
    RttP99,
    Rate(usize),
    CpuPerMessage(usize),
    MemoryPerConn,
    CrowdServed,
    CrowdBurst,
    CrowdRss,
    Handshakes,
    CpuPerHandshake,
    BroadcastP50,
    BroadcastP99,
    BroadcastLastP50,
    BroadcastLastP99,
    BroadcastRate,
    CpuPerDelivery,
    PagesKeepAlive,
    PagesNewConn,
    CpuPerPage,
}

/// A client busier than this (share of its CPU) limited the rate it measured.
const CLIENT_BOUND: f64 = 0.9;

/// Connection counts of the throughput rows.
pub(crate) const CONNS: [usize; 3] = [1, 8, 64];

impl Metric {
    /// Round trips, on the echo servers.
    pub(crate) const RTT: [Metric; 2] = [Metric::RttP50, Metric::RttP99];
    /// Idle memory and the crowd, each on a fresh echo server.
    pub(crate) const MEMORY: [Metric; 4] = [
        Metric::MemoryPerConn,
        Metric::CrowdServed,
        Metric::CrowdBurst,
        Metric::CrowdRss,
    ];
    /// Opening handshakes, on the echo servers.
    pub(crate) const HANDSHAKES: [Metric; 2] = [Metric::Handshakes, Metric::CpuPerHandshake];
    /// Broadcasts, on the broadcast servers.
    pub(crate) const BROADCAST: [Metric; 6] = [
        Metric::BroadcastP50,
        Metric::BroadcastP99,
        Metric::BroadcastLastP50,
        Metric::BroadcastLastP99,
        Metric::BroadcastRate,
        Metric::CpuPerDelivery,
    ];
    /// Pages over HTTP, on the echo servers that serve them.
    pub(crate) const PAGES: [Metric; 3] = [
        Metric::PagesKeepAlive,
        Metric::PagesNewConn,
        Metric::CpuPerPage,
    ];

    /// Messages per second and CPU per message, for each of [`CONNS`].
    pub(crate) fn throughput() -> Vec<Metric> {
        let mut rows = CONNS.map(Metric::Rate).to_vec();
        rows.extend(CONNS.map(Metric::CpuPerMessage));
        rows
    }

    /// Every row, in table order.
    fn all() -> Vec<Metric> {
        let mut all = Metric::RTT.to_vec();
        all.extend(Metric::throughput());
        all.extend(Metric::MEMORY);
        all.extend(Metric::HANDSHAKES);
        all.extend(Metric::BROADCAST);
        all.extend(Metric::PAGES);
        all
    }

    fn label(self) -> String {
        match self {
            Metric::RttP50 => "round trip p50 (1 conn)".into(),
            Metric::RttP99 => "round trip p99 (1 conn)".into(),
            Metric::Rate(n) => format!("messages/s, {n} conn"),
            Metric::CpuPerMessage(n) => format!("server CPU per message, {n} conn"),
            Metric::MemoryPerConn => "RSS per idle WebSocket".into(),
            Metric::CrowdServed => "crowd: conns answered".into(),
            Metric::CrowdBurst => "crowd: one message on each".into(),
            Metric::CrowdRss => "crowd: server RSS".into(),
            Metric::Handshakes => "handshakes/s".into(),
            Metric::CpuPerHandshake => "server CPU per handshake".into(),
            Metric::BroadcastP50 => "broadcast latency p50, per receiver".into(),
            Metric::BroadcastP99 => "broadcast latency p99, per receiver".into(),
            Metric::BroadcastLastP50 => "broadcast latency p50, last receiver".into(),
            Metric::BroadcastLastP99 => "broadcast latency p99, last receiver".into(),
            Metric::BroadcastRate => "broadcast deliveries/s".into(),
            Metric::CpuPerDelivery => "server CPU per delivery".into(),
            Metric::PagesKeepAlive => "GET /index.html/s, keep-alive".into(),
            Metric::PagesNewConn => "GET /index.html/s, new conn each".into(),
            Metric::CpuPerPage => "server CPU per GET, keep-alive".into(),
        }
    }

    fn unit(self) -> Unit {
        match self {
            Metric::RttP50
            | Metric::RttP99
            | Metric::CpuPerMessage(_)
            | Metric::CpuPerHandshake
            | Metric::BroadcastP50
            | Metric::BroadcastP99
            | Metric::BroadcastLastP50
            | Metric::BroadcastLastP99
            | Metric::CpuPerDelivery
            | Metric::CpuPerPage => Unit::Micros,
            Metric::Rate(_)
            | Metric::Handshakes
            | Metric::BroadcastRate
            | Metric::PagesKeepAlive
            | Metric::PagesNewConn => Unit::PerSecond,
            Metric::MemoryPerConn | Metric::CrowdRss => Unit::Bytes,
            Metric::CrowdBurst => Unit::Millis,
            Metric::CrowdServed => Unit::Count,
        }
    }

    fn better(self) -> Better {
        match self.unit() {
            Unit::PerSecond | Unit::Count => Better::Higher,
            _ => Better::Lower,
        }
    }

    /// Whether a ratio between servers means something for this row.
    fn has_ratio(self) -> bool {
        self != Metric::CrowdServed
    }
}

/// A measured value, or why there is none.
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Value(f64),
    NotApplicable,
    Failed(String),
}

/// Everything one run measured.
#[derive(Debug, Default)]
pub(crate) struct Results {
    cells: HashMap<(Kind, Metric), Cell>,
    /// The crowd size, for the labels.
    pub(crate) crowd: Option<usize>,
    /// Idle connections of the memory test.
    pub(crate) idle: usize,
    /// The CPUs a server process was allowed to run on.
    pub(crate) server_cpus: String,
    /// Time spent waiting for other processes to leave the machine idle.
    pub(crate) quiet_wait: std::time::Duration,
    /// Who kept the CPUs busy in the window a rate was taken from.
    busy: HashMap<(Kind, Metric), Busy>,
}

impl Results {
    pub(crate) fn set(&mut self, kind: Kind, metric: Metric, value: f64) {
        self.cells.insert((kind, metric), Cell::Value(value));
    }

    /// A rate, from the window `load`, with who was busy in it.
    pub(crate) fn set_rate(&mut self, kind: Kind, metric: Metric, load: &Load) {
        self.set(kind, metric, load.rate());
        self.busy.insert((kind, metric), load.busy());
    }

    pub(crate) fn fail(&mut self, kind: Kind, metrics: &[Metric], why: &anyhow::Error) {
        for &metric in metrics {
            self.cells
                .insert((kind, metric), Cell::Failed(format!("{why:#}")));
        }
    }

    pub(crate) fn not_applicable(&mut self, kind: Kind, metrics: &[Metric]) {
        for &metric in metrics {
            self.cells.insert((kind, metric), Cell::NotApplicable);
        }
    }

    pub(crate) fn has_failed(&self, kind: Kind, metric: Metric) -> bool {
        matches!(self.cells.get(&(kind, metric)), Some(Cell::Failed(_)))
    }

    pub(crate) fn get(&self, kind: Kind, metric: Metric) -> Option<f64> {
        match self.cells.get(&(kind, metric)) {
            Some(Cell::Value(v)) => Some(*v),
            _ => None,
        }
    }

    /// pinsocket's value divided by `other`'s.
    fn ratio(&self, other: Kind, metric: Metric) -> Option<f64> {
        let ours = self.get(Kind::Pinsocket, metric)?;
        let theirs = self.get(other, metric)?;
        (theirs > 0.0).then(|| ours / theirs)
    }

    /// The table, in Markdown.
    pub(crate) fn table(&self, kinds: &[Kind]) -> String {
        let others: Vec<Kind> = kinds
            .iter()
            .copied()
            .filter(|&k| k != Kind::Pinsocket)
            .collect();
        let mut out = String::new();
        out.push_str("| metric | better |");
        for kind in kinds {
            let _ = write!(out, " {} |", kind.name());
        }
        for other in &others {
            let _ = write!(out, " pinsocket ÷ {} |", other.name());
        }
        out.push('\n');
        out.push_str("|---|---|");
        for _ in 0..kinds.len() + others.len() {
            out.push_str("---:|");
        }
        out.push('\n');
        for metric in Metric::all() {
            if kinds
                .iter()
                .all(|&k| !self.cells.contains_key(&(k, metric)))
            {
                continue;
            }
            let label = match (metric, self.crowd) {
                (Metric::CrowdServed | Metric::CrowdBurst | Metric::CrowdRss, Some(n)) => {
                    metric.label().replace("crowd", &format!("{n} conns"))
                }
                (Metric::MemoryPerConn, _) => {
                    format!("{} ({} open)", metric.label(), self.idle)
                }
                _ => metric.label(),
            };
            let better = match metric.better() {
                Better::Lower => "lower",
                Better::Higher => "higher",
            };
            let _ = write!(out, "| {label} | {better} |");
            for &kind in kinds {
                let text = match self.cells.get(&(kind, metric)) {
                    Some(Cell::Value(v)) => format_value(metric.unit(), *v),
                    Some(Cell::NotApplicable) => "n/a".into(),
                    Some(Cell::Failed(_)) => "failed".into(),
                    None => "–".into(),
                };
                let _ = write!(out, " {text} |");
            }
            for &other in &others {
                let text = match self.ratio(other, metric) {
                    Some(r) if metric.has_ratio() => format!("{r:.2}×"),
                    _ => "–".into(),
                };
                let _ = write!(out, " {text} |");
            }
            out.push('\n');
        }
        out
    }

    /// For each rate: the share of a CPU that the server, the client and
    /// other processes used in the window it was taken from.
    pub(crate) fn busy_table(&self, kinds: &[Kind]) -> String {
        let mut out = String::from("| rate (server / client / other) |");
        for kind in kinds {
            let _ = write!(out, " {} |", kind.name());
        }
        out.push_str("\n|---|");
        for _ in kinds {
            out.push_str("---:|");
        }
        out.push('\n');
        for metric in Metric::all() {
            if kinds.iter().all(|&k| !self.busy.contains_key(&(k, metric))) {
                continue;
            }
            let _ = write!(out, "| {} |", metric.label());
            for &kind in kinds {
                match self.busy.get(&(kind, metric)) {
                    Some(busy) => {
                        let _ = write!(out, " {busy} |");
                    }
                    None => out.push_str(" – |"),
                }
            }
            out.push('\n');
        }
        out
    }

    /// Whether the client was (nearly) saturated while measuring `kind`'s `metric`.
    fn client_bound(&self, kind: Kind, metric: Metric) -> Option<f64> {
        self.busy
            .get(&(kind, metric))
            .map(|b| b.client)
            .filter(|&client| client >= CLIENT_BOUND)
    }

    /// Why cells failed, one line each.
    pub(crate) fn failures(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .cells
            .iter()
            .filter_map(|((kind, metric), cell)| match cell {
                Cell::Failed(why) => Some(format!("{} / {}: {why}", kind.name(), metric.label())),
                _ => None,
            })
            .collect();
        lines.sort();
        lines
    }

    /// The targets, each with what was measured and whether it is met.
    pub(crate) fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let p = |m| self.get(Kind::Pinsocket, m);
        // Round trip p50 ≤ 1.05 × floor, and below every peer.
        if let (Some(ours), Some(floor)) =
            (p(Metric::RttP50), self.get(Kind::Floor, Metric::RttP50))
        {
            let peers: Vec<f64> = [Kind::Fastwebsockets, Kind::Tungstenite]
                .iter()
                .filter_map(|&k| self.get(k, Metric::RttP50))
                .collect();
            let below_peers = peers.iter().all(|&peer| ours < peer);
            targets.push(Target {
                what: "round trip p50 ≤ 1.05 × floor, below every peer".into(),
                measured: format!(
                    "{} = {:.2} × floor; peers {}",
                    format_value(Unit::Micros, ours),
                    ours / floor,
                    peers
                        .iter()
                        .map(|&v| format_value(Unit::Micros, v))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                met: ours <= 1.05 * floor && below_peers,
            });
        }
        if let Some(r) = self.ratio(Kind::Fastwebsockets, Metric::CpuPerMessage(64)) {
            targets.push(Target {
                what: "server CPU per message at 64 conns ≤ 0.85 × fastwebsockets".into(),
                measured: format!("{r:.2} ×"),
                met: r <= 0.85,
            });
        }
        if let Some(bytes) = p(Metric::MemoryPerConn) {
            targets.push(Target {
                what: "≤ 1 KiB RSS per idle WebSocket".into(),
                measured: format_value(Unit::Bytes, bytes),
                met: bytes <= 1024.0,
            });
        }
        if let Some(r) = self.ratio(Kind::Fastwebsockets, Metric::Handshakes) {
            let mut measured = format!("{r:.2} ×");
            let bound: Vec<String> = [Kind::Pinsocket, Kind::Fastwebsockets]
                .iter()
                .filter_map(|&k| {
                    self.client_bound(k, Metric::Handshakes)
                        .map(|c| format!("{} {:.0}%", k.name(), c * 100.0))
                })
                .collect();
            if !bound.is_empty() {
                let _ = write!(
                    measured,
                    " (client-bound: client busy with {}; server CPU per handshake {})",
                    bound.join(", "),
                    self.ratio(Kind::Fastwebsockets, Metric::CpuPerHandshake)
                        .map_or("–".into(), |c| format!("{c:.2} ×"))
                );
            }
            targets.push(Target {
                what: "handshakes/s ≥ 1.15 × fastwebsockets".into(),
                measured,
                met: r >= 1.15,
            });
        }
        if let Some(ours) = p(Metric::BroadcastRate) {
            let best = [Kind::Fastwebsockets, Kind::Tungstenite]
                .iter()
                .filter_map(|&k| self.get(k, Metric::BroadcastRate).map(|v| (k, v)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((kind, theirs)) = best {
                let r = ours / theirs;
                targets.push(Target {
                    what: "broadcast deliveries/s ≥ 1.15 × the fastest peer".into(),
                    measured: format!("{r:.2} × {}", kind.name()),
                    met: r >= 1.15,
                });
            }
        }
        if let (Some(served), Some(total)) = (p(Metric::CrowdServed), self.crowd) {
            targets.push(Target {
                what: format!("{total} concurrent WebSockets served"),
                measured: format!("{served:.0} of {total} answered"),
                met: served as usize == total,
            });
        }
        targets
    }
}

/// One of the targets.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) what: String,
    pub(crate) measured: String,
    pub(crate) met: bool,
}

fn format_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Micros if v < 10.0 => format!("{v:.2} µs"),
        Unit::Micros => format!("{v:.1} µs"),
        Unit::Millis => format!("{v:.0} ms"),
        Unit::PerSecond => thousands(v.round() as u64),
        Unit::Bytes if v < 10_240.0 => format!("{v:.0} B"),
        Unit::Bytes if v < 10.0 * 1024.0 * 1024.0 => format!("{:.1} KiB", v / 1024.0),
        Unit::Bytes => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
        Unit::Count => format!("{v:.0}"),
    }
}

/// 1234567 → "1,234,567".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(format_value(Unit::Bytes, 812.0), "812 B");
        assert_eq!(format_value(Unit::Micros, 31.25), "31.2 µs");
    }

    #[test]
    fn ratios_and_targets() {
        let mut r = Results::default();
        r.set(Kind::Pinsocket, Metric::RttP50, 30.0);
        r.set(Kind::Floor, Metric::RttP50, 29.0);
        r.set(Kind::Fastwebsockets, Metric::RttP50, 35.0);
        r.set(Kind::Pinsocket, Metric::MemoryPerConn, 2048.0);
        let targets = r.targets();
        assert!(targets[0].met);
        assert!(!targets[1].met);
        assert!(r.table(&Kind::ALL).contains("1.03×"));
    }
}
